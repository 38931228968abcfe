"""Image pulls: progress live over ws/pulls/<id>/ from the local registry, reopened after leaving, one pull per
image, the run path recording its pull, and the endpoints' scopes."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from containersvc.asgi import application
from containersvc.models import AuditEvent, ImagePull
from containersvc.producers import pull_progress
from containersvc.scopes import Scope
from containersvc.services import pulls
from tests.conftest import FRESH_LAYER_BYTES as LAYER_BYTES
from tests.conftest import ORIGIN, REGISTRY, session_headers, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quick_progress(monkeypatch):
    """Every progress line saved and published: a local pull is over in a second."""
    monkeypatch.setattr(pulls, "FLUSH_INTERVAL_SECONDS", 0.02)
    monkeypatch.setattr(pull_progress, "BATCH_SECONDS", 0.02)


def socket_for(pull_id: int, headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/pulls/{pull_id}/", headers=headers)


async def states_until_finished(socket: WebsocketCommunicator) -> list[dict]:
    states: list[dict] = []
    while not states or not states[-1]["finishedAt"]:
        message = await socket.receive_json_from(timeout=60)
        assert message["type"] == "pull.progress"
        states.append(message["pull"])
    return states


def test_a_pull_streams_its_layers_live_over_the_websocket(
    make_user, fresh_registry_image, docker_client, quick_progress
):
    actor = make_user(*Scope)
    pull, new = pulls.pull_create(actor=actor, image=fresh_registry_image)
    assert new
    headers = session_headers(actor)

    async def scenario():
        socket = socket_for(pull.pk, headers)
        assert (await socket.connect())[0]
        thread = await asyncio.to_thread(pulls.pull_start_in_background, actor=actor, pull=pull)
        states = await states_until_finished(socket)
        await asyncio.to_thread(thread.join, 30)
        await socket.disconnect()
        return states

    states = async_to_sync(scenario)()

    final = states[-1]
    assert final["status"] == "succeeded", final
    assert final["layers"] and all(layer["status"] in {"Pull complete", "Already exists"} for layer in final["layers"])
    assert final["progress"]["totalBytes"] >= LAYER_BYTES
    assert final["progress"]["currentBytes"] == final["progress"]["totalBytes"]
    assert final["progress"]["layersDone"] == final["progress"]["layers"]
    # Progress came while the pull ran, not only at its end.
    done = {"Pull complete", "Already exists"}
    moving = [
        state
        for state in states[:-1]
        if state["status"] == "running" and any(layer["status"] not in done for layer in state["layers"])
    ]
    assert moving, states
    assert docker_client.images.get(fresh_registry_image)
    assert AuditEvent.objects.filter(action="image.pull", target=fresh_registry_image, outcome="ok").exists()


def test_a_pull_goes_on_when_its_page_is_left_and_can_be_reopened(make_user, fresh_registry_image, quick_progress):
    actor = make_user(*Scope)
    pull, _ = pulls.pull_create(actor=actor, image=fresh_registry_image)
    headers = session_headers(actor)

    async def leave_at_once():
        socket = socket_for(pull.pk, headers)
        assert (await socket.connect())[0]
        thread = await asyncio.to_thread(pulls.pull_start_in_background, actor=actor, pull=pull)
        first = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return first, thread

    first, thread = async_to_sync(leave_at_once)()
    assert first["pull"]["status"] == "running"
    thread.join(60)
    assert ImagePull.objects.get(pk=pull.pk).status == "succeeded"

    async def reopen():
        socket = socket_for(pull.pk, headers)
        assert (await socket.connect())[0]
        states = await states_until_finished(socket)
        await socket.disconnect()
        return states

    reopened = async_to_sync(reopen)()
    assert reopened[0]["status"] == "succeeded"
    assert reopened[0]["progress"]["currentBytes"] == reopened[0]["progress"]["totalBytes"] >= LAYER_BYTES


def test_the_api_starts_a_pull_and_shows_it_until_it_ends(
    make_user, bearer_client, fresh_registry_image, docker_client
):
    client = bearer_client(make_user(Scope.CONTAINER_RUN, Scope.CONTAINER_VIEW))

    response = client.put("/container-svc/image/pull", {"image": fresh_registry_image}, format="json")

    assert response.status_code == 202, response.content
    pull_id = response.json()["pull"]["id"]
    done = wait_for(
        lambda: (shown := client.get(f"/container-svc/image/pulls/{pull_id}").json()["pull"])["finishedAt"] and shown,
        timeout=60,
        what="the pull to end",
    )
    assert done["status"] == "succeeded", done
    assert done["image"] == fresh_registry_image
    assert docker_client.images.get(fresh_registry_image)


def test_asking_again_while_an_image_is_pulled_joins_that_pull(make_user, fresh_registry_image):
    actor = make_user(*Scope)
    first, first_new = pulls.pull_create(actor=actor, image=fresh_registry_image)
    again, again_new = pulls.pull_create(actor=actor, image=fresh_registry_image)

    assert (first_new, again_new) == (True, False)
    assert again.pk == first.pk
    pulls.pull_run(actor=actor, pull=first)
    assert pulls.pull_wait(pull=again).status == "succeeded"
    assert ImagePull.objects.filter(image=fresh_registry_image).count() == 1


def test_a_run_that_pulls_records_its_pull(run, name, fresh_registry_image):
    response = run(name, image=fresh_registry_image)

    assert response.status_code == 200, response.content
    pull = ImagePull.objects.get(image=fresh_registry_image)
    assert pull.status == "succeeded" and pull.layers


def test_a_pull_that_fails_says_why(make_user, bearer_client):
    client = bearer_client(make_user(Scope.CONTAINER_RUN, Scope.CONTAINER_VIEW))
    missing = f"{REGISTRY}/containersvc-test/missing:{uuid.uuid4().hex[:8]}x"

    pull_id = client.put("/container-svc/image/pull", {"image": missing}, format="json").json()["pull"]["id"]

    done = wait_for(
        lambda: (shown := client.get(f"/container-svc/image/pulls/{pull_id}").json()["pull"])["finishedAt"] and shown,
        timeout=60,
        what="the pull to fail",
    )
    assert done["status"] == "failed"
    assert done["error"]


# --- scopes ---------------------------------------------------------------------------------------------------
def test_pulling_needs_container_run(make_user, bearer_client):
    body = {"image": "containersvc-test/busybox:latest"}
    assert APIClient().put("/container-svc/image/pull", body, format="json").status_code == 401
    viewer = bearer_client(make_user(Scope.CONTAINER_VIEW, Scope.IMAGE_BUILD))
    assert viewer.put("/container-svc/image/pull", body, format="json").status_code == 403
    runner = bearer_client(make_user(Scope.CONTAINER_RUN))
    response = runner.put("/container-svc/image/pull", body, format="json")
    assert response.status_code == 202
    pull_id = response.json()["pull"]["id"]
    wait_for(lambda: ImagePull.objects.get(pk=pull_id).is_finished, timeout=30, what="the pull to end")
    assert ImagePull.objects.get(pk=pull_id).message == pulls.MESSAGE_ALREADY_PRESENT


def test_seeing_a_pull_needs_container_view(make_user, bearer_client):
    pull = ImagePull.objects.create(node_id="n", image="containersvc-test/busybox:latest", status="succeeded")
    url = f"/container-svc/image/pulls/{pull.pk}"

    assert APIClient().get(url).status_code == 401
    assert bearer_client(make_user(Scope.LOG_VIEW)).get(url).status_code == 403
    assert bearer_client(make_user(Scope.CONTAINER_VIEW)).get(url).status_code == 200
    assert bearer_client(make_user(Scope.CONTAINER_VIEW)).get("/container-svc/image/pulls/999999").status_code == 404


def test_the_pull_socket_needs_a_scope(make_user):
    pull = ImagePull.objects.create(node_id="n", image="containersvc-test/busybox:latest", status="succeeded")

    refused_headers = session_headers(make_user(Scope.LOG_VIEW))
    viewer_headers = session_headers(make_user(Scope.CONTAINER_VIEW))

    async def codes():
        anonymous = WebsocketCommunicator(application, f"/ws/pulls/{pull.pk}/", headers=[ORIGIN])
        refused = socket_for(pull.pk, refused_headers)
        missing = socket_for(999999, viewer_headers)
        return [(await socket.connect())[1] for socket in (anonymous, refused, missing)]

    assert async_to_sync(codes)() == [4401, 4403, 4404]
