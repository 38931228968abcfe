"""The pull progress relay: hears every pull's changes (services.pulls.listeners) and, while a socket watches a
pull, publishes its latest state to that pull's group.

A pull's state is small and whole (its layers summed up), so there is nothing to number or coalesce: each
message replaces the previous one, and a viewer that falls behind just gets the newest state.
"""

import asyncio

from containersvc.models import ImagePull
from containersvc.producers import groups
from containersvc.producers.relay import Relay
from containersvc.services import pulls

BATCH_SECONDS = 0.2
MAX_TRACKED_PULLS = 64


class PullProgressRelay(Relay):
    thread_name = "pull-progress"

    def __init__(self) -> None:
        super().__init__()
        self._latest: dict[int, dict] = {}  # pull id -> its newest event, while it runs or is watched
        self._changed: set[int] = set()
        self._watchers: dict[int, int] = {}

    def batch_seconds(self) -> float:
        return BATCH_SECONDS

    def on_change(self, pull: ImagePull) -> None:
        """Called from pull threads: never blocks on the loop."""
        event = groups.pull_progress_event(pull)
        with self._lock:
            if pull.is_finished and not self._watchers.get(pull.pk):
                self._latest.pop(pull.pk, None)
                return
            if pull.pk not in self._latest and len(self._latest) >= MAX_TRACKED_PULLS:
                return  # a viewer reads the stored row instead
            self._latest[pull.pk] = event
            if self._watchers.get(pull.pk):
                self._changed.add(pull.pk)
        self._heard()

    def watch(self, *, pull_id: int, loop: asyncio.AbstractEventLoop) -> dict | None:
        """Count a viewer in; returns the newest state the relay holds (None: none, read the row)."""
        with self._lock:
            self._watchers[pull_id] = self._watchers.get(pull_id, 0) + 1
            self._subscribe_locked(loop)
            return self._latest.get(pull_id)

    def unwatch(self, *, pull_id: int) -> None:
        with self._lock:
            if pull_id in self._watchers:
                self._unsubscribe_locked()
            left = self._watchers.get(pull_id, 1) - 1
            if left > 0:
                self._watchers[pull_id] = left
            else:
                self._watchers.pop(pull_id, None)
                self._changed.discard(pull_id)
                event = self._latest.get(pull_id)
                if event is not None and event["pull"]["finishedAt"]:
                    del self._latest[pull_id]

    def take(self) -> list[tuple[str, dict]]:
        with self._lock:
            events = [self._latest[pull_id] for pull_id in self._changed if pull_id in self._latest]
            self._changed.clear()
        return [(groups.pull_group(event["pull"]["id"]), event) for event in events]


relay = PullProgressRelay()


def relay_install() -> None:
    """Listen to every pull from now on (idempotent); called when the websocket routes are loaded."""
    if relay.on_change not in pulls.listeners:
        pulls.listeners.append(relay.on_change)
