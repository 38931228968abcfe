"""The GPU sampler: one per process, sampling NVML while someone watches and fanning samples out to a group.

What it sends is the GPU sample shape of containersvc/api/gpu_shapes.py, as the API and the dashboard do.
"""

import asyncio
import logging
import threading
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from containersvc import access, gpu
from containersvc.api.gpu_shapes import sample_payload
from containersvc.models import Container
from containersvc.producers import groups
from containersvc.producers.connections import refresh_connections
from containersvc.producers.publish import Publisher
from containersvc.producers.worker import Worker

logger = logging.getLogger(__name__)

# Per process, like every producer's group: each process samples for its own viewers, and with a shared
# Redis layer one node's viewers never receive another node's GPUs.
GROUP = f"containersvc.gpu.{groups.PROCESS}"
EVENT = "gpu.sample"


# --- payloads ---------------------------------------------------------------------------------------------


def container_names(*, sample: gpu.GpuSample) -> dict[str, str]:
    """Names of the containers GPU processes run in, from the mirror (no engine call on every sample)."""
    ids = {p.container_id for r in sample.gpus for p in r.processes if p.container_id}
    if not ids:
        return {}
    rows = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id__in=ids)
    return {row.container_id: row.name for row in rows}


def payload_for_viewer(payload: dict, *, actor) -> dict:
    """A sample payload as `actor` may see it: processes of containers the actor may not see show no
    container (id and name null), as processes outside containers do."""
    if getattr(actor, "is_superuser", False):
        return payload
    ids = {p["containerId"] for r in payload.get("gpus", []) for p in r["processes"] if p["containerId"]}
    if not ids:
        return payload
    visible = access.visible_ids(actor=actor, container_ids=ids)

    def process(shown: dict) -> dict:
        if shown["containerId"] in visible or not shown["containerId"]:
            return shown
        return {**shown, "containerId": None, "containerName": None}

    return {
        **payload,
        "gpus": [{**reading, "processes": [process(p) for p in reading["processes"]]} for reading in payload["gpus"]],
    }


def sample_event(payload: dict) -> dict:
    return {"type": EVENT, "sample": payload}


def gpu_sample_payload() -> dict:
    """Sample now and render it with container names: what the API and the stream both send."""
    sample = gpu.gpu_sample()
    return sample_payload(sample, names=container_names(sample=sample))


def gpu_latest_payload() -> dict:
    """The running sampler's latest reading, or one taken now: no second NVML round while one streams."""
    return sampler.latest or gpu_sample_payload()


# --- the sampler ------------------------------------------------------------------------------------------


def _publish(event: dict, loop: asyncio.AbstractEventLoop | None) -> None:
    if loop is not None:
        # The sockets' loop: the in-memory layer's queues must not be touched from another loop.
        Publisher(loop).send(GROUP, event)
    else:
        async_to_sync(get_channel_layer().group_send)(GROUP, event)


class GpuSampler(Worker):
    """subscribe(loop=...) names the event loop the subscribing sockets live on (see Worker); it publishes into
    the latest one, and through async_to_sync when that is None."""

    thread_name = "gpu-sampler"

    def __init__(
        self,
        *,
        interval: Callable[[], float] = lambda: settings.CONTAINERSVC_GPU_SAMPLE_SECONDS,
        read: Callable[[], dict] = gpu_sample_payload,
    ) -> None:
        super().__init__()
        self._interval = interval
        self._read = read
        self.latest: dict | None = None

    def on_stopping(self) -> None:
        # Nobody watches: a reading kept now would be shown as current to the next viewer.
        self.latest = None

    def perform_work(self, stop: threading.Event) -> None:
        self._sample_once(stop)
        stop.wait(self._interval())

    def on_stop(self) -> None:
        connection.close()  # the thread's own: it ends here

    def _sample_once(self, stop: threading.Event) -> None:
        try:
            refresh_connections()
            payload = self._read()
            if stop.is_set():
                return
            self.latest = payload
            _publish(sample_event(payload), self._loop)
        except Exception:
            # One failed round must not end the stream; the next tick tries again.
            logger.exception("GPU sample round failed")


sampler = GpuSampler()
