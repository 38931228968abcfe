"""A build's page cancels it (the Cancel button), and a cancel asked from another process of the node ends
a build that the server process runs; the page shows the end live and offers no Cancel after it."""

import os
import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from containersvc.models import BuildStatus, ImageBuild
from containersvc.scopes import Scope
from containersvc.services import builds
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def endless(test_image):
    (settings.BUILD_ROOT / "endless").mkdir()
    (settings.BUILD_ROOT / "endless" / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN echo step-started && sleep 100000\n"
    )
    yield "endless"
    unfinished = ImageBuild.objects.filter(status__in=[BuildStatus.QUEUED, BuildStatus.RUNNING])
    unfinished.update(cancel_requested_at=timezone.now(), cancel_requested_by="the test's cleanup")
    wait_for(lambda: not unfinished.exists(), timeout=30, what="the builds a test left running to end")


def start_from_the_form(page, tag: str, context_path: str):
    page.goto("/images/")
    page.fill("#id_name", tag)
    page.fill("#id_context_path", context_path)
    page.click("#build-form button[type=submit]")
    # The echo's own line (the step's header names it too), after the line naming the step container.
    running = re.compile(r"Running in [0-9a-f]{12,64}\n(?:.*\n)*step-started\n")
    build = wait_for(
        lambda: (found := ImageBuild.objects.filter(tag=tag).first()) and running.search(found.output) and found,
        timeout=60,
        what="the build's RUN step to start",
        interval=0.1,
    )
    expect(page.locator("#build-output")).to_contain_text("step-started\n")
    return build


def test_the_cancel_button_ends_the_build(page_for, make_user, endless, docker_client, name):
    user = make_user(*Scope)
    page = page_for(user)
    build = start_from_the_form(page, f"containersvc-test/endless:{name}", endless)

    page.click("#build-cancel button")

    expect(page.locator("#build-status")).to_have_text("failed", timeout=30000)
    expect(page.locator("#build-error")).to_have_text(f"cancelled by {user.username}")
    expect(page.locator("#build-cancel")).to_have_count(0)
    step = builds.STEP_CONTAINER.search(ImageBuild.objects.get(pk=build.pk).output)[1]
    assert not docker_client.containers.list(all=True, filters={"id": step})


def test_a_cancel_from_another_process_ends_the_build_the_server_runs(page_for, make_user, endless, name):
    user = make_user(*Scope)
    page = page_for(user)
    build = start_from_the_form(page, f"containersvc-test/endless:{name}", endless)
    assert build.runner_pid and build.runner_pid != os.getpid()

    ended = builds.build_cancel(actor=user, build_id=build.pk)  # in this process, not the server's

    assert (ended.status, ended.error) == (BuildStatus.FAILED, f"cancelled by {user.username}")
    expect(page.locator("#build-status")).to_have_text("failed")
    expect(page.locator("#build-error")).to_have_text(f"cancelled by {user.username}")
    expect(page.locator("#build-cancel")).to_be_hidden()
