"""Browser (issue 12): the containers page with N running containers, its stats live every second, and how
busy that keeps the browser's main thread.

The real page, served by a daphne with its always-on producers (as bench/served.py serves the app), whose
collector samples every running container each second and sends the page its rounds over ws/stats/;
opened in Debian's chromium through Playwright, logged in as a superuser (who sees every container). Busy is
Chrome's own `TaskDuration` (Performance.getMetrics over CDP: the seconds the renderer's main thread ran
tasks) over the window's wall time. A task's wall time counts the time the operating system gave the thread
to others: on a loaded machine busy overstates what the page costs, so the thread's own CPU time
(`ThreadTime`) and the machine's load average stand beside it.
"""

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.test import Client

from bench.environment import Bench, admin
from bench.stats_cost import Progress, fleet_ids, served_admin, wait_sampled
from bench.timing import Row

if TYPE_CHECKING:
    from playwright.sync_api import WebSocket

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
BUSY_GOAL = 20.0  # % of the window
PAGE_WITHIN_MS = 300_000  # a page of 500 rows on a busy machine
BREAKDOWN = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


@dataclass
class Frames:
    """What one of the page's sockets received (no slots: Playwright marks the callbacks it is given)."""

    path: str
    count: int = 0
    size: int = 0

    def watch(self, socket: "WebSocket") -> None:
        if self.path in socket.url:
            socket.on("framereceived", self.add)

    def add(self, payload: str | bytes) -> None:
        self.count += 1
        self.size += len(payload)


def _metrics(cdp) -> dict[str, float]:
    return {metric["name"]: metric["value"] for metric in cdp.send("Performance.getMetrics")["metrics"]}


def run(bench: Bench, *, containers: int, seconds: float, progress: Progress) -> list[Row]:
    from playwright.sync_api import sync_playwright

    progress(f"stats-browser: starting containers up to {containers}")
    ids = fleet_ids(bench, containers)
    client = Client()
    client.force_login(admin())
    session = client.cookies["sessionid"].value
    with served_admin(bench) as served:
        wait_sampled(served, ids, progress)
        frames, status = Frames("/ws/stats/"), Frames("/ws/containers/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(base_url=served.base, viewport={"width": 1280, "height": 800})
                context.add_cookies([{"name": "sessionid", "value": session, "url": served.base}])
                page = context.new_page()
                page.set_default_timeout(PAGE_WITHIN_MS)
                page.on("websocket", frames.watch)
                page.on("websocket", status.watch)
                progress(f"stats-browser: opening the containers page ({len(ids)} of ours among the rows)")
                page.goto("/")
                page.wait_for_function(
                    "ids => { const shown = new Set([...document.querySelectorAll('#containers tbody tr')]"
                    ".map((tr) => tr.dataset.id)); return ids.every((id) => shown.has(id)); }",
                    arg=ids,
                )
                # Three rounds after the page is whole: every row has had its figures, and the first render is over.
                seen = frames.count
                deadline = time.monotonic() + PAGE_WITHIN_MS / 1000
                while frames.count < seen + 3 and time.monotonic() < deadline:
                    page.wait_for_timeout(250)
                rows = page.locator("#containers tbody tr").count()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                progress(f"stats-browser: {seconds:g} s of the page with {rows} rows")
                before, count_before, size_before, started = _metrics(cdp), frames.count, frames.size, time.monotonic()
                status_before = status.count
                page.wait_for_timeout(seconds * 1000)  # the window: busy seconds over wall seconds is measured
                after, wall = _metrics(cdp), time.monotonic() - started
                messages, received = frames.count - count_before, frames.size - size_before
                status_messages, load = status.count - status_before, os.getloadavg()[0]
            finally:
                browser.close()
    busy = (after["TaskDuration"] - before["TaskDuration"]) / wall * 100
    cpu = (after["ThreadTime"] - before["ThreadTime"]) / wall * 100
    parts = " / ".join(f"{(after[name] - before[name]) / wall * 100:.1f}" for name in BREAKDOWN)
    label = f"stats browser: containers page, {rows} rows ({len(ids)} sampled containers of ours), {seconds:g} s"
    # Said at once too: removing hundreds of containers afterwards can outlast the engine's timeouts.
    progress(f"stats-browser: busy {busy:.1f} % ({parts} % script / layout / style), CPU {cpu:.1f} %, load {load:.1f}")
    return [
        Row(
            f"{label}: main thread busy (CDP TaskDuration / wall)",
            f"{busy:.1f} %",
            goal=f"< {BUSY_GOAL:g} %",
            passed=busy < BUSY_GOAL,
        ),
        Row(f"{label}: of which script / layout / style recalculation", f"{parts} %"),
        Row(f"{label}: main thread CPU (CDP ThreadTime / wall; the machine's load average {load:.1f})", f"{cpu:.1f} %"),
        Row(
            f"{label}: ws/stats/ messages received per second (mean size)",
            f"{messages / wall:.2f} ({received / max(messages, 1) / 1024:,.1f} KiB)",
        ),
        Row(f"{label}: ws/containers/ (status) messages received per second", f"{status_messages / wall:.2f}"),
    ]
