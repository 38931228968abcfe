"""The service process killed (SIGKILL) in the middle of a capture: the next one stores exactly the rest."""

import os
import signal
import subprocess
import sys
from contextlib import closing

import pytest
from django.db import connection

from tests.conftest import TEST_NODE, wait_for
from tests.container_logs import stored_lines
from tests.reliability.conftest import gated_printer, open_gate

pytestmark = pytest.mark.django_db(transaction=True)

# What asgi.py does in a server process, without serving: the always-on producers, until killed.
SERVICE_IN_A_CHILD = """
import threading
import django
django.setup()
from containersvc.startup import start_always_on_producers
assert start_always_on_producers()
threading.Event().wait()
"""


@pytest.fixture
def service_process(settings, on_second_engine):
    """Start a service process (producers only) on the suite's engine; all are SIGKILLed at the end."""
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DOCKER_HOST": on_second_engine.url,
        "CONTAINERSVC_DATA_DIR": str(settings.DATA_DIR),
        "CONTAINERSVC_BUILD_ROOT": str(settings.BUILD_ROOT),
        "CONTAINERSVC_NODE_ID": TEST_NODE,
        "DJANGO_SETTINGS_MODULE": "containersvc.settings",
        "LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen:
        started.append(subprocess.Popen([sys.executable, "-c", SERVICE_IN_A_CHILD], env=env))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def lines(prefix: str, last: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, last + 1)]


def test_a_service_killed_mid_capture_loses_and_repeats_nothing(service_process, on_second_engine, run, name):
    first = service_process()
    response = run(name, command=gated_printer((1, 40), (41, 60), (61, 80)))
    assert response.status_code == 200, response.json()
    container_id = response.json()["id"]
    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 40), timeout=30, what="40 lines stored")

    kill(first)  # mid capture: its follow of the running container is open
    open_gate(on_second_engine, container_id, 1)  # 41..60 are printed while no service runs
    service_process()
    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 60), timeout=30,
             what="the next process to resume from the cursor")  # fmt: skip
    open_gate(on_second_engine, container_id, 2)  # 61..80 come while the new process follows

    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 80), timeout=30, what="every stdout line")
    wait_for(lambda: stored_lines(container_id, "stderr") == lines("err", 80), timeout=10, what="every stderr line")
    with closing(on_second_engine.client()) as client:
        wait_for(lambda: client.containers.get(container_id).status == "exited", timeout=20, what="the exit")
    assert stored_lines(container_id, "stdout") == lines("out", 80)  # the drain at its end added nothing twice


def test_output_printed_while_the_service_was_down_is_stored_when_it_is_back(
    service_process, on_second_engine, run, name
):
    first = service_process()
    response = run(name, command=gated_printer((1, 15), (16, 30)))
    assert response.status_code == 200, response.json()
    container_id = response.json()["id"]
    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 15), timeout=30, what="15 lines stored")

    kill(first)
    open_gate(on_second_engine, container_id, 1)  # the rest is printed, and the container exits, meanwhile
    with closing(on_second_engine.client()) as client:
        wait_for(lambda: client.containers.get(container_id).status == "exited", timeout=20, what="the exit")
    assert stored_lines(container_id, "stdout") == lines("out", 15)
    service_process()

    # Each stream is read from its own cursor, one after the other: wait for both.
    for stream, prefix in (("stdout", "out"), ("stderr", "err")):
        wait_for(lambda stream=stream, prefix=prefix: stored_lines(container_id, stream) == lines(prefix, 30),
                 timeout=30, what=f"the rest of {stream} stored by the next process")  # fmt: skip
