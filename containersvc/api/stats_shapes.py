"""The resource stats wire shapes (camelCase), each declared once as a serializer with the function that writes it
beside it: the API (GET containers/stats and node/stats), the stats socket (ws/stats/, each "stats.batch" message:
its `node` and each row of its `stats`) and the dashboard's stats pages all send these.

The serializers are declared for the document; the functions below them write the shapes (as container_json does
for ContainerSerializer). The socket-only shape (HostStatsSerializer) reaches the document through
api/socket_shapes.py. tests/unit/test_stats_shapes.py holds the two to each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework import serializers

from containersvc.stats import ContainerStats, HostSample

if TYPE_CHECKING:  # stats_selectors imports the collector, which imports this module
    from containersvc.stats_selectors import ContainersTotal, NodeStats

RATE = "Bytes per second over the last interval; null on a container's first sample."


class ContainerStatsSerializer(serializers.Serializer):
    containerId = serializers.CharField()
    name = serializers.CharField()
    nodeId = serializers.CharField()
    takenAt = serializers.DateTimeField()
    # The stubs type Serializer.source (a Field attribute); a declared field of that name is fine in DRF.
    source = serializers.ChoiceField(choices=["cgroup", "engine"])  # type: ignore[assignment]
    cpuPercent = serializers.FloatField(allow_null=True, help_text="100 is one core, as docker stats.")
    memoryBytes = serializers.IntegerField(help_text="Usage without inactive page cache, as docker stats.")
    memoryLimitBytes = serializers.IntegerField(help_text="The container's limit, or the host's memory.")
    memoryPercent = serializers.FloatField()
    netRxBytes = serializers.IntegerField(help_text="Received since start, all interfaces but loopback.")
    netTxBytes = serializers.IntegerField()
    netRxBytesPerSecond = serializers.FloatField(allow_null=True, help_text=RATE)
    netTxBytesPerSecond = serializers.FloatField(allow_null=True, help_text=RATE)
    blockReadBytes = serializers.IntegerField()
    blockWriteBytes = serializers.IntegerField()
    blockReadBytesPerSecond = serializers.FloatField(allow_null=True, help_text=RATE)
    blockWriteBytesPerSecond = serializers.FloatField(allow_null=True, help_text=RATE)
    pids = serializers.IntegerField()


def stats_payload(sample: ContainerStats, *, name: str) -> dict:
    """A container's sample in ContainerStatsSerializer's shape; `name`: the container's."""
    return {
        "containerId": sample.container_id,
        "name": name,
        "nodeId": settings.CONTAINERSVC_NODE_ID,
        "takenAt": sample.taken_at.isoformat(),
        "source": sample.source,
        "cpuPercent": sample.cpu_percent,
        "memoryBytes": sample.memory_bytes,
        "memoryLimitBytes": sample.memory_limit_bytes,
        "memoryPercent": sample.memory_percent,
        "netRxBytes": sample.net_rx_bytes,
        "netTxBytes": sample.net_tx_bytes,
        "netRxBytesPerSecond": sample.net_rx_rate,
        "netTxBytesPerSecond": sample.net_tx_rate,
        "blockReadBytes": sample.blk_read_bytes,
        "blockWriteBytes": sample.blk_write_bytes,
        "blockReadBytesPerSecond": sample.blk_read_rate,
        "blockWriteBytesPerSecond": sample.blk_write_rate,
        "pids": sample.pids,
    }


class LoadSerializer(serializers.Serializer):
    one = serializers.FloatField()
    five = serializers.FloatField()
    fifteen = serializers.FloatField()


def load_payload(load: tuple[float, float, float] | None) -> dict | None:
    """The load averages in LoadSerializer's shape; None where they are not known."""
    return dict(zip(("one", "five", "fifteen"), load, strict=True)) if load else None


class DiskSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="The engine's data root (DockerRootDir).")
    totalBytes = serializers.IntegerField()
    usedBytes = serializers.IntegerField()
    freeBytes = serializers.IntegerField()


def disk_payload(path: str | None, disk: tuple[int, int, int] | None) -> dict | None:
    """The engine's data root and its file system's bytes in DiskSerializer's shape; None where this process cannot
    read them."""
    return dict(zip(("totalBytes", "usedBytes", "freeBytes"), disk, strict=True)) | {"path": path} if disk else None


class HostStatsSerializer(serializers.Serializer):
    """The host of a ws/stats/ "stats.batch" message (its `node`): the collector's last round."""

    cpuPercent = serializers.FloatField(
        allow_null=True, help_text="Of all CPUs (100 is every CPU busy); null before the collector has two rounds."
    )
    cpuPercentPerCore = serializers.ListField(child=serializers.FloatField(allow_null=True))
    load = LoadSerializer(allow_null=True)
    memoryTotalBytes = serializers.IntegerField(allow_null=True)
    memoryAvailableBytes = serializers.IntegerField(allow_null=True)
    disk = DiskSerializer(allow_null=True, help_text="null where the data root is not readable here.")


def host_payload(host: HostSample | None) -> dict:
    """The host's CPU between the last two rounds, its load, memory and the engine's disk, in HostStatsSerializer's
    shape (None before the first round)."""
    counters = host.counters if host else None
    return {
        "cpuPercent": host.cpu_percent if host else None,
        "cpuPercentPerCore": list(host.per_cpu_percent) if host else [],
        "load": load_payload(counters.load if counters else None),
        "memoryTotalBytes": counters.memory_total_bytes if counters else None,
        "memoryAvailableBytes": counters.memory_available_bytes if counters else None,
        "disk": disk_payload(host.disk_path, host.disk) if host else None,
    }


class ContainersTotalSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    cpuPercent = serializers.FloatField()
    memoryBytes = serializers.IntegerField()
    netRxBytesPerSecond = serializers.FloatField()
    netTxBytesPerSecond = serializers.FloatField()
    blockReadBytesPerSecond = serializers.FloatField()
    blockWriteBytesPerSecond = serializers.FloatField()
    pids = serializers.IntegerField()


def containers_total_payload(total: ContainersTotal) -> dict:
    """The running containers' sums in ContainersTotalSerializer's shape."""
    return {
        "running": total.running,
        "cpuPercent": total.cpu_percent,
        "memoryBytes": total.memory_bytes,
        "netRxBytesPerSecond": total.net_rx_rate,
        "netTxBytesPerSecond": total.net_tx_rate,
        "blockReadBytesPerSecond": total.blk_read_rate,
        "blockWriteBytesPerSecond": total.blk_write_rate,
        "pids": total.pids,
    }


class NodeStatsSerializer(serializers.Serializer):
    nodeId = serializers.CharField()
    takenAt = serializers.DateTimeField()
    # The stubs type Serializer.source (a Field attribute); a declared field of that name is fine in DRF.
    source = serializers.CharField(allow_null=True, help_text="Where container stats come from: cgroup or engine.")  # type: ignore[assignment]
    cpuCount = serializers.IntegerField()
    cpuPercent = serializers.FloatField(allow_null=True, help_text="Of all CPUs (100 is every CPU busy).")
    cpuPercentPerCore = serializers.ListField(child=serializers.FloatField(allow_null=True))
    load = LoadSerializer(allow_null=True)
    memoryTotalBytes = serializers.IntegerField(allow_null=True)
    memoryUsedBytes = serializers.IntegerField(allow_null=True)
    memoryAvailableBytes = serializers.IntegerField(allow_null=True)
    disk = DiskSerializer(allow_null=True, help_text="null where the data root is not readable here.")
    containers = ContainersTotalSerializer(
        help_text="Sums over the latest samples of the running containers the caller may see."
    )


def node_payload(node: NodeStats) -> dict:
    """The node's numbers in NodeStatsSerializer's shape (takenAt a datetime: the serializer writes it)."""
    memory_used = (
        node.memory_total_bytes - node.memory_available_bytes
        if node.memory_total_bytes is not None and node.memory_available_bytes is not None
        else None
    )
    return {
        "nodeId": node.node_id,
        "takenAt": node.taken_at,
        "source": node.source,
        "cpuCount": node.cpu_count,
        "cpuPercent": node.cpu_percent,
        "cpuPercentPerCore": list(node.per_cpu_percent),
        "load": load_payload(node.load),
        "memoryTotalBytes": node.memory_total_bytes,
        "memoryUsedBytes": memory_used,
        "memoryAvailableBytes": node.memory_available_bytes,
        "disk": disk_payload(node.disk_path, node.disk),
        "containers": containers_total_payload(node.containers),
    }
