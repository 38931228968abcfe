"""Keeps the Container rows in step with the engine, which is the truth.

A whole engine list is merged in a constant number of queries; a container the engine no longer has is
marked removed, never reported running.
"""

import operator
import re
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models.base import ModelState
from django.utils import timezone

from containersvc import labels
from containersvc.engine import ContainerDetails, EngineContainer, PortBinding
from containersvc.list_caches import HeldRow, RowCache
from containersvc.models import Container, ContainerState

EXIT_CODE_IN_STATUS = re.compile(r"^Exited \((-?\d+)\)")
# The engine's status line counts time ("Up 5 seconds", "Exited (0) 2 minutes ago", "Up About an hour").
TIME_IN_STATUS = re.compile(r"(Less than a second|About an? \w+|\d+ \w+)( ago)?")
SYNCED_FIELDS = [
    "name", "names", "image", "image_id", "hash", "labels", "ports", "volumes", "state", "status",
    "exit_code", "network_mode", "ip_address", "mac_address", "engine_created_at",
]  # fmt: skip


# Ports and envs are stored in the shape the API shows them (api.serializers' InspectedPortSerializer and
# KeyValueSerializer), so the list and the status socket hand them out as they are read.
def ports_as_json(ports: Iterable[PortBinding]) -> list[dict]:
    return [{"internal": port.internal, "host": port.host, "protocol": port.protocol} for port in ports]


def key_values_as_json(pairs: Iterable[tuple[str, str]]) -> list[dict]:
    return [{"key": key, "value": value} for key, value in pairs]


# A set made once: `ContainerState.values` builds a new list on every access, and list merges call this per row.
STATES = frozenset(ContainerState.values)


def _state(engine_state: str) -> str:
    return engine_state if engine_state in STATES else ContainerState.EXITED


def _status_without_time(status: str) -> str:
    return TIME_IN_STATUS.sub("", status)


def _apply_summary(row: Container, summary: EngineContainer) -> bool:
    """Copy what the engine's list says onto the row; True when anything worth a write changed.

    A status line whose only change is its time count is copied but is no reason to write: otherwise every
    list would rewrite every running container's row (a bulk update of hundreds of rows per call).
    """
    exit_match = EXIT_CODE_IN_STATUS.match(summary.status)
    values = {
        "name": summary.name,
        "names": list(summary.names),
        "image": summary.image,
        "image_id": summary.image_id,
        "hash": summary.labels.get(labels.HASH, ""),
        "labels": summary.labels,
        "ports": ports_as_json(summary.ports),
        "volumes": list(summary.volumes),
        "state": _state(summary.state),
        "status": summary.status,
        "exit_code": int(exit_match.group(1)) if exit_match else row.exit_code,
        "network_mode": summary.network_mode,
        "ip_address": summary.ip_address,
        "mac_address": summary.mac_address,
        "engine_created_at": summary.created_at,
    }
    if summary.state == ContainerState.RUNNING:
        values["exit_code"] = None
    changed = False
    for field, value in values.items():
        current = getattr(row, field)
        if current != value:
            setattr(row, field, value)
            changed = (
                changed or field != "status" or _status_without_time(str(current)) != _status_without_time(str(value))
            )
    return changed


_ALL_BUT_STATUS = operator.attrgetter(*(field.name for field in fields(EngineContainer) if field.name != "status"))


def _same_but_status_time(merged_from: EngineContainer | None, summary: EngineContainer) -> bool:
    """True when the summary differs from the one the row was merged from at most in its status's time count.

    Then merging it again would only copy the status line (the exit code and the state read the same), so the
    merge does just that: comparing is much cheaper than _apply_summary, and it is most rows of most lists.
    """
    if merged_from is None or _ALL_BUT_STATUS(merged_from) != _ALL_BUT_STATUS(summary):
        return False
    return merged_from.status == summary.status or (
        _status_without_time(merged_from.status) == _status_without_time(summary.status)
    )


def _merged(held: HeldRow, summary: EngineContainer) -> tuple[Container, bool]:
    """The held row with `summary` merged in, and whether that needs a write.

    Held rows are shared (with the callers of earlier lists, and threads listing at once), so they are never
    changed: the held row itself while its summary is the one it was merged from, else a changed copy.
    """
    if held.merged_from is summary or held.merged_from == summary:  # the parsed list reuses unchanged summaries
        return held.row, False
    row = _copy(held.row)
    if _same_but_status_time(held.merged_from, summary):
        row.status = summary.status
        return row, False
    return row, _apply_summary(row, summary)


def mirror_rows_held() -> list[HeldRow]:
    """This node's rows not removed, the first read of a list merge: it may be taken while the engine answers.

    A row written after this read is merged as it was read: the merge writes only what the engine's answer says
    (as when the write comes after the answer), and the next list reads the row again (its version changed).
    """
    # No ORDER BY: the merge goes by the engine's order.
    return _rows.load(
        live=Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID)
        .exclude(state=ContainerState.REMOVED)
        .order_by()
    )


def mirror_sync_list(
    *, engine_containers: list[EngineContainer], listed_at: datetime, held_rows: list[HeldRow]
) -> list[Container]:
    """Merge a full engine list into `held_rows` (mirror_rows_held()); returns the live rows in the engine's order.

    Rows first seen after `listed_at` were created while the list was being taken, so are not marked removed.
    """
    node = settings.CONTAINERSVC_NODE_ID
    known = {held.row.container_id: held for held in held_rows}
    live, unwritten, to_create, to_update = [], [], {}, []
    for summary in engine_containers:
        held = known.pop(summary.id, None)
        if held is None:
            row = Container(node_id=node, container_id=summary.id)
            _apply_summary(row, summary)
            to_create[summary.id] = (row, summary)
        else:
            row, write = _merged(held, summary)
            if write:
                to_update.append(row)
            else:
                unwritten.append(held if row is held.row else HeldRow(row, summary, held.version))
        live.append(row)
    gone = [held.row.pk for held in known.values() if held.row.first_seen_at < listed_at]
    if to_create or to_update or gone:
        with transaction.atomic():
            if to_create:
                Container.objects.bulk_create([row for row, _ in to_create.values()], ignore_conflicts=True)
            _write_synced(to_update)
            if gone:
                _mark_removed(Container.objects.filter(pk__in=gone))
    if to_create:
        live = _as_stored(live, created=to_create)
    # Rows created or written here are read again next time: the text of their new updated_at is not known here.
    _rows.keep(unwritten)
    return live


def _write_synced(rows: list[Container]) -> None:
    if rows:
        now = timezone.now()  # bulk_update does not apply auto_now
        for row in rows:
            row.updated_at = now
        Container.objects.bulk_update(rows, [*SYNCED_FIELDS, "updated_at"], batch_size=500)  # in one transaction


def _as_stored(live: list[Container], *, created: dict[str, tuple[Container, EngineContainer]]) -> list[Container]:
    """`live` with the rows just created read back: a bulk create gives them no primary key, and another writer
    (the API's run recording who created it, the events follower) may have stored a row first, into which the
    engine's answer is merged as into any other."""
    stored = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id__in=list(created))
    by_id = {row.container_id: row for row in stored}
    _write_synced([row for row in by_id.values() if _apply_summary(row, created[row.container_id][1])])
    return [by_id.get(row.container_id, row) if row.pk is None else row for row in live]


def _copy(row: Container) -> Container:
    """A shallow copy (the merge assigns new values, it never changes a field's value in place).

    copy.copy() goes through pickling support and costs more than loading the row again.
    """
    clone = Container.__new__(Container)
    clone.__dict__.update(row.__dict__)
    clone._state = ModelState()
    clone._state.db, clone._state.adding = row._state.db, False
    return clone


_rows = RowCache()


def _mark_removed(rows) -> int:
    now = timezone.now()
    return rows.update(state=ContainerState.REMOVED, status="Removed", removed_at=now, updated_at=now)


def mirror_mark_removed(*, container_id: str) -> None:
    _mark_removed(
        Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id).exclude(
            state=ContainerState.REMOVED
        )
    )


def mirror_record_details(
    *, details: ContainerDetails, created_by=None, keeps: list | None = None, assets: list | None = None
) -> Container:
    """Upsert the row of one container from an inspect; what only the service knows is kept."""
    node = settings.CONTAINERSVC_NODE_ID
    with transaction.atomic():
        row, _ = Container.objects.select_for_update().get_or_create(
            node_id=node,
            container_id=details.summary.id,
            defaults={"state": _state(details.summary.state)},
        )
        _apply_summary(row, details.summary)
        row.envs = key_values_as_json(details.envs)
        row.exit_code = details.exit_code
        row.started_at = details.started_at
        row.finished_at = details.finished_at
        row.oom_killed = details.oom_killed
        row.restart_count = details.restart_count
        row.gpu_enabled = details.gpu_enabled
        row.runtime = details.runtime
        row.cpu_shares = details.cpu_shares
        row.memory_mb = details.memory_bytes // (1024 * 1024)
        row.nano_cpus = details.nano_cpus
        row.pids_limit = details.pids_limit
        if details.summary.state == ContainerState.EXITED:
            row.status = f"Exited ({details.exit_code})"
        elif details.summary.state == ContainerState.RUNNING:
            row.status = "Up"
        if created_by is not None and getattr(created_by, "is_authenticated", False):
            # Ownership is recorded here, once, by the service that created the container; never from labels.
            row.created_by = created_by
            row.managed = True
        if keeps is not None:
            row.keeps = keeps
        if assets is not None:
            row.assets = assets
        row.save()
    return row


def mirror_states() -> dict[str, str]:
    """The state the mirror holds of each of this node's containers not removed, by container id: one query."""
    rows = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID).exclude(state=ContainerState.REMOVED)
    return dict(rows.values_list("container_id", "state"))


def mirror_rows_known(*, container_ids: Iterable[str]) -> dict[str, tuple[int, str, str]]:
    """(pk, name, network mode) of this node's rows of these containers, by container id: one query for many. Rows
    the engine's view was never written into (made at create, before the start's inspect or event) are left out."""
    rows = Container.objects.filter(
        node_id=settings.CONTAINERSVC_NODE_ID, container_id__in=list(container_ids)
    ).exclude(name="")
    fields = rows.values_list("container_id", "pk", "name", "network_mode")
    return {container_id: (pk, name, network_mode) for container_id, pk, name, network_mode in fields}


def mirror_row(*, summary: EngineContainer) -> Container:
    """The row of a container the engine has (unsaved when the mirror has none yet: then no creator is
    recorded, and only superusers and grants reach it)."""
    row = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id=summary.id).first()
    if row is None:
        row = Container(node_id=settings.CONTAINERSVC_NODE_ID, container_id=summary.id)
    # Names and labels as the engine has them now (grants match on them); the row is not saved here.
    _apply_summary(row, summary)
    return row


def mirror_record_owner(*, container_id: str, created_by) -> None:
    """Record who created a container as soon as the engine has it, before it starts: the events about it
    (and the sockets they go to) then already find its owner."""
    with transaction.atomic():
        row, _ = Container.objects.select_for_update().get_or_create(
            node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id, defaults={"state": ContainerState.CREATED}
        )
        row.created_by, row.managed = created_by, True
        row.save(update_fields=["created_by", "managed", "updated_at"])
