"""The container page's chart frame: each range's step from the retention settings, and the OOM kills shown."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from containersvc.engine import ContainerDetails, EngineContainer
from containersvc.models import AlertEvent, AlertKind, AlertRule, Container, ContainerState
from containersvc.stats_selectors import stats_chart_ranges, stats_oom_kills


def test_each_range_takes_the_finest_history_that_covers_it(settings):
    settings.CONTAINERSVC_STATS_INTERVAL = 1
    settings.CONTAINERSVC_STATS_MEMORY_SECONDS = 900
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 10
    settings.CONTAINERSVC_STATS_FINE_RETENTION_SECONDS = 86400
    settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS = 60
    settings.CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS = 7 * 86400
    ranges = {r.key: (r.seconds, r.step, r.live) for r in stats_chart_ranges()}
    assert ranges == {
        "15m": (900, 1, True),  # memory, full resolution
        "1h": (3600, 10, True),  # the 10 s buckets
        "24h": (86400 - 60, 60, False),  # 10 s buckets, 1,440 points at most; a minute short of their retention
        "7d": (7 * 86400 - 60, 420, False),  # 1 min buckets, seven to a point
    }


def test_a_range_longer_than_what_is_kept_is_not_offered(settings):
    settings.CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS = 2 * 86400
    assert [r.key for r in stats_chart_ranges()] == ["15m", "1h", "24h"]


def _details(container_id: str, *, oom_killed: bool, finished_at: datetime | None) -> ContainerDetails:
    summary = EngineContainer(
        id=container_id,
        names=("oom",),
        image="busybox",
        image_id="",
        state=ContainerState.EXITED,
        status="Exited (137)",
        labels={},
        ports=(),
        created_at=None,
        network_mode="none",
        ip_address="",
        mac_address="",
        volumes=(),
    )
    return ContainerDetails(
        summary=summary,
        envs=(),
        exit_code=137,
        started_at=None,
        finished_at=finished_at,
        restart_count=0,
        oom_killed=oom_killed,
        error="",
        command=(),
        runtime="runc",
        gpu_enabled=False,
        cpu_shares=0,
        memory_bytes=0,
        mounts=(),
    )


@pytest.mark.django_db
def test_oom_kills_are_the_last_exit_and_earlier_alert_firings(settings):
    container_id = "c" * 64
    node = settings.CONTAINERSVC_NODE_ID
    row = Container.objects.create(node_id=node, container_id=container_id, state=ContainerState.EXITED)
    rule = AlertRule.objects.create(name="oom", kind=AlertKind.OOM_KILLED)
    cpu_rule = AlertRule.objects.create(name="cpu", kind=AlertKind.CPU_PERCENT, threshold=50)
    now = timezone.now()
    last_kill = now - timedelta(minutes=5)
    for fired in (now - timedelta(hours=3), last_kill + timedelta(seconds=2), now - timedelta(days=30)):
        AlertEvent.objects.create(rule=rule, container=row, value=1, fired_at=fired)
    AlertEvent.objects.create(rule=cpu_rule, container=row, value=90, fired_at=now - timedelta(hours=1))

    # The rule's firing just after the last kill is that kill; one beyond the kept history is not shown.
    shown = stats_oom_kills(details=_details(container_id, oom_killed=True, finished_at=last_kill))
    assert shown == [now - timedelta(hours=3), last_kill]
    # Started again since: the engine forgot the kill, the rule's firings remain.
    again = stats_oom_kills(details=_details(container_id, oom_killed=False, finished_at=None))
    assert again == [now - timedelta(hours=3), last_kill + timedelta(seconds=2)]
    assert stats_oom_kills(details=_details("d" * 64, oom_killed=False, finished_at=None)) == []
