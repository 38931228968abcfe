"""Resource stats: the latest sample of every container, one container's history, the node's totals and its
last minutes."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import stats_selectors
from containersvc.api.serializers import StrictSerializer
from containersvc.api.stats_shapes import ContainerStatsSerializer, NodeStatsSerializer, node_payload, stats_payload
from containersvc.api.views.base import ScopedApi
from containersvc.scopes import Scope
from containersvc.stats_points import POINT_FIELDS


class ListContainerStatsQuerySerializer(StrictSerializer):
    sort = serializers.ChoiceField(choices=["name", *stats_selectors.SORT_KEYS], default="cpu")
    order = serializers.ChoiceField(choices=["asc", "desc"], default="desc")


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
        shown = [stats_payload(row.stats, name=row.container.name) for row in rows]
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


# The answer's name of each of a point's fields; the arrays are in stats_points.POINT_FIELDS's order.
WIRE_NAME = {
    "at": "at", "samples": "samples", "cpu_mean": "cpuPercentMean", "cpu_max": "cpuPercentMax",
    "mem_mean": "memoryBytesMean", "mem_max": "memoryBytesMax", "mem_limit": "memoryLimitBytes",
    "net_rx_rate": "netRxBytesPerSecond", "net_tx_rate": "netTxBytesPerSecond",
    "blk_read_rate": "blockReadBytesPerSecond", "blk_write_rate": "blockWriteBytesPerSecond", "pids": "pids",
}  # fmt: skip
POINT_KEYS = tuple(WIRE_NAME[field] for field in POINT_FIELDS)
POINTS_HELP = (
    "One array a step, oldest first, its values in the order of `fields`: at (the step's start, whole seconds since "
    "the epoch, UTC), samples, CPU % mean and max (100 is one core), memory bytes mean and max (without inactive page "
    "cache) and limit, network receive and send and block read and write rates (bytes per second, means), and the "
    "most pids at once."
)


class ContainerStatsHistoryHeadSerializer(serializers.Serializer):
    """The answer but its points."""

    containerId = serializers.CharField()
    name = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    step = serializers.IntegerField()
    resolutionSeconds = serializers.FloatField(help_text="Seconds between the samples the points summarise.")
    fields = serializers.ListField(  # type: ignore[assignment]  # a Serializer attribute's name, fine as a field
        child=serializers.ChoiceField(choices=POINT_KEYS), help_text="The names of a point's values, in order."
    )


class ContainerStatsHistoryResponseSerializer(ContainerStatsHistoryHeadSerializer):
    points = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), help_text=POINTS_HELP)


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
            "fields": POINT_KEYS,
        }
        # The points are tuples of plain numbers already: the renderer (orjson) writes them as they are, with no
        # dict, no DRF field and no datetime a point (a day at a 10 s step is 8,640 of them).
        return Response({**ContainerStatsHistoryHeadSerializer(head).data, "points": history.points})


class NodeStatsApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getNodeStats",
        responses=NodeStatsSerializer,
        description=(
            "Extension: the node's CPU (all and per core, between the collector's last two samples; null "
            "before it has two), load, memory, the engine's disk, and the sum of the running containers the caller "
            "may see."
        ),
    )
    def get(self, request):
        return Response(NodeStatsSerializer(node_payload(stats_selectors.node_stats(actor=request.user))).data)


class NodeStatsRecentSerializer(serializers.Serializer):
    intervalSeconds = serializers.FloatField(help_text="Seconds between two rounds of the collector.")
    fields = serializers.ListField(  # type: ignore[assignment]  # a Serializer attribute's name, fine as a field
        child=serializers.ChoiceField(choices=stats_selectors.NODE_RECENT_FIELDS),
        help_text="The names of a point's values, in order.",
    )
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text=(
            "One array a round, oldest first, its values in the order of `fields`: at (seconds since the epoch, "
            "UTC), the host's CPU % (null for the collector's first round), the host's memory used (bytes), and "
            "the CPU % of the running containers the caller may see, summed (100 is one core)."
        ),
    )


class NodeStatsRecentApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getNodeStatsRecent",
        responses=NodeStatsRecentSerializer,
        description=(
            "Extension: the node's last 15 minutes as the collector sampled them (in memory, not stored): the "
            "host's CPU and memory and the running containers' CPU, a point a round; what the node page draws "
            "before the live rounds of ws/stats/."
        ),
    )
    def get(self, request):
        return Response(
            {
                "intervalSeconds": settings.CONTAINERSVC_STATS_INTERVAL,
                "fields": stats_selectors.NODE_RECENT_FIELDS,
                "points": stats_selectors.node_stats_recent(actor=request.user),
            }
        )
