"""The build output relay: hears every build's output (services.builds.output_listeners) and, while a socket
watches a build, publishes it in batches to that build's group.

It listens from process start, not from the first viewer, so it knows each running build's output offset:
a viewer joining mid-build gets the stored output plus the relay's recent tail, then live batches, each
placed by offset, so nothing is shown twice. Every buffer is bounded; what is cut is counted.
"""

import asyncio
import threading
from dataclasses import dataclass, field

from containersvc.models import ImageBuild
from containersvc.producers import groups
from containersvc.producers.relay import Relay
from containersvc.services import builds

BATCH_SECONDS = 0.1
TAIL_CHARS = 256 * 1024  # recent output kept per running build, for viewers joining late
PENDING_CHARS = 256 * 1024  # unpublished output per watched build; beyond it the oldest is cut
MAX_TRACKED_BUILDS = 64


@dataclass
class _Build:
    total: int = 0  # characters of output seen
    tail: str = ""  # the last characters, ending at `total`
    pending: str = ""  # not yet published, ending at `total`
    skipped: int = 0  # characters cut from pending before publishing
    statuses: list[dict] = field(default_factory=list)
    watchers: int = 0
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    total: int
    tail: str


class BuildOutputRelay(Relay):
    thread_name = "build-output"

    def __init__(self) -> None:
        super().__init__()
        self._builds: dict[int, _Build] = {}

    def batch_seconds(self) -> float:
        return BATCH_SECONDS

    # --- listeners (called from build threads; never block) ------------------------------------------------
    def on_output(self, build_id: int, text: str) -> None:
        with self._lock:
            state = self._track(build_id)
            state.total += len(text)
            state.tail = (state.tail + text)[-TAIL_CHARS:]
            if state.watchers:
                state.pending += text
                if len(state.pending) > PENDING_CHARS:
                    state.skipped += len(state.pending) - PENDING_CHARS
                    state.pending = state.pending[-PENDING_CHARS:]
        self._heard()

    def on_status(self, build: ImageBuild) -> None:
        event = groups.build_status_event(
            build_id=build.pk, status=build.status, error=build.error, image_id=build.image_id
        )
        with self._lock:
            state = self._track(build.pk)
            state.finished = build.is_finished
            if state.watchers:
                state.statuses.append(event)
        self._heard()

    def _track(self, build_id: int) -> _Build:
        if build_id not in self._builds and len(self._builds) >= MAX_TRACKED_BUILDS:
            for old_id, old in list(self._builds.items()):
                if old.finished and not old.watchers:
                    del self._builds[old_id]
        return self._builds.setdefault(build_id, _Build())

    # --- viewers ------------------------------------------------------------------------------------------
    def watch(self, *, build_id: int, loop: asyncio.AbstractEventLoop) -> Snapshot | None:
        """Count a viewer in and return what the relay holds of the build (None: it saw none of it)."""
        with self._lock:
            state = self._builds.get(build_id)
            snapshot = Snapshot(total=state.total, tail=state.tail) if state else None
            self._track(build_id).watchers += 1
            self._subscribe_locked(loop)
            return snapshot

    def unwatch(self, *, build_id: int) -> None:
        with self._lock:
            state = self._builds.get(build_id)
            if state is not None and state.watchers:
                self._unsubscribe_locked()
            if state is not None:
                state.watchers = max(0, state.watchers - 1)
                if not state.watchers:
                    state.pending, state.skipped, state.statuses = "", 0, []
                    if state.finished:
                        del self._builds[build_id]

    def thread(self) -> threading.Thread | None:
        return self._thread if self._thread and self._thread.is_alive() else None

    def take(self) -> list[tuple[str, dict]]:
        return [(groups.build_group(event["build"]), event) for event in self._events()]

    def _events(self) -> list[dict]:
        events: list[dict] = []
        with self._lock:
            for build_id, state in self._builds.items():
                if state.pending or state.skipped:
                    offset = state.total - len(state.pending)
                    events.append(
                        groups.build_output_event(
                            build_id=build_id, offset=offset, text=state.pending, skipped=state.skipped
                        )
                    )
                    state.pending, state.skipped = "", 0
                events.extend(state.statuses)
                state.statuses = []
        return events


relay = BuildOutputRelay()


def relay_install() -> None:
    """Listen to every build from now on (idempotent); called when the websocket routes are loaded."""
    if relay.on_output not in builds.output_listeners:
        builds.output_listeners.append(relay.on_output)
    if relay.on_status not in builds.status_listeners:
        builds.status_listeners.append(relay.on_status)
