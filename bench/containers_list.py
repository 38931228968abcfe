"""List: POST /container-svc/containers vs the engine's own `GET /containers/json?all=1`."""

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.environment import Bench
from bench.served import Served
from bench.timing import Row, interleaved, ms

LIST_GOAL = 1.5  # at the largest size


def containers_ensure(bench: Bench, count: int) -> None:
    """Have `count` sleeping containers of this run, made with the raw engine (the fastest way).

    Without a network: they start and go about three times faster, which matters on a small machine, and
    the engine lists them with the same fields.
    """
    existing = len(bench.raw.containers(all=True, filters={"label": f"containersvc-bench={bench.run_id}"}))
    host_config = bench.raw.create_host_config(init=True, network_mode="none")

    def make(number: int) -> None:
        created = bench.raw.create_container(
            bench.image,
            name=f"bench-{bench.run_id}-list-{number}",
            command=["sleep", "3600"],
            labels=bench.labels,
            host_config=host_config,
        )
        bench.raw.start(created["Id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(make, range(existing, count)))


def _ours(bench: Bench) -> dict:
    response = bench.api.post("/container-svc/containers", {}, format="json")
    if response.status_code != 200:
        raise SystemExit(f"list answered {response.status_code}: {response.content[:500]!r}")
    return json.loads(response.content)


def _queries(bench: Bench) -> tuple[int, float]:
    """(queries, seconds) of one list call."""
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        _ours(bench)
        seconds = time.perf_counter() - started
    return len(captured), seconds


def run(
    bench: Bench, *, sizes: list[int], repeats: int, progress, serve: Callable[[], Served] | None = None
) -> list[Row]:
    rows: list[Row] = []
    first_queries: dict[int, int] = {}
    queries: dict[int, int] = {}
    for size in sizes:
        progress(f"list: starting containers up to {size}")
        containers_ensure(bench, size)
        first_queries[size], first = _queries(bench)
        rows.append(Row(f"list {size}: first call (the mirror inserts the new rows)", ours=ms(first)))
        # The fewest of a few calls: other containers on the engine may come and go between two calls.
        queries[size] = min(_queries(bench)[0] for _ in range(3))
        progress(f"list: timing {size} containers")
        sample = interleaved(lambda: _ours(bench), lambda: bench.raw.containers(all=True), repeats=repeats)
        listed = len(_ours(bench)["containers"])
        goal = LIST_GOAL if size == max(sizes) else None
        rows.append(Row.timed(f"list {size} (engine lists {listed})", sample, max_ratio=goal))
        if serve:
            progress(f"list: timing {size} containers through daphne")
            with serve() as served:
                settled = served.wait_until_sampled(size)
                sample = interleaved(
                    lambda: served.call("POST", "/container-svc/containers", {}),
                    lambda: bench.raw.containers(all=True),
                    repeats=repeats,
                )
            rows.append(
                Row(
                    f"list {size}, through daphne: seconds from start to every container sampled",
                    ours=f"{settled:.1f} s",
                )
            )
            rows.append(Row.timed(f"list {size}, through daphne (then)", sample, max_ratio=goal))
    counts = [queries[size] for size in sizes]
    at_sizes = " / ".join(map(str, sizes))
    rows.append(
        Row(
            f"list: DB queries per call at {at_sizes}",
            ours=" / ".join(map(str, counts)),
            goal="constant",
            passed=len(set(counts)) == 1,
        )
    )
    first_counts = " / ".join(str(first_queries[size]) for size in sizes)
    rows.append(Row(f"list: DB queries of the first call at {at_sizes} (batched inserts)", ours=first_counts))
    return rows
