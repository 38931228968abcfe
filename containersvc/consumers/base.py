"""What every scoped socket does: authenticate and check a scope before accepting, and re-check while open.

A refused socket is closed without being accepted (4401 not authenticated, 4403 missing scope, 4429 too many
wrong tokens), so it never receives data. An open socket is checked again when its user's access changes
(containersvc/revocation.py signals it) and every RECHECK_SECONDS as a safety net.
"""

import asyncio
import contextlib
from importlib import import_module

from channels.auth import get_user
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from containersvc import scopes
from containersvc.consumers.auth import user_for_token
from containersvc.producers import groups
from containersvc.scopes import Scope

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY_FAILURES = 4429
CLOSE_ENGINE_UNAVAILABLE = 4503
RECHECK_SECONDS = 60


class ScopedConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses set `required_scopes` (any one of them suffices) and implement `start()` and `stop()`."""

    required_scopes: tuple[Scope, ...] = ()
    _recheck_task: asyncio.Task | None = None
    _access_closed = False  # closed by a check of access: later checks have nothing to do

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """A frame that is not a JSON object closes the socket with 4400, never 1011 and a traceback."""
        try:
            content = await self.decode_json(text_data) if text_data else None
        except (ValueError, RecursionError):
            content = None
        if not isinstance(content, dict):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        await self.receive_json(content, **kwargs)

    async def authorize(self) -> bool:
        """True when the socket may go on; otherwise it has been closed with the reason."""
        code = CLOSE_TOO_MANY_FAILURES if self.scope.get("throttled_seconds") else 0
        code = code or await self._refusal(self.scope.get("user"))
        if code:
            await self.close(code=code)
            return False
        return True

    async def _refusal(self, user) -> int:
        if user is None or not user.is_authenticated or not user.is_active:
            return CLOSE_UNAUTHENTICATED
        for scope in self.required_scopes:
            if await scopes.ascope_held(user, scope):
                return 0
        return CLOSE_FORBIDDEN

    async def accept(self, subprotocol: str | None = None, headers=None) -> None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            group = groups.user_group(user.pk)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        await super().accept(subprotocol, headers)
        if "session" in self.scope or "bearer_token" in self.scope:
            self._recheck_task = asyncio.create_task(self._recheck())

    async def _recheck(self) -> None:
        while not self._access_closed:
            await asyncio.sleep(RECHECK_SECONDS)
            await self._check_access()

    async def access_changed(self, event: dict) -> None:
        """The user's tokens, scopes, grants or account changed, or a session of theirs ended: check again now."""
        session = self.scope.get("session")
        if event.get("session") and session is not None and session.session_key:
            if event["session"] == groups.session_digest(session.session_key):
                await self._close_for_access(CLOSE_UNAUTHENTICATED)  # logged out: the session may not be gone yet
                return
        await self._check_access()

    async def _check_access(self) -> None:
        if self._access_closed:
            return
        code = await self._access_refusal(await self._current_user())
        if code:
            await self._close_for_access(code)

    async def _access_refusal(self, user) -> int:
        """Why an open socket may not go on (0: it may); a subclass adds what else it checked at connect."""
        return await self._refusal(user)

    async def _close_for_access(self, code: int) -> None:
        if not self._access_closed:
            self._access_closed = True
            await self.close(code=code)

    async def _current_user(self):
        """A fresh user (empty permission cache) from the token or the session: revoking or logging out ends it."""
        if self.scope.get("bearer_token"):
            return await user_for_token(self.scope["bearer_token"])
        # The scope's session object caches what it read at connect: read the session afresh.
        fresh = import_module(settings.SESSION_ENGINE).SessionStore(self.scope["session"].session_key)
        return await get_user({**self.scope, "session": fresh})

    async def disconnect(self, code: int) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck_task
        await self.stop()

    async def stop(self) -> None:
        """Release what connect() subscribed to; called once the socket is gone, accepted or not."""
