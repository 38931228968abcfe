"""Stored logs: POST /container-svc/logs pages over a million stored lines, newest first and paging back.

The engine has no stored-log paging to compare with, so these rows compare the API with itself: a page
must cost the same whatever its container stored (60 thousand or a million lines) and wherever it starts,
and grow no faster than the page.
"""

import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from bench.environment import Bench
from bench.timing import Row, Sample, interleaved, median_of, ms
from containersvc import labels

CHUNK_LINES = 500
INSERT_BATCH = 100
SAME_COST_GOAL = 1.5  # a page deep in the past vs the newest; a page over 1,000,000 lines vs over 60,000
LINEAR_GOAL = 10.0  # a 10x bigger page may cost at most 10x


def _container_make(bench: Bench, suffix: str) -> str:
    """A container labelled as the service's own that printed a few lines, so capture runs as in real use.

    Made with the raw engine and no network (it needs none), then seen by the service through a list.
    """
    created = bench.raw.create_container(
        bench.image,
        name=f"bench-{bench.run_id}-{suffix}",
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
    """The rows; the query plans go to `notes`.

    Compared pages are timed in turns (`interleaved`), so that a burst of load elsewhere hits both alike.
    """
    from containersvc import selectors
    from containersvc.models import Container

    def make(suffix: str) -> tuple[str, Container]:
        container_id = _container_make(bench, suffix)
        row = Container.objects.get(node_id=settings.CONTAINERSVC_NODE_ID, container_id=container_id)
        _page(bench, {"containerId": container_id, "limit": 1})  # the engine's own lines are captured first
        return container_id, row

    big_id, big = make("logs")
    small_id, small = make("logs-small")
    small_chunks = 120  # more than a page of 100, so both sides of that ratio read a full page
    progress(f"logs: storing {small_chunks * CHUNK_LINES:,} lines for one container")
    _chunks_insert(small, first_line=0, chunks=small_chunks)
    total_chunks = max(lines // CHUNK_LINES, 1100)
    progress(f"logs: storing {total_chunks * CHUNK_LINES:,} lines for another")
    _chunks_insert(big, first_line=0, chunks=total_chunks)
    stored = sum(chunk.line_count for chunk in big.log_chunks.only("line_count"))

    def page(container_id: str, limit: int, before: int | None = None):
        body = {"containerId": container_id, "limit": limit, **({"before": before} if before else {})}
        return lambda: _page(bench, body)

    def newest_id(row: Container) -> int:
        return row.log_chunks.order_by("-id").values_list("id", flat=True)[0]

    ids = list(big.log_chunks.order_by("id").values_list("id", flat=True))
    before = ids[1050]  # pages back from here end at least 50 chunks from the oldest
    if [int(chunk["id"]) for chunk in page(big_id, 100, before)()] != ids[950:1050][::-1]:
        raise SystemExit("paging back returned the wrong chunks")

    progress("logs: timing pages")
    # `before` one past the newest chunk reads the newest page from storage alone, without the engine call
    # that captures first: on a busy machine that call's time says nothing about the stored lines.
    big_top, small_top = newest_id(big) + 1, newest_id(small) + 1
    newest_10 = median_of(page(big_id, 10), repeats=repeats)
    newest = interleaved(page(big_id, 1000), page(big_id, 100), repeats=repeats)
    back_10 = median_of(page(big_id, 10, before), repeats=repeats)
    back = interleaved(page(big_id, 1000, before), page(big_id, 100, before), repeats=repeats)
    position = interleaved(page(big_id, 100, before), page(big_id, 100, big_top), repeats=repeats)
    size = interleaved(page(big_id, 100, big_top), page(small_id, 100, small_top), repeats=repeats)
    all_node = median_of(lambda: _page(bench, {"limit": 100}), repeats=repeats)

    captured = selectors.containers_to_capture(container_id=None).count()
    of = f"of {stored:,}"
    return_rows = [
        Row(f"logs: newest 10 chunks (5,000 lines) {of}", ours=ms(newest_10)),
        Row(f"logs: newest 100 chunks (50,000 lines) {of}", ours=ms(newest.raw)),
        Row(f"logs: newest 1000 chunks (500,000 lines) {of}", ours=ms(newest.ours)),
        Row(f"logs: page back 10 chunks, from chunk 1050 of {len(ids)}", ours=ms(back_10)),
        Row(f"logs: page back 100 chunks, from chunk 1050 of {len(ids)}", ours=ms(back.raw)),
        Row(f"logs: page back 1000 chunks, from chunk 1050 of {len(ids)}", ours=ms(back.ours)),
        Row(f"logs: newest 100 chunks, whole node (captures {captured} containers first)", ours=ms(all_node)),
        _ratio_row(f"logs: stored newest 100, container of {stored:,} vs {small_chunks * CHUNK_LINES:,}", size),
        _ratio_row("logs: page back vs stored newest page (100 chunks)", position),
        _ratio_row("logs: newest 1000-chunk vs 100-chunk page", newest, goal=LINEAR_GOAL),
        _ratio_row("logs: page back 1000-chunk vs 100-chunk page", back, goal=LINEAR_GOAL),
    ]
    plans = {
        "newest page of one container": selectors.log_chunks(container_id=big_id, limit=100),
        "paging back in one container": selectors.log_chunks(container_id=big_id, limit=100, before=before),
        "newest page of the node": selectors.log_chunks(limit=100),
    }
    notes += [f"SQLite query plan, {title}:\n" + "\n".join(f"  {step}" for step in query_plan(queryset))
              for title, queryset in plans.items()]  # fmt: skip
    return return_rows


def _ratio_row(benchmark: str, sample: Sample, *, goal: float = SAME_COST_GOAL) -> Row:
    """`sample.ours` against `sample.raw`, both pages of our own API (hence "self")."""
    ratio = sample.ours / sample.raw
    return Row(
        benchmark, ours=ms(sample.ours), raw=f"{ms(sample.raw)} (self)", ratio=ratio,
        goal=f"<= {goal:g}x", passed=ratio <= goal,
    )  # fmt: skip
