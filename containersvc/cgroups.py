"""The cgroup and /proc adapter: raw resource counters of containers and of the host, read from files.

Only this module reads the kernel's accounting files. It knows cgroup v1 (one hierarchy per controller) and
v2 (one unified hierarchy), with the cgroupfs (`docker/<id>`) and systemd (`system.slice/docker-<id>.scope`)
layouts, and returns the project's own frozen dataclasses. Nothing here computes a rate or a percentage.
"""

from __future__ import annotations

import functools
import os
import re
import resource
import threading
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

PROC = Path("/proc")
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
SYSTEMD_SCOPE = re.compile(r"docker-([0-9a-f]{64})\.scope")
V1_CONTROLLERS = ("cpuacct", "memory", "blkio", "pids")
# The kernel's "no limit" on v1 is a page-rounded LONG_MAX; anything this large means unlimited.
UNLIMITED = 1 << 62


class CgroupVersion(StrEnum):
    V1 = "v1"
    V2 = "v2"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ContainerCounters:
    """One read of a container's cgroup: cumulative counters, and the memory figures as they stand."""

    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_inactive_file_bytes: int
    memory_limit_bytes: int | None  # None: no limit set on the cgroup
    blk_read_bytes: int
    blk_write_bytes: int
    pids: int


@dataclass(frozen=True, slots=True)
class NetCounters:
    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """One cpu line of /proc/stat, in clock ticks."""

    busy: int
    total: int


@dataclass(frozen=True, slots=True)
class HostCounters:
    cpu: CpuTimes
    per_cpu: tuple[CpuTimes, ...]
    load: tuple[float, float, float]
    memory_total_bytes: int
    memory_available_bytes: int


class CgroupUnreadable(Exception):
    """The container's cgroup files are not there (it stopped, or this is not the engine's host)."""


# --- layout -----------------------------------------------------------------------------------------------
def detect_version(root: Path) -> CgroupVersion:
    if (root / "cgroup.controllers").is_file():
        return CgroupVersion.V2
    if (root / "cpuacct").is_dir() or (root / "cpu,cpuacct").is_dir():
        return CgroupVersion.V1
    return CgroupVersion.NONE


def _v1_controller_dir(root: Path, controller: str) -> Path:
    # Some distributions mount cpu and cpuacct together and link only the combined name.
    plain = root / controller
    return plain if plain.is_dir() else root / f"cpu,{controller}"


@functools.lru_cache(maxsize=4096)
def _container_id_in(entry: str, *, systemd: bool) -> str | None:
    """The container id a cgroup directory's name holds, if any (remembered: the directories are listed every
    round, and nearly all of them were met before)."""
    match = (SYSTEMD_SCOPE if systemd else CONTAINER_ID).fullmatch(entry)
    return (match.group(1) if systemd else match.group(0)) if match else None


def _ids_under(parent: Path) -> list[str]:
    """Container ids with a cgroup under `parent` (cgroupfs `docker/<id>` or systemd `docker-<id>.scope`)."""
    found: list[str] = []
    for directory, systemd in ((f"{parent}/docker", False), (f"{parent}/system.slice", True)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for entry in names:
            container_id = _container_id_in(entry, systemd=systemd)
            if container_id:
                found.append(container_id)
    return found


def running_container_ids(*, root: Path, version: CgroupVersion) -> list[str]:
    """Ids of the containers that have a cgroup now: a directory listing, no engine call."""
    if version == CgroupVersion.V2:
        return _ids_under(root)
    if version == CgroupVersion.V1:
        return _ids_under(_v1_controller_dir(root, "cpuacct"))
    return []


def _container_dir(parent: Path, container_id: str) -> Path:
    cgroupfs = parent / "docker" / container_id
    if cgroupfs.is_dir():
        return cgroupfs
    systemd = parent / "system.slice" / f"docker-{container_id}.scope"
    if systemd.is_dir():
        return systemd
    raise CgroupUnreadable(container_id)


# --- file formats -----------------------------------------------------------------------------------------
def _read_bytes(path: str | Path) -> bytes:
    # os.open/os.read: a sampling round reads a handful of tiny files per container, and the io stack's
    # text layers cost more than the read itself (docs/stats.md, "What it costs").
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise CgroupUnreadable(str(path)) from error
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError as error:
        raise CgroupUnreadable(str(path)) from error
    finally:
        os.close(fd)
    return b"".join(chunks)


def _read(path: str | Path) -> str:
    return _read_bytes(path).decode("ascii", errors="replace")


def _int(path: str) -> int:
    return int(_read_bytes(path))


def _optional_int(path: str, default: int = 0) -> int:
    if not path:
        return default
    try:
        return _int(path)
    except (CgroupUnreadable, ValueError):
        return default


def flat_keyed_value(data: bytes, key: bytes, default: int = 0) -> int:
    """One key of a flat keyed file, without parsing the other lines (nor decoding them: int() reads bytes)."""
    if data.startswith(key + b" "):
        at = 0
    else:
        at = data.find(b"\n" + key + b" ")
        if at < 0:
            return default
        at += 1
    end = data.find(b"\n", at)
    return int(data[at + len(key) + 1 : end if end >= 0 else None])


def parse_v1_blkio(data: bytes) -> tuple[int, int]:
    """blkio.throttle.io_service_bytes: `MAJ:MIN Op bytes` lines; Read and Write summed over devices."""
    read = write = 0
    for line in data.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue  # the final `Total N`
        op = fields[1].lower()
        if op == b"read":
            read += int(fields[2])
        elif op == b"write":
            write += int(fields[2])
    return read, write


def parse_v2_io_stat(data: bytes) -> tuple[int, int]:
    """io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N ...` lines; rbytes and wbytes summed over devices."""
    read = write = 0
    for line in data.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition(b"=")
            if key == b"rbytes":
                read += int(value)
            elif key == b"wbytes":
                write += int(value)
    return read, write


def _limit(value: bytes) -> int | None:
    value = value.strip()
    if value == b"max":
        return None
    number = int(value)
    return None if number >= UNLIMITED else number


# --- containers -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContainerFiles:
    """Where one container's counters are, found once; "" for a controller that is not there."""

    version: CgroupVersion
    cpu: str
    memory_usage: str
    memory_stat: str
    memory_limit: str
    blkio: str
    pids: str
    procs: str  # the processes in the cgroup, one pid a line


def _optional_dir(parent: Path, container_id: str) -> Path | None:
    try:
        return _container_dir(parent, container_id)
    except CgroupUnreadable:
        return None


def container_files(*, root: Path, version: CgroupVersion, container_id: str) -> ContainerFiles:
    """The files of one container's cgroup; CgroupUnreadable when it has none (it stopped, or another host)."""
    if version == CgroupVersion.V2:
        directory = _container_dir(root, container_id)
        return ContainerFiles(
            version=version,
            cpu=str(directory / "cpu.stat"),
            memory_usage=str(directory / "memory.current"),
            memory_stat=str(directory / "memory.stat"),
            memory_limit=str(directory / "memory.max"),
            blkio=str(directory / "io.stat") if (directory / "io.stat").is_file() else "",
            pids=str(directory / "pids.current") if (directory / "pids.current").is_file() else "",
            procs=str(directory / "cgroup.procs"),
        )
    if version == CgroupVersion.V1:
        cpu = _container_dir(_v1_controller_dir(root, "cpuacct"), container_id)
        memory = _container_dir(root / "memory", container_id)
        blkio = _optional_dir(_v1_controller_dir(root, "blkio"), container_id)
        pids = _optional_dir(root / "pids", container_id)
        return ContainerFiles(
            version=version,
            cpu=str(cpu / "cpuacct.usage"),
            memory_usage=str(memory / "memory.usage_in_bytes"),
            memory_stat=str(memory / "memory.stat"),
            memory_limit=str(memory / "memory.limit_in_bytes"),
            blkio=str(blkio / "blkio.throttle.io_service_bytes_recursive") if blkio else "",
            pids=str(pids / "pids.current") if pids else "",
            procs=str(memory / "cgroup.procs"),
        )
    raise CgroupUnreadable(container_id)


def _counters(
    *, v2: bool, cpu: bytes, usage: bytes, stat: bytes, limit: bytes, blk: bytes, pids: int
) -> ContainerCounters:
    """The counters from their files' texts, as both readers read them (b"" for a file that is not there, the
    limit b"max" for none)."""
    blk_read, blk_write = parse_v2_io_stat(blk) if v2 else parse_v1_blkio(blk)
    return ContainerCounters(
        cpu_usage_ns=_cpu_usage_ns(cpu, v2=v2),
        memory_usage_bytes=int(usage),
        memory_inactive_file_bytes=flat_keyed_value(stat, b"inactive_file" if v2 else b"total_inactive_file"),
        memory_limit_bytes=_limit(limit),
        blk_read_bytes=blk_read,
        blk_write_bytes=blk_write,
        pids=pids,
    )


def _cpu_usage_ns(cpu: bytes, *, v2: bool) -> int:
    return flat_keyed_value(cpu, b"usage_usec") * 1000 if v2 else int(cpu)


def read_counters(files: ContainerFiles) -> ContainerCounters:
    """One read of a container's counters; CgroupUnreadable when its cgroup has gone meanwhile."""
    v2 = files.version == CgroupVersion.V2
    try:
        blk = _read_bytes(files.blkio) if files.blkio else b""
    except CgroupUnreadable:
        blk = b""
    try:
        limit = _read_bytes(files.memory_limit)
    except CgroupUnreadable:
        if not v2:
            raise
        limit = b"max"
    return _counters(
        v2=v2,
        cpu=_read_bytes(files.cpu),
        usage=_read_bytes(files.memory_usage),
        stat=_read_bytes(files.memory_stat),
        limit=limit,
        blk=blk,
        pids=_optional_int(files.pids),
    )


# --- held open: what a collector reads every round ----------------------------------------------------------
READ_SIZE = 4096  # one pread holds any of these files whole on a container (memory.stat is about 1 KiB)
FILES_PER_CONTAINER = 7  # six cgroup files and the network namespace's net/dev
FULL_READ_EVERY = 10  # a quiet container has its memory files, block IO and pids read every 10th read
# A container is quiet while it used less CPU time than this between two reads and its net/dev did not move: a
# timer's wake-up (an init's reaping loop, as docker's --init wakes every second) takes a fraction of it, growing
# memory or doing block IO of any size takes more.
QUIET_CPU_NS = 1_000_000


def _pread(fd: int) -> bytes:
    """The whole file from its start: the kernel makes a cgroup or /proc file's text afresh for each read at 0."""
    data = os.pread(fd, READ_SIZE, 0)
    if len(data) < READ_SIZE:
        return data
    chunks = [data]
    offset = len(data)
    while chunk := os.pread(fd, READ_SIZE, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _open(path: str) -> int:
    """A descriptor on `path`, or -1 for a file that is not there ("" for a controller that is missing)."""
    if not path:
        return -1
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


class HeldCounters:
    """One container's counter files and its network namespace's net/dev, opened once and read each round.

    Opening a file costs a path walk and an allocation, more than the read itself: held descriptors are read
    with pread from offset 0, one system call a file. A removed cgroup's files answer ENODEV from then on (the
    container stopped, or restarted into a new cgroup under the same path): read() raises CgroupUnreadable,
    and the caller closes this and opens anew. The net/dev descriptor keeps the namespace it was opened in,
    so it is only ever read together with the cgroup files it was opened with.

    `pid` None: the container has no network namespace of its own to count (it runs in the host's, whose
    traffic is not its own): no net/dev is held and its network bytes are 0, as the engine reports them (its
    stats have no `networks`, `docker stats` shows 0B / 0B).

    A quiet container's other files are not read every time: see read().
    """

    __slots__ = (
        "_blkio",
        "_cpu",
        "_cpu_ns",
        "_fds",
        "_last",
        "_memory_limit",
        "_memory_stat",
        "_memory_usage",
        "_net",
        "_net_text",
        "_pids",
        "_reused",
        "_v2",
    )

    def __init__(self, files: ContainerFiles, *, pid: int | None) -> None:
        self._v2 = files.version == CgroupVersion.V2
        self._fds: list[int] = []
        self._cpu_ns = 0  # CPU time at the last read
        self._net_text = b""  # net/dev's text at the last read
        self._last: tuple[ContainerCounters, NetCounters] | None = None
        self._reused = 0  # reads since the last whole read that answered self._last
        try:
            self._cpu = self._required(files.cpu)
            self._memory_usage = self._required(files.memory_usage)
            self._memory_stat = self._required(files.memory_stat)
            self._memory_limit = self._held(_open(files.memory_limit))
            if self._memory_limit < 0 and not self._v2:
                raise CgroupUnreadable(files.memory_limit)
            self._blkio = self._held(_open(files.blkio))
            self._pids = self._held(_open(files.pids))
            self._net = self._required(f"{PROC}/{pid}/net/dev") if pid is not None else -1
        except CgroupUnreadable:
            self.close()
            raise

    def _held(self, fd: int) -> int:
        if fd >= 0:
            self._fds.append(fd)
        return fd

    def _required(self, path: str) -> int:
        fd = self._held(_open(path))
        if fd < 0:
            raise CgroupUnreadable(path)
        return fd

    def close(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)

    def read(self) -> tuple[ContainerCounters, NetCounters]:
        """The counters as they stand; CgroupUnreadable once the cgroup has gone (this is then closed).

        CPU time and net/dev are read each time. While the container is quiet (under QUIET_CPU_NS of CPU time
        since the last read, net/dev as it was) its other counters are answered as last read, with its CPU time
        as read now, for at most FULL_READ_EVERY - 1 reads in a row: what changes while it is quiet (a `docker
        update` of its limit, writeback of its dirty pages, the kernel reclaiming or swapping out its memory)
        shows within FULL_READ_EVERY reads.
        """
        try:
            # CPU time is a number (a few lines of cpu.stat on v2): one pread holds it.
            cpu, net = os.pread(self._cpu, READ_SIZE, 0), _pread(self._net) if self._net >= 0 else b""
            cpu_ns, last = _cpu_usage_ns(cpu, v2=self._v2), self._last
            if (
                last is not None
                and net == self._net_text
                and 0 <= cpu_ns - self._cpu_ns < QUIET_CPU_NS
                and self._reused < FULL_READ_EVERY - 1
            ):
                self._reused += 1
                self._cpu_ns = cpu_ns
                if cpu_ns != last[0].cpu_usage_ns:
                    last = self._last = (replace(last[0], cpu_usage_ns=cpu_ns), last[1])
                return last
            usage = os.pread(self._memory_usage, READ_SIZE, 0)
            stat = _pread(self._memory_stat)
            limit = _pread(self._memory_limit) if self._memory_limit >= 0 else b"max"
            blk = _pread(self._blkio) if self._blkio >= 0 else b""
            pids = int(_pread(self._pids) or 0) if self._pids >= 0 else 0
            counters = _counters(v2=self._v2, cpu=cpu, usage=usage, stat=stat, limit=limit, blk=blk, pids=pids)
            self._last = (counters, _net_dev(net))
        except (OSError, ValueError) as error:
            self.close()
            raise CgroupUnreadable(str(error)) from error
        self._cpu_ns, self._net_text = cpu_ns, net
        self._reused = 0
        return self._last


def open_files_budget() -> int:
    """How many descriptors a collector may hold: half the process's soft limit (sockets need the rest)."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ValueError, OSError):
        return 0
    if soft == resource.RLIM_INFINITY:
        return 1 << 16
    return max(0, soft // 2 - 64)


def container_counters(*, root: Path, version: CgroupVersion, container_id: str) -> ContainerCounters:
    """The counters of one container; CgroupUnreadable when its cgroup is gone or unreadable."""
    return read_counters(container_files(root=root, version=version, container_id=container_id))


def parse_net_dev(text: str) -> NetCounters:
    """/proc/<pid>/net/dev: bytes received and sent, summed over the interfaces but loopback."""
    return _net_dev(text.encode("ascii", errors="replace"))


def _net_dev(data: bytes) -> NetCounters:
    rx = tx = 0
    for line in data.splitlines()[2:]:
        interface, _, counters = line.partition(b":")
        if interface.strip() == b"lo":
            continue
        fields = counters.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return NetCounters(rx_bytes=rx, tx_bytes=tx)


def net_counters(*, pid: int) -> NetCounters:
    """Network bytes of the namespace the process `pid` (a container's init process) lives in."""
    return _net_dev(_read_bytes(f"{PROC}/{pid}/net/dev"))


def container_pid(files: ContainerFiles) -> int:
    """A process of the container, from its cgroup: the lowest pid, its init process unless pids wrapped; any of
    its processes shares its network namespace. 0 when it has none (it stopped)."""
    try:
        pids = [int(line) for line in _read(files.procs).split()]
    except CgroupUnreadable:
        return 0
    return min(pids, default=0)


def pid_in_container(*, pid: int, container_id: str) -> bool:
    """Whether `pid` still belongs to the container (a pid is reused once its process ends)."""
    try:
        return container_id in _read(f"{PROC}/{pid}/cgroup")
    except CgroupUnreadable:
        return False


# --- the host ---------------------------------------------------------------------------------------------
def _cpu_times(fields: list[str]) -> CpuTimes:
    # user nice system idle iowait irq softirq steal (guest time is already counted in user and nice).
    ticks = [int(value) for value in fields[:8]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    total = sum(ticks)
    return CpuTimes(busy=total - idle, total=total)


def parse_proc_stat(text: str) -> tuple[CpuTimes, tuple[CpuTimes, ...]]:
    all_cpus: CpuTimes | None = None
    per_cpu: list[CpuTimes] = []
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        name, *fields = line.split()
        if name == "cpu":
            all_cpus = _cpu_times(fields)
        else:
            per_cpu.append(_cpu_times(fields))
    if all_cpus is None:
        raise CgroupUnreadable("/proc/stat has no cpu line")
    return all_cpus, tuple(per_cpu)


def parse_meminfo(text: str) -> tuple[int, int]:
    """MemTotal and MemAvailable in bytes."""
    available = _meminfo_bytes(text, "MemAvailable")
    if available is None:
        available = _meminfo_bytes(text, "MemFree")  # kernels before 3.14
    return _meminfo_bytes(text, "MemTotal") or 0, available or 0


def _meminfo_bytes(text: str, key: str) -> int | None:
    """One `Key:   N kB` line in bytes, found without splitting the other fifty."""
    at = text.find(f"{key}:")
    while at > 0 and text[at - 1] != "\n":
        at = text.find(f"{key}:", at + 1)
    if at < 0:
        return None
    end = text.find("\n", at)
    fields = text[at + len(key) + 1 : end if end >= 0 else None].split()
    if not fields:
        return None
    return int(fields[0]) * (1024 if len(fields) > 1 else 1)


def host_counters() -> HostCounters:
    cpu, per_cpu = parse_proc_stat(_read(PROC / "stat"))
    load_fields = _read(PROC / "loadavg").split()
    total, available = parse_meminfo(_read(PROC / "meminfo"))
    return HostCounters(
        cpu=cpu,
        per_cpu=per_cpu,
        load=(float(load_fields[0]), float(load_fields[1]), float(load_fields[2])),
        memory_total_bytes=total,
        memory_available_bytes=available,
    )


def name_this_thread(name: str) -> None:
    """Give the calling thread `name` in /proc (its comm, 15 characters at most), where the kernel lets it:
    a thread's CPU time is then told apart from outside (`/proc/<pid>/task/<tid>/stat`), as the benches do."""
    try:
        with open(f"{PROC}/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass  # not Linux, or /proc read-only: the thread keeps its inherited name


def online_cpus() -> int:
    """CPUs online on the host, as the engine counts `online_cpus`."""
    try:
        return os.sysconf("SC_NPROCESSORS_ONLN")
    except (ValueError, OSError):
        return os.cpu_count() or 1
