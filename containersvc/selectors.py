"""Reads: what the API and the dashboard show, from the engine merged into the mirror."""

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from containersvc import access, engine, labels
from containersvc.engine import (
    ContainerDetails,
    DaemonInfo,
    DiskUsage,
    EngineContainer,
    EngineImage,
    ImageUsage,
    LogLine,
)
from containersvc.errors import InvalidRequest, NotFound
from containersvc.models import AuditEvent, Container, ContainerState, ImageBuild, ImagePull, LogChunk
from containersvc.services import mirror


def this_node() -> str:
    return settings.CONTAINERSVC_NODE_ID


def _is_this_node(node_id: str | None) -> bool:
    return not node_id or node_id == this_node()


def container_list(
    *,
    live: list[Container] | None = None,
    node_id: str | None = None,
    container_id: str | None = None,
    limit: int | None = None,
) -> list[Container]:
    """A node's containers: this node's are `live`, what services.containers.container_list_refresh returned
    (read them, never change them); another node's, or this node's without `live`, come from the mirror."""
    if not _is_this_node(node_id) or live is None:
        rows = Container.objects.filter(node_id=node_id or this_node()).exclude(state=ContainerState.REMOVED)
        if container_id:
            rows = rows.filter(container_id=container_id) | rows.filter(name=container_id)
        return list(rows[:limit] if limit else rows)
    if container_id:
        live = [row for row in live if container_id in (row.container_id, row.name)]
    return live[:limit] if limit else live


def container_list_for(
    *,
    sight: access.Sight,
    live: list[Container] | None = None,
    node_id: str | None = None,
    container_id: str | None = None,
    limit: int | None = None,
) -> list[Container]:
    """container_list as an account's `sight` (access.sight_of) shows it: the limit counts visible rows only."""
    rows = sight.rows(container_list(live=live, node_id=node_id, container_id=container_id))
    return rows[:limit] if limit else rows


def container_find_by_name_or_hash(
    *, actor, name: str | None, hash: str | None
) -> tuple[EngineContainer, Container] | None:
    """Exact name, or a container carrying the hash (a running one first), that `actor` may see; None when
    there is none, or none the actor may see."""
    if name:
        try:
            candidates = [engine.container_find(id_or_name=name)]
        except NotFound:
            return None
        if hash and candidates[0].labels.get(labels.HASH) != hash:
            return None
    elif hash:
        candidates = engine.container_list(labels={labels.HASH: hash})
        candidates.sort(key=lambda found: found.state != "running")
    else:
        raise InvalidRequest("Give a container name or hash.")
    for found in candidates:
        row = mirror.mirror_row(summary=found)
        if access.access_level(actor=actor, container=row) >= access.Level.VIEW:
            return found, row
    return None


def _seen_by(actor, rows: QuerySet[Container]) -> QuerySet[Container]:
    """`rows` as `actor` sees them; actor None is the service itself (benchmarks, producers): all of them."""
    return rows if actor is None else access.visible_containers(actor=actor, rows=rows)


def log_chunks(
    *,
    actor=None,
    node_id: str | None = None,
    container_id: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> QuerySet[LogChunk]:
    """Newest first; `before` (a chunk id) pages back. A page reads its own rows, not every stored chunk.

    Only chunks of containers `actor` may see (every container when actor is None: the service itself).
    """
    node = node_id or settings.CONTAINERSVC_NODE_ID
    chunks = LogChunk.objects.select_related("container")
    if container_id:
        # The containers first (a small query): filtering chunks on their ids lets the database walk the
        # (container, -id) index and stop at the page, where a join on id-or-name sorted all their chunks.
        matching = Container.objects.filter(node_id=node).filter(Q(container_id=container_id) | Q(name=container_id))
        chunks = chunks.filter(container__in=list(_seen_by(actor, matching).values_list("pk", flat=True)))
    else:
        # A correlated EXISTS, not a join: the database walks chunks newest first and stops at the page.
        mine = _seen_by(actor, Container.objects.filter(pk=OuterRef("container_id"), node_id=node))
        chunks = chunks.filter(Exists(mine))
    if before:
        chunks = chunks.filter(id__lt=before)
    return chunks.order_by("-id")[:limit]


def containers_to_capture(*, container_id: str | None, actor=None) -> QuerySet[Container]:
    rows = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, managed=True).exclude(
        state=ContainerState.REMOVED
    )
    if container_id:
        rows = rows.filter(container_id=container_id) | rows.filter(name=container_id)
    return _seen_by(actor, rows)


def _builds_seen_by(actor) -> QuerySet[ImageBuild]:
    """Builds belong to whoever started them; superusers (and the service itself, actor None) see all."""
    builds = ImageBuild.objects.select_related("requested_by")
    if actor is None or actor.is_superuser:
        return builds
    if not actor.is_authenticated:
        return builds.none()
    return builds.filter(requested_by=actor)


def build_list(*, actor, limit: int = 100) -> QuerySet[ImageBuild]:
    return _builds_seen_by(actor).filter(node_id=settings.CONTAINERSVC_NODE_ID)[:limit]


def build_get(*, build_id: int, actor) -> ImageBuild:
    """The build, if `actor` may see it; NotFound otherwise, exactly as for a build that does not exist."""
    try:
        return _builds_seen_by(actor).get(pk=build_id)
    except ImageBuild.DoesNotExist as error:
        raise NotFound(f"No build with id {build_id}.") from error


def audit_list(*, action: str | None = None, actor: str | None = None, limit: int = 200) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_name=actor)
    return events[:limit]


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    status: str
    logs: str
    text: str


def _when(value) -> str:
    return value.isoformat() if value else "-"


def container_summary(*, container_id: str, lines: int, with_logs: bool = True) -> ContainerSummary:
    """Status lines and the last `lines` lines of output, as `docker ps` and `docker logs --tail` show them;
    without logs (a caller who may not read them) `logs` is empty and the text has no log section."""
    details = engine.container_inspect(container_id=container_id)
    summary = details.summary
    log_text = (
        "\n".join(line.text for line in engine.container_logs(container_id=container_id, tail=lines))
        if with_logs
        else ""
    )
    ports = ", ".join(
        f"{port.host_ip or '*'}:{port.host}->{port.internal}/{port.protocol}"
        if port.host
        else f"{port.internal}/{port.protocol}"
        for port in summary.ports
    )
    status = f"Exited ({details.exit_code})" if details.exit_code is not None else summary.state.capitalize()
    text = "\n".join(
        [
            f"ID: {summary.id[:12]}",
            f"Name: {summary.name}",
            f"Image: {summary.image}",
            f"State: {summary.state}",
            f"Status: {status}",
            f"Created: {_when(summary.created_at)}",
            f"Started: {_when(details.started_at)}",
            f"Ports: {ports or '-'}",
            *(["", f"Logs (last {lines} lines):", log_text] if with_logs else []),
        ]
    )
    return ContainerSummary(status=summary.state, logs=log_text, text=text)


def container_gone(*, actor, container_id: str) -> Container:
    """The mirror row of a container of this node that the engine no longer has (its history is kept), if
    `actor` may see it; NotFound otherwise, as for an unknown container."""
    row = Container.objects.filter(node_id=this_node(), container_id=container_id).first()
    if row is None:
        raise NotFound(access.MESSAGE_NOT_FOUND.format(reference=container_id))
    access.access_require(actor=actor, container=row, level=access.Level.VIEW, reference=container_id)
    return row


def container_visible(*, actor, container_id: str) -> bool:
    """Whether `actor` may see the container of this node with that id, from its mirror row (no engine call)."""
    row = Container.objects.filter(node_id=this_node(), container_id=container_id).first()
    return row is not None and access.access_level(actor=actor, container=row) >= access.Level.VIEW


def stored_log_chunks(*, container: Container, newest_lines: int | None = None) -> list[LogChunk] | Iterator[LogChunk]:
    """Stored chunks oldest first: all of them (lazily), or just enough to hold the newest `newest_lines`."""
    if newest_lines is None:
        return container.log_chunks.order_by("id").iterator(chunk_size=200)
    picked, count = [], 0
    for chunk in container.log_chunks.order_by("-id").iterator(chunk_size=50):
        picked.append(chunk)
        count += chunk.line_count
        if count >= newest_lines:
            break
    return picked[::-1]


def pull_list(*, limit: int = 20) -> QuerySet[ImagePull]:
    return ImagePull.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID).select_related("requested_by")[:limit]


def pull_get(*, pull_id: int) -> ImagePull:
    try:
        return ImagePull.objects.select_related("requested_by").get(pk=pull_id)
    except ImagePull.DoesNotExist as error:
        raise NotFound(f"No pull with id {pull_id}.") from error


def container_find(*, id_or_name: str) -> EngineContainer:
    """A container of this node by full id or exact name, as the engine has it now (NotFound when it has none)."""
    return engine.container_find(id_or_name=id_or_name)


def container_details(*, actor, container_id: str, row: Container | None = None) -> ContainerDetails:
    """The engine's inspect of a container the caller resolved for `actor` (`row`: its mirror row, when the
    caller has it); env values masked unless `actor` may see them."""
    details = engine.container_inspect(container_id=container_id)
    if row is None:
        row = mirror.mirror_row(summary=details.summary)
    if not access.env_visible(actor=actor, container=row):
        masked = access.envs_masked(mirror.key_values_as_json(details.envs))
        details = dataclasses.replace(details, envs=tuple((item["key"], item["value"]) for item in masked))
    return details


def container_log_lines(*, container_id: str) -> Iterator[LogLine]:
    """A container's whole log as the engine has it, streamed (never held in memory)."""
    return engine.container_logs(container_id=container_id)


def image_present(*, reference: str) -> bool:
    return engine.image_exists(reference=reference)


def image_list_in_engine_order() -> list[EngineImage]:
    """The node's images, in the order the engine lists them."""
    return engine.image_list()


def image_list(*, with_usage: bool) -> list[tuple[EngineImage, ImageUsage | None]]:
    """The node's images (tagged first, by tag), each with what removing it frees and who uses it when asked."""
    rows = sorted(image_list_in_engine_order(), key=lambda image: image.tags or ("~",))
    usage = engine.image_usage() if with_usage else {}
    return [(image, usage.get(image.id)) for image in rows]


def engine_address() -> str:
    """Where this node's engine is reached (its socket or URL); no engine call."""
    return engine.address()


def daemon_info() -> DaemonInfo:
    """The engine's version, runtimes and resources, as it answers now."""
    return engine.daemon_info()


def daemon_disk_usage() -> DiskUsage:
    return engine.daemon_disk_usage()
