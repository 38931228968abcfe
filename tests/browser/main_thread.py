"""How long a page's main thread worked in each of its tasks, read from a Chromium trace.

A task's length as the page sees it (the Long Tasks API) is wall-clock time: on a loaded machine it grows
whenever the browser waits for a core, which says nothing of the page. The trace also records each task's
thread time ("tdur"), the CPU time the page's own thread spent on it: that is what a freeze is made of.
"""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from playwright.sync_api import Page

# The tasks (RunTask) are only in the disabled-by-default category; the mark (console.timeStamp) in the other.
CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline"]
MARK = "main-thread-measure-starts"


@dataclass
class MainThreadTasks:
    count: int = 0
    longest_cpu_ms: float = 0.0


@contextlib.contextmanager
def main_thread_tasks(page: Page) -> Iterator[MainThreadTasks]:
    """Measure the tasks the page's main thread runs from now until the block ends."""
    browser = page.context.browser
    assert browser is not None
    browser.start_tracing(page=page, categories=CATEGORIES)
    stopped = False
    try:
        # Marked from the page itself, so the mark names the page's renderer process and main thread.
        page.evaluate(f"() => console.timeStamp('{MARK}')")
        measured = MainThreadTasks()
        yield measured
        events = json.loads(browser.stop_tracing())["traceEvents"]
        stopped = True
    finally:
        if not stopped:
            browser.stop_tracing()
    mark = next(event for event in events if event.get("name") == "TimeStamp" and MARK in json.dumps(event))
    tasks = [
        event
        for event in events
        if event.get("name") == "RunTask"
        and event.get("ph") == "X"
        and (event["pid"], event["tid"]) == (mark["pid"], mark["tid"])
        and event["ts"] >= mark["ts"]
    ]
    assert tasks and all("tdur" in task for task in tasks), "the trace records each task's thread time"
    measured.count = len(tasks)
    measured.longest_cpu_ms = max(task["tdur"] for task in tasks) / 1000
