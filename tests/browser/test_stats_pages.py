"""The resources on the node page and the container page in a real browser, live from ws/stats/.

The live daphne runs no always-on producers, so the page's socket starts the collector in that process. Its
first round inspects every running container of the engine once, other tests' too: the first figures wait
for that."""

import math
import re
from datetime import timedelta

import docker.errors
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from containersvc import cgroups
from containersvc.engine import Limits
from containersvc.models import AlertEvent, AlertKind, AlertRule, Container, ContainerStatsSample
from containersvc.scopes import Scope
from containersvc.services import containers
from containersvc.services.containers import RunSpec
from tests.browser.conftest import ARTIFACTS, open_page
from tests.conftest import OOM_KILLED_COMMAND, OOM_LIMIT_BYTES, TEST_LABEL, wait_for

MIB = 1024**2
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_node_page_shows_the_resources_live(page_for, owner, container, docker_client):
    burner = container("while :; do :; done")
    stranger = container("sleep 3600", owner=None)
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto("/node/")

    row = page.locator(f'#container-stats tr[data-id="{burner.id}"]')
    expect(row.locator("td.cpu")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    expect(row.locator("td.memory")).to_contain_text("MiB")
    expect(page.locator("#node-resources")).to_have_attribute("data-state", "live")
    expect(page.locator("#node-readings")).to_contain_text("cores")
    expect(page.locator("#node-charts figure.chart")).to_have_count(3)
    cores = page.locator("#node-cores .core")
    expect(cores).to_have_count(cgroups.online_cpus())
    expect(cores.first.locator(".core-value")).to_have_text(re.compile(r"^cpu0 \d+\.\d %$"))
    expect(page.locator("#node-disk")).to_contain_text(f"Engine data root {docker_client.info()['DockerRootDir']}: ")
    expect(page.locator("#node-disk")).to_contain_text(re.compile(r"used of .*, .* free$"))
    expect(page.locator("#node-charts svg").first).not_to_have_attribute("data-points", re.compile(r"^[01]$"))
    expect(page.locator(f'#container-stats tr[data-id="{stranger.id}"]')).to_have_count(0)
    assert not errors


def test_the_node_page_begins_with_the_last_minutes(page_for, owner, container):
    container("while :; do :; done")
    watching = page_for(owner)  # keeps the collector sampling (it runs on demand here) while the other page opens
    watching.goto("/node/")
    expect(watching.locator("#node-charts svg").first).to_have_attribute(
        "data-points", re.compile(r"^([5-9]|\d\d+)$"), timeout=60000
    )

    page = page_for(owner)
    page.goto("/node/")
    resources = page.locator("#node-resources")
    expect(resources).to_have_attribute("data-backfilled", re.compile(r"^([4-9]|\d\d+)$"))
    expect(resources).to_have_attribute("data-state", "live")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_node_screenshots_with_live_resources(browser, live_server_url, owner, container, scheme):
    """docs/screenshots/node-*.png are refreshed from the node-resources-*.png these keep."""
    container("while :; do :; done")
    container("sleep 3600")
    # A page watching first, so the collector (on demand here) has rounds for the charts to begin with.
    watcher, watching, _ = open_page(browser, live_server_url, owner, scheme)
    watching.goto("/node/")
    expect(watching.locator("#node-charts svg").first).to_have_attribute(
        "data-points", re.compile(r"^([2-9]\d|\d{3,})$"), timeout=90000
    )
    context, page, problems = open_page(browser, live_server_url, owner, scheme)
    page.goto("/node/")
    expect(page.locator("#node-resources")).to_have_attribute("data-state", "live", timeout=60000)
    expect(page.locator("#node-resources")).to_have_attribute("data-backfilled", re.compile(r"^([2-9]\d|\d{3,})$"))
    for chart in page.locator("#node-charts svg").all():  # drawn from the rounds before the page opened
        expect(chart).to_have_attribute("data-points", re.compile(r"^([2-9]\d|\d{3,})$"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"node-resources-{scheme}.png"), full_page=True)
    assert problems == []
    context.close()
    watcher.close()


def test_the_container_page_charts_its_resources(page_for, owner, container):
    burner = container("while :; do :; done")
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"/containers/{burner.id}/")

    resources = page.locator("#container-resources")
    expect(resources).to_have_attribute("data-state", "live", timeout=60000)
    expect(page.locator("#container-readings")).to_contain_text(re.compile(r"CPU \d+\.\d % · memory .* PIDs"))
    charts = page.locator("#container-charts figure.chart")
    expect(charts).to_have_count(4)
    assert [charts.nth(i).get_attribute("data-chart") for i in range(4)] == ["cpu", "memory", "network", "io"]
    expect(page.locator("#chart-ranges button")).to_have_text(["15 min", "1 h", "24 h", "7 d"])
    expect(page.locator('#chart-ranges button[aria-pressed="true"]')).to_have_text("15 min")
    expect(resources).to_have_attribute("data-drawn", "15m")
    for chart in ("cpu", "network", "io"):
        expect(page.locator(f'[data-chart="{chart}"] svg')).not_to_have_attribute("data-points", re.compile(r"^[01]$"))
    expect(page.locator('[data-chart="network"] figcaption')).to_contain_text("in")
    expect(page.locator('[data-chart="io"] figcaption')).to_contain_text("write")
    # No limit: the memory chart's ceiling is the host's memory.
    expect(page.locator('[data-chart="memory"] .chart-top')).to_contain_text("host memory")
    assert not errors


def _seed_history(container_id: str, *, start, end, shape) -> int:
    """Stored buckets of both resolutions over [start, end) for a container's row, as the collector writes them;
    `shape(hours)` gives a bucket's CPU %, memory, network and block rates `hours` after `start`."""
    row = Container.objects.get(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id)
    rows = []
    for resolution in (
        settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS,
        settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS,
    ):
        moment = start
        while moment < end:
            cpu, memory, rx, tx, read, write = shape((moment - start).total_seconds() / 3600)
            rows.append(
                ContainerStatsSample(
                    container=row,
                    resolution=resolution,
                    bucket_start=moment,
                    samples=resolution,
                    cpu_mean=cpu,
                    cpu_max=cpu * 1.2,
                    mem_mean=memory,
                    mem_max=memory,
                    mem_limit=64 * MIB,
                    net_rx_rate=rx,
                    net_tx_rate=tx,
                    blk_read_rate=read,
                    blk_write_rate=write,
                    pids=3,
                )
            )
            moment += timedelta(seconds=resolution)
    ContainerStatsSample.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _flat(hours: float) -> tuple:
    return 40.0, 20 * MIB, 5000.0, 3000.0, 2000.0, 1000.0


def test_switching_the_range_redraws_from_the_stored_history(page_for, owner, container):
    sleeper = container("sleep 3600")
    now = timezone.now()
    # The past day, stored, up to a little before what the 15 min range shows.
    _seed_history(sleeper.id, start=now - timedelta(hours=24), end=now - timedelta(minutes=20), shape=_flat)
    page = page_for(owner)
    page.goto(f"/containers/{sleeper.id}/")
    resources = page.locator("#container-resources")
    network = page.locator('[data-chart="network"] svg')
    expect(resources).to_have_attribute("data-drawn", "15m", timeout=30000)
    assert int(network.get_attribute("data-points") or 0) < 200  # the last minutes: live ones only

    page.locator('#chart-ranges button[data-range="24h"]').click()
    expect(resources).to_have_attribute("data-drawn", "24h", timeout=30000)
    expect(page.locator('#chart-ranges button[aria-pressed="true"]')).to_have_text("24 h")
    # About 1,400 one-minute points (the range's step) from the stored buckets.
    assert int(network.get_attribute("data-points") or 0) > 1000
    expect(page.locator('[data-chart="network"] .chart-axis')).to_contain_text("−24 h")
    # The stored 5,000 B/s received set the axis (the last points, from memory, may be this container's zeros).
    expect(page.locator('[data-chart="network"] .chart-top')).to_have_text("max 4.9 KiB/s")

    # 7 days at 7 minutes a point: the seeded day is about 200 of them, asked within the retention (no 400).
    page.locator('#chart-ranges button[data-range="7d"]').click()
    expect(resources).to_have_attribute("data-drawn", "7d", timeout=30000)
    expect(page.locator("#chart-status")).to_have_text("")
    assert 150 < int(network.get_attribute("data-points") or 0) < 300

    page.locator('#chart-ranges button[data-range="15m"]').click()
    expect(resources).to_have_attribute("data-drawn", "15m")
    assert int(network.get_attribute("data-points") or 0) < 200


@pytest.fixture
def run_limited(owner, name, test_image, docker_client):
    """Runs a container through the service with a memory limit; removed afterwards."""
    started = []

    def run(command: str, memory_bytes: int) -> str:
        spec = RunSpec(
            image=test_image,
            name=f"{name}-{len(started)}",
            labels=dict(TEST_LABEL),
            command=("sh", "-c", command),
            limits=Limits(memory_bytes=memory_bytes),
        )
        started.append(containers.container_run(actor=owner, spec=spec).container_id)
        return started[-1]

    yield run
    for container_id in started:
        try:
            docker_client.containers.get(container_id).remove(force=True)
        except docker.errors.NotFound:
            pass


def test_the_memory_chart_s_ceiling_is_the_container_s_limit(page_for, owner, run_limited):
    limited = run_limited("sleep 3600", 64 * MIB)
    page = page_for(owner)
    page.goto(f"/containers/{limited}/")
    memory = page.locator('[data-chart="memory"]')
    expect(memory.locator(".chart-top")).to_have_text("limit 64.0 MiB")
    expect(memory.locator(".chart-ceiling")).to_have_attribute("visibility", "visible")
    # The ceiling is drawn a little below the axis' top, not at the host's memory.
    assert float(memory.locator("svg").get_attribute("data-top") or 0) < 70 * MIB


def test_an_oom_kill_is_marked_on_the_memory_chart(page_for, owner, run_limited, docker_client):
    killed = run_limited(OOM_KILLED_COMMAND, OOM_LIMIT_BYTES)
    wait_for(
        lambda: docker_client.containers.get(killed).attrs["State"]["OOMKilled"],
        timeout=60,
        what="the kernel's OOM kill",
    )
    page = page_for(owner)
    page.goto(f"/containers/{killed}/")
    memory = page.locator('[data-chart="memory"] svg')
    expect(page.locator("#container-resources")).to_have_attribute("data-drawn", "15m", timeout=30000)
    expect(memory).to_have_attribute("data-marks", "1")
    expect(memory.locator(".chart-mark title")).to_have_text(re.compile("^OOM kill at "))
    expect(page.locator('[data-chart="memory"] figcaption .legend.mark')).to_have_text("OOM kill")


def _daily(hours: float) -> tuple:
    """A day's made-up but plausible load: a busy afternoon, a nightly backup, and memory that climbs to the
    limit 17 hours in (7 hours ago), where the screenshot test puts an OOM kill."""
    busy = 0.5 + 0.5 * math.sin((hours - 6) / 24 * 2 * math.pi)
    backup = 1.0 if 2 <= hours % 24 < 3 else 0.0
    cpu = 8 + 60 * busy + 8 * math.sin(hours * 1.7) ** 2
    memory = (14 + 30 * busy + 4 * math.sin(hours * 0.8)) * MIB
    if 16.5 <= hours < 17:
        memory += (63 * MIB - memory) * (hours - 16.5) * 2
    rx, tx = 40_000 * busy + 2_000, 15_000 * busy + 800
    return cpu, int(memory), rx, tx, 400_000 * backup + 20_000, 150_000 * backup + 60_000


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_container_charts_screenshots(browser, live_server_url, make_user, name, test_image, docker_client, scheme):
    user = make_user(*Scope)
    spec = RunSpec(
        image=test_image,
        name=name,
        labels=dict(TEST_LABEL),
        command=("sh", "-c", "for i in $(seq 1 30); do echo request $i served; done; while :; do :; done"),
        limits=Limits(memory_bytes=64 * MIB),
    )
    container_id = containers.container_run(actor=user, spec=spec).container_id
    try:
        now = timezone.now()
        _seed_history(container_id, start=now - timedelta(hours=24), end=now - timedelta(minutes=1), shape=_daily)
        # An earlier OOM kill, as an OOM-kill alert rule recorded it.
        rule = AlertRule.objects.create(name=f"oom {name}", kind=AlertKind.OOM_KILLED, enabled=False)
        row = Container.objects.get(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id)
        fired = now - timedelta(hours=7)
        AlertEvent.objects.create(rule=rule, container=row, value=1, fired_at=fired, resolved_at=fired)
        context, page, problems = open_page(browser, live_server_url, user, scheme)
        page.goto(f"/containers/{container_id}/")
        page.locator('#chart-ranges button[data-range="24h"]').click()
        expect(page.locator("#container-resources")).to_have_attribute("data-drawn", "24h", timeout=30000)
        expect(page.locator('[data-chart="memory"] svg')).to_have_attribute("data-marks", "1")
        expect(page.locator("#container-resources")).to_have_attribute("data-state", "live", timeout=60000)
        expect(page.locator("#log")).to_contain_text("request 30")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"container-charts-{scheme}.png"), full_page=True)
        stroke = page.evaluate("getComputedStyle(document.querySelector('.chart-line.series-1')).stroke")
        assert (stroke == "rgb(251, 191, 36)") == (scheme == "dark")
        assert problems == []
        context.close()
    finally:
        docker_client.containers.get(container_id).remove(force=True)


def test_the_containers_page_has_live_cpu_and_memory_columns(page_for, owner, container):
    burner = container("while :; do :; done")
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")

    row = page.locator(f'#containers tr[data-id="{burner.id}"]')
    expect(row.locator("td.cpu")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    expect(row.locator("td.memory")).to_have_text(re.compile(r"^\d+(\.\d+)?\s[KMG]?i?B"))
    assert not errors
