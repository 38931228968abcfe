"""Reads of resource stats: the latest sample of every container, one container's history and its charts' frame,
the node's totals."""

import dataclasses
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from containersvc import access, cgroups
from containersvc.engine import ContainerDetails
from containersvc.errors import InvalidRequest, NotFound
from containersvc.models import AlertEvent, AlertKind, Container, ContainerState
from containersvc.producers.stats_collector import collector, disk_usage
from containersvc.sample_history import epoch_micros
from containersvc.services.stats import stats_retentions, stats_stored_points
from containersvc.stats import ContainerStats, HostSample, bucket_of_sample
from containersvc.stats_points import StatsPoint, downsample_points, point_of_bucket

SORT_KEYS = {
    "cpu": lambda s: s.cpu_percent,
    "memory": lambda s: s.memory_bytes,
    "memoryPercent": lambda s: s.memory_percent,
    "netRx": lambda s: s.net_rx_rate,
    "netTx": lambda s: s.net_tx_rate,
    "blockRead": lambda s: s.blk_read_rate,
    "blockWrite": lambda s: s.blk_write_rate,
    "pids": lambda s: s.pids,
}
MAX_POINTS = 10_000
DEFAULT_POINTS = 900
MESSAGE_SORT = "sort must be one of: name, " + ", ".join(SORT_KEYS) + "."
MESSAGE_RANGE_ORDER = "since must be before until."
MESSAGE_RANGE_RETENTION = "since is beyond the stored history: stats are kept for {seconds} seconds."
MESSAGE_TOO_MANY_POINTS = "The range holds more than {limit} steps: use a larger step."


def stats_visible_rows(*, actor) -> QuerySet[Container]:
    """This node's containers `actor` may see."""
    return access.visible_containers(actor=actor, rows=Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID))


# --- the latest samples -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContainerStatsRow:
    container: Container
    stats: ContainerStats


def container_stats_list(*, actor, sort: str = "cpu", descending: bool = True) -> list[ContainerStatsRow]:
    """The newest sample of every running container `actor` may see; unknown values sort last."""
    latest = collector.latest()
    rows = stats_visible_rows(actor=actor).filter(container_id__in=list(latest))
    listed = [ContainerStatsRow(container=row, stats=latest[row.container_id]) for row in rows]
    if sort == "name":
        listed.sort(key=lambda item: item.container.name, reverse=descending)
        return listed
    if sort not in SORT_KEYS:
        raise InvalidRequest(MESSAGE_SORT)
    key = SORT_KEYS[sort]
    known = [item for item in listed if key(item.stats) is not None]
    unknown = [item for item in listed if key(item.stats) is None]
    known.sort(key=lambda item: key(item.stats), reverse=descending)
    return known + sorted(unknown, key=lambda item: item.container.name)


# --- one container's history ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatsHistory:
    container: Container
    since: datetime
    until: datetime
    step: int
    resolution: float  # seconds between the samples the points were made from
    points: list[StatsPoint]


def stats_container_get(*, actor, reference: str) -> Container:
    """This node's container by full id or exact name (the newest of that name), if `actor` may see it."""
    rows = stats_visible_rows(actor=actor)
    found = rows.filter(container_id=reference).first()
    if found is None:
        named = rows.filter(name=reference)
        found = named.exclude(state=ContainerState.REMOVED).first() or named.first()
    if found is None:
        raise NotFound(access.MESSAGE_NOT_FOUND.format(reference=reference))
    return found


def _kept_seconds() -> int:
    return max(retention.keep_seconds for retention in stats_retentions())


def container_stats_history(
    *, actor, reference: str, since: datetime | None, until: datetime | None, step: int | None
) -> StatsHistory:
    """Points of `step` seconds over [since, until), each the mean and max of the samples in it."""
    container = stats_container_get(actor=actor, reference=reference)
    now = timezone.now()
    until = until or now
    since = since or until - timedelta(seconds=settings.CONTAINERSVC_STATS_MEMORY_SECONDS)
    if since >= until:
        raise InvalidRequest(MESSAGE_RANGE_ORDER)
    if since < now - timedelta(seconds=_kept_seconds()):
        raise InvalidRequest(MESSAGE_RANGE_RETENTION.format(seconds=_kept_seconds()))
    span = (until - since).total_seconds()
    if step is None:
        step = max(1, math.ceil(span / DEFAULT_POINTS))
    if span / step > MAX_POINTS:
        raise InvalidRequest(MESSAGE_TOO_MANY_POINTS.format(limit=MAX_POINTS))

    buckets = (bucket_of_sample(sample) for sample in collector.history(container.container_id))
    in_memory = [point_of_bucket(bucket) for bucket in buckets if bucket is not None]
    # Stored buckets up to where memory begins, then memory: full resolution wherever it reaches.
    memory_start = in_memory[0][0] if in_memory else None
    covering = [r for r in stats_retentions() if since >= now - timedelta(seconds=r.keep_seconds)]
    chosen = ([r for r in covering if r.bucket_seconds <= step] or covering[:1])[-1]
    length = chosen.bucket_seconds
    stored: list[StatsPoint] = []
    if memory_start is None or memory_start > since.timestamp():
        stored_to = until if memory_start is None else min(until, datetime.fromtimestamp(memory_start, tz=UTC))
        stored = stats_stored_points(container.pk, length, since, stored_to)
        while memory_start is not None and stored and stored[-1][0] + length > memory_start:
            stored.pop()  # the bucket memory's first seconds fall in: memory has them at full resolution
    since_at, until_at = since.timestamp(), until.timestamp()
    stored_until = stored[-1][0] + length if stored else since_at
    parts = stored + [point for point in in_memory if stored_until <= point[0] < until_at]
    resolution = float(length) if stored else float(settings.CONTAINERSVC_STATS_INTERVAL)
    points = downsample_points(parts, step)  # oldest first: those in (since - step, until) are a slice of them
    first = bisect_right(points, since_at - step, key=itemgetter(0))
    points = points[first : bisect_left(points, until_at, key=itemgetter(0))]
    return StatsHistory(container=container, since=since, until=until, step=step, resolution=resolution, points=points)


# --- the container page's charts -------------------------------------------------------------------------
# The page's ranges (key, label, seconds). Up to LIVE_SECONDS a range goes on with the live samples; a longer
# one is drawn from history alone (a second is less than a pixel there).
CHART_RANGES = (("15m", "15 min", 15 * 60), ("1h", "1 h", 3600), ("24h", "24 h", 24 * 3600), ("7d", "7 d", 7 * 86400))
CHART_POINTS = 1500  # at most this many points a range: a chart is a few hundred pixels wide
LIVE_SECONDS = 3600
# A range as long as a retention asks a minute less, so that the request's own latency never makes it reach past
# what is kept (which is a 400).
RETENTION_SLACK_SECONDS = 60
MAX_OOM_KILLS = 100


@dataclass(frozen=True, slots=True)
class ChartRange:
    key: str
    label: str
    seconds: int
    step: int  # seconds per point asked of the history
    live: bool


def stats_chart_ranges() -> list[ChartRange]:
    """The ranges the history can fill, each at the finest step it holds for the whole range (memory, then the
    stored buckets), coarser where that would be more than CHART_POINTS points."""
    ranges = []
    for key, label, span in CHART_RANGES:
        if span <= settings.CONTAINERSVC_STATS_MEMORY_SECONDS:
            seconds, resolution = span, max(1, math.ceil(settings.CONTAINERSVC_STATS_INTERVAL))
        else:
            covering = [retention for retention in stats_retentions() if retention.keep_seconds >= span]
            if not covering:
                continue  # not kept that long
            seconds = min(span, covering[0].keep_seconds - RETENTION_SLACK_SECONDS)
            resolution = covering[0].bucket_seconds
        step = resolution * math.ceil(seconds / resolution / CHART_POINTS)
        ranges.append(ChartRange(key=key, label=label, seconds=seconds, step=step, live=span <= LIVE_SECONDS))
    return ranges


def stats_oom_kills(*, details: ContainerDetails) -> list[datetime]:
    """When the kernel killed the container for lack of memory, oldest first, within the kept history: its last
    exit from the engine's inspect (the exact time), and earlier kills where an OOM-kill alert rule fired on it
    (the engine forgets a kill once the container starts again). `details` is of a container the caller may see."""
    last = details.finished_at if details.oom_killed else None
    fired = AlertEvent.objects.filter(
        container__node_id=settings.CONTAINERSVC_NODE_ID,
        container__container_id=details.summary.id,
        rule__kind=AlertKind.OOM_KILLED,
        fired_at__gte=timezone.now() - timedelta(seconds=_kept_seconds()),
    )
    if last is not None:
        fired = fired.filter(fired_at__lt=last)  # the rule fires after the kill it saw: that one is `last`
    earlier = sorted(fired.order_by("-fired_at").values_list("fired_at", flat=True)[:MAX_OOM_KILLS])
    return earlier + ([last] if last is not None else [])


def stats_container_charts(*, details: ContainerDetails) -> dict:
    """What the container page's charts take from the page (the points come from the history API): the ranges,
    the ceilings (the container's limits, else the host's CPUs), the OOM kills, and the server's clock, which the
    page's history requests and live points are timed by."""
    return {
        "now": timezone.now(),
        "intervalSeconds": settings.CONTAINERSVC_STATS_INTERVAL,
        "cores": cgroups.online_cpus(),
        "cpuLimit": details.cpus or None,
        "memoryLimitBytes": details.memory_bytes or None,
        "oomKills": stats_oom_kills(details=details),
        "ranges": [dataclasses.asdict(chart_range) for chart_range in stats_chart_ranges()],
    }


# --- the node ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContainersTotal:
    running: int
    cpu_percent: float
    memory_bytes: int
    net_rx_rate: float
    net_tx_rate: float
    blk_read_rate: float
    blk_write_rate: float
    pids: int


@dataclass(frozen=True, slots=True)
class NodeStats:
    node_id: str
    taken_at: datetime
    source: str | None
    cpu_count: int
    cpu_percent: float | None
    per_cpu_percent: tuple[float | None, ...]
    load: tuple[float, float, float] | None
    memory_total_bytes: int | None
    memory_available_bytes: int | None
    disk_path: str | None
    disk: tuple[int, int, int] | None  # total, used, free
    containers: ContainersTotal


def _visible_samples(*, actor, latest: dict[str, ContainerStats]) -> list[ContainerStats]:
    return [latest[container_id] for container_id in access.visible_ids(actor=actor, container_ids=latest)]


def _containers_total(samples: list[ContainerStats]) -> ContainersTotal:
    return ContainersTotal(
        running=len(samples),
        cpu_percent=sum(s.cpu_percent or 0.0 for s in samples),
        memory_bytes=sum(s.memory_bytes for s in samples),
        net_rx_rate=sum(s.net_rx_rate or 0.0 for s in samples),
        net_tx_rate=sum(s.net_tx_rate or 0.0 for s in samples),
        blk_read_rate=sum(s.blk_read_rate or 0.0 for s in samples),
        blk_write_rate=sum(s.blk_write_rate or 0.0 for s in samples),
        pids=sum(s.pids for s in samples),
    )


def node_stats(*, actor) -> NodeStats:
    """Host CPU from the collector's last two rounds (None before it has two); the rest read now. The containers'
    sum is over those `actor` may see, as the containers page's is."""
    host: HostSample | None = collector.host
    try:
        counters = cgroups.host_counters()
    except (cgroups.CgroupUnreadable, ValueError, IndexError):
        counters = None
    data_root = collector.data_root()
    return NodeStats(
        node_id=settings.CONTAINERSVC_NODE_ID,
        taken_at=timezone.now(),
        source=collector.source,
        cpu_count=cgroups.online_cpus(),
        cpu_percent=host.cpu_percent if host else None,
        per_cpu_percent=host.per_cpu_percent if host else (),
        load=counters.load if counters else None,
        memory_total_bytes=counters.memory_total_bytes if counters else None,
        memory_available_bytes=counters.memory_available_bytes if counters else None,
        disk_path=data_root,
        disk=disk_usage(data_root),
        containers=_containers_total(_visible_samples(actor=actor, latest=collector.latest())),
    )


# --- the node page's back series ----------------------------------------------------------------------------
# A point: the round's moment (seconds since the epoch, UTC), the host's CPU % (None for the first round), the
# host's memory used (bytes), and the CPU % of the running containers the caller may see, summed.
NODE_RECENT_FIELDS = ("at", "cpuPercent", "memoryUsedBytes", "containersCpuPercent")
NodeRecentPoint = tuple[float, float | None, int, float]


def node_stats_recent(*, actor) -> list[NodeRecentPoint]:
    """The collector's rounds in memory (CONTAINERSVC_STATS_MEMORY_SECONDS), oldest first: what the node page's
    charts draw before its socket's first round. The containers' sum is over those running now (a container that
    ended within the window is no longer in memory)."""
    hosts = collector.host_recent()
    sums = collector.containers_cpu(access.visible_ids(actor=actor, container_ids=collector.latest()))
    return [
        (
            host.taken_at.timestamp(),
            host.cpu_percent,
            host.counters.memory_total_bytes - host.counters.memory_available_bytes,
            sums.get(epoch_micros(host.taken_at), 0.0),
        )
        for host in hosts
    ]
