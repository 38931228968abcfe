"""The GPU page in a real browser: live charts from ws/gpus/, the processes mapped to a real container, the
stale state and the "no GPU" state. NVML is the fake from tests/fake_nvml.py, put in place before the live
daphne is forked (tests/browser/conftest.py runs it in a child process), so the child's sampler reads it."""

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import pytest
from playwright.sync_api import Page, expect

from containersvc import gpu
from containersvc.scopes import Scope
from containersvc.services import containers
from containersvc.services.containers import RunSpec
from tests.browser.conftest import ARTIFACTS, open_page
from tests.conftest import TEST_LABEL
from tests.fake_nvml import FakeNvml, NVMLError_LibraryNotFound

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
GIB = 1024**3
UTILIZATION = '.gpu[data-index="0"] figure.chart >> nth=0'


class WavyNvml(FakeNvml):
    """Readings that move with every sample, so the charts have a shape, and an NVML that hangs while a flag
    file exists: the server is another process, and a file is how a test reaches the fake in there."""

    def __init__(self, hang_flag: Path) -> None:
        super().__init__()
        self.hang_flag = hang_flag
        self.step = 0

    def nvmlDeviceGetCount(self) -> int:
        if self.hang_flag.exists():
            time.sleep(3)  # well past CONTAINERSVC_GPU_NVML_TIMEOUT
        return super().nvmlDeviceGetCount()

    def nvmlDeviceGetUtilizationRates(self, handle: int):
        if handle == 0:
            self.step += 1
            self.gpus[0].utilization = round(50 + 40 * math.sin(self.step / 6))
            self.gpus[0].memory_used = round((30 + 12 * math.sin(self.step / 15)) * GIB)
            self.gpus[1].utilization = round(20 + 8 * math.sin(self.step / 4))
        return super().nvmlDeviceGetUtilizationRates(handle)


@dataclass
class GpuNode:
    fake: FakeNvml
    user: object
    container_id: str = ""
    container_name: str = ""
    pid: int = 0


@pytest.fixture
def gpu_node(request, settings, tmp_path, make_user, name, test_image, docker_client):
    """Two fake GPUs, GPU 1 used by a process of a real container (param "none": a node without a GPU)."""
    settings.CONTAINERSVC_GPU_SAMPLE_SECONDS = 0.1
    settings.CONTAINERSVC_GPU_NVML_TIMEOUT = 0.5
    fake = WavyNvml(tmp_path / "nvml-hangs")
    node = GpuNode(fake=fake, user=make_user(*Scope))
    if getattr(request, "param", "") == "none":
        fake.failures["nvmlInit"] = NVMLError_LibraryNotFound()
    else:
        spec = RunSpec(image=test_image, name=name, labels=dict(TEST_LABEL), command=("sleep", "600"))
        node.container_id = containers.container_run(actor=node.user, spec=spec).container_id
        node.container_name = name
        node.pid = docker_client.containers.get(node.container_id).attrs["State"]["Pid"]
        fake.gpus[1].memory_used = 2 * GIB
        fake.gpus[1].processes = [(node.pid, 2 * GIB)]
    gpu.set_nvml_loader(lambda: fake)
    yield node
    gpu.set_nvml_loader(None)
    if node.container_id:
        try:
            docker_client.containers.get(node.container_id).remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def daphne_server(gpu_node, daphne_server):
    """The conftest's live server, forked only after the fake NVML and its container are in place."""
    return daphne_server


def samples(page: Page) -> int:
    return int(page.locator("#gpu-page").get_attribute("data-samples") or 0)


def wait_for_samples(page: Page, count: int) -> None:
    # A function, not an expression string: the page's CSP forbids the eval a string predicate needs.
    page.wait_for_function(
        "count => Number(document.getElementById('gpu-page').dataset.samples || 0) >= count", arg=count
    )


def last_point_y(path: str) -> float:
    return float(re.findall(r"[ML]([-\d.]+),([-\d.]+)", path)[-1][1])


def test_the_charts_draw_live_samples_and_the_table_maps_processes_to_containers(gpu_node, page_for):
    page = page_for(gpu_node.user)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/gpus/")
    expect(page.locator("#gpu-page")).to_have_attribute("data-state", "live")
    expect(page.locator('.gpu[data-index="0"] h2')).to_have_text("GPU 0 · NVIDIA Fake A100")
    expect(page.locator('.gpu[data-index="1"] .readings')).to_contain_text("memory 2.0 GiB of 80.0 GiB")

    chart = page.locator(UTILIZATION)
    wait_for_samples(page, 5)
    before = chart.locator("path.chart-line").get_attribute("d")
    points_before = int(chart.locator("svg").get_attribute("data-points"))
    wait_for_samples(page, samples(page) + 10)
    # Read in one go: a sample may arrive between two separate reads.
    path, points, value = page.evaluate(
        """() => {
            const chart = document.querySelector('.gpu[data-index="0"] figure.chart');
            return [chart.querySelector('path.chart-line').getAttribute('d'),
                    Number(chart.querySelector('svg').dataset.points),
                    chart.querySelector('.chart-value').textContent];
        }"""
    )
    assert points >= points_before + 10 and path != before
    # The newest point is drawn at the shown reading (the y axis is 0-100 % over 100 units).
    percent = int(re.fullmatch(r"(\d+) %", value).group(1))
    assert 10 <= percent <= 90
    assert last_point_y(path) == pytest.approx(100 - percent, abs=0.05)

    row = page.locator("#gpu-processes tbody tr")
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("1")
    expect(cells.nth(1)).to_have_text(str(gpu_node.pid))
    expect(cells.nth(3)).to_have_text("2.0 GiB")
    link = cells.nth(2).get_by_role("link", name=gpu_node.container_name)
    expect(link).to_have_attribute("href", f"/containers/{gpu_node.container_id}/")

    # NVML hangs: the last readings stay, marked stale, and no point is charted for them; then it recovers.
    gpu_node.fake.hang_flag.touch()
    expect(page.locator("#gpu-page")).to_have_attribute("data-state", "stale")
    expect(page.locator("#gpu-stale")).to_contain_text("Stale: ")
    expect(page.locator("#gpu-stale")).to_contain_text("NVML")
    expect(page.locator('.gpu[data-index="0"]')).to_have_class(re.compile(r"\bstale\b"))
    frozen = samples(page)
    time.sleep(1)  # no point for a second: an absence, so time itself is what this checks
    assert samples(page) == frozen
    gpu_node.fake.hang_flag.unlink()
    expect(page.locator("#gpu-page")).to_have_attribute("data-state", "live", timeout=20000)
    wait_for_samples(page, frozen + 3)
    expect(page.locator("#gpu-stale")).to_be_hidden()

    link.click()
    expect(page).to_have_url(re.compile(f"/containers/{gpu_node.container_id}/$"))
    expect(page.locator("h1")).to_contain_text(gpu_node.container_name)

    # The run form offers the GPUs, the one the container uses shown busy; ticking one picks "These GPUs".
    page.goto("/")
    page.click("#run summary")
    expect(page.locator("label[for=id_gpu_ids_1]")).to_contain_text("GPU 1 · NVIDIA Fake A100 (busy: 1 process")
    expect(page.locator("label[for=id_gpu_ids_0]")).to_contain_text("GPU 0 · NVIDIA Fake A100 (no processes")
    page.locator("#id_gpu_ids_0").check()
    expect(page.locator("input[name=gpu][value=chosen]")).to_be_checked()
    assert problems == []


@pytest.mark.parametrize("gpu_node", ["none"], indirect=True)
def test_a_node_without_a_gpu_says_so(gpu_node, page_for):
    page = page_for(gpu_node.user)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/gpus/")
    expect(page.locator("#no-gpu")).to_have_text("No NVIDIA GPU on this node.")
    expect(page.locator("#gpu-page")).to_have_attribute("data-state", "none")
    page.goto("/")
    page.click("#run summary")
    expect(page.locator("#run")).to_contain_text("GPUs are unavailable: no NVIDIA GPU on this node.")
    assert page.locator("input[name=gpu_ids]").count() == 0
    assert problems == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_gpu_page_screenshots(gpu_node, browser, live_server_url, scheme):
    """Five minutes of charts without waiting five minutes: the page's clock jumps 2 s per real sample."""
    context, page, problems = open_page(browser, live_server_url, gpu_node.user, scheme)
    page.clock.install()
    page.goto("/gpus/")
    for _ in range(150):
        wait_for_samples(page, samples(page) + 1)
        page.clock.run_for(2000)
    expect(page.locator("#gpu-page")).to_have_attribute("data-state", "live")
    expect(page.locator("#gpu-processes tbody tr")).to_have_count(1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gpus-{scheme}.png"), full_page=True)
    assert problems == []
    context.close()
