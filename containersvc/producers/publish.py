"""Publishing from producer threads onto the event loop the sockets live on.

The in-memory channel layer keeps asyncio queues bound to the loop of the consumers; sending from another
loop (async_to_sync in a thread) would touch them from the wrong thread. So producers hand each send to the
consumers' loop and wait for it, which also keeps a producer from running ahead of the loop without bound.

A busy loop is waited for, not given up on: a stream whose producer stopped on a slow moment would leave its
viewers showing "live" over output that never comes. A producer that passes its `stop` event waits as long as
the loop runs and the stop is not asked; one that passes none (a sample the next round supersedes) waits
PUBLISH_TIMEOUT_SECONDS at most.
"""

import asyncio
import concurrent.futures
import logging
import threading

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 5
WAIT_SLICE_SECONDS = 0.5  # how often a waiting producer looks at the loop and its stop


class Publisher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()

    def send(self, group: str, event: dict, *, stop: threading.Event | None = None) -> bool:
        """Send one event to a group; False when the loop is gone, the stop was asked, or (without a stop) the
        loop took longer than PUBLISH_TIMEOUT_SECONDS: the producer should end."""
        if self.loop.is_closed():
            return False
        try:
            future = asyncio.run_coroutine_threadsafe(self.layer.group_send(group, event), self.loop)
        except RuntimeError as error:  # closed meanwhile
            logger.warning("publishing to %s failed: %r", group, error)
            return False
        waited, warned = 0.0, False
        while True:
            try:
                future.result(timeout=WAIT_SLICE_SECONDS)
                return True
            except concurrent.futures.TimeoutError:
                waited += WAIT_SLICE_SECONDS
            except (RuntimeError, concurrent.futures.CancelledError) as error:
                logger.warning("publishing to %s failed: %r", group, error)
                return False
            if self._gives_up(waited, stop):
                future.cancel()
                logger.warning("publishing to %s: gave up after %.1f s", group, waited)
                return False
            if not warned and waited >= PUBLISH_TIMEOUT_SECONDS:
                warned = True
                logger.warning("publishing to %s: the sockets' loop has not taken it for %.1f s", group, waited)

    def _gives_up(self, waited: float, stop: threading.Event | None) -> bool:
        if self.loop.is_closed() or not self.loop.is_running():
            return True
        return stop.is_set() if stop is not None else waited >= PUBLISH_TIMEOUT_SECONDS
