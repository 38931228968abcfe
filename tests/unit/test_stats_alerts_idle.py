"""Alerts after stats rounds with nothing to evaluate (no rule, no open alert): such a round costs one query, and
what comes after is evaluated as if every round had been (no engine)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from containersvc.models import AlertEvent
from containersvc.services import alerts
from tests.alert_rounds import T0, actions, at, row, rule, sample

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def idle_evaluator():
    """An evaluator whose last rounds found nothing to evaluate."""
    alerts.alerts_reset()
    alerts.alerts_evaluate(samples=[], now=T0)
    yield
    alerts.alerts_reset()


def test_a_round_with_nothing_to_evaluate_costs_one_query():
    with CaptureQueriesContext(connection) as captured:
        assert alerts.alerts_evaluate(samples=[], now=at(1)) == []
    assert len(captured.captured_queries) == 1


def test_a_rule_enabled_after_idle_rounds_fires_at_once(settings):
    busy = row(settings)
    alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(1))
    rule(threshold=80, for_seconds=0)

    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(2))) == [alerts.ACTION_FIRED]


def test_an_alert_left_open_elsewhere_is_resolved_after_idle_rounds(settings):
    # Another process held the node's stats lease and fired it; its rule was disabled since.
    busy = row(settings)
    disabled = rule(threshold=80, enabled=False)
    open_event = AlertEvent.objects.create(rule=disabled, container=busy, value=90.0, fired_at=at(1))

    assert actions(alerts.alerts_evaluate(samples=[sample(busy, cpu=90)], now=at(2))) == [alerts.ACTION_RESOLVED]
    open_event.refresh_from_db()
    assert open_event.resolved_at == at(2)
