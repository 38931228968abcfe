"""The engine killed (SIGKILL) and restarted during a log follow and the events follow: nothing is lost."""

from contextlib import closing
from pathlib import Path

import pytest

from containersvc.models import ContainerState
from containersvc.producers import log_capture
from tests.conftest import wait_for
from tests.container_logs import stored_lines
from tests.reliability.conftest import gated_printer, open_gate, row

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 60


def test_engine_killed_mid_follow_then_capture_resumes_exactly(producers, on_second_engine, run, api, name):
    response = run(name, command=gated_printer((1, 20), (21, 40), (41, LINES)))
    assert response.status_code == 200, response.json()
    container_id = response.json()["id"]
    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 20), timeout=20, what="20 lines stored")

    open_gate(on_second_engine, container_id, 1)
    on_second_engine.kill()  # 21..40 are printed around and during the engine's absence
    # Meanwhile the API says the engine is unavailable (503 with Retry-After), it does not hang or 500.
    response = api.post("/container-svc/containers", {}, format="json")
    assert response.status_code == 503 and response["Retry-After"]
    on_second_engine.start()
    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", 40), timeout=30, what="capture resumed")
    open_gate(on_second_engine, container_id, 2)  # 41..60 come while the resumed capture follows

    wait_for(lambda: stored_lines(container_id, "stdout") == lines("out", LINES), timeout=30, what="all stdout")
    wait_for(lambda: stored_lines(container_id, "stderr") == lines("err", LINES), timeout=10, what="all stderr")
    # The events follower came back too: the container's exit is mirrored, and its capture has ended.
    wait_for(lambda: row(container_id).state == ContainerState.EXITED, timeout=20, what="the exit mirrored")
    assert row(container_id).exit_code == 0
    wait_for(lambda: container_id not in log_capture.capture.following(), timeout=10, what="the capture to end")
    assert stored_lines(container_id, "stdout") == lines("out", LINES)  # and nothing came twice after it ended


def lines(prefix: str, last: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, last + 1)]


def test_engine_killed_during_events_follow_then_the_mirror_reconciles(producers, on_second_engine, test_image):
    with closing(on_second_engine.client()) as client:
        quits = client.containers.run(test_image, ["sh", "-c", "sleep 1; exit 3"], detach=True, init=True)
        stays = client.containers.run(test_image, ["sleep", "600"], detach=True)
        wait_for(lambda: row(quits.id) and row(stays.id), timeout=5, what="rows for containers made by the CLI")
        quits.reload()
        process = Path(f"/proc/{quits.attrs['State']['Pid']}")

        # The engine is away while one container exits: no event will ever tell of it.
        on_second_engine.kill()
        wait_for(lambda: not process.exists(), timeout=10, what="the container to exit while the engine is away")
        on_second_engine.start()

        wait_for(lambda: row(quits.id).state == ContainerState.EXITED, timeout=15, what="the exit found by reconcile")
        assert row(quits.id).exit_code == 3
        assert row(stays.id).state == ContainerState.RUNNING  # live-restore: never marked exited while away

        # And the stream is followed again: an out-of-band removal shows within a second.
        client.containers.get(stays.id).remove(force=True)
        wait_for(lambda: row(stays.id).state == ContainerState.REMOVED, timeout=1.0, what="removal mirrored")
