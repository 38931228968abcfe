"""Log capture: lines read from the engine are stored in chunks, resuming exactly where the last stopped."""

from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from containersvc import engine
from containersvc.engine import LogLine
from containersvc.errors import NotFound
from containersvc.models import Container, ContainerState, LogChunk, LogCursor, LogStream


def _cursors(container: Container) -> dict[str, LogCursor]:
    cursors = {cursor.stream: cursor for cursor in container.log_cursors.all()}
    for stream in LogStream.values:
        if stream not in cursors:
            cursors[stream], _ = LogCursor.objects.get_or_create(container=container, stream=stream)
    return cursors


def _is_new(line: LogLine, cursor: LogCursor, seen_at_cursor: dict[str, int]) -> bool:
    """The engine's `since` repeats lines of the cursor's own timestamp: skip the ones already stored."""
    if line.timestamp_ns > cursor.last_timestamp_ns:
        return True
    if line.timestamp_ns == cursor.last_timestamp_ns:
        seen_at_cursor[line.stream] += 1
        return seen_at_cursor[line.stream] > cursor.lines_at_last_timestamp
    return False


def _as_datetime(timestamp_ns: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ns / 1e9, tz=UTC)


def _advance(cursor: LogCursor, lines: list[LogLine]) -> None:
    for line in lines:
        if line.timestamp_ns == cursor.last_timestamp_ns:
            cursor.lines_at_last_timestamp += 1
        else:
            cursor.last_timestamp_ns, cursor.lines_at_last_timestamp = line.timestamp_ns, 1


def _store(container: Container, stream: str, lines: list[LogLine], cursor: LogCursor) -> None:
    with transaction.atomic():
        LogChunk.objects.create(
            container=container,
            stream=stream,
            content="\n".join(line.text for line in lines),
            line_count=len(lines),
            first_line_at=_as_datetime(lines[0].timestamp_ns),
            last_line_at=_as_datetime(lines[-1].timestamp_ns),
        )
        _advance(cursor, lines)
        cursor.save(update_fields=["last_timestamp_ns", "lines_at_last_timestamp"])


def logs_store_lines(*, container: Container, lines: Iterable[LogLine]) -> int:
    """Store new lines in chunks of consecutive lines of one stream; returns how many were new."""
    cursors = _cursors(container)
    seen_at_cursor = dict.fromkeys(LogStream.values, 0)
    pending: list[LogLine] = []
    stored = 0
    for line in lines:
        if not _is_new(line, cursors[line.stream], seen_at_cursor):
            continue
        if pending and (pending[-1].stream != line.stream or len(pending) >= settings.CONTAINERSVC_LOG_CHUNK_LINES):
            _store(container, pending[0].stream, pending, cursors[pending[0].stream])
            stored += len(pending)
            pending = []
        pending.append(line)
    if pending:
        _store(container, pending[0].stream, pending, cursors[pending[0].stream])
        stored += len(pending)
    return stored


def logs_capture(*, container: Container) -> int:
    """Read what the engine has beyond the stored lines and store it."""
    if container.state == ContainerState.REMOVED:
        return 0
    cursors = _cursors(container)
    since = min(cursor.last_timestamp_ns for cursor in cursors.values())
    try:
        return logs_store_lines(
            container=container, lines=engine.container_logs(container_id=container.container_id, since_ns=since)
        )
    except NotFound:
        return 0
