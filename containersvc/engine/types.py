"""The engine's values: frozen dataclasses the rest of the service reads, never docker-py's objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STREAM_NAMES = {1: "stdout", 2: "stderr"}
BOTH_STREAMS = tuple(STREAM_NAMES.values())


@dataclass(frozen=True, slots=True)
class PortBinding:
    internal: int
    host: int
    protocol: str = "tcp"
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class EngineContainer:
    """A container as the engine's list shows it (no inspect needed)."""

    id: str
    names: tuple[str, ...]
    image: str
    image_id: str
    state: str
    status: str
    labels: dict[str, str]
    ports: tuple[PortBinding, ...]
    created_at: datetime | None
    network_mode: str
    ip_address: str
    mac_address: str
    volumes: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[0] if self.names else ""


@dataclass(frozen=True, slots=True)
class ContainerDetails:
    """What an inspect adds to the list view."""

    summary: EngineContainer
    envs: tuple[tuple[str, str], ...]
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    restart_count: int
    oom_killed: bool
    error: str
    command: tuple[str, ...]
    runtime: str
    gpu_enabled: bool
    cpu_shares: int
    memory_bytes: int
    mounts: tuple[dict, ...]
    nano_cpus: int = 0  # 0: no CPU limit
    pids_limit: int = 0  # 0: no PIDs limit
    raw_state: dict = field(default_factory=dict)

    @property
    def cpus(self) -> float:
        return self.nano_cpus / 1_000_000_000


@dataclass(frozen=True, slots=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of a container; 0 is no limit. Memory is also the limit of memory plus swap."""

    nano_cpus: int = 0
    memory_bytes: int = 0
    pids_limit: int = 0


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """Everything a container can be created with: there is no way to pass anything else."""

    image: str
    name: str | None
    labels: dict[str, str]
    env: dict[str, str]
    ports: tuple[tuple[int, int], ...]  # (container port, host port; 0 = any free port)
    mounts: tuple[Mount, ...]
    gpu_device_ids: tuple[str, ...] | None  # None: no GPU; (): all GPUs
    publish_interface: str
    command: tuple[str, ...] | None = None
    gpu_count: int | None = None  # with gpu_device_ids == (): this many GPUs instead of all
    limits: Limits = Limits()


@dataclass(frozen=True, slots=True)
class LogLine:
    stream: str
    timestamp_ns: int
    text: str


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One container event from the engine's event stream."""

    action: str  # create, start, die, stop, destroy, health_status: healthy, ...
    container_id: str
    name: str
    time_ns: int
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class EngineImage:
    id: str
    tags: tuple[str, ...]
    size_bytes: int
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One line of a pull's output: about one layer (its short id) or, with layer "", the whole image."""

    layer: str
    status: str  # "Pulling fs layer", "Downloading", "Extracting", "Pull complete", "Already exists", ...
    current: int  # bytes done in this status, when the engine says
    total: int  # bytes in all, when the engine says


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """An image as the engine's disk usage sees it: what removing it alone frees, and how many containers use it."""

    id: str
    unique_bytes: int
    containers: int


@dataclass(frozen=True, slots=True)
class ImageRemoval:
    deleted: tuple[str, ...]  # image and layer ids deleted
    untagged: tuple[str, ...]  # references untagged


@dataclass(frozen=True, slots=True)
class ImagePrune:
    deleted: tuple[str, ...]
    space_reclaimed_bytes: int


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    address: str
    version: str
    api_version: str
    operating_system: str
    runtimes: tuple[str, ...]
    containers: int
    images: int
    cpus: int
    memory_bytes: int
    gpu_runtime: bool
    data_root: str = ""  # DockerRootDir: where images, containers and volumes live


# Not frozen, nor the classes made of it: stats.Reading is one, and a collector makes one a container a round
# (a frozen dataclass's __init__ costs several times a plain one's; docs/stats.md, "What it costs").
@dataclass(slots=True)
class StatsCounters:
    """One container's raw counters, what `docker stats` reads: the engine's one-shot stats carry them
    (EngineStats), and so does a reading from the cgroup files or the engine (stats.Reading)."""

    cpu_usage_ns: int
    online_cpus: int
    memory_usage_bytes: int
    memory_inactive_file_bytes: int
    memory_limit_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    blk_read_bytes: int
    blk_write_bytes: int
    pids: int


@dataclass(slots=True)
class EngineStats(StatsCounters):
    """One container's counters from the engine's one-shot stats, with the host's CPU time and the read time."""

    system_cpu_ns: int
    read_at_ns: int  # when the engine read the counters (its clock), 0 if it did not say


@dataclass(frozen=True, slots=True)
class DiskUsage:
    images_bytes: int
    containers_bytes: int
    volumes_bytes: int
    build_cache_bytes: int
