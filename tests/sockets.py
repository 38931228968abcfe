"""Websockets to the real ASGI application in tests (origin check, session auth, routing): a helper module, not
in conftest, because importing the application sets up a server process's state (outside any event loop)."""

from channels.testing import WebsocketCommunicator

from containersvc.asgi import application


def communicator(path: str, headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers)
