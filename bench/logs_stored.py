"""Stored logs: POST /container-svc/logs pages over a million stored lines, newest first and paging back.

The engine has no stored-log paging to compare with, so these rows compare the API with itself: a page
must cost the same whatever is stored (10 thousand or a million lines) and wherever it starts, and grow
no faster than the page.
"""

import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from bench.environment import Bench
from bench.timing import Row, median_of, ms
from containersvc import labels

CHUNK_LINES = 500
INSERT_BATCH = 100
SAME_COST_GOAL = 1.5  # a page deep in the past, or over 100x more stored lines, vs the newest page
LINEAR_GOAL = 10.0  # a 10x bigger page may cost at most 10x


def _container_make(bench: Bench) -> str:
    """A container labelled as the service's own that printed a few lines, so capture runs as in real use.

    Made with the raw engine and no network (it needs none), then seen by the service through a list.
    """
    created = bench.raw.create_container(
        bench.image,
        name=f"bench-{bench.run_id}-logs",
        command=["sh", "-c", "seq 1 100; sleep 3600"],
        labels={**bench.labels, labels.MANAGED: "true", labels.NODE: settings.CONTAINERSVC_NODE_ID},
        host_config=bench.raw.create_host_config(init=True, network_mode="none"),
    )
    bench.raw.start(created["Id"])
    response = bench.api.post("/container-svc/containers", {"containerId": created["Id"]}, format="json")
    if response.status_code != 200 or not response.json()["containers"]:
        raise SystemExit(f"list answered {response.status_code}: {response.content[:500]!r}")
    return created["Id"]


def _chunks_insert(container, *, first_line: int, chunks: int) -> None:
    from containersvc.models import LogChunk

    started = datetime(2026, 1, 1, tzinfo=UTC)
    number = first_line
    for batch_start in range(0, chunks, INSERT_BATCH):
        batch = []
        for _ in range(min(INSERT_BATCH, chunks - batch_start)):
            content = "\n".join(f"line {n:07d} of stored benchmark output" for n in range(number, number + CHUNK_LINES))
            batch.append(
                LogChunk(
                    container=container,
                    stream="stdout",
                    content=content,
                    content_bytes=len(content.encode()),
                    line_count=CHUNK_LINES,
                    first_line_at=started + timedelta(milliseconds=number),
                    last_line_at=started + timedelta(milliseconds=number + CHUNK_LINES - 1),
                )
            )
            number += CHUNK_LINES
        with transaction.atomic():
            LogChunk.objects.bulk_create(batch)


def _page(bench: Bench, body: dict) -> list[dict]:
    response = bench.api.post("/container-svc/logs", body, format="json")
    if response.status_code != 200:
        raise SystemExit(f"logs answered {response.status_code}: {response.content[:500]!r}")
    return json.loads(response.content)["logs"]


def query_plan(queryset) -> list[str]:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return [row[-1] for row in cursor.fetchall()]


def run(bench: Bench, *, lines: int, repeats: int, progress, notes: list[str]) -> list[Row]:
    """The rows; the query plans go to `notes`."""
    from containersvc import selectors
    from containersvc.models import Container

    container_id = _container_make(bench)
    container = Container.objects.get(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id)
    _page(bench, {"containerId": container_id, "limit": 1})  # the engine's own lines are captured first

    def timed_page(limit: int, before: int | None = None) -> float:
        body = {"containerId": container_id, "limit": limit, **({"before": before} if before else {})}
        return median_of(lambda: _page(bench, body), repeats=repeats)

    small_chunks = 120  # more than a page of 100, so both sides of that ratio return the same page
    progress(f"logs: storing {small_chunks * CHUNK_LINES:,} lines")
    _chunks_insert(container, first_line=0, chunks=small_chunks)
    small_stored = timed_page(100)

    total_chunks = max(lines // CHUNK_LINES, small_chunks + 1100)
    progress(f"logs: storing {total_chunks * CHUNK_LINES:,} lines")
    _chunks_insert(container, first_line=small_chunks * CHUNK_LINES, chunks=total_chunks - small_chunks)
    stored = sum(chunk.line_count for chunk in container.log_chunks.only("line_count"))

    progress("logs: timing pages")
    ids = list(container.log_chunks.order_by("id").values_list("id", flat=True))
    before = ids[1050]  # pages back from here end at least 50 chunks from the oldest
    page = _page(bench, {"containerId": container_id, "limit": 100, "before": before})
    if [int(chunk["id"]) for chunk in page] != ids[950:1050][::-1]:
        raise SystemExit("paging back returned the wrong chunks")
    newest = {limit: timed_page(limit) for limit in (10, 100, 1000)}
    back = {limit: timed_page(limit, before) for limit in (10, 100, 1000)}
    all_node = median_of(lambda: _page(bench, {"limit": 100}), repeats=repeats)

    captured = selectors.containers_to_capture(container_id=None).count()
    rows = [
        Row(f"logs: newest {limit} chunks ({limit * CHUNK_LINES:,} lines) of {stored:,}", ours=ms(seconds))
        for limit, seconds in newest.items()
    ]
    rows += [
        Row(f"logs: page back {limit} chunks, from chunk {1050} of {len(ids)}", ours=ms(seconds))
        for limit, seconds in back.items()
    ]
    rows += [
        Row(f"logs: newest 100 chunks, whole node (captures {captured} containers first)", ours=ms(all_node)),
        _ratio_row(f"logs: newest 100, {stored:,} vs {small_chunks * CHUNK_LINES:,} stored", newest[100], small_stored),
        _ratio_row("logs: page back vs newest page (100 chunks)", back[100], newest[100]),
        _ratio_row("logs: newest 1000-chunk vs 100-chunk page", newest[1000], newest[100], goal=LINEAR_GOAL),
        _ratio_row("logs: page back 1000-chunk vs 100-chunk page", back[1000], back[100], goal=LINEAR_GOAL),
    ]
    plans = {
        "newest page of one container": selectors.log_chunks(container_id=container_id, limit=100),
        "paging back in one container": selectors.log_chunks(container_id=container_id, limit=100, before=before),
        "newest page of the node": selectors.log_chunks(limit=100),
    }
    notes += [f"SQLite query plan, {title}:\n" + "\n".join(f"  {step}" for step in query_plan(queryset))
              for title, queryset in plans.items()]  # fmt: skip
    return rows


def _ratio_row(benchmark: str, ours: float, baseline: float, *, goal: float = SAME_COST_GOAL) -> Row:
    ratio = ours / baseline
    return Row(
        benchmark, ours=ms(ours), raw=f"{ms(baseline)} (self)", ratio=ratio,
        goal=f"<= {goal:g}x", passed=ratio <= goal,
    )  # fmt: skip
