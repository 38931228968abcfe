"""The live stats socket (ws/stats/) through the real ASGI application, the collector driven by the test."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from containersvc.asgi import application
from containersvc.models import ContainerStatsSample
from containersvc.producers.stats_collector import collector
from containersvc.scopes import Scope
from tests.conftest import ORIGIN, session_headers, wait_for

PATH = "/ws/stats/"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stats(settings):
    settings.CONTAINERSVC_STATS_SOURCE = "cgroup"
    collector.reset()
    yield collector
    collector.reset()


async def batch_with(socket: WebsocketCommunicator, predicate, timeout: float = 30) -> dict:
    """Run collector rounds (in a thread, as its own thread would) until a batch satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        await asyncio.to_thread(collector.collect_once)
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        assert message["type"] == "stats.batch"
        if predicate(message):
            return message


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
