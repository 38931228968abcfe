"""The grammar of what callers name: image references, container names, env keys, paths, hashes, GPU ids.

Each check raises InvalidRequest with a message a caller can act on; the engine never sees bad input.
"""

import math
import posixpath
import re
from dataclasses import dataclass

from containersvc.errors import InvalidRequest

# The distribution reference grammar (what `docker pull` accepts), written out.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# Every grammar is applied with fullmatch: `$` would also match before a final newline.
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
MAX_REFERENCE_LENGTH = 255

CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# The engine resolves such a string as a container id (or id prefix): a name like that could shadow another.
ID_LIKE_NAME = re.compile(r"[0-9a-fA-F]{12,64}")
MAX_CONTAINER_NAME_LENGTH = 128
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
FORBIDDEN_ENV_KEYS = frozenset({"NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES"})
FORBIDDEN_CONTAINER_DIRS = ("/proc", "/sys", "/dev")

MESSAGE_IMAGE_EMPTY = "image is required."
MESSAGE_IMAGE_INVALID = (
    "image '{value}' is not a valid image reference (e.g. 'nginx:1.27' or 'registry:5000/team/app')."
)
MESSAGE_NAME_INVALID = (
    "name '{value}' is not a valid container name: use 2-128 characters from letters, digits, '_', '.' and '-', "
    "starting with a letter or digit."
)
MESSAGE_NAME_LIKE_ID = (
    "name '{value}' looks like a container id (12-64 hexadecimal characters), which the engine would confuse "
    "with another container: choose a name with other characters."
)


@dataclass(frozen=True, slots=True)
class ImageReference:
    repository: str
    tag: str | None
    digest: str | None
    registry: str | None = None  # host[:port] as written; None: the engine's default registry

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def pull_reference(self) -> str:
        """The reference as the engine stores it: the implicit tag is 'latest'."""
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag or 'latest'}"


def image_reference(value: str) -> ImageReference:
    if not value or not value.strip():
        raise InvalidRequest(MESSAGE_IMAGE_EMPTY)
    match = _REFERENCE.fullmatch(value) if len(value) <= MAX_REFERENCE_LENGTH else None
    if not match:
        raise InvalidRequest(MESSAGE_IMAGE_INVALID.format(value=value[:100]))
    domain = match["domain"]
    # Without a dot, colon or 'localhost', the first component is a path component, not a registry.
    is_registry = domain and ("." in domain or ":" in domain or domain == "localhost" or domain.startswith("["))
    if domain and not is_registry and domain != domain.lower():
        raise InvalidRequest(MESSAGE_IMAGE_INVALID.format(value=value[:100]))
    registry = domain if is_registry else None
    repository = f"{domain}/{match['path']}" if domain else match["path"]
    return ImageReference(repository=repository, tag=match["tag"], digest=match["digest"], registry=registry)


def container_name(value: str) -> str:
    if len(value) > MAX_CONTAINER_NAME_LENGTH or not CONTAINER_NAME.fullmatch(value):
        raise InvalidRequest(MESSAGE_NAME_INVALID.format(value=value[:100]))
    if ID_LIKE_NAME.fullmatch(value):
        raise InvalidRequest(MESSAGE_NAME_LIKE_ID.format(value=value))
    return value


def env_key(value: str) -> str:
    if not ENV_KEY.fullmatch(value):
        raise InvalidRequest(
            f"env key '{value[:100]}' is not valid: use letters, digits and '_', not starting with a digit."
        )
    if value.upper() in FORBIDDEN_ENV_KEYS:
        raise InvalidRequest(f"env key '{value}' is not allowed: ask for GPUs with capabilities.gpuEnabled.")
    return value


def label_key(value: str) -> str:
    if not LABEL_KEY.fullmatch(value) or len(value) > 255:
        raise InvalidRequest(f"label key '{value[:100]}' is not valid.")
    if value.lower().startswith("containersvc."):
        raise InvalidRequest(f"label key '{value}' is reserved for Container Svc.")
    return value


# --- a run request's hash and GPU ids -----------------------------------------------------------------------
# Anchored for the API's serializer fields (DRF's RegexField searches) and the OpenAPI document, which both take
# these compiled patterns; the checks below still apply them with fullmatch.
MAX_HASH_LENGTH = 255
RUN_HASH = re.compile(r"^[A-Za-z0-9_.:+=/-]*$")
GPU_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

MESSAGE_HASH = f"hash may hold letters, digits and _.:+=/- (at most {MAX_HASH_LENGTH})."
MESSAGE_GPU_ID = "A GPU is given by its index or UUID (letters, digits and '-')."


def run_hash(value: str) -> str:
    if len(value) > MAX_HASH_LENGTH or not RUN_HASH.fullmatch(value):
        raise InvalidRequest(MESSAGE_HASH)
    return value


def gpu_id(value: str) -> str:
    if not GPU_ID.fullmatch(value):
        raise InvalidRequest(MESSAGE_GPU_ID)
    return value


def container_path(value: str) -> str:
    """An absolute path inside a container, normalised, not the root and not a kernel filesystem."""
    if not value.startswith("/") or "\0" in value or len(value) > 1024:
        raise InvalidRequest(f"path '{value[:100]}' must be an absolute path inside the container.")
    normalised = posixpath.normpath(value)
    if normalised == "/":
        raise InvalidRequest("path '/' cannot be kept: name a directory inside the container.")
    if any(normalised == root or normalised.startswith(root + "/") for root in FORBIDDEN_CONTAINER_DIRS):
        raise InvalidRequest(f"path '{normalised}' is under a kernel filesystem and cannot be kept.")
    return normalised


# --- resource limits ----------------------------------------------------------------------------------------
MIN_CPUS = 0.01  # the engine's smallest CPU limit
MIN_MEMORY_BYTES = 6 * 1024**2  # the engine refuses a smaller memory limit
MAX_MEMORY_BYTES = 2**50
MAX_PIDS_LIMIT = 4_194_304  # the kernel's largest pid_max

MESSAGE_CPUS_INVALID = "cpus must be a number of CPUs from 0.01 to {maximum} (this node's CPUs)."
MESSAGE_CPUS_NOT_A_NUMBER = "cpus must be a number of CPUs from 0.01 up, e.g. 0.5 or 2."
MESSAGE_MEMORY_INVALID = (
    f"memoryBytes must be a whole number of bytes from {MIN_MEMORY_BYTES} (6 MiB, the engine's smallest) "
    f"to {MAX_MEMORY_BYTES}."
)
MESSAGE_PIDS_INVALID = f"pidsLimit must be a whole number of processes from 1 to {MAX_PIDS_LIMIT}."


def cpus(value: float, *, node_cpus: int | None = None) -> int:
    """CPUs (fractional cores) as the engine's nano CPUs; at most the node's CPUs when they are known."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidRequest(MESSAGE_CPUS_NOT_A_NUMBER)
    if value < MIN_CPUS or (node_cpus and value > node_cpus):
        if node_cpus:
            raise InvalidRequest(MESSAGE_CPUS_INVALID.format(maximum=node_cpus))
        raise InvalidRequest(MESSAGE_CPUS_NOT_A_NUMBER)
    return round(value * 1_000_000_000)


def memory_bytes(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MEMORY_BYTES <= value <= MAX_MEMORY_BYTES:
        raise InvalidRequest(MESSAGE_MEMORY_INVALID)
    return value


def pids_limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PIDS_LIMIT:
        raise InvalidRequest(MESSAGE_PIDS_INVALID)
    return value
