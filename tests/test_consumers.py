"""The websockets, through the real ASGI application (origin check, session auth) against the real engine."""

import asyncio
import os
import threading
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session

from containersvc import engine
from containersvc.consumers import base, flow
from containersvc.consumers import logs as logs_consumer
from containersvc.models import ImageBuild
from containersvc.producers.container_status import producer
from containersvc.producers.log_followers import followers
from containersvc.scopes import Scope
from containersvc.services import builds
from containersvc.services.accounts import token_issue, token_revoke
from tests.conftest import ORIGIN, TEST_LABEL, session_headers, wait_for, wait_until
from tests.sockets import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


# --- authentication, scopes, origin ----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/ws/containers/", f"/ws/containers/{'a' * 64}/logs/", "/ws/builds/1/"])
def test_anonymous_sockets_are_closed_4401(path):
    async def scenario():
        socket = communicator(path, [ORIGIN])
        connected, code = await socket.connect()
        assert (connected, code) == (False, 4401)

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("path", "granted"),
    [
        ("/ws/containers/", [Scope.LOG_VIEW, Scope.CONTAINER_RUN]),
        (f"/ws/containers/{'a' * 64}/logs/", [Scope.CONTAINER_VIEW]),
        ("/ws/builds/1/", [Scope.LOG_VIEW]),
    ],
)
def test_sockets_without_the_scope_are_closed_4403(path, granted, make_user):
    headers = session_headers(make_user(*granted))

    async def scenario():
        socket = communicator(path, headers)
        connected, code = await socket.connect()
        assert (connected, code) == (False, 4403)

    async_to_sync(scenario)()


def test_a_foreign_origin_is_refused(make_user):
    user = make_user(*Scope)
    headers = [(b"origin", b"http://evil.example"), session_headers(user)[1]]

    async def scenario():
        connected, _ = await communicator("/ws/containers/", headers).connect()
        assert connected is False

    async_to_sync(scenario)()


def test_logs_of_a_container_the_service_did_not_create_need_a_superuser(container, make_user):
    foreign = container("sleep 60", labels=TEST_LABEL, owner=None)
    headers = session_headers(make_user(Scope.LOG_VIEW))
    admin_headers = session_headers(make_user(superuser=True))

    async def scenario():
        # Closed as for an unknown container: the socket does not tell that it exists.
        connected, code = await communicator(f"/ws/containers/{foreign.id}/logs/", headers).connect()
        assert (connected, code) == (False, 4404)
        admin = communicator(f"/ws/containers/{foreign.id}/logs/", admin_headers)
        connected, _ = await admin.connect()
        assert connected
        await admin.disconnect()

    async_to_sync(scenario)()


def test_logs_of_an_unknown_container_are_closed_4404(viewer):
    async def scenario():
        connected, code = await communicator(f"/ws/containers/{'0' * 64}/logs/", viewer).connect()
        assert (connected, code) == (False, 4404)

    async_to_sync(scenario)()


@pytest.mark.parametrize("query", ["tail=abc", "tail=-1", "tail=1001", "tail=ALL", "tail=all&since=x", "after=1.5"])
def test_logs_with_bad_query_parameters_are_closed_4400(viewer, query):
    async def scenario():
        connected, code = await communicator(f"/ws/containers/{'0' * 64}/logs/?{query}", viewer).connect()
        assert (connected, code) == (False, 4400)

    async_to_sync(scenario)()


# --- container status ------------------------------------------------------------------------------------
def test_status_socket_sends_the_list_then_changes_made_with_the_docker_cli(viewer, container, docker_client):
    async def scenario():
        socket = communicator("/ws/containers/", viewer)
        assert (await socket.connect())[0]
        await receive_until(socket, lambda m: m["type"] == "container.status" and m["full"])
        started = await asyncio.to_thread(container, "sleep 60")
        seen = await receive_until(
            socket,
            lambda m: (
                m["type"] == "container.status"
                and any(c["id"] == started.id and c["state"] == "running" for c in m["containers"])
            ),
        )
        assert not seen["full"]
        await asyncio.to_thread(started.stop, timeout=0)
        await receive_until(
            socket,
            lambda m: (
                m["type"] == "container.status"
                and any(c["id"] == started.id and c["state"] == "exited" for c in m["containers"])
            ),
        )
        await asyncio.to_thread(started.remove)
        await receive_until(socket, lambda m: m["type"] == "container.status" and started.id in m["removed"])
        await socket.disconnect()
        assert await wait_until(lambda: not producer.threads())

    async_to_sync(scenario)()


# --- live logs -------------------------------------------------------------------------------------------
def test_logs_send_the_tail_then_live_lines_in_batches_with_streams_apart(viewer, container):
    # A pause keeps "oops" after the numbers: the engine orders the two streams by arrival.
    running = container(
        "seq 1 300; sleep 0.3; echo oops >&2; sleep 3; for i in $(seq 1 200); do echo live-$i; done; sleep 60"
    )
    wait_for(lambda: b"oops" in running.logs(), timeout=15, what="the container printed the numbers and oops")

    async def scenario():
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=50", viewer)
        assert (await socket.connect())[0]
        hello = await socket.receive_json_from(timeout=10)
        assert hello["type"] == "hello"
        first = await socket.receive_json_from(timeout=10)
        assert [line[3] for line in first["lines"]] == [str(n) for n in range(252, 301)] + ["oops"]
        assert first["lines"][-1][1] == "stderr" and first["lines"][0][1] == "stdout"
        await socket.send_json_to({"type": "ack", "seq": first["seq"]})
        live, messages = [], 0
        while len(live) < 200:
            message = await socket.receive_json_from(timeout=10)
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
            messages += 1
            live += [line[3] for line in message["lines"]]
        assert live == [f"live-{n}" for n in range(1, 201)]
        assert messages < 20, "lines are batched, not one message each"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_two_viewers_share_one_engine_follow(viewer, container):
    running = container("while true; do echo tick; sleep 0.1; done")

    async def scenario():
        path = f"/ws/containers/{running.id}/logs/"
        first, second = communicator(path, viewer), communicator(path, viewer)
        assert (await first.connect())[0] and (await second.connect())[0]
        assert followers.subscribers(running.id) == 2
        assert len([t for t in followers.threads() if running.id[:12] in t.name]) == 2  # one reader, one publisher
        for socket in (first, second):
            await receive_until(socket, lambda m: m["type"] == "lines" and m["lines"])
        await first.disconnect()
        assert followers.subscribers(running.id) == 1
        await receive_until(second, lambda m: m["type"] == "lines" and m["lines"])
        await second.disconnect()
        assert await wait_until(lambda: not followers.threads())

    async_to_sync(scenario)()


def test_a_slow_client_gets_skip_markers_and_server_memory_stays_bounded(viewer, container):
    running = container("sleep 1; seq 1 60000")
    total = 60000

    async def scenario():
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=0", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        # Not acknowledging: the server sends its window, then holds back however much the container prints.
        unacked = []
        while len(unacked) < flow.WINDOW:
            unacked.append(await socket.receive_json_from(timeout=10))
        await asyncio.to_thread(running.wait, timeout=60)
        # The follower has handed on everything once its output ended and its threads are gone.
        assert await wait_until(lambda: not followers.threads(), timeout=60)
        # Nothing more for a second: an absence, so time itself is what this checks.
        assert await socket.receive_nothing(timeout=1)
        received = sum(len(message["lines"]) for message in unacked)
        held_back, skipped, last = 0, 0, unacked[-1]
        await socket.send_json_to({"type": "ack", "seq": last["seq"]})
        while (message := await socket.receive_json_from(timeout=10))["type"] != "end":
            held_back += len(message["lines"])
            skipped += message["skipped"]
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
            last = message
        assert received + held_back + skipped == total
        # All the socket held while the client did not read was its bounded queue; the rest was skipped.
        assert 0 < held_back <= flow.MAX_QUEUED_LINES
        assert skipped >= total - received - flow.MAX_QUEUED_LINES
        assert last["lines"][-1][3] == str(total), "the newest lines are kept, the oldest give way"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_reconnecting_with_generation_and_after_resumes_without_duplicates(viewer, container):
    running = container("for i in $(seq 1 40); do echo n-$i; sleep 0.05; done; sleep 60")

    async def scenario():
        path = f"/ws/containers/{running.id}/logs/"
        keeper = communicator(path, viewer)  # keeps the follower alive across the reconnect
        assert (await keeper.connect())[0]
        first = communicator(path, viewer)
        assert (await first.connect())[0]
        generation = (await first.receive_json_from(timeout=10))["generation"]
        seen = []
        while len(seen) < 10:
            message = await first.receive_json_from(timeout=10)
            await first.send_json_to({"type": "ack", "seq": message["seq"]})
            seen += message["lines"]
        await first.disconnect()
        assert await wait_until(lambda: followers.subscribers(running.id) == 1)  # only the keeper
        await asyncio.to_thread(
            wait_for,
            lambda: len(running.logs().splitlines()) >= min(len(seen) + 5, 40),
            timeout=15,
            what="lines printed while no socket of this client was open",
        )
        again = communicator(f"{path}?generation={generation}&after={seen[-1][0]}", viewer)
        assert (await again.connect())[0]
        await again.receive_json_from(timeout=10)
        while seen[-1][3] != "n-40":
            message = await again.receive_json_from(timeout=10)
            await again.send_json_to({"type": "ack", "seq": message["seq"]})
            seen += message["lines"]
        assert [line[3] for line in seen] == [f"n-{n}" for n in range(1, 41)]
        await again.disconnect()
        await keeper.disconnect()

    async_to_sync(scenario)()


def test_disconnect_ends_the_follow_with_no_leaked_threads_or_descriptors(viewer, container):
    running = container("while true; do echo x; sleep 0.01; done")
    path = f"/ws/containers/{running.id}/logs/?tail=5"

    async def cycle():
        socket = communicator(path, viewer)
        assert (await socket.connect(timeout=10))[0]  # leaks are tested here, not latency
        await socket.receive_json_from(timeout=10)
        await socket.disconnect()

    def own_threads() -> int:
        """Threads other than the (bounded, reused) worker pools that run sync calls."""
        pools = ("ThreadPoolExecutor", "asyncio_")
        return len([thread for thread in threading.enumerate() if not thread.name.startswith(pools)])

    async def scenario():
        for _ in range(20):  # warm up: pooled connections and worker threads exist from here on
            await cycle()
        assert await wait_until(lambda: not followers.threads())
        threads, descriptors = own_threads(), len(os.listdir("/proc/self/fd"))
        for _ in range(1000):
            await cycle()
        assert await wait_until(lambda: not followers.threads())
        assert await wait_until(lambda: own_threads() <= threads)
        assert len(os.listdir("/proc/self/fd")) <= descriptors + 2

    async_to_sync(scenario)()


# --- build output ----------------------------------------------------------------------------------------
def test_build_output_streams_live_and_ends_with_the_status(make_user, test_image):
    context = Path(settings.BUILD_ROOT) / "printer"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN echo {uuid.uuid4().hex} && "
        "for i in $(seq 1 30); do echo build-line-$i; sleep 0.05; done\n"
    )
    actor = make_user(*Scope)  # builds are seen by whoever started them
    viewer = session_headers(actor)
    build = builds.build_create(actor=actor, name="containersvc-test/printed:latest", context_path="printer",
                                dockerfile_path=None)  # fmt: skip

    async def scenario():
        socket = communicator(f"/ws/builds/{build.pk}/", viewer)
        assert (await socket.connect())[0]
        thread = await asyncio.to_thread(builds.build_start_in_background, actor=actor, build=build)
        text, status = "", None
        while status not in {"succeeded", "failed"}:
            message = await socket.receive_json_from(timeout=30)
            if message["type"] == "output":
                text += message["text"]
                await socket.send_json_to({"type": "ack", "seq": message["seq"]})
            else:
                status = message["status"]
        await asyncio.to_thread(thread.join, 10)
        assert status == "succeeded", text
        assert [n for n in range(1, 31) if f"build-line-{n}\n" in text] == list(range(1, 31))
        assert text.count("build-line-7\n") == 1
        await socket.disconnect()

    async_to_sync(scenario)()


def test_the_output_of_another_accounts_build_is_closed_4404(viewer, make_user):
    theirs = ImageBuild.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID, tag="containersvc-test/theirs:x", context_path="/nowhere",
        requested_by=make_user(Scope.IMAGE_BUILD),
    )  # fmt: skip

    async def scenario():
        connected, code = await communicator(f"/ws/builds/{theirs.pk}/", viewer).connect()
        assert (connected, code) == (False, 4404)

    async_to_sync(scenario)()


# --- bearer tokens, and scopes re-checked while open -----------------------------------------------------
def test_services_connect_with_a_bearer_token_and_a_bad_token_is_4401(make_user):
    issued = token_issue(user=make_user(Scope.CONTAINER_VIEW))

    async def scenario():
        socket = communicator("/ws/containers/", [ORIGIN, (b"authorization", f"Bearer {issued.token}".encode())])
        assert (await socket.connect())[0]
        await socket.disconnect()
        bad = communicator("/ws/containers/", [ORIGIN, (b"authorization", b"Bearer csvc_not-a-token")])
        assert await bad.connect() == (False, 4401)

    async_to_sync(scenario)()


def test_logging_out_ends_an_open_socket(make_user, monkeypatch):
    monkeypatch.setattr(base, "RECHECK_SECONDS", 0.3)
    headers = session_headers(make_user(Scope.CONTAINER_VIEW))

    async def scenario():
        socket = communicator("/ws/containers/", headers)
        assert (await socket.connect())[0]
        await database_sync_to_async(Session.objects.all().delete)()
        while (output := await socket.receive_output(timeout=5))["type"] != "websocket.close":
            pass
        assert output["code"] == 4401
        await socket.disconnect()  # what the browser answers to the close

    async_to_sync(scenario)()


def test_revoking_a_token_ends_an_open_socket(make_user, monkeypatch):
    monkeypatch.setattr(base, "RECHECK_SECONDS", 0.3)
    issued = token_issue(user=make_user(Scope.CONTAINER_VIEW))

    async def scenario():
        socket = communicator("/ws/containers/", [ORIGIN, (b"authorization", f"Bearer {issued.token}".encode())])
        assert (await socket.connect())[0]
        await database_sync_to_async(token_revoke)(record=issued.record)
        while (output := await socket.receive_output(timeout=5))["type"] != "websocket.close":
            pass
        assert output["code"] == 4401
        await socket.disconnect()  # what the browser answers to the close

    async_to_sync(scenario)()


# --- the engine going away and coming back ----------------------------------------------------------------
def test_status_socket_reports_the_engine_down_and_reconciles_when_it_is_back(viewer, settings, tmp_path):
    real_host = settings.CONTAINERSVC_DOCKER_HOST

    async def scenario():
        socket = communicator("/ws/containers/", viewer)
        assert (await socket.connect())[0]
        await receive_until(socket, lambda m: m["type"] == "container.status" and m["full"])
        settings.CONTAINERSVC_DOCKER_HOST = f"unix://{tmp_path}/gone.sock"
        engine.reset_clients()
        producer.reconnect()  # the stream breaks, as when the engine restarts
        down = await receive_until(socket, lambda m: m["type"] == "engine.status")
        assert down["available"] is False
        settings.CONTAINERSVC_DOCKER_HOST = real_host
        engine.reset_clients()
        await receive_until(socket, lambda m: m["type"] == "engine.status" and m["available"], timeout=20)
        await receive_until(socket, lambda m: m["type"] == "container.status" and m["full"])
        await socket.disconnect()
        assert await wait_until(lambda: not producer.threads())

    async_to_sync(scenario)()


def test_the_end_of_the_output_comes_after_its_last_lines(viewer, container):
    running = container("sleep 1; seq 1 3000")

    async def scenario():
        socket = communicator(f"/ws/containers/{running.id}/logs/?tail=0", viewer)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=10)  # hello
        lines = []
        while (message := await socket.receive_json_from(timeout=10))["type"] != "end":
            lines += [line[3] for line in message["lines"]]
            await socket.send_json_to({"type": "ack", "seq": message["seq"]})
        assert lines == [str(n) for n in range(1, 3001)]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_build_viewer_that_does_not_read_gets_the_newest_output_and_a_skip_count():
    """Unit-sized: the text window on its own, since a build cannot be made to print faster than a socket reads."""
    window = flow.TextWindow(offset=0, window=2, max_chars=10, batch_chars=4)
    window.add("0123456789abcdef")
    first, second = window.next_message(), window.next_message()
    assert window.next_message() is None, "the window is full until acknowledged"
    assert (first["text"], first["skipped"], first["offset"]) == ("6789", 6, 6)
    assert (second["text"], second["offset"]) == ("abcd", 10)
    window.ack(second["seq"])
    assert window.next_message()["text"] == "ef" and window.drained


def test_a_client_that_never_acknowledges_is_closed_4408(viewer, container, monkeypatch):
    monkeypatch.setattr(logs_consumer, "LAG_CLOSE_SECONDS", 0.5)
    running = container("while true; do echo spam; sleep 0.005; done")

    async def scenario():
        socket = communicator(f"/ws/containers/{running.id}/logs/", viewer)
        assert (await socket.connect())[0]
        while (output := await socket.receive_output(timeout=10))["type"] != "websocket.close":
            pass
        assert output["code"] == 4408
        await socket.disconnect()
        assert await wait_until(lambda: not followers.threads())

    async_to_sync(scenario)()


def test_no_line_is_sent_twice_where_the_tail_meets_the_follow(viewer, container):
    running = container("i=0; while true; do i=$((i + 1)); echo n-$i; sleep 0.002; done")
    wait_for(lambda: running.logs(tail=100).count(b"\n") == 100, timeout=15, what="a tail of 100 lines to read")

    async def scenario():
        for _ in range(3):  # each connect after the last one left starts a fresh follower, a fresh boundary
            socket = communicator(f"/ws/containers/{running.id}/logs/?tail=100", viewer)
            assert (await socket.connect())[0]
            await socket.receive_json_from(timeout=10)  # hello
            texts: list[str] = []
            while len(texts) < 400:
                message = await socket.receive_json_from(timeout=10)
                await socket.send_json_to({"type": "ack", "seq": message["seq"]})
                texts += [line[3] for line in message["lines"]]
            numbers = [int(text.removeprefix("n-")) for text in texts]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
            await socket.disconnect()
            assert await wait_until(lambda: not followers.threads())

    async_to_sync(scenario)()
