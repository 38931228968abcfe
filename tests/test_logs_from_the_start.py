"""Live logs with `tail=all`: the whole past read for the socket, paced by its client, then the follower's lines."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync

from containersvc.consumers import flow
from containersvc.producers.log_followers import RECENT_LINES, followers
from tests.conftest import wait_until
from tests.sockets import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def read_to_end(socket, *, ack: bool = True, until=None, timeout: float = 30) -> list[dict]:
    """Every "lines" message up to the "end" (or until `until(messages)`), acknowledging each."""
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == "end":
            return messages
        assert message["type"] == "lines", message
        messages.append(message)
        if ack:
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
        if until and until(messages):
            return messages


async def burst_read_slowly(socket, running, lines: int) -> list[dict]:
    """Start the container's burst (it waits for /go), lag behind it for a while, then read `lines` lines."""
    await asyncio.to_thread(running.exec_run, ["touch", "/go"])
    # The client's lag is what this tests (time itself): slower than the burst, so that the follower's lines
    # outgrow the socket's queue meanwhile.
    await asyncio.sleep(3)
    messages, received = [], 0
    while received < lines:
        message = await socket.receive_json_from(timeout=30)
        messages.append(message)
        received += len(message["lines"])
        await socket.send_json_to({"type": "ack", "seq": message["seq"]})
    return messages


def texts(messages: list[dict]) -> list[str]:
    return [line[3] for message in messages for line in message["lines"]]


def wait_for_exit(found, timeout: float = 30) -> None:
    found.wait(timeout=timeout)


def test_a_finished_log_comes_whole_from_the_start_then_the_end(viewer, container):
    total = RECENT_LINES * 5
    finished = container(f"seq 1 {total}; echo oops >&2")
    wait_for_exit(finished)

    async def scenario():
        socket = communicator(f"/ws/containers/{finished.id}/logs/?tail=all", viewer)
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from(timeout=10))["type"] == "hello"
        messages = await read_to_end(socket)
        assert all(not message["skipped"] and not message["gap"] for message in messages)
        lines = [line for message in messages for line in message["lines"]]
        # The engine copies the two streams apart: where "oops" falls among the numbers is its business.
        assert [line[3] for line in lines if line[1] == "stdout"] == [str(n) for n in range(1, total + 1)]
        assert [line[3] for line in lines if line[1] == "stderr"] == ["oops"]
        await socket.disconnect()
        assert await wait_until(lambda: not followers.threads())

    async_to_sync(scenario)()


def test_the_past_waits_for_a_client_that_does_not_acknowledge_and_nothing_is_skipped(viewer, container):
    total = 20_000
    finished = container(f"seq 1 {total}")
    wait_for_exit(finished)

    async def scenario():
        socket = communicator(f"/ws/containers/{finished.id}/logs/?tail=all", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        unacked = []
        while len(unacked) < flow.WINDOW:
            unacked.append(await socket.receive_json_from(timeout=10))
        assert await socket.receive_nothing(timeout=1), "no more than the window goes out unacknowledged"
        # Acknowledged now: the rest comes, with nothing skipped.
        for message in unacked:
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
        rest = await read_to_end(socket)
        assert texts(unacked + rest) == [str(n) for n in range(1, total + 1)]
        assert sum(message["skipped"] for message in unacked + rest) == 0
        await socket.disconnect()

    async_to_sync(scenario)()


def test_from_the_start_joins_the_live_lines_without_losing_or_repeating_one(viewer, container, docker_client):
    before, after = RECENT_LINES * 3, 2500
    running = container(f"seq 1 {before}; until [ -e /go ]; do usleep 20000; done; seq {before + 1} {before + after}")

    async def scenario():
        await wait_until(lambda: running.logs().count(b"\n") >= before, timeout=30)
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=all", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        past = await read_to_end(socket, until=lambda messages: len(texts(messages)) >= before)
        assert [line[0] for message in past for line in message["lines"]] == [None] * before, "the past: no numbers"
        await asyncio.to_thread(running.exec_run, ["touch", "/go"])
        live = await read_to_end(socket)
        assert texts(past + live) == [str(n) for n in range(1, before + after + 1)]
        numbers = [line[0] for message in live for line in message["lines"]]
        assert None not in numbers and numbers == sorted(numbers), "then the follower's numbered lines"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_from_the_start_with_since_reads_only_newer_lines(viewer, container):
    finished = container("seq 1 3; sleep 1.2; seq 4 6")
    wait_for_exit(finished)
    raw = finished.logs(timestamps=True).decode().splitlines()
    third = raw[2].split(" ", 1)[0]
    from containersvc.engine import timestamp_ns

    async def scenario():
        socket = communicator(f"/ws/containers/{finished.id}/logs/?tail=all&since={timestamp_ns(third)}", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        assert texts(await read_to_end(socket)) == ["4", "5", "6"]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_leaving_while_the_past_is_read_ends_the_read(viewer, container):
    finished = container("seq 1 50000")
    wait_for_exit(finished)

    async def scenario():
        socket = communicator(f"/ws/containers/{finished.id}/logs/?tail=all", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        await socket.receive_json_from(timeout=10)  # a first batch, unacknowledged
        await socket.disconnect()
        assert await wait_until(lambda: not followers.threads())

    async_to_sync(scenario)()


def test_a_burst_that_outruns_the_client_is_read_again_from_the_engine_not_skipped(viewer, container):
    total = 60_000
    running = container(f"until [ -e /go ]; do usleep 20000; done; seq 1 {total}; sleep 600")

    async def scenario():
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=all", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        messages = await burst_read_slowly(socket, running, total)
        assert texts(messages) == [str(n) for n in range(1, total + 1)], "every line once, in order"
        assert sum(message["skipped"] for message in messages) == 0
        numbers = [line[0] for message in messages for line in message["lines"]]
        assert None in numbers, "part of it was read from the engine for this socket"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_socket_resumed_by_time_reads_again_only_after_what_its_client_had(viewer, container):
    total = 60_000
    running = container(f"seq 1 5; until [ -e /go ]; do usleep 20000; done; seq 6 {total}; sleep 600")

    async def scenario():
        first = communicator(f"/ws/containers/{running.id}/logs/?tail=all", viewer)
        assert (await first.connect())[0]
        await first.receive_json_from(timeout=10)  # hello
        seen = await read_to_end(first, until=lambda messages: len(texts(messages)) >= 5)
        await first.disconnect()
        # As the log viewer reconnects after lines of the past: by the last one's time.
        last_stamp = seen[-1]["lines"][-1][2]
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=all&since={last_stamp}", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        messages = await burst_read_slowly(socket, running, total - 5)
        assert texts(seen) + texts(messages) == [str(n) for n in range(1, total + 1)], "nothing repeated or lost"
        await socket.disconnect()

    async_to_sync(scenario)()
