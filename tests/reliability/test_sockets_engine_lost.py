"""Websocket viewers when the engine is killed: the streams end cleanly and say why, status comes back."""

import asyncio
from contextlib import closing

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from containersvc import labels
from containersvc.asgi import application
from containersvc.producers.container_status import producer
from containersvc.scopes import Scope
from containersvc.services import mirror
from tests.conftest import TEST_NODE, session_headers
from tests.sockets import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_viewers_are_told_when_the_engine_dies_and_status_resumes(producers, on_second_engine, make_user, test_image):
    user = make_user(*Scope)
    viewer = session_headers(user)
    with closing(on_second_engine.client()) as client:
        printing = client.containers.run(
            test_image,
            ["sh", "-c", "while true; do echo tick; sleep 0.1; done"],
            detach=True,
            labels={labels.MANAGED: "true", labels.NODE: TEST_NODE},
        )
    mirror.mirror_record_owner(container_id=printing.id, created_by=user)  # as if the service ran it for the user

    async def scenario():
        status = WebsocketCommunicator(application, "/ws/containers/", headers=viewer)
        assert (await status.connect())[0]
        await receive_until(status, lambda m: m["type"] == "container.status" and m["full"], timeout=15, ack=True)
        logs = WebsocketCommunicator(application, f"/ws/containers/{printing.id}/logs/?tail=5", headers=viewer)
        assert (await logs.connect())[0]
        await receive_until(logs, lambda m: m.get("lines"), timeout=15, ack=True)

        await asyncio.to_thread(on_second_engine.kill)

        down = await receive_until(status, lambda m: m["type"] == "engine.status", timeout=15, ack=True)
        assert down["available"] is False and "unavailable" in down["error"]
        end = await receive_until(logs, lambda m: m["type"] == "end", timeout=15, ack=True)
        assert "went away" in end["error"] or "unavailable" in end["error"]

        await asyncio.to_thread(on_second_engine.start)

        await receive_until(status, lambda m: m["type"] == "engine.status" and m["available"], timeout=20, ack=True)
        back = await receive_until(
            status, lambda m: m["type"] == "container.status" and m["full"], timeout=15, ack=True
        )
        assert {item["id"]: item["state"] for item in back["containers"]}[printing.id] == "running"
        await logs.disconnect()
        await status.disconnect()

    async_to_sync(scenario)()
    # The sockets are gone, the events follower stays: it runs with the service, not with the viewers.
    assert producer.threads()
