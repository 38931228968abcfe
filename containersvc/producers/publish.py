"""Publishing from producer threads onto the event loop the sockets live on.

The in-memory channel layer keeps asyncio queues bound to the loop of the consumers; sending from another
loop (async_to_sync in a thread) would touch them from the wrong thread. So producers hand each send to the
consumers' loop and wait for it, which also keeps a producer from running ahead of the loop without bound.
"""

import asyncio
import concurrent.futures
import logging

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 5


class Publisher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()

    def send(self, group: str, event: dict) -> bool:
        """Send one event to a group; False when the loop is gone or too busy (the producer should stop)."""
        if self.loop.is_closed():
            return False
        try:
            future = asyncio.run_coroutine_threadsafe(self.layer.group_send(group, event), self.loop)
            future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
        except (RuntimeError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as error:
            logger.warning("publishing to %s failed: %r", group, error)
            return False
        return True
