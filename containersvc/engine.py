"""The Docker engine adapter: the only module that imports docker.

Every call has a timeout, every SDK error becomes a ContainerSvcError, and what comes back are the
project's own frozen dataclasses. The client is made lazily, so the service boots without an engine.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache

import docker
import docker.errors
import docker.utils
import orjson
import requests.exceptions
import urllib3.exceptions
from django.conf import settings
from docker.types import DeviceRequest
from docker.utils import convert_filters

from containersvc.errors import (
    Conflict,
    ContainerSvcError,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    InvalidRequest,
    NotFound,
)

STREAM_NAMES = {1: "stdout", 2: "stderr"}
BOTH_STREAMS = tuple(STREAM_NAMES.values())
NO_GPU_DRIVER_MARKER = "could not select device driver"


# --- values ------------------------------------------------------------------------------------------------
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


@dataclass(frozen=True, slots=True)
class EngineStats:
    """One container's counters from the engine's one-shot stats (what `docker stats` reads)."""

    cpu_usage_ns: int
    system_cpu_ns: int
    online_cpus: int
    memory_usage_bytes: int
    memory_inactive_file_bytes: int
    memory_limit_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    blk_read_bytes: int
    blk_write_bytes: int
    pids: int
    read_at_ns: int  # when the engine read the counters (its clock), 0 if it did not say


@dataclass(frozen=True, slots=True)
class DiskUsage:
    images_bytes: int
    containers_bytes: int
    volumes_bytes: int
    build_cache_bytes: int


# --- the client -------------------------------------------------------------------------------------------
_clients: dict[str, docker.APIClient] = {}
PROBE_TIMEOUT_SECONDS = 2.0  # health checks: an engine slower than this is as good as away
_clients_lock = threading.Lock()


def _client(long: bool = False, *, probe: bool = False) -> docker.APIClient:
    """A client per timeout class; made on first use and again after a failed start."""
    kind = "probe" if probe else "long" if long else "short"
    with _clients_lock:
        if kind not in _clients:
            timeout = {
                "probe": PROBE_TIMEOUT_SECONDS,
                "long": settings.CONTAINERSVC_PULL_TIMEOUT,
                "short": settings.CONTAINERSVC_ENGINE_TIMEOUT,
            }[kind]
            with translate_errors():
                _clients[kind] = docker.APIClient(
                    base_url=settings.CONTAINERSVC_DOCKER_HOST, version="auto", timeout=timeout
                )
        return _clients[kind]


def reset_clients() -> None:
    """Forget the clients, e.g. after DOCKER_HOST changed (tests) or the engine was replaced."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def address() -> str:
    return settings.CONTAINERSVC_DOCKER_HOST


def _explanation(error: docker.errors.APIError) -> str:
    text = error.explanation
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text or error).strip()


@contextmanager
def translate_errors(not_found: str | None = None) -> Iterator[None]:
    """Turn docker-py and requests errors into the project's error tree."""
    try:
        yield
    except ContainerSvcError:
        raise
    except docker.errors.NotFound as error:
        raise NotFound(not_found or _explanation(error)) from error
    except docker.errors.APIError as error:
        status = error.status_code or 500
        message = _explanation(error)
        if status == 409:
            raise Conflict(message) from error
        if status == 400 or status == 404:
            raise InvalidRequest(message) from error
        raise EngineError(message) from error
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout) as error:
        raise EngineTimeout() from error
    except (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError) as error:
        # The engine went away in the middle of a stream (killed, restarted): the stream ends with this.
        raise EngineUnavailable(f"The Docker engine at {address()} went away during a stream.") from error
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower():
            raise EngineTimeout() from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error
    except docker.errors.DockerException as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, requests.exceptions.Timeout) or "timed out" in str(error).lower():
            raise EngineTimeout() from error
        if isinstance(cause, requests.exceptions.ConnectionError):
            # docker-py's text here is urllib3's repr of the errno: the address says all there is to say.
            raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}: {error}") from error
    except (TimeoutError, OSError) as error:
        if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
            raise EngineTimeout() from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error


# --- parsing ----------------------------------------------------------------------------------------------
def parse_time(value: str | int | None) -> datetime | None:
    """Engine times: RFC 3339 with nanoseconds, or UNIX seconds; the zero time means 'never'."""
    if value in (None, "", 0) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.fromtimestamp(timestamp_ns(value) / 1e9, tz=UTC)


def timestamp_ns(value: str) -> int:
    """'2026-11-28T12:58:15.033542488Z' -> nanoseconds since the epoch, exactly."""
    stamp, _, fraction = value.rstrip("Z").partition(".")
    offset = ""
    for sign in "+-":
        if sign in fraction:
            fraction, _, offset = fraction.partition(sign)
            offset = sign + offset
    return _epoch_seconds(stamp, offset) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


@lru_cache(maxsize=256)
def _epoch_seconds(stamp: str, offset: str) -> int:
    """Cached: the lines of a log share their second by the thousand, and parsing it is most of the cost."""
    return int(datetime.fromisoformat(stamp + (offset or "+00:00")).timestamp())


def _ports_from_list(entries: list[dict]) -> tuple[PortBinding, ...]:
    seen: dict[tuple[int, str], PortBinding] = {}
    for entry in entries or []:
        internal, protocol = entry.get("PrivatePort", 0), entry.get("Type", "tcp")
        host = entry.get("PublicPort", 0)
        # The same binding is listed once per address family; keep one, the published one first.
        if (internal, protocol) not in seen or (host and not seen[(internal, protocol)].host):
            seen[(internal, protocol)] = PortBinding(internal, host, protocol, entry.get("IP", ""))
    return tuple(sorted(seen.values(), key=lambda port: (port.internal, port.protocol)))


def _ports_from_inspect(network_settings: dict) -> tuple[PortBinding, ...]:
    bindings: list[PortBinding] = []
    for key, hosts in (network_settings.get("Ports") or {}).items():
        port, _, protocol = key.partition("/")
        if not hosts:
            bindings.append(PortBinding(int(port), 0, protocol or "tcp"))
            continue
        first = hosts[0]
        bindings.append(PortBinding(int(port), int(first.get("HostPort") or 0), protocol, first.get("HostIp", "")))
    return tuple(sorted(bindings, key=lambda port: (port.internal, port.protocol)))


def _first_network(networks: dict) -> tuple[str, str]:
    for network in (networks or {}).values():
        return network.get("IPAddress", ""), network.get("MacAddress", "")
    return "", ""


def _container_from_list(entry: dict) -> EngineContainer:
    networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
    ip_address, mac_address = _first_network(networks)
    return EngineContainer(
        id=entry["Id"],
        names=tuple(name.lstrip("/") for name in entry.get("Names") or []),
        image=entry.get("Image", ""),
        image_id=entry.get("ImageID", ""),
        state=entry.get("State", ""),
        status=entry.get("Status", ""),
        labels=entry.get("Labels") or {},
        ports=_ports_from_list(entry.get("Ports")),
        created_at=parse_time(entry.get("Created")),
        network_mode=(entry.get("HostConfig") or {}).get("NetworkMode", ""),
        ip_address=ip_address,
        mac_address=mac_address,
        volumes=tuple(mount.get("Destination", "") for mount in entry.get("Mounts") or []),
    )


def _details_from_inspect(data: dict) -> ContainerDetails:
    config, host_config, state = data.get("Config") or {}, data.get("HostConfig") or {}, data.get("State") or {}
    network_settings = data.get("NetworkSettings") or {}
    ip_address, mac_address = _first_network(network_settings.get("Networks"))
    summary = EngineContainer(
        id=data["Id"],
        names=(data.get("Name", "").lstrip("/"),),
        image=config.get("Image", ""),
        image_id=data.get("Image", ""),
        state=state.get("Status", ""),
        status=state.get("Status", ""),
        labels=config.get("Labels") or {},
        ports=_ports_from_inspect(network_settings),
        created_at=parse_time(data.get("Created")),
        network_mode=host_config.get("NetworkMode", ""),
        ip_address=ip_address,
        mac_address=mac_address,
        volumes=tuple(mount.get("Destination", "") for mount in data.get("Mounts") or []),
    )
    envs = tuple(tuple(item.split("=", 1)) if "=" in item else (item, "") for item in config.get("Env") or [])
    running = state.get("Running") or state.get("Restarting")
    return ContainerDetails(
        summary=summary,
        envs=envs,
        exit_code=None if running or state.get("Status") == "created" else state.get("ExitCode"),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        restart_count=data.get("RestartCount", 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error", ""),
        command=tuple((config.get("Entrypoint") or []) + (config.get("Cmd") or [])),
        runtime=host_config.get("Runtime", ""),
        gpu_enabled=any(
            any("gpu" in group for group in request.get("Capabilities") or [])
            for request in host_config.get("DeviceRequests") or []
        ),
        cpu_shares=host_config.get("CpuShares") or 0,
        memory_bytes=host_config.get("Memory") or 0,
        nano_cpus=host_config.get("NanoCpus") or 0,
        pids_limit=max(0, host_config.get("PidsLimit") or 0),  # the engine shows -1 or 0 for none
        mounts=tuple(
            {"source": m.get("Source", ""), "destination": m.get("Destination", ""), "readOnly": not m.get("RW", True)}
            for m in data.get("Mounts") or []
        ),
        raw_state=state,
    )


# --- containers -------------------------------------------------------------------------------------------
def _list_entries(filters: dict[str, list[str]] | None = None) -> list[dict]:
    """The engine's list of all containers, as docker-py's `containers(all=True)` asks for it.

    Decoded with orjson rather than docker-py's json: at hundreds of containers the standard decoder costs
    a tenth of the engine's own time, orjson a fraction of that. Same client, timeout and errors.
    """
    client = _client()
    params: dict[str, object] = {"all": 1}
    if filters:
        params["filters"] = convert_filters(filters)
    with translate_errors():
        response = client._get(client._url("/containers/json"), params=params)
        client._raise_for_status(response)
        return orjson.loads(response.content)


class _ParsedList:
    """The parsed entries of the last full list by container id, reused while the engine sends the same entry.

    Between two lists most entries are unchanged but for their status line's time count ("Up 5 minutes"), and
    comparing an entry costs a fraction of parsing it. Holds the entries of the latest full list only. What it
    held is kept rather than replaced by an equal new entry, so that an unchanged list leaves no new long-lived
    objects for the garbage collector to go through.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[dict, EngineContainer]] = {}  # by id: (the entry without Status, parsed)

    def parse(self, entries: list[dict]) -> list[EngineContainer]:
        previous, current, parsed = self._parsed, {}, []
        for entry in entries:
            status = entry.pop("Status", "")  # compared apart: it counts time
            known = previous.get(entry["Id"])
            if known is None or known[0] != entry:
                known = (entry, _container_from_list({**entry, "Status": status}))
            elif known[1].status != status:
                known = (known[0], replace(known[1], status=status))
            current[entry["Id"]] = known
            parsed.append(known[1])
        # Replaced whole, never changed in place: lists taken at once by several threads each read a whole one.
        self._parsed = current
        return parsed


_parsed_list = _ParsedList()


def container_list(*, labels: dict[str, str] | None = None, name: str | None = None) -> list[EngineContainer]:
    filters: dict[str, list[str]] = {}
    if labels:
        filters["label"] = [f"{key}={value}" for key, value in labels.items()]
    if name:
        filters["name"] = [f"^/{name}$"]
    if not filters:
        return _parsed_list.parse(_list_entries())
    return [_container_from_list(entry) for entry in _list_entries(filters)]


def container_find(*, id_or_name: str) -> EngineContainer:
    """Exact full id or exact name; never the engine's prefix matching."""
    by_id = len(id_or_name) == 64 and all(char in "0123456789abcdef" for char in id_or_name)
    entries = _list_entries({"id": [id_or_name]} if by_id else {"name": [f"^/{id_or_name}$"]})
    for entry in entries:
        found = _container_from_list(entry)
        if found.id == id_or_name or id_or_name in found.names:
            return found
    raise NotFound(f"No container with id or name '{id_or_name}'.")


def container_inspect(*, container_id: str) -> ContainerDetails:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        return _details_from_inspect(_client().inspect_container(container_id))


def container_create(*, spec: CreateSpec) -> str:
    client = _client()
    port_bindings = {internal: (spec.publish_interface, host or None) for internal, host in spec.ports}
    device_requests = None
    if spec.gpu_device_ids is not None:
        device_requests = [
            DeviceRequest(count=spec.gpu_count or -1, capabilities=[["gpu"]])
            if not spec.gpu_device_ids
            else DeviceRequest(device_ids=list(spec.gpu_device_ids), capabilities=[["gpu"]])
        ]
    host_config = client.create_host_config(
        port_bindings=port_bindings or None,
        binds={
            mount.host_path: {"bind": mount.container_path, "mode": "ro" if mount.read_only else "rw"}
            for mount in spec.mounts
        }
        or None,
        device_requests=device_requests,
        privileged=False,
        init=True,
        # Always json-file, rotated: the caller never picks a log driver, and a flood cannot fill the disk.
        log_config={
            "Type": "json-file",
            "Config": {
                "max-size": settings.CONTAINERSVC_LOG_MAX_SIZE,
                "max-file": str(settings.CONTAINERSVC_LOG_MAX_FILES),
            },
        },
        nano_cpus=spec.limits.nano_cpus or None,
        mem_limit=spec.limits.memory_bytes or None,
        memswap_limit=spec.limits.memory_bytes or None,  # no swap beyond the memory limit
        pids_limit=spec.limits.pids_limit or None,
    )
    with translate_errors():
        created = client.create_container(
            image=spec.image,
            name=spec.name,
            command=list(spec.command) if spec.command else None,
            environment=[f"{key}={value}" for key, value in spec.env.items()],
            labels=spec.labels,
            ports=[internal for internal, _ in spec.ports] or None,
            host_config=host_config,
        )
    return created["Id"]


def container_start(*, container_id: str) -> None:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        _client().start(container_id)


def container_stop(*, container_id: str, timeout: int) -> None:
    """Stop; a container already stopped is fine (the engine answers 304, docker-py raises nothing)."""
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        _client().stop(container_id, timeout=timeout)


def container_restart(*, container_id: str, timeout: int) -> None:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        _client().restart(container_id, timeout=timeout)


def container_remove(*, container_id: str, force: bool) -> None:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        _client().remove_container(container_id, force=force, v=False)


def container_logs(
    *,
    container_id: str,
    since_ns: int = 0,
    tail: int | None = None,
    follow: bool = False,
    streams: tuple[str, ...] = BOTH_STREAMS,
    timeout: float | None = None,
) -> Iterator[LogLine]:
    """Lines of the streams asked for (both by default) in the engine's order, each with its stream and
    exact timestamp.

    Reads the engine's multiplexed frames itself so that stdout and stderr stay apart in one call, and
    keeps the read timeout unless following (a follow is ended by closing it, see LogFollow). `timeout`: the
    most each engine read may take, when shorter than the engine timeout.
    """
    response = _open_logs(
        container_id=container_id, since_ns=since_ns, tail=tail, follow=follow, streams=streams, timeout=timeout
    )
    yield from _log_lines(response)


def _open_logs(
    *,
    container_id: str,
    since_ns: int,
    tail: int | None,
    follow: bool,
    streams: tuple[str, ...] = BOTH_STREAMS,
    timeout: float | None = None,
):
    params = {"stdout": int("stdout" in streams), "stderr": int("stderr" in streams), "timestamps": 1}
    params["follow"] = 1 if follow else 0
    params["tail"] = "all" if tail is None else str(tail)
    if since_ns:
        params["since"] = f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
    client = _client()
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        url = client._url("/containers/{0}/logs", container_id)
        response = client._get(url, params=params, stream=True, **({"timeout": timeout} if timeout else {}))
        client._raise_for_status(response)
    if follow:
        _set_socket_timeout(response, None)
    return response


def _socket_of(response) -> socket.socket:
    raw = response.raw._fp.fp.raw
    return getattr(raw, "_sock", raw)


def _set_socket_timeout(response, timeout: float | None) -> None:
    _socket_of(response).settimeout(timeout)


def _shutdown(response) -> None:
    """Wake a thread blocked reading this response: shutdown() makes its recv() return, close() alone may not."""
    try:
        _socket_of(response).shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass  # already closed, or never connected


class LogFollow:
    """A log follow that any thread may end: close() makes lines() stop, and the reader releases the socket.

    Reading errors after close() are the close itself, not a failure.
    """

    def __init__(self, response) -> None:
        self._response = response
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def lines(self) -> Iterator[LogLine]:
        try:
            yield from _log_lines(self._response)
        except (ContainerSvcError, urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
            if not self.closed:
                raise

    def close(self) -> None:
        self._closed.set()
        _shutdown(self._response)

    def release(self) -> None:
        """Free the socket when lines() was never read to its end (its own finally does it otherwise)."""
        self.close()
        self._response.close()


def log_follow_open(*, container_id: str, since_ns: int = 0, tail: int | None = 0) -> LogFollow:
    """Open a follow of both streams; the caller reads lines() in a thread and ends it with close()."""
    return LogFollow(_open_logs(container_id=container_id, since_ns=since_ns, tail=tail, follow=True))


READ_BYTES = 65536
_FRAME_HEADER = struct.Struct(">BxxxL")


def _body_reader(response) -> Callable[[], bytes]:
    """A function returning the next piece of the body as it arrives (b"" at its end).

    The engine sends a log as a chunked body, one chunk per frame (a line each, mostly). Through urllib3 and
    http.client each chunk costs several times what cutting its line does, so a chunked body not yet read
    from is decoded here, from the socket's buffered reader: each call returns the data of every chunk that
    has arrived, waiting only while none has.
    """
    http_response = getattr(response.raw, "_fp", None)
    reader = getattr(http_response, "fp", None)
    if reader is None or not getattr(http_response, "chunked", False) or http_response.chunk_left is not None:
        return lambda: response.raw.read1(READ_BYTES)
    state = {"raw": b"", "done": False}

    def fill() -> None:
        more = reader.read1(READ_BYTES)
        if not more:
            raise urllib3.exceptions.ProtocolError("the chunked body ended before its last chunk")
        state["raw"] += more

    def read1() -> bytes:
        pieces: list[bytes] = []
        while not state["done"]:
            raw, start = state["raw"], 0
            while True:  # every complete chunk in what has arrived
                line_end = raw.find(b"\r\n", start)
                if line_end < 0:
                    break
                size = int(raw[start:line_end].split(b";", 1)[0], 16)
                if size == 0:
                    state["done"] = True
                    break
                if len(raw) < line_end + 2 + size + 2:
                    break
                pieces.append(raw[line_end + 2 : line_end + 2 + size])
                start = line_end + 2 + size + 2
            state["raw"] = raw[start:]
            if pieces or state["done"]:
                break
            fill()
        return b"".join(pieces)

    return read1


def _frames(response) -> Iterator[tuple[str, bytes]]:
    """(stream, payload) frames; a TTY container's raw output counts as stdout.

    Reads whatever the engine has sent so far (so a follow is never held back waiting for more) and cuts the
    frames out of it, rather than two reads per frame.
    """
    read1 = _body_reader(response)
    with translate_errors():
        buffer = b""
        while len(buffer) < 8 and (chunk := read1()):
            buffer += chunk
        if not buffer:
            return
        if not (len(buffer) >= 8 and buffer[0] in (0, 1, 2) and buffer[1:4] == b"\0\0\0"):
            yield "stdout", buffer
            while chunk := read1():
                yield "stdout", chunk
            return
        unpack, start = _FRAME_HEADER.unpack_from, 0
        while True:
            end = len(buffer)
            while end - start >= 8:
                stream_type, length = unpack(buffer, start)
                if end - start - 8 < length:
                    break
                start += 8
                yield STREAM_NAMES.get(stream_type, "stdout"), buffer[start : start + length]
                start += length
            chunk = read1()
            if not chunk:
                if end - start > 8:
                    yield STREAM_NAMES.get(buffer[start], "stdout"), buffer[start + 8 :]  # cut short at the end
                return
            buffer = buffer[start:] + chunk
            start = 0


def _log_lines(response) -> Iterator[LogLine]:
    partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
    try:
        for stream, payload in _frames(response):
            data = partial[stream] + payload
            *lines, partial[stream] = data.split(b"\n")
            for line in lines:
                yield _log_line(stream, line)
        for stream, rest in partial.items():
            if rest:
                yield _log_line(stream, rest)
    finally:
        response.close()


def _log_line(stream: str, raw: bytes) -> LogLine:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    stamp, _, message = text.partition(" ")
    try:
        return LogLine(stream, timestamp_ns(stamp), message)
    except ValueError:
        return LogLine(stream, 0, text)


# --- events -----------------------------------------------------------------------------------------------
class EventStream:
    """Container events as they happen; close() from any thread ends the iteration."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __iter__(self) -> Iterator[EngineEvent]:
        try:
            with translate_errors():
                for raw in self._stream:
                    if isinstance(raw, dict) and raw.get("Type") == "container":
                        yield _event_from(raw)
        except (ContainerSvcError, urllib3.exceptions.HTTPError, ValueError, AttributeError):
            if not self.closed:
                raise

    def close(self) -> None:
        self._closed.set()
        try:
            self._stream.close()
        except (OSError, docker.errors.DockerException):
            pass  # the stream was already broken or closed


def _event_from(raw: dict) -> EngineEvent:
    actor = raw.get("Actor") or {}
    attributes = {str(key): str(value) for key, value in (actor.get("Attributes") or {}).items()}
    time_ns = raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000
    return EngineEvent(
        action=str(raw.get("Action") or raw.get("status") or ""),
        container_id=str(actor.get("ID") or raw.get("id") or ""),
        name=attributes.get("name", ""),
        time_ns=int(time_ns),
        attributes=attributes,
    )


def events_open(*, since_ns: int | None = None) -> EventStream:
    """Follow the engine's container events (no read timeout); end it with close() from another thread."""
    since = None if since_ns is None else f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
    with translate_errors():
        stream = _client().events(since=since, filters={"type": "container"}, decode=True)
    return EventStream(stream)


# --- images -----------------------------------------------------------------------------------------------
def image_exists(*, reference: str) -> bool:
    try:
        with translate_errors():
            _client().inspect_image(reference)
    except (NotFound, InvalidRequest):
        return False
    return True


def image_pull(
    *, repository: str, tag: str | None, digest: str | None, on_progress: Callable[[PullProgress], None] | None = None
) -> None:
    """Pull and wait, handing each progress line to on_progress; an error in the stream is raised.

    docker-py's own pull reads without a timeout: this one waits at most the pull timeout for each piece of
    output, and closes the stream however it ends.
    """
    reference = f"{repository}@{digest}" if digest else repository
    client = _client(long=True)
    params = {"fromImage": reference, "tag": None if digest else (tag or "latest")}
    header = docker.auth.get_config_header(client, docker.auth.resolve_repository_name(repository)[0])
    with translate_errors(not_found=f"Image '{reference}' was not found in its registry."):
        response = client._post(
            client._url("/images/create"),
            params=params,
            headers={"X-Registry-Auth": header} if header else {},
            stream=True,
            timeout=settings.CONTAINERSVC_PULL_TIMEOUT,
        )
        try:
            client._raise_for_status(response)
            for event in client._stream_helper(response, decode=True):
                if "error" in event:
                    raise InvalidRequest(f"Pulling '{reference}' failed: {event['error']}")
                if on_progress is not None:
                    detail = event.get("progressDetail") or {}
                    on_progress(
                        PullProgress(
                            layer=str(event.get("id") or ""),
                            status=str(event.get("status") or ""),
                            current=int(detail.get("current") or 0),
                            total=int(detail.get("total") or 0),
                        )
                    )
        finally:
            response.close()


def image_usage() -> dict[str, ImageUsage]:
    """Each image's unique size and container count, by id (the engine's disk usage: slower than a list)."""
    with translate_errors():
        entries = _client(long=True).df().get("Images") or []
    usage = {}
    for entry in entries:
        size, shared = entry.get("Size") or 0, entry.get("SharedSize") or 0
        unique = size - shared if shared > 0 else size
        containers = max(0, entry.get("Containers") or 0)
        usage[entry["Id"]] = ImageUsage(id=entry["Id"], unique_bytes=unique, containers=containers)
    return usage


def image_inspect(*, reference: str) -> EngineImage:
    with translate_errors(not_found=f"No image '{reference}'."):
        entry = _client().inspect_image(reference)
    return EngineImage(
        id=entry["Id"],
        tags=tuple(entry.get("RepoTags") or ()),
        size_bytes=entry.get("Size", 0),
        created_at=parse_time(entry.get("Created")),
    )


def image_users(*, image_id: str) -> list[EngineContainer]:
    """Containers (running or not) made from the image or from an image built on it."""
    return [_container_from_list(entry) for entry in _list_entries({"ancestor": [image_id]})]


def image_remove(*, reference: str) -> ImageRemoval:
    """Untag a reference (deleting the image with its last tag), or delete an image by id; never forced."""
    with translate_errors(not_found=f"No image '{reference}'."):
        entries = _client().remove_image(reference, force=False, noprune=False) or []
    return ImageRemoval(
        deleted=tuple(entry["Deleted"] for entry in entries if "Deleted" in entry),
        untagged=tuple(entry["Untagged"] for entry in entries if "Untagged" in entry),
    )


def image_prune(*, dangling_only: bool, labels: dict[str, str] | None = None) -> ImagePrune:
    """Delete dangling images (untagged, used by none), or every image no container uses."""
    filters: dict[str, list[str]] = {"dangling": ["true" if dangling_only else "false"]}
    if labels:
        filters["label"] = [f"{key}={value}" for key, value in labels.items()]
    with translate_errors():
        result = _client(long=True).prune_images(filters=filters)
    return ImagePrune(
        deleted=tuple(entry["Deleted"] for entry in result.get("ImagesDeleted") or [] if "Deleted" in entry),
        space_reclaimed_bytes=result.get("SpaceReclaimed") or 0,
    )


def image_pullable(*, reference: str) -> bool:
    """Ask the image's own registry, through the engine, whether the reference can be pulled."""
    try:
        with translate_errors():
            _client().inspect_distribution(reference)
    except (NotFound, InvalidRequest, EngineError, Conflict):
        return False
    return True


def image_list() -> list[EngineImage]:
    with translate_errors():
        entries = _client().images()
    return [
        EngineImage(
            id=entry["Id"],
            tags=tuple(tag for tag in entry.get("RepoTags") or [] if tag != "<none>:<none>"),
            size_bytes=entry.get("Size", 0),
            created_at=parse_time(entry.get("Created")),
        )
        for entry in entries
    ]


MESSAGE_BUILD_STOPPED = "The build was stopped before it ended."


class BuildStream:
    """A running build: read() hands its output on and returns the image id; close() from any thread stops it.

    The engine stops a build whose client went away (and kills the step container that was running).
    """

    def __init__(self, client: docker.APIClient, response, tag: str) -> None:
        self._client = client
        self._response = response
        self._tag = tag
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def read(self, *, on_output: Callable[[str], None]) -> str:
        image_id = ""
        try:
            with translate_errors():
                for event in self._client._stream_helper(self._response, decode=True):
                    if "stream" in event:
                        on_output(event["stream"])
                    elif "status" in event:
                        on_output(f"{event['status']} {event.get('progress', '')}".rstrip() + "\n")
                    if "aux" in event and "ID" in event["aux"]:
                        image_id = event["aux"]["ID"]
                    if "error" in event:
                        error = InvalidRequest(event["error"].strip())  # its message names no host details
                        on_output(error.message + "\n")
                        raise error
        except (ContainerSvcError, urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
            if not self.closed:
                raise
        finally:
            self._response.close()
        if self.closed:
            raise Conflict(MESSAGE_BUILD_STOPPED)
        if not image_id:
            with translate_errors():
                image_id = _client().inspect_image(self._tag)["Id"]
        return image_id

    def close(self) -> None:
        self._closed.set()
        _shutdown(self._response)


def _dockerignore(context_dir: str) -> list[str]:
    """The context's .dockerignore patterns, as `docker build` reads them."""
    try:
        with open(os.path.join(context_dir, ".dockerignore")) as ignore:
            lines = [line.strip() for line in ignore.read().splitlines()]
    except FileNotFoundError:
        return []
    return [line for line in lines if line and not line.startswith("#")]


def image_build_open(*, context_dir: str, dockerfile: str, tag: str) -> BuildStream:
    """Send the context (the Dockerfile is inside it) and start the build; read its output with read()."""
    client = _client(long=True)
    with translate_errors():
        context = docker.utils.tar(context_dir, exclude=_dockerignore(context_dir), dockerfile=(dockerfile, None))
        try:
            headers = {"Content-Type": "application/tar"}
            client._set_auth_headers(headers)
            response = client._post(
                client._url("/build"),
                data=context,
                params={"t": tag, "dockerfile": dockerfile, "rm": "1", "forcerm": "1"},
                headers=headers,
                stream=True,
                timeout=settings.CONTAINERSVC_PULL_TIMEOUT,
            )
        finally:
            context.close()
        client._raise_for_status(response)
    return BuildStream(client, response, tag)


def image_build(*, context_dir: str, dockerfile: str, tag: str, on_output: Callable[[str], None]) -> str:
    """Build with the engine, handing each piece of output to on_output; returns the image id."""
    return image_build_open(context_dir=context_dir, dockerfile=dockerfile, tag=tag).read(on_output=on_output)


def container_ids_by_prefix(*, prefix: str) -> list[str]:
    """Full ids of the containers whose id starts with `prefix` (the engine's own output names short ids).

    Never the engine's name lookup: a container may be named like another's short id.
    """
    return [entry["Id"] for entry in _list_entries({"id": [prefix]}) if entry["Id"].startswith(prefix)]


# --- the daemon -------------------------------------------------------------------------------------------
def probe() -> None:
    """Raises unless the engine answers within PROBE_TIMEOUT_SECONDS; a container call, not /_ping, which
    can answer while container calls hang."""
    with translate_errors():
        _client(probe=True).containers(limit=1)


def daemon_info() -> DaemonInfo:
    with translate_errors():
        info = _client().info()
        version = _client().version()
    runtimes = tuple(sorted((info.get("Runtimes") or {}).keys()))
    return DaemonInfo(
        address=address(),
        version=version.get("Version", ""),
        api_version=version.get("ApiVersion", ""),
        operating_system=info.get("OperatingSystem", ""),
        runtimes=runtimes,
        containers=info.get("Containers", 0),
        images=info.get("Images", 0),
        cpus=info.get("NCPU", 0),
        memory_bytes=info.get("MemTotal", 0),
        gpu_runtime="nvidia" in runtimes,
        data_root=info.get("DockerRootDir", ""),
    )


def _stats_from(data: dict) -> EngineStats:
    cpu, memory = data.get("cpu_stats") or {}, data.get("memory_stats") or {}
    memory_stat = memory.get("stats") or {}
    # cgroup v1 names it total_inactive_file, v2 inactive_file (docker/cli's calculateMemUsageUnixNoCache).
    inactive = memory_stat.get("total_inactive_file", memory_stat.get("inactive_file", 0))
    networks = (data.get("networks") or {}).values()
    blkio = (data.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return EngineStats(
        cpu_usage_ns=(cpu.get("cpu_usage") or {}).get("total_usage", 0),
        system_cpu_ns=cpu.get("system_cpu_usage", 0),
        online_cpus=cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1,
        memory_usage_bytes=memory.get("usage", 0),
        memory_inactive_file_bytes=inactive,
        memory_limit_bytes=memory.get("limit", 0),
        net_rx_bytes=sum(network.get("rx_bytes", 0) for network in networks),
        net_tx_bytes=sum(network.get("tx_bytes", 0) for network in networks),
        blk_read_bytes=sum(entry.get("value", 0) for entry in blkio if entry.get("op", "").lower() == "read"),
        blk_write_bytes=sum(entry.get("value", 0) for entry in blkio if entry.get("op", "").lower() == "write"),
        pids=(data.get("pids_stats") or {}).get("current", 0),
        read_at_ns=timestamp_ns(data["read"]) if data.get("read", "").startswith("2") else 0,
    )


def container_stats(*, container_id: str, timeout: float) -> EngineStats:
    """One-shot stats (API 1.41): the counters as they stand, without the engine's own second sample."""
    client = _client()
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        response = client._get(
            client._url("/containers/{0}/stats", container_id),
            params={"stream": "false", "one-shot": "true"},
            timeout=timeout,
        )
        client._raise_for_status(response)
    if not response.content:
        # The engine ends the answer without a body when the container stops during the call.
        raise NotFound(f"No running container with id '{container_id}'.")
    try:
        return _stats_from(orjson.loads(response.content))
    except orjson.JSONDecodeError as error:
        raise EngineError("The engine's stats could not be read.") from error


def daemon_disk_usage() -> DiskUsage:
    with translate_errors():
        usage = _client(long=True).df()
    return DiskUsage(
        images_bytes=sum(image.get("Size", 0) for image in usage.get("Images") or []),
        containers_bytes=sum(container.get("SizeRw", 0) or 0 for container in usage.get("Containers") or []),
        volumes_bytes=sum((volume.get("UsageData") or {}).get("Size", 0) or 0 for volume in usage.get("Volumes") or []),
        build_cache_bytes=sum(cache.get("Size", 0) for cache in usage.get("BuildCache") or []),
    )


def is_no_gpu_driver_error(error: ContainerSvcError) -> bool:
    return NO_GPU_DRIVER_MARKER in error.message
