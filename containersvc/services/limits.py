"""Resource limits of a run: what the caller asked for, within the node's maximums, else the node's defaults."""

from django.conf import settings

from containersvc import engine, validation
from containersvc.engine import Limits
from containersvc.errors import InvalidRequest

MESSAGE_OVER_NODE_MAXIMUM = "resources.{field} may be at most {maximum} on this node (asked for {value})."


def _nano(cpus: float | None) -> int:
    return round(cpus * 1_000_000_000) if cpus else 0


def _node_bounds() -> dict[str, tuple[int, int]]:
    """(default, maximum) of each limit, 0 for none: each stands in for the other when only one is set."""
    bounds = {
        "cpus": (_nano(settings.CONTAINERSVC_DEFAULT_CPUS), _nano(settings.CONTAINERSVC_MAX_CPUS)),
        "memoryBytes": (
            int(settings.CONTAINERSVC_DEFAULT_MEMORY_BYTES or 0),
            int(settings.CONTAINERSVC_MAX_MEMORY_BYTES or 0),
        ),
        "pidsLimit": (
            int(settings.CONTAINERSVC_DEFAULT_PIDS_LIMIT or 0),
            int(settings.CONTAINERSVC_MAX_PIDS_LIMIT or 0),
        ),
    }
    resolved = {}
    for field, (default, maximum) in bounds.items():
        if default and maximum:
            default = min(default, maximum)
        resolved[field] = (default or maximum, maximum or default)
    return resolved


def _shown(field: str, value: int) -> str:
    return f"{value / 1_000_000_000:g}" if field == "cpus" else str(value)


def limits_resolve(*, actor, requested: Limits) -> Limits:
    """The limits a container is created with; 0 in `requested` means 'not asked for' (the node's default).

    A caller may ask for less than the node's maximum, never more; superusers may ask for anything the
    engine can give. CPUs are at most the node's CPUs for everyone.
    """
    bounds = _node_bounds()
    asked = {"cpus": requested.nano_cpus, "memoryBytes": requested.memory_bytes, "pidsLimit": requested.pids_limit}
    chosen: dict[str, int] = {}
    for field, value in asked.items():
        default, maximum = bounds[field]
        if value and maximum and value > maximum and not getattr(actor, "is_superuser", False):
            shown = {"maximum": _shown(field, maximum), "value": _shown(field, value)}
            raise InvalidRequest(MESSAGE_OVER_NODE_MAXIMUM.format(field=field, **shown))
        chosen[field] = value or default
    if chosen["cpus"]:
        node_cpus = engine.daemon_info().cpus
        if requested.nano_cpus:
            validation.cpus(requested.nano_cpus / 1_000_000_000, node_cpus=node_cpus)
        chosen["cpus"] = min(chosen["cpus"], node_cpus * 1_000_000_000)  # a default set above what the node has
    return Limits(nano_cpus=chosen["cpus"], memory_bytes=chosen["memoryBytes"], pids_limit=chosen["pidsLimit"])
