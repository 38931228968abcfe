"""GET /container-svc/gpus, daemon info's gpuCount, GPU containers against the real engine (no NVIDIA runtime
here) and the ws/gpus/ stream through the real ASGI stack; NVML is the fake from tests/fake_nvml.py."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from containersvc import gpu
from containersvc.asgi import application
from containersvc.consumers.base import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from containersvc.producers import gpu_sampler
from containersvc.scopes import Scope
from containersvc.services.containers import MESSAGE_NO_GPU_RUNTIME
from tests.fake_nvml import NVMLError_LibraryNotFound

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_nvml(fake_nvml, settings):
    """The shared fake, sampled often so the stream tests see several samples quickly."""
    settings.CONTAINERSVC_GPU_SAMPLE_SECONDS = 0.1
    return fake_nvml


@pytest.fixture(autouse=True)
def sampler_left_stopped():
    yield
    gpu_sampler.sampler.join(3)
    assert gpu_sampler.sampler.subscribers == 0 and not gpu_sampler.sampler.running


def pid_of(docker_client, name: str) -> tuple[str, int]:
    container = docker_client.containers.get(name)
    return container.id, container.attrs["State"]["Pid"]


# --- GET /container-svc/gpus ------------------------------------------------------------------------------


def test_gpus_lists_inventory_sample_and_the_containers_using_them(fake_nvml, api, run, name, docker_client):
    assert run(name).status_code == 200
    container_id, pid = pid_of(docker_client, name)
    fake_nvml.gpus[1].processes = [(pid, 2 * 1024**3)]

    response = api.get("/container-svc/gpus")

    assert response.status_code == 200, response.json()
    body = response.json()
    inventory, sample = body["inventory"], body["sample"]
    assert inventory["available"] is True and inventory["count"] == 2
    assert inventory["driverVersion"] == "550.54.15" and inventory["cudaVersion"] == "12.4"
    assert [g["uuid"] for g in inventory["gpus"]] == [g.uuid for g in fake_nvml.gpus]
    assert sample["available"] is True and sample["stale"] is False
    assert sample["gpus"][0]["utilizationPercent"] == 75
    assert sample["gpus"][0]["memoryUsedBytes"] == 10 * 1024**3
    [process] = sample["gpus"][1]["processes"]
    assert process == {"pid": pid, "usedMemoryBytes": 2 * 1024**3, "containerId": container_id, "containerName": name}


def test_gpus_without_a_gpu_is_a_clean_answer(fake_nvml, api):
    fake_nvml.failures["nvmlInit"] = NVMLError_LibraryNotFound()

    response = api.get("/container-svc/gpus")

    assert response.status_code == 200
    body = response.json()
    assert body["inventory"]["available"] is False and body["inventory"]["count"] == 0
    assert body["inventory"]["error"] == gpu.MESSAGE_NO_GPU
    assert body["sample"]["available"] is False and body["sample"]["gpus"] == []


def test_gpus_when_nvml_hangs_answers_in_time_with_stale_readings(fake_nvml, api, settings):
    assert api.get("/container-svc/gpus").status_code == 200
    fake_nvml.hangs["nvmlDeviceGetCount"] = 2

    response = api.get("/container-svc/gpus")

    assert response.status_code == 200
    assert response.json()["sample"]["stale"] is True
    assert len(response.json()["sample"]["gpus"]) == 2


def test_gpus_needs_container_view(fake_nvml, make_user, bearer_client):
    assert bearer_client(make_user(Scope.CONTAINER_VIEW)).get("/container-svc/gpus").status_code == 200
    assert bearer_client(make_user(Scope.CONTAINER_RUN, Scope.LOG_VIEW)).get("/container-svc/gpus").status_code == 403
    anonymous = APIClient().get("/container-svc/gpus")
    assert anonymous.status_code == 401 and "error" in anonymous.json()


def test_daemon_info_counts_the_gpus(fake_nvml, api):
    assert api.get("/container-svc/daemon/info").json()["gpuCount"] == 2
    fake_nvml.gpus = []
    gpu.set_nvml_loader(lambda: fake_nvml)
    assert api.get("/container-svc/daemon/info").json()["gpuCount"] == 0


def test_openapi_documents_the_gpu_endpoint(client):
    schema = client.get("/container-svc/openapi.json", HTTP_ACCEPT="application/json").json()

    assert "get" in schema["paths"]["/container-svc/gpus"]
    components = schema["components"]["schemas"]
    assert "containerId" in components["GpuProcess"]["properties"]
    assert "gpuCount" in components["GetDaemonInfoResponse"]["properties"]
    assert "gpuCount" in components["CapabilitiesRequest"]["properties"]


# --- GPU containers on an engine without the NVIDIA runtime -----------------------------------------------


@pytest.mark.parametrize(
    "capabilities", [{"gpuEnabled": True}, {"gpuCount": 1}, {"gpuEnabled": True, "gpuCount": 2}, {"gpuIds": ["0"]}]
)
def test_gpu_containers_need_the_nvidia_runtime(run, name, docker_client, capabilities):
    response = run(name, capabilities=capabilities)

    assert response.status_code == 400
    assert response.json() == {"error": MESSAGE_NO_GPU_RUNTIME}
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


@pytest.mark.parametrize(
    ("capabilities", "fragment"),
    [({"gpuCount": 0}, "gpuCount"), ({"gpuCount": 1, "gpuIds": ["0"]}, "not both"), ({"gpuCount": "x"}, "gpuCount")],
)
def test_bad_gpu_requests_are_400(run, name, capabilities, fragment):
    response = run(name, capabilities=capabilities)

    assert response.status_code == 400 and fragment in response.json()["error"]


# --- ws/gpus/ ---------------------------------------------------------------------------------------------


def session_cookie(user) -> bytes:
    browser = Client()
    browser.force_login(user)
    return f"sessionid={browser.cookies['sessionid'].value}".encode()


def communicator_for(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/gpus/", headers=headers)


def test_the_stream_sends_live_samples_and_stops_the_sampler_after_the_last_viewer(
    fake_nvml, owner, docker_client, run, name
):
    assert run(name).status_code == 200
    container_id, pid = pid_of(docker_client, name)
    fake_nvml.gpus[0].processes = [(pid, 1024**3)]
    viewer = session_cookie(owner)  # the container's owner: its name is shown

    async def watch() -> tuple[list[dict], bool, int]:
        first, second = communicator_for(viewer), communicator_for(viewer)
        connected, _ = await first.connect()
        assert connected
        events = [await first.receive_json_from(timeout=5) for _ in range(2)]
        fake_nvml.gpus[0].utilization = 99
        connected, _ = await second.connect()
        assert connected
        while (event := await second.receive_json_from(timeout=5))["sample"]["gpus"][0]["utilizationPercent"] != 99:
            pass
        events.append(event)
        await first.disconnect()
        still_running = gpu_sampler.sampler.running
        await second.disconnect()
        return events, still_running, gpu_sampler.sampler.subscribers

    events, running_with_one_viewer, subscribers = async_to_sync(watch)()

    assert running_with_one_viewer and subscribers == 0
    assert {event["type"] for event in events} == {"gpu.sample"}
    sample = events[0]["sample"]
    assert sample["available"] is True and len(sample["gpus"]) == 2
    assert sample["gpus"][0]["processes"] == [
        {"pid": pid, "usedMemoryBytes": 1024**3, "containerId": container_id, "containerName": name}
    ]
    assert events[-1]["sample"]["gpus"][0]["utilizationPercent"] == 99
    gpu_sampler.sampler.join(3)
    assert not gpu_sampler.sampler.running


def test_the_stream_reports_no_gpu(fake_nvml, make_user):
    fake_nvml.failures["nvmlInit"] = NVMLError_LibraryNotFound()
    viewer = session_cookie(make_user(Scope.CONTAINER_VIEW))

    async def watch() -> dict:
        communicator = communicator_for(viewer)
        connected, _ = await communicator.connect()
        assert connected
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    event = async_to_sync(watch)()
    assert event["sample"]["available"] is False and event["sample"]["error"] == gpu.MESSAGE_NO_GPU


@pytest.mark.parametrize(
    ("scopes", "code"), [(None, CLOSE_UNAUTHENTICATED), ((Scope.CONTAINER_RUN, Scope.LOG_VIEW), CLOSE_FORBIDDEN)]
)
def test_the_stream_refuses_without_accepting(fake_nvml, make_user, scopes, code):
    cookie = None if scopes is None else session_cookie(make_user(*scopes))

    async def attempt() -> tuple[bool, int]:
        communicator = communicator_for(cookie)
        result = await communicator.connect()
        await communicator.wait()
        return result

    connected, close_code = async_to_sync(attempt)()
    assert (connected, close_code) == (False, code)
    assert gpu_sampler.sampler.subscribers == 0
