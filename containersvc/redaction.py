"""Error messages name no host paths or internal addresses: the one rule, applied to every ContainerSvcError.

The engine and runc quote what they were given (keep directories under the data root, build contexts under the
build root, their own state directories) and Go's resolver quotes the host's DNS server. A caller sees the build
root's paths as the relative paths it gave, the data root as `<data dir>`, and nothing of the rest.
"""

import os
import re

from django.conf import settings

DATA_DIR_SHOWN = "<data dir>"
ENGINE_DIR_SHOWN = "<engine dir>"
RESOLVER_SHOWN = "<resolver>"
_END_OF_ROOT = r"(?![\w.-])"
# The engine's and containerd's own state (overlay mounts, bundles, shims): Docker's default roots.
_ENGINE_PATH = re.compile(
    r"(?<![\w./-])(?:/var)?/(?:lib|run)/(?:docker|containerd)(?:/[^\s\"'`,;:()]*)?" + _END_OF_ROOT
)
# Go's resolver errors: "lookup NAME on 10.0.0.2:53: no such host", "read udp 172.17.0.1:40000->10.0.0.2:53: ...".
_LOOKUP_ON = re.compile(r"(lookup \S+) on \S+:53(?!\d)")
_UDP_TO_RESOLVER = re.compile(r"udp \S+->\S+:53(?!\d)")
_RESOLVER = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):53(?!\d)")


def _spellings(path) -> list[str]:
    """The path as configured and as resolved (a symlinked root is quoted either way), longest first."""
    return sorted({str(path).rstrip("/"), os.path.realpath(path)}, key=len, reverse=True)


def without_host_details(message: str) -> str:
    """The message with build-root paths made relative, the data root hidden, engine paths and resolvers removed."""
    for root in _spellings(settings.BUILD_ROOT):
        message = re.sub(re.escape(root) + r"(?:/(?=[^\s\"'])|" + _END_OF_ROOT + ")", _relative, message)
    for root in _spellings(settings.DATA_DIR):
        message = re.sub(re.escape(root) + _END_OF_ROOT, DATA_DIR_SHOWN, message)
    message = _ENGINE_PATH.sub(ENGINE_DIR_SHOWN, message)
    message = _LOOKUP_ON.sub(r"\1", message)
    message = _UDP_TO_RESOLVER.sub(f"udp {RESOLVER_SHOWN}", message)
    return _RESOLVER.sub(RESOLVER_SHOWN, message)


def _relative(match: re.Match) -> str:
    # "<root>/app/Dockerfile" becomes "app/Dockerfile" (as the caller wrote it); the root itself becomes ".".
    return "" if match.group(0).endswith("/") else "."
