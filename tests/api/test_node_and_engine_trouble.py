"""Daemon info, host, and what the API does when the engine is away or hangs."""

import socket
import threading

import pytest

from containersvc import engine

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine_at(settings):
    def point_to(docker_host: str, timeout: float = 30) -> None:
        settings.CONTAINERSVC_DOCKER_HOST = docker_host
        settings.CONTAINERSVC_ENGINE_TIMEOUT = timeout
        engine.reset_clients()

    return point_to


@pytest.fixture
def hung_engine(tmp_path):
    """A socket that accepts connections and never answers, like a wedged daemon."""
    path = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    accepted, stop = [], threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"unix://{path}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_daemon_info_when_available(api):
    response = api.get("/container-svc/daemon/info")

    assert response.status_code == 200
    body = response.json()
    assert body["available"] is True and body["address"] and body["version"]


def test_daemon_info_reports_an_unreachable_engine(api, engine_at, tmp_path):
    engine_at(f"unix://{tmp_path}/nothing-here.sock")

    response = api.get("/container-svc/daemon/info")

    assert response.status_code == 200
    assert response.json()["available"] is False
    assert "unavailable" in response.json()["error"]


def test_engine_unreachable_is_503_json_with_retry_after(api, engine_at, tmp_path, name):
    engine_at(f"unix://{tmp_path}/nothing-here.sock")

    for response in (
        api.post("/container-svc/containers", {}, format="json"),
        api.put("/container-svc/container/stop", {"name": name}, format="json"),
        api.get("/container-svc/container/is-running", {"name": name}),
    ):
        assert response.status_code == 503
        assert response["Retry-After"]
        assert "unavailable" in response.json()["error"]


def test_the_service_recovers_when_the_engine_is_back(api, engine_at, tmp_path, settings):
    real = settings.CONTAINERSVC_DOCKER_HOST
    engine_at(f"unix://{tmp_path}/nothing-here.sock")
    assert api.post("/container-svc/containers", {}, format="json").status_code == 503

    settings.CONTAINERSVC_DOCKER_HOST = real

    assert api.post("/container-svc/containers", {}, format="json").status_code == 200


def test_a_hung_engine_answers_504_within_the_timeout(api, engine_at, hung_engine):
    engine_at(hung_engine, timeout=1)

    response = api.post("/container-svc/containers", {}, format="json")

    assert response.status_code == 504
    assert "did not answer in time" in response.json()["error"]
    info = api.get("/container-svc/daemon/info").json()
    assert info["available"] is False


def test_host_is_the_address_ports_are_published_on(api, settings):
    assert api.get("/container-svc/host").json() == {"host": "127.0.0.1"}
    settings.CONTAINERSVC_HOST_ADDRESS = "10.1.2.3"
    assert api.get("/container-svc/host").json() == {"host": "10.1.2.3"}
