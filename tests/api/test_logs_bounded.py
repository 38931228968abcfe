"""Stored logs while the engine's log rotates: lines rotated away before capture leave a gap marker, and a logs
request reads the engine for a bounded time only, answering from the store while a container floods."""

from pathlib import Path

import pytest

from containersvc.models import LogChunk
from containersvc.services.logs import MESSAGE_GAP
from tests.conftest import wait_for
from tests.container_logs import fetch_logs

pytestmark = pytest.mark.django_db

GAP_TEXT = MESSAGE_GAP.split("{")[0]
# Every chunk (a flooding container stores many), oldest first: in the order the lines were printed.
EVERY_CHUNK = {"limit": 1000, "oldest_first": True}


def engine_log(docker_client, name: str) -> str:
    return docker_client.containers.get(name).logs().decode()


def test_lines_rotated_away_before_capture_leave_a_gap_marker(api, run, name, docker_client, settings):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = "1k", 2  # some 20 lines kept
    gated = "echo first; while [ ! -e /go ]; do sleep 0.05; done; seq 1 300; echo done; sleep 3600"
    assert run(name, command=["sh", "-c", gated]).status_code == 200
    wait_for(lambda: "first" in engine_log(docker_client, name), timeout=20, what="the first line")
    assert [chunk["content"] for chunk in fetch_logs(api, containerId=name, **EVERY_CHUNK)] == ["first"]  # the cursor

    docker_client.containers.get(name).exec_run(["touch", "/go"])  # 300 lines while nothing captures
    wait_for(lambda: "done" in engine_log(docker_client, name), timeout=20, what="the last line")
    kept_by_engine = engine_log(docker_client, name).split()

    chunks = fetch_logs(api, containerId=name, **EVERY_CHUNK)

    assert "first" not in kept_by_engine and len(kept_by_engine) < 100
    first, gap, *rest = chunks
    assert first["content"] == "first" and not first["gap"]
    assert gap["gap"] is True and gap["stream"] == "stdout" and GAP_TEXT in gap["content"]
    assert gap["createdAt"] == first["createdAt"]  # the span starts at the last line stored
    lines = "\n".join(chunk["content"] for chunk in rest).split("\n")
    assert lines == kept_by_engine  # after the gap, every line the engine still had, once
    assert not any(chunk["gap"] for chunk in rest)
    assert fetch_logs(api, containerId=name, **EVERY_CHUNK) == chunks  # read again: nothing new, no second marker


def test_a_stream_read_again_from_its_cursor_leaves_no_gap_marker(api, run, name, docker_client):
    gated = "echo first; while [ ! -e /go ]; do sleep 0.05; done; seq 1 30; echo done; sleep 3600"
    assert run(name, command=["sh", "-c", gated]).status_code == 200
    wait_for(lambda: "first" in engine_log(docker_client, name), timeout=20, what="the first line")
    fetch_logs(api, containerId=name, **EVERY_CHUNK)
    docker_client.containers.get(name).exec_run(["touch", "/go"])
    wait_for(lambda: "done" in engine_log(docker_client, name), timeout=20, what="the last line")

    chunks = fetch_logs(api, containerId=name, **EVERY_CHUNK)

    assert not LogChunk.objects.filter(container__name=name, gap=True).exists()
    assert "\n".join(chunk["content"] for chunk in chunks).split("\n") == ["first", *map(str, range(1, 31)), "done"]


def test_a_flooding_container_is_read_for_a_bounded_time_and_answers_from_the_store(
    api, run, name, docker_client, settings
):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = "2m", 2
    settings.CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS = 0.5
    assert run(name, command=["yes", "flood"]).status_code == 200
    wait_for(lambda: docker_client.containers.get(name).attrs["LogPath"], timeout=10, what="the container's log")

    first = fetch_logs(api, containerId=name, **EVERY_CHUNK)
    second = fetch_logs(api, containerId=name, **EVERY_CHUNK)

    # Each request stored what it could read in its time and answered while the flood goes on.
    assert docker_client.containers.get(name).status == "running"
    assert first and second and len(second) > len(first)
    assert {line for chunk in second for line in chunk["content"].split("\n") if not chunk["gap"]} == {"flood"}


def test_a_flooding_containers_engine_log_stays_within_its_rotation(run, name, docker_client, settings):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = "100k", 2
    assert run(name, command=["yes", "flood"]).status_code == 200
    log = Path(docker_client.containers.get(name).attrs["LogPath"])
    rotated = log.with_name(log.name + ".1")
    first = wait_for(lambda: rotated.exists() and rotated.stat().st_ino, timeout=20, what="a rotation")
    wait_for(lambda: rotated.exists() and rotated.stat().st_ino != first, timeout=20, what="another rotation")

    files = sorted(log.parent.glob(log.name + "*"))

    assert len(files) <= 2 and all(path.stat().st_size <= 100 * 1024 for path in files)
