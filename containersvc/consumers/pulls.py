"""Live progress of one image pull (ws/pulls/<id>/): container:view, container:run or image:build, then the
pull's state now and each newer state ({"type": "pull.progress", "pull": {...}}) until it ends."""

import asyncio

from channels.db import database_sync_to_async

from containersvc import selectors
from containersvc.consumers.base import CLOSE_NOT_FOUND, ScopedConsumer
from containersvc.errors import NotFound
from containersvc.producers import groups
from containersvc.producers.pull_progress import relay
from containersvc.scopes import Scope


class PullProgressConsumer(ScopedConsumer):
    required_scopes = (Scope.CONTAINER_VIEW, Scope.CONTAINER_RUN, Scope.IMAGE_BUILD)
    watching = False

    async def connect(self) -> None:
        self.pull_id = int(self.scope["url_route"]["kwargs"]["pull_id"])
        if not await self.authorize():
            return
        try:
            await database_sync_to_async(selectors.pull_get)(pull_id=self.pull_id)
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        group = groups.pull_group(self.pull_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        held = relay.watch(pull_id=self.pull_id, loop=asyncio.get_running_loop())
        self.watching = True
        # Read after watching: whatever changes later comes as an event.
        pull = await database_sync_to_async(selectors.pull_get)(pull_id=self.pull_id)
        stored = groups.pull_progress_event(pull)
        await self.accept()
        await self.send_json(stored if held is None or pull.is_finished else held)

    async def stop(self) -> None:
        if self.watching:
            self.watching = False
            relay.unwatch(pull_id=self.pull_id)

    async def pull_progress(self, event: dict) -> None:
        await self.send_json(event)
