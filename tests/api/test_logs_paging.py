"""Paging back through stored logs: `before` (the last id of a page) gives the next, older page."""

import pytest
from django.utils import timezone

from containersvc import labels
from containersvc.models import Container, ContainerState, LogChunk
from containersvc.services import mirror
from tests.conftest import TEST_LABEL, TEST_NODE
from tests.container_logs import fetch_logs, wait_for_output

pytestmark = pytest.mark.django_db


def all_pages(api, *, limit: int, **body) -> list[list[dict]]:
    pages, before = [], None
    while logs := fetch_logs(api, limit=limit, **body, **({"before": before} if before else {})):
        pages.append(logs)
        before = logs[-1]["id"]
    return pages


def stored_chunk(container: Container, content: str) -> LogChunk:
    now = timezone.now()
    return LogChunk.objects.create(
        container=container, stream="stdout", content=content, line_count=1, first_line_at=now, last_line_at=now
    )


def removed_container(container_id: str, name: str, owner, node_id: str = TEST_NODE) -> Container:
    return Container.objects.create(
        node_id=node_id, container_id=container_id, name=name, state=ContainerState.REMOVED, created_by=owner
    )


def test_paging_back_reads_every_captured_line_once_newest_first(api, owner, docker_client, test_image, name, settings):
    settings.CONTAINERSVC_LOG_CHUNK_LINES = 3
    # No network: this test is about logs, and needs nothing from the engine's bridge.
    container = docker_client.containers.run(
        test_image,
        ["sh", "-c", "seq 1 20; sleep 3600"],
        name=name,
        detach=True,
        network_mode="none",
        labels={**TEST_LABEL, labels.MANAGED: "true", labels.NODE: TEST_NODE},
    )
    mirror.mirror_record_owner(container_id=container.id, created_by=owner)  # as if it ran it
    wait_for_output(container, "20")
    assert api.post("/container-svc/containers", {}, format="json").status_code == 200  # the service sees it

    pages = all_pages(api, limit=2, containerId=container.id)

    assert [len(page) for page in pages] == [2, 2, 2, 1]  # 20 lines in chunks of 3
    chunks = [chunk for page in pages for chunk in page]
    assert [int(chunk["id"]) for chunk in chunks] == sorted({int(chunk["id"]) for chunk in chunks}, reverse=True)
    lines = [line for chunk in reversed(chunks) for line in chunk["content"].split("\n")]
    assert lines == [str(number) for number in range(1, 21)]


def test_paging_back_by_name_spans_every_container_that_had_the_name(api, owner):
    old = removed_container("a" * 64, "cst-paging", owner)
    new = removed_container("b" * 64, "cst-paging", owner)
    other = removed_container("c" * 64, "cst-other", owner)
    made = [stored_chunk(row, f"line {number}") for number, row in enumerate([old, other, old, new, other, new, new])]

    pages = all_pages(api, limit=2, containerId="cst-paging")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [int(chunk["id"]) for page in pages for chunk in page] == [
        chunk.pk for chunk in reversed(made) if chunk.container in (old, new)
    ]


def test_paging_back_over_the_whole_node_leaves_other_nodes_out(api, owner):
    here = removed_container("d" * 64, "cst-here", owner)
    elsewhere = removed_container("e" * 64, "cst-elsewhere", owner, node_id="another-node")
    made = [stored_chunk(row, "x") for row in [here, elsewhere, here, here, elsewhere]]

    pages = all_pages(api, limit=2, nodeId=TEST_NODE)

    assert [int(chunk["id"]) for page in pages for chunk in page] == [
        chunk.pk for chunk in reversed(made) if chunk.container == here
    ]
    assert {chunk["nodeId"] for page in pages for chunk in page} == {TEST_NODE}


@pytest.mark.parametrize("before", [0, -1, "x", 1.5])
def test_before_must_be_a_chunk_id(api, before):
    response = api.post("/container-svc/logs", {"before": before}, format="json")

    assert response.status_code == 400
    assert "before" in response.json()["error"]
