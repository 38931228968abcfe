"""Closed buckets packed into blocks: a stored day of one container is read as a few dozen values, not 8,640 rows.

The collector writes each closed bucket as a row (a statement a round for every container). Once a block's
time is well past, its rows are packed into one `ContainerStatsBlock` (services/stats.py): up to BLOCK_BUCKETS
consecutive buckets of one container and one resolution, as fixed-size little-endian records laid out as
StatsPoint. Reading a block back is one `struct.iter_unpack`, which makes the very tuples the history answers
with; reading the same buckets as rows made the database driver build each of their 12 values one by one, and
took most of a day's history call (docs/stats.md, "History").
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Iterable
from operator import itemgetter

from containersvc.stats_points import StatsPoint

BLOCK_BUCKETS = 360  # an hour of 10 s buckets, six hours of 1 min ones
# StatsPoint's types in its order: start (s since the epoch), samples, CPU mean and max, memory mean, max and
# limit (bytes), the four rates, PIDs. Floats are stored as the doubles they are, so they come back to the bit.
RECORD = struct.Struct("<qIddqqqddddI")


def block_seconds(resolution: int) -> int:
    return BLOCK_BUCKETS * resolution


def block_start_of(at: int, resolution: int) -> int:
    """The start (s since the epoch) of the block a bucket starting at `at` belongs in."""
    return at - at % block_seconds(resolution)


def pack_points(points: Iterable[StatsPoint]) -> bytes:
    return b"".join(RECORD.pack(*point) for point in points)


def unpack_points(packed: bytes | memoryview) -> list[StatsPoint]:
    return list(RECORD.iter_unpack(packed))


def merged_points(*sources: Iterable[StatsPoint]) -> list[StatsPoint]:
    """Points of several sources, oldest first; where two hold the same start, the later source's is kept."""
    by_start = {point[0]: point for source in sources for point in source}
    return sorted(by_start.values(), key=itemgetter(0))


def points_between(points: list[StatsPoint], since: float, until: float) -> list[StatsPoint]:
    """The points (oldest first) that start in [since, until)."""
    starts = list(map(itemgetter(0), points))
    return points[bisect_left(starts, since) : bisect_left(starts, until)]
