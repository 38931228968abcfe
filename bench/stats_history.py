"""History (issue 12): one container's last 24 h at a 10 s step, from what the collector stores.

The bench's database gets what a day of sampling leaves: 8,640 buckets of 10 s and 1,440 of a minute for
the container asked about, and as much for each of a few dozen others, so that the query has to find its
rows among a realistic table; the buckets of every block whose time is past are packed, as the collector
packs them. Timed in-process (DRF's APIClient, as the other API rows) and through daphne.
"""

import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from bench.environment import Bench
from bench.served import Served
from bench.timing import Row, median_of, ms
from containersvc.services.stats import stats_pack
from containersvc.stats import bucket_start

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


COLUMNS = (
    "container_id", "resolution", "bucket_start", "samples", "cpu_mean", "cpu_max", "mem_mean", "mem_max",
    "mem_limit", "net_rx_rate", "net_tx_rate", "blk_read_rate", "blk_write_rate", "pids",
)  # fmt: skip


def _buckets(container_pk: int, resolution: int, start: datetime, count: int, rng: random.Random) -> list[tuple]:
    """A day of buckets as the collector would store them, as rows of COLUMNS."""
    rows = []
    for number in range(count):
        cpu = 20 + 15 * rng.random()
        memory = 50_000_000 + rng.randrange(5_000_000)
        at = connection.ops.adapt_datetimefield_value(start + timedelta(seconds=number * resolution))
        rates = (rng.random() * 1e5, rng.random() * 1e5, rng.random() * 1e4, rng.random() * 1e4)
        limit = 8 * 1024**3
        rows.append(
            (
                container_pk,
                resolution,
                at,
                resolution,
                cpu,
                cpu * 1.5,
                memory,
                memory + 1_000_000,
                limit,
                *rates,
                1 + rng.randrange(8),
            )
        )
    return rows


def _insert(rows: list[tuple]) -> None:
    """Many rows in one statement a batch: Django's bulk_create makes a model instance of each, minutes here."""
    from containersvc.models import ContainerStatsSample

    table = ContainerStatsSample._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # noqa: S608
    with connection.cursor() as cursor:
        for first in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(sql, rows[first : first + INSERT_BATCH])


def _day(container_pk: int, rng: random.Random) -> int:
    """Both resolutions over the 24 h up to now; returns the rows inserted."""
    now = timezone.now().replace(microsecond=0)
    inserted = 0
    with transaction.atomic():
        for resolution in (FINE, COARSE):
            # Each bucket begins at a whole multiple of its length since the epoch, as the collector's do.
            start = bucket_start(now - timedelta(seconds=DAY_SECONDS), resolution)
            rows = _buckets(container_pk, resolution, start, DAY_SECONDS // resolution, rng)
            _insert(rows)
            inserted += len(rows)
    return inserted


def stored_day(bench: Bench, *, others: int, progress) -> tuple[str, int]:
    """A day of buckets for `others` containers, then for the one asked about (its day ends as the timing
    begins); returns (its id, rows inserted)."""
    rng = random.Random(12)
    inserted = 0
    for number in range(1, others + 1):
        inserted += _day(_container(bench, f"bench-{bench.run_id}-history-{number}").pk, rng)
        if number % 10 == 0:
            progress(f"stats-history: {inserted:,} buckets stored")
    target = _container(bench, f"bench-{bench.run_id}-history-0")
    inserted += _day(target.pk, rng)
    # Packed into blocks as the collector packs them once their time is past (a few containers a pass).
    while stats_pack(now=timezone.now()):
        progress("stats-history: packing the past hours' buckets into blocks")
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
    if resolution != FINE or points < (DAY_SECONDS - 2 * MARGIN_SECONDS) // FINE:
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
