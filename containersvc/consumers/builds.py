"""Live output of one build (ws/builds/<id>/): image:build or container:view, then the output so far and
what follows, placed by offset so nothing is shown twice. The client acknowledges each "output" message
(see consumers.flow)."""

import asyncio

from channels.db import database_sync_to_async

from containersvc import selectors
from containersvc.consumers.base import CLOSE_NOT_FOUND, ScopedConsumer
from containersvc.consumers.flow import TextWindow
from containersvc.errors import NotFound
from containersvc.models import ImageBuild
from containersvc.producers import groups
from containersvc.producers.build_output import relay
from containersvc.scopes import Scope

GAP_NOTE = "\n[… {count} characters not shown …]\n"


def _initial_text(build: ImageBuild, snapshot) -> tuple[str, int]:
    """The stored output joined with the relay's newer tail; returns it and the offset it reaches."""
    stored = build.output
    if snapshot is None or snapshot.total <= len(stored) or build.output_truncated:
        return stored, max(len(stored), snapshot.total if snapshot else 0)
    tail_start = snapshot.total - len(snapshot.tail)
    if tail_start <= len(stored):
        return stored + snapshot.tail[len(stored) - tail_start :], snapshot.total
    return stored + GAP_NOTE.format(count=tail_start - len(stored)) + snapshot.tail, snapshot.total


class BuildOutputConsumer(ScopedConsumer):
    required_scopes = (Scope.IMAGE_BUILD, Scope.CONTAINER_VIEW)
    watching = False

    async def connect(self) -> None:
        self.build_id = int(self.scope["url_route"]["kwargs"]["build_id"])
        if not await self.authorize():
            return
        try:
            build = await database_sync_to_async(selectors.build_get)(build_id=self.build_id, actor=self.scope["user"])
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        group = groups.build_group(self.build_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        snapshot = relay.watch(build_id=self.build_id, loop=asyncio.get_running_loop())
        self.watching = True
        # Read again after watching: output stored meanwhile is then in the row or in later batches.
        build = await database_sync_to_async(selectors.build_get)(build_id=self.build_id, actor=self.scope["user"])
        text, self.offset = _initial_text(build, snapshot)
        self.window = TextWindow(offset=0)
        self.window.add(text)
        self.status: dict | None = groups.build_status_event(
            build_id=build.pk, status=build.status, error=build.error, image_id=build.image_id
        )
        await self.accept()
        await self._flush()

    async def stop(self) -> None:
        if self.watching:
            self.watching = False
            relay.unwatch(build_id=self.build_id)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ack" and isinstance(content.get("seq"), int):
            self.window.ack(content["seq"])
            await self._flush()

    async def build_output(self, event: dict) -> None:
        start, text = event["offset"], event["text"]
        end = start + len(text)
        if end <= self.offset:
            return
        lost = event["skipped"] + max(0, start - self.offset)
        if lost:
            self.window.skip(lost)
        self.window.add(text[max(0, self.offset - start) :])
        self.offset = end
        await self._flush()

    async def build_status(self, event: dict) -> None:
        self.status = event
        await self._flush()

    async def _flush(self) -> None:
        while message := self.window.next_message():
            await self.send_json(message)
        if self.status is not None and self.window.drained:
            # After the output it ends, not before.
            await self.send_json(self.status)
            self.status = None
