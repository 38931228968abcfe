"""The stats collector: one per node, sampling every running container each CONTAINERSVC_STATS_INTERVAL.

It reads the cgroup files (containersvc/cgroups.py) where this host has the engine's cgroups, and the
engine's one-shot stats otherwise. Per running container it keeps the last CONTAINERSVC_STATS_MEMORY_SECONDS
of samples in memory and folds them into buckets that are stored (one insert per round) as they close.
Engine calls per container: one inspect when it is first seen (its row and init pid), none per sample on
the cgroup path. Tests call collect_once() rather than waiting for the thread.

The node's processes elect one storing collector (producers/leases.py, role "stats"): the always-on
collectors all sample, so each process's sockets get live rounds, but only the lease's holder stores buckets
and evaluates alerts. A new holder stores only buckets that began after the previous holder's term ended,
so a takeover never writes a bucket twice (the bucket open at the handover is the one lost). A collector
driven by hand (collect_once() without start()) runs no lease and stores: it is the only one.
"""

import logging
import math
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from containersvc import cgroups, engine
from containersvc.api.stats_shapes import host_payload, stats_payload
from containersvc.cgroups import CgroupUnreadable, CgroupVersion
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.producers import groups
from containersvc.producers.connections import refresh_connections
from containersvc.producers.engine_away import AWAY_ERRORS, engine_away
from containersvc.producers.leases import Lease
from containersvc.producers.publish import Publisher
from containersvc.producers.worker import Worker
from containersvc.sample_history import SampleHistory
from containersvc.services import alerts, mirror
from containersvc.services.stats import stats_pack, stats_prune, stats_retentions, stats_store_buckets
from containersvc.stats import (
    Bucket,
    BucketBuilder,
    ContainerStats,
    HostSample,
    Reading,
    busy_percent,
    container_stats_from,
)

logger = logging.getLogger(__name__)

# Per process, like every producer's group: the sockets of this process get this process's samples.
GROUP = f"containersvc.stats.{groups.PROCESS}"
EVENT = "stats.batch"
SOURCE_CGROUP = "cgroup"
SOURCE_ENGINE = "engine"
# The engine's HostConfig.NetworkMode of a container in the host's network namespace. Not `container:<id>`: the
# engine counts the shared namespace's interfaces for it, and so does its net/dev.
HOST_NETWORK = "host"
PRUNE_EVERY_SECONDS = 60.0
ENGINE_READERS = 8  # engine stats calls at once (within docker-py's connection pool of 10)
DATA_ROOT_RETRY_SECONDS = 60.0


@dataclass(slots=True)
class _Tracked:
    """What the collector keeps about one running container."""

    row_pk: int
    name: str
    pid: int
    history: SampleHistory
    builders: list[BucketBuilder]
    previous: Reading | None = None
    latest: ContainerStats | None = None
    counters: cgroups.HeldCounters | None = None  # opened on the first cgroup read, again after a failed one
    host_network: bool = False  # run in the host's network namespace: no network bytes of its own

    def close(self) -> None:
        if self.counters is not None:
            self.counters.close()
            self.counters = None


class _Foreign(Exception):
    """A cgroup whose container this engine does not know (another engine on the host)."""


def samples_in_memory() -> int:
    """How many rounds memory keeps: CONTAINERSVC_STATS_MEMORY_SECONDS of them."""
    return max(1, round(settings.CONTAINERSVC_STATS_MEMORY_SECONDS / max(settings.CONTAINERSVC_STATS_INTERVAL, 0.01)))


class StatsCollector(Worker):
    thread_name = "stats-collector"

    def __init__(self) -> None:
        super().__init__()  # its lock also guards _tracked against readers in request threads
        self._round_lock = threading.Lock()  # one round at a time (the thread, or a test calling directly)
        self._tracked: dict[str, _Tracked] = {}
        self._foreign: set[str] = set()
        self._source: str | None = None
        self._cgroup_version = CgroupVersion.NONE
        self._last_prune = 0.0
        self.host: HostSample | None = None
        self._host_recent: deque[HostSample] = deque(maxlen=samples_in_memory())  # the node page's back series
        self._data_root: str | None = None
        self._data_root_checked = 0.0
        self._pool: ThreadPoolExecutor | None = None
        # A round's moment and the host's figures: the same for every container of the round.
        self._round_at = timezone.now()
        self._online_cpus = 1
        self._host_memory = 0  # what an unlimited container's limit is reported as
        self._held_budget = 0  # containers whose files may be held open (set with the source)
        self._held = 0  # containers whose files are held open
        self._on_demand = False  # the thread runs for sockets only: it stores nothing
        self._named: threading.Thread | None = None  # the thread last given thread_name in /proc
        self.lease = Lease("stats")  # run by start(): stored history is one process's per node

    # --- control (see Worker) -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """The thread is alive, a stop asked or not (it forgets its samples as it ends)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Sample for the life of the process, storing history (the server's always-on producers)."""
        self._on_demand = False
        self.lease.start()
        super().start()

    def on_start(self) -> None:
        self._on_demand = not self._always

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, store the buckets still being filled and forget the rest (a restart begins anew)."""
        super().stop(timeout)
        try:
            self.flush()
        except Exception:
            logger.warning("stats buckets not stored at stop", exc_info=True)
        self.lease.stop(timeout)  # released after the flush: the next holder stores what begins after
        self.reset()

    def reset(self) -> None:
        """Forget everything sampled (tests; a changed source or engine)."""
        with self._round_lock, self._lock:
            for tracked in self._tracked.values():
                tracked.close()
            self._tracked.clear()
            self._held = 0
            self._foreign.clear()
            self._source = None
            self.host = None
            self._host_recent = deque(maxlen=samples_in_memory())
            self._data_root = None
            self._data_root_checked = 0.0

    def perform_work(self, stop: threading.Event) -> None:
        began = time.monotonic()
        if self._named is not threading.current_thread():
            cgroups.name_this_thread(self.thread_name)  # its CPU time can be read apart from the process's
            self._named = threading.current_thread()
        try:
            refresh_connections()
            self.collect_once()
        except Exception:
            # One failed round must not end sampling; the next tick tries again.
            logger.exception("stats round failed")
        stop.wait(max(0.0, settings.CONTAINERSVC_STATS_INTERVAL - (time.monotonic() - began)))

    def on_stop(self) -> None:
        connection.close()
        if self._on_demand and not self._subscribers:
            self.reset()  # nobody watches: samples kept now would be shown as current later

    # --- the live stream ---------------------------------------------------------------------------------
    # A socket subscribes with its loop (Worker.subscribe) and gets each round's batch, published to GROUP
    # while anyone subscribes. In a process without the always-on producers the thread runs while someone
    # watches, and stores nothing: history is the always-on collector's.
    def unsubscribe(self) -> None:
        # The thread is not joined: this runs on the sockets' loop, which a round may be publishing to.
        with self._lock:
            self._unsubscribe_locked()
            if not self._subscribers:
                self._loop = None

    def latest_event(self) -> dict:
        """The newest samples as one batch event: what a socket is sent when it connects."""
        with self._lock:
            rows = [(tracked.name, tracked.latest) for tracked in self._tracked.values() if tracked.latest]
        return batch_event(rows, host=self.host)

    def _publish(self) -> None:
        loop = self._loop
        if loop is not None and self._subscribers:
            Publisher(loop).send(GROUP, self.latest_event())

    # --- reads for the API --------------------------------------------------------------------------------
    @property
    def source(self) -> str | None:
        return self._source

    def latest(self) -> dict[str, ContainerStats]:
        """The newest sample of every running container, by container id."""
        with self._lock:
            return {cid: tracked.latest for cid, tracked in self._tracked.items() if tracked.latest is not None}

    def history(self, container_id: str) -> list[ContainerStats]:
        """The samples in memory of a running container, oldest first (empty if it is not sampled here)."""
        with self._lock:
            tracked = self._tracked.get(container_id)
            return tracked.history.samples() if tracked else []

    def pid_of(self, container_id: str) -> int | None:
        """The process whose net/dev the cgroup path reads for this container, found from its cgroup (0: none
        yet; None: not sampled here)."""
        with self._lock:
            tracked = self._tracked.get(container_id)
            return tracked.pid if tracked else None

    def host_recent(self) -> list[HostSample]:
        """The host's samples in memory, oldest first; each taken at its round's moment, as the containers' are."""
        with self._lock:
            return list(self._host_recent)

    def containers_cpu(self, container_ids: Iterable[str]) -> dict[int, float]:
        """The CPU % of these containers summed by round (microseconds since the epoch), over what memory holds."""
        with self._lock:  # copies of two columns a container: the round waits for none of the sums
            series = [tracked.history.cpu_series() for cid in container_ids if (tracked := self._tracked.get(cid))]
        sums: dict[int, float] = {}
        for ats, cpus in series:
            for at, cpu in zip(ats, cpus, strict=True):
                if not math.isnan(cpu):
                    sums[at] = sums.get(at, 0.0) + cpu
        return sums

    def data_root(self) -> str | None:
        """The engine's DockerRootDir, asked once (again a minute after a failure)."""
        if self._data_root is None and time.monotonic() - self._data_root_checked > DATA_ROOT_RETRY_SECONDS:
            self._data_root_checked = time.monotonic()
            try:
                self._data_root = engine.daemon_info().data_root or None
            except AWAY_ERRORS as error:
                engine_away.away(error)
            except ContainerSvcError as error:
                logger.info("engine data root unknown: %s", error.message)
        return self._data_root

    # --- a round ------------------------------------------------------------------------------------------
    def collect_once(self, *, only: set[str] | None = None) -> list[ContainerStats]:
        """Sample every running container (or `only` these: tests, benches) and the host once; store the
        buckets this round closed."""
        with self._round_lock:
            source = self.choose_source()
            closed: list[tuple[int, Bucket]] = []
            samples: list[ContainerStats] = []
            self._round_at, self._online_cpus = timezone.now(), cgroups.online_cpus()
            self._sample_host()  # first: an unlimited container's memory limit is the host's memory
            self._host_memory = self.host.counters.memory_total_bytes if self.host else 0
            running = set(self._running_ids(source))
            if only is not None:
                running &= only
            tracked = self._track_all(running - self._foreign)
            readings = self._read_all(source, tracked)  # outside the lock: a first round opens files, slowly
            with self._lock:  # once a round, not once a container
                for (_, entry), reading in zip(tracked, readings, strict=True):
                    if reading is not None:
                        samples.append(self._record(source, entry, reading, closed))
            for container_id in set(self._tracked) - running:
                self._forget(container_id, closed)
            self._foreign &= running
            if self._storing():
                self._store(closed)
                alerts.alerts_evaluate(samples=samples, now=timezone.now())  # the always-on collector alone alerts
            self._publish()
            return samples

    def flush(self) -> int:
        """Store every bucket being filled, as if each container stopped now (the collector stops)."""
        with self._round_lock:
            closed: list[tuple[int, Bucket]] = []
            with self._lock:
                for tracked in self._tracked.values():
                    closed.extend((tracked.row_pk, b) for b in (x.close() for x in tracked.builders) if b)
            if not self._storing():
                return 0
            return self._store(closed)

    def _storing(self) -> bool:
        """Whether this collector stores history: not for sockets only, and only the elected one of a node."""
        if self._on_demand:
            return False
        return self.lease.held or not self.lease.running

    def choose_source(self) -> str:
        """Where samples come from: chosen once, by the setting and by what this host shows of the engine."""
        if self._source is not None:
            return self._source
        choice = settings.CONTAINERSVC_STATS_SOURCE
        root = Path(settings.CONTAINERSVC_CGROUP_ROOT)
        version = cgroups.detect_version(root)
        if choice == SOURCE_ENGINE:
            source = SOURCE_ENGINE
        elif choice == SOURCE_CGROUP:
            source = SOURCE_CGROUP
        elif version == CgroupVersion.NONE or not engine.address().startswith("unix://"):
            source = SOURCE_ENGINE  # no cgroup tree here, or the engine runs on another host
        else:
            source = SOURCE_CGROUP if self._engine_cgroups_visible(root, version) else SOURCE_ENGINE
        self._cgroup_version = version
        self._source = source
        self._held_budget = cgroups.open_files_budget() // cgroups.FILES_PER_CONTAINER
        logger.info("sampling container stats from %s", "the cgroup files" if source == SOURCE_CGROUP else "the engine")
        return source

    @staticmethod
    def _engine_cgroups_visible(root: Path, version: CgroupVersion) -> bool:
        """Whether the engine's running containers have their cgroups in this tree (not so in a container)."""
        try:
            running = [found.id for found in engine.container_list() if found.state == "running"]
        except ContainerSvcError:
            return True  # nothing to compare with now; the files decide container by container
        return not running or bool(set(running) & set(cgroups.running_container_ids(root=root, version=version)))

    def _running_ids(self, source: str) -> list[str]:
        if source == SOURCE_CGROUP:
            root = Path(settings.CONTAINERSVC_CGROUP_ROOT)
            return cgroups.running_container_ids(root=root, version=self._cgroup_version)
        try:
            return [found.id for found in engine.container_list() if found.state == "running"]
        except ContainerSvcError as error:
            if isinstance(error, AWAY_ERRORS):
                engine_away.away(error)
            else:
                logger.info("stats could not list containers: %s", error.message)
            return list(self._tracked)  # keep what we have; nothing is sampled this round

    def _track(self, container_id: str, known: tuple[int, str, str] | None) -> _Tracked:
        """Start keeping a container: its row's pk, name and network mode from the mirror when it has them
        (`known`); else one inspect tells whether the engine has it at all (a cgroup of another engine's is
        foreign) and makes its row."""
        tracked = self._tracked.get(container_id)
        if tracked is not None:
            return tracked
        if known is None:
            try:
                details = engine.container_inspect(container_id=container_id)
            except NotFound as error:
                raise _Foreign(container_id) from error
            row = mirror.mirror_record_details(details=details)
            known = (row.pk, details.summary.name, details.summary.network_mode)
        keep = samples_in_memory()
        tracked = _Tracked(
            row_pk=known[0],
            name=known[1],
            pid=0,  # found when its files are opened
            history=SampleHistory(container_id=container_id, capacity=keep),
            builders=[BucketBuilder(retention.bucket_seconds) for retention in stats_retentions()],
            host_network=known[2] == HOST_NETWORK,
        )
        with self._lock:
            self._tracked[container_id] = tracked
        return tracked

    def _track_all(self, container_ids: set[str]) -> list[tuple[str, _Tracked]]:
        """The containers of this round; those met for the first time are looked up in the mirror in one query
        (a first round at hundreds of containers would otherwise inspect each one)."""
        new = container_ids - self._tracked.keys()
        known = mirror.mirror_rows_known(container_ids=new) if new else {}
        tracked = []
        for container_id in sorted(container_ids):
            try:
                tracked.append((container_id, self._track(container_id, known.get(container_id))))
            except _Foreign:
                self._foreign.add(container_id)
            except NotFound:
                pass  # it stopped between the listing and the inspect; the next round forgets it
            except AWAY_ERRORS as error:
                engine_away.away(error)
            except ContainerSvcError as error:
                logger.info("stats of %s not read: %s", container_id[:12], error.message)
        return tracked

    def _read_all(self, source: str, tracked: list[tuple[str, _Tracked]]) -> list[Reading | None]:
        """One reading per container; the engine's calls run side by side (each can take a second)."""
        if source == SOURCE_ENGINE and len(tracked) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=ENGINE_READERS, thread_name_prefix="stats-engine")
            return list(self._pool.map(lambda item: self._read_or_none(source, *item), tracked))
        return [self._read_or_none(source, container_id, entry) for container_id, entry in tracked]

    def _read_or_none(self, source: str, container_id: str, tracked: _Tracked) -> Reading | None:
        try:
            return self._read(source, container_id, tracked)
        except (CgroupUnreadable, NotFound):
            return None  # it stopped between the listing and the read; the next round forgets it
        except AWAY_ERRORS as error:
            engine_away.away(error)
            return None
        except ContainerSvcError as error:
            logger.info("stats of %s not read: %s", container_id[:12], error.message)
            return None
        except Exception:
            # One container's odd answer must not cost the others their sample this round.
            logger.exception("stats of %s not read", container_id[:12])
            return None

    def _record(
        self, source: str, tracked: _Tracked, reading: Reading, closed: list[tuple[int, Bucket]]
    ) -> ContainerStats:
        """One container's sample from its reading, kept and folded into its buckets (with the lock held)."""
        sample = container_stats_from(previous=tracked.previous, current=reading)
        if sample.cpu_percent is None and tracked.previous is not None and source == SOURCE_CGROUP:
            tracked.pid = 0  # counters went back: a restart; its process is read from the cgroup anew next round
        tracked.previous = reading
        tracked.latest = sample
        tracked.history.append(sample)
        for builder in tracked.builders:
            bucket = builder.add(sample)
            if bucket is not None:
                closed.append((tracked.row_pk, bucket))
        return sample

    def _read(self, source: str, container_id: str, tracked: _Tracked) -> Reading:
        if source == SOURCE_ENGINE:
            at = timezone.now()
            raw = engine.container_stats(container_id=container_id, timeout=settings.CONTAINERSVC_STATS_ENGINE_TIMEOUT)
            return Reading(
                container_id=container_id,
                at=at,
                # The engine's own read time: a call can take a second, so our clock would skew the rates.
                monotonic_ns=raw.read_at_ns or time.monotonic_ns(),
                source=SOURCE_ENGINE,
                cpu_usage_ns=raw.cpu_usage_ns,
                system_cpu_ns=raw.system_cpu_ns,
                online_cpus=raw.online_cpus,
                memory_usage_bytes=raw.memory_usage_bytes,
                memory_inactive_file_bytes=raw.memory_inactive_file_bytes,
                memory_limit_bytes=raw.memory_limit_bytes,
                net_rx_bytes=raw.net_rx_bytes,
                net_tx_bytes=raw.net_tx_bytes,
                blk_read_bytes=raw.blk_read_bytes,
                blk_write_bytes=raw.blk_write_bytes,
                pids=raw.pids,
            )
        monotonic_ns, (counters, net) = self._read_cgroup(container_id, tracked)
        host_memory = self._host_memory
        limit = counters.memory_limit_bytes
        # As the engine reports it: an unlimited container's limit is the host's memory.
        if limit is None or (host_memory and limit > host_memory):
            limit = host_memory or (limit or 0)
        return Reading(
            container_id=container_id,
            at=self._round_at,
            monotonic_ns=monotonic_ns,
            source=SOURCE_CGROUP,
            cpu_usage_ns=counters.cpu_usage_ns,
            system_cpu_ns=None,
            online_cpus=self._online_cpus,
            memory_usage_bytes=counters.memory_usage_bytes,
            memory_inactive_file_bytes=counters.memory_inactive_file_bytes,
            memory_limit_bytes=limit,
            net_rx_bytes=net.rx_bytes,
            net_tx_bytes=net.tx_bytes,
            blk_read_bytes=counters.blk_read_bytes,
            blk_write_bytes=counters.blk_write_bytes,
            pids=counters.pids,
        )

    def _read_cgroup(
        self, container_id: str, tracked: _Tracked
    ) -> tuple[int, tuple[cgroups.ContainerCounters, cgroups.NetCounters]]:
        """When (monotonic ns), and the counters: the container's own moment, as CPU % is Δ CPU time / Δ wall
        clock. Its files are held open from its first read (within the budget of open files) until its cgroup
        goes; a container over the budget has them opened and closed each round."""
        held = tracked.counters
        if held is None:
            held = self._open_counters(container_id, tracked)
            if self._held < self._held_budget:
                tracked.counters = held
                self._held += 1
            else:
                try:
                    return time.monotonic_ns(), held.read()
                finally:
                    held.close()
        try:
            return time.monotonic_ns(), held.read()
        except CgroupUnreadable:
            tracked.counters = None  # gone, or made again (a restart): opened afresh next round
            self._held -= 1
            raise

    def _open_counters(self, container_id: str, tracked: _Tracked) -> cgroups.HeldCounters:
        """Its cgroup files and a process's net/dev; the pid is read from the cgroup again after a restart (a pid
        is reused once its process ends, so it is checked against the container's cgroup first). A container in
        the host's network has no net/dev of its own: the host's traffic is not the container's, nor does the
        engine count it as such."""
        root = Path(settings.CONTAINERSVC_CGROUP_ROOT)
        files = cgroups.container_files(root=root, version=self._cgroup_version, container_id=container_id)
        if tracked.host_network:
            return cgroups.HeldCounters(files, pid=None)
        if not tracked.pid or not cgroups.pid_in_container(pid=tracked.pid, container_id=container_id):
            tracked.pid = cgroups.container_pid(files)
        if not tracked.pid:
            raise CgroupUnreadable(container_id)
        try:
            return cgroups.HeldCounters(files, pid=tracked.pid)
        except CgroupUnreadable:
            tracked.pid = 0  # its init process may have ended: asked again next round
            raise

    def _forget(self, container_id: str, closed: list[tuple[int, Bucket]]) -> None:
        with self._lock:
            tracked = self._tracked.pop(container_id, None)
        if tracked is not None:
            if tracked.counters is not None:
                self._held -= 1
            tracked.close()
            closed.extend((tracked.row_pk, bucket) for bucket in (b.close() for b in tracked.builders) if bucket)

    def _sample_host(self) -> None:
        try:
            counters = cgroups.host_counters()
        except (CgroupUnreadable, ValueError, IndexError):
            return  # no /proc (not Linux): the node's numbers stay unknown
        previous = self.host.counters if self.host else None
        data_root = self.data_root()
        self.host = HostSample(
            taken_at=self._round_at,
            counters=counters,
            cpu_percent=_busy(previous.cpu, counters.cpu) if previous else None,
            per_cpu_percent=tuple(
                _busy(before, after) for before, after in zip(previous.per_cpu, counters.per_cpu, strict=False)
            )
            if previous
            else tuple(None for _ in counters.per_cpu),
            disk_path=data_root,
            disk=disk_usage(data_root),
        )
        with self._lock:
            self._host_recent.append(self.host)

    def _store(self, closed: list[tuple[int, Bucket]]) -> int:
        handed_over_at = self.lease.handed_over_at if self.lease.running else None
        if handed_over_at is not None:
            closed = [(pk, bucket) for pk, bucket in closed if bucket.start >= handed_over_at]
        try:
            stored = stats_store_buckets(buckets=closed)
            if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
                self._last_prune = time.monotonic()
                now = timezone.now()
                stats_prune(now=now)
                stats_pack(now=now)
        except DatabaseError:
            logger.warning("stats buckets not stored", exc_info=True)
            return 0
        return stored


# --- payloads: the API and the socket send the same shapes (declared, and written, in api/stats_shapes.py) -----
def batch_event(rows: list[tuple[str, ContainerStats]], *, host: HostSample | None) -> dict:
    """One round: every running container's sample (with its name) and the host, in one message."""
    return {
        "type": EVENT,
        "takenAt": host.taken_at.isoformat() if host else None,
        "node": host_payload(host),
        "stats": [stats_payload(sample, name=name) for name, sample in rows],
    }


def _busy(before: cgroups.CpuTimes, after: cgroups.CpuTimes) -> float | None:
    return busy_percent(
        busy_before=before.busy, total_before=before.total, busy_after=after.busy, total_after=after.total
    )


def disk_usage(path: str | None) -> tuple[int, int, int] | None:
    """Total, used and free bytes of the file system holding `path`, where this process can see it."""
    if not path:
        return None
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.total, usage.used, usage.free


collector = StatsCollector()
