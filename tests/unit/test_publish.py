"""Publishing from a producer thread onto the sockets' loop: a busy loop is waited for, a gone one is not."""

import asyncio
import threading
from collections.abc import Iterator

import pytest
from channels.layers import InMemoryChannelLayer

from containersvc.producers import publish
from containersvc.producers.publish import Publisher
from tests.conftest import wait_for

GROUP = "publish-test"


class SocketsLoop:
    """An event loop in a thread, as daphne's, with a channel in GROUP, and a way to hold it busy."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.layer = InMemoryChannelLayer()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self.run(self.layer.new_channel())
        self.run(self.layer.group_add(GROUP, self.channel))

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def hold_busy(self) -> threading.Event:
        """Block the loop (as a long synchronous callback would) until the returned event is set."""
        release, holding = threading.Event(), threading.Event()

        def busy() -> None:
            holding.set()
            release.wait(30)

        self.loop.call_soon_threadsafe(busy)
        assert holding.wait(10)
        return release

    def received(self) -> dict:
        return self.run(asyncio.wait_for(self.layer.receive(self.channel), 10))

    def publisher(self) -> Publisher:
        publisher = Publisher(self.loop)
        publisher.layer = self.layer
        return publisher

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def sockets_loop(monkeypatch) -> Iterator[SocketsLoop]:
    monkeypatch.setattr(publish, "WAIT_SLICE_SECONDS", 0.05)
    monkeypatch.setattr(publish, "PUBLISH_TIMEOUT_SECONDS", 0.2)
    sockets = SocketsLoop()
    yield sockets
    sockets.close()


def send_in_thread(publisher: Publisher, event: dict, **kwargs) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(publisher.send(GROUP, event, **kwargs)), daemon=True)
    thread.start()
    return thread, result


def test_a_send_arrives(sockets_loop):
    assert sockets_loop.publisher().send(GROUP, {"type": "x.event", "n": 1}) is True
    assert sockets_loop.received() == {"type": "x.event", "n": 1}


def test_a_producer_with_a_stop_waits_out_a_busy_loop_longer_than_the_timeout(sockets_loop, caplog):
    release = sockets_loop.hold_busy()
    thread, result = send_in_thread(sockets_loop.publisher(), {"type": "x.event"}, stop=threading.Event())
    # Past the timeout a producer without a stop would have given up at: the warning says so.
    wait_for(lambda: "has not taken it" in caplog.text, timeout=10, what="the slow-loop warning")
    assert thread.is_alive() and not result
    release.set()
    thread.join(10)
    assert result == [True]
    assert sockets_loop.received() == {"type": "x.event"}


def test_a_producer_without_a_stop_gives_up_after_the_timeout(sockets_loop):
    release = sockets_loop.hold_busy()
    try:
        thread, result = send_in_thread(sockets_loop.publisher(), {"type": "x.event"})
        thread.join(10)
        assert result == [False]
    finally:
        release.set()


def test_a_stop_asked_while_waiting_ends_the_wait(sockets_loop):
    release, stop = sockets_loop.hold_busy(), threading.Event()
    try:
        thread, result = send_in_thread(sockets_loop.publisher(), {"type": "x.event"}, stop=stop)
        stop.set()
        thread.join(10)
        assert result == [False]
    finally:
        release.set()


def test_a_closed_loop_is_not_waited_for(sockets_loop):
    sockets_loop.close()
    assert sockets_loop.publisher().send(GROUP, {"type": "x.event"}, stop=threading.Event()) is False
