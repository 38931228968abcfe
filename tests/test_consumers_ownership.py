"""The websockets between accounts: the status stream sends each socket only the containers its user may see,
and another account's log socket is refused as for an unknown container."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

from containersvc.scopes import Scope
from tests.conftest import session_headers
from tests.sockets import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def carries(message: dict, container_id: str) -> bool:
    return message["type"] == "container.status" and (
        any(shown["id"] == container_id for shown in message["containers"]) or container_id in message["removed"]
    )


def running_in(container_id: str):
    return lambda m: (
        m["type"] == "container.status"
        and any(shown["id"] == container_id and shown["state"] == "running" for shown in m["containers"])
    )


def test_the_status_stream_carries_only_the_users_containers(owner, make_user, container):
    other = make_user(*Scope)
    mine_headers, other_headers = session_headers(owner), session_headers(other)
    admin_headers = session_headers(make_user(superuser=True))

    async def scenario():
        mine_socket, other_socket = (
            communicator("/ws/containers/", mine_headers),
            communicator("/ws/containers/", other_headers),
        )
        assert (await mine_socket.connect(timeout=10))[0] and (await other_socket.connect(timeout=10))[0]
        mine_seen, other_seen = [], []
        full = lambda m: m["type"] == "container.status" and m["full"]  # noqa: E731
        await receive_until(mine_socket, full, timeout=15, seen=mine_seen)
        await receive_until(other_socket, full, timeout=15, seen=other_seen)

        mine = await asyncio.to_thread(container, "sleep 600")
        theirs = await asyncio.to_thread(container, "sleep 600", owner=other)
        await receive_until(mine_socket, running_in(mine.id), timeout=15, seen=mine_seen)
        # The other account's own container comes after the first one's events: they were all filtered by then.
        await receive_until(other_socket, running_in(theirs.id), timeout=15, seen=other_seen)
        await asyncio.to_thread(mine.remove, force=True)
        await asyncio.to_thread(theirs.remove, force=True)
        await receive_until(
            other_socket,
            lambda m: m["type"] == "container.status" and theirs.id in m["removed"],
            timeout=15,
            seen=other_seen,
        )
        await receive_until(
            mine_socket,
            lambda m: m["type"] == "container.status" and mine.id in m["removed"],
            timeout=15,
            seen=mine_seen,
        )

        assert not any(carries(message, mine.id) for message in other_seen)
        assert not any(carries(message, theirs.id) for message in mine_seen)
        await mine_socket.disconnect()
        await other_socket.disconnect()

        # A new socket's full list: the superuser's has both, the account's only its own.
        again = await asyncio.to_thread(container, "sleep 600")
        admin_socket, other_socket = (
            communicator("/ws/containers/", admin_headers),
            communicator("/ws/containers/", other_headers),
        )
        assert (await admin_socket.connect(timeout=10))[0] and (await other_socket.connect(timeout=10))[0]
        admin_full = await receive_until(admin_socket, full, timeout=15)
        other_full = await receive_until(other_socket, full, timeout=15)
        assert again.id in {shown["id"] for shown in admin_full["containers"]}
        assert again.id not in {shown["id"] for shown in other_full["containers"]}
        await admin_socket.disconnect()
        await other_socket.disconnect()

    async_to_sync(scenario)()


def test_another_accounts_log_socket_is_closed_as_for_an_unknown_container(owner, make_user, container):
    running = container("sleep 600")
    other, mine = session_headers(make_user(*Scope)), session_headers(owner)

    async def scenario():
        foreign = await communicator(f"/ws/containers/{running.id}/logs/", other).connect(timeout=10)
        unknown = await communicator(f"/ws/containers/{'0' * 64}/logs/", other).connect(timeout=10)
        assert foreign == unknown == (False, 4404)
        socket = communicator(f"/ws/containers/{running.id}/logs/", mine)
        assert (await socket.connect(timeout=10))[0]
        await socket.disconnect()

    async_to_sync(scenario)()
