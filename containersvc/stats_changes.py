"""What changed between one socket's rounds of live stats (ws/stats/?changes=only), values rounded as shown.

Values are rounded before they are compared and sent (a percentage to 0.1, bytes and byte rates to three
significant figures, as the containers page shows them), so noise below what a page shows is never sent.
"""

import math
from collections.abc import Callable, Iterable
from typing import Any

EVENT = "stats.changes"
PERCENT_DIGITS = 1
SIGNIFICANT_FIGURES = 3

# The round's takenAt is the message's own: a row's would change every round.
UNCOMPARED_ROW_FIELDS = frozenset({"takenAt"})


def round_percent(value: float | None) -> float | None:
    return None if value is None else round(value, PERCENT_DIGITS)


def round_significant(value: float | None) -> float | int | None:
    """Three significant figures, never finer than a whole byte: 1234567 -> 1230000, 0.4 -> 0."""
    if value is None:
        return None
    if value == 0:
        return 0
    digits = SIGNIFICANT_FIGURES - 1 - math.floor(math.log10(abs(value)))
    return int(round(value, min(0, digits)))


def _per_core(values: Iterable[float | None] | None) -> list[float | None] | None:
    return None if values is None else [round_percent(value) for value in values]


ROW_ROUNDING: dict[str, Callable[[Any], Any]] = {
    "cpuPercent": round_percent,
    "memoryPercent": round_percent,
    "memoryBytes": round_significant,
    "netRxBytes": round_significant,
    "netTxBytes": round_significant,
    "netRxBytesPerSecond": round_significant,
    "netTxBytesPerSecond": round_significant,
    "blockReadBytes": round_significant,
    "blockWriteBytes": round_significant,
    "blockReadBytesPerSecond": round_significant,
    "blockWriteBytesPerSecond": round_significant,
}
NODE_ROUNDING: dict[str, Callable[[Any], Any]] = {
    "cpuPercent": round_percent,
    "cpuPercentPerCore": _per_core,
    "memoryAvailableBytes": round_significant,
}


def _as_sent(
    values: dict, rounding: dict[str, Callable[[Any], Any]], *, leave_out: frozenset[str] = frozenset()
) -> dict:
    return {
        key: rounding[key](value) if key in rounding else value for key, value in values.items() if key not in leave_out
    }


def row_as_sent(row: dict) -> dict:
    """A container's sample (the shape of GET containers/stats) as this stream sends it."""
    return _as_sent(row, ROW_ROUNDING, leave_out=UNCOMPARED_ROW_FIELDS)


def node_as_sent(node: dict) -> dict:
    return _as_sent(node, NODE_ROUNDING)


def changed_fields(before: dict, after: dict) -> dict:
    """The fields of `after` whose values differ from `before` (or that `before` lacks)."""
    return {key: value for key, value in after.items() if key not in before or before[key] != value}


class StatsChanges:
    """One socket's view of the stream: the values it last sent, one row per visible running container.

    The first message is whole (`full`); each later one holds only the containers whose values changed,
    only their changed fields (with `containerId`), the host's changed fields, and the ids that went away.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict] = {}
        self._node: dict | None = None

    def message(self, *, taken_at: str | None, node: dict, rows: Iterable[dict]) -> dict:
        """The message for a round whose visible rows are `rows`; remembers it as sent."""
        full = self._node is None
        current = {row["containerId"]: row_as_sent(row) for row in rows}
        node_now = node_as_sent(node)
        if full:
            stats = list(current.values())
            node_sent = node_now
        else:
            stats = []
            for container_id, row in current.items():
                changed = changed_fields(self._rows.get(container_id, {}), row)
                if changed:
                    stats.append({"containerId": container_id, **changed})
            node_sent = changed_fields(self._node or {}, node_now)
        gone = sorted(self._rows.keys() - current.keys())
        self._rows, self._node = current, node_now
        return {"type": EVENT, "full": full, "takenAt": taken_at, "node": node_sent, "stats": stats, "gone": gone}
