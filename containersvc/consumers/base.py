"""What every scoped socket does: authenticate and check a scope before accepting, and re-check while open.

A refused socket is closed without being accepted (4401 not authenticated, 4403 missing scope), so it never
receives data. Scopes are checked again every RECHECK_SECONDS, so a logout or a revoked grant ends it.
"""

import asyncio
import contextlib

from channels.auth import get_user
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from containersvc import scopes
from containersvc.scopes import Scope

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_ENGINE_UNAVAILABLE = 4503
RECHECK_SECONDS = 60


class ScopedConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses set `required_scopes` (any one of them suffices) and implement `start()` and `stop()`."""

    required_scopes: tuple[Scope, ...] = ()
    _recheck_task: asyncio.Task | None = None

    async def authorize(self) -> bool:
        """True when the socket may go on; otherwise it has been closed with the reason."""
        code = await self._refusal(self.scope.get("user"))
        if code:
            await self.close(code=code)
            return False
        return True

    async def _refusal(self, user) -> int:
        if user is None or not user.is_authenticated or not user.is_active:
            return CLOSE_UNAUTHENTICATED
        for scope in self.required_scopes:
            if await user.ahas_perm(scopes.permission_name(scope)):
                return 0
        return CLOSE_FORBIDDEN

    async def accept(self, subprotocol: str | None = None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        if "session" in self.scope:
            self._recheck_task = asyncio.create_task(self._recheck())

    async def _recheck(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            # A fresh user from the session: a logout empties it, and the permission cache starts empty.
            code = await self._refusal(await get_user(self.scope))
            if code:
                await self.close(code=code)
                return

    async def disconnect(self, code: int) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck_task
        await self.stop()

    async def stop(self) -> None:
        """Release what connect() subscribed to; called once the socket is gone, accepted or not."""
