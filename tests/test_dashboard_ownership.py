"""The dashboard between accounts: lists, pages, log downloads and the GPU page show only what the user may
see; another account's container is a 404 as an unknown one; env values are masked for grantees."""

import pytest

from containersvc.access import MASKED_VALUE
from containersvc.models import AccessGrant, GrantLevel
from containersvc.scopes import Scope
from tests.conftest import session_client, wait_for

pytestmark = pytest.mark.django_db

SECRET = "DB_PASSWORD=hunter2-of-the-owner"


@pytest.fixture
def mine(run, name, docker_client):
    """A container of the test's account (`owner`, whom `api` speaks for), with a secret in its env."""
    key, value = SECRET.split("=")
    response = run(name, envs=[{"key": key, "value": value}], command=["sh", "-c", "echo page-line; sleep 600"])
    assert response.status_code == 200
    found = docker_client.containers.get(response.json()["id"])
    wait_for(lambda: b"page-line" in found.logs(), timeout=10, what="the container printed")
    return found


def test_the_list_page_shows_only_the_users_containers(mine, owner, make_user, name):
    assert name in session_client(owner).get("/").content.decode()
    assert name not in session_client(make_user(*Scope)).get("/").content.decode()
    assert name in session_client(make_user(superuser=True)).get("/").content.decode()


def test_another_accounts_container_page_and_log_are_404_as_unknown(mine, make_user):
    other = session_client(make_user(*Scope))

    for path in (f"/containers/{mine.id}/", f"/containers/{mine.id}/logs.txt"):
        assert other.get(path).status_code == 404
        assert other.get(path.replace(mine.id, "0" * 64)).status_code == 404


def test_env_values_are_the_owners_and_masked_for_a_grantee(mine, owner, make_user, name):
    grantee = make_user(*Scope)
    AccessGrant.objects.create(user=grantee, level=GrantLevel.OPERATE, name_prefix=name)

    owners_page = session_client(owner).get(f"/containers/{mine.id}/").content.decode()
    grantees_page = session_client(grantee).get(f"/containers/{mine.id}/").content.decode()

    assert SECRET in owners_page
    assert "hunter2" not in grantees_page and f"DB_PASSWORD={MASKED_VALUE}" in grantees_page
    assert "page-line" in b"".join(session_client(grantee).get(f"/containers/{mine.id}/logs.txt")).decode()


def test_the_gpu_page_names_only_containers_the_user_may_see(fake_nvml, mine, owner, make_user, name):
    fake_nvml.gpus[0].processes = [(mine.attrs["State"]["Pid"], 1024)]

    assert name in session_client(owner).get("/gpus/").content.decode()
    other_page = session_client(make_user(*Scope)).get("/gpus/").content.decode()
    assert name not in other_page and mine.id not in other_page
