"""What the status socket (ws/containers/) sends of each container is what the OpenAPI document declares for it
(the ContainerStatus component), checked with the same drift check as the API's responses, on messages the real
engine caused: the full list on connect, then the changes of a container run through the API and stopped."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from tests.conftest import session_headers
from tests.openapi_drift import component, drift
from tests.sockets import communicator

pytestmark = pytest.mark.django_db(transaction=True)
SHAPE = component("ContainerStatus")


async def status_until(socket: WebsocketCommunicator, predicate, shown: list[dict], timeout: float = 60) -> dict:
    """Container status messages until one for which predicate(message) holds; every container of every one of
    them is added to `shown`."""
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] != "container.status":
            continue
        shown.extend(message["containers"])
        if predicate(message):
            return message


def mentions(message: dict, container_id: str, state: str) -> bool:
    return any(shown["id"] == container_id and shown["state"] == state for shown in message["containers"])


def test_status_socket_containers_are_what_the_document_declares(run, name, make_user, docker_client):
    document = Client().get("/container-svc/openapi.json").json()
    headers = session_headers(make_user(superuser=True))
    shown: list[dict] = []

    async def scenario() -> str:
        socket = communicator("/ws/containers/", headers)
        assert (await socket.connect())[0]
        await status_until(socket, lambda message: message["full"], shown)
        # Run through the API: managed, named, a published port (with its protocol), a creation time.
        response = await asyncio.to_thread(run, name, ports=[{"internal": 8080, "host": 0}])
        assert response.status_code == 200, response.content
        container_id = response.json()["id"]
        await status_until(socket, lambda message: mentions(message, container_id, "running"), shown)
        await asyncio.to_thread(docker_client.containers.get(container_id).stop, timeout=0)
        await status_until(socket, lambda message: mentions(message, container_id, "exited"), shown)
        await socket.disconnect()
        return container_id

    container_id = async_to_sync(scenario)()
    docker_client.containers.get(container_id).remove(force=True)

    ours = [shown for shown in shown if shown["id"] == container_id]
    assert ours[-1]["state"] == "exited" and ours[-1]["exitCode"] is not None
    assert any(shown["ports"] and shown["managed"] and shown["name"] == name for shown in ours)
    problems = [problem for shown in shown for problem in drift(document, SHAPE, shown, f"container {shown['id']}")]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_key_sent_but_not_declared_and_one_declared_but_not_sent():
    document = Client().get("/container-svc/openapi.json").json()
    sent = {
        "id": "x", "name": "web", "image": "i", "state": "running", "status": "Up", "gpuEnabled": False,
        "managed": True, "exitCode": None, "createdAt": None, "ports": [{"internal": 80, "host": 1}], "surprise": 1,
    }  # fmt: skip

    assert drift(document, SHAPE, sent, "c") == [
        "c.surprise: sent, not declared",
        "c.ports[].protocol: declared required, not sent",
    ]
