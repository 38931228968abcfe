"""PUT /container-svc/container against the real engine."""

import threading
import time
import urllib.error
import urllib.request

import pytest

from containersvc.models import AuditEvent, Container
from tests.conftest import TEST_LABEL, TEST_NODE

pytestmark = pytest.mark.django_db


def http_get(port: int, path: str = "/") -> str:
    """GET from a published port, waiting (bounded) for the server in the container to start listening."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return response.read().decode()
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve_file_command(text: str) -> list[str]:
    return ["sh", "-c", f"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 8080 -h /www"]


def test_run_starts_the_container_and_returns_the_bound_port(run, name, docker_client):
    response = run(name, ports=[{"internal": 8080, "host": 0}], command=serve_file_command("hello"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["started"] is True
    [port] = body["ports"]
    assert port["internal"] == 8080 and port["host"] > 0
    assert docker_client.containers.get(name).status == "running"
    assert http_get(port["host"]).strip() == "hello"


def test_ports_are_published_on_loopback_only(run, name, docker_client):
    run(name, ports=[{"internal": 8080, "host": 0}], command=serve_file_command("x"))

    bindings = docker_client.containers.get(name).attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}


def test_run_is_idempotent_by_name_and_hash(run, name, docker_client):
    first = run(name, hash="v1")
    again = run(name, hash="v1")

    assert first.json()["started"] is True
    assert again.status_code == 200 and again.json()["started"] is False
    assert again.json()["id"] == first.json()["id"]


def test_another_hash_replaces_the_container(run, name, docker_client):
    first = run(name, hash="v1").json()
    second = run(name, hash="v2").json()

    assert second["started"] is True and second["id"] != first["id"]
    assert docker_client.containers.get(name).labels["containersvc.hash"] == "v2"
    assert Container.objects.get(container_id=first["id"]).state == "removed"


def test_a_stopped_container_with_the_same_hash_is_replaced(run, name, docker_client):
    first = run(name, hash="v1").json()
    docker_client.containers.get(name).stop(timeout=1)

    second = run(name, hash="v1").json()

    assert second["started"] is True and second["id"] != first["id"]


def test_name_match_is_exact_not_a_substring(run, name, docker_client):
    run(f"{name}-longer", hash="v1")

    response = run(name, hash="v1")

    assert response.json()["started"] is True
    assert docker_client.containers.get(f"{name}-longer").status == "running"


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_runs_give_one_container(run, name, docker_client):
    results = []

    def call():
        results.append(run(name, hash="same"))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in results] == [200] * 4
    assert sorted(response.json()["started"] for response in results) == [False, False, False, True]
    assert len(docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})) == 1


def test_labels_and_envs_are_applied(run, name, docker_client):
    run(name, labels=[{"key": "team", "value": "ml"}], envs=[{"key": "GREETING", "value": "a=b c"}])

    container = docker_client.containers.get(name)
    assert container.labels["team"] == "ml"
    assert container.labels["containersvc.managed"] == "true"
    assert "GREETING=a=b c" in container.attrs["Config"]["Env"]


def test_keeps_persist_across_replacement_and_honour_read_only(run, name, docker_client, settings):
    keeps = [{"path": "/data", "readOnly": False}, {"path": "/config", "readOnly": True}]
    run(name, hash="v1", keeps=keeps, command=["sh", "-c", "echo kept > /data/file; sleep 3600"])
    container = docker_client.containers.get(name)
    read_only = container.exec_run(["sh", "-c", "echo x > /config/file"])
    assert read_only.exit_code != 0

    run(name, hash="v2", keeps=keeps, command=["sleep", "3600"])

    output = docker_client.containers.get(name).exec_run(["cat", "/data/file"]).output.decode()
    assert output.strip() == "kept"
    for mount in docker_client.containers.get(name).attrs["Mounts"]:
        assert mount["Source"].startswith(str(settings.DATA_DIR))


def test_missing_image_is_pulled_from_its_registry(run, name, registry_image, docker_client):
    response = run(name, image=registry_image)

    assert response.status_code == 200, response.json()
    assert docker_client.containers.get(name).status == "running"


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_a_missing_image_both_succeed(run, name, registry_image, docker_client):
    docker_client.images.remove(registry_image, force=True) if docker_client.images.list(registry_image) else None
    results = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(run(f"{name}-{n}", image=registry_image))) for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in results] == [200, 200, 200]


def test_gpu_on_a_node_without_nvidia_runtime_is_a_clear_400(run, name, docker_client):
    response = run(name, capabilities={"gpuEnabled": True})

    assert response.status_code == 400
    assert "NVIDIA runtime" in response.json()["error"]
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_host_port_in_use_is_409_and_leaves_nothing(run, name, docker_client):
    first = run(f"{name}-a", ports=[{"internal": 8080, "host": 0}]).json()
    taken = first["ports"][0]["host"]

    response = run(f"{name}-b", ports=[{"internal": 8080, "host": taken}])

    assert response.status_code == 409
    assert "already in use" in response.json()["error"]
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}-b$"})


def test_run_is_audited(run, name):
    run(name)

    event = AuditEvent.objects.get(action="container.run")
    assert event.outcome == "ok" and name in event.target


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": ""}, "image is required"),
        ({"image": "UPPER"}, "not a valid image reference"),
        ({"image": "a b"}, "not a valid image reference"),
        ({"image": ":tag"}, "not a valid image reference"),
        ({"image": "x" * 300}, "image"),
        ({"names": ["-x"]}, "not a valid container name"),
        ({"names": ["a"]}, "not a valid container name"),
        ({"names": ["a/b"]}, "not a valid container name"),
        ({"names": ["ünï"]}, "not a valid container name"),
        ({"names": ["n" * 10000]}, "names"),
        ({"names": ["one", "two"]}, "names"),
        ({"ports": [{"internal": 0}]}, "internal"),
        ({"ports": [{"internal": 65536}]}, "internal"),
        ({"ports": [{"internal": -1}]}, "internal"),
        ({"ports": [{"internal": "80;81"}]}, "internal"),
        ({"ports": [{"internal": 80, "host": 70000}]}, "host"),
        ({"ports": [{"internal": 80}, {"internal": 80}]}, "once"),
        ({"ports": [{"internal": 80, "host": 9000}, {"internal": 81, "host": 9000}]}, "once"),
        ({"envs": [{"key": "", "value": "x"}]}, "env key"),
        ({"envs": [{"key": "=x", "value": "x"}]}, "env key"),
        ({"envs": [{"key": "BIG", "value": "v" * 40000}]}, "value"),
        ({"envs": [{"key": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}, "not allowed"),
        ({"labels": [{"key": "containersvc.managed", "value": "true"}]}, "reserved"),
        ({"keeps": [{"path": "relative"}]}, "absolute"),
        ({"keeps": [{"path": "/"}]}, "cannot be kept"),
        ({"keeps": [{"path": "/proc/self"}]}, "kernel filesystem"),
        ({"assets": [{"envVarKey": "F", "url": "file:///etc/passwd"}]}, "http"),
        ({"privileged": True}, "Unknown field(s): privileged"),
        ({"capAdd": ["SYS_ADMIN"]}, "Unknown field(s): capAdd"),
        ({"binds": ["/:/host"]}, "Unknown field(s): binds"),
        ({"capabilities": {"gpuEnabled": True, "privileged": True}}, "privileged"),
    ],
)
def test_bad_input_is_400_with_a_clear_message_and_creates_nothing(run, name, docker_client, body, message):
    response = run(name, **body)

    assert response.status_code == 400, response.json()
    assert message in response.json()["error"]
    assert not docker_client.containers.list(
        all=True, filters={"label": f"containersvc.node={TEST_NODE}", "name": name}
    )


def test_oversized_body_is_rejected(api, name):
    response = api.put(
        "/container-svc/container", data='{"image": "' + "x" * 2_000_000 + '"}', content_type="application/json"
    )

    assert response.status_code in (400, 413)
    assert "error" in response.json()


def test_keeps_without_a_name_are_refused(api, test_image):
    response = api.put("/container-svc/container", {"image": test_image, "keeps": [{"path": "/data"}]}, format="json")

    assert response.status_code == 400
    assert "keeps need a container name" in response.json()["error"]


def test_non_superuser_cannot_replace_a_container_it_did_not_create(run, name, docker_client, test_image):
    docker_client.containers.run(test_image, name=name, detach=True, labels=TEST_LABEL)

    response = run(name, hash="v1")

    # The name is held by a container that is not the caller's: a conflict, and the container is untouched.
    assert response.status_code == 409
    assert docker_client.containers.get(name).status == "running"
