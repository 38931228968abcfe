"""The producers' shared lifecycle: one background thread, started by the first subscriber, stopped after the last.

A subclass names its thread and implements `perform_work(stop)` (one round, its own waiting included); the
hooks `on_start` (before the thread starts), `on_stopping` (when a stop is asked: wake the thread, close the
stream it reads) and `on_stop` (in the thread, as it ends) are optional. `start()` keeps the thread running
with nobody subscribed (the always-on producers); `stop()` ends it whatever the count. A producer that reads
a stream beside its work starts that reader from `on_start` with `start_companion`: it gets the same stop.

A subscriber names the event loop its socket lives on (`subscribe(loop=...)`): the worker publishes into
the latest one, `loop`; `on_subscribe` (lock held) lets a subclass act on each subscriber. A worker
that runs once (a follower of one container) is started with `start()` and ended with `ask_stop()`, which
never waits; `KeyedWorkers` keeps such workers by container id, and `PerContainer` also counts each container's
subscribers.
"""

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar


class Worker:
    thread_name = "worker"

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the count and the thread; subclasses guard their state with it too
        self._subscribers = 0
        self._always = False
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._companions: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the latest subscriber's: where to publish

    @property
    def subscribers(self) -> int:
        return self._subscribers

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The latest subscriber's event loop: where to publish (None: it named none)."""
        return self._loop

    @property
    def running(self) -> bool:
        """The thread is alive and no stop was asked of it."""
        return self._working()

    def _working(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not (self._stop and self._stop.is_set())

    def subscribe(self, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Count a subscriber in; `loop`: the event loop its socket lives on (None: it has none to publish to)."""
        with self._lock:
            self._subscribe_locked(loop)

    def unsubscribe(self) -> None:
        with self._lock:
            self._unsubscribe_locked()

    def start(self) -> None:
        """Run with or without subscribers until stop()."""
        with self._lock:
            self._always = True
            if not self._working():
                self._start_locked()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to `timeout` for it to end."""
        with self._lock:
            thread = self._thread
            self._stop_locked()
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            self._always = False
            if self._thread is thread:
                self._thread = None

    def ask_stop(self) -> None:
        """Ask the thread to end whatever the count, and never wait for it (this may run on the sockets' loop):
        threads() lists it until it has ended."""
        with self._lock:
            self._always = False
            self._stop_locked()

    def join(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def threads(self) -> list[threading.Thread]:
        """The live threads of this worker: its own and its companions (leak checks)."""
        return [thread for thread in (self._thread, *self._companions) if thread is not None and thread.is_alive()]

    def start_companion(self, target: Callable[[threading.Event], None], *, name: str) -> None:
        """From on_start: another thread of this run, handed the same stop event."""
        assert self._stop is not None, "called from on_start"
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        self._companions.append(thread)
        thread.start()

    # --- for subclasses, with self._lock held -------------------------------------------------------------
    def _subscribe_locked(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._subscribers += 1
        self._loop = loop
        started = not self._working()
        if started:
            self._start_locked()
        self.on_subscribe(loop, started=started)

    def _unsubscribe_locked(self) -> None:
        self._subscribers = max(0, self._subscribers - 1)
        if not self._subscribers and not self._always:
            self._stop_locked()

    def _start_locked(self) -> None:
        stop = self._stop = threading.Event()
        self._companions = []
        self.on_start()
        self._thread = threading.Thread(target=self._run, args=(stop,), name=self.thread_name, daemon=True)
        self._thread.start()

    def _stop_locked(self) -> None:
        if self._stop is not None and not self._stop.is_set():
            self._stop.set()
            self.on_stopping()

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if self.perform_work(stop) is False:
                    return
        finally:
            self.on_stop()

    # --- hooks --------------------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Called with the lock held, before the thread starts."""

    def on_subscribe(self, loop: asyncio.AbstractEventLoop | None, *, started: bool) -> None:
        """Called with the lock held once a subscriber is counted in; `started`: it started the thread (on_start
        ran just before)."""

    def perform_work(self, stop: threading.Event) -> bool | None:
        """One round, waiting included (on `stop`, so a stop ends the wait); False ends the thread."""
        raise NotImplementedError

    def on_stopping(self) -> None:
        """Called with the lock held when a stop is asked: wake the thread, close what it reads."""

    def on_stop(self) -> None:
        """Called in the thread as it ends."""


W = TypeVar("W", bound=Worker)


class KeyedWorkers(Generic[W]):
    """Workers that run once, kept by container id: at most one live worker a container.

    A worker started for a container replaces the one there (ended by itself), which is retired: asked to stop
    (never waiting: this may run on the sockets' loop) and listed by threads() until its threads have ended. A
    subclass decides when a container gets a worker and guards its own state with the same lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[str, W] = {}
        self._retired: list[W] = []

    def threads(self) -> list[threading.Thread]:
        """Live worker threads, including those of workers still winding down."""
        with self._lock:
            workers = [*self._workers.values(), *self._retired]
        return [thread for worker in workers for thread in worker.threads()]

    # --- for subclasses, with self._lock held -------------------------------------------------------------
    def _start_locked(self, container_id: str, worker: W) -> W:
        """Start `worker` as this container's; the one it replaces (ended by itself) is retired."""
        if (old := self._workers.get(container_id)) is not None:
            self._retire_locked(old)
        worker.start()  # under the lock: whoever finds a worker here finds it started
        self._workers[container_id] = worker
        return worker

    def _forget_locked(self, container_id: str, worker: W) -> None:
        """A worker ending by itself leaves: its container has none until the next start."""
        if self._workers.get(container_id) is worker:
            del self._workers[container_id]

    def _retire_locked(self, worker: W) -> None:
        worker.ask_stop()
        self._retired = [old for old in self._retired if old.threads()] + [worker]


class PerContainer(KeyedWorkers[W]):
    """KeyedWorkers counted by subscriber: the keyed variant of Worker's subscriber count.

    The first subscriber of a container starts its worker (made by `create`), the last one's leaving retires it.
    A worker that ended by itself is replaced by a new one for the next subscriber, and the container's count
    carries over to it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[str, int] = {}

    def create(self, *, container_id: str, loop: asyncio.AbstractEventLoop) -> W:
        """A new worker for this container, not started yet; `loop`: its first subscriber's."""
        raise NotImplementedError

    def subscribe(self, *, container_id: str, loop: asyncio.AbstractEventLoop) -> W:
        with self._lock:
            worker = self._workers.get(container_id)
            if worker is None or not worker.running:
                worker = self._start_locked(container_id, self.create(container_id=container_id, loop=loop))
            self._counts[container_id] = self._counts.get(container_id, 0) + 1
            return worker

    def unsubscribe(self, *, container_id: str) -> None:
        with self._lock:
            count = self._counts.get(container_id, 0) - 1
            if count > 0:
                self._counts[container_id] = count
            elif container_id in self._counts:
                del self._counts[container_id]
                if (worker := self._workers.pop(container_id, None)) is not None:
                    self._retire_locked(worker)

    def subscribers(self, container_id: str) -> int:
        with self._lock:
            return self._counts.get(container_id, 0)
