"""Per-socket flow control for streamed lines: a bounded queue and a window of unacknowledged messages.

Daphne has no write backpressure, so the protocol has it: the server sends at most WINDOW messages the
client has not acknowledged ({"type": "ack", "seq": n}); meanwhile lines wait in a bounded queue whose oldest
lines give way to new ones and are reported as "skipped" in the next message. Memory per socket stays bounded
however slow the client is, and a live view stays live.
"""

import time
from collections import deque

WINDOW = 8
BATCH_LINES = 500
MAX_QUEUED_LINES = 5000
MAX_QUEUED_CHARS = 2 * 1024 * 1024


class LineWindow:
    def __init__(
        self,
        *,
        window: int = WINDOW,
        batch_lines: int = BATCH_LINES,
        max_lines: int = MAX_QUEUED_LINES,
        max_chars: int = MAX_QUEUED_CHARS,
    ) -> None:
        self.window, self.batch_lines, self.max_lines, self.max_chars = window, batch_lines, max_lines, max_chars
        self._queue: deque[list] = deque()
        self._chars = 0
        self.skipped = 0  # lines cut since the last message
        self.gap = False  # lines lost before they reached this socket, count unknown
        self.sent = 0
        self.acked = 0
        self._last_progress = time.monotonic()

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def drained(self) -> bool:
        """Nothing waits to be sent."""
        return not self._queue and not self.skipped and not self.gap

    def add(self, lines: list[list]) -> None:
        """Queue lines ([number, stream, timestamp_ns, text]); the oldest give way beyond the bounds."""
        for line in lines:
            self._queue.append(line)
            self._chars += len(line[3])
        while len(self._queue) > self.max_lines or self._chars > self.max_chars:
            self._chars -= len(self._queue.popleft()[3])
            self.skipped += 1

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

    def next_message(self, **extra) -> dict | None:
        """The next message to send, or None while the window is full or nothing waits."""
        if self.sent - self.acked >= self.window:
            return None
        if not self._queue and not self.skipped and not self.gap:
            return None
        lines = [self._queue.popleft() for _ in range(min(self.batch_lines, len(self._queue)))]
        self._chars -= sum(len(line[3]) for line in lines)
        if self.sent == self.acked:
            self._last_progress = time.monotonic()
        self.sent += 1
        message = {"type": "lines", "seq": self.sent, "skipped": self.skipped, "gap": self.gap, "lines": lines}
        self.skipped, self.gap = 0, False
        return {**message, **extra}


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
