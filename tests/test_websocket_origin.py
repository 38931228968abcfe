"""The websocket origin check: browsers must come from an allowed host; services with a bearer token and no
Origin header (they are not browsers) may connect."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from containersvc.asgi import application
from containersvc.scopes import Scope
from containersvc.services.accounts import token_issue
from tests.conftest import session_headers

pytestmark = pytest.mark.django_db(transaction=True)


def connect(headers) -> tuple[bool, int | None]:
    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/containers/", headers=headers)
        connected, code = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected, code

    return async_to_sync(scenario)()


@pytest.fixture
def bearer(make_user) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {token_issue(user=make_user(Scope.CONTAINER_VIEW)).token}".encode())


def test_a_service_with_a_bearer_token_and_no_origin_connects(bearer):
    assert connect([bearer])[0] is True


def test_a_bearer_token_from_a_foreign_origin_is_refused(bearer):
    assert connect([(b"origin", b"http://evil.example"), bearer])[0] is False


def test_a_browser_session_needs_an_allowed_origin(make_user):
    origin, cookie = session_headers(make_user(Scope.CONTAINER_VIEW))

    assert connect([origin, cookie])[0] is True
    assert connect([cookie])[0] is False
