"""A container's counters from the engine's one-shot stats (where the cgroup files are not readable)."""

from __future__ import annotations

import orjson

from containersvc.engine import logstream
from containersvc.engine.client import api_client, translate_errors
from containersvc.engine.parsing import stats_from
from containersvc.engine.types import EngineStats
from containersvc.errors import EngineError, NotFound


def container_stats(*, container_id: str, timeout: float) -> EngineStats:
    """One-shot stats (API 1.41): the counters as they stand, without the engine's own second sample."""
    client = api_client()
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        response = logstream.http_get(
            client,
            "/containers/{0}/stats",
            container_id,
            params={"stream": "false", "one-shot": "true"},
            timeout=timeout,
        )
        logstream.raise_for_status(client, response)
    if not response.content:
        # The engine ends the answer without a body when the container stops during the call.
        raise NotFound(f"No running container with id '{container_id}'.")
    try:
        return stats_from(orjson.loads(response.content))
    except orjson.JSONDecodeError as error:
        raise EngineError("The engine's stats could not be read.") from error
