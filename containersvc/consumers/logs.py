"""Live logs of one container (ws/containers/<id>/logs/): log:view, then the recent tail and what follows.

Query: `tail` (lines shown first, default 200; `all`: every line the engine has, from the start or, with
`since`, from that timestamp on), and to resume after a reconnect `generation` + `after` (the last line
number seen) or `since` (a timestamp in ns). The client acknowledges each "lines" message; see
consumers.flow for why.

With `tail=all` the socket first reads the past from the engine itself, a batch at a time as the client
acknowledges (producers.log_history): nothing is skipped, however long the log. Those lines carry no number
(null). Meanwhile the follower's batches are let pass; when the read reaches its end, the socket takes the
follower's recent lines after the last line it read, and follows from there.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from containersvc import selectors
from containersvc.access import Level
from containersvc.consumers.base import (
    CLOSE_BAD_REQUEST,
    CLOSE_ENGINE_UNAVAILABLE,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    ScopedConsumer,
)
from containersvc.consumers.flow import MAX_QUEUED_LINES, LineWindow
from containersvc.engine import LogLine
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.producers import groups
from containersvc.producers.groups import EncodedLines, LinePosition
from containersvc.producers.log_followers import LINE_MAX_CHARS, RECENT_LINES, LogFollower, Snapshot, followers
from containersvc.producers.log_history import LogHistory
from containersvc.scopes import Scope
from containersvc.services import containers

DEFAULT_TAIL = 200
READY_TIMEOUT_SECONDS = 15
LAG_CLOSE_SECONDS = 120
JOIN_WAIT_SECONDS = 5  # how long the end of a read of the past waits for the follower to reach that line


Default = TypeVar("Default", int, None)


def _int(values: dict[str, list[str]], key: str, default: Default, low: int, high: int) -> int | Default:
    raw = values.get(key)
    if not raw:
        return default
    value = int(raw[0])  # ValueError for the caller
    if not low <= value <= high:
        raise ValueError(key)
    return value


def _encoded(numbered_lines: Sequence[tuple[int | None, LogLine]]) -> EncodedLines | None:
    return groups.encoded_lines(numbered_lines, LINE_MAX_CHARS)


class ContainerLogsConsumer(ScopedConsumer):
    required_scopes = (Scope.LOG_VIEW,)
    follower: LogFollower | None = None
    ended: dict | None = None
    history_task: asyncio.Task | None = None  # while the past is being read, live batches are let pass
    last_queued: LinePosition | None = None  # the newest line handed to the window

    async def connect(self) -> None:
        self.container_id = self.scope["url_route"]["kwargs"]["container_id"]
        if not await self.authorize():
            return
        try:
            query = parse_qs(self.scope.get("query_string", b"").decode())
            everything = query.get("tail") == ["all"]
            tail = DEFAULT_TAIL if everything else _int(query, "tail", DEFAULT_TAIL, 0, RECENT_LINES)
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
        self.generation, self.after, self.follower_seq = self.follower.generation, 0, 0
        self.window = LineWindow()
        self.room = asyncio.Event()
        # Asked for everything, the socket never skips: when the follower outruns it, it reads the engine itself.
        self.lossless, self.since_ns = everything, since_ns
        await self.accept()
        await self.send_json({"type": "hello", "container": self.container_id, "generation": self.generation})
        if everything and resume is None:
            self.history_task = asyncio.create_task(self._send_history(since_ns=since_ns))
            return
        # Resuming, every line after the last one seen is wanted, not just a tail.
        snapshot = self.follower.snapshot(tail=RECENT_LINES if since_ns else tail, since_ns=since_ns, after=resume)
        await self._show(snapshot)

    async def _show(self, snapshot: Snapshot) -> None:
        """Start with the follower's lines from `snapshot`; its batches after them follow."""
        # The client has the follower's lines up to `last`: from this snapshot, or from before a reconnect.
        self.after = snapshot.last
        if snapshot.end and (self.last_queued is None or snapshot.end.timestamp_ns >= self.last_queued.timestamp_ns):
            self.last_queued = snapshot.end
        if snapshot.gap:
            self.window.mark_gap()
        self._queue(_encoded(snapshot.lines))
        await self._flush()

    def _queue(self, lines: EncodedLines | None) -> None:
        if lines is not None:
            self.window.add(lines)
            self.last_queued = lines.end

    # --- the past, read for this socket ---------------------------------------------------------------------
    async def _send_history(self, *, since_ns: int = 0, after: LinePosition | None = None) -> None:
        """The past from `since_ns` (or after the line at `after`) to the end, then the follower's lines."""
        history = LogHistory(container_id=self.container_id, since_ns=since_ns, after=after)
        try:
            while True:
                read = await self._send_read(history)
                if await self._join(history.last, since_ns=since_ns, read_nothing=not read):
                    return
                # The follower has moved past the last line read: read on from it.
                history = LogHistory(container_id=self.container_id, after=history.last)
        except ContainerSvcError:
            # The engine failed mid-read: say lines may be missing, and go on with the follower's.
            self.window.mark_gap()
            snapshot = self._subscribed().snapshot(tail=RECENT_LINES, since_ns=self._last_ns(history, since_ns))
            await self._join_at(snapshot)
        finally:
            history.close()

    async def _send_read(self, history: LogHistory) -> int:
        """Send one read to its end, a batch at a time as the client makes room; the next batch is read while
        one goes out. Returns the lines sent."""

        def read_encoded() -> EncodedLines | None:  # in a worker thread: reading and encoding stay off the loop
            return _encoded([(None, line) for line in history.next_batch()])

        fetch = sync_to_async(read_encoded, thread_sensitive=False)
        sent, pending = 0, asyncio.ensure_future(fetch())
        try:
            while batch := await pending:
                pending = asyncio.ensure_future(fetch())
                await self._wait_for_room()
                self._queue(batch)
                sent += batch.count
                await self._flush()
        finally:
            history.close()
            if not pending.done():
                pending.cancel()
        return sent

    async def _wait_for_room(self) -> None:
        while not self.window.has_room:
            self.room.clear()
            await self.room.wait()

    async def _join(self, last: LinePosition | None, *, since_ns: int, read_nothing: bool) -> bool:
        """Go on with the follower's lines after `last`, the newest line read; False when the follower has no
        longer got it among its recent lines (read on from it)."""
        follower = self._subscribed()
        if last is None:
            await self._join_at(follower.snapshot(tail=RECENT_LINES, since_ns=since_ns))
            return True
        deadline = time.monotonic() + JOIN_WAIT_SECONDS
        place = follower.place(last)
        while place.behind and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            place = follower.place(last)
        if place.number is not None:
            await self._join_at(follower.snapshot(tail=0, after=place.number))
            return True
        if place.behind or read_nothing:
            # The follower never reached it (its follow ended first), or nothing newer is left to read.
            await self._join_at(follower.snapshot(tail=RECENT_LINES, since_ns=last.timestamp_ns))
            return True
        return False

    def _subscribed(self) -> LogFollower:
        """The follower subscribed in connect(); stop() cancels the read of the past before letting it go."""
        assert self.follower is not None
        return self.follower

    async def _join_at(self, snapshot: Snapshot) -> None:
        self.history_task = None
        await self._show(snapshot)

    @staticmethod
    def _last_ns(history: LogHistory, since_ns: int) -> int:
        return history.last.timestamp_ns if history.last else since_ns

    async def _check_container(self) -> int:
        try:
            # An engine call: in a worker thread of its own, not the one the ORM calls share.
            found = await sync_to_async(selectors.container_find, thread_sensitive=False)(id_or_name=self.container_id)
            # The access check reads the database: in that shared thread.
            await database_sync_to_async(containers.container_reachable)(
                actor=self.scope["user"], found=found, level=Level.VIEW, reference=self.container_id
            )
        except NotFound:
            # Unknown, or not this user's to see: the same answer either way.
            return CLOSE_NOT_FOUND
        except ContainerSvcError:
            return CLOSE_ENGINE_UNAVAILABLE
        return 0

    async def _access_refusal(self, user) -> int:
        # Sight of the container is checked again too (its mirror row, no engine call): a grant taken back ends
        # the socket as a scope taken back does.
        code = await super()._access_refusal(user)
        if not code and not await database_sync_to_async(selectors.container_visible)(
            actor=user, container_id=self.container_id
        ):
            return CLOSE_NOT_FOUND
        return code

    async def stop(self) -> None:
        if self.history_task is not None:
            self.history_task.cancel()
            self.history_task = None
        if self.follower is not None:
            self.follower = None
            followers.unsubscribe(container_id=self.container_id)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ack" and isinstance(content.get("seq"), int):
            self.window.ack(content["seq"])
            self.room.set()
            await self._flush()

    async def log_batch(self, event: dict) -> None:
        if event["generation"] != self.generation:
            # A new follower (the old one's stream ended and a viewer restarted it): its numbers start over.
            self.generation, self.after, self.follower_seq = event["generation"], 0, event["seq"] - 1
        if event["seq"] != self.follower_seq + 1:
            self.window.mark_gap()  # the channel layer dropped a batch on capacity
        self.follower_seq = event["seq"]
        if self.history_task is not None:
            return  # reading the past: the join takes these from the follower's recent lines
        lines = groups.encoded_lines_of(event)
        # Partly in the snapshot this socket started with (a follower's batch always has numbers).
        if lines is not None and lines.first is not None and lines.first <= self.after:
            newer = [line for line in lines.decoded() if line[0] > self.after]
            lines = EncodedLines.of(newer) if newer else None
        overflowing = event["dropped"] or (lines and self.window.queued_lines + lines.count > MAX_QUEUED_LINES)
        if self.lossless and overflowing:
            # Rather than skip: read from the engine after the last line queued, as fast as the client goes.
            self.history_task = asyncio.create_task(self._send_history(since_ns=self.since_ns, after=self.last_queued))
            return
        self._queue(lines)
        self.window.add_skipped(event["dropped"])
        await self._flush()

    async def log_ended(self, event: dict) -> None:
        if event["generation"] == self.generation:
            self.ended = {"type": "end", "error": event["error"]}
            await self._flush()

    async def _flush(self) -> None:
        while message := self.window.next_message(generation=self.generation):
            await self.send(text_data=message)
        if self.ended is not None and self.history_task is None and self.window.drained:
            # After the last lines, not before them.
            await self.send_json(self.ended)
            self.ended = None
        if self.window.lagging(LAG_CLOSE_SECONDS):
            await self.close(code=CLOSE_TOO_SLOW)
