"""A container's past lines for one socket ("from the start", or from a timestamp), read from the engine.

The shared follower keeps only the recent lines; a viewer that wants everything gets its own engine read of
the past, which it pulls a batch at a time as its client acknowledges: paced by that client, so nothing is
skipped however long the log is. The read is not a follow: it ends at what the engine had when it reached
the end, and the socket then joins the follower's lines where the read left off.
"""

import threading
from collections.abc import Generator, Iterable
from itertools import islice

from containersvc import engine
from containersvc.engine import LogLine
from containersvc.producers.groups import LinePosition
from containersvc.services.logs import RepeatFilter

BATCH_LINES = 1000  # lines per read (and per message): fewer, larger messages cost the loop less


def lines_after(lines: Iterable[LogLine], after: LinePosition) -> Generator[LogLine, None, None]:
    """The lines that follow the line at `after` in a read from its timestamp on.

    The engine answers in the order it stored the lines, every line not older than the timestamp asked for.
    Across the two streams that order is not the timestamps' (each stream is copied apart, so a line may be
    stored after a newer line of the other stream): lines newer than `after` can come before it, and were
    then read already, while older ones can come after it, and are new. The line itself marks where the new
    lines begin; should it be gone (a rotated file), the first newer line of its own stream does.
    """
    met = False
    for line in lines:
        if not met:
            position = LinePosition.of(line)
            if position == after:
                met = True
                continue
            if not (line.stream == after.stream and line.timestamp_ns > after.timestamp_ns):
                continue
            met = True
        yield line


class LogHistory:
    """Lines of one container newer than `since_ns` (0: from the start), or those after the line at `after`
    (one already sent). next_batch() blocks, so call it from a worker thread; close() may come from any thread."""

    def __init__(self, *, container_id: str, since_ns: int = 0, after: LinePosition | None = None) -> None:
        self.container_id = container_id
        self.since_ns = since_ns
        self.after = after
        self.last: LinePosition | None = after  # where the newest line handed out stands
        self._lines: Generator[LogLine, None, None] | None = None
        self._reading = threading.Lock()
        self._closed = False

    def next_batch(self, size: int = BATCH_LINES) -> list[LogLine]:
        """Up to `size` lines in the engine's order; [] at the end (or once closed)."""
        with self._reading:
            if self._closed:
                return []
            if self._lines is None:
                read_from = self.after.timestamp_ns if self.after else self.since_ns
                self._lines = self._wanted(engine.container_logs(container_id=self.container_id, since_ns=read_from))
            batch = list(islice(self._lines, size))
            if batch:
                self.last = LinePosition.of(batch[-1])
            if not batch or self._closed:  # the end, or close() came while this batch was read
                self._close_locked()
            return batch

    def close(self) -> None:
        """Never blocks: a batch being read now closes the read when it is done."""
        self._closed = True
        if self._reading.acquire(blocking=False):
            try:
                self._close_locked()
            finally:
                self._reading.release()

    def _close_locked(self) -> None:
        self._closed = True
        if self._lines is not None:
            self._lines.close()  # a generator: closing it closes the engine's response

    def _wanted(self, lines: Generator[LogLine, None, None]) -> Generator[LogLine, None, None]:
        """Without the engine's repeats, the lines not newer than `since_ns`, and the line at `after` with those
        before it (see lines_after)."""
        repeats = RepeatFilter()
        try:
            read = lines if self.after is None else lines_after(lines, self.after)
            for line in read:
                if repeats.repeated(line) or (self.since_ns and line.timestamp_ns <= self.since_ns):
                    continue
                yield line
        finally:
            lines.close()
