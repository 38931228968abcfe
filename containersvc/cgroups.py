"""The cgroup and /proc adapter: raw resource counters of containers and of the host, read from files.

Only this module reads the kernel's accounting files. It knows cgroup v1 (one hierarchy per controller) and
v2 (one unified hierarchy), with the cgroupfs (`docker/<id>`) and systemd (`system.slice/docker-<id>.scope`)
layouts, and returns the project's own frozen dataclasses. Nothing here computes a rate or a percentage.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
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


def _ids_under(parent: Path) -> list[str]:
    """Container ids with a cgroup under `parent` (cgroupfs `docker/<id>` or systemd `docker-<id>.scope`)."""
    found: list[str] = []
    for directory, pattern in ((parent / "docker", CONTAINER_ID), (parent / "system.slice", SYSTEMD_SCOPE)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for entry in names:
            match = pattern.fullmatch(entry)
            if match:
                found.append(match.group(1) if match.groups() else match.group(0))
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
def _read(path: Path) -> str:
    try:
        with open(path, encoding="ascii") as file:
            return file.read()
    except OSError as error:
        raise CgroupUnreadable(str(path)) from error


def _int(path: Path) -> int:
    return int(_read(path).strip())


def _optional_int(path: Path, default: int = 0) -> int:
    try:
        return _int(path)
    except CgroupUnreadable:
        return default


def parse_flat_keyed(text: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            values[key] = int(value)
    return values


def parse_v1_blkio(text: str) -> tuple[int, int]:
    """blkio.throttle.io_service_bytes: `MAJ:MIN Op bytes` lines; Read and Write summed over devices."""
    read = write = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue  # the final `Total N`
        op = fields[1].lower()
        if op == "read":
            read += int(fields[2])
        elif op == "write":
            write += int(fields[2])
    return read, write


def parse_v2_io_stat(text: str) -> tuple[int, int]:
    """io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N ...` lines; rbytes and wbytes summed over devices."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def _limit(value: str) -> int | None:
    value = value.strip()
    if value == "max":
        return None
    number = int(value)
    return None if number >= UNLIMITED else number


# --- containers -------------------------------------------------------------------------------------------
def _read_v1(root: Path, container_id: str) -> ContainerCounters:
    cpu = _container_dir(_v1_controller_dir(root, "cpuacct"), container_id)
    memory = _container_dir(root / "memory", container_id)
    memory_stat = parse_flat_keyed(_read(memory / "memory.stat"))
    try:
        blkio = _container_dir(_v1_controller_dir(root, "blkio"), container_id)
        blk_text = _read(blkio / "blkio.throttle.io_service_bytes_recursive")
    except CgroupUnreadable:
        blk_text = ""
    try:
        pids = _optional_int(_container_dir(root / "pids", container_id) / "pids.current")
    except CgroupUnreadable:
        pids = 0
    blk_read, blk_write = parse_v1_blkio(blk_text)
    return ContainerCounters(
        cpu_usage_ns=_int(cpu / "cpuacct.usage"),
        memory_usage_bytes=_int(memory / "memory.usage_in_bytes"),
        memory_inactive_file_bytes=memory_stat.get("total_inactive_file", 0),
        memory_limit_bytes=_limit(_read(memory / "memory.limit_in_bytes")),
        blk_read_bytes=blk_read,
        blk_write_bytes=blk_write,
        pids=pids,
    )


def _read_v2(root: Path, container_id: str) -> ContainerCounters:
    directory = _container_dir(root, container_id)
    cpu_stat = parse_flat_keyed(_read(directory / "cpu.stat"))
    memory_stat = parse_flat_keyed(_read(directory / "memory.stat"))
    try:
        blk_read, blk_write = parse_v2_io_stat(_read(directory / "io.stat"))
    except CgroupUnreadable:
        blk_read = blk_write = 0  # the io controller is not enabled for the group
    try:
        limit = _limit(_read(directory / "memory.max"))
    except CgroupUnreadable:
        limit = None
    return ContainerCounters(
        cpu_usage_ns=cpu_stat["usage_usec"] * 1000,
        memory_usage_bytes=_int(directory / "memory.current"),
        memory_inactive_file_bytes=memory_stat.get("inactive_file", 0),
        memory_limit_bytes=limit,
        blk_read_bytes=blk_read,
        blk_write_bytes=blk_write,
        pids=_optional_int(directory / "pids.current"),
    )


def container_counters(*, root: Path, version: CgroupVersion, container_id: str) -> ContainerCounters:
    """The counters of one container; CgroupUnreadable when its cgroup is gone or unreadable."""
    if version == CgroupVersion.V2:
        return _read_v2(root, container_id)
    if version == CgroupVersion.V1:
        return _read_v1(root, container_id)
    raise CgroupUnreadable(container_id)


def parse_net_dev(text: str) -> NetCounters:
    """/proc/<pid>/net/dev: bytes received and sent, summed over the interfaces but loopback."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        interface, _, counters = line.partition(":")
        if interface.strip() == "lo":
            continue
        fields = counters.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return NetCounters(rx_bytes=rx, tx_bytes=tx)


def net_counters(*, pid: int) -> NetCounters:
    """Network bytes of the namespace the process `pid` (a container's init process) lives in."""
    return parse_net_dev(_read(PROC / str(pid) / "net" / "dev"))


def pid_in_container(*, pid: int, container_id: str) -> bool:
    """Whether `pid` still belongs to the container (a pid is reused once its process ends)."""
    try:
        return container_id in _read(PROC / str(pid) / "cgroup")
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
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields:
            values[key] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return values.get("MemTotal", 0), values.get("MemAvailable", values.get("MemFree", 0))


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


def online_cpus() -> int:
    """CPUs online on the host, as the engine counts `online_cpus`."""
    try:
        return os.sysconf("SC_NPROCESSORS_ONLN")
    except (ValueError, OSError):
        return os.cpu_count() or 1
