"""The websocket origin check: browsers must come from the service's own origin (scheme, allowed host and the
served port) or a trusted one; services with a bearer token and no Origin header (not browsers) may connect."""

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


# --- the exact origin: scheme, host and port ---------------------------------------------------------------
def browser(user, origin: bytes, host: bytes | None = b"127.0.0.1:8000") -> list[tuple[bytes, bytes]]:
    """A browser's handshake: its Origin, the Host it connects to and its session cookie."""
    _, cookie = session_headers(user)
    return [(b"origin", origin), cookie, *([(b"host", host)] if host is not None else [])]


@pytest.fixture
def viewer(make_user):
    return make_user(Scope.CONTAINER_VIEW)


def test_the_origin_the_socket_is_served_on_connects(viewer):
    assert connect(browser(viewer, b"http://127.0.0.1:8000"))[0] is True
    assert connect(browser(viewer, b"http://localhost:8000"))[0] is True


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:8001",  # a page a container publishes on another port: same site for cookies
        b"http://127.0.0.1",  # port 80
        b"https://127.0.0.1:8000",  # another scheme
        b"http://evil.example:8000",  # a host not in ALLOWED_HOSTS
        b"null",  # sandboxed frames and file:// pages
        b"http://127.0.0.1:99999",  # not a port
    ],
)
def test_any_other_origin_is_refused(viewer, origin):
    assert connect(browser(viewer, origin))[0] is False


def test_a_host_header_outside_allowed_hosts_is_refused(viewer):
    assert connect(browser(viewer, b"http://evil.example:8000", host=b"evil.example:8000"))[0] is False


def test_without_a_port_in_host_the_scheme_default_is_the_served_port(viewer):
    assert connect(browser(viewer, b"http://127.0.0.1", host=b"127.0.0.1"))[0] is True
    assert connect(browser(viewer, b"http://127.0.0.1:8000", host=b"127.0.0.1"))[0] is False


def test_trusted_origins_are_matched_exactly(viewer, settings):
    settings.CONTAINERSVC_TRUSTED_ORIGINS = ["https://dashboard.example:8443"]

    assert connect(browser(viewer, b"https://dashboard.example:8443"))[0] is True
    assert connect(browser(viewer, b"https://dashboard.example"))[0] is False
    assert connect(browser(viewer, b"http://dashboard.example:8443"))[0] is False


def test_a_bearer_token_with_another_ports_origin_is_refused(bearer):
    assert connect([(b"origin", b"http://127.0.0.1:8001"), (b"host", b"127.0.0.1:8000"), bearer])[0] is False
