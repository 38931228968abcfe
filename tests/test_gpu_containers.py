"""GPU processes attributed to the real containers they run in, through /proc (a fake NVML from
tests/fake_nvml.py; the rest of containersvc.gpu is tested without an engine in tests/unit/test_gpu.py)."""

import os

import pytest

from containersvc import gpu
from tests.conftest import TEST_LABEL

pytestmark = pytest.mark.django_db


def start_container(docker_client, test_image, name: str):
    container = docker_client.containers.run(test_image, ["sleep", "300"], name=name, detach=True, labels=TEST_LABEL)
    container.reload()
    return container, container.attrs["State"]["Pid"]


def test_a_real_container_process_maps_to_its_container(docker_client, test_image, name):
    container, pid = start_container(docker_client, test_image, name)

    assert pid > 0
    assert gpu.container_id_for_pid(pid=pid) == container.id
    assert gpu.container_id_for_pid(pid=os.getpid()) != container.id


def test_processes_are_attributed_to_the_real_containers_they_run_in(fake_nvml, docker_client, test_image, name):
    first, first_pid = start_container(docker_client, test_image, f"{name}-a")
    second, second_pid = start_container(docker_client, test_image, f"{name}-b")
    fake_nvml.gpus[0].processes = [(first_pid, 4 * 1024**3), (os.getpid(), 1024**2)]
    fake_nvml.gpus[1].processes = [(second_pid, None)]

    sample = gpu.gpu_sample()

    on_first = {p.pid: p for p in sample.gpus[0].processes}
    assert on_first[first_pid].container_id == first.id
    assert on_first[first_pid].used_memory_bytes == 4 * 1024**3
    assert on_first[os.getpid()].container_id != first.id
    [on_second] = sample.gpus[1].processes
    assert (on_second.pid, on_second.container_id, on_second.used_memory_bytes) == (second_pid, second.id, None)
