"""The cross-port attack in a real browser: a page served on another 127.0.0.1 port shares the dashboard's
cookies (cookies are per site, not per port), yet cannot open the dashboard's websockets; the dashboard can."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from containersvc.scopes import Scope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a page a container publishes could serve: it opens the socket given in ?target= and says what happened.
ATTACKER_PAGE = """<!doctype html><title>waiting</title><script>
const socket = new WebSocket(new URLSearchParams(location.search).get("target"));
socket.onopen = () => { document.title = "open"; socket.close(); };
socket.onclose = () => { if (document.title !== "open") document.title = "refused"; };
</script>"""


class AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ATTACKER_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def attacker_origin() -> Iterator[str]:
    """A tiny HTTP server on another 127.0.0.1 port, like a container publishing one."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def trusted_attacker_origin(settings, attacker_origin) -> str:
    """The same page's origin listed as trusted, before the daphne child process starts with the settings."""
    settings.CONTAINERSVC_TRUSTED_ORIGINS = [attacker_origin]
    return attacker_origin


def socket_from(page, origin: str, live_server_url: str) -> str:
    """What the page served at `origin` got when it opened the dashboard's container socket."""
    target = live_server_url.replace("http://", "ws://") + "/ws/containers/"
    page.goto(f"{origin}/?target={target}")
    expect(page).not_to_have_title("waiting")
    return page.title()


def test_a_page_on_another_port_cannot_open_the_dashboards_socket(
    page_for, make_user, attacker_origin, live_server_url
):
    page = page_for(make_user(superuser=True))
    # The session cookie is the host's, sent to every port of 127.0.0.1: the attacker's page carries it.
    assert [(cookie["name"], cookie["domain"]) for cookie in page.context.cookies()] == [("sessionid", "127.0.0.1")]

    assert socket_from(page, attacker_origin, live_server_url) == "refused"


def test_the_same_page_connects_once_its_origin_is_trusted(
    trusted_attacker_origin, page_for, make_user, live_server_url
):
    # With the cookie sent alike, only the origin check tells this test and the one above apart.
    page = page_for(make_user(superuser=True))

    assert socket_from(page, trusted_attacker_origin, live_server_url) == "open"


def test_the_dashboard_opens_its_socket_and_a_bad_frame_closes_it_4400(page_for, make_user):
    page = page_for(make_user(Scope.CONTAINER_VIEW))
    page.goto("/")

    opened, code = page.evaluate(
        """() => new Promise((resolve) => {
            let opened = false;
            const socket = new WebSocket(`ws://${location.host}/ws/containers/`);
            socket.onopen = () => { opened = true; socket.send("not json"); };
            socket.onclose = (event) => resolve([opened, event.code]);
        })"""
    )

    assert (opened, code) == (True, 4400)


def test_an_unknown_socket_path_is_refused_at_the_handshake(live_server_url):
    address = urlsplit(live_server_url)
    request = (
        f"GET /ws/nothing-here/ HTTP/1.1\r\nHost: {address.netloc}\r\nOrigin: {live_server_url}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request.encode())
        status_line = connection.recv(1024).split(b"\r\n", 1)[0]

    assert status_line.startswith(b"HTTP/1.1 403"), status_line
