"""Containers: list, find, inspect, create, start, stop, restart, remove."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import orjson
from django.conf import settings
from docker.types import DeviceRequest
from docker.utils import convert_filters

from containersvc.engine import logstream
from containersvc.engine.client import api_client, translate_errors
from containersvc.engine.parsing import container_from_list, details_from_inspect
from containersvc.engine.types import ContainerDetails, CreateSpec, EngineContainer
from containersvc.errors import EngineTimeout, NotFound
from containersvc.list_caches import ParsedList


def list_entries(filters: dict[str, list[str]] | None = None) -> list[dict]:
    """The engine's list of all containers, as docker-py's `containers(all=True)` asks for it.

    Decoded with orjson rather than docker-py's json: at hundreds of containers the standard decoder costs
    a tenth of the engine's own time, orjson a fraction of that. Same client, timeout and errors.
    """
    client = api_client()
    params: dict[str, object] = {"all": 1}
    if filters:
        params["filters"] = convert_filters(filters)
    with translate_errors():
        response = logstream.http_get(client, "/containers/json", params=params)
        logstream.raise_for_status(client, response)
        return orjson.loads(response.content)


_parsed_list = ParsedList(parse=container_from_list)


def _list_askers_made() -> ThreadPoolExecutor:
    """A few threads that only wait on the engine: a list of hundreds is tens of milliseconds of waiting."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="engine-list")


_list_askers = _list_askers_made()


def _list_askers_after_fork() -> None:
    """A forked child (a test's live server) has none of its parent's threads, while the pool it inherited
    counts them as idle: what it was given would wait forever. The child starts a pool of its own."""
    global _list_askers
    _list_askers = _list_askers_made()


os.register_at_fork(after_in_child=_list_askers_after_fork)


def container_list(*, labels: dict[str, str] | None = None, name: str | None = None) -> list[EngineContainer]:
    filters: dict[str, list[str]] = {}
    if labels:
        filters["label"] = [f"{key}={value}" for key, value in labels.items()]
    if name:
        filters["name"] = [f"^/{name}$"]
    if not filters:
        return _parsed_list.parse(list_entries())
    return [container_from_list(entry) for entry in list_entries(filters)]


def container_list_asked() -> Callable[[], list[EngineContainer]]:
    """container_list() of every container, asked now on a thread of its own, so that the caller reads the
    database while the engine answers; the function returned waits for the answer (or raises the error, as
    container_list raises it). The client's timeout bounds each read, so a whole answer is waited for at most
    twice as long."""
    answer = _list_askers.submit(container_list)

    def wait() -> list[EngineContainer]:
        try:
            return answer.result(timeout=2 * settings.CONTAINERSVC_ENGINE_TIMEOUT)
        except FutureTimeout as error:
            raise EngineTimeout() from error

    return wait


def container_find(*, id_or_name: str) -> EngineContainer:
    """Exact full id or exact name; never the engine's prefix matching."""
    by_id = len(id_or_name) == 64 and all(char in "0123456789abcdef" for char in id_or_name)
    entries = list_entries({"id": [id_or_name]} if by_id else {"name": [f"^/{id_or_name}$"]})
    for entry in entries:
        found = container_from_list(entry)
        if found.id == id_or_name or id_or_name in found.names:
            return found
    raise NotFound(f"No container with id or name '{id_or_name}'.")


def container_inspect(*, container_id: str) -> ContainerDetails:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        return details_from_inspect(api_client().inspect_container(container_id))


def container_create(*, spec: CreateSpec) -> str:
    client = api_client()
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
        api_client().start(container_id)


def container_stop(*, container_id: str, timeout: int) -> None:
    """Stop; a container already stopped is fine (the engine answers 304, docker-py raises nothing)."""
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        api_client().stop(container_id, timeout=timeout)


def container_restart(*, container_id: str, timeout: int) -> None:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        api_client().restart(container_id, timeout=timeout)


def container_remove(*, container_id: str, force: bool) -> None:
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        api_client().remove_container(container_id, force=force, v=False)


def container_ids_by_prefix(*, prefix: str) -> list[str]:
    """Full ids of the containers whose id starts with `prefix` (the engine's own output names short ids).

    Never the engine's name lookup: a container may be named like another's short id.
    """
    return [entry["Id"] for entry in list_entries({"id": [prefix]}) if entry["Id"].startswith(prefix)]
