"""Resource numbers as `docker stats` defines them, from two readings of raw counters; and their buckets.

CPU % is Δ container CPU time / Δ system CPU time × online CPUs × 100 (100 % is one core). The engine's
one-shot stats carry the system time; on the cgroup path Δ wall clock × online CPUs is the same denominator,
so the percentage is Δ container CPU time / Δ wall clock × 100. Memory is usage less inactive page cache
(docker/cli's calculateMemUsageUnixNoCache). Network and block IO are cumulative bytes with rates per second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby

from containersvc.cgroups import HostCounters
from containersvc.engine import StatsCounters


# Reading and ContainerStats are not frozen: a collector makes one of each per container a round, and a
# frozen dataclass's __init__ costs several times a plain one's (docs/stats.md, "What it costs").
@dataclass(slots=True)
class Reading(StatsCounters):
    """One container's counters at one moment, from the cgroup files or the engine: when and how they were read."""

    container_id: str
    at: datetime
    monotonic_ns: int
    source: str  # "cgroup" or "engine"
    system_cpu_ns: int | None  # the host's CPU time (engine); None: Δ wall clock × online CPUs stands in


@dataclass(slots=True)
class ContainerStats:
    """One sample of one container; rates and CPU are None on its first reading (nothing to compare with)."""

    container_id: str
    taken_at: datetime
    source: str
    cpu_percent: float | None
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    net_rx_bytes: int
    net_tx_bytes: int
    net_rx_rate: float | None
    net_tx_rate: float | None
    blk_read_bytes: int
    blk_write_bytes: int
    blk_read_rate: float | None
    blk_write_rate: float | None
    pids: int


def memory_used(*, usage: int, inactive_file: int) -> int:
    """Usage without inactive page cache; the cache is left in when the kernel's figures disagree."""
    return usage - inactive_file if inactive_file < usage else usage


def _rate(before: int, after: int, seconds: float) -> float:
    return (after - before) / seconds if after > before else 0.0  # max(0, Δ) / seconds, without a call


def is_restart(previous: Reading, current: Reading) -> bool:
    """Counters went back: a new cgroup or network namespace under the same id (a restart)."""
    return (
        current.cpu_usage_ns < previous.cpu_usage_ns
        or current.net_rx_bytes < previous.net_rx_bytes
        or current.net_tx_bytes < previous.net_tx_bytes
    )


def cpu_percent(previous: Reading, current: Reading) -> float | None:
    cpu_delta = current.cpu_usage_ns - previous.cpu_usage_ns
    if current.system_cpu_ns is not None and previous.system_cpu_ns is not None:
        system_delta = current.system_cpu_ns - previous.system_cpu_ns
        if system_delta <= 0 or cpu_delta < 0:
            return None
        return cpu_delta / system_delta * current.online_cpus * 100.0
    wall_delta = current.monotonic_ns - previous.monotonic_ns
    if wall_delta <= 0 or cpu_delta < 0:
        return None
    return cpu_delta / wall_delta * 100.0


def container_stats_from(*, previous: Reading | None, current: Reading) -> ContainerStats:
    """One sample (a collector makes one per container a round: written out field by field, it is cheap)."""
    memory = memory_used(usage=current.memory_usage_bytes, inactive_file=current.memory_inactive_file_bytes)
    limit = current.memory_limit_bytes
    seconds = 0.0
    if previous is not None and not is_restart(previous, current):
        seconds = (current.monotonic_ns - previous.monotonic_ns) / 1e9
    cpu = net_rx_rate = net_tx_rate = blk_read_rate = blk_write_rate = None
    if previous is not None and seconds > 0:
        cpu = cpu_percent(previous, current)
        net_rx_rate = _rate(previous.net_rx_bytes, current.net_rx_bytes, seconds)
        net_tx_rate = _rate(previous.net_tx_bytes, current.net_tx_bytes, seconds)
        blk_read_rate = _rate(previous.blk_read_bytes, current.blk_read_bytes, seconds)
        blk_write_rate = _rate(previous.blk_write_bytes, current.blk_write_bytes, seconds)
    return ContainerStats(
        container_id=current.container_id,
        taken_at=current.at,
        source=current.source,
        cpu_percent=cpu,
        memory_bytes=memory,
        memory_limit_bytes=limit,
        memory_percent=memory / limit * 100.0 if limit > 0 else 0.0,
        net_rx_bytes=current.net_rx_bytes,
        net_tx_bytes=current.net_tx_bytes,
        net_rx_rate=net_rx_rate,
        net_tx_rate=net_tx_rate,
        blk_read_bytes=current.blk_read_bytes,
        blk_write_bytes=current.blk_write_bytes,
        blk_read_rate=blk_read_rate,
        blk_write_rate=blk_write_rate,
        pids=current.pids,
    )


# --- buckets: downsampled history -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bucket:
    """Samples summarised over [start, start + seconds): means and maxima; rates are means."""

    start: datetime
    seconds: int
    samples: int
    cpu_mean: float
    cpu_max: float
    mem_mean: float
    mem_max: int
    mem_limit: int
    net_rx_rate: float
    net_tx_rate: float
    blk_read_rate: float
    blk_write_rate: float
    pids: int


def bucket_start(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _merged(start: datetime, seconds: int, parts: list[Bucket]) -> Bucket:
    count = sum(part.samples for part in parts)

    def mean(field: str) -> float:
        if len(parts) == 1:
            return float(getattr(parts[0], field))  # its own mean, not (mean × n) / n, which can differ in the last bit
        return sum(getattr(part, field) * part.samples for part in parts) / count

    return Bucket(
        start=start,
        seconds=seconds,
        samples=count,
        cpu_mean=mean("cpu_mean"),
        cpu_max=max(part.cpu_max for part in parts),
        mem_mean=mean("mem_mean"),
        mem_max=max(part.mem_max for part in parts),
        mem_limit=parts[-1].mem_limit,
        net_rx_rate=mean("net_rx_rate"),
        net_tx_rate=mean("net_tx_rate"),
        blk_read_rate=mean("blk_read_rate"),
        blk_write_rate=mean("blk_write_rate"),
        pids=max(part.pids for part in parts),
    )


def bucket_of_sample(sample: ContainerStats, seconds: int = 1) -> Bucket | None:
    """A sample as a one-sample bucket; None for a first reading, which has no CPU or rates yet."""
    if sample.cpu_percent is None:
        return None
    return Bucket(
        start=bucket_start(sample.taken_at, seconds),
        seconds=seconds,
        samples=1,
        cpu_mean=sample.cpu_percent,
        cpu_max=sample.cpu_percent,
        mem_mean=float(sample.memory_bytes),
        mem_max=sample.memory_bytes,
        mem_limit=sample.memory_limit_bytes,
        net_rx_rate=sample.net_rx_rate or 0.0,
        net_tx_rate=sample.net_tx_rate or 0.0,
        blk_read_rate=sample.blk_read_rate or 0.0,
        blk_write_rate=sample.blk_write_rate or 0.0,
        pids=sample.pids,
    )


def downsample(buckets: Iterable[Bucket], seconds: int) -> list[Bucket]:
    """Buckets (oldest first) merged into buckets of `seconds`, weighted by their sample counts."""
    groups = groupby(buckets, key=lambda bucket: bucket_start(bucket.start, seconds))
    return [_merged(start, seconds, list(group)) for start, group in groups]


class BucketBuilder:
    """Folds one container's samples into buckets of one length; hands back each bucket as it closes.

    It keeps running sums rather than a part per sample: a collector adds every container's sample each
    round to each of its resolutions. The bucket is what downsample() would make of one-sample buckets: the
    same sums in the same order, so the same floats.
    """

    __slots__ = (
        "_blk_read_sum",
        "_blk_write_sum",
        "_cpu_max",
        "_cpu_sum",
        "_epoch",
        "_mem_limit",
        "_mem_max",
        "_mem_sum",
        "_net_rx_sum",
        "_net_tx_sum",
        "_pids",
        "_samples",
        "_start",
        "seconds",
    )

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._epoch: int | None = None  # the bucket being filled: its start in epoch seconds
        self._start: datetime | None = None
        self._samples = 0
        self._cpu_sum = self._cpu_max = self._mem_sum = 0.0
        self._mem_max = self._mem_limit = self._pids = 0
        self._net_rx_sum = self._net_tx_sum = self._blk_read_sum = self._blk_write_sum = 0.0

    def add(self, sample: ContainerStats) -> Bucket | None:
        cpu = sample.cpu_percent
        if cpu is None:
            return None  # a first reading: no CPU or rates yet
        epoch = int(sample.taken_at.timestamp())
        epoch -= epoch % self.seconds
        closed = None
        if epoch != self._epoch:
            closed = self.close()
            self._epoch = epoch
            self._start = datetime.fromtimestamp(epoch, tz=UTC)
            self._cpu_max, self._mem_max, self._pids = cpu, sample.memory_bytes, sample.pids
        else:  # max() as comparisons: this runs for every container and resolution each round
            memory, pids = sample.memory_bytes, sample.pids
            if cpu > self._cpu_max:
                self._cpu_max = cpu
            if memory > self._mem_max:
                self._mem_max = memory
            if pids > self._pids:
                self._pids = pids
        self._samples += 1
        self._cpu_sum += cpu
        self._mem_sum += float(sample.memory_bytes)
        self._mem_limit = sample.memory_limit_bytes
        self._net_rx_sum += sample.net_rx_rate or 0.0
        self._net_tx_sum += sample.net_tx_rate or 0.0
        self._blk_read_sum += sample.blk_read_rate or 0.0
        self._blk_write_sum += sample.blk_write_rate or 0.0
        return closed

    def close(self) -> Bucket | None:
        """The bucket being filled, ended now (the container stopped, or the collector does)."""
        if self._start is None or not self._samples:
            return None
        count = self._samples
        bucket = Bucket(
            start=self._start,
            seconds=self.seconds,
            samples=count,
            cpu_mean=self._cpu_sum / count,
            cpu_max=self._cpu_max,
            mem_mean=self._mem_sum / count,
            mem_max=self._mem_max,
            mem_limit=self._mem_limit,
            net_rx_rate=self._net_rx_sum / count,
            net_tx_rate=self._net_tx_sum / count,
            blk_read_rate=self._blk_read_sum / count,
            blk_write_rate=self._blk_write_sum / count,
            pids=self._pids,
        )
        self._epoch = self._start = None
        self._samples = 0
        self._cpu_sum = self._mem_sum = 0.0
        self._net_rx_sum = self._net_tx_sum = self._blk_read_sum = self._blk_write_sum = 0.0
        return bucket


# --- the node ---------------------------------------------------------------------------------------------
def busy_percent(*, busy_before: int, total_before: int, busy_after: int, total_after: int) -> float | None:
    """Share of CPU time not idle between two /proc/stat readings (100 % is every CPU of the set busy)."""
    total = total_after - total_before
    if total <= 0:
        return None
    return max(0.0, min(100.0, (busy_after - busy_before) / total * 100.0))


def cutoff(*, now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class HostSample:
    """The host's CPU between the last two rounds, and the readings it came from."""

    taken_at: datetime
    counters: HostCounters
    cpu_percent: float | None
    per_cpu_percent: tuple[float | None, ...]
    disk_path: str | None = None  # the engine's data root
    disk: tuple[int, int, int] | None = None  # its file system's total, used and free bytes
