"""Alerts: rules fire after holding `for` seconds, resolve, respect the cooldown; restarts and OOM kills from the
mirror; webhooks POSTed (or refused unsent); the banner only for those who may see the container; the admin."""

import http.server
import json
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError

from containersvc.models import (
    AlertEvent,
    AlertKind,
    AlertRule,
    AlertTarget,
    AuditEvent,
    AuditOutcome,
    Container,
    ContainerState,
)
from containersvc.producers.stats_collector import collector
from containersvc.scopes import Scope
from containersvc.services import alerts
from tests.alert_rounds import actions, at, row, rule, sample
from tests.conftest import MANAGED_LABELS, session_client, wait_for


@pytest.fixture(autouse=True)
def fresh_evaluator():
    alerts.alerts_reset()
    yield
    alerts.alerts_reset()


# --- the evaluator, driven with built samples and explicit times -----------------------------------------------
@pytest.mark.django_db
def test_cpu_rule_fires_after_holding_for_its_seconds_then_resolves(settings):
    busy = row(settings)
    cpu = rule(threshold=80, for_seconds=30, cooldown_seconds=0)

    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0)) == []
    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=95)], now=at(29)) == []
    fired = alerts.alerts_evaluate(samples=[sample(busy, cpu=91)], now=at(30))
    assert actions(fired) == [alerts.ACTION_FIRED]
    event = AlertEvent.objects.get(rule=cpu, container=busy)
    assert event.value == 91 and event.fired_at == at(30) and event.is_active
    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=99)], now=at(31)) == []  # still the same alert

    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=10)], now=at(40))) == [alerts.ACTION_RESOLVED]
    event.refresh_from_db()
    assert event.resolved_at == at(40)
    trail = list(AuditEvent.objects.filter(action__startswith="alert.").order_by("id"))
    assert [(entry.action, entry.actor_name, entry.outcome) for entry in trail] == [
        (alerts.ACTION_FIRED, alerts.ACTOR_NAME, AuditOutcome.OK),
        (alerts.ACTION_RESOLVED, alerts.ACTOR_NAME, AuditOutcome.OK),
    ]
    assert trail[0].target == f"{cpu.name} on {busy.name}"


@pytest.mark.django_db
def test_a_dip_restarts_the_wait(settings):
    busy = row(settings)
    rule(threshold=50, for_seconds=20)

    alerts.alerts_evaluate(samples=[sample(busy, cpu=60)], now=at(0))
    alerts.alerts_evaluate(samples=[sample(busy, cpu=40)], now=at(10))
    alerts.alerts_evaluate(samples=[sample(busy, cpu=60)], now=at(15))
    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=60)], now=at(30)) == []
    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=60)], now=at(35))) == [alerts.ACTION_FIRED]


@pytest.mark.django_db
def test_no_second_firing_within_the_cooldown(settings):
    busy = row(settings)
    cpu = rule(threshold=80, for_seconds=0, cooldown_seconds=300)

    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))) == [alerts.ACTION_FIRED]
    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=5)], now=at(10))) == [alerts.ACTION_RESOLVED]
    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(20)) == []
    assert alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(299)) == []
    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(301))) == [alerts.ACTION_FIRED]
    assert AlertEvent.objects.filter(rule=cpu).count() == 2


@pytest.mark.django_db
def test_memory_rule_by_label_and_container_rule_by_name(settings):
    labelled = row(settings, labels={"tier": "model"})
    other = row(settings, labels={"tier": "web"})
    memory = rule(kind=AlertKind.MEMORY_PERCENT, threshold=90, target_kind=AlertTarget.LABEL, target="tier=model")
    named = rule(kind=AlertKind.CPU_PERCENT, threshold=10, target_kind=AlertTarget.CONTAINER, target=other.name)

    changes = alerts.alerts_evaluate(
        samples=[sample(labelled, cpu=50, memory_percent=95), sample(other, cpu=50, memory_percent=95)], now=at(0)
    )

    fired = {(change.event.rule_id, change.event.container_id) for change in changes}
    assert fired == {(memory.pk, labelled.pk), (named.pk, other.pk)}


@pytest.mark.django_db
def test_an_unsampled_container_keeps_its_alert_until_it_stops(settings):
    busy = row(settings)
    rule(threshold=80)
    alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))

    assert alerts.alerts_evaluate(samples=[], now=at(5)) == []  # a round that sampled others only
    Container.objects.filter(pk=busy.pk).update(state=ContainerState.EXITED)
    assert actions(alerts.alerts_evaluate(samples=[], now=at(6))) == [alerts.ACTION_RESOLVED]


@pytest.mark.django_db
def test_oom_and_restart_rules_read_the_mirror(settings):
    killed = row(settings, state=ContainerState.EXITED, oom_killed=True)
    looping = row(settings, restart_count=2)
    oom = rule(kind=AlertKind.OOM_KILLED)
    restarts = rule(kind=AlertKind.RESTARTS, threshold=3, for_seconds=0)

    changes = alerts.alerts_evaluate(samples=[], now=at(0))
    assert [(c.action, c.event.rule_id, c.event.container_id) for c in changes] == [
        (alerts.ACTION_FIRED, oom.pk, killed.pk)
    ]

    Container.objects.filter(pk=looping.pk).update(restart_count=3)
    changes = alerts.alerts_evaluate(samples=[], now=at(1))
    assert [(c.action, c.event.rule_id, c.event.value) for c in changes] == [(alerts.ACTION_FIRED, restarts.pk, 3.0)]

    Container.objects.filter(pk=killed.pk).update(oom_killed=False, state=ContainerState.RUNNING)
    AlertRule.objects.filter(pk=restarts.pk).update(enabled=False)
    changes = alerts.alerts_evaluate(samples=[], now=at(2))
    assert sorted((c.action, c.event.rule_id) for c in changes) == sorted(
        [(alerts.ACTION_RESOLVED, oom.pk), (alerts.ACTION_RESOLVED, restarts.pk)]
    )
    assert not AlertEvent.objects.filter(resolved_at__isnull=True).exists()


@pytest.mark.django_db
def test_rule_targets_and_webhooks_are_checked_when_edited():
    with pytest.raises(ValidationError) as error:
        rule(target_kind=AlertTarget.LABEL, target="=oops")
    assert "target" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        rule(target_kind=AlertTarget.CONTAINER, target="")
    assert error.value.message_dict["target"] == [alerts.MESSAGE_TARGET_NEEDED]
    with pytest.raises(ValidationError) as error:
        rule(threshold=-1)
    assert error.value.message_dict["threshold"] == [alerts.MESSAGE_THRESHOLD_NEGATIVE]
    with pytest.raises(ValidationError) as error:
        rule(kind=AlertKind.RESTARTS, threshold=0)
    assert error.value.message_dict["threshold"] == [alerts.MESSAGE_RESTARTS_THRESHOLD]


# --- webhooks ----------------------------------------------------------------------------------------------
@pytest.fixture
def hook_server():
    """An HTTP server on 127.0.0.1 keeping the JSON bodies POSTed to it."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(length))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_firing_and_resolving_are_posted_to_the_webhook(settings, hook_server):
    settings.CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE = True
    url, received = hook_server
    busy = row(settings)
    cpu = rule(threshold=80, webhook_url=url)

    alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))
    alerts.alerts_evaluate(samples=[sample(busy, cpu=1)], now=at(1))

    wait_for(lambda: len(received) == 2, timeout=10, what="two POSTs reached the webhook")
    (fired_type, fired), (_, resolved) = received
    assert fired_type == "application/json"
    assert fired["event"] == alerts.ACTION_FIRED and resolved["event"] == alerts.ACTION_RESOLVED
    assert fired["rule"] == cpu.name and fired["value"] == 90 and fired["container"]["id"] == busy.container_id
    assert resolved["resolvedAt"] == at(1).isoformat()
    wait_for(
        lambda: AuditEvent.objects.filter(action=alerts.ACTION_WEBHOOK, outcome=AuditOutcome.OK).count() == 2,
        timeout=10,
        what="both deliveries recorded",
    )


@pytest.mark.django_db(transaction=True)
def test_a_private_webhook_address_is_refused_without_a_connection(settings, hook_server):
    settings.CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE = False
    url, received = hook_server
    busy = row(settings)
    rule(threshold=80, webhook_url=url)

    alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))

    refused = wait_for(
        lambda: AuditEvent.objects.filter(action=alerts.ACTION_WEBHOOK).first(),
        timeout=10,
        what="the refusal recorded",
    )
    assert refused.outcome == AuditOutcome.ERROR and "non-public" in refused.detail
    assert received == []


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_does_not_answer_never_holds_up_the_evaluation(settings):
    settings.CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE = True
    arrived, answer = threading.Event(), threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            arrived.set()
            answer.wait(30)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        busy = row(settings)
        rule(threshold=80, webhook_url=f"http://127.0.0.1:{server.server_address[1]}/")

        changes = alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))

        assert actions(changes) == [alerts.ACTION_FIRED]  # returned while the receiver has not answered
        assert not answer.is_set()
        wait_for(arrived.is_set, timeout=10, what="the POST reached the stalling receiver")
    finally:
        answer.set()
        server.shutdown()
        server.server_close()
    wait_for(
        lambda: AuditEvent.objects.filter(action=alerts.ACTION_WEBHOOK).exists(), timeout=10, what="delivery recorded"
    )


# --- the banner and the admin --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_banner_shows_alerts_only_to_those_who_may_see_the_container(settings, owner, make_user):
    mine = row(settings, owner=owner)
    cpu = rule(name=f"hot-{uuid.uuid4().hex[:6]}", threshold=80)
    alerts.alerts_evaluate(samples=[sample(mine, cpu=90)], now=at(0))

    for viewer in (owner, make_user(superuser=True)):
        page = session_client(viewer).get("/").content.decode()
        assert 'id="alert-banner"' in page and cpu.name in page
    page = session_client(make_user(*Scope)).get("/").content.decode()
    assert 'id="alert-banner"' not in page and cpu.name not in page


@pytest.mark.django_db
def test_the_admin_edits_rules_and_lists_events(settings, make_user):
    admin = session_client(make_user(superuser=True))
    busy = row(settings)
    rule(threshold=1)
    alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(0))

    for path in (
        "/admin/containersvc/alertrule/",
        "/admin/containersvc/alertrule/add/",
        "/admin/containersvc/alertevent/",
    ):
        assert admin.get(path).status_code == 200, path
    event = AlertEvent.objects.get()
    assert admin.get(f"/admin/containersvc/alertevent/{event.pk}/change/").status_code == 200  # a read-only view
    assert admin.get("/admin/containersvc/alertevent/add/").status_code == 403


# --- end to end: the collector's round on the real engine -----------------------------------------------------
@pytest.mark.django_db
def test_a_cpu_burner_fires_through_the_collector(settings, docker_client, test_image):
    settings.CONTAINERSVC_STATS_SOURCE = "auto"
    collector.reset()
    burner = docker_client.containers.run(
        test_image, ["sh", "-c", "while :; do :; done"], detach=True, labels=MANAGED_LABELS, network_mode="none"
    )
    try:
        cpu = rule(threshold=20, target_kind=AlertTarget.CONTAINER, target=burner.id)

        def fired():
            collector.collect_once(only={burner.id})
            return AlertEvent.objects.filter(rule=cpu, container__container_id=burner.id).first()

        event = wait_for(fired, timeout=30, what="the burner's CPU alert fired", interval=0.5)
        assert event.value > 20 and event.is_active
        assert AuditEvent.objects.filter(action=alerts.ACTION_FIRED, target__startswith=cpu.name).exists()
    finally:
        burner.remove(force=True)
        collector.reset()
