"""Each container shape is written by one function beside its declaration (api/serializers.py): what the function
writes is what the OpenAPI document declares, key for key (the drift check of the API tests), with no engine."""

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from containersvc.api.serializers import container_json, container_status_json, inspected_container_json
from containersvc.engine import ContainerDetails, EngineContainer, PortBinding
from containersvc.models import Container
from containersvc.producers import groups
from tests.openapi_drift import component, drift

PORT = {"internal": 80, "host": 8080, "protocol": "tcp"}


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def a_row() -> Container:
    return Container(
        pk=3, node_id="node", container_id="a" * 64, name="web", names=["web"], image="img:1", hash="h",
        managed=True, labels={"team": "x", "containersvc.managed": "true"}, envs=[{"key": "A", "value": "1"}],
        keeps=[{"path": "/data", "readOnly": False}], assets=[{"envVarKey": "MODEL", "url": "http://x/m"}],
        ports=[PORT], volumes=["/data"], state="exited", status="Exited (1) 2 seconds ago", exit_code=1,
        runtime="runc", network_mode="bridge", ip_address="172.17.0.2", mac_address="02:42:ac:11:00:02",
        nano_cpus=500_000_000, memory_mb=64, engine_created_at=timezone.now(),
    )  # fmt: skip


def inspected() -> ContainerDetails:
    summary = EngineContainer(
        id="a" * 64, names=("web",), image="img:1", image_id="sha256:" + "b" * 64, state="running", status="Up",
        labels={"team": "x"}, ports=(PortBinding(80, 8080),), created_at=timezone.now(), network_mode="bridge",
        ip_address="172.17.0.2", mac_address="02:42:ac:11:00:02", volumes=(),
    )  # fmt: skip
    return ContainerDetails(
        summary=summary, envs=(("A", "1"),), exit_code=None, started_at=timezone.now(), finished_at=None,
        restart_count=0, oom_killed=False, error="", command=("sleep", "60"), runtime="runc", gpu_enabled=False,
        cpu_shares=0, memory_bytes=64 << 20, mounts=({"source": "/s", "destination": "/d", "readOnly": True},),
        nano_cpus=500_000_000, pids_limit=10,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "written"),
    [
        ("Container", lambda: container_json(a_row())),
        ("ContainerStatus", lambda: container_status_json(a_row())),
        ("InspectedContainer", lambda: inspected_container_json(inspected())),
    ],
)
def test_each_shape_writes_what_the_document_declares(document, shape, written):
    assert drift(document, component(shape), written(), shape) == []


def test_the_status_socket_sends_the_declared_status_shape():
    row = a_row()
    assert groups.container_payload(row) == container_status_json(row)


def test_the_status_shape_is_the_lists_values_under_the_dashboards_names():
    row = a_row()
    listed, status = container_json(row), container_status_json(row)

    assert (status["state"], status["status"]) == (listed["status"], listed["statusText"])
    assert status["gpuEnabled"] == listed["capabilities"]["gpuEnabled"]
    assert status["name"] == listed["names"][0]
    assert [{"internal": port["internal"], "host": port["host"]} for port in status["ports"]] == listed["ports"]
    assert {key: status[key] for key in ("id", "image", "managed", "exitCode", "createdAt")} == {
        key: listed[key] for key in ("id", "image", "managed", "exitCode", "createdAt")
    }
