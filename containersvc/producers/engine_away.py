"""Logs the engine going away once, then at growing intervals while it stays away, and once when it is back."""

import logging
import threading
import time
from collections.abc import Callable

from containersvc import engine
from containersvc.errors import EngineTimeout, EngineUnavailable

# The failures that mean the engine is away, rather than that it refused one call.
AWAY_ERRORS = (EngineUnavailable, EngineTimeout)
FIRST_REPEAT_SECONDS = 30.0
MAX_REPEAT_SECONDS = 3600.0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _reason(error: EngineUnavailable | EngineTimeout) -> str:
    # One short line: the exception's own text may carry errno and connection-pool noise.
    if isinstance(error, EngineTimeout):
        return f"The Docker engine at {engine.address()} does not answer in time"
    return f"The Docker engine at {engine.address()} is unreachable"


class EngineAwayLog:
    """Shared by every producer of the process: the engine is away for all of them at once."""

    def __init__(
        self,
        *,
        logger: logging.Logger,
        first_repeat: float = FIRST_REPEAT_SECONDS,
        max_repeat: float = MAX_REPEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._first_repeat = first_repeat
        self._max_repeat = max_repeat
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._next = 0.0
        self._interval = first_repeat

    @property
    def is_away(self) -> bool:
        with self._lock:
            return self._since is not None

    def away(self, error: EngineUnavailable | EngineTimeout) -> None:
        """An engine call failed; logs only the first failure and then ever fewer reminders."""
        now = self._clock()
        with self._lock:
            if self._since is None:
                self._since, self._interval = now, self._first_repeat
                self._next = now + self._interval
                self._logger.warning("%s; retrying in the background.", _reason(error))
            elif now >= self._next:
                self._interval = min(self._interval * 2, self._max_repeat)
                self._next = now + self._interval
                self._logger.warning("%s (for %s); still retrying.", _reason(error), _duration(now - self._since))

    def back(self) -> None:
        """An engine call succeeded: says so once if the engine was away."""
        now = self._clock()
        with self._lock:
            if self._since is None:
                return
            away_for, self._since = now - self._since, None
        self._logger.warning("The Docker engine at %s is back after %s.", engine.address(), _duration(away_for))


engine_away = EngineAwayLog(logger=logging.getLogger("containersvc.engine"))
