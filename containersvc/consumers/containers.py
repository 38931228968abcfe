"""Live container status (ws/containers/): container:view, then the full list and every batch of changes."""

import asyncio

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
        await self.send_json(event)

    async def engine_status(self, event: dict) -> None:
        await self.send_json(event)
