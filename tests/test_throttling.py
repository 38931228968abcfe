"""Throttling: failed logins (dashboard and admin) and wrong bearer tokens lock out for a cool-off, API requests
per token are rated; every answer is 429 with Retry-After, and logins, lockouts and releases are audited.

The limits are lowered and the cool-off shortened by settings; the counting is the real one (the database cache).
"""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from containersvc.asgi import application
from containersvc.models import AuditEvent
from containersvc.scopes import Scope
from containersvc.services.accounts import token_issue
from containersvc.services.throttling import LOCKED_OUT
from tests.conftest import ORIGIN, wait_for

PASSWORD = "pw-for-tests"  # make_user's


@pytest.fixture
def limits(settings):
    settings.CONTAINERSVC_LOGIN_FAILURE_LIMIT = 3
    settings.CONTAINERSVC_LOGIN_COOL_OFF_SECONDS = 1
    settings.CONTAINERSVC_BEARER_FAILURE_LIMIT = 3
    settings.CONTAINERSVC_BEARER_COOL_OFF_SECONDS = 1
    return settings


def login(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


def audited() -> list[tuple[str, str, str]]:
    return list(AuditEvent.objects.order_by("id").values_list("action", "target", "outcome"))


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60


# --- password logins ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_failed_logins_lock_the_username_out_until_the_cool_off_ends(make_user, limits):
    user = make_user(username="alice")
    client = Client()
    for _ in range(3):
        assert login(client, "alice", "wrong").status_code == 200  # the form again, with its error

    refused = login(client, "alice", PASSWORD)  # even the right password, while locked out

    assert_locked_out(refused)
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    wait_for(lambda: login(client, "alice", PASSWORD).status_code == 302, timeout=10, what="the lockout to end")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert audited() == [
        *[("login", "user alice", "error")] * 3,
        ("login.address.lockout", "address 127.0.0.1", "error"),
        ("login.user.lockout", "user alice", "error"),
        ("login.address.release", "address 127.0.0.1", "ok"),
        ("login.user.release", "user alice", "ok"),
        ("login", "user alice", "ok"),
    ]


@pytest.mark.django_db
def test_a_locked_out_username_is_refused_from_another_address_too(make_user, limits):
    make_user(username="bob")
    for _ in range(3):
        login(Client(REMOTE_ADDR="127.0.0.2"), "bob", "wrong")

    assert_locked_out(login(Client(REMOTE_ADDR="127.0.0.3"), "bob", PASSWORD))
    assert login(Client(REMOTE_ADDR="127.0.0.3"), "carol", "wrong").status_code == 200  # that address is not


@pytest.mark.django_db
def test_the_admin_login_counts_and_refuses_by_address(make_user, limits):
    make_user(superuser=True, username="root")
    client = Client(REMOTE_ADDR="127.0.0.4")
    for name in ("x1", "x2", "x3"):  # other usernames each time: the address is what is counted
        assert login(client, name, "wrong", "/admin/login/").status_code == 200

    refused = login(client, "root", PASSWORD, "/admin/login/")

    assert_locked_out(refused)
    assert LOCKED_OUT.split("{")[0] in refused.content.decode()
    assert ("login.address.lockout", "address 127.0.0.4", "error") in audited()


@pytest.mark.django_db
def test_a_success_forgets_the_usernames_failures(make_user, limits):
    make_user(username="dave")
    client = Client()
    for _ in range(2):
        login(client, "dave", "wrong")
    assert login(client, "dave", PASSWORD).status_code == 302
    for _ in range(2):
        login(Client(REMOTE_ADDR="127.0.0.5"), "dave", "wrong")

    assert login(Client(REMOTE_ADDR="127.0.0.5"), "dave", PASSWORD).status_code == 302


# --- bearer tokens -----------------------------------------------------------------------------------------
def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_wrong_bearer_tokens_lock_the_address_out_until_the_cool_off_ends(make_user, limits):
    wrong = bearer("csvc_not-a-token")
    for _ in range(3):
        assert wrong.get("/container-svc/host").status_code == 401

    refused = wrong.get("/container-svc/host")

    assert_locked_out(refused)
    assert refused.json() == {"error": LOCKED_OUT.format(seconds=refused["Retry-After"])}
    # A valid token is never refused for what another client at its address did.
    assert bearer(token_issue(user=make_user(Scope.CONTAINER_VIEW)).token).get("/container-svc/host").status_code == 200
    wait_for(lambda: wrong.get("/container-svc/host").status_code == 401, timeout=10, what="the lockout to end")
    assert [row for row in audited() if row[0].startswith("bearer.")] == [
        ("bearer.address.lockout", "address 127.0.0.1", "error"),
        ("bearer.address.release", "address 127.0.0.1", "ok"),
    ]


@pytest.mark.django_db(transaction=True)
def test_wrong_bearer_tokens_on_websockets_count_too_and_close_4429(limits):
    headers = [ORIGIN, (b"authorization", b"Bearer csvc_not-a-token")]

    async def scenario():
        for _ in range(3):
            assert await WebsocketCommunicator(application, "/ws/containers/", headers).connect() == (False, 4401)
        assert await WebsocketCommunicator(application, "/ws/containers/", headers).connect() == (False, 4429)

    async_to_sync(scenario)()


# --- request rate per token --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_requests_beyond_the_rate_of_a_token_are_429_with_retry_after(make_user, settings):
    settings.CONTAINERSVC_API_RATE = "3/min"
    user = make_user(Scope.CONTAINER_VIEW)
    client = bearer(token_issue(user=user).token)
    for _ in range(3):
        assert client.get("/container-svc/host").status_code == 200

    refused = client.get("/container-svc/host")

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"].startswith("Too many requests.")
    assert bearer(token_issue(user=user).token).get("/container-svc/host").status_code == 200  # per token


@pytest.mark.django_db
def test_the_default_rate_lets_a_busy_client_through(api):
    for _ in range(100):
        assert api.get("/container-svc/host").status_code == 200
