"""One running container's recent samples in memory, held as numbers in two arrays rather than as objects.

A collector keeps CONTAINERSVC_STATS_MEMORY_SECONDS of samples for every running container: 900 a container
at the defaults, 450,000 at 500 containers. As ContainerStats objects, each with its own floats and ints,
that is about half a kilobyte a sample and as many objects for the garbage collector to walk; as rows of
two arrays it is 112 bytes a sample and no object at all. The arrays grow to the capacity, then are written
round. ContainerStats are made again only when the history is read (an API call), never a round.
"""

import math
from array import array
from datetime import UTC, datetime, timedelta

from containersvc.stats import ContainerStats

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# A sample's fields as stored: floats (None as NaN: a rate or CPU figure is never NaN) and integers.
FLOATS = ("cpu_percent", "memory_percent", "net_rx_rate", "net_tx_rate", "blk_read_rate", "blk_write_rate")
INTS = (
    "taken_at",  # microseconds since the epoch
    "memory_bytes",
    "memory_limit_bytes",
    "net_rx_bytes",
    "net_tx_bytes",
    "blk_read_bytes",
    "blk_write_bytes",
    "pids",
)
_NAN = math.nan
_last_converted: tuple[datetime | None, int] = (None, 0)  # a round's samples, of every container, share one moment


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch: how a sample's moment is held."""
    return (moment - EPOCH) // MICROSECOND


def _micros(moment: datetime) -> int:
    """epoch_micros, worked out once a round rather than once a container."""
    global _last_converted
    converted, micros = _last_converted
    if moment is not converted:
        micros = epoch_micros(moment)
        _last_converted = (moment, micros)
    return micros


def _nan_as_none(value: float) -> float | None:
    return None if math.isnan(value) else value


class SampleHistory:
    """The last `capacity` samples of one container, oldest first when read."""

    __slots__ = ("_capacity", "_count", "_floats", "_ints", "_next", "container_id", "source")

    def __init__(self, *, container_id: str, capacity: int) -> None:
        self.container_id = container_id
        self.source = ""
        self._capacity = max(1, capacity)
        self._floats = array("d")
        self._ints = array("q")
        self._count = 0  # samples held
        self._next = 0  # where the next sample goes once the arrays are full

    def __len__(self) -> int:
        return self._count

    def append(self, sample: ContainerStats) -> None:
        self.source = sample.source
        cpu, net_rx, net_tx = sample.cpu_percent, sample.net_rx_rate, sample.net_tx_rate
        blk_read, blk_write = sample.blk_read_rate, sample.blk_write_rate
        # None as NaN written out, not called: this runs for every container each round.
        floats = (
            _NAN if cpu is None else cpu,
            sample.memory_percent,
            _NAN if net_rx is None else net_rx,
            _NAN if net_tx is None else net_tx,
            _NAN if blk_read is None else blk_read,
            _NAN if blk_write is None else blk_write,
        )
        ints = (
            _micros(sample.taken_at),
            sample.memory_bytes,
            sample.memory_limit_bytes,
            sample.net_rx_bytes,
            sample.net_tx_bytes,
            sample.blk_read_bytes,
            sample.blk_write_bytes,
            sample.pids,
        )
        if self._count < self._capacity:
            self._floats.extend(floats)
            self._ints.extend(ints)
            self._count += 1
            return
        at = self._next
        self._floats[at * len(FLOATS) : (at + 1) * len(FLOATS)] = array("d", floats)
        self._ints[at * len(INTS) : (at + 1) * len(INTS)] = array("q", ints)
        self._next = (at + 1) % self._capacity

    def _order(self) -> list[int] | range:
        """The samples' places in the arrays, oldest first."""
        full = self._count == self._capacity
        return [*range(self._next, self._count), *range(self._next)] if full else range(self._count)

    def samples(self) -> list[ContainerStats]:
        """The samples held, oldest first."""
        return [self._sample(index) for index in self._order()]

    def cpu_series(self) -> tuple[array, array]:
        """The samples' moments (microseconds since the epoch) and CPU % (NaN: none), oldest first: copies of two
        columns of the arrays, made without a sample object each (the node page sums them over every container)."""
        ats, cpus = self._ints[0 :: len(INTS)], self._floats[0 :: len(FLOATS)]
        if self._count == self._capacity and self._next:
            return ats[self._next :] + ats[: self._next], cpus[self._next :] + cpus[: self._next]
        return ats, cpus

    def _sample(self, index: int) -> ContainerStats:
        cpu, memory_percent, net_rx, net_tx, blk_read, blk_write = self._floats[
            index * len(FLOATS) : (index + 1) * len(FLOATS)
        ]
        at, memory, limit, rx_bytes, tx_bytes, read_bytes, write_bytes, pids = self._ints[
            index * len(INTS) : (index + 1) * len(INTS)
        ]
        return ContainerStats(
            container_id=self.container_id,
            taken_at=EPOCH + at * MICROSECOND,
            source=self.source,
            cpu_percent=_nan_as_none(cpu),
            memory_bytes=memory,
            memory_limit_bytes=limit,
            memory_percent=memory_percent,
            net_rx_bytes=rx_bytes,
            net_tx_bytes=tx_bytes,
            net_rx_rate=_nan_as_none(net_rx),
            net_tx_rate=_nan_as_none(net_tx),
            blk_read_bytes=read_bytes,
            blk_write_bytes=write_bytes,
            blk_read_rate=_nan_as_none(blk_read),
            blk_write_rate=_nan_as_none(blk_write),
            pids=pids,
        )
