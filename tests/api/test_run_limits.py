"""Containers are bounded by default (rotated engine log, PIDs limit) and run with the resource limits asked for,
never above the node's maximums (superusers excepted)."""

import pytest
from django.core.checks import run_checks

from containersvc import scopes, validation
from containersvc.services.limits import MESSAGE_OVER_NODE_MAXIMUM

pytestmark = pytest.mark.django_db

MiB = 1024**2
ROTATION_CHECKS = {"containersvc.E001", "containersvc.E002"}


def host_config(docker_client, name: str) -> dict:
    return docker_client.containers.get(name).attrs["HostConfig"]


def test_a_run_gets_a_rotated_json_file_log_and_the_default_pids_limit_only(run, name, docker_client):
    response = run(name)

    assert response.status_code == 200, response.json()
    config = host_config(docker_client, name)
    assert config["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert config["PidsLimit"] == 1024
    assert (config["Memory"], config["MemorySwap"], config["NanoCpus"]) == (0, 0, 0)


def test_the_node_settings_apply_to_a_run_that_asks_for_nothing(run, name, docker_client, settings):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = "2m", 2
    settings.CONTAINERSVC_DEFAULT_PIDS_LIMIT = 200
    settings.CONTAINERSVC_DEFAULT_MEMORY_BYTES = 64 * MiB
    settings.CONTAINERSVC_DEFAULT_CPUS = 0.5

    assert run(name).status_code == 200

    config = host_config(docker_client, name)
    assert config["LogConfig"]["Config"] == {"max-size": "2m", "max-file": "2"}
    assert config["PidsLimit"] == 200
    assert (config["Memory"], config["MemorySwap"], config["NanoCpus"]) == (64 * MiB, 64 * MiB, 500_000_000)


def test_the_limits_asked_for_are_applied_and_shown(run, name, docker_client, api):
    resources = {"cpus": 0.25, "memoryBytes": 48 * MiB, "pidsLimit": 64}

    response = run(name, resources=resources)

    assert response.status_code == 200, response.json()
    config = host_config(docker_client, name)
    assert (config["NanoCpus"], config["Memory"], config["MemorySwap"], config["PidsLimit"]) == (
        250_000_000, 48 * MiB, 48 * MiB, 64,
    )  # fmt: skip
    [listed] = api.post("/container-svc/containers", {"containerId": name}, format="json").json()["containers"]
    assert listed["resources"]["cpu"] == 0.25 and listed["resources"]["memoryMB"] == 48


def test_a_caller_may_ask_for_less_than_the_node_allows(run, name, docker_client, settings):
    settings.CONTAINERSVC_MAX_MEMORY_BYTES = 128 * MiB

    assert run(name, resources={"memoryBytes": 32 * MiB, "pidsLimit": 10}).status_code == 200

    config = host_config(docker_client, name)
    assert (config["Memory"], config["PidsLimit"]) == (32 * MiB, 10)


def test_a_maximum_without_a_default_is_the_default(run, name, docker_client, settings):
    settings.CONTAINERSVC_MAX_MEMORY_BYTES = 128 * MiB

    assert run(name).status_code == 200

    assert host_config(docker_client, name)["Memory"] == 128 * MiB


@pytest.mark.parametrize(
    ("resources", "field", "maximum", "value"),
    [
        ({"memoryBytes": 256 * MiB}, "memoryBytes", str(128 * MiB), str(256 * MiB)),
        ({"pidsLimit": 5000}, "pidsLimit", "1024", "5000"),  # the default stands for the maximum
        ({"cpus": 1}, "cpus", "0.5", "1"),
    ],
)
def test_more_than_the_node_allows_is_400_except_for_superusers(
    run, name, docker_client, settings, make_user, bearer_client, test_image, resources, field, maximum, value
):
    settings.CONTAINERSVC_MAX_MEMORY_BYTES = 128 * MiB
    settings.CONTAINERSVC_MAX_CPUS = 0.5

    response = run(name, resources=resources)

    assert response.status_code == 400
    assert response.json() == {"error": MESSAGE_OVER_NODE_MAXIMUM.format(field=field, maximum=maximum, value=value)}
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})

    admin = bearer_client(make_user(superuser=True))
    body = {"image": test_image, "names": [name], "resources": resources}
    assert admin.put("/container-svc/container", body, format="json").status_code == 200
    config = host_config(docker_client, name)
    asked = {"memoryBytes": config["Memory"], "pidsLimit": config["PidsLimit"], "cpus": config["NanoCpus"] / 1e9}
    assert asked[field] == next(iter(resources.values()))


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"cpus": 0}, validation.MESSAGE_CPUS_NOT_A_NUMBER),
        ({"cpus": -1}, validation.MESSAGE_CPUS_NOT_A_NUMBER),
        ({"cpus": 0.001}, validation.MESSAGE_CPUS_NOT_A_NUMBER),
        ({"cpus": "lots"}, "A valid number is required."),
        ({"memoryBytes": 1024}, validation.MESSAGE_MEMORY_INVALID),
        ({"memoryBytes": -5}, validation.MESSAGE_MEMORY_INVALID),
        ({"memoryBytes": 2**60}, validation.MESSAGE_MEMORY_INVALID),
        ({"memoryBytes": 1.5}, "A valid integer is required."),
        ({"pidsLimit": 0}, validation.MESSAGE_PIDS_INVALID),
        ({"pidsLimit": -1}, validation.MESSAGE_PIDS_INVALID),
        ({"pidsLimit": "x"}, "A valid integer is required."),
        ({"swap": 1}, "Unknown field(s): swap."),
    ],
)
def test_bad_limits_are_400_with_a_message(run, name, docker_client, resources, message):
    response = run(name, resources=resources)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_more_cpus_than_the_node_has_is_400_even_for_superusers(
    name, docker_client, make_user, bearer_client, test_image
):
    node_cpus = docker_client.info()["NCPU"]
    admin = bearer_client(make_user(*scopes.Scope, superuser=True))

    body = {"image": test_image, "names": [name], "resources": {"cpus": node_cpus + 1}}
    response = admin.put("/container-svc/container", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": validation.MESSAGE_CPUS_INVALID.format(maximum=node_cpus)}


def test_the_openapi_document_describes_the_limits(client):
    schema = client.get("/container-svc/openapi.json", HTTP_ACCEPT="application/json").json()

    components = schema["components"]["schemas"]
    assert set(components["ResourcesRequest"]["properties"]) == {"cpus", "memoryBytes", "pidsLimit"}
    assert "resources" in components["RunContainerRequest"]["properties"]


@pytest.mark.parametrize(
    ("size", "files", "ids"),
    [
        ("10m", 3, []),
        ("1g", 1, []),
        ("10x", 3, ["containersvc.E001"]),
        ("", 3, ["containersvc.E001"]),
        ("5m", 0, ["containersvc.E002"]),
    ],
)
def test_log_rotation_settings_the_engine_would_refuse_fail_the_system_checks(settings, size, files, ids):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = size, files

    assert [message.id for message in run_checks() if message.id in ROTATION_CHECKS] == ids
