"""The caches that let a list reuse what the previous list computed; why each exists and what it saves:
docs/benchmarks.md, "Why the list caches exist"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from containersvc.engine.types import EngineContainer


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
        # Replaced whole, never changed in place: lists taken at once by several threads each read a whole one.
        self._parsed = current
        return parsed

    def held_ids(self) -> set[str]:
        """The ids it holds (those of the latest full list)."""
        return set(self._parsed)
