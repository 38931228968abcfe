"""The engine itself: probe, info, disk usage."""

from __future__ import annotations

from containersvc.engine.client import address, api_client, translate_errors
from containersvc.engine.types import DaemonInfo, DiskUsage


def probe() -> None:
    """Raises unless the engine answers within PROBE_TIMEOUT_SECONDS; a container call, not /_ping, which
    can answer while container calls hang."""
    with translate_errors():
        api_client(probe=True).containers(limit=1)


def daemon_info() -> DaemonInfo:
    with translate_errors():
        info = api_client().info()
        version = api_client().version()
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


def daemon_disk_usage() -> DiskUsage:
    with translate_errors():
        usage = api_client(long=True).df()
    return DiskUsage(
        images_bytes=sum(image.get("Size", 0) for image in usage.get("Images") or []),
        containers_bytes=sum(container.get("SizeRw", 0) or 0 for container in usage.get("Containers") or []),
        volumes_bytes=sum((volume.get("UsageData") or {}).get("Size", 0) or 0 for volume in usage.get("Volumes") or []),
        build_cache_bytes=sum(cache.get("Size", 0) for cache in usage.get("BuildCache") or []),
    )
