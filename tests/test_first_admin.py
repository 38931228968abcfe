"""The first admin without a prompt: the one-time setup link printed at a server's start, and the admin that
CONTAINERSVC_ADMIN_USERNAME / CONTAINERSVC_ADMIN_PASSWORD create at migrate and at start."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from containersvc.errors import InvalidRequest
from containersvc.models import SetupToken
from containersvc.services import accounts
from containersvc.startup import first_admin_announce, server_url

GOOD_PASSWORD = "correct-horse-battery-staple-7"


def _superusers() -> list[str]:
    return list(get_user_model().objects.filter(is_superuser=True).values_list("username", flat=True))


def _form(username: str = "alice", password: str = GOOD_PASSWORD) -> dict[str, str]:
    return {"username": username, "password1": password, "password2": password}


@pytest.mark.django_db
def test_the_setup_link_creates_the_first_admin_and_logs_them_in(client):
    link = f"/setup/{accounts.setup_token_issue()}/"

    assert client.get(link).status_code == 200
    response = client.post(link, _form())

    assert response.status_code == 302 and response.url == "/"
    assert _superusers() == ["alice"]
    assert get_user_model().objects.get(username="alice").is_staff
    assert client.get("/").status_code == 200  # logged in as the new admin


@pytest.mark.django_db
def test_a_used_link_answers_404(client):
    link = f"/setup/{accounts.setup_token_issue()}/"
    client.post(link, _form())

    assert Client().get(link).status_code == 404
    assert Client().post(link, _form("mallory")).status_code == 404
    assert _superusers() == ["alice"]


@pytest.mark.django_db
def test_every_printed_link_works_until_one_is_used(client):
    first, second = accounts.setup_token_issue(), accounts.setup_token_issue()

    assert client.get(f"/setup/{first}/").status_code == 200
    client.post(f"/setup/{second}/", _form())

    assert client.get(f"/setup/{first}/").status_code == 404


@pytest.mark.django_db
def test_an_unknown_link_answers_404(client):
    accounts.setup_token_issue()

    assert client.get("/setup/not-the-token/").status_code == 404


@pytest.mark.django_db
def test_once_a_superuser_exists_there_is_no_setup_page(client, make_user):
    token = accounts.setup_token_issue()
    make_user(superuser=True)

    assert client.get(f"/setup/{token}/").status_code == 404
    assert accounts.setup_token_issue() is None
    assert not SetupToken.objects.exists()


@pytest.mark.django_db
def test_only_the_hash_of_the_token_is_stored():
    token = accounts.setup_token_issue()

    assert not SetupToken.objects.filter(token_hash=token).exists()
    assert token not in SetupToken.objects.get().token_hash


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "again", "reason"),
    [
        ("password", "password", "This password is too common."),
        ("x7", "x7", "This password is too short."),
        ("12345678901234", "12345678901234", "This password is entirely numeric."),
        (GOOD_PASSWORD, GOOD_PASSWORD + "x", "The two password fields didn"),
    ],
)
def test_the_password_passes_django_validators(client, password, again, reason):
    link = f"/setup/{accounts.setup_token_issue()}/"

    response = client.post(link, {"username": "alice", "password1": password, "password2": again})

    assert response.status_code == 400
    assert reason in response.content.decode().replace("&#x27;", "'")
    assert _superusers() == []
    assert client.get(link).status_code == 200  # a refused form does not use the link up


@pytest.mark.django_db
def test_the_form_needs_its_csrf_token():
    link = f"/setup/{accounts.setup_token_issue()}/"
    client = Client(enforce_csrf_checks=True)

    assert client.post(link, _form()).status_code == 403
    page = client.get(link).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(link, {**_form(), "csrfmiddlewaretoken": csrf}).status_code == 302


# --- the admin from the environment -----------------------------------------------------------------------
@pytest.mark.django_db
def test_the_environment_names_the_admin_created_at_migrate(settings):
    settings.CONTAINERSVC_ADMIN_USERNAME = "ops"
    settings.CONTAINERSVC_ADMIN_PASSWORD = GOOD_PASSWORD

    call_command("migrate", verbosity=0)

    assert _superusers() == ["ops"]
    assert get_user_model().objects.get(username="ops").check_password(GOOD_PASSWORD)


@pytest.mark.django_db
def test_an_existing_user_of_that_name_is_left_alone(settings, make_user):
    make_user(username="ops")
    settings.CONTAINERSVC_ADMIN_USERNAME = "ops"
    settings.CONTAINERSVC_ADMIN_PASSWORD = GOOD_PASSWORD

    assert accounts.admin_from_settings_ensure() is None
    assert _superusers() == []


@pytest.mark.django_db
def test_a_weak_or_missing_admin_password_is_refused(settings):
    settings.CONTAINERSVC_ADMIN_USERNAME = "ops"
    settings.CONTAINERSVC_ADMIN_PASSWORD = "password"
    with pytest.raises(InvalidRequest, match="CONTAINERSVC_ADMIN_PASSWORD is refused: This password is too common"):
        accounts.admin_from_settings_ensure()

    settings.CONTAINERSVC_ADMIN_PASSWORD = ""
    with pytest.raises(InvalidRequest) as refused:
        accounts.admin_from_settings_ensure()
    assert refused.value.message == accounts.MESSAGE_ADMIN_INCOMPLETE
    assert _superusers() == []


# --- what a server prints at its start ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_server_start_prints_a_working_setup_link(capsys, client):
    link = first_admin_announce(["/srv/.venv/bin/daphne", "-b", "127.0.0.1", "-p", "8123", "app"])

    assert link is not None and link in capsys.readouterr().out
    assert link.startswith("http://127.0.0.1:8123/setup/")
    assert client.get(link.removeprefix("http://127.0.0.1:8123")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_server_start_with_the_admin_in_the_environment_prints_no_link(capsys, settings):
    settings.CONTAINERSVC_ADMIN_USERNAME = "ops"
    settings.CONTAINERSVC_ADMIN_PASSWORD = GOOD_PASSWORD

    assert first_admin_announce(["daphne", "app"]) is None
    assert "setup" not in capsys.readouterr().out
    assert _superusers() == ["ops"]


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["daphne", "containersvc.asgi:application"], "http://127.0.0.1:8000"),
        (["daphne", "-b", "0.0.0.0", "-p", "9000", "app"], "http://127.0.0.1:9000"),  # noqa: S104
        (["daphne", "--bind=::1", "--port=9001", "app"], "http://[::1]:9001"),
        (["uvicorn", "--host", "10.0.0.5", "--port", "80", "app"], "http://10.0.0.5:80"),
        (["manage.py", "runserver", "127.0.0.1:8050"], "http://127.0.0.1:8050"),
    ],
)
def test_the_link_names_where_the_server_listens(argv, url):
    assert server_url(argv) == url
