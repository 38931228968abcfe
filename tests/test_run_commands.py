"""Each way the README starts the service works from an empty data directory: `make run`'s script (with
the engine, and with DOCKER_HOST naming none), and daphne by hand, whose pages have all their CSS and JS."""

import re
import subprocess
import time
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests

from tests.conftest import TEST_LABEL
from tests.processes import ROOT, ServiceProcess, free_port, service_env

ADMIN = {"CONTAINERSVC_ADMIN_USERNAME": "readme-admin", "CONTAINERSVC_ADMIN_PASSWORD": "a-long-test-password-42"}
PAGES = ["/", "/images/", "/node/", "/gpus/", "/audit/", "/admin/"]
JS_IMPORT = re.compile(r"""(?:^|;|\s)(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|import\s*["']([^"']+)["']""")


@pytest.fixture
def started():
    processes = []

    def start(command: list[str], *, env: dict[str, str]) -> ServiceProcess:
        processes.append(ServiceProcess(command, env=env))
        return processes[-1]

    yield start
    for process in processes:
        process.stop()


def test_make_runs_script_brings_the_service_up(started, tmp_path):
    port = free_port()

    service = started(["scripts/run"], env=service_env(tmp_path / "data", PORT=str(port)))

    assert service.wait_until_serving() == (200, {"status": "ok", "engine": True, "database": True})
    assert "Docker engine: reachable." in service.output
    assert service.setup_link().startswith(f"http://127.0.0.1:{port}/setup/")
    assert (tmp_path / "data" / "containersvc.sqlite3").exists()


def test_make_runs_script_without_an_engine_says_so_once(started, tmp_path):
    away = f"unix://{tmp_path}/no-engine.sock"
    env = service_env(tmp_path / "data", PORT=str(free_port()), DOCKER_HOST=away)

    service = started(["scripts/run"], env=env)

    assert service.wait_until_serving() == (503, {"status": "unavailable", "engine": False, "database": True})
    assert f"error: no Docker engine answers at DOCKER_HOST={away}" in service.output
    # The producers retry every second or so; over a few seconds of that the log says it once.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert service.health()[0] == 503
    # Every producer (events, log capture, stats...) goes through one EngineAwayLog: one line names the engine.
    logged = [line for line in service.output.splitlines() if "no-engine.sock" in line and "error:" not in line]
    assert len(logged) == 1 and "is unreachable; retrying in the background" in logged[0], service.output
    assert "Errno" not in service.output and "FileNotFoundError" not in service.output


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("href") and not found["href"].startswith("data:"):
            self.urls.append(found["href"])
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"])


def _assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def _log_in(session: requests.Session, url: str) -> None:
    session.get(f"{url}/login/", timeout=10)
    form = {"username": ADMIN["CONTAINERSVC_ADMIN_USERNAME"], "password": ADMIN["CONTAINERSVC_ADMIN_PASSWORD"]}
    response = session.post(f"{url}/login/", {**form, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=10)
    assert response.ok and response.url == f"{url}/", response.text[:500]


@pytest.fixture
def sleeper(docker_client, test_image):
    """A container for the container page (made with the raw engine: the service's database is the child's)."""
    found = docker_client.containers.run(
        test_image, ["sleep", "300"], detach=True, network_mode="none", labels=TEST_LABEL
    )
    yield found
    found.remove(force=True)


def test_daphne_started_by_hand_serves_every_pages_css_and_js(started, tmp_path, sleeper):
    env = service_env(tmp_path / "data", **ADMIN)
    subprocess.run([".venv/bin/python", "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    port = free_port()
    service = started(
        [".venv/bin/daphne", "-b", "127.0.0.1", "-p", str(port), "containersvc.asgi:application"], env=env
    )
    assert service.wait_until_serving()[0] == 200
    session = requests.Session()
    _log_in(session, service.url)
    detail = f"/containers/{sleeper.id}/"

    checked: dict[str, int] = {}
    for page in [*PAGES, detail]:
        response = session.get(service.url + page, timeout=10)
        assert response.status_code == 200, page
        pending = [urljoin(response.url, asset) for asset in _assets_of(response.text)]
        assert pending, f"{page} references no CSS or JS"
        while pending:
            asset = pending.pop()
            if asset in checked:
                continue
            answer = session.get(asset, timeout=10)
            checked[asset] = answer.status_code
            if asset.endswith(".js") and answer.ok:  # ES modules load the modules they import
                pending += [urljoin(asset, a or b) for a, b in JS_IMPORT.findall(answer.text)]

    assert {asset: status for asset, status in checked.items() if status != 200} == {}
    assert f"{service.url}/static/dashboard/app.css" in checked
    assert f"{service.url}/static/dashboard/lib.js" in checked
    assert any("/static/admin/css/" in asset for asset in checked)


def test_daphne_started_by_hand_reports_a_database_it_cannot_open(started, tmp_path):
    env = service_env(tmp_path / "data", DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/db.sqlite3")
    port = free_port()

    service = started(
        [".venv/bin/daphne", "-b", "127.0.0.1", "-p", str(port), "containersvc.asgi:application"], env=env
    )

    status, body = service.wait_until_serving()
    assert (status, body) == (503, {"status": "unavailable", "engine": True, "database": False})
    assert str(tmp_path) not in service.get("/healthz")[1]
