"""What the relays (build output, pull progress) share: they hear changes from other threads, and while a socket
watches, their thread publishes what gathered, in batches, on the loop of the sockets.

A subclass says what one round publishes (`take`) and how long a batch gathers (`batch_seconds`); it calls
`_heard()` when a change arrives and the Worker base's `_subscribe_locked(loop)` when a viewer comes. The base
counts the viewers and starts and stops the thread.
"""

import asyncio
import threading

from containersvc.producers.publish import Publisher
from containersvc.producers.worker import Worker


class Relay(Worker):
    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Event()
        self._publisher: Publisher | None = None

    def batch_seconds(self) -> float:
        """How long a round gathers changes before and after publishing; read each round (tests shorten it)."""
        raise NotImplementedError

    def take(self) -> list[tuple[str, dict]]:
        """What this round publishes, as (group, event), oldest first; what it returns is no longer held."""
        raise NotImplementedError

    def _heard(self) -> None:
        """A change arrived (called from any thread; never blocks): the thread publishes it soon."""
        self._wake.set()

    def on_subscribe(self, loop: asyncio.AbstractEventLoop | None, *, started: bool) -> None:
        if started:  # publishing goes to the loop of the socket that started the thread
            self._publisher = Publisher(loop) if loop is not None else None

    def on_stopping(self) -> None:
        self._wake.set()

    def perform_work(self, stop: threading.Event) -> bool:
        with self._lock:  # the viewer starting this thread sets its publisher just after, under the lock
            publisher = self._publisher
        self._wake.wait(self.batch_seconds())
        self._wake.clear()
        for group, event in self.take():
            if publisher is None or not publisher.send(group, event, stop=stop):
                return False
        stop.wait(self.batch_seconds())  # gather what arrives meanwhile
        return True
