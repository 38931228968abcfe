"""Stored logs outlive the engine's log rotation and the container's removal; the logs API reads them."""

from contextlib import closing

import pytest

from containersvc import labels
from containersvc.producers import log_capture
from containersvc.services import mirror
from tests.conftest import TEST_NODE, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 150


def test_lines_rotated_away_and_a_removed_container_are_kept(producers, on_second_engine, api, owner, test_image):
    with closing(on_second_engine.client()) as client:
        container = client.containers.run(
            test_image,
            ["sh", "-c", f"for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.02; done"],
            detach=True,
            labels={labels.MANAGED: "true", labels.NODE: TEST_NODE},
            # About 50 lines a file and two files: the engine keeps at most some 100 of the 150.
            log_config={"Type": "json-file", "Config": {"max-size": "4k", "max-file": "2"}},
        )
        mirror.mirror_record_owner(container_id=container.id, created_by=owner)  # as if the service ran it
        wait_for(lambda: container.reload() or container.status == "exited", timeout=30, what="the container's end")
        wait_for(lambda: container.id not in log_capture.capture.following(), timeout=10, what="capture to end")
        kept_by_engine = container.logs().decode().splitlines()
        container.remove()
    assert len(kept_by_engine) < LINES and kept_by_engine[-1] == f"line-{LINES}"

    response = api.post("/container-svc/logs", {"containerId": container.id, "limit": 1000}, format="json")

    assert response.status_code == 200
    chunks = sorted(response.json()["logs"], key=lambda chunk: int(chunk["id"]))
    assert "\n".join(chunk["content"] for chunk in chunks).split("\n") == [f"line-{i}" for i in range(1, LINES + 1)]
