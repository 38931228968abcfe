"""A Docker engine of the suite's own, to kill and restart without touching the machine's engine.

It has its own sockets, data root, exec root and pid file, and runs in a network namespace of its own
with no bridge and no iptables rules, so it changes nothing on the host's network and can publish nothing.
Its containerd runs apart (`--containerd`), as with a system containerd: killing dockerd with SIGKILL
leaves the containers running (`--live-restore`), and the restarted dockerd takes them back with the
output they wrote meanwhile. If it cannot start, the tests fail with the reason, never skip.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path

import docker
import pytest

from containersvc import engine
from containersvc.models import Container
from containersvc.producers import container_status, log_capture
from containersvc.startup import start_always_on_producers, stop_always_on_producers
from tests.conftest import TEST_NODE

START_TIMEOUT = 30
CONTAINERD_CONFIG = """version = 2
root = "{root}/containerd-root"
state = "{root}/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{root}/containerd.sock"
[debug]
  level = "warn"
"""


class SecondEngine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.pidfile = root / "docker.pid"
        self.dockerd: subprocess.Popen | None = None
        self.containerd: subprocess.Popen | None = None

    # --- processes ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.containerd is None or self.containerd.poll() is not None:
            self._start_containerd()
        self.pidfile.unlink(missing_ok=True)
        with open(self.root / "dockerd.log", "ab") as log:
            self.dockerd = subprocess.Popen(
                [
                    # Its own network namespace: a dockerd with --bridge=none deletes any "docker0" it can
                    # see, which on the host would be the main engine's bridge.
                    "unshare",
                    "--net",
                    "dockerd",
                    f"--host={self.url}",
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.pidfile}",
                    f"--containerd={self.root / 'containerd.sock'}",
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--live-restore",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The suite's own dockerd did not start. Its log ends:\n{self.log_tail()}")
            time.sleep(0.05)

    def _start_containerd(self) -> None:
        config = self.root / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG.format(root=self.root))
        with open(self.root / "containerd.log", "ab") as log:
            self.containerd = subprocess.Popen(
                ["containerd", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.root / "containerd.sock").exists():
            if self.containerd.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The suite's own containerd did not start: {(self.root / 'containerd.log').read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL dockerd, as a crash would; its containers keep running under containerd."""
        assert self.dockerd is not None
        self.dockerd.send_signal(signal.SIGKILL)
        self.dockerd.wait(timeout=10)
        self.pidfile.unlink(missing_ok=True)  # a crash leaves it; dockerd refuses to start past a live one

    def restart(self) -> None:
        self.kill()
        self.start()

    def answers(self) -> bool:
        try:
            client = docker.APIClient(base_url=self.url, timeout=2)
            try:
                client.ping()
            finally:
                client.close()
        except Exception:
            return False
        return True

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=30)

    def log_tail(self) -> str:
        path = self.root / "dockerd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else "(no log)"

    def close(self) -> None:
        if self.dockerd is not None and self.dockerd.poll() is None:
            try:
                with closing(self.client()) as client:
                    for container in client.containers.list(all=True):
                        container.remove(force=True)
            except Exception:
                pass
            self.dockerd.terminate()
            try:
                self.dockerd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait()
        if self.containerd is not None and self.containerd.poll() is None:
            self.containerd.terminate()
            try:
                self.containerd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.containerd.kill()
                self.containerd.wait()
        self._kill_leftover_shims()
        self._unmount_all()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_leftover_shims(self) -> None:
        """Shims of this engine's containers (their command line names our root) outlive containerd."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(self.root) in cmdline and "containerd-shim" in cmdline:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _unmount_all(self) -> None:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root))), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


@pytest.fixture(scope="session")
def second_engine(docker_client, test_image):
    if shutil.which("dockerd") is None or shutil.which("containerd") is None:
        pytest.fail("The reliability tests need dockerd and containerd on PATH (Debian: docker.io, containerd).")
    second = SecondEngine(Path(tempfile.mkdtemp(prefix="cst-engine-")))
    try:
        second.start()
        with closing(second.client()) as client:
            client.images.load(b"".join(docker_client.api.get_image(test_image)))  # by name: the tag comes along
        yield second
    finally:
        second.close()


@pytest.fixture
def on_second_engine(settings, second_engine, monkeypatch):
    """The service pointed at the suite's own engine, with short backoffs so that tests wait little."""
    if not second_engine.answers():
        second_engine.start()  # a test that failed half-way may have left it down
    settings.CONTAINERSVC_DOCKER_HOST = second_engine.url
    settings.CONTAINERSVC_ENGINE_TIMEOUT = 10
    monkeypatch.setattr(container_status, "BACKOFF_MAX_SECONDS", 1.0)
    monkeypatch.setattr(log_capture, "BACKOFF_MAX_SECONDS", 1.0)
    engine.reset_clients()
    yield second_engine
    engine.reset_clients()
    with closing(second_engine.client()) as client:
        for container in client.containers.list(all=True):
            container.remove(force=True)


@pytest.fixture
def producers(on_second_engine):
    """The always-on producers of a server process, started as asgi.py does and stopped afterwards."""
    assert start_always_on_producers(), "the test database is migrated, so the producers must start"
    yield
    stop_always_on_producers()
    for thread in container_status.producer.threads() + log_capture.capture.threads():
        thread.join(timeout=10)


def row(container_id: str) -> Container | None:
    return Container.objects.filter(node_id=TEST_NODE, container_id=container_id).first()


def gated_printer(*parts: tuple[int, int]) -> list[str]:
    """Prints out-i/err-i for each (first, last) range, waiting before each range after the first until
    the test opens its gate (open_gate): the test decides what happens between the ranges."""
    script = []
    for number, (first, last) in enumerate(parts):
        if number:
            script.append(f"while [ ! -e /gate-{number} ]; do sleep 0.05; done")
        script.append(f"for i in $(seq {first} {last}); do echo out-$i; echo err-$i >&2; sleep 0.01; done")
    return ["sh", "-c", "; ".join(script)]


def open_gate(engine: SecondEngine, container_id: str, number: int) -> None:
    with closing(engine.client()) as client:
        result = client.containers.get(container_id).exec_run(["touch", f"/gate-{number}"])
    assert result.exit_code == 0, result.output
