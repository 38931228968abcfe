"""Durable logs: a capture follower per running managed container stores its lines as they come.

Each follower reads one engine log follow from the stored cursor and hands lines to services/logs.py in
batches: a full chunk at once, or whatever waited CONTAINERSVC_LOG_CAPTURE_FLUSH_SECONDS (a shared ticker
flushes quiet followers), never a write per line. A follow ends when the container stops, when the engine
goes away, or when the engine closes it; the follower then stores what it read, looks at the container
and either ends (stopped: one last read from the cursor drains it; removed) or follows again from the
cursor with backoff (still running, engine unreachable). Resuming from the cursor is exact, so a restart
of the engine or of the service loses and repeats nothing.

The engine's json-file follow (dockerd 20.10) silently skips whatever its log rotates past while the reader
is behind, where a read from a `since` is exact. So a follower that falls behind the live output (its
newest line FOLLOW_LAG_LIMIT_SECONDS old), or sees a stream step back (the engine reopened a file), follows
again from the cursor at once: lines rotated away meanwhile are then marked as a gap, never lost silently.

Followers start for the running managed containers of this node when capture starts, and when the
events follower reports such a container starting or the event stream reopening after a gap.

The node's processes elect one capturing process (producers/leases.py, role "logs"). Two would store no line
twice (a line is stored under its stream's cursor lock, gap markers too) but would follow every container
twice and enforce the node's retention at once; so the stand-bys follow nothing, and their logs requests
read from the cursor as a process without producers does. A process taking the lease scans at once; one
losing it stops its followers (each stores what it read).
"""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection

from containersvc import engine, labels
from containersvc.engine import ContainerDetails, EngineEvent, LogFollow
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.models import Container, ContainerState
from containersvc.producers.connections import refresh_connections
from containersvc.producers.engine_away import AWAY_ERRORS, engine_away
from containersvc.producers.leases import Lease
from containersvc.producers.worker import KeyedWorkers, Worker
from containersvc.services import logs, mirror

logger = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.25
# Well within one rotation of a flooding container's log: `yes` writes some 50 MB/s to json-file.
FOLLOW_LAG_LIMIT_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 10.0
TICK_SECONDS = 0.1
SCAN_RETRY_SECONDS = 1.0
START_ACTIONS = frozenset({"start", "restart", "unpause"})
LIVE_STATES = frozenset({ContainerState.RUNNING, ContainerState.RESTARTING, ContainerState.PAUSED})


class CaptureFollower(Worker):
    """Captures one container until it stops; thread-safe flush() so the ticker can store quiet lines. A Worker
    that runs once: started by LogCapture (start()), ended by ask_stop() or when its container is done."""

    def __init__(self, *, container_id: str, manager: "LogCapture") -> None:
        super().__init__()  # its lock guards the pending lines and the follow
        self.container_id = container_id
        self.thread_name = f"log-capture-{container_id[:12]}"
        self._manager = manager
        self._wake = threading.Event()
        self._store_lock = threading.Lock()  # one store at a time, in read order: the cursor only moves on
        self._pending: list[logs.PlacedLine] = []
        self._pending_since = 0.0
        self._follow: LogFollow | None = None
        self._row: Container | None = None
        self._bytes_since_retention = 0
        self._behind = False  # the last follow ended behind the engine's live output: follow again at once
        self._backoff = BACKOFF_MIN_SECONDS
        self._chunk_lines = settings.CONTAINERSVC_LOG_CHUNK_LINES  # read once: a settings lookup per line costs

    # --- control (any thread) -----------------------------------------------------------------------------
    def on_stopping(self) -> None:
        self._wake.set()
        if self._follow is not None:
            self._follow.close()

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def wake(self) -> None:
        """Retry now rather than at the end of the backoff (the engine is back, or the container started)."""
        self._wake.set()

    def is_due(self, now: float) -> bool:
        with self._lock:
            return bool(self._pending) and now - self._pending_since >= settings.CONTAINERSVC_LOG_CAPTURE_FLUSH_SECONDS

    def flush(self) -> int:
        """Store what is pending; the store lock keeps batches in the order they were read."""
        with self._store_lock:
            if self._row is None:
                return 0  # nothing was read yet: lines are read only once the row is known
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                stored = logs.logs_store_placed(container=self._row, lines=batch)
            except DatabaseError:
                with self._lock:
                    self._pending = batch + self._pending  # kept for the next flush: nothing is lost
                raise
            self._bytes_since_retention += sum(len(placed.line.text) for placed in batch)
            if self._bytes_since_retention > settings.CONTAINERSVC_LOG_RETENTION_CONTAINER_BYTES // 8:
                self._bytes_since_retention = 0
                logs.logs_enforce_retention(container=self._row)
            return stored

    # --- the follower thread ------------------------------------------------------------------------------
    def perform_work(self, stop: threading.Event) -> bool:
        """One follow; False when the container is done (the thread ends), else the backoff before the next."""
        try:
            if self._follow_once() and self._manager.retire(self):
                return False
            self._backoff = BACKOFF_MIN_SECONDS
            if self._behind:
                self._behind = False
                return True  # from the cursor at once: the engine rotates on meanwhile
        except AWAY_ERRORS as error:
            engine_away.away(error)
        except ContainerSvcError as error:
            logger.info("log capture of %s: %s", self.container_id[:12], error.message)
        except DatabaseError:
            logger.warning("log capture of %s could not store", self.container_id[:12], exc_info=True)
        except Exception:
            # Whatever broke one follow, the next resumes from the cursor: log it, never stop capturing.
            logger.exception("log capture of %s failed; it resumes", self.container_id[:12])
        # Either the engine is away or the container is still live after its follow ended: wait, retry.
        self._wake.wait(self._backoff)
        self._wake.clear()
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_SECONDS)
        refresh_connections()
        return True

    def on_stop(self) -> None:
        try:
            self._manager.retire(self, force=True)
        finally:
            connection.close()

    def _follow_once(self) -> bool:
        """Follow from the cursor until the follow ends; True when the container is done (stopped or gone)."""
        try:
            row = self._row = self._row or _container_row(self.container_id)
            since_ns = logs.logs_resume_point(container=row)
            gaps = logs.logs_gap_check(container=row)
            opened_ns = time.time_ns()  # before the engine opens its files: older lines are in its exact read
            follow = engine.log_follow_open(container_id=self.container_id, since_ns=since_ns, tail=None)
        except NotFound:
            return True
        engine_away.back()
        with self._lock:
            self._follow = follow
        placer = logs.LinePlacer()
        reached: dict[str, tuple[int, int]] = {}  # each stream's newest position
        lag_limit_ns = int(FOLLOW_LAG_LIMIT_SECONDS * 1e9)
        try:
            if self._stopping():
                follow.close()
            for line in follow.lines():
                if (placed := placer.place(line)) is None:
                    continue
                stepped_back = placed.position < reached.get(line.stream, (0, 0))
                live = line.timestamp_ns >= opened_ns
                if stepped_back or (live and time.time_ns() - line.timestamp_ns > lag_limit_ns):
                    self._behind = True
                    break
                reached[line.stream] = placed.position
                self._add(gaps.see(placed))
        finally:
            with self._lock:
                self._follow = None
            follow.release()
            self.flush()
        if self._stopping() or self._behind:
            return False
        return self._container_done(row)

    def _add(self, placed: logs.PlacedLine) -> None:
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(placed)
            full = len(self._pending) >= self._chunk_lines
        if full:
            self.flush()  # in the reader: a busy container waits for its own writes, memory stays bounded

    def _container_done(self, row: Container) -> bool:
        try:
            details = engine.container_inspect(container_id=self.container_id)
        except NotFound:
            return True
        if details.summary.state in LIVE_STATES:
            return False
        # Stopped: the follow has ended after the last line; one more read from the cursor makes sure.
        _drain(row, details)
        return True


def _container_row(container_id: str) -> Container:
    row = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id).first()
    if row is None:
        row = mirror.mirror_record_details(details=engine.container_inspect(container_id=container_id))
    return row


def _finished_ns(details: ContainerDetails) -> int:
    """When the container last stopped, in ns; 0 for never (the engine's zero time is year 1)."""
    try:
        return max(0, engine.timestamp_ns(str(details.raw_state.get("FinishedAt") or "")))
    except ValueError:
        return 0


def _drain(row: Container, details: ContainerDetails) -> None:
    """Store the rest of a stopped container's output, then note that nothing before its exit is missing."""
    logs.logs_capture(container=row)
    if finished_ns := _finished_ns(details):
        logs.logs_mark_drained(container=row, through_ns=finished_ns)


def _drain_if_behind(container_id: str) -> None:
    """A managed container that stopped while nobody captured (the service was down): store what it left."""
    details = engine.container_inspect(container_id=container_id)
    if details.summary.state in LIVE_STATES:
        return  # started meanwhile: its start event brings a follower
    row = _container_row(container_id)
    if logs.logs_behind(container=row, through_ns=_finished_ns(details)):
        _drain(row, details)


def _is_ours(attributes: dict[str, str]) -> bool:
    return labels.is_managed(attributes) and attributes.get(labels.NODE) == settings.CONTAINERSVC_NODE_ID


class LogCapture(KeyedWorkers[CaptureFollower]):
    """The capture followers of this process, by container id (not counted: a follower runs while its container
    does), and the ticker that flushes quiet ones."""

    def __init__(self) -> None:
        super().__init__()
        self._again: set[str] = set()  # started again while its follower was deciding to end
        self._stop = threading.Event()
        self._rescan = threading.Event()
        self._ticker: threading.Thread | None = None
        self._drainer: threading.Thread | None = None
        self.lease = Lease("logs")
        self._capturing = False  # the ticker's view of the lease: it scans when taken, stops followers when lost

    def start(self) -> None:
        with self._lock:
            if self._ticker is not None and self._ticker.is_alive():
                return
            self.lease.start()
            self._capturing = False
            self._stop = threading.Event()
            self._ticker = threading.Thread(target=self._tick, args=(self._stop,), name="log-capture", daemon=True)
            self._rescan.set()  # the running containers are listed by the ticker, not in the caller's thread
            self._ticker.start()

    def stop(self, *, timeout: float = 10) -> None:
        """End every follower after it stored what it read (tests; a process ending needs nothing)."""
        with self._lock:
            self._stop.set()
            followers = list(self._workers.values())
            others = [thread for thread in (self._ticker, self._drainer) if thread is not None]
        for follower in followers:
            follower.ask_stop()
        deadline = time.monotonic() + timeout
        for follower in followers:
            follower.join(max(0.0, deadline - time.monotonic()))
        for thread in others:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.lease.stop(max(0.0, deadline - time.monotonic()))  # after the followers stored what they read

    def ensure(self, *, container_id: str) -> None:
        """Capture this container: start a follower, or tell the running one it must not end yet."""
        with self._lock:
            if self._stop.is_set() or not self.lease.held:
                return
            follower = self._workers.get(container_id)
            if follower is not None:
                self._again.add(container_id)
                follower.wake()
                return
            # Under the lock: stop() joins every follower it finds, so each must be started.
            self._start_locked(container_id, CaptureFollower(container_id=container_id, manager=self))

    def retire(self, follower: CaptureFollower, *, force: bool = False) -> bool:
        """A follower found its container done: it ends unless the container started again meanwhile."""
        with self._lock:
            if not force and follower.container_id in self._again and not self._stop.is_set():
                self._again.discard(follower.container_id)
                return False
            self._forget_locked(follower.container_id, follower)
            self._again.discard(follower.container_id)
            return True

    def following(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def flush_if_followed(self, container_id: str) -> bool:
        """Store what this container's follower has read so far; False when no follower here captures it."""
        with self._lock:
            follower = self._workers.get(container_id)
        if follower is None:
            return False
        follower.flush()
        return True

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            others = [thread for thread in (self._ticker, self._drainer) if thread is not None]
        return super().threads() + [thread for thread in others if thread.is_alive()]

    def on_engine_event(self, event: EngineEvent | None) -> None:
        """The events follower's listener: None when its stream (re)opened, so anything may have started."""
        if event is None:
            self._rescan.set()
            with self._lock:
                followers = list(self._workers.values())
            for follower in followers:
                follower.wake()
        elif event.action in START_ACTIONS and _is_ours(event.attributes):
            self.ensure(container_id=event.container_id)

    # --- the ticker ---------------------------------------------------------------------------------------
    def _tick(self, stop: threading.Event) -> None:
        next_retention = time.monotonic() + settings.CONTAINERSVC_LOG_RETENTION_CHECK_SECONDS
        next_scan = 0.0
        try:
            while not stop.wait(TICK_SECONDS):
                now = time.monotonic()
                if not self._follow_the_lease():
                    continue
                if self._rescan.is_set() and now >= next_scan and not self._scan():
                    next_scan = now + SCAN_RETRY_SECONDS
                with self._lock:
                    due = [follower for follower in self._workers.values() if follower.is_due(now)]
                for follower in due:
                    self._quietly(follower.flush)
                if now >= next_retention:
                    next_retention = now + settings.CONTAINERSVC_LOG_RETENTION_CHECK_SECONDS
                    self._quietly(logs.logs_enforce_retention)
                refresh_connections()
        finally:
            connection.close()

    def _follow_the_lease(self) -> bool:
        """Whether this process captures now; on taking the lease scan at once, on losing it stop following."""
        held = self.lease.held
        if held and not self._capturing:
            self._rescan.set()
        elif not held and self._capturing:
            with self._lock:
                followers = list(self._workers.values())
            for follower in followers:
                follower.ask_stop()
        self._capturing = held
        return held

    def _scan(self) -> bool:
        """Follow every running managed container of this node and drain the stopped ones that are behind
        (at start, and after a gap in events: they may have printed and stopped while nobody captured)."""
        if self._drainer is not None and self._drainer.is_alive():
            return False  # the last scan's drain is still going: scan again after it
        try:
            managed = engine.container_list(labels={labels.MANAGED: "true", labels.NODE: settings.CONTAINERSVC_NODE_ID})
        except AWAY_ERRORS as error:
            engine_away.away(error)
            return False  # the flag stays set: tried again a little later
        except ContainerSvcError as error:
            logger.info("log capture could not list containers: %s", error.message)
            return False
        engine_away.back()
        self._rescan.clear()
        stopped = []
        for found in managed:
            if found.state in LIVE_STATES:
                self.ensure(container_id=found.id)
            else:
                stopped.append(found.id)
        if stopped:
            # In a thread of its own: one inspect each, and the ticker must go on flushing meanwhile.
            drainer = threading.Thread(
                target=self._drain_stopped, args=(stopped,), name="log-capture-drain", daemon=True
            )
            drainer.start()
            self._drainer = drainer  # started before stop() can see it to join it
        return True

    def _drain_stopped(self, container_ids: list[str]) -> None:
        try:
            for container_id in container_ids:
                if self._stop.is_set():
                    return
                if container_id in self.following():
                    continue  # its follower drains it
                try:
                    _drain_if_behind(container_id)
                except NotFound:
                    continue
                except ContainerSvcError as error:
                    logger.info("log capture could not drain stopped containers: %s", error.message)
                    self._rescan.set()  # tried again with the next scan
                    return
                except DatabaseError:
                    logger.warning("log capture could not store", exc_info=True)
        finally:
            connection.close()

    @staticmethod
    def _quietly(operation) -> None:
        try:
            operation()
        except DatabaseError:
            logger.warning("log capture could not store", exc_info=True)


capture = LogCapture()
