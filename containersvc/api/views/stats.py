"""Resource stats: the latest sample of every container, one container's history, and the node's totals."""

import time

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import stats_selectors
from containersvc.api.serializers import StrictSerializer
from containersvc.api.views.base import ScopedApi
from containersvc.producers import stats_collector
from containersvc.scopes import Scope
from containersvc.stats_points import StatsPoint

RATE = "Bytes per second over the last interval; null on a container's first sample."


class ListContainerStatsQuerySerializer(StrictSerializer):
    sort = serializers.ChoiceField(choices=["name", *stats_selectors.SORT_KEYS], default="cpu")
    order = serializers.ChoiceField(choices=["asc", "desc"], default="desc")


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


class ListContainerStatsResponseSerializer(serializers.Serializer):
    stats = ContainerStatsSerializer(many=True)


class ContainerStatsListApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="listContainerStats",
        parameters=[ListContainerStatsQuerySerializer],
        responses=ListContainerStatsResponseSerializer,
        description=(
            "Extension: the latest resource sample of every running container of this node the caller may see "
            "(taken every CONTAINERSVC_STATS_INTERVAL seconds), sorted; rates are per second."
        ),
    )
    def get(self, request):
        data = self.validated(ListContainerStatsQuerySerializer, request.query_params.dict())
        rows = stats_selectors.container_stats_list(
            actor=request.user, sort=data["sort"], descending=data["order"] == "desc"
        )
        shown = [stats_collector.stats_payload(row.stats, name=row.container.name) for row in rows]
        return Response(ListContainerStatsResponseSerializer({"stats": shown}).data)


class ContainerStatsHistoryQuerySerializer(StrictSerializer):
    id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; default: until less 15 minutes.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; default: now.")
    step = serializers.IntegerField(
        required=False, min_value=1, help_text="Seconds per point; default: the range in about 900 points."
    )

    def validate(self, data):
        if not data.get("id") and not data.get("name"):
            raise serializers.ValidationError("Give the container's id or name.")
        return data


class StatsPointSerializer(serializers.Serializer):
    """A point's shape, for the OpenAPI document: `stats_points_json` writes the points."""

    at = serializers.DateTimeField(help_text="Start of the step.")
    samples = serializers.IntegerField()
    cpuPercentMean = serializers.FloatField()
    cpuPercentMax = serializers.FloatField()
    memoryBytesMean = serializers.IntegerField()
    memoryBytesMax = serializers.IntegerField()
    memoryLimitBytes = serializers.IntegerField()
    netRxBytesPerSecond = serializers.FloatField()
    netTxBytesPerSecond = serializers.FloatField()
    blockReadBytesPerSecond = serializers.FloatField()
    blockWriteBytesPerSecond = serializers.FloatField()
    pids = serializers.IntegerField(help_text="The most at once in the step.")


class ContainerStatsHistoryHeadSerializer(serializers.Serializer):
    """The answer but its points."""

    containerId = serializers.CharField()
    name = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    step = serializers.IntegerField()
    resolutionSeconds = serializers.FloatField(help_text="Seconds between the samples the points summarise.")


class ContainerStatsHistoryResponseSerializer(ContainerStatsHistoryHeadSerializer):
    points = StatsPointSerializer(many=True)


# Every second of an hour as the end of an ISO 8601 UTC time: "MM:SSZ".
MINUTES_SECONDS = tuple(f"{second // 60:02}:{second % 60:02}Z" for second in range(3600))


def stats_points_json(points: list[StatsPoint]) -> list[dict]:
    """The points as StatsPointSerializer would write them, without a DRF field a value: a day at a 10 s step
    is 8,640 points, and the serializer took half of the call (docs/benchmarks.md). The floats are floats and
    the integers integers already (the selector's arithmetic); `at` is written as DRF writes a UTC datetime
    (TIME_ZONE is UTC), its calendar worked out once an hour. tests/unit/test_stats_points_json.py holds this
    to the serializer's JSON."""
    first_hour = points[0][0] - points[0][0] % 3600 if points else 0
    last_hour = points[-1][0] if points else -1  # the points are oldest first
    hour_texts = {
        hour: time.strftime("%Y-%m-%dT%H:", time.gmtime(hour)) for hour in range(first_hour, last_hour + 1, 3600)
    }
    return [
        {
            "at": hour_texts[at - at % 3600] + MINUTES_SECONDS[at % 3600],
            "samples": samples,
            "cpuPercentMean": cpu_mean,
            "cpuPercentMax": cpu_max,
            "memoryBytesMean": round(mem_mean),
            "memoryBytesMax": mem_max,
            "memoryLimitBytes": mem_limit,
            "netRxBytesPerSecond": net_rx_rate,
            "netTxBytesPerSecond": net_tx_rate,
            "blockReadBytesPerSecond": blk_read_rate,
            "blockWriteBytesPerSecond": blk_write_rate,
            "pids": pids,
        }
        for (
            at, samples, cpu_mean, cpu_max, mem_mean, mem_max, mem_limit, net_rx_rate, net_tx_rate, blk_read_rate,
            blk_write_rate, pids,
        ) in points
    ]  # fmt: skip


class ContainerStatsHistoryApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getContainerStatsHistory",
        parameters=[ContainerStatsHistoryQuerySerializer],
        responses=ContainerStatsHistoryResponseSerializer,
        description=(
            "Extension: one container's resource history in steps (mean and max per step), running or removed: "
            "the last 15 minutes at full resolution, then 10 s buckets for 24 h and 1 min buckets for 7 days."
        ),
    )
    def get(self, request):
        data = self.validated(ContainerStatsHistoryQuerySerializer, request.query_params.dict())
        history = stats_selectors.container_stats_history(
            actor=request.user,
            reference=data.get("id") or data["name"],
            since=data.get("since"),
            until=data.get("until"),
            step=data.get("step"),
        )
        head = {
            "containerId": history.container.container_id,
            "name": history.container.name,
            "since": history.since,
            "until": history.until,
            "step": history.step,
            "resolutionSeconds": history.resolution,
        }
        # The renderer (orjson) writes the points' plain values itself: DRF never sees them one by one.
        return Response({**ContainerStatsHistoryHeadSerializer(head).data, "points": stats_points_json(history.points)})


class LoadSerializer(serializers.Serializer):
    one = serializers.FloatField()
    five = serializers.FloatField()
    fifteen = serializers.FloatField()


class DiskSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="The engine's data root (DockerRootDir).")
    totalBytes = serializers.IntegerField()
    usedBytes = serializers.IntegerField()
    freeBytes = serializers.IntegerField()


class ContainersTotalSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    cpuPercent = serializers.FloatField()
    memoryBytes = serializers.IntegerField()
    netRxBytesPerSecond = serializers.FloatField()
    netTxBytesPerSecond = serializers.FloatField()
    blockReadBytesPerSecond = serializers.FloatField()
    blockWriteBytesPerSecond = serializers.FloatField()
    pids = serializers.IntegerField()


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
    containers = ContainersTotalSerializer(help_text="Sums over the running containers' latest samples.")


def _node_json(node: stats_selectors.NodeStats) -> dict:
    total = node.containers
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
        "load": dict(zip(("one", "five", "fifteen"), node.load, strict=True)) if node.load else None,
        "memoryTotalBytes": node.memory_total_bytes,
        "memoryUsedBytes": memory_used,
        "memoryAvailableBytes": node.memory_available_bytes,
        "disk": (
            dict(zip(("totalBytes", "usedBytes", "freeBytes"), node.disk, strict=True)) | {"path": node.disk_path}
            if node.disk
            else None
        ),
        "containers": {
            "running": total.running,
            "cpuPercent": total.cpu_percent,
            "memoryBytes": total.memory_bytes,
            "netRxBytesPerSecond": total.net_rx_rate,
            "netTxBytesPerSecond": total.net_tx_rate,
            "blockReadBytesPerSecond": total.blk_read_rate,
            "blockWriteBytesPerSecond": total.blk_write_rate,
            "pids": total.pids,
        },
    }


class NodeStatsApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getNodeStats",
        responses=NodeStatsSerializer,
        description=(
            "Extension: the node's CPU (all and per core, between the collector's last two samples; null "
            "before it has two), load, memory, the engine's disk, and the sum of its running containers."
        ),
    )
    def get(self, request):
        return Response(NodeStatsSerializer(_node_json(stats_selectors.node_stats())).data)
