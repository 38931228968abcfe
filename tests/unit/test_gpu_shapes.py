"""The GPU shapes are written by one function each beside their declaration (api/gpu_shapes.py): what the functions
write is what the OpenAPI document declares, key for key; and the one rule of when a page shows a sample
(gpu_selectors.gpu_sample_for). No engine: the readings are made here."""

from datetime import UTC, datetime

import pytest
from drf_spectacular.generators import SchemaGenerator

from containersvc import gpu, gpu_selectors
from containersvc.api.gpu_shapes import inventory_payload, sample_payload
from containersvc.producers import gpu_sampler
from containersvc.scopes import Scope
from tests.openapi_drift import component, drift

CONTAINER_ID = "a" * 64
DEVICE = gpu.GpuDevice(index=0, uuid="GPU-0", name="NVIDIA Fake A100", memory_total_bytes=80 * 1024**3)
INVENTORY = gpu.GpuInventory(available=True, driver_version="550.54.15", cuda_version="12.4", devices=(DEVICE,))


def a_sample() -> gpu.GpuSample:
    reading = gpu.GpuReading(
        index=0, uuid="GPU-0", utilization_percent=75, memory_utilization_percent=None, memory_used_bytes=1024,
        memory_total_bytes=80 * 1024**3, temperature_celsius=None, power_draw_watts=210.5, power_limit_watts=None,
        processes=(gpu.GpuProcess(pid=7, used_memory_bytes=None, container_id=CONTAINER_ID), gpu.GpuProcess(8, 1)),
    )  # fmt: skip
    return gpu.GpuSample(taken_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), available=True, gpus=(reading,))


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("shape", "written"),
    [
        ("GpuInventory", lambda: inventory_payload(INVENTORY)),
        ("GpuInventory", lambda: inventory_payload(gpu.GpuInventory(False, "", "", (), stale=True, error="gone"))),
        ("GpuSample", lambda: sample_payload(a_sample(), names={CONTAINER_ID: "web"})),
        ("GpuSample", lambda: sample_payload(gpu.GpuSample(taken_at=None, available=False, gpus=()))),
    ],
    ids=["inventory", "no-gpu-inventory", "sample", "no-gpu-sample"],
)
def test_each_gpu_shape_writes_what_the_document_declares(document, shape, written):
    assert drift(document, component(shape), written(), shape) == []


def test_the_sample_names_the_containers_it_is_told_of():
    processes = sample_payload(a_sample(), names={CONTAINER_ID: "web"})["gpus"][0]["processes"]
    assert processes == [
        {"pid": 7, "usedMemoryBytes": None, "containerId": CONTAINER_ID, "containerName": "web"},
        {"pid": 8, "usedMemoryBytes": 1, "containerId": None, "containerName": None},
    ]


@pytest.fixture
def latest(monkeypatch) -> dict:
    """A running sampler's latest reading: no NVML round is taken."""
    payload = sample_payload(a_sample(), names={CONTAINER_ID: "web"})
    monkeypatch.setattr(gpu_sampler.sampler, "latest", payload)
    return payload


@pytest.mark.django_db
def test_a_page_shows_no_sample_without_a_gpu_or_with_a_stale_inventory(latest, make_user):
    viewer = make_user(Scope.CONTAINER_VIEW, superuser=True)
    no_gpu = gpu.GpuInventory(available=False, driver_version="", cuda_version="", devices=())
    stale = gpu.GpuInventory(available=True, driver_version="", cuda_version="", devices=(DEVICE,), stale=True)

    assert gpu_selectors.gpu_sample_for(actor=viewer, inventory=INVENTORY) == latest
    assert gpu_selectors.gpu_sample_for(actor=viewer, inventory=no_gpu) is None
    assert gpu_selectors.gpu_sample_for(actor=viewer, inventory=stale) is None
    assert gpu_selectors.gpu_latest_sample_for(actor=viewer) == latest


@pytest.mark.django_db
def test_the_sample_hides_containers_the_viewer_may_not_see(latest, make_user):
    viewer = make_user(Scope.CONTAINER_VIEW)

    shown = gpu_selectors.gpu_sample_for(actor=viewer, inventory=INVENTORY)

    assert shown is not None
    assert [(p["containerId"], p["containerName"]) for p in shown["gpus"][0]["processes"]] == [(None, None)] * 2
