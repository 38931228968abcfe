"""The API through a real daphne on 127.0.0.1, as services reach it: HTTP on both sides of the comparison."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.environment import REPO_ROOT

ASGI_APPLICATION = "containersvc.asgi:application"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """A daphne process on the benchmark's database (the environment `prepare()` set is inherited).

    Started only around the rows that use it, so its producers do not share the CPUs with in-process rows.
    """

    def __init__(self, *, token: str, log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never a proxy from the environment
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.process: subprocess.Popen | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None, "started by `with Served(...)`"
        return self.process.pid

    def __enter__(self) -> "Served":
        self.started = time.monotonic()
        with self.log_path.open("ab") as log:
            # The venv's `daphne` script, as scripts/run starts it: the service then runs its always-on producers.
            daphne = str(Path(sys.executable).parent / "daphne")
            command = [daphne, "-b", "127.0.0.1", "-p", str(self.port), ASGI_APPLICATION]
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"daphne exited with {self.process.returncode}; see {self.log_path}")
            try:
                self.session.get(f"{self.base}/container-svc/host", timeout=5)
                return self
            except requests.ConnectionError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise SystemExit(f"daphne did not answer within a minute; see {self.log_path}")

    def __exit__(self, *exc_info) -> None:
        self.session.close()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_until_sampled(self, count: int, *, timeout: float = 600) -> float:
        """Wait until the service's stats collector has its first sample of `count` containers the account sees;
        returns the seconds since daphne was started.

        Its first round meets every running container (one mirror query; an inspect of each it has no row of): a cost
        of the service's start, timed here apart from the requests measured after it.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.session.get(f"{self.base}/container-svc/containers/stats", timeout=120)
            if response.status_code == 200 and len(response.json()["stats"]) >= count:
                return time.monotonic() - self.started
            time.sleep(0.5)
        raise SystemExit(f"the service sampled fewer than {count} containers in {timeout:.0f} s; see {self.log_path}")

    def call(self, method: str, path: str, body: dict) -> dict:
        response = self.session.request(method, f"{self.base}{path}", json=body, timeout=120)
        if response.status_code != 200:
            raise SystemExit(f"{method} {path} through daphne answered {response.status_code}: {response.text[:500]}")
        return response.json()
