"""containersvc.gpu at its NVML boundary (a fake NVML from tests/fake_nvml.py), /proc attribution on files written
here, and the GPU sampler's start/stop with subscribers (no engine; tests/test_gpu_containers.py has real ones)."""

import asyncio
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from containersvc import gpu
from containersvc.api import gpu_shapes
from containersvc.producers import gpu_sampler
from tests.conftest import wait_for
from tests.fake_nvml import NVMLError_GpuIsLost, NVMLError_LibraryNotFound, NVMLError_NotSupported

pytestmark = pytest.mark.django_db

CONTAINER_ID = "3f2a" + "0" * 56 + "beef"


# --- attribution ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"12:memory:/docker/{CONTAINER_ID}\n11:cpu,cpuacct:/docker/{CONTAINER_ID}\n0::/docker/{CONTAINER_ID}\n",
        f"0::/system.slice/docker-{CONTAINER_ID}.scope\n",
        f"1:name=systemd:/system.slice/docker-{CONTAINER_ID}.scope/init\n",
        f"0::/docker/{'1' * 64}/docker/{CONTAINER_ID}\n",
    ],
    ids=["cgroup-v1", "cgroup-v2-systemd", "v1-systemd-subgroup", "nested"],
)
def test_cgroup_paths_name_the_container(text):
    assert gpu.container_id_from_cgroup(text) == CONTAINER_ID


@pytest.mark.parametrize(
    "text",
    [
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        "12:memory:/\n0::/\n",
        f"0::/docker/{CONTAINER_ID[:12]}\n",  # short ids are never a match
        f"0::/system.slice/docker-{CONTAINER_ID}x.scope\n",
        "",
    ],
)
def test_other_cgroups_name_no_container(text):
    assert gpu.container_id_from_cgroup(text) is None


def test_attribution_reads_the_given_proc_root(tmp_path):
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "cgroup").write_text(f"0::/system.slice/docker-{CONTAINER_ID}.scope\n")

    assert gpu.container_id_for_pid(pid=4242, proc_root=tmp_path) == CONTAINER_ID
    assert gpu.container_id_for_pid(pid=4243, proc_root=tmp_path) is None  # the process is gone


# --- inventory and samples --------------------------------------------------------------------------------


def test_inventory_lists_the_gpus(fake_nvml):
    inventory = gpu.gpu_inventory()

    assert inventory.available and not inventory.stale and inventory.error is None
    assert inventory.count == 2
    assert inventory.driver_version == "550.54.15"
    assert inventory.cuda_version == "12.4"
    assert [d.index for d in inventory.devices] == [0, 1]
    assert inventory.devices[0].uuid == fake_nvml.gpus[0].uuid
    assert inventory.devices[0].name == "NVIDIA Fake A100"
    assert inventory.devices[1].memory_total_bytes == 80 * 1024**3


def test_sample_reads_every_gpu(fake_nvml):
    sample = gpu.gpu_sample()

    assert sample.available and not sample.stale and sample.taken_at is not None
    first, second = sample.gpus
    assert (first.utilization_percent, first.memory_utilization_percent) == (75, 30)
    assert (first.memory_used_bytes, first.memory_total_bytes) == (10 * 1024**3, 80 * 1024**3)
    assert first.temperature_celsius == 40
    assert (first.power_draw_watts, first.power_limit_watts) == (60.0, 300.0)
    assert second.utilization_percent == 0 and second.processes == ()


def test_a_reading_the_board_does_not_support_is_none(fake_nvml):
    fake_nvml.failures["nvmlDeviceGetPowerUsage"] = NVMLError_NotSupported()

    sample = gpu.gpu_sample()

    assert not sample.stale
    assert [r.power_draw_watts for r in sample.gpus] == [None, None]
    assert sample.gpus[0].utilization_percent == 75


# --- no GPU -----------------------------------------------------------------------------------------------


def test_no_nvml_library_is_the_clean_no_gpu_state(fake_nvml):
    # What pynvml raises from nvmlInit when libnvidia-ml.so.1 cannot be loaded.
    fake_nvml.failures["nvmlInit"] = NVMLError_LibraryNotFound()

    inventory, sample = gpu.gpu_inventory(), gpu.gpu_sample()

    assert (inventory.available, inventory.count, inventory.stale, inventory.error) == (
        False, 0, False, gpu.MESSAGE_NO_GPU,
    )  # fmt: skip
    assert (sample.available, sample.gpus, sample.stale, sample.error) == (False, (), False, gpu.MESSAGE_NO_GPU)


def test_no_nvml_package_is_the_clean_no_gpu_state():
    def loader():
        raise ImportError("No module named 'pynvml'")

    gpu.set_nvml_loader(loader)
    try:
        assert gpu.gpu_inventory() == gpu.NO_GPU_INVENTORY
    finally:
        gpu.set_nvml_loader(None)


def test_a_driver_without_devices_is_the_no_gpu_state(fake_nvml):
    fake_nvml.gpus = []

    assert gpu.gpu_inventory() == gpu.NO_GPU_INVENTORY
    assert gpu.gpu_sample().available is False


def test_the_real_nvml_path_never_raises():
    """On a node without an NVIDIA GPU this is the no-GPU state; on one with GPUs, their inventory."""
    gpu.set_nvml_loader(None)
    inventory, sample = gpu.gpu_inventory(), gpu.gpu_sample()

    if inventory.available:
        assert inventory.count > 0 and len(sample.gpus) == inventory.count
    else:
        assert inventory == gpu.NO_GPU_INVENTORY
        assert not sample.available and sample.error == gpu.MESSAGE_NO_GPU


# --- errors and hangs -------------------------------------------------------------------------------------


def test_an_nvml_error_serves_the_last_sample_marked_stale(fake_nvml):
    good = gpu.gpu_sample()
    fake_nvml.failures["nvmlDeviceGetCount"] = NVMLError_GpuIsLost()

    stale = gpu.gpu_sample()

    assert stale.stale and "GPU is lost" in stale.error
    assert stale.gpus == good.gpus and stale.taken_at == good.taken_at
    del fake_nvml.failures["nvmlDeviceGetCount"]
    fresh = gpu.gpu_sample()
    assert not fresh.stale and fresh.taken_at > good.taken_at
    assert fake_nvml.calls.count("nvmlInit") == 2  # NVML is initialised again after a failure


def test_an_nvml_error_before_any_reading_is_stale_and_empty(fake_nvml):
    fake_nvml.failures["nvmlDeviceGetCount"] = NVMLError_GpuIsLost()

    sample, inventory = gpu.gpu_sample(), gpu.gpu_inventory()

    assert (sample.available, sample.stale, sample.gpus) == (False, True, ())
    assert (inventory.available, inventory.stale) == (False, True)


def test_a_hung_nvml_call_is_abandoned_and_the_last_value_served_stale(fake_nvml):
    good_sample, good_inventory = gpu.gpu_sample(), gpu.gpu_inventory()
    # Hung for far longer than the 0.5 s limit: an answer well before the hang ends shows it was not waited for.
    fake_nvml.hangs["nvmlDeviceGetCount"] = 6

    started = time.monotonic()
    stale = gpu.gpu_sample()
    assert time.monotonic() - started < 4
    assert stale.stale and stale.gpus == good_sample.gpus
    assert "did not answer" in stale.error

    # While the hung call is parked, nothing queues behind it for longer than the deadline.
    started = time.monotonic()
    inventory = gpu.gpu_inventory()
    assert time.monotonic() - started < 4
    assert inventory.stale and inventory.devices == good_inventory.devices
    assert fake_nvml.calls.count("nvmlDeviceGetCount") == 3  # two good reads and the hung one, nothing more

    del fake_nvml.hangs["nvmlDeviceGetCount"]
    wait_for(lambda: not gpu.gpu_sample().stale, timeout=15, what="a fresh sample once NVML answers again")


def test_concurrent_callers_all_get_fresh_readings(fake_nvml):
    fake_nvml.hangs["nvmlDeviceGetCount"] = 0.05  # slow, not hung
    results: list[gpu.GpuSample] = []
    callers = [threading.Thread(target=lambda: results.append(gpu.gpu_sample())) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)

    assert len(results) == 4 and not any(sample.stale for sample in results)


def test_a_hung_call_leaves_no_thread_blocking_exit(fake_nvml):
    fake_nvml.hangs["nvmlInit"] = 1.0
    gpu.gpu_sample()

    hung = [thread for thread in threading.enumerate() if thread.name == "nvml"]
    assert hung and all(thread.daemon for thread in hung)


# --- the sampler ------------------------------------------------------------------------------------------


class CountingRead:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> dict:
        self.count += 1
        return {"n": self.count}


def test_the_sampler_runs_only_while_someone_subscribes():
    read = CountingRead()
    sampler = gpu_sampler.GpuSampler(interval=lambda: 0.05, read=read)
    assert not sampler.running
    time.sleep(0.2)  # no reading without a subscriber: an absence, so time itself is what this checks
    assert read.count == 0

    sampler.subscribe()
    sampler.subscribe()
    wait_for(lambda: read.count >= 2, timeout=10, what="readings once someone subscribes")
    assert sampler.running and sampler.subscribers == 2
    assert len([t for t in threading.enumerate() if t.name == "gpu-sampler"]) >= 1
    sampler.unsubscribe()
    before = read.count
    wait_for(lambda: read.count > before, timeout=10, what="readings while one subscriber is left")
    assert sampler.running and read.count >= 3

    sampler.unsubscribe()
    sampler.join(2)
    assert not sampler.running and sampler.latest is None
    stopped_at = read.count
    time.sleep(0.3)  # no reading once stopped: an absence, so time itself is what this checks
    assert read.count == stopped_at

    sampler.subscribe()  # a new viewer starts it again
    wait_for(lambda: read.count > stopped_at, timeout=10, what="readings after a new subscriber")
    assert sampler.running
    sampler.unsubscribe()
    sampler.join(2)


def test_the_sampler_publishes_to_the_group():
    read = CountingRead()
    sampler = gpu_sampler.GpuSampler(interval=lambda: 0.05, read=read)

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(gpu_sampler.GROUP, channel)
        sampler.subscribe(loop=asyncio.get_running_loop())
        try:
            return [await layer.receive(channel) for _ in range(3)]
        finally:
            sampler.unsubscribe()
            await layer.group_discard(gpu_sampler.GROUP, channel)

    messages = async_to_sync(listen)()
    sampler.join(2)

    assert [m["type"] for m in messages] == [gpu_sampler.EVENT] * 3
    numbers = [m["sample"]["n"] for m in messages]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_one_failed_round_does_not_stop_the_sampler():
    calls = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"n": len(calls)}

    sampler = gpu_sampler.GpuSampler(interval=lambda: 0.05, read=flaky)
    sampler.subscribe()
    wait_for(lambda: len(calls) >= 3, timeout=10, what="rounds after the failed one")
    sampler.unsubscribe()
    sampler.join(2)


def test_payloads_are_camel_case(fake_nvml, tmp_path: Path):
    payload = gpu_sampler.sample_payload(gpu.gpu_sample(), names={})
    inventory = gpu_shapes.inventory_payload(gpu.gpu_inventory())

    assert set(payload["gpus"][0]) >= {"utilizationPercent", "memoryUsedBytes", "powerDrawWatts", "processes"}
    assert inventory["count"] == 2 and inventory["gpus"][0]["memoryTotalBytes"] == 80 * 1024**3
