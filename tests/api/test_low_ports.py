"""Host ports below 1024 are privileged: only superusers publish on them, unless CONTAINERSVC_ALLOW_LOW_PORTS."""

import socket

import pytest

from containersvc.services.containers import MESSAGE_LOW_PORT

pytestmark = pytest.mark.django_db


def free_port(candidates: range) -> int:
    """The first of the candidates free on 127.0.0.1 (the engine and other tests hold some)."""
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {candidates} on 127.0.0.1")


def free_low_port() -> int:
    return free_port(range(1023, 900, -1))


@pytest.mark.parametrize("port", [22, 1, 1023])
def test_a_low_host_port_is_refused_to_a_service(run, name, docker_client, port):
    response = run(name, ports=[{"internal": 8080, "host": port}])

    assert response.status_code == 400
    assert response.json() == {"error": MESSAGE_LOW_PORT.format(port=port)}
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_ports_from_1024_and_any_free_port_are_still_allowed(run, name):
    lowest_free = free_port(range(1024, 1200))
    response = run(name, ports=[{"internal": 8080, "host": 0}, {"internal": 8081, "host": lowest_free}])

    assert response.status_code == 200, response.json()


def test_a_superuser_may_publish_on_a_low_port(bearer_client, make_user, test_image, name, docker_client):
    port = free_low_port()
    admin = bearer_client(make_user(superuser=True))

    response = admin.put(
        "/container-svc/container",
        {"image": test_image, "names": [name], "ports": [{"internal": 8080, "host": port}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["ports"] == [{"internal": 8080, "host": port}]
    bindings = docker_client.containers.get(name).attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert [binding["HostPort"] for binding in bindings] == [str(port)]


def test_the_setting_allows_low_ports_for_everyone(run, name, settings):
    settings.CONTAINERSVC_ALLOW_LOW_PORTS = True
    port = free_low_port()

    response = run(name, ports=[{"internal": 8080, "host": port}])

    assert response.status_code == 200, response.json()
    assert response.json()["ports"] == [{"internal": 8080, "host": port}]
