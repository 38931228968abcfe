"""The engine's JSON turned into the project's values: times, ports, list entries, inspects, events, stats
and log lines. Pure functions, no engine call."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from containersvc.engine.types import (
    ContainerDetails,
    EngineContainer,
    EngineEvent,
    EngineStats,
    LogLine,
    PortBinding,
)


def parse_time(value: str | int | None) -> datetime | None:
    """Engine times: RFC 3339 with nanoseconds, or UNIX seconds; the zero time means 'never'."""
    if value in (None, "", 0) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.fromtimestamp(timestamp_ns(value) / 1e9, tz=UTC)


def _whole_seconds(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment else None


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


def _ports_from_list(entries: list[dict] | None) -> tuple[PortBinding, ...]:
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


def _first_network(networks: dict | None) -> tuple[str, str]:
    for network in (networks or {}).values():
        return network.get("IPAddress", ""), network.get("MacAddress", "")
    return "", ""


def container_from_list(entry: dict) -> EngineContainer:
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


def details_from_inspect(data: dict) -> ContainerDetails:
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
        # To the second, as the engine's list gives it: the mirror's row is written from both, and two readings
        # of one time would have every list and every inspect rewrite it in turn.
        created_at=_whole_seconds(parse_time(data.get("Created"))),
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


def event_from(raw: dict) -> EngineEvent:
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


def stats_from(data: dict) -> EngineStats:
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


def log_line(stream: str, raw: bytes) -> LogLine:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    stamp, _, message = text.partition(" ")
    try:
        return LogLine(stream, timestamp_ns(stamp), message)
    except ValueError:
        return LogLine(stream, 0, text)
