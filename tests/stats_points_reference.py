"""What the history API answered for its points before they were read and written as tuples: `Bucket`s through
`stats.downsample`, each point written field by field in the answer's declared order, rendered by the API's
renderer. The tests hold the fast path to it byte for byte."""

import random
from datetime import UTC, datetime, timedelta

from containersvc.api.renderers import OrjsonRenderer
from containersvc.stats import Bucket, downsample


def reference_points_json(buckets: list[Bucket], step: int) -> bytes:
    return _serialized(downsample(buckets, step))


def _serialized(points: list[Bucket]) -> bytes:
    shown = [
        [
            int(point.start.timestamp()),
            point.samples,
            point.cpu_mean,
            point.cpu_max,
            round(point.mem_mean),
            point.mem_max,
            point.mem_limit,
            point.net_rx_rate,
            point.net_tx_rate,
            point.blk_read_rate,
            point.blk_write_rate,
            point.pids,
        ]
        for point in points
    ]
    return OrjsonRenderer().render(shown)


START = datetime(2026, 11, 30, 23, 58, 0, tzinfo=UTC)  # the points cross midnight


def awkward_buckets(seconds: int, count: int, start: datetime = START) -> list[Bucket]:
    """Buckets with awkward figures: means whose `x * n / n` is not x, big and tiny numbers, ragged counts."""
    rng = random.Random(seconds)
    buckets = []
    for number in range(count):
        samples = rng.choice([1, 3, 7, seconds])
        buckets.append(
            Bucket(
                start=start + timedelta(seconds=number * seconds),
                seconds=seconds,
                samples=samples,
                cpu_mean=rng.choice([0.1, 1 / 3, 100.0, 0.0, rng.random() * 400]),
                cpu_max=rng.random() * 400,
                mem_mean=rng.randrange(2**40) + rng.random(),
                mem_max=rng.randrange(2**40),
                mem_limit=rng.choice([64 * 1024**2, 8 * 1024**3]),
                net_rx_rate=rng.choice([0.0, 1e-7, 1e17, rng.random() * 1e6]),
                net_tx_rate=rng.random() * 1e6,
                blk_read_rate=rng.choice([0.1, 2.5e-5]),
                blk_write_rate=rng.random(),
                pids=rng.randrange(1, 4000),
            )
        )
    return buckets


def reference_history_points(
    *, stored: list[Bucket], memory: list[Bucket], since: datetime, until: datetime, step: int, bucket_seconds: int
) -> bytes:
    """The points the history selector made before it read tuples, from all of one resolution's stored buckets
    and the buckets of the samples in memory (its algorithm, line for line, on `Bucket`s)."""
    memory_start = memory[0].start if memory else None
    parts: list[Bucket] = []
    if memory_start is None or memory_start > since:
        read_until = min(until, memory_start or until)
        parts = [b for b in stored if since - timedelta(seconds=bucket_seconds) <= b.start < read_until]
        if memory_start is not None:
            parts = [b for b in parts if b.start + timedelta(seconds=b.seconds) <= memory_start]
    stored_until = parts[-1].start + timedelta(seconds=bucket_seconds) if parts else since
    parts = parts + [bucket for bucket in memory if stored_until <= bucket.start < until]
    return _serialized([b for b in downsample(parts, step) if since - timedelta(seconds=step) < b.start < until])
