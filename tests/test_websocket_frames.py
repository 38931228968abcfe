"""Bad input on websockets: a frame that is not a JSON object closes with 4400, an unknown path is refused at
the handshake; neither is an error in the server's log."""

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from containersvc.asgi import application
from containersvc.consumers.base import CLOSE_BAD_REQUEST
from containersvc.scopes import Scope
from tests.conftest import session_headers

pytestmark = pytest.mark.django_db(transaction=True)


def close_code_after(headers, frame: dict) -> int:
    """Open the container status socket, send one frame, and return the code it is closed with."""

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/containers/", headers=headers)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(**frame)
        while True:
            output = await socket.receive_output(timeout=10)
            if output["type"] == "websocket.close":
                await socket.disconnect()  # what the browser answers to the close: its socket unsubscribes
                return output["code"]

    return async_to_sync(scenario)()


@pytest.mark.parametrize(
    "frame",
    [
        {"text_data": "not json"},
        {"text_data": "[1, 2]"},
        {"text_data": '"a string"'},
        {"text_data": "42"},
        {"text_data": "null"},
        {"text_data": "[" * 100_000},
        {"bytes_data": b'{"type": "ack", "seq": 1}'},
    ],
    ids=["not-json", "array", "string", "number", "null", "deep", "binary"],
)
def test_a_frame_that_is_not_a_json_object_closes_4400(make_user, caplog, frame):
    caplog.set_level(logging.DEBUG)

    assert close_code_after(session_headers(make_user(Scope.CONTAINER_VIEW)), frame) == CLOSE_BAD_REQUEST
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", ["/ws/nothing-here/", "/", "/ws/containers/abc/logs/", "/ws/builds/x/"])
def test_an_unknown_path_is_refused_at_the_handshake(make_user, caplog, path):
    caplog.set_level(logging.DEBUG)
    headers = session_headers(make_user(*Scope))

    async def scenario():
        socket = WebsocketCommunicator(application, path, headers=headers)
        return await socket.connect()

    connected, _ = async_to_sync(scenario)()
    assert connected is False
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
