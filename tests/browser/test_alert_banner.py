"""The active alerts' banner follows alerts firing and resolving while a page stays open."""

import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from containersvc.services import alerts
from tests.alert_rounds import row, rule, sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REFRESH_TIMEOUT_MS = 30000  # alerts.js asks every 10 s


def test_an_alert_shows_and_goes_without_a_reload(page_for, owner, settings):
    mine = row(settings, owner=owner)
    hot = rule(name=f"hot-{uuid.uuid4().hex[:6]}", threshold=80)
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto("/audit/")
    expect(page.locator("#alert-banner")).to_have_count(0)
    page.evaluate("window.loadedOnce = true")  # gone if the page were loaded again

    alerts.alerts_evaluate(samples=[sample(mine, cpu=90)], now=timezone.now())
    banner = page.locator("#alert-banner")
    expect(banner.locator(f'li[data-rule="{hot.name}"]')).to_have_count(1, timeout=REFRESH_TIMEOUT_MS)
    expect(banner.locator("a")).to_have_attribute("href", f"/containers/{mine.container_id}/")

    alerts.alerts_evaluate(samples=[sample(mine, cpu=10)], now=timezone.now())
    expect(banner).to_have_count(0, timeout=REFRESH_TIMEOUT_MS)
    assert page.evaluate("window.loadedOnce") is True
    assert not errors
