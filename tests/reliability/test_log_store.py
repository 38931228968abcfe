"""Storing captured lines: exact resume positions, no duplicates between readers, bounded retention."""

import threading

import pytest

from containersvc.engine import LogLine
from containersvc.models import Container, ContainerState, LogChunk
from containersvc.services import logs
from tests.conftest import TEST_NODE

T0 = 1_780_000_000_000_000_000  # ns


@pytest.fixture
def container(db) -> Container:
    return Container.objects.create(
        node_id=TEST_NODE, container_id="c" * 64, name="stored", image="x", state=ContainerState.RUNNING
    )


def texts(container: Container, stream: str = "stdout") -> list[str]:
    chunks = LogChunk.objects.filter(container=container, stream=stream).order_by("id")
    return [line for chunk in chunks for line in chunk.content.split("\n")]


def read(lines: list[LogLine], since_ns: int) -> list[LogLine]:
    """What the engine returns for `since`: every line at or after it."""
    return [line for line in lines if line.timestamp_ns >= since_ns]


def test_lines_sharing_a_timestamp_across_batches_are_all_kept_once(container):
    # Four stdout lines with one timestamp, split over two batches, then read again from the cursor.
    engine_lines = [LogLine("stdout", T0, "a"), LogLine("stdout", T0 + 5, "b1"), LogLine("stdout", T0 + 5, "b2")]
    engine_lines += [LogLine("stdout", T0 + 5, "b3"), LogLine("stdout", T0 + 5, "b4"), LogLine("stderr", T0 + 7, "e")]
    placer = logs.LinePlacer()
    placed = [placer.place(line) for line in engine_lines]

    assert logs.logs_store_placed(container=container, lines=placed[:3]) == 3
    assert logs.logs_store_placed(container=container, lines=placed[3:]) == 3
    resumed = read(engine_lines, logs.logs_resume_point(container=container))
    assert logs.logs_store_lines(container=container, lines=resumed) == 0

    assert texts(container) == ["a", "b1", "b2", "b3", "b4"]
    assert texts(container, "stderr") == ["e"]


def test_a_resumed_read_stores_only_what_came_after(container):
    engine_lines = [LogLine("stdout", T0 + i // 3, f"line-{i}") for i in range(30)]  # three per timestamp
    assert logs.logs_store_lines(container=container, lines=engine_lines[:14]) == 14

    resumed = read(engine_lines, logs.logs_resume_point(container=container))

    assert logs.logs_store_lines(container=container, lines=resumed) == 16
    assert texts(container) == [f"line-{i}" for i in range(30)]


def test_lines_the_engine_sends_again_in_one_read_are_stored_once(container):
    # The json-file follow repeats the line where the file rotates, timestamp and all; a re-sent range
    # would go back in time. Neither may be stored twice, even within one batch.
    a, b, c = (LogLine("stdout", T0 + i, text) for i, text in enumerate("abc"))

    stored = logs.logs_store_lines(container=container, lines=[a, b, b, a, b, c])

    assert stored == 3
    assert texts(container) == ["a", "b", "c"]


@pytest.mark.django_db(transaction=True)
def test_two_readers_at_once_store_each_line_once(container, settings):
    settings.CONTAINERSVC_LOG_CHUNK_LINES = 7  # many small transactions, interleaved between the readers
    engine_lines = [LogLine("stdout" if i % 3 else "stderr", T0 + i // 2, f"line-{i}") for i in range(400)]

    def reader() -> None:
        try:
            logs.logs_store_lines(container=container, lines=engine_lines)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert texts(container) == [line.text for line in engine_lines if line.stream == "stdout"]
    assert texts(container, "stderr") == [line.text for line in engine_lines if line.stream == "stderr"]


def test_retention_deletes_oldest_chunks_first_per_container_and_per_node(container, settings):
    settings.CONTAINERSVC_LOG_CHUNK_LINES = 10
    other = Container.objects.create(
        node_id=TEST_NODE, container_id="d" * 64, name="other", image="x", state=ContainerState.RUNNING
    )
    for target in (container, other):
        logs.logs_store_lines(
            container=target, lines=[LogLine("stdout", T0 + i, f"{i:09d}") for i in range(100)]
        )  # 10 chunks of 10 lines of 9 characters: 99 bytes each
    settings.CONTAINERSVC_LOG_RETENTION_CONTAINER_BYTES = 500
    settings.CONTAINERSVC_LOG_RETENTION_TOTAL_BYTES = 700

    assert logs.logs_enforce_retention(container=container) == 5
    assert texts(container) == [f"{i:09d}" for i in range(50, 100)]
    # The node's 15 chunks down to 7, the oldest first: the first container's 5, then 3 of the other's.
    assert logs.logs_enforce_retention() == 8
    assert texts(container) == []
    assert texts(other) == [f"{i:09d}" for i in range(30, 100)]

    # Capture goes on from its cursor: what retention deleted is never stored again.
    again = [LogLine("stdout", T0 + i, f"{i:09d}") for i in range(101)]
    assert logs.logs_store_lines(container=other, lines=again) == 1
    assert texts(other)[-2:] == ["000000099", "000000100"]
