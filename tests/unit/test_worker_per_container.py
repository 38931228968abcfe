"""The Worker base's loop-taking subscribe, its non-blocking stop, and KeyedWorkers / PerContainer: one worker per
container, counted by subscriber, replaced after it ended by itself."""

import asyncio
import threading

from containersvc.producers.worker import KeyedWorkers, PerContainer, Worker
from tests.conftest import wait_for


class Once(Worker):
    """Runs until asked to stop, or until told to end by itself (`end`)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.thread_name = name
        self.end = threading.Event()
        self.joined: list[tuple[asyncio.AbstractEventLoop | None, bool]] = []

    def perform_work(self, stop: threading.Event) -> bool:
        stop.wait(0.01)
        return not self.end.is_set()

    def on_subscribe(self, loop: asyncio.AbstractEventLoop | None, *, started: bool) -> None:
        self.joined.append((loop, started))


class Kept(KeyedWorkers[Once]):
    """Keeps workers without counting, as the log capture does."""

    def keep(self, container_id: str, worker: Once) -> Once:
        with self._lock:
            return self._start_locked(container_id, worker)

    def leave(self, container_id: str, worker: Once) -> None:
        with self._lock:
            self._forget_locked(container_id, worker)

    def held(self) -> dict[str, Once]:
        with self._lock:
            return dict(self._workers)


class Onces(PerContainer[Once]):
    def __init__(self) -> None:
        super().__init__()
        self.loops: list[asyncio.AbstractEventLoop] = []

    def create(self, *, container_id: str, loop: asyncio.AbstractEventLoop) -> Once:
        self.loops.append(loop)
        return Once(f"once-{container_id}")


def test_subscribe_keeps_the_latest_loop_and_tells_whether_it_started_the_thread():
    worker = Once("once")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        worker.subscribe(loop=first)
        worker.subscribe(loop=second)
        assert worker.loop is second and worker.joined == [(first, True), (second, False)]
        worker.subscribe()  # a subscriber with no loop
        assert worker.loop is None and worker.subscribers == 3
    finally:
        worker.stop(timeout=5)
        first.close()
        second.close()


def test_ask_stop_never_waits_and_the_thread_is_listed_until_it_ends():
    release = threading.Event()

    class Slow(Once):
        def on_stop(self) -> None:
            release.wait(5)

    worker = Slow("slow")
    worker.start()
    worker.ask_stop()
    assert not worker.running and [thread.name for thread in worker.threads()] == ["slow"]
    release.set()
    wait_for(lambda: not worker.threads(), timeout=5, what="the thread to end")


def test_the_first_subscriber_of_a_container_starts_its_worker_and_the_last_stops_it():
    workers, loop = Onces(), asyncio.new_event_loop()
    try:
        first = workers.subscribe(container_id="a", loop=loop)
        assert workers.subscribe(container_id="a", loop=loop) is first
        other = workers.subscribe(container_id="b", loop=loop)
        assert first.running and other.running and other is not first
        assert workers.subscribers("a") == 2 and workers.subscribers("b") == 1 and workers.loops == [loop, loop]

        workers.unsubscribe(container_id="a")
        assert first.running and workers.subscribers("a") == 1
        workers.unsubscribe(container_id="a")
        assert not first.running and workers.subscribers("a") == 0
        workers.unsubscribe(container_id="a")  # once more: nothing to count down
        assert workers.subscribers("a") == 0

        workers.unsubscribe(container_id="b")
        wait_for(lambda: not workers.threads(), timeout=5, what="the stopped workers' threads to end")
    finally:
        loop.close()


def test_a_worker_that_ended_by_itself_is_replaced_and_the_count_carries_over():
    workers, loop = Onces(), asyncio.new_event_loop()
    try:
        first = workers.subscribe(container_id="a", loop=loop)
        workers.subscribe(container_id="a", loop=loop)
        first.end.set()
        wait_for(lambda: not first.running, timeout=5, what="the worker to end")

        second = workers.subscribe(container_id="a", loop=loop)
        assert second is not first and second.running and workers.subscribers("a") == 3
        for _ in range(3):
            workers.unsubscribe(container_id="a")
        assert not second.running
        wait_for(lambda: not workers.threads(), timeout=5, what="both workers' threads to end")
    finally:
        loop.close()


def test_kept_without_counting_a_worker_that_leaves_by_itself_is_forgotten():
    workers = Kept()
    worker = workers.keep("a", Once("kept"))
    assert worker.running and [t.name for t in workers.threads()] == ["kept"]
    workers.leave("a", Once("another"))  # not the container's worker: kept
    assert workers.held() == {"a": worker}
    workers.leave("a", worker)
    assert workers.held() == {}
    worker.stop(timeout=5)
