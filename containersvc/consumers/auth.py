"""Bearer tokens on websockets, for services: `Authorization: Bearer <token>` on the upgrade request.

Runs inside AuthMiddlewareStack, so a browser's session wins and a socket without either stays anonymous
(the consumer then closes it with 4401). A bad token never falls back to anything.
"""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from containersvc.services.accounts import token_authenticate


def _bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


@database_sync_to_async
def user_for_token(token: str):
    """The token's user, or AnonymousUser when it is unknown or revoked."""
    record = token_authenticate(token=token)
    return record.user if record is not None else AnonymousUser()


class BearerTokenMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        token = _bearer_token(scope.get("headers", []))
        if token is not None and (user is None or not user.is_authenticated):
            scope = {**scope, "user": await user_for_token(token) if token else AnonymousUser(), "bearer_token": token}
        return await super().__call__(scope, receive, send)


def bearer(application):
    """Wrap one consumer's ASGI application."""
    return BearerTokenMiddleware(application)


def _has_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(key.lower() == name for key, _ in headers)


class OriginCheck:
    """The origin check, except for services: a socket with a bearer token and no Origin header.

    The origin check stops other sites' pages from using a browser's session cookie (browsers always send
    Origin). A client that sends no Origin is not a browser, and with a bearer token it carries no ambient
    credential a page could borrow, so there is nothing for the check to protect.
    """

    def __init__(self, application) -> None:
        self.checked = AllowedHostsOriginValidator(application)
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", [])
        if _bearer_token(headers) and not _has_header(headers, b"origin"):
            return await self.application(scope, receive, send)
        return await self.checked(scope, receive, send)
