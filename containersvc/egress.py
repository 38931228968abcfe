"""Which addresses the service and the engine may be sent to, and outbound HTTP pinned to the checked address.

One rule for registries (pulls, pullable), asset downloads and anything else that connects where a caller
says: resolve the host once, refuse loopback, link-local, private, unspecified, multicast and reserved
addresses, and connect to the address that was checked (never resolve the name again: DNS rebinding).
"""

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from containersvc.errors import InvalidRequest

MESSAGE_URL_INVALID = "{what} url '{url}' must be an http or https URL."
MESSAGE_UNRESOLVABLE = "{what} host '{host}' cannot be resolved."
MESSAGE_NOT_PUBLIC = "{what} host '{host}' resolves to a non-public address ({address}), which is refused."
MESSAGE_REGISTRY_REFUSED = (
    "registry host '{host}' resolves to a non-public address ({address}), which is refused; "
    "an operator may list it in CONTAINERSVC_ALLOWED_REGISTRIES."
)
DEFAULT_PORTS = {"http": 80, "https": 443}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


class EgressUnresolvable(InvalidRequest):
    """The host has no address here: nothing can be connected to, nothing was refused."""


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A URL whose host was resolved once and checked; connect to `address`, speak to `host`."""

    url: str
    scheme: str
    host: str  # as written, without IPv6 brackets
    port: int
    address: str  # the checked address: the only one to connect to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS.get(self.scheme) else f"{host}:{self.port}"

    @property
    def request_target(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _system_resolver(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


_resolver: Resolver = _system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Replace how names are resolved (tests give made-up names an address); None restores the system's."""
    global _resolver
    _resolver = resolver or _system_resolver


def address_is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    return address.is_global and not (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def _resolve(host: str, what: str) -> list[Address]:
    try:
        answers = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in _resolver(host.strip("[]"))]
    except (OSError, UnicodeError, ValueError) as error:
        raise EgressUnresolvable(MESSAGE_UNRESOLVABLE.format(what=what, host=host)) from error
    if not answers:
        raise EgressUnresolvable(MESSAGE_UNRESOLVABLE.format(what=what, host=host))
    return answers


def _first_refused(answers: list[Address]) -> Address | None:
    return next((address for address in answers if not address_is_public(address)), None)


def egress_resolve(host: str, *, allow_private: bool = False, what: str = "target") -> str:
    """Resolve once; every address must be public (unless allowed); returns the one to connect to.

    Numeric forms the resolver accepts ('127.1', '0x7f.1', '2130706433') are resolved like names.
    """
    answers = _resolve(host, what)
    refused = None if allow_private else _first_refused(answers)
    if refused is not None:
        raise InvalidRequest(MESSAGE_NOT_PUBLIC.format(what=what, host=host, address=refused))
    return str(answers[0])


def egress_check_url(url: str, *, allow_private: bool = False, what: str = "url") -> ResolvedTarget:
    """Check an http(s) URL for an outbound request; connect with egress_request(target)."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number, or out of range
        port = None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        raise InvalidRequest(MESSAGE_URL_INVALID.format(what=what, url=url[:200]))
    address = egress_resolve(parts.hostname, allow_private=allow_private, what=what)
    return ResolvedTarget(url=url, scheme=parts.scheme, host=parts.hostname, port=port, address=address)


def egress_check_registry(registry: str | None) -> None:
    """Refuse a registry host (host[:port] as written in an image reference) the engine must not be sent to.

    No registry (Docker Hub by default) and hosts in CONTAINERSVC_ALLOWED_REGISTRIES pass unresolved.
    """
    if not registry or registry.lower() in {allowed.lower() for allowed in settings.CONTAINERSVC_ALLOWED_REGISTRIES}:
        return
    host = registry.partition("]")[0] + "]" if registry.startswith("[") else registry.rpartition(":")[0] or registry
    refused = _first_refused(_resolve(host, "registry"))
    if refused is not None:
        raise InvalidRequest(MESSAGE_REGISTRY_REFUSED.format(host=registry, address=refused))


@contextmanager
def egress_request(
    target: ResolvedTarget,
    *,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[urllib3.BaseHTTPResponse]:
    """One request to the checked address: the Host header, TLS SNI and certificate check use the name.

    Redirects are not followed (check each hop again); the body is read from the yielded response.
    """
    pool_options: dict = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            ssl_context=ssl.create_default_context(),  # the system's trust store
            server_hostname=target.host,
            assert_hostname=target.host,
            **pool_options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **pool_options)
    try:
        response = pool.urlopen(
            method,
            target.request_target,
            body=body,
            headers={**(headers or {}), "Host": target.host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            yield response
        finally:
            response.release_conn()
            response.close()
    finally:
        pool.close()
