"""The dashboard's GPU page and the run form's GPU choice through Django's test client, NVML being the fake
from tests/fake_nvml.py: access by login and scope, the "no GPU" state, and the choice reaching the API's
capabilities (here the engine has no NVIDIA runtime, so a GPU run is refused with the service's message)."""

import html
import json

import pytest
from django.test import Client

from containersvc import gpu
from containersvc.scopes import Scope
from containersvc.services.containers import MESSAGE_NO_GPU_RUNTIME
from dashboard.forms import RunContainerForm
from tests.conftest import session_client
from tests.fake_nvml import NVMLError_LibraryNotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_gpu(fake_nvml):
    fake_nvml.failures["nvmlInit"] = NVMLError_LibraryNotFound()
    return fake_nvml


def test_gpu_page_needs_a_login(fake_nvml):
    response = Client().get("/gpus/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_gpu_page_refuses_a_user_without_container_view(fake_nvml, make_user):
    assert session_client(make_user(Scope.LOG_VIEW, Scope.CONTAINER_RUN)).get("/gpus/").status_code == 403


def test_gpu_page_shows_the_gpus_and_a_first_sample(fake_nvml, make_user):
    response = session_client(make_user(Scope.CONTAINER_VIEW)).get("/gpus/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/gpus/"' in page  # in the nav
    assert "2 NVIDIA GPUs · driver 550.54.15 · CUDA 12.4" in page
    data = json.loads(page.split('id="gpu-data" type="application/json">')[1].split("</script>")[0])
    assert [g["name"] for g in data["inventory"]["gpus"]] == ["NVIDIA Fake A100"] * 2
    assert data["sample"]["gpus"][0]["utilizationPercent"] == 75
    assert "dashboard/gpus.js" in page and 'id="no-gpu"' not in page


def test_gpu_page_without_a_gpu_says_so_and_opens_no_stream(no_gpu, make_user):
    response = session_client(make_user(Scope.CONTAINER_VIEW)).get("/gpus/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="no-gpu"' in page and "No NVIDIA GPU on this node." in page
    assert "gpus.js" not in page and 'id="gpu-data"' not in page


def test_gpu_page_when_nvml_hangs_before_any_reading_says_it_cannot_read(fake_nvml, make_user):
    fake_nvml.hangs["nvmlInit"] = 2
    page = session_client(make_user(Scope.CONTAINER_VIEW)).get("/gpus/").content.decode()
    assert "The GPUs cannot be read now: NVML did not answer within 0.5 s" in page


def test_run_form_offers_each_gpu_showing_which_is_busy(fake_nvml, make_user):
    fake_nvml.gpus[0].processes = [(4242, 1024**3)]
    page = html.unescape(session_client(make_user(*Scope)).get("/").content.decode())
    assert 'name="gpu" value="all"' in page and 'name="gpu" value="chosen"' in page
    assert "GPU 0 · NVIDIA Fake A100 (busy: 1 process, 75 %, 10.0 of 80.0 GiB)" in page
    assert "GPU 1 · NVIDIA Fake A100 (no processes, 0 %, 0.0 of 80.0 GiB)" in page


def test_run_form_on_a_node_without_gpus_shows_them_unavailable(no_gpu, make_user, test_image):
    client = session_client(make_user(*Scope))
    page = client.get("/").content.decode()
    assert "GPUs are unavailable: no NVIDIA GPU on this node." in page
    assert 'value="all"' not in page and 'name="gpu_ids"' not in page
    response = client.post("/containers/run/", {"image": test_image, "gpu": "all"})
    assert response.status_code == 400 and b'id="id_gpu-error"' in response.content


@pytest.mark.parametrize(
    ("choice", "capabilities"),
    [
        ({"gpu": "none"}, {"gpuEnabled": False}),
        ({}, {"gpuEnabled": False}),
        ({"gpu": "all"}, {"gpuEnabled": True}),
        ({"gpu": "chosen", "gpu_ids": ["1"]}, {"gpuEnabled": True, "gpuIds": ["1"]}),
    ],
)
def test_the_gpu_choice_becomes_the_api_capabilities(fake_nvml, test_image, choice, capabilities):
    form = RunContainerForm({"image": test_image, **choice}, gpus=gpu.gpu_inventory())
    assert form.is_valid(), form.errors
    data = form.api_data()
    assert data is not None, form.errors
    assert {key: data["capabilities"][key] for key in capabilities} == capabilities
    assert "gpuIds" in capabilities or not data["capabilities"].get("gpuIds")


@pytest.mark.parametrize("choice", [{"gpu": "chosen"}, {"gpu": "none", "gpu_ids": ["0"]}, {"gpu_ids": ["7"]}])
def test_contradicting_or_unknown_gpu_choices_are_errors_next_to_the_field(fake_nvml, test_image, choice):
    form = RunContainerForm({"image": test_image, **choice}, gpus=gpu.gpu_inventory())
    assert not form.is_valid() and "gpu_ids" in form.errors


def test_running_on_chosen_gpus_reaches_the_engine_check(fake_nvml, make_user, test_image, name, docker_client):
    body = {"image": test_image, "name": name, "gpu": "chosen", "gpu_ids": ["1"]}
    response = session_client(make_user(*Scope)).post("/containers/run/", body)
    assert response.status_code == 400
    assert MESSAGE_NO_GPU_RUNTIME in html.unescape(response.content.decode())
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})
