"""The service process killed (SIGKILL) in the middle of a capture: the next one stores exactly the rest."""

import os
import signal
import subprocess
import sys
from contextlib import closing

import pytest
from django.db import connection

from tests.conftest import TEST_NODE
from tests.reliability.conftest import printer, stored_lines, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 80
# What asgi.py does in a server process, without serving: the always-on producers, until killed.
SERVICE_IN_A_CHILD = """
import threading
import django
django.setup()
from containersvc.startup import start_always_on_producers
assert start_always_on_producers()
threading.Event().wait()
"""


def _service_process(settings, engine_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DOCKER_HOST": engine_url,
        "CONTAINERSVC_DATA_DIR": str(settings.DATA_DIR),
        "CONTAINERSVC_BUILD_ROOT": str(settings.BUILD_ROOT),
        "CONTAINERSVC_NODE_ID": TEST_NODE,
        "DJANGO_SETTINGS_MODULE": "containersvc.settings",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-c", SERVICE_IN_A_CHILD], env=env)


def test_a_service_killed_mid_capture_loses_and_repeats_nothing(settings, on_second_engine, run, name):
    first = _service_process(settings, on_second_engine.url)
    second = None
    try:
        response = run(name, command=printer(LINES, interval=0.05))
        assert response.status_code == 200, response.json()
        container_id = response.json()["id"]
        wait_for(lambda: len(stored_lines(container_id, "stdout")) >= 10, timeout=30, what="the first process to store")

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        stored_at_kill = len(stored_lines(container_id, "stdout"))
        second = _service_process(settings, on_second_engine.url)

        expected = [f"out-{i}" for i in range(1, LINES + 1)]
        wait_for(lambda: stored_lines(container_id, "stdout") == expected, timeout=40, what="every stdout line")
        wait_for(lambda: stored_lines(container_id, "stderr") == [f"err-{i}" for i in range(1, LINES + 1)],
                 timeout=10, what="every stderr line")  # fmt: skip
        assert stored_at_kill < LINES, "the process must be killed while the container still prints"
        with closing(on_second_engine.client()) as client:
            wait_for(lambda: client.containers.get(container_id).status == "exited", timeout=20, what="the exit")
        assert stored_lines(container_id, "stdout") == expected  # the drain at its end added nothing twice
    finally:
        for process in (first, second):
            if process is not None:
                process.kill()
                process.wait(timeout=10)
