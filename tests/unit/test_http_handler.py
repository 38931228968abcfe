"""The ASGI handler runs the middleware chain and the view as under WSGI: in the request's thread, entered once,
with every middleware's work done (its headers, cookies and answers), and a failing view answered by Django.
Request threads are kept, with their database connections, for the next requests."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.http import HttpResponse
from django.urls import path

from containersvc import urls
from containersvc.http_handler import RequestThreads, SyncChainASGIHandler
from containersvc.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import wait_for

SEEN: dict[str, int] = {}


def where_it_ran(request):
    SEEN["view"] = threading.get_ident()
    return HttpResponse(b"ran")


def where_its_connection_is(request):
    connection.ensure_connection()
    SEEN["thread"], SEEN["connection"] = threading.get_ident(), id(connection.connection)
    return HttpResponse(b"ok")


def failing(request):
    raise RuntimeError("the view failed")


LARGE = bytes(range(256)) * 6000  # 1.5 MB, as a day of a container's stats history is


def large(request):
    return HttpResponse(LARGE)


urlpatterns = [
    path("where", where_it_ran),
    path("connection", where_its_connection_is),
    path("failing", failing),
    path("large", large),
    *urls.urlpatterns,
]


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = __name__
    return SyncChainASGIHandler()


def _get(application, url: str) -> dict:
    communicator = HttpCommunicator(application, "GET", url, headers=[(b"host", b"localhost")])
    return asyncio.run(communicator.get_response(timeout=10))


def test_the_chain_is_loaded_sync_where_djangos_own_is_async(handler):
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)
    assert asyncio.iscoroutinefunction(ASGIHandler()._middleware_chain)


@pytest.mark.django_db
def test_a_page_gets_what_every_middleware_adds(handler):
    response = _get(handler, "/login/")
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    assert response["status"] == 200
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY  # the project's own middleware
    assert headers["x-frame-options"] == "DENY"  # clickjacking
    assert "csrftoken=" in headers["set-cookie"]  # CSRF, for the login form
    assert headers["cross-origin-opener-policy"] == "same-origin"  # security


def test_the_view_runs_off_the_event_loop_and_a_failure_is_a_500(handler):
    SEEN.clear()
    assert _get(handler, "/where")["body"] == b"ran"
    assert SEEN["view"] != threading.get_ident()
    assert _get(handler, "/failing")["status"] == 500
    assert _get(handler, "/no-such-page")["status"] == 404


def test_a_large_body_goes_to_the_server_in_pieces_of_a_mebibyte(handler):
    async def bodies() -> list[bytes]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/large",
            "query_string": b"",
            "headers": [(b"host", b"localhost")],
        }
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        assert (await communicator.receive_output(10))["status"] == 200
        received = []
        while True:
            message = await communicator.receive_output(10)
            received.append(message["body"])
            if not message.get("more_body"):
                return received

    received = asyncio.run(bodies())
    assert [len(body) for body in received] == [2**20, len(LARGE) - 2**20]
    assert b"".join(received) == LARGE


@pytest.mark.django_db(transaction=True)
def test_the_next_request_runs_on_the_same_thread_with_the_same_database_connection(handler):
    async def two_requests() -> None:
        for _ in range(2):
            communicator = HttpCommunicator(handler, "GET", "/connection", headers=[(b"host", b"localhost")])
            assert (await communicator.get_response(timeout=10))["status"] == 200
            await communicator.wait(timeout=10)  # the request ended, as daphne lets it
            seen.append((SEEN["thread"], SEEN["connection"]))
            wait_for(lambda: handler.threads.idle() == 1, timeout=10, what="its thread kept")

    seen: list[tuple[int, int]] = []
    asyncio.run(two_requests())
    assert seen[0] == seen[1]


def test_a_thread_is_kept_again_only_once_what_it_ran_has_ended():
    threads = RequestThreads()
    thread, release = threads.lease(), threading.Event()
    thread.submit(release.wait, 10)  # a view a disconnected client left running
    threads.give_back(thread)
    assert threads.idle() == 0, "not handed to the next request while busy"
    release.set()
    wait_for(lambda: threads.idle() == 1, timeout=10, what="the thread kept once idle")
    assert threads.lease() is thread


def test_past_the_threads_kept_idle_one_ends():
    threads = RequestThreads(keep=1)
    leased = [threads.lease(), threads.lease()]
    workers = [executor.submit(threading.current_thread).result(10) for executor in leased]
    for executor in leased:
        threads.give_back(executor)
    wait_for(lambda: threads.idle() == 1, timeout=10, what="one thread kept")
    wait_for(lambda: sum(worker.is_alive() for worker in workers) == 1, timeout=10, what="the other thread ended")
