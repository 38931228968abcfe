"""Container events as the engine streams them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import docker.errors
import urllib3.exceptions

from containersvc.engine.client import api_client, translate_errors
from containersvc.engine.parsing import event_from
from containersvc.engine.types import EngineEvent
from containersvc.errors import ContainerSvcError


class EventStream:
    """Container events as they happen; close() from any thread ends the iteration."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __iter__(self) -> Iterator[EngineEvent]:
        try:
            with translate_errors():
                for raw in self._stream:
                    if isinstance(raw, dict) and raw.get("Type") == "container":
                        yield event_from(raw)
        except (ContainerSvcError, urllib3.exceptions.HTTPError, ValueError, AttributeError):
            if not self.closed:
                raise

    def close(self) -> None:
        self._closed.set()
        try:
            self._stream.close()
        except (OSError, docker.errors.DockerException):
            pass  # the stream was already broken or closed


def events_open(*, since_ns: int | None = None) -> EventStream:
    """Follow the engine's container events (no read timeout); end it with close() from another thread."""
    since = None if since_ns is None else f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
    with translate_errors():
        stream = api_client().events(since=since, filters={"type": "container"}, decode=True)
    return EventStream(stream)
