"""A container captured as it prints: its stored logs answer without the engine (even a frozen one), and a
capture that resumes after the engine's log rotated past its cursor stores a gap marker."""

import signal
import threading
from contextlib import closing

import pytest

from containersvc import engine
from containersvc.models import LogChunk
from containersvc.producers import log_capture
from containersvc.startup import start_always_on_producers, stop_always_on_producers
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def stored(name: str) -> list[LogChunk]:
    return list(LogChunk.objects.filter(container__name=name).order_by("id"))


@pytest.fixture
def patient_engine(on_second_engine, settings):
    """Engine calls wait up to 30 s: a request that waited on the frozen engine would answer no sooner."""
    settings.CONTAINERSVC_ENGINE_TIMEOUT = 30
    engine.reset_clients()
    return on_second_engine


def test_stored_logs_answer_while_a_flooding_containers_engine_is_frozen(
    patient_engine, producers, run, api, name, settings
):
    settings.CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS = 600  # were the engine read, the request would hang
    assert run(name, command=["yes", "flood"]).status_code == 200
    wait_for(lambda: len(stored(name)) >= 3, timeout=30, what="capture to store the flood")
    dockerd = patient_engine.dockerd
    with open(f"/proc/{dockerd.pid}/comm") as comm:
        assert comm.read().strip() == "dockerd"  # the process frozen is the engine itself, not a wrapper
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(api.post("/container-svc/logs", {"containerId": name, "limit": 5}, format="json"))
    )

    dockerd.send_signal(signal.SIGSTOP)  # every engine call hangs now, up to the engine timeout
    try:
        request.start()
        # The answer comes while the engine is still frozen: the request never waited on it.
        wait_for(lambda: answers, timeout=settings.CONTAINERSVC_ENGINE_TIMEOUT / 2, what="the answer")
    finally:
        dockerd.send_signal(signal.SIGCONT)
        request.join(timeout=30)

    [response] = answers
    assert response.status_code == 200
    logs = response.json()["logs"]
    assert len(logs) >= 3 and {line for chunk in logs for line in chunk["content"].split("\n")} == {"flood"}


def test_a_capture_resuming_past_rotated_lines_stores_a_gap_marker(producers, on_second_engine, run, name, settings):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = "1k", 2
    gated = "echo first; while [ ! -e /go ]; do sleep 0.05; done; seq 1 300; echo done; sleep 3600"
    container_id = run(name, command=["sh", "-c", gated]).json()["id"]
    wait_for(lambda: [chunk.content for chunk in stored(name)] == ["first"], timeout=30, what="the first line")

    stop_always_on_producers()  # capture paused: the next lines rotate away meanwhile
    wait_for(lambda: not log_capture.capture.threads(), timeout=10, what="capture to stop")
    with closing(on_second_engine.client()) as client:
        container = client.containers.get(container_id)
        container.exec_run(["touch", "/go"])
        wait_for(lambda: b"done" in container.logs(), timeout=20, what="the last line")
        kept_by_engine = container.logs().decode().split()
    assert start_always_on_producers()

    wait_for(lambda: "done" in stored(name)[-1].content, timeout=30, what="capture to resume")
    first, gap, *rest = stored(name)
    assert first.content == "first" and gap.gap and gap.first_line_at == first.last_line_at
    assert "\n".join(chunk.content for chunk in rest).split("\n") == kept_by_engine
    assert not any(chunk.gap for chunk in rest) and "first" not in kept_by_engine


def numbered_lines_and_gaps(name: str) -> list[int | str]:
    """The stored stdout in order: numbers, and "gap" for each gap marker."""
    shown: list[int | str] = []
    for chunk in stored(name):
        shown += ["gap"] if chunk.gap else [int(line) for line in chunk.content.split("\n") if line.isdigit()]
    return shown


@pytest.mark.parametrize(("max_size", "gaps_expected"), [("10m", False), ("1k", True)])
def test_a_follower_behind_the_live_output_resumes_from_its_cursor_and_marks_what_rotated_away(
    producers, on_second_engine, run, name, settings, monkeypatch, max_size, gaps_expected
):
    settings.CONTAINERSVC_LOG_MAX_SIZE, settings.CONTAINERSVC_LOG_MAX_FILES = max_size, 2
    monkeypatch.setattr(log_capture, "FOLLOW_LAG_LIMIT_SECONDS", 0.0)  # any live line is 'behind'
    gated = "echo first; while [ ! -e /go ]; do sleep 0.05; done; seq 1 3000; echo done; sleep 3600"
    container_id = run(name, command=["sh", "-c", gated]).json()["id"]
    wait_for(lambda: stored(name), timeout=30, what="the first line")

    with closing(on_second_engine.client()) as client:
        client.containers.get(container_id).exec_run(["touch", "/go"])
    wait_for(lambda: "done" in stored(name)[-1].content, timeout=60, what="capture to reach the last line")

    shown = numbered_lines_and_gaps(name)
    numbers = [item for item in shown if item != "gap"]
    assert numbers == sorted(set(numbers)) and numbers[-1] == 3000  # in order, none twice
    # Every number missing lies in a span the store marks as a gap.
    for before, after in zip([0, *numbers], numbers, strict=False):
        if after != before + 1:
            position = shown.index(after)
            assert shown[position - 1] == "gap", f"{before + 1}..{after - 1} lost without a marker"
    assert ("gap" in shown) == gaps_expected
