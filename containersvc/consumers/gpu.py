"""Live GPU samples (ws/gpus/): container:view, then every sample the GPU sampler publishes."""

import asyncio

from channels.db import database_sync_to_async

from containersvc.consumers.base import ScopedConsumer
from containersvc.producers import gpu_sampler
from containersvc.scopes import Scope


class GpuSamplesConsumer(ScopedConsumer):
    required_scopes = (Scope.CONTAINER_VIEW,)
    subscribed = False

    async def connect(self) -> None:
        if not await self.authorize():
            return
        await self.channel_layer.group_add(gpu_sampler.GROUP, self.channel_name)
        self.groups.append(gpu_sampler.GROUP)
        await self.accept()
        gpu_sampler.sampler.subscribe(loop=asyncio.get_running_loop())
        self.subscribed = True
        if (latest := gpu_sampler.sampler.latest) is not None:
            # A viewer joining a running sampler sees the latest reading now, not one interval later.
            await self.send_json(await self._for_viewer(gpu_sampler.sample_event(latest)))

    async def stop(self) -> None:
        if self.subscribed:
            self.subscribed = False
            gpu_sampler.sampler.unsubscribe()

    async def gpu_sample(self, event: dict) -> None:
        await self.send_json(await self._for_viewer(event))

    async def _for_viewer(self, event: dict) -> dict:
        """Containers this socket's user may not see are not named (see gpu_sampler.payload_for_viewer)."""
        user = self.scope["user"]
        if user.is_superuser:
            return event
        sample = await database_sync_to_async(gpu_sampler.payload_for_viewer)(event["sample"], actor=user)
        return {**event, "sample": sample}
