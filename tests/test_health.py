"""GET /healthz (unauthenticated: the engine and the database, booleans only) and the engine banner that
every dashboard page shows while the engine is away."""

import re

import pytest

from containersvc import engine


@pytest.fixture
def engine_away(settings, tmp_path):
    """DOCKER_HOST names a socket nobody listens on."""
    settings.CONTAINERSVC_DOCKER_HOST = f"unix://{tmp_path}/no-engine.sock"
    engine.reset_clients()
    return settings.CONTAINERSVC_DOCKER_HOST


@pytest.mark.django_db
def test_healthz_answers_anonymous_callers_when_all_is_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "engine": True, "database": True}
    assert {"no-store", "max-age=0"} & {part.strip() for part in response.headers["Cache-Control"].split(",")}


@pytest.mark.django_db
def test_healthz_answers_callers_with_a_token_alike(make_user, bearer_client):
    response = bearer_client(make_user()).get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_healthz_says_the_engine_is_down_without_saying_where_it_is(client, engine_away, tmp_path):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "engine": False, "database": True}
    assert str(tmp_path) not in response.content.decode()
    assert "unix" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_takes_only_get_and_head(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def _banner(html: str) -> re.Match | None:
    return re.search(r'<div id="engine-banner" class="banner" role="alert"\s*(hidden)?\s*>(.*?)</div>', html, re.S)


@pytest.mark.parametrize("page", ["/audit/", "/gpus/", "/node/"])
def test_every_page_shows_the_engine_banner_while_the_engine_is_away(client, make_user, engine_away, page):
    client.force_login(make_user(superuser=True))

    banner = _banner(client.get(page).content.decode())

    assert banner is not None and banner.group(1) is None  # not hidden
    assert f"unavailable at {engine_away}" in banner.group(2)


def test_the_banner_is_hidden_while_the_engine_answers(client, make_user):
    client.force_login(make_user(superuser=True))

    banner = _banner(client.get("/audit/").content.decode())

    assert banner is not None and banner.group(1) == "hidden"


def test_the_login_page_tells_nobody_about_the_engine(client, db, engine_away):
    html = client.get("/login/").content.decode()

    assert engine_away not in html
