"""Alerts: rules evaluated after each stats round; firing and resolving are audited and POSTed to webhooks.

A rule's condition is read per container: CPU % and memory % of the limit from the round's samples, restarts
and OOM kills from the mirror (the events follower keeps `restart_count` and `oom_killed` current). It fires
once the condition has held for `for_seconds`, unless it fired on that container within `cooldown_seconds`,
and resolves as soon as the condition no longer holds. See docs/alerts.md.
"""

import functools
import json
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Q

from containersvc import access, validation
from containersvc.egress import MESSAGE_URL_INVALID, egress_check_url, egress_request
from containersvc.errors import InvalidRequest
from containersvc.models import (
    AlertEvent,
    AlertKind,
    AlertRule,
    AlertTarget,
    AuditOutcome,
    Container,
    ContainerState,
)
from containersvc.services.audit import audit_record
from containersvc.stats import ContainerStats

logger = logging.getLogger(__name__)

ACTION_FIRED = "alert.fired"
ACTION_RESOLVED = "alert.resolved"
ACTION_WEBHOOK = "alert.webhook"
ACTOR_NAME = "alerts"
MESSAGE_TARGET_NEEDED = "Give the container's name or id, or a label selector."
MESSAGE_TARGET_UNUSED = "Leave the target empty when the rule is for every container."
MESSAGE_TARGET_INVALID = "'{value}' is not a container name or full id."
MESSAGE_THRESHOLD_NEGATIVE = "The threshold cannot be negative."
MESSAGE_RESTARTS_THRESHOLD = "A restarts rule needs a threshold of at least 1."
MESSAGE_WEBHOOK_ANSWERED = "POST to {url} answered {status}."
MESSAGE_WEBHOOK_FAILED = "POST to {url} failed: {error}."
MESSAGE_WEBHOOK_DROPPED = "POST to {url} dropped: {size} deliveries already waiting."
SAMPLED_KINDS = frozenset({AlertKind.CPU_PERCENT, AlertKind.MEMORY_PERCENT})

Key = tuple[int, int]  # (rule pk, container row pk)


# --- rules ------------------------------------------------------------------------------------------------
def alert_rule_clean(*, rule: AlertRule) -> None:
    """The admin form's check: a target that fits its kind, a threshold, a webhook that is an http(s) URL."""
    errors: dict[str, str] = {}
    target = rule.target.strip()
    if rule.target_kind == AlertTarget.ALL and target:
        errors["target"] = MESSAGE_TARGET_UNUSED
    elif rule.target_kind != AlertTarget.ALL and not target:
        errors["target"] = MESSAGE_TARGET_NEEDED
    elif rule.target_kind == AlertTarget.LABEL:
        try:
            access.label_selector(target)
        except InvalidRequest as error:
            errors["target"] = error.message
    elif rule.target_kind == AlertTarget.CONTAINER and not validation.CONTAINER_NAME.fullmatch(target):
        errors["target"] = MESSAGE_TARGET_INVALID.format(value=target[:100])
    if rule.threshold < 0:
        errors["threshold"] = MESSAGE_THRESHOLD_NEGATIVE
    elif rule.kind == AlertKind.RESTARTS and rule.threshold < 1:
        errors["threshold"] = MESSAGE_RESTARTS_THRESHOLD  # 0 would hold for every container
    if rule.webhook_url:
        parts = urlsplit(rule.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors["webhook_url"] = MESSAGE_URL_INVALID.format(what="webhook", url=rule.webhook_url[:200])
    if errors:
        raise ValidationError(errors)


def _target_condition(rule: AlertRule) -> Q:
    """The containers a rule watches, as a filter on the mirror."""
    if rule.target_kind == AlertTarget.CONTAINER:
        return Q(name=rule.target) | Q(container_id=rule.target)
    if rule.target_kind == AlertTarget.LABEL:
        return access.label_selector(rule.target).condition()
    return Q()


def _targets(rule: AlertRule, row: Container) -> bool:
    """In Python what _target_condition says to the database."""
    if rule.target_kind == AlertTarget.CONTAINER:
        return rule.target in (row.name, row.container_id)
    if rule.target_kind == AlertTarget.LABEL:
        return access.label_selector(rule.target).matches(row.labels or {})
    return True


def _sampled_value(rule: AlertRule, sample: ContainerStats) -> float | None:
    return sample.cpu_percent if rule.kind == AlertKind.CPU_PERCENT else sample.memory_percent


# --- the evaluator ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlertChange:
    """A rule that fired or resolved on a container in one evaluation."""

    action: str  # ACTION_FIRED or ACTION_RESOLVED
    event: AlertEvent


_pending: dict[Key, datetime] = {}  # since when a condition holds that has not fired yet
_pending_lock = threading.Lock()
# Whether the last evaluation found no enabled rule and no open alert: then one query tells whether this one
# has anything to do, where the evaluation makes two (a stats round runs it every second). Guarded by the lock.
_idle = {"last": False}


def alerts_reset() -> None:
    """Forget conditions that were holding (tests; a restarted service waits `for_seconds` anew)."""
    with _pending_lock:
        _pending.clear()
        _idle["last"] = False


def alerts_evaluate(*, samples: Iterable[ContainerStats], now: datetime) -> list[AlertChange]:
    """Compare this node's enabled rules with a round's samples and the mirror; fire and resolve."""
    try:
        with _pending_lock:
            return _evaluate(list(samples), now)
    except DatabaseError:
        logger.warning("alerts not evaluated", exc_info=True)  # the next round tries again
        return []


@functools.lru_cache(maxsize=4)
def _anything_to_evaluate_sql(node: str, vendor: str) -> tuple[str, tuple]:
    """The query behind _nothing_to_evaluate(), made by the ORM once (compiling it cost twenty times running it)."""
    rules = AlertRule.objects.filter(
        Q(enabled=True) | Q(events__resolved_at__isnull=True, events__container__node_id=node)
    )
    return rules.order_by().values("pk")[:1].query.sql_with_params()


def _nothing_to_evaluate(node: str) -> bool:
    """No rule is enabled and no alert is open on this node: nothing can fire or resolve."""
    sql, params = _anything_to_evaluate_sql(node, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is None


def _evaluate(samples: list[ContainerStats], now: datetime) -> list[AlertChange]:
    node = settings.CONTAINERSVC_NODE_ID
    if _idle["last"] and _nothing_to_evaluate(node):
        _pending.clear()  # what the evaluation below makes of it with no rule
        return []
    rules = {rule.pk: rule for rule in AlertRule.objects.filter(enabled=True)}
    # Prefetched, not joined: a round seldom finds an open event, and compiling the join costs a stats round
    # more than the two queries it saves when there is one.
    open_events = {
        (event.rule_id, event.container_id): event
        for event in AlertEvent.objects.filter(resolved_at__isnull=True, container__node_id=node).prefetch_related(
            "rule", "container"
        )
    }
    _idle["last"] = not rules and not open_events
    # None: known not to hold. A key left out (a container not sampled this round) keeps its state.
    observed: dict[Key, float | None] = {}
    rows: dict[int, Container] = {}
    sampled_rules = [rule for rule in rules.values() if rule.kind in SAMPLED_KINDS]
    if sampled_rules and samples:
        by_id = {
            row.container_id: row
            for row in Container.objects.filter(node_id=node, container_id__in=[s.container_id for s in samples])
        }
        for sample in samples:
            row = by_id.get(sample.container_id)
            if row is None:
                continue
            rows[row.pk] = row
            for rule in sampled_rules:
                value = _sampled_value(rule, sample)
                if value is not None and _targets(rule, row):
                    observed[(rule.pk, row.pk)] = value if value > rule.threshold else None
    for rule in rules.values():
        if rule.kind in SAMPLED_KINDS:
            continue
        holding = Q(oom_killed=True) if rule.kind == AlertKind.OOM_KILLED else Q(restart_count__gte=rule.threshold)
        found = Container.objects.filter(_target_condition(rule), holding, node_id=node).exclude(
            state=ContainerState.REMOVED
        )
        for row in found:
            rows[row.pk] = row
            observed[(rule.pk, row.pk)] = 1.0 if rule.kind == AlertKind.OOM_KILLED else float(row.restart_count)
    for key, open_event in open_events.items():
        rule_id, _ = key
        if rule_id not in rules:
            observed[key] = None  # the rule was disabled
        elif key not in observed and (rules[rule_id].kind not in SAMPLED_KINDS or not open_event.container.is_running):
            observed[key] = None
    for key in [key for key in _pending if key not in observed]:
        if key[0] not in rules or rules[key[0]].kind not in SAMPLED_KINDS:
            observed[key] = None
    changes = []
    for key, value in observed.items():
        event = open_events.get(key)
        if value is None:
            _pending.pop(key, None)
            if event is not None:
                changes.append(_resolve(event, now))
        elif event is None:
            since = _pending.setdefault(key, now)
            rule = rules[key[0]]
            if now - since >= timedelta(seconds=rule.for_seconds) and not _cooling(rule, key[1], now):
                del _pending[key]
                changes.append(_fire(rule, rows[key[1]], value, now))
    return changes


def _cooling(rule: AlertRule, container_pk: int, now: datetime) -> bool:
    since = now - timedelta(seconds=rule.cooldown_seconds)
    return AlertEvent.objects.filter(rule=rule, container_id=container_pk, fired_at__gt=since).exists()


def _fire(rule: AlertRule, row: Container, value: float, now: datetime) -> AlertChange:
    event = AlertEvent.objects.create(rule=rule, container=row, value=value, fired_at=now)
    _announce(ACTION_FIRED, event, detail=f"{alert_describe(event)}: {value:.1f}")
    return AlertChange(action=ACTION_FIRED, event=event)


def _resolve(event: AlertEvent, now: datetime) -> AlertChange:
    event.resolved_at = now
    event.save(update_fields=["resolved_at"])
    _announce(ACTION_RESOLVED, event, detail=alert_describe(event))
    return AlertChange(action=ACTION_RESOLVED, event=event)


def _announce(action: str, event: AlertEvent, *, detail: str) -> None:
    audit_record(
        actor=None,
        actor_name=ACTOR_NAME,
        action=action,
        target=f"{event.rule.name} on {event.container.name or event.container.container_id[:12]}",
        outcome=AuditOutcome.OK,
        detail=detail,
    )
    if event.rule.webhook_url:
        webhooks.send(event.rule.webhook_url, alert_payload(action, event))


def alert_describe(event: AlertEvent) -> str:
    """The condition in words: 'CPU % above 80 for 30 s'."""
    rule = event.rule
    if rule.kind == AlertKind.OOM_KILLED:
        return rule.get_kind_display()
    text = f"{rule.get_kind_display()} {rule.threshold:g}"
    return f"{text} for {rule.for_seconds} s" if rule.for_seconds else text


def alert_payload(action: str, event: AlertEvent) -> dict:
    """The webhook's JSON body."""
    rule = event.rule
    return {
        "event": action,
        "rule": rule.name,
        "kind": rule.kind,
        "threshold": rule.threshold,
        "forSeconds": rule.for_seconds,
        "value": event.value,
        "nodeId": event.container.node_id,
        "container": {"id": event.container.container_id, "name": event.container.name},
        "firedAt": event.fired_at.isoformat(),
        "resolvedAt": event.resolved_at.isoformat() if event.resolved_at else None,
    }


# --- webhooks: sent from one thread, so that a slow or refused address never holds up the collector ----------
class WebhookSender:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=settings.CONTAINERSVC_ALERT_WEBHOOK_QUEUE)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def send(self, url: str, payload: dict) -> None:
        """Queue one POST; when the queue is full it is dropped, and the trail says so."""
        try:
            self._queue.put_nowait((url, json.dumps(payload).encode()))
        except queue.Full:
            self._record(url, AuditOutcome.ERROR, MESSAGE_WEBHOOK_DROPPED.format(url=url, size=self._queue.maxsize))
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    url, body = self._queue.get(timeout=30)
                except queue.Empty:
                    with self._lock:  # idle: end; the next send starts a thread again
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                close_old_connections()
                try:
                    self._deliver(url, body)
                except Exception:
                    logger.exception("alert webhook not delivered")
        finally:
            connection.close()

    def _deliver(self, url: str, body: bytes) -> None:
        try:
            target = egress_check_url(
                url, allow_private=settings.CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE, what="webhook"
            )
            timeout = settings.CONTAINERSVC_ALERT_WEBHOOK_TIMEOUT
            headers = {"Content-Type": "application/json", "User-Agent": "container-svc-alerts"}
            with egress_request(target, method="POST", body=body, headers=headers, timeout=timeout) as response:
                status = response.status
        except InvalidRequest as error:  # refused or unresolvable: nothing was sent
            self._record(url, AuditOutcome.ERROR, error.message)
            return
        except (urllib3.exceptions.HTTPError, OSError) as error:
            self._record(url, AuditOutcome.ERROR, MESSAGE_WEBHOOK_FAILED.format(url=url, error=type(error).__name__))
            return
        outcome = AuditOutcome.OK if 200 <= status < 300 else AuditOutcome.ERROR
        self._record(url, outcome, MESSAGE_WEBHOOK_ANSWERED.format(url=url, status=status))

    @staticmethod
    def _record(url: str, outcome: AuditOutcome, detail: str) -> None:
        try:
            audit_record(
                actor=None, actor_name=ACTOR_NAME, action=ACTION_WEBHOOK, target=url, outcome=outcome, detail=detail
            )
        except DatabaseError:
            logger.warning("alert webhook outcome not recorded: %s", detail, exc_info=True)


webhooks = WebhookSender()
