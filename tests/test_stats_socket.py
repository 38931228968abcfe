"""The live stats socket (ws/stats/) through the real ASGI application, the collector driven by the test."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from containersvc.asgi import application
from containersvc.consumers import stats as stats_consumer
from containersvc.models import Container, ContainerStatsSample
from containersvc.producers.stats_collector import collector
from containersvc.scopes import Scope
from tests.conftest import ORIGIN, session_headers, wait_for

PATH = "/ws/stats/"
pytestmark = pytest.mark.django_db(transaction=True)


async def batch_with(socket: WebsocketCommunicator, predicate, timeout: float = 30) -> dict:
    """Run collector rounds (in a thread, as its own thread would) until a batch satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        await asyncio.to_thread(collector.collect_once)
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        assert message["type"] == "stats.batch"
        if predicate(message):
            return message
        if time.monotonic() > deadline:  # messages keep coming: the receive alone never times out
            pytest.fail("no batch satisfied the test in time")


def test_anonymous_and_without_the_scope_are_refused(make_user):
    headers = session_headers(make_user(Scope.LOG_VIEW))

    async def scenario():
        assert await WebsocketCommunicator(application, PATH, headers=[ORIGIN]).connect() == (False, 4401)
        assert await WebsocketCommunicator(application, PATH, headers=headers).connect() == (False, 4403)

    async_to_sync(scenario)()


def test_each_round_is_one_batch_of_the_containers_the_user_may_see(owner, container, stats):
    mine = container("sleep 3600")
    stranger = container("sleep 3600", owner=None)
    headers = session_headers(owner)

    async def scenario():
        socket = WebsocketCommunicator(application, PATH, headers=headers)
        assert (await socket.connect())[0]
        first = await socket.receive_json_from(timeout=10)  # the latest round, at once
        assert first["type"] == "stats.batch"

        def measured(message):
            rows = {row["containerId"]: row for row in message["stats"]}
            return mine.id in rows and rows[mine.id]["cpuPercent"] is not None

        batch = await batch_with(socket, measured)
        ids = {row["containerId"] for row in batch["stats"]}
        assert mine.id in ids and stranger.id not in ids
        row = next(row for row in batch["stats"] if row["containerId"] == mine.id)
        assert row["memoryBytes"] > 0 and row["pids"] >= 1 and row["source"] == "cgroup"
        assert batch["node"]["cpuPercent"] is not None and batch["node"]["memoryTotalBytes"] > 0
        await socket.disconnect()

    async_to_sync(scenario)()
    assert collector.subscribers == 0  # the socket let go of the collector


def test_a_superuser_sees_every_container(make_user, container, stats):
    stranger = container("sleep 3600", owner=None)
    headers = session_headers(make_user(superuser=True))

    async def scenario():
        socket = WebsocketCommunicator(application, PATH, headers=headers)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)
        await batch_with(socket, lambda m: stranger.id in {row["containerId"] for row in m["stats"]})
        await socket.disconnect()

    async_to_sync(scenario)()


def test_without_the_always_on_producers_a_socket_runs_the_collector_while_it_is_open(
    owner, container, stats, settings
):
    settings.CONTAINERSVC_STATS_INTERVAL = 0.2
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 1
    mine = container("sleep 3600")
    headers = session_headers(owner)

    async def scenario():
        socket = WebsocketCommunicator(application, PATH, headers=headers)
        assert (await socket.connect())[0]
        assert collector.running
        deadline = time.monotonic() + 30
        while True:  # batches come from the collector's own thread: the test runs no round
            message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
            rows = {row["containerId"]: row for row in message["stats"]}
            if mine.id in rows and rows[mine.id]["cpuPercent"] is not None:
                break
        await socket.disconnect()

    async_to_sync(scenario)()
    wait_for(lambda: not collector.running, timeout=10, what="the collector to stop with its last socket")
    assert not collector.latest()  # nothing kept to be shown as current later
    assert not ContainerStatsSample.objects.exists()  # history is the always-on collector's to store


# --- ?changes=only: a whole first message, then per round only what changed -------------------------------
class Seen:
    """What a changes-only client knows: the messages applied, in order, to one state per container."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.ids: set[str] = set()  # every container id any message named

    def apply(self, message: dict) -> dict:
        assert message["type"] == "stats.changes"
        if message["full"]:
            self.rows.clear()
        for row in message["stats"]:
            self.rows.setdefault(row["containerId"], {}).update(row)
        for gone in message["gone"]:
            self.rows.pop(gone)  # never gone without having been sent
        self.ids |= {row["containerId"] for row in message["stats"]} | set(message["gone"])
        return message


async def changes_with(socket: WebsocketCommunicator, seen: Seen, predicate, timeout: float = 30) -> dict:
    """Run collector rounds until a changes message (applied to `seen`) satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        await asyncio.to_thread(collector.collect_once)
        message = seen.apply(await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic())))
        if predicate(message):
            return message
        if time.monotonic() > deadline:  # messages keep coming: the receive alone never times out
            pytest.fail("no changes message satisfied the test in time")


def changed_ids(message: dict) -> set[str]:
    return {row["containerId"] for row in message["stats"]}


def test_changes_only_sends_what_changed_and_the_gone_and_never_a_hidden_container(
    owner, container, stats, docker_client
):
    burner = container("while :; do :; done")
    idle = container("sleep 3600")
    stopping = container("sleep 3600")
    stranger = container("sleep 3600", owner=None)
    headers = session_headers(owner)

    async def scenario():
        socket = WebsocketCommunicator(application, f"{PATH}?changes=only", headers=headers)
        assert (await socket.connect())[0]
        seen = Seen()
        first = seen.apply(await socket.receive_json_from(timeout=10))
        assert first["full"] is True and first["gone"] == []

        def measured(_message):
            rows = [seen.rows.get(found.id, {}) for found in (burner, idle, stopping)]
            return all(row.get("cpuPercent") is not None for row in rows)

        await changes_with(socket, seen, measured)
        row = seen.rows[burner.id]
        assert row["memoryBytes"] > 0 and row["pids"] >= 1 and "takenAt" not in row
        assert row["cpuPercent"] == round(row["cpuPercent"], 1)

        # A round where the burner's CPU moved and the idle container's values did not: only the former,
        # and only its changed fields.
        def burner_alone(message):
            return burner.id in changed_ids(message) and idle.id not in changed_ids(message)

        message = await changes_with(socket, seen, burner_alone)
        assert message["full"] is False and message["takenAt"]
        sent = next(row for row in message["stats"] if row["containerId"] == burner.id)
        assert "cpuPercent" in sent and not {"name", "nodeId", "memoryLimitBytes", "source"} & set(sent)

        await asyncio.to_thread(docker_client.containers.get(stopping.id).kill)
        await changes_with(socket, seen, lambda m: stopping.id in m["gone"])
        assert stopping.id not in seen.rows and burner.id in seen.rows and idle.id in seen.rows
        assert stranger.id not in seen.ids
        await socket.disconnect()

    async_to_sync(scenario)()


def test_changes_only_sends_a_container_that_became_invisible_as_gone(owner, make_user, container, stats, monkeypatch):
    monkeypatch.setattr(stats_consumer, "VISIBILITY_SECONDS", 0)  # ask again every round
    mine = container("sleep 3600")
    headers = session_headers(owner)

    async def scenario():
        socket = WebsocketCommunicator(application, f"{PATH}?changes=only", headers=headers)
        assert (await socket.connect())[0]
        seen = Seen()
        seen.apply(await socket.receive_json_from(timeout=10))
        await changes_with(socket, seen, lambda _m: mine.id in seen.rows)
        other = await database_sync_to_async(make_user)(Scope.CONTAINER_VIEW)
        await database_sync_to_async(Container.objects.filter(container_id=mine.id).update)(created_by=other)
        await changes_with(socket, seen, lambda m: mine.id in m["gone"])
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("query", ["changes=all", "changes=", "changes=only&changes=only", "changes=ONLY"])
def test_a_bad_changes_value_closes_4400(owner, query):
    headers = session_headers(owner)

    async def scenario():
        socket = WebsocketCommunicator(application, f"{PATH}?{query}", headers=headers)
        assert await socket.connect() == (False, 4400)

    async_to_sync(scenario)()
