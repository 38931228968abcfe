"""Container lifecycle: run (idempotent by name + hash), start, stop, restart, remove."""

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeGuard

from django.conf import settings
from django.utils import timezone

from containersvc import access, engine, labels, validation
from containersvc.access import Level
from containersvc.engine import CreateSpec, EngineContainer, Limits, PortBinding
from containersvc.errors import Conflict, ContainerSvcError, EngineError, InvalidRequest, NotFound
from containersvc.models import Container
from containersvc.services import mirror, storage
from containersvc.services.audit import audited
from containersvc.services.limits import limits_resolve
from containersvc.services.pulls import pull_ensure

MESSAGE_NO_GPU_RUNTIME = (
    "This node's Docker engine has no NVIDIA runtime, so GPUs cannot be given to containers "
    "(install the NVIDIA Container Toolkit on the node, or run without capabilities.gpuEnabled)."
)
MESSAGE_NAME_HELD = "The name '{name}' belongs to a container of another account; choose another name."
MESSAGE_PORT_IN_USE = "A host port asked for is already in use: {detail}"
MESSAGE_KEEPS_NEED_NAME = "keeps need a container name (names[0]), so the kept directories can be found again."
MESSAGE_LOW_PORT = (
    "Host port {port} is below 1024, a privileged port: only superusers may publish on it "
    "(ask for a host port from 1024 up, or 0 for any free port)."
)
LOWEST_UNPRIVILEGED_PORT = 1024

_run_locks = [threading.Lock() for _ in range(64)]


@dataclass(frozen=True, slots=True)
class RunSpec:
    image: str
    name: str | None = None
    hash: str = ""
    ports: tuple[tuple[int, int], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)
    keeps: tuple[tuple[str, bool], ...] = ()
    assets: tuple[tuple[str, str], ...] = ()
    gpu_enabled: bool = False
    gpu_device_ids: tuple[str, ...] = ()
    gpu_count: int | None = None  # None with no ids: all GPUs
    command: tuple[str, ...] | None = None
    limits: Limits = field(default_factory=Limits)  # what the caller asked for; 0: the node's default
    reference: validation.ImageReference | None = None  # `image` parsed (run_spec_parse does it once)

    def image_reference(self) -> validation.ImageReference:
        return self.reference or validation.image_reference(self.image)


@dataclass(frozen=True, slots=True)
class RunResult:
    started: bool
    container_id: str
    name: str
    ports: tuple[PortBinding, ...]


def _idempotency_key(spec: RunSpec) -> str:
    """What makes two runs 'the same run': the name, else the hash; runs with neither are all different."""
    return spec.name or (f"hash:{spec.hash}" if spec.hash else "")


def _lock_for(key: str) -> threading.Lock:
    return _run_locks[zlib.crc32(key.encode()) % len(_run_locks)]


def _owns(actor, found: EngineContainer) -> bool:
    return access.access_level(actor=actor, container=mirror.mirror_row(summary=found)) >= Level.OWNER


def _existing_for(actor, spec: RunSpec) -> EngineContainer | None:
    """The container a run by name replaces (409 when it is another account's), or the caller's own running
    container with the hash."""
    if spec.name:
        try:
            found = engine.container_find(id_or_name=spec.name)
        except NotFound:
            return None
        if not _owns(actor, found):
            raise Conflict(MESSAGE_NAME_HELD.format(name=spec.name))
        return found
    if spec.hash:
        running = [
            found
            for found in engine.container_list(labels={labels.HASH: spec.hash})
            if found.state == "running" and _owns(actor, found)
        ]
        return running[0] if running else None
    return None


def _already_running(existing: EngineContainer | None, spec: RunSpec) -> TypeGuard[EngineContainer]:
    return bool(existing and existing.state == "running" and existing.labels.get(labels.HASH, "") == spec.hash)


def _ensure_may_publish(actor, ports: tuple[tuple[int, int], ...]) -> None:
    if getattr(actor, "is_superuser", False) or settings.CONTAINERSVC_ALLOW_LOW_PORTS:
        return
    for _, host in ports:
        if 0 < host < LOWEST_UNPRIVILEGED_PORT:
            raise InvalidRequest(MESSAGE_LOW_PORT.format(port=host))


def container_run(*, actor, spec: RunSpec) -> RunResult:
    reference = spec.image_reference()
    _ensure_may_publish(actor, spec.ports)
    target = spec.name or str(reference)
    with audited(actor=actor, action="container.run", target=target) as note:
        with _lock_for(_idempotency_key(spec) or target):
            existing = _existing_for(actor, spec)
            if _already_running(existing, spec):
                note["detail"] = "already running with the same hash"
                return RunResult(False, existing.id, existing.name, existing.ports)
            if existing is not None and spec.name:
                engine.container_remove(container_id=existing.id, force=True)
                mirror.mirror_mark_removed(container_id=existing.id)
            try:
                result = _create_and_start(actor=actor, spec=spec, reference=reference)
            except Conflict:
                # Another process made the same name between our look and our create.
                existing = _existing_for(actor, spec)
                if _already_running(existing, spec):
                    return RunResult(False, existing.id, existing.name, existing.ports)
                raise
            note["target"] = f"{result.name} ({result.container_id[:12]})"
            return result


def _create_and_start(*, actor, spec: RunSpec, reference: validation.ImageReference) -> RunResult:
    if spec.gpu_enabled and not engine.daemon_info().gpu_runtime:
        raise InvalidRequest(MESSAGE_NO_GPU_RUNTIME)
    if spec.keeps and not spec.name:
        raise InvalidRequest(MESSAGE_KEEPS_NEED_NAME)
    limits = limits_resolve(actor=actor, requested=spec.limits)
    pull_ensure(actor=actor, reference=reference)
    mounts = storage.keeps_mounts(container_name=spec.name, keeps=list(spec.keeps)) if spec.keeps and spec.name else []
    asset_mounts, asset_env = storage.assets_mounts(assets=list(spec.assets))
    container_labels = {
        **spec.labels,
        labels.MANAGED: "true",
        labels.HASH: spec.hash,
        labels.NODE: settings.CONTAINERSVC_NODE_ID,
        labels.CREATED_BY: actor.get_username() if getattr(actor, "is_authenticated", False) else "",
    }
    container_id = engine.container_create(
        spec=CreateSpec(
            image=reference.pull_reference,
            name=spec.name,
            labels=container_labels,
            env={**spec.envs, **asset_env},
            ports=spec.ports,
            mounts=tuple(mounts + asset_mounts),
            gpu_device_ids=spec.gpu_device_ids if spec.gpu_enabled else None,
            gpu_count=spec.gpu_count if spec.gpu_enabled else None,
            publish_interface=settings.CONTAINERSVC_PUBLISH_INTERFACE,
            command=spec.command,
            limits=limits,
        )
    )
    if getattr(actor, "is_authenticated", False):
        mirror.mirror_record_owner(container_id=container_id, created_by=actor)
    try:
        engine.container_start(container_id=container_id)
    except ContainerSvcError as error:
        _remove_quietly(container_id)
        raise _start_error(error) from error
    details = engine.container_inspect(container_id=container_id)
    mirror.mirror_record_details(
        details=details,
        created_by=actor,
        keeps=[{"path": path, "readOnly": read_only} for path, read_only in spec.keeps],
        assets=[{"envVarKey": key, "url": url} for key, url in spec.assets],
    )
    return RunResult(True, container_id, details.summary.name, details.summary.ports)


def _start_error(error: ContainerSvcError) -> ContainerSvcError:
    if engine.is_no_gpu_driver_error(error):
        return InvalidRequest(MESSAGE_NO_GPU_RUNTIME)
    if "port is already allocated" in error.message or "address already in use" in error.message:
        return Conflict(MESSAGE_PORT_IN_USE.format(detail=error.message))
    if isinstance(error, (InvalidRequest, EngineError)):
        return InvalidRequest(f"The container could not start: {error.message}")
    return error


def _remove_quietly(container_id: str) -> None:
    try:
        engine.container_remove(container_id=container_id, force=True)
    except ContainerSvcError:
        pass


def container_resolve(
    *, actor, level: Level, container_id: str | None = None, name: str | None = None
) -> tuple[EngineContainer, Container]:
    """One container by full id and/or exact name (both given must name the same container) on which `actor`
    has `level`, with its mirror row; one the actor may not reach is NotFound, as an unknown one."""
    reference = container_id or name
    if not reference:
        raise InvalidRequest("Give the container's id or name.")
    found = engine.container_find(id_or_name=reference)
    row = container_reachable(actor=actor, found=found, level=level, reference=reference)
    if container_id and name and name not in found.names:
        raise NotFound(f"Container '{container_id}' is not named '{name}'.")
    return found, row


def container_reachable(*, actor, found: EngineContainer, level: Level, reference: str) -> Container:
    """The mirror row of `found` when `actor` has `level` on it; NotFound as for an unknown `reference`
    otherwise. Reads the database only (no engine call)."""
    row = mirror.mirror_row(summary=found)
    access.access_require(actor=actor, container=row, level=level, reference=reference)
    return row


def stop_timeout(requested: int | None) -> int:
    if requested is None:
        return settings.CONTAINERSVC_STOP_TIMEOUT
    return max(0, min(requested, settings.CONTAINERSVC_STOP_TIMEOUT_MAX))


def _act(*, actor, action: str, container_id: str | None, name: str | None, operation) -> EngineContainer:
    with audited(actor=actor, action=action, target=name or container_id or "") as note:
        found, _ = container_resolve(actor=actor, level=Level.OPERATE, container_id=container_id, name=name)
        note["target"] = f"{found.name} ({found.id[:12]})"
        operation(found.id)
        if action == "container.remove":
            mirror.mirror_mark_removed(container_id=found.id)
        else:
            mirror.mirror_record_details(details=engine.container_inspect(container_id=found.id))
        return found


def container_stop(*, actor, container_id: str | None = None, name: str | None = None, timeout: int | None = None):
    seconds = stop_timeout(timeout)
    return _act(
        actor=actor, action="container.stop", container_id=container_id, name=name,
        operation=lambda found_id: engine.container_stop(container_id=found_id, timeout=seconds),
    )  # fmt: skip


def container_start(*, actor, container_id: str | None = None, name: str | None = None):
    return _act(
        actor=actor, action="container.start", container_id=container_id, name=name,
        operation=lambda found_id: engine.container_start(container_id=found_id),
    )  # fmt: skip


def container_restart(*, actor, container_id: str | None = None, name: str | None = None, timeout: int | None = None):
    seconds = stop_timeout(timeout)
    return _act(
        actor=actor, action="container.restart", container_id=container_id, name=name,
        operation=lambda found_id: engine.container_restart(container_id=found_id, timeout=seconds),
    )  # fmt: skip


def container_remove(*, actor, container_id: str | None = None, name: str | None = None, force: bool = False):
    return _act(
        actor=actor, action="container.remove", container_id=container_id, name=name,
        operation=lambda found_id: engine.container_remove(container_id=found_id, force=force),
    )  # fmt: skip


def container_for_viewer(*, actor, container_id: str) -> EngineContainer:
    """The container a viewer asked for by full id, if the viewer may see it (NotFound otherwise)."""
    found, _ = container_resolve(actor=actor, level=Level.VIEW, container_id=container_id)
    return found


def container_list_started(*, node_id: str | None = None) -> Callable[[], list[Container] | None]:
    """container_list_refresh in two steps: the engine is asked and the mirror read now, and the function returned
    merges the answer. What the caller reads from the database in between is read while the engine answers."""
    if node_id and node_id != settings.CONTAINERSVC_NODE_ID:
        return lambda: None
    listed_at = timezone.now()
    answer = engine.container_list_asked()
    held_rows = mirror.mirror_rows_held()  # while the engine answers
    return lambda: mirror.mirror_sync_list(engine_containers=answer(), listed_at=listed_at, held_rows=held_rows)


def container_list_refresh(*, node_id: str | None = None) -> list[Container] | None:
    """This node's live containers: the engine's list merged into the mirror, rows in the engine's order (None
    for another node: its own instance keeps its rows). The rows may be shared with other lists (see
    list_caches.RowCache): read them, never change them."""
    return container_list_started(node_id=node_id)()
