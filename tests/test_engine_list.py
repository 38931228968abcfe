"""The engine's container list: a full list reuses what it parsed last time, never a stale entry."""

import dataclasses

from containersvc import engine
from containersvc.engine import containers
from tests.conftest import TEST_LABEL


def listed(container_id: str) -> engine.EngineContainer | None:
    return {found.id: found for found in engine.container_list()}.get(container_id)


def test_an_unchanged_container_is_reused_with_its_current_status(container):
    started = container("sleep 300")
    first = listed(started.id)

    again = listed(started.id)

    assert again.labels is first.labels  # not parsed again
    assert dataclasses.replace(again, status=first.status) == first
    assert again.status.startswith("Up")


def test_a_changed_container_is_parsed_again(container, docker_client, name):
    started = container("sleep 300")
    assert listed(started.id).state == "running"

    docker_client.api.stop(started.id, timeout=0)
    stopped = listed(started.id)
    assert stopped.state == "exited" and stopped.status.startswith("Exited")

    docker_client.api.rename(started.id, name)
    assert listed(started.id).names == (name,)


def test_a_removed_container_is_forgotten(container, docker_client):
    started = container("sleep 300")
    listed(started.id)

    docker_client.api.remove_container(started.id, force=True)

    assert listed(started.id) is None
    assert started.id not in containers._parsed_list.held_ids()  # it holds the latest full list only


def test_filtered_lists_and_find(container, docker_client):
    started = container("sleep 300")
    name = docker_client.api.inspect_container(started.id)["Name"].lstrip("/")

    assert started.id in [found.id for found in engine.container_list(labels=TEST_LABEL)]
    assert [found.id for found in engine.container_list(name=name)] == [started.id]
    assert engine.container_list(name=f"{name}-not-there") == []
    assert engine.container_find(id_or_name=started.id).name == name
    assert engine.container_find(id_or_name=name).id == started.id
