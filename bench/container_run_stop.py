"""Run and stop (image present): PUT /container-svc/container + /container/stop vs create, start, stop."""

import itertools
from collections.abc import Callable

from django.conf import settings

from bench.environment import Bench
from bench.served import Served
from bench.timing import Row, interleaved
from containersvc import labels as service_labels

RUN_STOP_GOAL = 1.3


def run(bench: Bench, *, repeats: int, progress, serve: Callable[[], Served] | None = None) -> list[Row]:
    numbers = itertools.count()

    def in_process(method: str, path: str, body: dict) -> dict:
        response = getattr(bench.api, method.lower())(path, body, format="json")
        if response.status_code != 200:
            raise SystemExit(f"{method} {path} answered {response.status_code}: {response.content[:500]!r}")
        return response.json()

    def ours(call) -> None:
        name = f"bench-{bench.run_id}-api-{next(numbers)}"
        labels = [{"key": key, "value": value} for key, value in bench.labels.items()]
        started = call("PUT", "/container-svc/container", {"image": bench.image, "names": [name], "labels": labels})
        if not started["started"]:
            raise SystemExit(f"run did not start {name}")
        call("PUT", "/container-svc/container/stop", {"name": name})

    def raw() -> None:
        # The same container the service creates: its labels, docker-init, no privileges, the same stop timeout.
        name = f"bench-{bench.run_id}-raw-{next(numbers)}"
        labels = {
            **bench.labels,
            service_labels.MANAGED: "true",
            service_labels.HASH: "",
            service_labels.NODE: settings.CONTAINERSVC_NODE_ID,
            service_labels.CREATED_BY: "bench",
        }
        created = bench.raw.create_container(
            bench.image,
            name=name,
            environment=[],
            labels=labels,
            host_config=bench.raw.create_host_config(privileged=False, init=True),
        )
        bench.raw.start(created["Id"])
        bench.raw.stop(created["Id"], timeout=settings.CONTAINERSVC_STOP_TIMEOUT)

    progress("run+stop: timing")
    rows = [Row.timed("run + stop (image present)", interleaved(lambda: ours(in_process), raw, repeats=repeats),
                      max_ratio=RUN_STOP_GOAL)]  # fmt: skip
    if serve:
        progress("run+stop: timing through daphne")
        with serve() as served:
            sample = interleaved(lambda: ours(served.call), raw, repeats=repeats)
        rows.append(Row.timed("run + stop, through daphne", sample, max_ratio=RUN_STOP_GOAL))
    return rows
