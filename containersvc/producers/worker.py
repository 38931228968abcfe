"""The producers' shared lifecycle: one background thread, started by the first subscriber, stopped after the last.

A subclass names its thread and implements `perform_work(stop)` (one round, its own waiting included); the
hooks `on_start` (before the thread starts), `on_stopping` (when a stop is asked: wake the thread, close the
stream it reads) and `on_stop` (in the thread, as it ends) are optional. `start()` keeps the thread running
with nobody subscribed (the always-on producers); `stop()` ends it whatever the count. A producer that reads
a stream beside its work starts that reader from `on_start` with `start_companion`: it gets the same stop.
"""

import threading
from collections.abc import Callable


class Worker:
    thread_name = "worker"

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the count and the thread; subclasses guard their state with it too
        self._subscribers = 0
        self._always = False
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._companions: list[threading.Thread] = []

    @property
    def subscribers(self) -> int:
        return self._subscribers

    @property
    def running(self) -> bool:
        """The thread is alive and no stop was asked of it."""
        return self._working()

    def _working(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not (self._stop and self._stop.is_set())

    def subscribe(self) -> None:
        with self._lock:
            self._subscribe_locked()

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
    def _subscribe_locked(self) -> None:
        self._subscribers += 1
        if not self._working():
            self._start_locked()

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

    def perform_work(self, stop: threading.Event) -> bool | None:
        """One round, waiting included (on `stop`, so a stop ends the wait); False ends the thread."""
        raise NotImplementedError

    def on_stopping(self) -> None:
        """Called with the lock held when a stop is asked: wake the thread, close what it reads."""

    def on_stop(self) -> None:
        """Called in the thread as it ends."""
