"""Stored logs (newest first, captured exactly once), summary and is-running by name or hash."""

import pytest

from tests.container_logs import fetch_logs, stored_lines, wait_for_output

pytestmark = pytest.mark.django_db

PRINT_LINES = ["sh", "-c", "for i in $(seq 1 25); do echo out-$i; echo err-$i >&2; done; sleep 3600"]


def test_logs_are_stored_once_with_streams_apart_and_newest_first(api, run, name, docker_client):
    container_id = run(name, command=PRINT_LINES).json()["id"]
    wait_for_output(docker_client.containers.get(name), "err-25")

    logs = fetch_logs(api, containerId=container_id)
    fetch_logs(api, containerId=name)  # a second read captures nothing twice

    assert stored_lines(name, "stdout") == [f"out-{i}" for i in range(1, 26)]
    assert stored_lines(name, "stderr") == [f"err-{i}" for i in range(1, 26)]
    assert [int(item["id"]) for item in logs] == sorted((int(item["id"]) for item in logs), reverse=True)
    assert {item["containerId"] for item in logs} == {container_id}
    assert set(logs[0]) >= {"id", "nodeId", "containerId", "createdAt", "content"}


def test_logs_outlive_the_container(api, run, name, docker_client):
    run(name, command=PRINT_LINES)
    wait_for_output(docker_client.containers.get(name), "err-25")
    fetch_logs(api, containerId=name)

    docker_client.containers.get(name).remove(force=True)

    assert "out-1" in "\n".join(item["content"] for item in fetch_logs(api, containerId=name))


def test_logs_limit_is_bounded(api):
    for limit in (0, 5000, "x"):
        assert api.post("/container-svc/logs", {"limit": limit}, format="json").status_code == 400


def test_summary_by_name_shows_status_lines_and_the_last_lines(api, run, name, docker_client):
    run(name, command=PRINT_LINES, ports=[{"internal": 8080, "host": 0}])
    wait_for_output(docker_client.containers.get(name), "err-25")

    response = api.get("/container-svc/container/summary", {"name": name, "lines": 4})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "running"
    lines = body["logs"].splitlines()
    # The engine interleaves the two streams as its log driver wrote them; either may come last.
    assert len(lines) == 4
    assert {"out-25", "err-25"} & set(lines) and not {"out-1", "err-1"} & set(lines)
    for label in ("ID:", "Name:", "Image:", "State:", "Status:", "Created:", "Started:", "Ports:"):
        assert label in body["summary"]
    assert "->8080/tcp" in body["summary"]


def test_summary_by_hash(api, run, name):
    run(name, hash="sum-hash")

    response = api.get("/container-svc/container/summary", {"hash": "sum-hash"})

    assert response.status_code == 200 and f"Name: {name}" in response.json()["summary"]


@pytest.mark.parametrize("query", [{"lines": 0}, {"lines": -5}, {"lines": "abc"}, {"lines": 10**6}, {}])
def test_summary_bad_input_is_400(api, run, name, query):
    response = api.get("/container-svc/container/summary", {"name": name, **query} if query else {})

    assert response.status_code == 400


def test_summary_of_an_unknown_container_is_404(api, name):
    assert api.get("/container-svc/container/summary", {"name": name}).status_code == 404


def test_is_running_by_name_and_by_hash(api, run, name, docker_client):
    run(name, hash="ir-hash")

    def is_running(**query) -> bool:
        response = api.get("/container-svc/container/is-running", query)
        assert response.status_code == 200
        return response.json()["isRunning"]

    assert is_running(name=name) is True
    assert is_running(hash="ir-hash") is True
    assert is_running(name=name, hash="other") is False
    assert is_running(name=name[:-1]) is False
    docker_client.containers.get(name).stop(timeout=1)
    assert is_running(name=name) is False
    assert api.get("/container-svc/container/is-running").status_code == 400
