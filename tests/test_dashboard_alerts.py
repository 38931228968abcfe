"""The active alerts' banner fetched alone (what dashboard/alerts.js asks for while a page is open)."""

import uuid

import pytest
from django.test import Client

from containersvc.scopes import Scope
from containersvc.services import alerts
from tests.alert_rounds import at, row, rule, sample
from tests.conftest import session_client

pytestmark = pytest.mark.django_db
BANNER = "/alerts/"


def test_the_banner_alone_shows_what_a_page_shows(settings, owner, make_user):
    mine = row(settings, owner=owner)
    hot = rule(name=f"hot-{uuid.uuid4().hex[:6]}", threshold=80)
    assert 'id="alert-banner"' not in session_client(owner).get(BANNER).content.decode()

    alerts.alerts_evaluate(samples=[sample(mine, cpu=90)], now=at(0))
    fragment = session_client(owner).get(BANNER).content.decode()
    assert 'id="alert-banner"' in fragment and hot.name in fragment and mine.container_id in fragment
    assert "<html" not in fragment  # the banner alone, not a page
    page = session_client(owner).get("/").content.decode()
    assert fragment.strip() in page
    other = session_client(make_user(*Scope)).get(BANNER).content.decode()
    assert hot.name not in other  # not their container

    alerts.alerts_evaluate(samples=[sample(mine, cpu=10)], now=at(5))
    assert 'id="alert-banner"' not in session_client(owner).get(BANNER).content.decode()


def test_the_banner_asks_for_a_login():
    response = Client().get(BANNER)
    assert response.status_code == 302 and "/login/" in response["Location"]
