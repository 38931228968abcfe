"""The dashboard's run form takes resource limits, and the container page shows the limits a container has."""

import html

import pytest

from containersvc import validation
from containersvc.scopes import Scope
from tests.conftest import session_client

pytestmark = pytest.mark.django_db

MiB = 1024**2


def test_the_run_form_applies_the_limits_and_the_container_page_shows_them(make_user, test_image, name, docker_client):
    client = session_client(make_user(*Scope))
    body = {"image": test_image, "name": name, "cpus": "0.5", "memory_mib": "48", "pids_limit": "64"}

    response = client.post("/containers/run/", body)

    assert response.status_code == 302, response.content.decode()[:2000]
    found = docker_client.containers.get(name)
    config = found.attrs["HostConfig"]
    assert (config["NanoCpus"], config["Memory"], config["MemorySwap"], config["PidsLimit"]) == (
        500_000_000, 48 * MiB, 48 * MiB, 64,
    )  # fmt: skip
    page = client.get(f"/containers/{found.id}/").content.decode().replace("\xa0", " ")
    assert "CPUs 0.5 · memory 48.0 MB · PIDs 64" in page


def test_a_container_without_limits_says_so_but_for_the_default_pids_limit(make_user, test_image, name, docker_client):
    client = session_client(make_user(*Scope))

    assert client.post("/containers/run/", {"image": test_image, "name": name}).status_code == 302

    page = client.get(f"/containers/{docker_client.containers.get(name).id}/").content.decode()
    assert "CPUs no limit · memory no limit · PIDs 1024" in page


def test_bad_limits_in_the_form_are_shown_and_nothing_runs(make_user, test_image, name, docker_client):
    body = {"image": test_image, "name": name, "memory_mib": "1"}

    response = session_client(make_user(*Scope)).post("/containers/run/", body)

    assert response.status_code == 400
    assert validation.MESSAGE_MEMORY_INVALID in html.unescape(response.content.decode())
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})
