"""The container-status producer: follows the engine's container events, keeps the mirror in step and
publishes batched `container.status` events while at least one socket watches.

Events only name a container; what it is now comes from one inspect per changed container per batch, so a
storm of events for one container costs one inspect. After any gap in the stream (engine restart, broken
connection) the engine's 256-event replay is not enough: the producer lists everything and reconciles.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

from containersvc import engine
from containersvc.engine import EngineEvent, EventStream
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.models import Container, ContainerState
from containersvc.producers import groups
from containersvc.producers.connections import refresh_connections
from containersvc.producers.engine_away import AWAY_ERRORS, engine_away
from containersvc.producers.publish import Publisher
from containersvc.producers.worker import Worker
from containersvc.services import containers, mirror

logger = logging.getLogger(__name__)

BATCH_SECONDS = 0.2
BACKOFF_MIN_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
MAX_PENDING_CONTAINERS = 2000  # beyond this a full reconcile is cheaper than one inspect each
ENDED = {ContainerState.EXITED, ContainerState.DEAD}  # how a container ended only its inspect tells
# Actions after which a container's state may differ; exec and attach events change nothing we show.
STATE_ACTIONS = frozenset(
    {"create", "start", "restart", "die", "stop", "kill", "pause", "unpause", "rename", "update", "oom", "destroy"}
)


# Told of each state-changing event, and None when the stream (re)opens after a gap; must not block.
EventListener = Callable[[EngineEvent | None], None]


class _NobodyWatching:
    """The publisher while no socket is subscribed: the mirror is kept all the same, nothing is sent."""

    def send(self, group: str, event: dict, *, stop: threading.Event | None = None) -> bool:
        return True


def _changes_state(action: str) -> bool:
    return action in STATE_ACTIONS or action.startswith("health_status")


@dataclass
class _Pending:
    """What the event reader found and the worker has not handled yet; bounded."""

    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    reconcile: bool = False
    engine_error: str | None = None


class ContainerStatusProducer(Worker):
    """One per process; subscribe() at socket connect, unsubscribe() at disconnect (see Worker). Its thread
    handles batches; the event reader is its companion thread."""

    thread_name = "container-status"

    def __init__(self) -> None:
        super().__init__()
        self._stream: EventStream | None = None
        self._pending = _Pending()
        self._publisher: Publisher | _NobodyWatching | None = None
        self._listeners: list[EventListener] = []

    # --- lifecycle ----------------------------------------------------------------------------------------
    def subscribe(self, *, loop: asyncio.AbstractEventLoop | None = None, reconcile: bool = True) -> None:
        """Count a subscriber in (see Worker); with `reconcile` the next batch is the full list (a new socket
        needs it; a run's first batch is anyway)."""
        with self._lock:
            self._subscribe_locked(loop)
            if reconcile:
                self._pending.reconcile = True

    def on_subscribe(self, loop: asyncio.AbstractEventLoop | None, *, started: bool) -> None:
        if started:
            self._publisher = Publisher(loop) if loop is not None else _NobodyWatching()
        # A publisher bound to another loop serves sockets that are gone (tests run one loop each).
        elif loop is not None and (not isinstance(self._publisher, Publisher) or self._publisher.loop is not loop):
            self._publisher = Publisher(loop)

    def unsubscribe(self) -> None:
        with self._lock:
            self._unsubscribe_locked()
            if not self._subscribers and self._always:
                self._publisher = _NobodyWatching()

    def run_always(self) -> None:
        """Follow events from now on whether or not sockets watch: the mirror and log capture rely on it."""
        self.start()

    def stop_always(self) -> None:
        """Undo run_always() (tests; a process ending needs nothing): stops unless sockets still watch."""
        with self._lock:
            self._always = False
            if not self._subscribers:
                self._stop_locked()

    def reconnect(self) -> None:
        """Drop the event stream: the reader opens another and reconciles, as after an engine restart."""
        with self._lock:
            if self._stream is not None:
                self._stream.close()

    @property
    def reconcile_pending(self) -> bool:
        """The next batch is a full list (the stream just opened, or a gap was met) not taken up yet."""
        with self._lock:
            return self._pending.reconcile

    def add_listener(self, listener: EventListener) -> None:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _tell_listeners(self, event: EngineEvent | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                # A listener's bug must not end the event stream that keeps the mirror.
                logger.exception("container event listener failed")

    def on_start(self) -> None:
        self._pending = _Pending(reconcile=True)
        self._publisher = _NobodyWatching()  # until a subscriber's loop (on_subscribe)
        self.start_companion(self._read_events, name="container-events")

    def on_stopping(self) -> None:
        if self._stream is not None:
            self._stream.close()

    # --- the event reader ---------------------------------------------------------------------------------
    def _read_events(self, stop: threading.Event) -> None:
        backoff = BACKOFF_MIN_SECONDS
        while not stop.is_set():
            try:
                stream = engine.events_open()
                with self._lock:
                    self._stream = stream
                    if stop.is_set():
                        stream.close()
                engine_away.back()
                # Opened before listing: a change made while the list is taken still arrives as an event.
                self._note(reconcile=True)
                self._tell_listeners(None)
                backoff = BACKOFF_MIN_SECONDS
                for event in stream:
                    if _changes_state(event.action):
                        self._note(container_id=event.container_id, removed=event.action == "destroy")
                        self._tell_listeners(event)
            except ContainerSvcError as error:
                if isinstance(error, AWAY_ERRORS):
                    engine_away.away(error)
                self._note(engine_error=error.message)
            if stop.wait(backoff):
                break
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def _note(
        self,
        *,
        container_id: str = "",
        removed: bool = False,
        reconcile: bool = False,
        engine_error: str | None = None,
    ) -> None:
        with self._lock:
            pending = self._pending
            if reconcile:
                pending.reconcile = True
            if engine_error is not None:
                pending.engine_error = engine_error
            if container_id and not pending.reconcile:
                (pending.removed if removed else pending.changed).add(container_id)
                if len(pending.changed) + len(pending.removed) > MAX_PENDING_CONTAINERS:
                    pending.changed.clear()
                    pending.removed.clear()
                    pending.reconcile = True

    # --- the worker: inspect, mirror, publish --------------------------------------------------------------
    def perform_work(self, stop: threading.Event) -> bool:
        if stop.wait(BATCH_SECONDS):
            return False
        with self._lock:
            pending, self._pending = self._pending, _Pending()
        if not self._handle(pending, stop) and not self._keep_going():
            with self._lock:
                self._stop_locked()  # the reader ends with the worker
            return False
        refresh_connections()
        return True

    def on_stop(self) -> None:
        connection.close()

    def _keep_going(self) -> bool:
        """Publishing failed (the sockets' loop is gone): an always-on producer goes on without sockets."""
        with self._lock:
            if self._always:
                self._publisher = _NobodyWatching()
            return self._always

    def _handle(self, pending: _Pending, stop: threading.Event) -> bool:
        publisher = self._publisher
        if publisher is None:
            return False

        def send(event: dict) -> bool:
            return publisher.send(groups.containers_group(), event, stop=stop)

        if pending.engine_error is not None and not pending.reconcile:
            return send(groups.engine_status_event(available=False, error=pending.engine_error))
        try:
            if pending.reconcile:
                before = mirror.mirror_states()
                rows = containers.container_list_refresh() or []
                self._inspect_changed(before, rows)
                event = groups.container_status_event(
                    containers=[groups.container_payload(row) for row in rows], full=True
                )
                return send(groups.engine_status_event(available=True)) and send(event)
            if pending.changed or pending.removed:
                return send(self._changes(pending))
        except ContainerSvcError as error:
            self._note(reconcile=True)
            return send(groups.engine_status_event(available=False, error=error.message))
        return True

    def _inspect_changed(self, before: dict[str, str], rows: list[Container]) -> None:
        """A list tells neither OOM kills nor restarts, which only an inspect does: a container whose state changed
        while no event was followed (the service down, the engine away, a full list pending), or that the mirror
        first meets after it ended, is inspected in the next batch, as its events would have had it. (One that
        restarted and runs again is in the same state: its count waits for its next event.)"""
        for row in rows:
            known = before.get(row.container_id)
            if (known is None and row.state in ENDED) or (known is not None and known != row.state):
                self._note(container_id=row.container_id)

    def _changes(self, pending: _Pending) -> dict:
        changed, removed = [], set(pending.removed)
        for container_id in pending.changed - pending.removed:
            try:
                row = mirror.mirror_record_details(details=engine.container_inspect(container_id=container_id))
            except NotFound:
                removed.add(container_id)
                continue
            changed.append(groups.container_payload(row))
        for container_id in removed:
            mirror.mirror_mark_removed(container_id=container_id)
        return groups.container_status_event(containers=changed, removed=sorted(removed))


producer = ContainerStatusProducer()
