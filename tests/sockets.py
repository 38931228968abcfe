"""Websockets to the real ASGI application in tests (origin check, session auth, routing): a helper module, not
in conftest, because importing the application sets up a server process's state (outside any event loop)."""

import time

from channels.testing import WebsocketCommunicator

from containersvc.asgi import application


def communicator(path: str, headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(
    socket: WebsocketCommunicator, predicate, timeout: float = 10, *, seen: list | None = None, ack: bool = False
) -> dict:
    """Messages until one matches, which is returned. Each one received is added to `seen` where given; with
    `ack`, log batches are acknowledged as a browser does."""
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if seen is not None:
            seen.append(message)
        if ack and "seq" in message and message.get("type") != "end":
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
        if predicate(message):
            return message
