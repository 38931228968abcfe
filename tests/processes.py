"""The service started as the README says, in a child process: `make run`'s script or daphne by hand, on a
free 127.0.0.1 port with a data directory of its own; its console output is kept for the test to read."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SETUP_LINK = re.compile(r"http://127\.0\.0\.1:\d+/setup/[A-Za-z0-9_-]+/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without what tests set for themselves, plus a data directory of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERSVC_", "DJANGO_", "PYTEST_"))}
    env.pop("DOCKER_HOST", None)
    env.update({"CONTAINERSVC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


class ServiceProcess:
    def __init__(self, command: list[str], *, env: dict[str, str]) -> None:
        self.port = int(env.get("PORT") or command[command.index("-p") + 1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: stopped whole, whatever it started
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310  (loopback)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def health(self) -> tuple[int, dict] | None:
        try:
            status, body = self.get("/healthz")
        except OSError:
            return None
        return status, json.loads(body)

    def wait_until_serving(self, *, timeout: float = 90) -> tuple[int, dict]:
        def answered():
            if self.process.poll() is not None:
                raise AssertionError(f"the service ended (exit {self.process.returncode}):\n{self.output}")
            return self.health()

        return wait_for(answered, timeout=timeout, what=f"the service answers /healthz; it printed:\n{self.output}")

    def setup_link(self, *, timeout: float = 30) -> str:
        found = wait_for(lambda: SETUP_LINK.search(self.output), timeout=timeout, what="a setup link printed")
        return found.group(0)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
