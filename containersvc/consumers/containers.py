"""Live container status (ws/containers/): container:view, then the full list and every batch of changes,
each socket getting only the containers its user may see."""

import asyncio

from channels.db import database_sync_to_async

from containersvc import access
from containersvc.consumers.base import ScopedConsumer
from containersvc.producers import groups
from containersvc.producers.container_status import producer
from containersvc.scopes import Scope


class ContainerStatusConsumer(ScopedConsumer):
    required_scopes = (Scope.CONTAINER_VIEW,)
    subscribed = False

    async def connect(self) -> None:
        if not await self.authorize():
            return
        self.shown: set[str] = set()  # ids this socket was told of: only those are reported removed
        group = groups.containers_group()
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        await self.accept()
        # Every subscriber gets a full list first: the producer reconciles on each subscribe.
        producer.subscribe(loop=asyncio.get_running_loop(), reconcile=True)
        self.subscribed = True

    async def stop(self) -> None:
        if self.subscribed:
            self.subscribed = False
            producer.unsubscribe()

    async def container_status(self, event: dict) -> None:
        user = self.scope["user"]
        if user.is_superuser:
            await self.send_json(event)
            return
        # The producer's batch is one for every socket: this user's part of it is picked here.
        listed = {shown["id"] for shown in event["containers"]}
        visible = (
            await database_sync_to_async(access.visible_ids)(actor=user, container_ids=listed) if listed else set()
        )
        removed = [container_id for container_id in event["removed"] if container_id in self.shown]
        if event["full"]:
            self.shown = set(visible)
        else:
            self.shown = (self.shown | visible) - set(removed)
        containers = [shown for shown in event["containers"] if shown["id"] in visible]
        if containers or removed or event["full"]:
            await self.send_json({**event, "containers": containers, "removed": removed})

    async def engine_status(self, event: dict) -> None:
        await self.send_json(event)
