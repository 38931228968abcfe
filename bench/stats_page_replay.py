"""The containers page's main-thread cost without an engine: the real template, scripts and styles, its two
sockets replayed from here (Playwright's WebSocket routes), so the page alone is measured.

    .venv/bin/python -m bench.stats_page_replay --rows 600 --changing 0.05 --status-every 2 --seconds 20

`scripts/bench --only stats-browser` measures the same page against a real daphne and N real containers; it
takes many minutes to start and remove them, and loads the shared engine. This replays what that run's page
receives: a whole first round of stats, then each second `--changing` of the rows with new values, and every
`--status-every` seconds a status batch for 3 containers (as other suites on a shared engine cause); `--at`
serves the page's files as a commit had them, to measure before and after side by side. Busy is
Chrome's `TaskDuration` over the wall time; `ThreadTime` is the main thread's own CPU time.
"""

import argparse
import json
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ORIGIN = "http://replay.test"
CAN = {"view": True, "run": True, "stop": True, "logs": True, "build": True, "superuser": True}


class NoForm(list):
    """The run form's place in the template: no fields, no errors."""

    errors: dict = {}
    non_field_errors: list = []


def fleet(rows: int, rng: random.Random) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex * 2,
            "name": f"bench-{i:04d}-{'x' * rng.randint(0, 20)}",
            "image": "127.0.0.1:5000/cst-busybox:latest",
            "state": "running",
            "status": "Up",
            "ports": [] if i % 5 else [{"host": 8000 + i, "internal": 80}],
            "gpuEnabled": False,
            "managed": i % 2 == 0,
            "exitCode": None,
            "createdAt": (now - timedelta(seconds=i * 7)).isoformat(),
        }
        for i in range(rows)
    ]


def sample(container: dict, rng: random.Random) -> dict:
    memory = rng.randint(200_000, 80_000_000)
    return {
        "containerId": container["id"],
        "cpuPercent": round(rng.random() * 3, 1),
        "memoryBytes": memory,
        "memoryPercent": round(memory / 2e9 * 100, 1),
        "memoryLimitBytes": 2_000_000_000,
        "netRxBytesPerSecond": rng.choice([0, 0, 120, 4560]),
        "netTxBytesPerSecond": rng.choice([0, 0, 80, 3400]),
        "blockReadBytesPerSecond": 0,
        "blockWriteBytesPerSecond": rng.choice([0, 0, 0, 4096]),
        "pids": 1,
    }


def source(path: str, at: str) -> bytes:
    """A file of the page as the working tree has it, or as commit `at` had it (to measure before and after)."""
    if not at:
        return (REPO / path).read_bytes()
    return subprocess.run(["git", "show", f"{at}:{path}"], cwd=REPO, capture_output=True, check=True).stdout


def page_html(containers: list[dict], at: str) -> str:
    import django

    django.setup()
    from django.template import engines

    context = {"containers": containers, "can": CAN, "form": NoForm(), "engine_error": "", "user": None}
    template = engines["django"].from_string(source("templates/dashboard/containers.html", at).decode())
    return template.render(context)


class Replay:
    """The page's server: its HTML and static files, and what its two sockets send."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(1)
        self.containers = fleet(args.rows, self.rng)
        self.html = page_html(self.containers, args.at)
        self.sockets: dict[str, Any] = {}

    def serve(self, route: Any) -> None:
        from containersvc.security_headers import CONTENT_SECURITY_POLICY

        path = "/" + route.request.url.removeprefix(ORIGIN).lstrip("/").split("?")[0]
        if path == "/":
            headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
            route.fulfill(body=self.html, content_type="text/html", headers=headers)
        elif path.startswith("/static/") and ".." not in path:
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            route.fulfill(body=source(path.lstrip("/"), self.args.at), content_type=kind)
        else:
            route.fulfill(status=404, body="")

    def connect(self, socket: Any) -> None:
        self.sockets["stats" if "/ws/stats/" in socket.url else "status"] = socket

    def send(self, name: str, message: dict) -> None:
        self.sockets[name].send(json.dumps(message))

    def stats(self, changes: list[dict], *, full: bool = False) -> None:
        self.send(
            "stats", {"type": "stats.changes", "full": full, "takenAt": None, "node": {}, "stats": changes, "gone": []}
        )

    def stats_round(self) -> None:
        changes = []
        for container in self.rng.sample(self.containers, int(len(self.containers) * self.args.changing)):
            values = sample(container, self.rng)
            changes.append({k: v for k, v in values.items() if k == "containerId" or self.rng.random() < 0.5})
        self.stats(changes)

    def status_batch(self) -> None:
        picked = self.rng.sample(self.containers, 3)
        for container in picked:
            container["state"] = "exited" if container["state"] == "running" else "running"
        self.send("status", {"type": "container.status", "full": False, "containers": picked, "removed": []})

    def open(self, page: Any) -> None:
        """The page, whole: every row and its values, then three rounds."""
        page.route(f"{ORIGIN}/**", self.serve)
        page.route_web_socket("**/ws/**", self.connect)
        page.goto(f"{ORIGIN}/")
        while len(self.sockets) < 2:
            page.wait_for_timeout(50)
        self.send("status", {"type": "container.status", "full": True, "containers": self.containers, "removed": []})
        self.stats([sample(c, self.rng) for c in self.containers], full=True)
        # Polled from here: the page's CSP forbids the string evaluation wait_for_function would use.
        shown = "document.querySelector('#containers tbody tr:last-child td.cpu')?.textContent.includes('%')"
        while not page.evaluate(shown):
            page.wait_for_timeout(100)
        if self.args.sort:
            page.locator(f'#containers th[data-sort="{self.args.sort}"] button').click()
        for _ in range(3):
            self.stats_round()
            page.wait_for_timeout(1000)

    def window(self, page: Any) -> None:
        """`--seconds` of rounds each second and status batches every `--status-every` seconds."""
        started = time.monotonic()
        next_round, next_status = started + 1, started + (self.args.status_every or float("inf"))
        while time.monotonic() - started < self.args.seconds:
            now = time.monotonic()
            if now >= next_round:
                self.stats_round()
                next_round += 1
            if now >= next_status:
                self.status_batch()
                next_status += self.args.status_every
            page.wait_for_timeout(50)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--changing", type=float, default=0.05, help="share of the rows changed each second")
    parser.add_argument("--status-every", type=float, default=2.0, help="seconds between status batches; 0: none")
    parser.add_argument("--sort", default="", help="a live column to sort by first (cpu, memory, network, disk)")
    parser.add_argument("--at", default="", help="the page's files as this commit had them (default: the tree)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "containersvc.settings")
    from playwright.sync_api import sync_playwright

    replay = Replay(args)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        replay.open(page)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before, started = _metrics(cdp), time.monotonic()
        replay.window(page)
        after, wall = _metrics(cdp), time.monotonic() - started
        browser.close()

    def share(name: str) -> float:
        return (after[name] - before[name]) / wall * 100

    print(
        f"{args.rows} rows, {args.changing:g} of them changed a second, status every {args.status_every:g} s, "
        f"sort {args.sort or 'none'}, page at {args.at or 'the working tree'}, {args.seconds:g} s, "
        f"load average {os.getloadavg()[0]:.1f}: "
        f"busy {share('TaskDuration'):.1f} % (script {share('ScriptDuration'):.1f} / layout "
        f"{share('LayoutDuration'):.1f} / style {share('RecalcStyleDuration'):.1f} %), "
        f"main thread CPU {share('ThreadTime'):.1f} %"
    )
    if errors:
        raise SystemExit(f"page errors: {errors[:3]}")


def _metrics(cdp: Any) -> dict[str, float]:
    return {metric["name"]: metric["value"] for metric in cdp.send("Performance.getMetrics")["metrics"]}


if __name__ == "__main__":
    main()
