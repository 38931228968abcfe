"""History (issue 12): one container's last 24 h at a 10 s step, from what the collector stores.

The bench's database gets what a day of sampling leaves: 8,640 buckets of 10 s and 1,440 of a minute for
the container asked about, and as much for each of a few dozen others, so that the query has to find its
rows among a realistic table. Timed in-process (DRF's APIClient, as the other API rows) and through daphne.
"""

import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bench.environment import Bench
from bench.served import Served
from bench.timing import Row, median_of, ms

DAY_SECONDS = 24 * 3600
FINE, COARSE = 10, 60  # the default buckets: 10 s kept 24 h, 1 min kept 7 days
GOAL_SECONDS = 0.050
INSERT_BATCH = 5000
# The request's `since` lies this far inside the 24 h that 10 s buckets are kept: the service checks the range
# against its own clock, a moment after the benchmark took its own.
MARGIN_SECONDS = 60


def _container(bench: Bench, name: str):
    from containersvc.models import Container, ContainerState

    owner = get_user_model().objects.get(username="bench")
    return Container.objects.create(
        node_id=_node_id(),
        container_id=uuid.uuid4().hex + uuid.uuid4().hex,
        name=name,
        names=[f"/{name}"],
        image=bench.image,
        labels=bench.labels,
        state=ContainerState.EXITED,
        created_by=owner,  # the bench's account may see it
    )


def _node_id() -> str:
    from django.conf import settings

    return settings.CONTAINERSVC_NODE_ID


def _buckets(container, resolution: int, start: datetime, count: int, rng: random.Random) -> list:
    from containersvc.models import ContainerStatsSample

    rows = []
    for number in range(count):
        cpu = max(0.0, 20 + 15 * rng.random())
        memory = 50_000_000 + rng.randrange(5_000_000)
        rows.append(
            ContainerStatsSample(
                container=container,
                resolution=resolution,
                bucket_start=start + timedelta(seconds=number * resolution),
                samples=resolution,
                cpu_mean=cpu,
                cpu_max=cpu * 1.5,
                mem_mean=memory,
                mem_max=memory + 1_000_000,
                mem_limit=8 * 1024**3,
                net_rx_rate=rng.random() * 1e5,
                net_tx_rate=rng.random() * 1e5,
                blk_read_rate=rng.random() * 1e4,
                blk_write_rate=rng.random() * 1e4,
                pids=1 + rng.randrange(8),
            )
        )
    return rows


def stored_day(bench: Bench, *, others: int, progress) -> tuple[str, int]:
    """A day of buckets for one container and `others` more; returns (the one's id, rows inserted)."""
    from containersvc.models import ContainerStatsSample

    rng = random.Random(12)
    now = timezone.now().replace(microsecond=0)
    day_start = now - timedelta(seconds=DAY_SECONDS)
    inserted = 0
    target = None
    for number in range(others + 1):
        container = _container(bench, f"bench-{bench.run_id}-history-{number}")
        target = target or container
        with transaction.atomic():
            for resolution in (FINE, COARSE):
                rows = _buckets(container, resolution, day_start, DAY_SECONDS // resolution, rng)
                ContainerStatsSample.objects.bulk_create(rows, batch_size=INSERT_BATCH)
                inserted += len(rows)
        if number % 10 == 0:
            progress(f"stats-history: {inserted:,} buckets stored")
    assert target is not None
    return target.container_id, inserted


def run(bench: Bench, *, others: int, repeats: int, progress, serve: Callable[[], Served] | None = None) -> list[Row]:
    progress(f"stats-history: storing 24 h of buckets for 1 + {others} containers")
    started = time.perf_counter()
    container_id, inserted = stored_day(bench, others=others, progress=progress)
    progress(f"stats-history: {inserted:,} buckets in {time.perf_counter() - started:.0f} s; timing")
    until = timezone.now()
    query = {
        "id": container_id,
        "since": (until - timedelta(seconds=DAY_SECONDS - MARGIN_SECONDS)).isoformat(),
        "until": until.isoformat(),
        "step": str(FINE),
    }
    path = "/container-svc/container/stats/history"

    def in_process():
        response = bench.api.get(path, query)
        if response.status_code != 200:
            raise SystemExit(f"history answered {response.status_code}: {response.content[:500]!r}")
        return response

    answer = in_process()
    body = answer.json()
    points, resolution = len(body["points"]), body["resolutionSeconds"]
    if resolution != FINE or points < (DAY_SECONDS - MARGIN_SECONDS) // FINE - 2:
        raise SystemExit(f"history answered {points} points of {resolution} s buckets, not a day of 10 s ones")
    label = f"stats history: 24 h at a 10 s step ({points:,} points) of 1 container, {inserted:,} buckets stored"
    goal = f"<= {ms(GOAL_SECONDS)}"
    seconds = median_of(in_process, repeats=repeats)
    rows = [Row(label, ms(seconds), goal=goal, passed=seconds <= GOAL_SECONDS)]
    if serve:
        with serve() as served:

            def through_daphne() -> None:
                response = served.session.get(f"{served.base}{path}", params=query, timeout=120)
                if response.status_code != 200:
                    raise SystemExit(f"history through daphne answered {response.status_code}: {response.text[:500]}")

            seconds = median_of(through_daphne, repeats=repeats)
        rows.append(Row(f"{label}, through daphne", ms(seconds), goal=goal, passed=seconds <= GOAL_SECONDS))
    rows.append(Row("stats history: 24 h at a 10 s step, response body", f"{len(answer.content) / 1024:,.0f} KiB"))
    return rows
