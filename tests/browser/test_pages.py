"""Every dashboard page in light and dark mode: renders without script errors; screenshots are kept as
test artifacts (test-artifacts/screenshots/), from which docs/screenshots/ is refreshed."""

import re
import uuid
from pathlib import Path

import docker.errors
import pytest
from django.conf import settings
from playwright.sync_api import expect

from containersvc.scopes import Scope
from containersvc.services import containers
from containersvc.services.containers import RunSpec
from tests.browser.conftest import ARTIFACTS, open_page
from tests.conftest import TEST_LABEL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
COLOURFUL = (
    "printf 'plain line\\n\\033[32mgreen ok\\033[0m and \\033[1;31mbold red\\033[0m\\n'; "
    "for i in $(seq 1 40); do echo request $i served in $((i * 3)) ms; echo warning $i >&2; done; sleep 600"
)


@pytest.fixture
def scene(make_user, name, test_image, docker_client):
    """A user holding every scope, a running container with coloured output, and an audit record."""
    user = make_user(*Scope)
    result = containers.container_run(
        actor=user,
        spec=RunSpec(image=test_image, name=name, labels=dict(TEST_LABEL), command=("sh", "-c", COLOURFUL)),
    )
    yield user, result.container_id
    try:
        docker_client.containers.get(result.container_id).remove(force=True)
    except docker.errors.NotFound:
        pass


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_renders_without_script_errors(browser, live_server_url, scene, scheme):
    user, container_id = scene
    context, page, problems = open_page(browser, live_server_url, user, scheme)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visits = {
        "containers": ("/", lambda: expect(page.locator("#live-state")).to_have_attribute("data-state", "live")),
        "container": (
            f"/containers/{container_id}/",
            lambda: expect(page.locator("#log")).to_contain_text("warning 40"),
        ),
        "images": ("/images/", lambda: expect(page.locator("h1")).to_contain_text("Images")),
        "node": ("/node/", lambda: expect(page.locator("#daemon-available")).to_have_text("yes")),
        # This node's real GPUs (here usually none); test_gpu_page.py shoots gpus-*.png with fake ones.
        "gpus-this-node": (
            "/gpus/",
            lambda: expect(page.locator("#gpu-page")).to_have_attribute("data-state", re.compile("^(live|none)$")),
        ),
        "audit": ("/audit/", lambda: expect(page.locator("table")).to_contain_text("container.run")),
    }
    for label, (path, ready) in visits.items():
        page.goto(path)
        ready()
        page.screenshot(path=str(ARTIFACTS / f"{label}-{scheme}.png"))
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(17, 19, 23)") == (scheme == "dark")
    assert problems == []
    context.close()


def test_a_build_streams_live_keeps_running_when_left_and_can_be_reopened(browser, live_server_url, scene):
    user, _ = scene
    context, page, problems = open_page(browser, live_server_url, user, "light")
    build_context = Path(settings.BUILD_ROOT) / "slow"
    build_context.mkdir()
    (build_context / "Dockerfile").write_text(
        f"FROM containersvc-test/busybox:latest\nRUN echo {uuid.uuid4().hex} && "
        "for i in $(seq 1 40); do echo build-line-$i; sleep 0.1; done\n"
    )
    page.goto("/images/")
    page.fill("#id_name", "containersvc-test/slow:latest")
    page.fill("#id_context_path", "slow")
    page.click("#build-form button[type=submit]")
    output = page.locator("#build-output")
    expect(output).to_contain_text("build-line-3")
    page.goto("/")  # leave while it builds
    page.go_back()
    expect(page.locator("#build-status")).to_have_text("succeeded", timeout=60000)
    text = output.text_content()
    assert all(text.count(f"build-line-{n}\n") == 1 for n in range(1, 41)), text
    page.screenshot(path=str(ARTIFACTS / "build-light.png"))
    assert problems == []
    context.close()
