"""Live resource stats (ws/stats/): container:view, then each round of the collector, one message a round.

A message holds the host's CPU, load and memory and the samples of the running containers this socket's
user may see (the same shapes as GET containers/stats and node/stats). With `?changes=only` the first
message is whole and later ones hold only what changed (containersvc/stats_changes.py).
"""

import asyncio
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from containersvc import access
from containersvc.consumers.base import CLOSE_BAD_REQUEST, ScopedConsumer
from containersvc.producers import stats_collector
from containersvc.scopes import Scope
from containersvc.stats_changes import StatsChanges

# Which containers a user may see changes only when an admin grants or revokes: asked again this often.
VISIBILITY_SECONDS = 30
CHANGES_ONLY = "only"


class ContainerStatsConsumer(ScopedConsumer):
    required_scopes = (Scope.CONTAINER_VIEW,)
    subscribed = False
    changes: StatsChanges | None = None  # set when the socket asked for changes only

    async def connect(self) -> None:
        if not await self.authorize():
            return
        query = parse_qs(self.scope.get("query_string", b"").decode(), keep_blank_values=True)
        if "changes" in query:
            if query["changes"] != [CHANGES_ONLY]:
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            self.changes = StatsChanges()
        self._visible: set[str] = set()
        self._hidden: set[str] = set()
        self._checked_at = 0.0
        await self.channel_layer.group_add(stats_collector.GROUP, self.channel_name)
        self.groups.append(stats_collector.GROUP)
        await self.accept()
        stats_collector.collector.subscribe(loop=asyncio.get_running_loop())
        self.subscribed = True
        # The latest round now, not one interval later.
        await self.stats_batch(stats_collector.collector.latest_event())

    async def stop(self) -> None:
        if self.subscribed:
            self.subscribed = False
            stats_collector.collector.unsubscribe()

    async def stats_batch(self, event: dict) -> None:
        rows = event["stats"]
        user = self.scope["user"]
        if not user.is_superuser:
            await self._learn({row["containerId"] for row in rows})
            rows = [row for row in rows if row["containerId"] in self._visible]
        if self.changes is None:
            await self.send_json({**event, "stats": rows})
        else:
            await self.send_json(self.changes.message(taken_at=event["takenAt"], node=event["node"], rows=rows))

    async def _learn(self, container_ids: set[str]) -> None:
        """Sort ids into visible and hidden: the unknown ones now, all of them again now and then."""
        if time.monotonic() - self._checked_at > VISIBILITY_SECONDS:
            self._visible, self._hidden, self._checked_at = set(), set(), time.monotonic()
        unknown = container_ids - self._visible - self._hidden
        if unknown:
            visible = await database_sync_to_async(self._visible_of)(unknown)
            self._visible |= visible
            self._hidden |= unknown - visible

    def _visible_of(self, container_ids: set[str]) -> set[str]:
        return access.visible_ids(actor=self.scope["user"], container_ids=container_ids)
