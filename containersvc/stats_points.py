"""One container's history as plain tuples: the history API's points, and their downsampling.

A day at a 10 s step is 8,640 points. The answer carries them as arrays in one declared order (POINT_FIELDS),
the tuples as they are read and merged here, so that neither a `Bucket` dataclass, nor a model instance, nor a
dict is made a point (docs/benchmarks.md, "Resource monitoring"). The arithmetic is `stats`' (`_merged`),
step for step, so a point's figures are the same to the last bit as the buckets' would be; memory's mean is
given in whole bytes, as it is stored.
"""

from __future__ import annotations

from operator import itemgetter

from containersvc.stats import Bucket

# A point: a `Bucket` without its length, its start as whole seconds since the epoch (UTC), as a plain tuple
# laid out as POINT_FIELDS (a NamedTuple's constructor is a Python function call a point; a tuple is not).
POINT_FIELDS = (
    "at", "samples", "cpu_mean", "cpu_max", "mem_mean", "mem_max", "mem_limit", "net_rx_rate", "net_tx_rate",
    "blk_read_rate", "blk_write_rate", "pids",
)  # fmt: skip
StatsPoint = tuple[int, int, float, float, int, int, int, float, float, float, float, int]
# The figures after `at`: what a stored bucket is read as (the row's columns, see services/stats.py).
POINT_FIGURES = POINT_FIELDS[1:]


def point_of_bucket(bucket: Bucket) -> StatsPoint:
    return (
        int(bucket.start.timestamp()), bucket.samples, bucket.cpu_mean, bucket.cpu_max, round(bucket.mem_mean),
        bucket.mem_max, bucket.mem_limit, bucket.net_rx_rate, bucket.net_tx_rate, bucket.blk_read_rate,
        bucket.blk_write_rate, bucket.pids,
    )  # fmt: skip


def _merged(start: int, parts: list[StatsPoint]) -> StatsPoint:
    """`stats._merged` on tuples: means weighted by sample counts, maxima, the last part's limit."""
    count = sum(part[1] for part in parts)

    def mean(index: int) -> float:
        if len(parts) == 1:
            return float(parts[0][index])  # as stats._merged: one part's mean is its own
        return sum(float(part[index]) * part[1] for part in parts) / count

    return (
        start,
        count,
        mean(2),
        max(part[3] for part in parts),
        round(mean(4)),
        max(part[5] for part in parts),
        parts[-1][6],
        mean(7),
        mean(8),
        mean(9),
        mean(10),
        max(part[11] for part in parts),
    )


def downsample_points(parts: list[StatsPoint], step: int) -> list[StatsPoint]:
    """Parts (oldest first) merged into points of `step` seconds, as `stats.downsample` merges buckets; a part
    that is a step of its own is that step's point as it is (the mean of one part is its own mean)."""
    ats = list(map(itemgetter(0), parts))
    starts = [at - at % step for at in ats]
    if len(set(starts)) == len(starts):
        if starts == ats:
            return parts  # the buckets' own step, as the collector stores them: nothing to remake
        return [(start, *part[1:]) for start, part in zip(starts, parts, strict=True)]
    points: list[StatsPoint] = []
    group: list[StatsPoint] = []
    group_start = 0
    for start, part in zip(starts, parts, strict=True):
        if group and start != group_start:
            points.append(_merged(group_start, group))
            group = []
        group_start = start
        group.append(part)
    if group:
        points.append(_merged(group_start, group))
    return points
