"""POST /container-svc/containers: live engine list merged with the mirror."""

import pytest

from containersvc import access
from containersvc.models import Container
from containersvc.services import containers, mirror
from tests.conftest import TEST_NODE

pytestmark = pytest.mark.django_db


def listed(api, **body) -> list[dict]:
    response = api.post("/container-svc/containers", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["containers"]


def hold_the_rows(api) -> None:
    """List until this process holds the rows from its last merge: the first list after a run writes the row
    (its status line), and a written row is read again by the next list, which then holds it."""
    listed(api)
    listed(api)


def test_list_shows_a_run_container_with_contract_fields(api, run, name):
    run(name, hash="h1", ports=[{"internal": 8080, "host": 0}], labels=[{"key": "team", "value": "ml"}])

    [container] = [item for item in listed(api) if item["names"] == [name]]

    assert container["nodeId"] == TEST_NODE
    assert container["status"] == "running"
    assert container["hash"] == "h1"
    assert container["ports"][0]["internal"] == 8080 and container["ports"][0]["host"] > 0
    assert {"key": "team", "value": "ml"} in container["labels"]
    assert set(container) >= {
        "id", "nodeId", "names", "image", "ports", "hash", "labels", "envs", "keeps", "volumes", "status",
        "runtime", "resources", "capabilities", "network",
    }  # fmt: skip
    assert container["network"]["ipAddress"]


def test_filters_combine_and_limit_is_honoured(api, run, name):
    first = run(f"{name}-1").json()["id"]
    run(f"{name}-2")

    assert [item["id"] for item in listed(api, containerId=first)] == [first]
    assert [item["names"] for item in listed(api, containerId=f"{name}-2")] == [[f"{name}-2"]]
    assert listed(api, nodeId=TEST_NODE, containerId=first)[0]["id"] == first
    assert listed(api, nodeId="another-node", containerId=first) == []
    assert len(listed(api, limit=1)) == 1


def test_limit_out_of_range_is_400(api):
    for limit in (0, -1, 100000, "abc"):
        response = api.post("/container-svc/containers", {"limit": limit}, format="json")
        assert response.status_code == 400, limit


def test_a_container_removed_with_the_docker_cli_is_marked_removed(api, run, name, docker_client):
    container_id = run(name).json()["id"]
    listed(api)

    docker_client.containers.get(name).remove(force=True)

    assert container_id not in [item["id"] for item in listed(api)]
    row = Container.objects.get(container_id=container_id)
    assert row.state == "removed" and not row.is_running and row.removed_at is not None


def test_exit_code_is_recorded(api, run, name, docker_client):
    run(name, command=["sh", "-c", "exit 3"])
    docker_client.containers.get(name).wait(timeout=30)

    [container] = listed(api, containerId=name)

    assert container["status"] == "exited"
    assert container["exitCode"] == 3


def test_a_row_written_elsewhere_since_the_last_list_is_read_again(api, run, name):
    run(name, envs=[{"key": "A", "value": "1"}])
    hold_the_rows(api)

    # As another process of the service would: write the row (save() moves updated_at).
    row = Container.objects.get(name=name)
    row.envs = [{"key": "A", "value": "2"}]
    row.save()

    [container] = listed(api, containerId=name)
    assert container["envs"] == [{"key": "A", "value": "2"}]


def test_a_synced_field_written_elsewhere_is_merged_from_the_engine_again(api, run, name, test_image):
    run(name, labels=[{"key": "team", "value": "ml"}])
    hold_the_rows(api)

    # Another process writes what the engine is the truth for; the engine's list has not changed.
    row = Container.objects.get(name=name)
    row.image, row.labels = "written/elsewhere:1", {}
    row.save()

    [container] = listed(api, containerId=name)
    assert container["image"] == test_image
    assert {"key": "team", "value": "ml"} in container["labels"]


def test_a_container_stopped_or_renamed_between_lists_is_listed_as_it_is_now(api, run, name, docker_client):
    container_id = run(name).json()["id"]
    assert listed(api, containerId=container_id)[0]["status"] == "running"

    docker_client.api.stop(container_id, timeout=0)
    [stopped] = listed(api, containerId=container_id)
    assert stopped["status"] == "exited" and stopped["statusText"].startswith("Exited")

    docker_client.api.rename(container_id, f"{name}-renamed")
    assert listed(api, containerId=container_id)[0]["names"] == [f"{name}-renamed"]
    assert Container.objects.get(container_id=container_id).name == f"{name}-renamed"


def test_a_later_list_never_changes_the_rows_an_earlier_one_returned(api, run, name, docker_client):
    container_id = run(name).json()["id"]
    hold_the_rows(api)
    [earlier] = [row for row in containers.container_list_refresh() if row.container_id == container_id]

    docker_client.api.stop(container_id, timeout=0)
    [later] = [row for row in containers.container_list_refresh() if row.container_id == container_id]

    assert later.state == "exited"
    assert earlier.state == "running" and earlier.status.startswith("Up")


def test_a_row_stored_while_the_engine_answers_is_listed_as_stored(container, owner):
    """The mirror is read while the engine answers: a row another writer (the API's run, the events follower)
    stores in between is read back as stored, with who created it, not listed as a row without an owner."""
    found = container("sleep 600", owner=None)
    merged = containers.container_list_started()  # the engine asked and the mirror read: no row of it yet
    mirror.mirror_record_owner(container_id=found.id, created_by=owner)

    [row] = [row for row in merged() if row.container_id == found.id]

    stored = Container.objects.get(container_id=found.id)
    assert row.pk == stored.pk and row.created_by_id == owner.pk
    assert access.env_visible(actor=owner, container=row)
    # The engine's answer is merged into it, as into any row.
    assert row.name == stored.name == found.name and row.state == stored.state == "running"
