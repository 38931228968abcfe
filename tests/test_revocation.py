"""Revocation reaches open sockets within a second: a signal on the change, not the periodic re-check (which
these tests push out of the way)."""

import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission
from django.test import Client

from containersvc import scopes
from containersvc.asgi import application
from containersvc.consumers import base
from containersvc.models import AccessGrant, GrantLevel
from containersvc.scopes import Scope
from containersvc.services.accounts import token_issue, token_revoke
from tests.conftest import ORIGIN, TEST_LABEL, session_headers

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/containers/"  # container:view


@pytest.fixture(autouse=True)
def no_periodic_recheck(monkeypatch):
    monkeypatch.setattr(base, "RECHECK_SECONDS", 3600)


def view_permission() -> Permission:
    return Permission.objects.get(
        content_type__app_label="containersvc", codename=scopes.codename(Scope.CONTAINER_VIEW)
    )


def bearer_headers(user) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"authorization", f"Bearer {token_issue(user=user).token}".encode())]


async def open_socket(headers) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def close_code_within(socket: WebsocketCommunicator, seconds: float) -> int:
    """The code the server closes the socket with, which it must do within `seconds` (messages before it skipped)."""
    deadline = time.monotonic() + seconds
    while (output := await socket.receive_output(timeout=max(0.01, deadline - time.monotonic())))["type"] != (
        "websocket.close"
    ):
        pass
    await socket.disconnect()  # what the browser answers to the close
    return output["code"]


async def still_open(socket: WebsocketCommunicator) -> bool:
    """True when the socket is not closed within half a second (what it sends meanwhile is skipped)."""
    while not await socket.receive_nothing(timeout=0.5):
        if (await socket.receive_output())["type"] == "websocket.close":
            return False
    return True


def closes_within_a_second(headers, change, expected_code: int) -> None:
    async def scenario():
        socket = await open_socket(headers)
        await database_sync_to_async(change)()
        assert await close_code_within(socket, 1.0) == expected_code

    async_to_sync(scenario)()


def test_revoking_the_token_closes_its_socket(make_user):
    user = make_user(Scope.CONTAINER_VIEW)
    issued = token_issue(user=user)
    headers = [ORIGIN, (b"authorization", f"Bearer {issued.token}".encode())]

    closes_within_a_second(headers, lambda: token_revoke(record=issued.record), 4401)


def test_removing_the_users_permission_closes_the_socket(make_user):
    user = make_user(Scope.CONTAINER_VIEW)

    closes_within_a_second(session_headers(user), lambda: user.user_permissions.remove(view_permission()), 4403)


def test_removing_the_permission_from_the_users_group_closes_the_socket(make_user):
    user = make_user()
    group = Group.objects.create(name="viewers")
    group.permissions.add(view_permission())
    user.groups.add(group)

    closes_within_a_second(bearer_headers(user), lambda: group.permissions.remove(view_permission()), 4403)


def test_removing_the_user_from_the_group_closes_the_socket(make_user):
    user = make_user()
    group = Group.objects.create(name="viewers")
    group.permissions.add(view_permission())
    user.groups.add(group)

    closes_within_a_second(session_headers(user), lambda: group.user_set.remove(user), 4403)


def test_deleting_the_group_closes_its_members_sockets(make_user):
    user = make_user()
    group = Group.objects.create(name="viewers")
    group.permissions.add(view_permission())
    user.groups.add(group)

    closes_within_a_second(session_headers(user), group.delete, 4403)


def test_deactivating_the_user_closes_the_socket(make_user):
    user = make_user(Scope.CONTAINER_VIEW)

    def deactivate():
        user.is_active = False
        user.save()

    closes_within_a_second(bearer_headers(user), deactivate, 4401)


def test_logging_out_closes_that_sessions_sockets_and_no_others(make_user):
    user = make_user(Scope.CONTAINER_VIEW)
    browser = Client()
    browser.force_login(user)
    headers = [ORIGIN, (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]
    other_browser = session_headers(user)

    async def scenario():
        socket = await open_socket(headers)
        other = await open_socket(other_browser)
        await database_sync_to_async(browser.post)("/logout/")
        assert await close_code_within(socket, 1.0) == 4401
        assert await still_open(other)
        await other.disconnect()

    async_to_sync(scenario)()


def test_a_change_that_takes_nothing_away_leaves_the_socket_open(make_user):
    user = make_user(Scope.CONTAINER_VIEW, Scope.LOG_VIEW)
    log_view = Permission.objects.get(codename=scopes.codename(Scope.LOG_VIEW))
    headers = session_headers(user)

    async def scenario():
        socket = await open_socket(headers)
        await database_sync_to_async(lambda: user.user_permissions.remove(log_view))()
        assert await still_open(socket)  # checked again (signalled), and it still holds container:view
        await socket.disconnect()

    async_to_sync(scenario)()


def grant_taken_back_closes_the_log_socket(make_user, container, take_back) -> None:
    viewer = make_user(Scope.LOG_VIEW)
    key, value = next(iter(TEST_LABEL.items()))
    grant = AccessGrant.objects.create(user=viewer, level=GrantLevel.VIEW, label_selector=f"{key}={value}")
    running = container("sleep 600", owner=None)
    headers = session_headers(viewer)

    async def scenario():
        socket = WebsocketCommunicator(application, f"/ws/containers/{running.id}/logs/", headers=headers)
        assert (await socket.connect(timeout=10))[0]
        await database_sync_to_async(take_back)(grant)
        assert await close_code_within(socket, 1.0) == 4404  # as for a container it cannot see

    async_to_sync(scenario)()


def test_deleting_the_grant_closes_the_log_socket_of_a_container_it_showed(make_user, container):
    grant_taken_back_closes_the_log_socket(make_user, container, lambda grant: grant.delete())


def test_giving_the_grant_to_someone_else_closes_the_log_socket(make_user, container):
    someone = make_user()

    def give_away(grant: AccessGrant) -> None:
        grant.user = someone
        grant.save()

    grant_taken_back_closes_the_log_socket(make_user, container, give_away)
