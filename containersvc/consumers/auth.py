"""Bearer tokens on websockets, for services: `Authorization: Bearer <token>` on the upgrade request.

Runs inside AuthMiddlewareStack, so a browser's session wins and a socket without either stays anonymous
(the consumer then closes it with 4401). A bad token never falls back to anything.
"""

from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from containersvc.errors import TooManyRequests
from containersvc.services.accounts import token_authenticate
from containersvc.services.throttling import bearer_failure_record


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


@database_sync_to_async
def _authenticate(token: str, address: str) -> dict:
    """The scope's user for a token; a wrong one is counted as the API counts it, and past the limit the
    scope says for how long the address is refused (the consumer closes with 4429)."""
    record = token_authenticate(token=token) if token else None
    if record is not None:
        return {"user": record.user}
    try:
        bearer_failure_record(address=address)
    except TooManyRequests as error:
        return {"user": AnonymousUser(), "throttled_seconds": error.retry_after_seconds}
    return {"user": AnonymousUser()}


class BearerTokenMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        token = _bearer_token(scope.get("headers", []))
        if token is not None and (user is None or not user.is_authenticated):
            address = (scope.get("client") or ["unknown"])[0]
            scope = {**scope, **await _authenticate(token, address), "bearer_token": token}
        return await super().__call__(scope, receive, send)


def bearer(application):
    """Wrap one consumer's ASGI application."""
    return BearerTokenMiddleware(application)


DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _parsed_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an Origin header or a trusted origin; None when it is not one."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _served_scheme(scope) -> str:
    """The scheme of the pages that opened this socket: what the handshake says, else what the settings serve."""
    if scope.get("scheme") in {"ws", "wss"}:
        return "https" if scope["scheme"] == "wss" else "http"
    return "https" if settings.SECURE_SSL_REDIRECT else "http"


def origin_allowed(scope) -> bool:
    """True when the Origin is one of the service's own origins: scheme, host and port all match exactly.

    Cookies are per site, not per port, so a page on another port of an allowed host carries the dashboard's
    session: the port must be the one this socket is served on (the Host header's port), or the origin must be
    listed in CONTAINERSVC_TRUSTED_ORIGINS.
    """
    headers = scope.get("headers", [])
    origin = _parsed_origin(_header(headers, b"origin") or "")
    if origin is None:
        return False
    trusted = {_parsed_origin(item) for item in settings.CONTAINERSVC_TRUSTED_ORIGINS}
    if origin in trusted:
        return True
    scheme = _served_scheme(scope)
    host_header = _header(headers, b"host")
    served_host, served_port = split_domain_port(host_header or "")
    if host_header is not None and not validate_host(served_host, settings.ALLOWED_HOSTS):
        return False
    port = int(served_port) if served_port else DEFAULT_PORTS[scheme]
    return origin[0] == scheme and origin[2] == port and _host_allowed(origin[1])


def _host_allowed(host: str) -> bool:
    # ALLOWED_HOSTS spells IPv6 addresses in brackets, urlsplit's hostname without them.
    return validate_host(f"[{host}]" if ":" in host else host, settings.ALLOWED_HOSTS)


class OriginCheck:
    """Browsers must come from one of the service's own origins; services may use a bearer token and no Origin.

    The origin check stops other pages from using a browser's session cookie (browsers always send Origin).
    A client that sends no Origin is not a browser, and with a bearer token it carries no ambient credential a
    page could borrow, so there is nothing for the check to protect.
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", [])
        if (_bearer_token(headers) and _header(headers, b"origin") is None) or origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
