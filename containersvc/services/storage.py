"""Service-owned directories under the data root: keeps (per container name and path) and assets.

Callers never choose a host path: every directory here is derived from names the service validated.
"""

import hashlib
import ipaddress
import os
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from containersvc.engine import Mount
from containersvc.errors import InvalidRequest

ASSET_MOUNT_ROOT = "/containersvc/assets"
MAX_REDIRECTS = 5
_asset_locks = [threading.Lock() for _ in range(32)]


def _slug(path: str) -> str:
    readable = "".join(char if char.isalnum() or char in "._-" else "_" for char in path.strip("/"))[:80]
    return f"{readable}-{hashlib.sha256(path.encode()).hexdigest()[:10]}"


def keep_directory(*, container_name: str, container_path: str) -> Path:
    directory = settings.DATA_DIR / "keeps" / container_name / _slug(container_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def keeps_mounts(*, container_name: str, keeps: list[tuple[str, bool]]) -> list[Mount]:
    return [
        Mount(
            host_path=str(keep_directory(container_name=container_name, container_path=path)),
            container_path=path,
            read_only=read_only,
        )
        for path, read_only in keeps
    ]


def _check_address(host: str) -> None:
    if settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as error:
        raise InvalidRequest(f"asset host '{host}' cannot be resolved.") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise InvalidRequest(f"asset host '{host}' resolves to a non-public address ({address}), which is refused.")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidRequest(f"asset url '{url[:200]}' must be an http or https URL.")
    _check_address(parts.hostname)


def asset_path(url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()
    name = os.path.basename(urlsplit(url).path) or "asset"
    name = "".join(char if char.isalnum() or char in "._-" else "_" for char in name)[:100]
    return settings.DATA_DIR / "assets" / digest[:32] / name


def asset_fetch(*, url: str) -> Path:
    """Download once (cached by URL), following redirects only to allowed addresses."""
    target = asset_path(url)
    with _asset_locks[hash(url) % len(_asset_locks)]:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        _download(url, target)
    return target


def _download(url: str, target: Path) -> None:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(current)
        try:
            response = requests.get(
                current, stream=True, timeout=settings.CONTAINERSVC_ASSET_TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as error:
            raise InvalidRequest(f"asset '{url[:200]}' could not be downloaded: {error.__class__.__name__}.") from error
        with response:
            if response.is_redirect:
                current = urljoin(current, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise InvalidRequest(f"asset '{url[:200]}' could not be downloaded: HTTP {response.status_code}.")
            _write_bounded(response, target, url)
            return
    raise InvalidRequest(f"asset '{url[:200]}' redirects too many times.")


def _write_bounded(response: requests.Response, target: Path, url: str) -> None:
    written = 0
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        try:
            for block in response.iter_content(1024 * 1024):
                written += len(block)
                if written > settings.CONTAINERSVC_ASSET_MAX_BYTES:
                    raise InvalidRequest(f"asset '{url[:200]}' is larger than the allowed size.")
                partial.write(block)
        except BaseException:
            os.unlink(partial.name)
            raise
    os.chmod(partial.name, 0o644)
    os.replace(partial.name, target)


def assets_mounts(*, assets: list[tuple[str, str]]) -> tuple[list[Mount], dict[str, str]]:
    """Fetch each asset and mount it read-only; returns the mounts and the env vars pointing at them."""
    mounts, env = [], {}
    for env_var_key, url in assets:
        path = asset_fetch(url=url)
        inside = f"{ASSET_MOUNT_ROOT}/{path.parent.name}/{path.name}"
        mounts.append(Mount(host_path=str(path), container_path=inside, read_only=True))
        env[env_var_key] = inside
    return mounts, env
