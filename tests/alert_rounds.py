"""Alert evaluator rounds driven by the test: mirror rows, rules and stats samples built at explicit times (T0 plus
seconds), and the actions a round took. No engine: the unit tier uses them too."""

import uuid
from datetime import UTC, datetime, timedelta

from containersvc.models import AlertKind, AlertRule, Container, ContainerState
from containersvc.stats import ContainerStats

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GIB = 1024**3


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(settings, *, name: str | None = None, labels: dict | None = None, owner=None, **fields) -> Container:
    container_id = uuid.uuid4().hex * 2
    return Container.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        container_id=container_id,
        name=name or f"alerted-{container_id[:8]}",
        image="busybox",
        state=fields.pop("state", ContainerState.RUNNING),
        labels=labels or {},
        created_by=owner,
        **fields,
    )


def sample(container: Container, *, cpu: float | None = None, memory_percent: float = 1.0) -> ContainerStats:
    return ContainerStats(
        container_id=container.container_id,
        taken_at=T0,
        source="cgroup",
        cpu_percent=cpu,
        memory_bytes=int(memory_percent / 100 * GIB),
        memory_limit_bytes=GIB,
        memory_percent=memory_percent,
        net_rx_bytes=0,
        net_tx_bytes=0,
        net_rx_rate=None,
        net_tx_rate=None,
        blk_read_bytes=0,
        blk_write_bytes=0,
        blk_read_rate=None,
        blk_write_rate=None,
        pids=1,
    )


def rule(**fields) -> AlertRule:
    fields.setdefault("name", f"rule-{uuid.uuid4().hex[:8]}")
    fields.setdefault("kind", AlertKind.CPU_PERCENT)
    fields.setdefault("cooldown_seconds", 0)
    made = AlertRule(**fields)
    made.full_clean()
    made.save()
    return made


def actions(changes) -> list[str]:
    return [change.action for change in changes]
