"""Builds that end: cancelled from the API (by whoever started them, or a superuser) or past their deadline,
they end failed with the reason, their step container removed; builds are seen only by whoever started them."""

import re
import threading
import time

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from containersvc.models import AuditEvent, BuildStatus, ImageBuild
from containersvc.scopes import Scope
from containersvc.services import builds
from containersvc.services.builds import MESSAGE_ALREADY_FINISHED
from tests.conftest import wait_for

# Builds save their output from a flusher thread, which needs committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
STEP_CONTAINER = re.compile(r"Running in ([0-9a-f]{12,64})")


@pytest.fixture
def builder(make_user):
    return make_user(Scope.IMAGE_BUILD, Scope.CONTAINER_VIEW)


@pytest.fixture
def endless_context(settings, test_image):
    """A context whose build never ends by itself; a build a test left running is cancelled afterwards."""
    directory = settings.BUILD_ROOT / "endless"
    directory.mkdir()
    (directory / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo step-started && sleep 100000\n")
    yield "endless"
    unfinished = ImageBuild.objects.filter(status__in=[BuildStatus.QUEUED, BuildStatus.RUNNING])
    unfinished.update(cancel_requested_at=timezone.now(), cancel_requested_by="the test's cleanup")
    wait_for(lambda: not unfinished.exists(), timeout=30, what="the builds a test left running to end")


def start_build(client, tag: str, context_path: str) -> tuple[threading.Thread, list]:
    """PUT /image in a thread (it answers when the build ends); the answer lands in the returned list."""
    answers: list = []

    def put() -> None:
        try:
            answers.append(
                client.put("/container-svc/image", {"name": tag, "contextPath": context_path}, format="json")
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    return thread, answers


def running_step(tag: str) -> tuple[ImageBuild, str]:
    """Wait until the build's RUN step runs; returns the build and its step container's short id."""

    def step_running():
        build = ImageBuild.objects.filter(tag=tag).first()
        # The echo's own line (the step's header names it too), after the line naming the step container.
        found = build and re.search(r"Running in ([0-9a-f]{12,64})\n(?:.*\n)*step-started\n", build.output)
        return found and (build, found[1])

    return wait_for(step_running, timeout=60, what="the build's RUN step to start", interval=0.1)


def step_containers(docker_client, short_id: str) -> list:
    return docker_client.containers.list(all=True, filters={"id": short_id})


def test_a_cancelled_build_fails_and_its_step_container_is_gone(
    settings, builder, bearer_client, endless_context, docker_client, name
):
    tag = f"containersvc-test/endless:{name}"
    thread, answers = start_build(bearer_client(builder), tag, endless_context)
    build, step = running_step(tag)
    assert step_containers(docker_client, step), "the step container runs while the build does"

    started = time.monotonic()
    response = bearer_client(builder).put(f"/container-svc/image/build/{build.pk}/cancel")
    took = time.monotonic() - started

    assert response.status_code == 200, response.json()
    cancelled = f"cancelled by {builder.username}"
    assert response.json()["build"]["status"] == "failed" and response.json()["build"]["error"] == cancelled
    assert took < settings.CONTAINERSVC_ENGINE_TIMEOUT
    assert not step_containers(docker_client, step)
    thread.join(timeout=settings.CONTAINERSVC_ENGINE_TIMEOUT)
    assert not thread.is_alive(), "the build's own request must end too"
    assert answers[0].status_code == 409 and answers[0].json()["error"] == cancelled
    build.refresh_from_db()
    assert (build.status, build.error) == (BuildStatus.FAILED, cancelled)
    assert "step-started" in build.output
    audit = {event.action: event for event in AuditEvent.objects.filter(action__startswith="image.build")}
    assert audit["image.build.cancel"].outcome == "ok" and audit["image.build.cancel"].actor_id == builder.pk
    assert audit["image.build"].outcome == "error" and audit["image.build"].detail == cancelled


def test_a_build_past_its_deadline_ends_failed_timed_out(
    settings, builder, bearer_client, endless_context, docker_client, name
):
    settings.CONTAINERSVC_BUILD_TIMEOUT = 3
    tag = f"containersvc-test/endless:{name}"

    started = time.monotonic()
    response = bearer_client(builder).put("/container-svc/image", {"name": tag, "contextPath": endless_context},
                                          format="json")  # fmt: skip

    assert time.monotonic() - started < 3 + settings.CONTAINERSVC_ENGINE_TIMEOUT
    assert response.status_code == 504 and response.json()["error"] == "timed out after 3 s"
    build = ImageBuild.objects.get(tag=tag)
    assert (build.status, build.error) == (BuildStatus.FAILED, "timed out after 3 s")
    step = STEP_CONTAINER.search(build.output)[1]
    assert not step_containers(docker_client, step)


@pytest.fixture
def finished_build(settings, builder):
    return ImageBuild.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID, tag="containersvc-test/done:x", context_path="/nowhere",
        status=BuildStatus.SUCCEEDED, requested_by=builder,
    )  # fmt: skip


def test_cancelling_a_finished_build_is_409(builder, bearer_client, finished_build):
    response = bearer_client(builder).put(f"/container-svc/image/build/{finished_build.pk}/cancel")

    assert response.status_code == 409
    assert response.json()["error"] == MESSAGE_ALREADY_FINISHED.format(build_id=finished_build.pk, status="succeeded")
    event = AuditEvent.objects.get(action="image.build.cancel")
    assert event.outcome == "error"


def test_another_account_neither_sees_nor_cancels_a_build(make_user, bearer_client, finished_build):
    other = bearer_client(make_user(*Scope))
    unknown = other.put("/container-svc/image/build/999999/cancel")

    response = other.put(f"/container-svc/image/build/{finished_build.pk}/cancel")

    assert response.status_code == 404 and response.json() == {
        "error": unknown.json()["error"].replace("999999", str(finished_build.pk))
    }
    assert other.get(f"/container-svc/image/build/{finished_build.pk}").status_code == 404
    assert finished_build.pk not in [build["id"] for build in other.get("/container-svc/image/builds").json()["builds"]]


def test_whoever_started_a_build_and_superusers_see_it(builder, make_user, bearer_client, finished_build):
    for viewer in (builder, make_user(superuser=True)):
        client = bearer_client(viewer)
        assert client.get(f"/container-svc/image/build/{finished_build.pk}").status_code == 200
        assert finished_build.pk in [
            build["id"] for build in client.get("/container-svc/image/builds").json()["builds"]
        ]


# --- the dashboard's Cancel button ------------------------------------------------------------------------
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_the_build_page_cancels_a_running_build_with_a_post_and_its_csrf_token(
    builder, endless_context, docker_client, name
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(builder)
    build = builds.build_create(actor=builder, name=f"containersvc-test/endless:{name}", context_path=endless_context,
                                dockerfile_path=None)  # fmt: skip
    thread = builds.build_start_in_background(actor=builder, build=build)
    build, step = running_step(build.tag)
    page = browser.get(f"/builds/{build.pk}/").content.decode()
    assert 'id="build-cancel"' in page
    cancel_url = f"/builds/{build.pk}/cancel/"

    assert browser.post(cancel_url).status_code == 403  # no CSRF token
    response = browser.post(cancel_url, {"csrfmiddlewaretoken": CSRF_INPUT.search(page)[1]})

    assert response.status_code == 302 and response["Location"] == f"/builds/{build.pk}/"
    thread.join(timeout=10)
    build.refresh_from_db()
    assert (build.status, build.error) == (BuildStatus.FAILED, f"cancelled by {builder.username}")
    assert not step_containers(docker_client, step)
    assert 'id="build-cancel"' not in browser.get(f"/builds/{build.pk}/").content.decode()


def test_the_build_page_offers_no_cancel_without_the_scope_and_hides_other_accounts_builds(make_user, finished_build):
    viewer = Client()
    viewer.force_login(make_user(Scope.CONTAINER_VIEW))

    assert viewer.post(f"/builds/{finished_build.pk}/cancel/").status_code == 403
    assert viewer.get(f"/builds/{finished_build.pk}/").status_code == 404
    other = Client()
    other.force_login(make_user(*Scope))
    assert other.post(f"/builds/{finished_build.pk}/cancel/").status_code == 404
