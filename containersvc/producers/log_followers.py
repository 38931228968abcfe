"""Log followers: one engine follow per container, shared by every socket watching that container.

A follower starts with its first subscriber and is stopped (stream closed, threads ended) when the last one
leaves. Its reader thread keeps the recent lines (what a new viewer is shown first) and queues new ones; its
publisher thread sends them in numbered batches, at most BATCH_SECONDS apart or BATCH_LINES long, so a log
line is never a channel-layer message of its own. Both buffers are bounded: what overflows is counted and
reported as dropped.

A follower is a Worker (producers/worker.py) that runs once: its thread publishes, its companion reads the
follow, and a stop wakes both by closing the stream read. One follow, one `generation` that viewers tell
batches apart by: an ended follower is replaced by a new one, and the count of a container's viewers, kept
by LogFollowers (a PerContainer), carries over to the new follower. Its stop never blocks, since it is
called on the sockets' loop.
"""

import asyncio
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from containersvc import engine
from containersvc.engine import LogFollow, LogLine
from containersvc.errors import ContainerSvcError
from containersvc.producers import groups
from containersvc.producers.log_history import lines_after
from containersvc.producers.publish import Publisher
from containersvc.producers.worker import PerContainer, Worker
from containersvc.services.logs import RepeatFilter

logger = logging.getLogger(__name__)

RECENT_LINES = 1000  # the most a viewer can ask to be shown first
INITIAL_TAIL = RECENT_LINES
BATCH_SECONDS = 0.05
BATCH_LINES = 300
PENDING_LINES = 20_000
LINE_MAX_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class Snapshot:
    lines: list[tuple[int, LogLine]]  # (line number within this follower, line)
    last: int  # the number of the newest line the follower had: later batches start after it
    gap: bool  # lines the viewer asked for were already pushed out of the recent window
    end: groups.LinePosition | None  # where that newest line stands (None: the follower has no line yet)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a line read elsewhere (a socket's read of the past) stands in this follower's lines."""

    number: int | None  # its number here; None when not among the recent lines
    behind: bool  # not read here yet: the follower has not reached it (ask again shortly)


class LogFollower(Worker):
    """Started once by LogFollowers (start()) and stopped once (ask_stop()): it is never restarted."""

    def __init__(self, *, container_id: str, publisher: Publisher) -> None:
        super().__init__()
        self.container_id = container_id
        self.thread_name = f"log-publisher-{container_id[:12]}"
        self.group = groups.container_logs_group(container_id)
        self.generation = secrets.token_hex(4)
        self.ready = threading.Event()
        self.finished = threading.Event()
        self.error = ""
        self._publisher = publisher
        self._recent: deque[tuple[int, LogLine]] = deque(maxlen=RECENT_LINES)
        self._lines_waiting = threading.Condition(self._lock)
        self._pending: list[tuple[int, LogLine]] = []  # read, not published yet
        self._line_no = 0
        self._repeats = RepeatFilter()
        self._dropped = 0
        self._follow: LogFollow | None = None
        self._reader_done = threading.Event()
        self._seq = 0  # the number of the last batch published

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    # --- lifecycle (see Worker) ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self.start_companion(self._read, name=f"log-reader-{self.container_id[:12]}")

    def on_stopping(self) -> None:
        """Never blocks: closing the follow wakes the reader, the publisher sees the stop within a tick."""
        if self._follow is not None:
            self._follow.close()

    def on_stop(self) -> None:
        self.ask_stop()  # ended by itself: the reader ends too
        self.finished.set()

    def snapshot(self, *, tail: int, since_ns: int = 0, after: int | None = None) -> Snapshot:
        """The last `tail` recent lines; resuming, those after line `after` of this follower (exact) or
        newer than since_ns (another follower's lines: by timestamp)."""
        with self._lock:
            recent, last = list(self._recent), self._line_no
        end = groups.LinePosition.of(recent[-1][1]) if recent else None
        if after is not None:
            newer = [item for item in recent if item[0] > after]
            gap = bool(newer) and newer[0][0] > after + 1
            return Snapshot(lines=newer, last=last, gap=gap, end=end)
        newer = [item for item in recent if item[1].timestamp_ns > since_ns]
        gap = bool(since_ns) and len(recent) == RECENT_LINES and len(newer) == len(recent)
        return Snapshot(lines=newer[-tail:] if tail else [], last=last, gap=gap, end=end)

    def place(self, position: groups.LinePosition) -> Place:
        """The number of the line at `position` among the recent lines (at most RECENT_LINES to look through);
        `behind` when the follower has not read that far yet (its newest line is older, its follow goes on)."""
        with self._lock:
            for number, recent in reversed(self._recent):
                if recent.timestamp_ns == position.timestamp_ns and recent.stream == position.stream:
                    return Place(number=number, behind=False)
            newest = self._recent[-1][1].timestamp_ns if self._recent else -1
        return Place(number=None, behind=newest < position.timestamp_ns and not self._reader_done.is_set())

    # --- reader -------------------------------------------------------------------------------------------
    def _read(self, stop: threading.Event) -> None:
        follow = None
        try:
            opened_ns = time.time_ns()
            initial = list(engine.container_logs(container_id=self.container_id, tail=INITIAL_TAIL))
            with self._lock:
                for line in initial:
                    if not self._repeats.repeated(line):
                        self._line_no += 1
                        self._recent.append((self._line_no, line))
            self.ready.set()
            # Follow from just after the last line read (or the moment of reading): nothing lost, nothing twice.
            boundary = groups.LinePosition.of(initial[-1]) if initial else None
            since_ns = boundary.timestamp_ns if boundary else opened_ns
            follow = engine.log_follow_open(container_id=self.container_id, since_ns=since_ns, tail=None)
            with self._lock:
                self._follow = follow
            if stop.is_set():
                follow.close()
            for line in follow.lines() if boundary is None else lines_after(follow.lines(), boundary):
                if not self._repeats.repeated(line):
                    self._accept(line)
        except ContainerSvcError as error:
            self.error = error.message
        finally:
            if follow is not None:
                follow.release()
            self.ready.set()
            with self._lock:
                self._reader_done.set()
                self._lines_waiting.notify()

    def _accept(self, line: LogLine) -> None:
        with self._lock:
            self._line_no += 1
            item = (self._line_no, line)
            self._recent.append(item)
            if len(self._pending) >= PENDING_LINES:
                self._dropped += 1
                return
            self._pending.append(item)
            if len(self._pending) in (1, BATCH_LINES):  # the publisher waits for the first line, then for a batch
                self._lines_waiting.notify()

    # --- publisher ----------------------------------------------------------------------------------------
    def perform_work(self, stop: threading.Event) -> bool:
        """One batch, or the end of the follow (False: the thread ends)."""
        batch, dropped, ended = self._next_batch()
        if batch or dropped:
            self._seq += 1
            lines = groups.encoded_lines(batch, LINE_MAX_CHARS)
            event = groups.log_batch_event(
                container_id=self.container_id, generation=self.generation, seq=self._seq, lines=lines, dropped=dropped
            )
            return self._publisher.send(self.group, event, stop=stop)
        if ended:
            if not stop.is_set():
                event = groups.log_ended_event(
                    container_id=self.container_id, generation=self.generation, error=self.error
                )
                self._publisher.send(self.group, event, stop=stop)
            return False
        return True

    def _next_batch(self) -> tuple[list[tuple[int, LogLine]], int, bool]:
        """(lines, dropped, ended): waits up to BATCH_SECONDS for a first line, then up to BATCH_SECONDS more
        (from that line) for a full batch; `ended` once the reader is done and everything was taken."""
        with self._lines_waiting:
            if not self._pending:
                self._lines_waiting.wait(BATCH_SECONDS)
            if self._pending:
                deadline = time.monotonic() + BATCH_SECONDS
                while len(self._pending) < BATCH_LINES and not self._reader_done.is_set() and not self.stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._lines_waiting.wait(remaining)
            batch, self._pending = self._pending[:BATCH_LINES], self._pending[BATCH_LINES:]
            dropped, self._dropped = self._dropped, 0
            ended = not batch and not dropped and self._reader_done.is_set()
        return batch, dropped, ended


class LogFollowers(PerContainer[LogFollower]):
    """The followers of this process, by container id, counted by subscriber (see PerContainer)."""

    def create(self, *, container_id: str, loop: asyncio.AbstractEventLoop) -> LogFollower:
        return LogFollower(container_id=container_id, publisher=Publisher(loop))


followers = LogFollowers()
