"""Service accounts: default groups, create_service_account, hashed and revocable tokens."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from containersvc import scopes
from containersvc.models import ServiceToken
from containersvc.scopes import Scope

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_service_groups_with_default_scopes():
    def granted(group: str) -> set[str]:
        codenames = Group.objects.get(name=group).permissions.values_list("codename", flat=True)
        return {scope.value for code in codenames if (scope := scopes.scope_for_codename(code))}

    assert granted("model-svc") == {
        Scope.CONTAINER_VIEW, Scope.CONTAINER_RUN, Scope.CONTAINER_STOP, Scope.LOG_VIEW
    }  # fmt: skip
    assert granted("deploy-svc") == set(Scope)


def create_account(*args) -> str:
    out = io.StringIO()
    call_command("create_service_account", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_create_service_account_prints_a_working_token_on_its_last_line():
    token = create_account("model-svc-bot", "--group", "model-svc")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.get("/container-svc/host").status_code == 200
    assert client.put("/container-svc/image", {}, format="json").status_code == 403  # no image:build
    record = ServiceToken.objects.get()
    assert token not in record.key_hash and record.last_used_at is not None


def test_running_it_again_issues_another_token_for_the_same_user():
    first = create_account("deploy-bot", "--group", "deploy-svc")
    second = create_account("deploy-bot")

    assert first != second
    assert ServiceToken.objects.filter(user__username="deploy-bot").count() == 2


def test_an_unknown_group_is_a_clear_error():
    with pytest.raises(CommandError, match="No such group: nope"):
        create_account("bot", "--group", "nope")


def test_a_revoked_token_is_refused():
    token = create_account("bot", "--group", "model-svc")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/container-svc/host").status_code == 200

    from containersvc.services.accounts import token_revoke

    token_revoke(record=ServiceToken.objects.get())

    assert client.get("/container-svc/host").status_code == 401
