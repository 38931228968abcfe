"""Per-socket flow control for streamed lines: a bounded queue and a window of unacknowledged messages.

Daphne has no write backpressure, so the protocol has it: the server sends at most WINDOW messages the
client has not acknowledged ({"type": "ack", "seq": n}); meanwhile lines wait in a bounded queue whose oldest
lines give way to new ones and are reported as "skipped" in the next message. Memory per socket stays bounded
however slow the client is, and a live view stays live.
"""

import json
import time
from collections import deque

from containersvc.producers.groups import EncodedLines

WINDOW = 8
BATCH_LINES = 500
MAX_QUEUED_LINES = 5000
MAX_QUEUED_CHARS = 2 * 1024 * 1024


class LineWindow:
    """Lines wait as the encoded pieces they arrived in (a follower's batch, a read of the past), so a
    message is put together from strings, never by encoding each line again for each socket. The bounds
    count lines and characters; the oldest pieces give way whole (the newest one is always kept)."""

    def __init__(
        self,
        *,
        window: int = WINDOW,
        batch_lines: int = BATCH_LINES,
        max_lines: int = MAX_QUEUED_LINES,
        max_chars: int = MAX_QUEUED_CHARS,
    ) -> None:
        self.window, self.batch_lines, self.max_lines, self.max_chars = window, batch_lines, max_lines, max_chars
        self._queue: deque[EncodedLines] = deque()
        self._lines = 0
        self._chars = 0
        self.skipped = 0  # lines cut since the last message
        self.gap = False  # lines lost before they reached this socket, count unknown
        self.sent = 0
        self.acked = 0
        self._last_progress = time.monotonic()

    @property
    def queued_lines(self) -> int:
        return self._lines

    @property
    def has_room(self) -> bool:
        """Whether a reader paced by this socket (not pushed by a follower) may add another piece."""
        return self.sent - self.acked < self.window and self._lines < self.batch_lines

    @property
    def drained(self) -> bool:
        """Nothing waits to be sent."""
        return not self._queue and not self.skipped and not self.gap

    def add(self, lines: EncodedLines | None) -> None:
        if lines is None or not lines.count:
            return
        self._queue.append(lines)
        self._lines += lines.count
        self._chars += len(lines.items)
        while len(self._queue) > 1 and (self._lines > self.max_lines or self._chars > self.max_chars):
            oldest = self._queue.popleft()
            self._lines -= oldest.count
            self._chars -= len(oldest.items)
            self.skipped += oldest.count

    def add_skipped(self, count: int) -> None:
        self.skipped += count

    def mark_gap(self) -> None:
        self.gap = True

    def ack(self, seq: int) -> None:
        if self.acked < seq <= self.sent:
            self.acked = seq
            self._last_progress = time.monotonic()

    def lagging(self, seconds: float) -> bool:
        """The client has held the window full, acknowledging nothing, for `seconds`."""
        return self.sent - self.acked >= self.window and time.monotonic() - self._last_progress > seconds

    def next_message(self, **extra) -> str | None:
        """The next message (JSON text) to send, or None while the window is full or nothing waits."""
        if self.sent - self.acked >= self.window or self.drained:
            return None
        pieces: list[str] = []
        count = 0
        while self._queue and (not pieces or count + self._queue[0].count <= self.batch_lines):
            piece = self._queue.popleft()
            pieces.append(piece.items)
            count += piece.count
            self._lines -= piece.count
            self._chars -= len(piece.items)
        if self.sent == self.acked:
            self._last_progress = time.monotonic()
        self.sent += 1
        header = {"type": "lines", "seq": self.sent, "skipped": self.skipped, "gap": self.gap, **extra}
        self.skipped, self.gap = 0, False
        return f'{json.dumps(header, separators=(",", ":"))[:-1]},"lines":[{",".join(pieces)}]}}'


class TextWindow:
    """The same window for streamed text (build output): at most `max_chars` wait, the oldest give way.

    Offsets count characters of the whole output, so the client knows where each piece belongs.
    """

    def __init__(self, *, offset: int, window: int = WINDOW, max_chars: int = 512 * 1024, batch_chars: int = 64 * 1024):
        self.window, self.max_chars, self.batch_chars = window, max_chars, batch_chars
        self._text = ""
        self._start = offset  # the offset of _text[0]
        self.skipped = 0
        self.sent = 0
        self.acked = 0

    def add(self, text: str) -> None:
        self._text += text
        if len(self._text) > self.max_chars:
            cut = len(self._text) - self.max_chars
            self._text, self._start, self.skipped = self._text[cut:], self._start + cut, self.skipped + cut

    def skip(self, count: int) -> None:
        """Characters lost before they reached this socket."""
        self._start += count
        self.skipped += count

    @property
    def drained(self) -> bool:
        return not self._text and not self.skipped

    def ack(self, seq: int) -> None:
        if self.acked < seq <= self.sent:
            self.acked = seq

    def next_message(self) -> dict | None:
        if self.sent - self.acked >= self.window or self.drained:
            return None
        text, self._text = self._text[: self.batch_chars], self._text[self.batch_chars :]
        self.sent += 1
        message = {"type": "output", "seq": self.sent, "offset": self._start, "text": text, "skipped": self.skipped}
        self._start += len(text)
        self.skipped = 0
        return message
