"""Live logs of one container (ws/containers/<id>/logs/): log:view, then the recent tail and what follows.

Query: `tail` (lines shown first, default 200), and to resume after a reconnect `generation` + `after` (the
last line number seen) or `since` (a timestamp in ns). The client acknowledges each "lines" message; see
consumers.flow for why.
"""

import asyncio
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async

from containersvc.consumers.base import (
    CLOSE_BAD_REQUEST,
    CLOSE_ENGINE_UNAVAILABLE,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    ScopedConsumer,
)
from containersvc.consumers.flow import LineWindow
from containersvc.errors import ContainerSvcError, NotFound, PermissionDenied
from containersvc.producers import groups
from containersvc.producers.log_followers import LINE_MAX_CHARS, RECENT_LINES, LogFollower, followers
from containersvc.scopes import Scope
from containersvc.services import containers

DEFAULT_TAIL = 200
READY_TIMEOUT_SECONDS = 15
LAG_CLOSE_SECONDS = 120


def _int(values: dict[str, list[str]], key: str, default: int | None, low: int, high: int) -> int | None:
    raw = values.get(key)
    if not raw:
        return default
    value = int(raw[0])  # ValueError for the caller
    if not low <= value <= high:
        raise ValueError(key)
    return value


class ContainerLogsConsumer(ScopedConsumer):
    required_scopes = (Scope.LOG_VIEW,)
    follower: LogFollower | None = None
    ended: dict | None = None

    async def connect(self) -> None:
        self.container_id = self.scope["url_route"]["kwargs"]["container_id"]
        if not await self.authorize():
            return
        try:
            query = parse_qs(self.scope.get("query_string", b"").decode())
            tail = _int(query, "tail", DEFAULT_TAIL, 0, RECENT_LINES)
            since_ns = _int(query, "since", 0, 0, 2**63 - 1)
            after = _int(query, "after", None, 0, 2**63 - 1)
            generation = (query.get("generation") or [""])[0]
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        code = await self._check_container()
        if code:
            await self.close(code=code)
            return
        group = groups.container_logs_group(self.container_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        # Joined before the snapshot: every batch after it reaches this socket; those before it are in it.
        self.follower = followers.subscribe(container_id=self.container_id, loop=asyncio.get_running_loop())
        await sync_to_async(self.follower.ready.wait, thread_sensitive=False)(READY_TIMEOUT_SECONDS)
        resume = after if generation == self.follower.generation else None
        # Resuming, every line after the last one seen is wanted, not just a tail.
        snapshot = self.follower.snapshot(tail=RECENT_LINES if since_ns else tail, since_ns=since_ns, after=resume)
        self.generation, self.after, self.follower_seq = self.follower.generation, snapshot.last, 0
        self.window = LineWindow()
        await self.accept()
        await self.send_json({"type": "hello", "container": self.container_id, "generation": self.generation})
        if snapshot.gap:
            self.window.mark_gap()
        self.window.add([groups.log_line_payload(number, line, LINE_MAX_CHARS) for number, line in snapshot.lines])
        await self._flush()

    async def _check_container(self) -> int:
        try:
            # An engine call: in a worker thread of its own, not the one the ORM calls share.
            await sync_to_async(containers.container_for_viewer, thread_sensitive=False)(
                actor=self.scope["user"], container_id=self.container_id
            )
        except NotFound:
            return CLOSE_NOT_FOUND
        except PermissionDenied:
            return CLOSE_FORBIDDEN
        except ContainerSvcError:
            return CLOSE_ENGINE_UNAVAILABLE
        return 0

    async def stop(self) -> None:
        if self.follower is not None:
            self.follower = None
            followers.unsubscribe(container_id=self.container_id)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ack" and isinstance(content.get("seq"), int):
            self.window.ack(content["seq"])
            await self._flush()

    async def log_batch(self, event: dict) -> None:
        if event["generation"] != self.generation:
            # A new follower (the old one's stream ended and a viewer restarted it): its numbers start over.
            self.generation, self.after, self.follower_seq = event["generation"], 0, event["seq"] - 1
        if event["seq"] != self.follower_seq + 1:
            self.window.mark_gap()  # the channel layer dropped a batch on capacity
        self.follower_seq = event["seq"]
        self.window.add_skipped(event["dropped"])
        self.window.add([line for line in event["lines"] if line[0] > self.after])
        await self._flush()

    async def log_ended(self, event: dict) -> None:
        if event["generation"] == self.generation:
            self.ended = {"type": "end", "error": event["error"]}
            await self._flush()

    async def _flush(self) -> None:
        while message := self.window.next_message(generation=self.generation):
            await self.send_json(message)
        if self.ended is not None and self.window.drained:
            # After the last lines, not before them.
            await self.send_json(self.ended)
            self.ended = None
        if self.window.lagging(LAG_CLOSE_SECONDS):
            await self.close(code=CLOSE_TOO_SLOW)
