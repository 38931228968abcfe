"""Log capture: lines read from the engine are stored in chunks, resuming exactly where the last stopped.

A stored position is (timestamp, ordinal): the engine's nanosecond timestamp of a line and its place among
the lines of its stream carrying that same timestamp. Reading from `since` = the oldest stored timestamp,
every line's position is exact, so "is it stored already?" is one comparison with the stream's cursor.
The comparison is made inside the transaction that stores, against the cursor as it is then, so two
readers of one container (the capture follower and a logs request) never store a line twice.

A read from the cursor also shows whether the engine still has the cursor's own line: when its rotated log
no longer does, lines after it may have gone with it, and a gap marker with that time span is stored.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from containersvc import engine
from containersvc.engine import LogLine
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.models import Container, ContainerState, LogChunk, LogCursor, LogStream

logger = logging.getLogger(__name__)

RETENTION_DELETE_BATCH = 500
DEADLINE_CHECK_LINES = 256
MESSAGE_GAP = (
    "[Container Svc: {stream} lines printed between {start} and {end} may be missing: the engine rotated its "
    "log past them before they were stored]"
)


@dataclass(frozen=True, slots=True)
class PlacedLine:
    """A line and its ordinal among the lines of its stream with the same timestamp (1 = the first)."""

    line: LogLine
    ordinal: int
    gap: tuple[int, int] | None = None  # (after, before) ns: lines of its stream in between may be missing

    @property
    def position(self) -> tuple[int, int]:
        return self.line.timestamp_ns, self.ordinal


class RepeatFilter:
    """The one repeat-line rule: the engine may send a line twice (the one at `since`, the one at a json-file
    rotation, dockerd 20.10) with the very same timestamp; a line equal to the one before it in its stream,
    timestamp included, is that repeat (two lines printed never share a nanosecond timestamp)."""

    def __init__(self) -> None:
        self._last_by_stream: dict[str, tuple[int, str]] = {}

    def repeated(self, line: LogLine) -> bool:
        if self._last_by_stream.get(line.stream) == (line.timestamp_ns, line.text):
            return True
        self._last_by_stream[line.stream] = (line.timestamp_ns, line.text)
        return False


class LinePlacer:
    """Numbers the lines of one engine read, in the engine's order; one placer per read. A repeat
    (RepeatFilter) gets no place."""

    def __init__(self) -> None:
        self._repeats = RepeatFilter()
        self._last: dict[str, tuple[int, int]] = {}  # stream -> (timestamp, ordinal) of its last placed line

    def place(self, line: LogLine) -> PlacedLine | None:
        if self._repeats.repeated(line):
            return None
        timestamp_ns, count = self._last.get(line.stream, (-1, 0))
        ordinal = count + 1 if timestamp_ns == line.timestamp_ns else 1
        self._last[line.stream] = (line.timestamp_ns, ordinal)
        return PlacedLine(line, ordinal)


class GapCheck:
    """Whether one read from the cursors still found each stream's stored line at its cursor.

    The engine sends every line it still has from the read's `since` (at most the cursor) on, so the first line
    of a stream at or beyond its cursor is the cursor's line, unless rotation took it. Then lines of that stream
    may be missing from just after the cursor to the read's first line (the oldest the engine still has): the
    first line beyond carries that span as its gap.
    """

    def __init__(self, cursors: Iterable[LogCursor]) -> None:
        # Only a cursor at a stored line can be checked (a drained stream's cursor holds no line).
        self._open = {
            cursor.stream: (cursor.last_timestamp_ns, cursor.lines_at_last_timestamp)
            for cursor in cursors
            if cursor.last_timestamp_ns and cursor.lines_at_last_timestamp
        }
        self._first_ns: int | None = None

    def see(self, placed: PlacedLine) -> PlacedLine:
        if self._first_ns is None:
            self._first_ns = placed.line.timestamp_ns
        cursor = self._open.get(placed.line.stream)
        if cursor is None or placed.position < cursor:
            return placed
        del self._open[placed.line.stream]
        if placed.position == cursor:
            return placed
        return replace(placed, gap=(cursor[0], self._first_ns))


def logs_gap_check(*, container: Container) -> GapCheck:
    """A gap check for a read starting at logs_resume_point (or at a stream's own cursor)."""
    return GapCheck(LogCursor.objects.filter(container=container))


def _as_datetime(timestamp_ns: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ns / 1e9, tz=UTC)


def _cursors_locked(container: Container) -> dict[str, LogCursor]:
    """The container's cursors, created when missing and locked for the rest of the transaction."""
    cursors = {cursor.stream: cursor for cursor in LogCursor.objects.select_for_update().filter(container=container)}
    for stream in LogStream.values:
        if stream not in cursors:
            LogCursor.objects.get_or_create(container=container, stream=stream)
            cursors[stream] = LogCursor.objects.select_for_update().get(container=container, stream=stream)
    return cursors


def _chunk(container: Container, lines: list[PlacedLine]) -> LogChunk:
    content = "\n".join(placed.line.text for placed in lines)
    return LogChunk(
        container=container,
        stream=lines[0].line.stream,
        content=content,
        line_count=len(lines),
        content_bytes=len(content.encode()),
        first_line_at=_as_datetime(lines[0].line.timestamp_ns),
        last_line_at=_as_datetime(lines[-1].line.timestamp_ns),
    )


def _gap_chunk(container: Container, stream: str, after_ns: int, before_ns: int) -> LogChunk:
    start, end = _as_datetime(after_ns), _as_datetime(before_ns)
    content = MESSAGE_GAP.format(
        stream=stream, start=start.isoformat(timespec="milliseconds"), end=end.isoformat(timespec="milliseconds")
    )
    return LogChunk(
        container=container,
        stream=stream,
        content=content,
        line_count=1,
        content_bytes=len(content.encode()),
        first_line_at=start,
        last_line_at=end,
        gap=True,
    )


def _chunks(container: Container, lines: list[PlacedLine]) -> list[LogChunk]:
    """Consecutive lines of one stream, at most CONTAINERSVC_LOG_CHUNK_LINES each; a gap marker before the
    line that follows a gap."""
    chunks: list[LogChunk] = []
    pending: list[PlacedLine] = []
    most = settings.CONTAINERSVC_LOG_CHUNK_LINES
    for placed in lines:
        if pending and (pending[-1].line.stream != placed.line.stream or len(pending) >= most or placed.gap):
            chunks.append(_chunk(container, pending))
            pending = []
        if placed.gap:
            chunks.append(_gap_chunk(container, placed.line.stream, *placed.gap))
        pending.append(placed)
    if pending:
        chunks.append(_chunk(container, pending))
    return chunks


def logs_resume_point(*, container: Container) -> int:
    """The `since` (ns) to read from so that every line not stored yet comes, with exact ordinals."""
    stamps = [cursor.last_timestamp_ns for cursor in LogCursor.objects.filter(container=container)]
    return min(stamps) if len(stamps) == len(LogStream.values) else 0


def logs_store_placed(*, container: Container, lines: Sequence[PlacedLine]) -> int:
    """Store, in one transaction, the lines of one read beyond the stored ones; returns how many were new."""
    if not lines:
        return 0
    with transaction.atomic():
        cursors = _cursors_locked(container)
        reached = {
            stream: (cursor.last_timestamp_ns, cursor.lines_at_last_timestamp) for stream, cursor in cursors.items()
        }
        new = []
        for placed in lines:
            # Positions only go forward: a line at or before one stored or kept already is a repeat.
            if placed.position > reached[placed.line.stream]:
                if placed.gap and reached[placed.line.stream][0] != placed.gap[0]:
                    placed = replace(placed, gap=None)  # another reader stored lines since the check
                reached[placed.line.stream] = placed.position
                new.append(placed)
        if not new:
            return 0
        LogChunk.objects.bulk_create(_chunks(container, new))
        for stream, cursor in cursors.items():
            last = next((placed for placed in reversed(new) if placed.line.stream == stream), None)
            if last is not None:
                cursor.last_timestamp_ns, cursor.lines_at_last_timestamp = last.position
                cursor.save(update_fields=["last_timestamp_ns", "lines_at_last_timestamp"])
    return len(new)


def logs_store_lines(
    *, container: Container, lines: Iterable[LogLine], gaps: GapCheck | None = None, deadline: float | None = None
) -> int:
    """Store the new lines of one read that started at or before logs_resume_point; returns how many.

    With a deadline (time.monotonic()), reading stops there: what was read is stored, the rest waits for the
    next read from the cursor.
    """
    placer, batch, stored = LinePlacer(), [], 0
    batch_lines = settings.CONTAINERSVC_LOG_CHUNK_LINES * 4
    for count, line in enumerate(lines, 1):
        if (placed := placer.place(line)) is None:
            continue
        batch.append(gaps.see(placed) if gaps is not None else placed)
        if len(batch) >= batch_lines:
            stored += logs_store_placed(container=container, lines=batch)
            batch = []
        if deadline is not None and count % DEADLINE_CHECK_LINES == 0 and time.monotonic() >= deadline:
            break
    return stored + logs_store_placed(container=container, lines=batch)


def logs_capture(*, container: Container, deadline: float | None = None) -> int:
    """Read what the engine has beyond the stored lines and store it; with a deadline (time.monotonic()), only
    what can be read by then (every engine read bounded by it too).

    Each stream is read from its own cursor: a stream that printed nothing (or nothing for long) would
    otherwise have the other read again from there, the whole log for a container that never wrote to stderr.
    """
    if container.state == ContainerState.REMOVED:
        return 0
    cursors = {cursor.stream: cursor for cursor in LogCursor.objects.filter(container=container)}
    stored = 0
    for stream in LogStream.values:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        cursor = cursors.get(stream)
        lines = engine.container_logs(
            container_id=container.container_id,
            since_ns=cursor.last_timestamp_ns if cursor else 0,
            streams=(stream,),
            timeout=remaining,
        )
        try:
            gaps = GapCheck([cursor] if cursor else [])
            stored += logs_store_lines(container=container, lines=lines, gaps=gaps, deadline=deadline)
        except NotFound:
            break
        finally:
            lines.close()  # frees the engine's response when the deadline stopped the read
    return stored


def logs_capture_recent(*, containers: Iterable[Container], followed: Callable[[str], bool]) -> None:
    """Before stored logs are read: store what the engine has beyond them, within
    CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS in all and never longer than the engine timeout. Engine trouble
    leaves the store as it is.

    `followed(container_id)` says the container is captured as it prints (its pending lines just stored):
    it is not read again here, so a flooding container's stored logs answer without waiting on its engine.
    """
    wait = min(settings.CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS, settings.CONTAINERSVC_ENGINE_TIMEOUT)
    deadline = time.monotonic() + wait
    for container in containers:
        if followed(container.container_id):
            continue
        if time.monotonic() >= deadline:
            return
        try:
            logs_capture(container=container, deadline=deadline)
        except ContainerSvcError as error:
            logger.info("stored logs answered without the engine's newest lines: %s", error.message)
            return


def logs_behind(*, container: Container, through_ns: int) -> bool:
    """Whether a stream's stored position is before `through_ns`: a stopped container may have more."""
    cursors = list(LogCursor.objects.filter(container=container))
    return len(cursors) < len(LogStream.values) or any(cursor.last_timestamp_ns < through_ns for cursor in cursors)


def logs_mark_drained(*, container: Container, through_ns: int) -> None:
    """Record that every line before `through_ns` is stored: call after reading a stopped container to its end.

    A stream with no line since then (or ever) moves to (through_ns, 0), so the next resume starts there
    instead of re-reading the whole log for a stream that never printed.
    """
    with transaction.atomic():
        for cursor in _cursors_locked(container).values():
            if cursor.last_timestamp_ns < through_ns:
                cursor.last_timestamp_ns, cursor.lines_at_last_timestamp = through_ns, 0
                cursor.save(update_fields=["last_timestamp_ns", "lines_at_last_timestamp"])


def _delete_oldest(chunks, *, limit_bytes: int) -> int:
    """Delete the oldest of these chunks until they hold at most limit_bytes; returns how many went."""
    total = chunks.aggregate(total=Sum("content_bytes"))["total"] or 0
    excess, freed, doomed = total - limit_bytes, 0, []
    if excess <= 0:
        return 0
    for pk, size in chunks.order_by("id").values_list("id", "content_bytes").iterator(chunk_size=1000):
        doomed.append(pk)
        freed += size
        if freed >= excess:
            break
    for start in range(0, len(doomed), RETENTION_DELETE_BATCH):
        LogChunk.objects.filter(pk__in=doomed[start : start + RETENTION_DELETE_BATCH]).delete()
    return len(doomed)


def logs_enforce_retention(*, container: Container | None = None) -> int:
    """Keep stored logs within the settings, oldest chunks first: one container's bound, or this node's.

    Cursors are left alone, so capture never stores again what retention deleted.
    """
    if container is not None:
        return _delete_oldest(
            LogChunk.objects.filter(container=container),
            limit_bytes=settings.CONTAINERSVC_LOG_RETENTION_CONTAINER_BYTES,
        )
    return _delete_oldest(
        LogChunk.objects.filter(container__node_id=settings.CONTAINERSVC_NODE_ID),
        limit_bytes=settings.CONTAINERSVC_LOG_RETENTION_TOTAL_BYTES,
    )
