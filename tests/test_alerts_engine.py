"""Alerts on the real engine: the stats collector's rounds (cgroup files) feed the evaluator, and the events
follower (the container-status producer, as a server process runs it) keeps the mirror's state, restart count
and OOM flag that the evaluator reads. Nothing here writes a sample or a mirror field by hand.

The evaluator runs after each collect_once() of a collector driven by hand (no lease: it is the node's only
one), with `now` the wall clock: "for N seconds" and the cooldown are measured in real time, so they are small.
"""

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from containersvc.models import AlertEvent, AlertKind, AlertRule, AlertTarget, AuditEvent, AuditOutcome, Container
from containersvc.models import ContainerState as State
from containersvc.producers import container_status
from containersvc.producers.stats_collector import collector
from containersvc.services import alerts
from tests.conftest import OOM_KILLED_COMMAND, OOM_LIMIT_BYTES, TEST_NODE, how_it_ended, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the events follower writes rows from its own thread

BURN = "while :; do :; done"
MIB = 1024**2
ROUND = 0.5  # seconds between collector rounds while a test waits
SLOW = 90  # generous: other test sessions share the two cores and the engine


# --- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture
def stats(settings):
    """The node's collector, empty and on the cgroup files, and an evaluator holding nothing; tests drive
    rounds with collect_once()."""
    settings.CONTAINERSVC_STATS_SOURCE = "cgroup"
    collector.reset()
    alerts.alerts_reset()
    yield collector
    collector.reset()
    alerts.alerts_reset()


@pytest.fixture
def events_follower(container):
    """The container-status producer following the engine's events for the mirror, as a server runs it.

    Events that come while a full list is pending are not inspected one by one (the list stands for them), and a
    list tells neither restarts nor OOM kills. The list asked for when the event stream opens (listeners are then
    told None) can come well after the producer starts: wait for the stream to open and that list to be taken
    up; from then on every event is inspected, as a sleeper's row getting `started_at` (only an inspect writes
    it) shows.
    """
    producer = container_status.producer
    opened = threading.Event()

    def listener(event) -> None:
        if event is None:
            opened.set()

    producer.add_listener(listener)
    producer.run_always()
    try:
        wait_for(opened.is_set, timeout=SLOW, what="the events follower's stream opened")
        wait_for(lambda: not producer.reconcile_pending, timeout=SLOW, what="the events follower's opening list")
        sentinel = container("sleep 3600")
        wait_for(
            lambda: Container.objects.filter(
                node_id=TEST_NODE, container_id=sentinel.id, started_at__isnull=False
            ).exists(),
            timeout=SLOW,
            what="the events follower inspecting a container's events",
        )
        yield producer
    finally:
        producer.remove_listener(listener)
        producer.stop_always()
        for thread in producer.threads():
            thread.join(timeout=10)


# --- helpers -------------------------------------------------------------------------------------------------
def rule_for(container_id: str, **fields) -> AlertRule:
    """A rule watching one container (by full id): other sessions' containers share the engine."""
    fields.setdefault("name", f"engine-{uuid.uuid4().hex[:8]}")
    fields.setdefault("for_seconds", 0)
    fields.setdefault("cooldown_seconds", 0)
    made = AlertRule(target_kind=AlertTarget.CONTAINER, target=container_id, **fields)
    made.full_clean()
    made.save()
    return made


def mirror_row(container_id: str) -> Container:
    return Container.objects.get(node_id=TEST_NODE, container_id=container_id)


def rounds_until(condition, *, container_id: str, what: str | Callable[[], str], timeout: float = SLOW):
    """Run collector rounds (each followed by the evaluator) until condition() is truthy; returns its value."""

    def after_a_round():
        collector.collect_once(only={container_id})
        return condition()

    return wait_for(after_a_round, timeout=timeout, what=what, interval=ROUND)


def events_of(rule: AlertRule):
    return AlertEvent.objects.filter(rule=rule).order_by("fired_at", "id")


def trail(rule: AlertRule, row: Container) -> list[tuple[str, str, str]]:
    """The alert entries of the audit trail about this rule on this container: (action, actor, outcome)."""
    target = f"{rule.name} on {row.name}"
    entries = AuditEvent.objects.filter(action__startswith="alert.", target=target).order_by("id")
    return [(entry.action, entry.actor_name, entry.outcome) for entry in entries]


FIRED = (alerts.ACTION_FIRED, alerts.ACTOR_NAME, AuditOutcome.OK)
RESOLVED = (alerts.ACTION_RESOLVED, alerts.ACTOR_NAME, AuditOutcome.OK)


def hot_run(container_id: str, threshold: float, *, since: datetime) -> timedelta:
    """How long the container's latest samples (taken after `since`) have been above the threshold without a dip."""
    run = []
    for sample in reversed(collector.history(container_id)):
        if sample.taken_at < since or sample.cpu_percent is None or sample.cpu_percent <= threshold:
            break
        run.append(sample)
    return run[0].taken_at - run[-1].taken_at if run else timedelta(-1)


# --- CPU: fire after holding, resolve when the burner is killed, the cooldown, firing again after it -------
CPU_THRESHOLD = 20.0
CPU_FOR = 2
CPU_COOLDOWN = 20


def test_a_cpu_rule_fires_on_a_burner_resolves_when_it_is_killed_and_keeps_its_cooldown(
    stats, events_follower, container, docker_client
):
    burner = container(BURN)
    cpu = rule_for(
        burner.id,
        kind=AlertKind.CPU_PERCENT,
        threshold=CPU_THRESHOLD,
        for_seconds=CPU_FOR,
        cooldown_seconds=CPU_COOLDOWN,
    )

    first = rounds_until(lambda: events_of(cpu).first(), container_id=burner.id, what="the burner's CPU alert fired")
    hot = [s for s in collector.history(burner.id) if s.cpu_percent is not None and s.cpu_percent > CPU_THRESHOLD]
    assert hot, "fired with no sample above the threshold"
    # Not at the first hot sample: the condition held for `for_seconds` of wall clock first.
    assert first.fired_at - hot[0].taken_at >= timedelta(seconds=CPU_FOR)
    assert first.value > CPU_THRESHOLD and first.is_active
    row = mirror_row(burner.id)
    assert row.name == burner.name and first.container_id == row.pk
    assert trail(cpu, row) == [FIRED]
    fired_entry = AuditEvent.objects.get(action=alerts.ACTION_FIRED, target=f"{cpu.name} on {row.name}")
    assert fired_entry.detail.startswith(f"CPU % above {CPU_THRESHOLD:g} for {CPU_FOR} s: ")

    # Killed: the events follower marks its row exited, and the next round resolves the alert.
    burner.kill()
    rounds_until(
        lambda: events_of(cpu).filter(resolved_at__isnull=False).exists(),
        container_id=burner.id,
        what="the alert resolved after the kill",
    )
    assert mirror_row(burner.id).state == State.EXITED
    first.refresh_from_db()
    assert first.resolved_at > first.fired_at
    assert trail(cpu, row) == [FIRED, RESOLVED]

    # A second burst, within the cooldown: it holds past `for_seconds` and fires nothing.
    restarted = timezone.now()
    burner.start()
    rounds_until(
        lambda: hot_run(burner.id, CPU_THRESHOLD, since=restarted) >= timedelta(seconds=CPU_FOR + 1),
        container_id=burner.id,
        what="the second burst held past for_seconds",
    )
    assert timezone.now() < first.fired_at + timedelta(seconds=CPU_COOLDOWN), (
        "the machine was too slow to see the second burst within the cooldown"
    )
    assert events_of(cpu).count() == 1
    assert trail(cpu, row) == [FIRED, RESOLVED]

    # The cooldown over, the condition still holding: it fires again.
    second = rounds_until(
        lambda: events_of(cpu).exclude(pk=first.pk).first(),
        container_id=burner.id,
        what="the CPU alert fired again after the cooldown",
    )
    assert second.fired_at >= first.fired_at + timedelta(seconds=CPU_COOLDOWN)
    assert second.is_active and second.value > CPU_THRESHOLD
    assert trail(cpu, row) == [FIRED, RESOLVED, FIRED]


# --- memory % of the container's limit, from the cgroup files -------------------------------------------------
def test_a_memory_rule_fires_on_a_container_filling_its_limit(stats, container):
    # A shell variable of 24 MiB in a container allowed 64: 37 % and more, held by the shell that waits on
    # (a last `sleep` would be exec'ed in place of the shell, freeing it).
    filled = container(
        "x=$(head -c 25165824 /dev/zero | tr '\\0' a); while :; do sleep 60; done", mem_limit="64m", memswap_limit="64m"
    )
    memory = rule_for(filled.id, kind=AlertKind.MEMORY_PERCENT, threshold=30, for_seconds=1)
    calm = rule_for(filled.id, kind=AlertKind.MEMORY_PERCENT, threshold=90)

    event = rounds_until(lambda: events_of(memory).first(), container_id=filled.id, what="the memory alert fired")
    assert 30 < event.value < 100 and event.is_active
    latest = collector.latest()[filled.id]
    assert latest.memory_limit_bytes == 64 * MIB and latest.memory_percent > 30
    assert trail(memory, mirror_row(filled.id)) == [FIRED]
    assert not events_of(calm).exists()


# --- OOM kills and restarts: read from the mirror the events follower keeps --------------------------------
def test_an_oom_rule_fires_for_a_kernel_oom_kill_and_resolves_when_the_container_is_removed(
    stats, events_follower, container
):
    killed = container(OOM_KILLED_COMMAND, mem_limit=OOM_LIMIT_BYTES, memswap_limit=OOM_LIMIT_BYTES)
    oom = rule_for(killed.id, kind=AlertKind.OOM_KILLED)

    event = rounds_until(
        lambda: events_of(oom).first(),
        container_id=killed.id,
        what=lambda: f"the OOM alert fired ({how_it_ended(killed)})",
    )
    killed.reload()
    assert killed.attrs["State"]["OOMKilled"], "the engine does not say the kernel killed it"
    row = mirror_row(killed.id)
    assert row.oom_killed and row.state == State.EXITED and row.exit_code == 137
    assert event.value == 1 and event.is_active
    assert trail(oom, row) == [FIRED]
    assert AuditEvent.objects.get(action=alerts.ACTION_FIRED, target=f"{oom.name} on {row.name}").detail == (
        "Killed for lack of memory: 1.0"
    )

    killed.remove()
    rounds_until(
        lambda: events_of(oom).filter(resolved_at__isnull=False).exists(),
        container_id=killed.id,
        what="the OOM alert resolved after the removal",
    )
    assert mirror_row(killed.id).state == State.REMOVED
    assert trail(oom, row) == [FIRED, RESOLVED]


RETRIES = 3


def test_a_restart_rule_fires_for_a_restart_policy_s_restarts(stats, events_follower, container, docker_client):
    looping = container("exit 1", restart_policy={"Name": "on-failure", "MaximumRetryCount": RETRIES})
    restarts = rule_for(looping.id, kind=AlertKind.RESTARTS, threshold=2)
    never = rule_for(looping.id, kind=AlertKind.RESTARTS, threshold=RETRIES + 1)

    event = rounds_until(lambda: events_of(restarts).first(), container_id=looping.id, what="the restarts alert fired")
    assert 2 <= event.value <= RETRIES and event.is_active

    # The engine gives up after its retries; the mirror reaches the final count from the events alone.
    def gave_up():
        looping.reload()
        return looping.attrs["State"]["Status"] == "exited" and looping.attrs["RestartCount"] == RETRIES

    wait_for(gave_up, timeout=SLOW, what="the engine's last retry", interval=ROUND)
    rounds_until(
        lambda: mirror_row(looping.id).restart_count == RETRIES and mirror_row(looping.id).state == State.EXITED,
        container_id=looping.id,
        what="the mirror's restart count followed the engine",
    )
    assert events_of(restarts).count() == 1 and events_of(restarts).get().is_active
    assert not events_of(never).exists()
    row = mirror_row(looping.id)
    assert trail(restarts, row) == [FIRED]

    looping.remove()
    rounds_until(
        lambda: events_of(restarts).filter(resolved_at__isnull=False).exists(),
        container_id=looping.id,
        what="the restarts alert resolved after the removal",
    )
    assert trail(restarts, row) == [FIRED, RESOLVED]
