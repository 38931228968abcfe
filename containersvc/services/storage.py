"""Service-owned directories under the data root: keeps (per container name and path) and assets.

Callers never choose a host path: every directory here is derived from names the service validated.
"""

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

from containersvc.egress import egress_check_url, egress_request
from containersvc.engine import Mount
from containersvc.errors import InvalidRequest

ASSET_MOUNT_ROOT = "/containersvc/assets"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
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
        # Each hop is checked, and the connection goes to the address that was checked.
        checked = egress_check_url(current, allow_private=settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE, what="asset")
        try:
            with egress_request(checked, timeout=settings.CONTAINERSVC_ASSET_TIMEOUT) as response:
                if response.status in REDIRECT_STATUSES and response.headers.get("Location"):
                    current = urljoin(current, response.headers["Location"])
                    continue
                if response.status != 200:
                    raise InvalidRequest(f"asset '{url[:200]}' could not be downloaded: HTTP {response.status}.")
                _write_bounded(response, target, url)
                return
        except urllib3.exceptions.HTTPError as error:
            raise InvalidRequest(f"asset '{url[:200]}' could not be downloaded: {error.__class__.__name__}.") from error
    raise InvalidRequest(f"asset '{url[:200]}' redirects too many times.")


def _write_bounded(response: urllib3.BaseHTTPResponse, target: Path, url: str) -> None:
    written = 0
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        try:
            for block in response.stream(1024 * 1024):
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
