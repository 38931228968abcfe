"""The producers' shared lifecycle: the first subscriber starts the thread, the last one's leaving stops it."""

import threading

from containersvc.producers.worker import Worker
from tests.conftest import wait_for


class Counting(Worker):
    thread_name = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0
        self.stopping = 0
        self.stopped = threading.Event()

    def perform_work(self, stop: threading.Event) -> None:
        self.rounds += 1
        stop.wait(0.01)

    def on_stopping(self) -> None:
        self.stopping += 1

    def on_stop(self) -> None:
        self.stopped.set()


def test_the_thread_runs_from_the_first_subscriber_to_the_last():
    worker = Counting()
    assert not worker.running

    worker.subscribe()
    worker.subscribe()
    wait_for(lambda: worker.rounds >= 2, timeout=5, what="rounds")
    worker.unsubscribe()
    assert worker.running and worker.subscribers == 1

    worker.unsubscribe()
    assert worker.stopped.wait(5) and not worker.running
    assert worker.stopping == 1 and worker.subscribers == 0


def test_a_subscriber_after_a_stop_starts_a_new_thread():
    worker = Counting()
    worker.subscribe()
    worker.unsubscribe()
    worker.join(5)

    worker.subscribe()
    rounds = worker.rounds
    wait_for(lambda: worker.rounds > rounds, timeout=5, what="a new round")
    assert worker.running
    worker.unsubscribe()
    worker.join(5)


def test_started_it_runs_without_subscribers_until_stopped():
    worker = Counting()
    worker.start()
    worker.subscribe()
    worker.unsubscribe()
    assert worker.running

    worker.stop(timeout=5)
    assert worker.stopped.is_set() and not worker.running


def test_perform_work_answering_false_ends_the_thread():
    class Once(Counting):
        def perform_work(self, stop: threading.Event) -> bool:
            self.rounds += 1
            return False

    worker = Once()
    worker.subscribe()
    assert worker.stopped.wait(5) and worker.rounds == 1 and not worker.running
    worker.subscribe()  # counted in while it is not running: starts it again
    wait_for(lambda: worker.rounds == 2, timeout=5, what="the second start")


def test_a_companion_thread_runs_beside_the_worker_and_ends_with_its_stop():
    class WithReader(Counting):
        def __init__(self) -> None:
            super().__init__()
            self.reader_ended = threading.Event()

        def on_start(self) -> None:
            self.start_companion(self._read, name="reader")

        def _read(self, stop: threading.Event) -> None:
            stop.wait()
            self.reader_ended.set()

    worker = WithReader()
    worker.subscribe()
    assert sorted(thread.name for thread in worker.threads()) == ["counting", "reader"]

    worker.unsubscribe()
    assert worker.reader_ended.wait(5) and worker.stopped.wait(5)
    wait_for(lambda: not worker.threads(), timeout=5, what="both threads to end")
