"""The caches that let a list reuse what the previous list computed: the engine's parsed list, the mirror's
rows and the API's representations. Why each exists and what it saves: docs/benchmarks.md, "Why the list
caches exist". Each holds the latest list only, is replaced whole (never changed in place) so that lists
taken at once by several threads each read a whole one, and what it hands out is only read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.db.models import CharField
from django.db.models.functions import Cast

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from containersvc.engine.types import EngineContainer
    from containersvc.models import Container


class ParsedList:
    """The engine's full container list, parsed: an entry equal to last time's but for its status line is reused."""

    def __init__(self, *, parse: Callable[[dict], EngineContainer]) -> None:
        self._parse = parse
        self._parsed: dict[str, tuple[dict, EngineContainer]] = {}  # by id: (the entry without Status, parsed)

    def parse(self, entries: list[dict]) -> list[EngineContainer]:
        previous, current, parsed = self._parsed, {}, []
        for entry in entries:
            status = entry.pop("Status", "")  # compared apart: it counts time
            known = previous.get(entry["Id"])
            if known is None or known[0] != entry:
                known = (entry, self._parse({**entry, "Status": status}))
            elif known[1].status != status:
                known = (known[0], replace(known[1], status=status))
            current[entry["Id"]] = known
            parsed.append(known[1])
        self._parsed = current
        return parsed

    def held_ids(self) -> set[str]:
        """The ids it holds (those of the latest full list)."""
        return set(self._parsed)


@dataclass(frozen=True, slots=True)
class HeldRow:
    """A row as this process last merged it: the engine summary it was merged from (None when just read from the
    database) and its `updated_at` as the database's own text."""

    row: Container
    merged_from: EngineContainer | None
    version: str


class RowCache:
    """The mirror's rows of this process's last list merge, reused while their `updated_at` is unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, HeldRow] = {}

    def load(self, *, live: QuerySet[Container]) -> list[HeldRow]:
        """The rows of `live`: those held and unchanged since, the others read from the database."""
        versions = live.values_list("pk", "container_id", Cast("updated_at", output_field=CharField()))
        with self._lock:
            held = self._held
        rows, missing = [], {}
        for pk, container_id, version in versions:
            kept = held.get(pk)
            if kept is not None and kept.row.container_id == container_id and kept.version == version:
                rows.append(kept)
            else:
                missing[pk] = version
        if missing:
            # Should a row change between the two reads, its newer copy is read again next time (the version
            # taken here no longer matches).
            rows.extend(HeldRow(row, None, missing[row.pk]) for row in live.model.objects.filter(pk__in=list(missing)))
        return rows

    def keep(self, held: Iterable[HeldRow]) -> None:
        """Remember rows a merge returned; they are only read from now on."""
        kept = {each.row.pk: each for each in held}
        with self._lock:
            self._held = kept


class Representations:
    """Listed rows in the API's shape, each reused while the row's `updated_at` is the same; its status line
    (which counts time) is taken afresh."""

    def __init__(self, *, represent: Callable[[Container], dict]) -> None:
        self._represent = represent
        self._by_pk: dict[int, tuple[object, dict]] = {}

    def of(self, rows: list[Container]) -> list[dict]:
        previous, shown = self._by_pk, []
        current: dict[int, tuple[object, dict]] = {}
        for row in rows:
            held = previous.get(row.pk)
            if held is not None and held[0] == row.updated_at:
                representation = {**held[1], "statusText": row.status}
            else:
                representation = self._represent(row)
            if row.pk is not None:
                current[row.pk] = (row.updated_at, representation)
            shown.append(representation)
        self._by_pk = current
        return shown
