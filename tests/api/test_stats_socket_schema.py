"""What the stats socket (ws/stats/) sends is what the OpenAPI document declares: the `node` of a "stats.batch"
message is the HostStats component and each row of its `stats` the ContainerStats component, checked with the same
drift check as the API's responses, on messages of the real collector (on the cgroup files) about a real running
container. GET node/stats is checked by
tests/api/test_schema_drift.py."""

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from containersvc.producers.stats_collector import collector
from tests.conftest import session_headers
from tests.openapi_drift import component, drift
from tests.sockets import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/stats/"


def measured(container_id: str):
    """Whether a batch holds a measured row of the container (its CPU needs two rounds) and the host's CPU."""

    def holds(message: dict) -> bool:
        rows = {row["containerId"]: row for row in message["stats"]}
        row = rows.get(container_id)
        return (
            message["type"] == "stats.batch"
            and message["node"]["cpuPercent"] is not None
            and row is not None
            and row["cpuPercent"] is not None
        )

    return holds


def test_stats_socket_batches_are_what_the_document_declares(owner, container, stats):
    document = Client().get("/container-svc/openapi.json").json()
    running = container("sleep 3600")
    headers = session_headers(owner)
    seen: list[dict] = []

    async def scenario() -> None:
        socket = communicator(PATH, headers)
        assert (await socket.connect())[0]
        # The collector runs on demand once the socket subscribes: rounds arrive until one has measured the
        # container (a second round) and the host.
        await receive_until(socket, measured(running.id), timeout=60, seen=seen)
        await socket.disconnect()

    async_to_sync(scenario)()
    collector.stop()  # its on-demand thread ends (and forgets its samples) now, not during the next test

    batches = [message for message in seen if message["type"] == "stats.batch"]
    assert batches
    last = batches[-1]
    assert last["node"]["load"] is not None and last["node"]["memoryTotalBytes"] is not None
    problems = []
    for index, batch in enumerate(batches):
        problems += drift(document, component("HostStats"), batch["node"], f"batch {index}.node")
        for row in batch["stats"]:
            problems += drift(document, component("ContainerStats"), row, f"batch {index}.stats[{row['containerId']}]")
    assert not problems, "\n".join(problems)
    assert any(row["containerId"] == running.id and row["source"] == "cgroup" for row in last["stats"])


def test_the_check_finds_a_key_not_declared_one_not_sent_and_a_null_not_declared_nullable():
    document = Client().get("/container-svc/openapi.json").json()
    sent = {
        "cpuPercent": None, "cpuPercentPerCore": None, "load": None, "memoryTotalBytes": None, "disk": None,
        "surprise": 1,
    }  # fmt: skip

    assert drift(document, component("HostStats"), sent, "node") == [
        "node.surprise: sent, not declared",
        "node.memoryAvailableBytes: declared required, not sent",
        "node.cpuPercentPerCore: null",
    ]
