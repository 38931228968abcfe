"""Stop, start, restart, remove and inspect, by id or exact name."""

import pytest

from containersvc.models import Container
from tests.conftest import TEST_LABEL

pytestmark = pytest.mark.django_db


def put(api, path: str, body: dict):
    return api.put(f"/container-svc/container/{path}", body, format="json")


def test_stop_by_name_stops_the_container(api, run, name, docker_client):
    run(name)

    response = put(api, "stop", {"name": name, "timeout": 1})

    assert response.status_code == 200 and response.json() == {}
    assert docker_client.containers.get(name).status == "exited"
    assert Container.objects.get(name=name).state == "exited"


def test_stop_by_id_and_again_is_idempotent(api, run, name, docker_client):
    container_id = run(name).json()["id"]

    first = put(api, "stop", {"id": container_id, "timeout": 1})
    again = put(api, "stop", {"id": container_id})

    assert (first.status_code, again.status_code) == (200, 200)


def test_stop_unknown_container_is_404(api, name):
    response = put(api, "stop", {"name": name})

    assert response.status_code == 404
    assert name in response.json()["error"]


def test_stop_needs_an_id_or_name(api):
    response = put(api, "stop", {})

    assert response.status_code == 400
    assert "id or name" in response.json()["error"]


def test_a_short_id_prefix_is_not_a_match(api, run, name):
    container_id = run(name).json()["id"]

    response = put(api, "stop", {"id": container_id[:12]})

    assert response.status_code == 404


def test_id_and_name_must_agree(api, run, name):
    container_id = run(name).json()["id"]

    response = put(api, "stop", {"id": container_id, "name": "someone-else"})

    assert response.status_code == 404


def test_stop_timeout_out_of_range_is_400(api, run, name):
    run(name)

    response = put(api, "stop", {"name": name, "timeout": -1})

    assert response.status_code == 400


def test_non_superuser_cannot_stop_a_container_the_service_did_not_create(api, name, docker_client, test_image):
    docker_client.containers.run(test_image, name=name, detach=True, labels=TEST_LABEL)

    response = put(api, "stop", {"name": name})

    # As for an unknown container (docs/ownership.md): no answer tells that it exists.
    assert response.status_code == 404
    assert response.json() == {"error": f"No container with id or name '{name}'."}
    assert docker_client.containers.get(name).status == "running"


def test_superuser_may_stop_any_container(make_user, bearer_client, name, docker_client, test_image):
    docker_client.containers.run(test_image, name=name, detach=True, labels=TEST_LABEL)
    admin = bearer_client(make_user(superuser=True))

    response = put(admin, "stop", {"name": name, "timeout": 1})

    assert response.status_code == 200
    assert docker_client.containers.get(name).status == "exited"


def test_start_restart_and_remove(api, run, name, docker_client):
    run(name)
    put(api, "stop", {"name": name, "timeout": 1})

    assert put(api, "start", {"name": name}).status_code == 200
    assert docker_client.containers.get(name).status == "running"
    started_at = docker_client.containers.get(name).attrs["State"]["StartedAt"]
    assert put(api, "restart", {"name": name, "timeout": 1}).status_code == 200
    assert docker_client.containers.get(name).attrs["State"]["StartedAt"] != started_at

    running = put(api, "remove", {"name": name})
    assert running.status_code == 409
    assert put(api, "remove", {"name": name, "force": True}).status_code == 200
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})
    assert Container.objects.get(name=name).state == "removed"


def test_inspect_shows_config_mounts_and_state(api, run, name):
    run(name, envs=[{"key": "A", "value": "1"}], keeps=[{"path": "/data", "readOnly": True}])

    response = api.get("/container-svc/container/inspect", {"name": name})

    assert response.status_code == 200
    container = response.json()["container"]
    assert container["name"] == name and container["status"] == "running"
    assert {"key": "A", "value": "1"} in container["envs"]
    assert [mount["destination"] for mount in container["mounts"]] == ["/data"]
    assert container["mounts"][0]["readOnly"] is True
