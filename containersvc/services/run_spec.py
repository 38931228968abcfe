"""The run request validated once: the API's serializer and the dashboard's form both hand its values here.

The values are camelCase, as the 1Backend clients send them, already typed (by the serializer or the form's
fields); the grammar of each value is validation.py's, the rules across values are here, and the result is
the service's RunSpec. An error names the request field at fault, as the API reports field errors.
"""

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from containersvc import validation
from containersvc.engine import Limits
from containersvc.errors import InvalidRequest
from containersvc.services.containers import RunSpec

MAX_PORTS = 64
MAX_LABELS = 64
MAX_ENVS = 256
MAX_KEY_CHARS = 255
MAX_ENV_VALUE_BYTES = 32 * 1024
MAX_ENV_TOTAL_BYTES = 128 * 1024
MAX_KEEPS = 32
MAX_ASSETS = 32
MAX_URL_CHARS = 2048
MAX_COMMAND_ARGS = 128
MAX_COMMAND_ARG_CHARS = 4096
MAX_GPU_IDS = 16
MAX_GPU_COUNT = 64

MESSAGE_PORT_TWICE = "Each internal port may be published once."
MESSAGE_HOST_PORT_TWICE = "Each host port may be used once."
MESSAGE_PORT_RANGE = "Ports are numbers from 1 to 65535 (a host port of 0 picks a free one)."
MESSAGE_ENV_TOTAL = f"The environment may hold at most {MAX_ENV_TOTAL_BYTES // 1024} KiB."
MESSAGE_KEEP_TWICE = "Each path may be kept once."
MESSAGE_URL = "Enter an http or https URL."
MESSAGE_GPU_BOTH = "Give gpuCount or gpuIds, not both."
MESSAGE_GPU_COUNT = f"gpuCount is a number of GPUs from 1 to {MAX_GPU_COUNT}."
MESSAGE_TOO_MANY = "Give at most {most}."
MESSAGE_TOO_LONG = "At most {most} characters."

_URL = URLValidator(schemes=["http", "https"])


class RunSpecInvalid(InvalidRequest):
    """A run request refused; `field` is the request field at fault and `detail` what is wrong with it."""

    def __init__(self, field: str, detail: str, *, at: str = "") -> None:
        self.field, self.detail = field, f"{at}: {detail}" if at else detail
        super().__init__(f"{field}: {self.detail}")


def _check(field: str, function, value, *, at: str = ""):
    """Run a validation.* check, its message reported against `field`."""
    try:
        return function(value)
    except InvalidRequest as error:
        raise RunSpecInvalid(field, error.message, at=at) from error


def _at_most(field: str, items: Sequence, most: int) -> Sequence:
    if len(items) > most:
        raise RunSpecInvalid(field, MESSAGE_TOO_MANY.format(most=most))
    return items


def _short(field: str, value: str, most: int, *, at: str) -> str:
    if len(value) > most:
        raise RunSpecInvalid(field, MESSAGE_TOO_LONG.format(most=most), at=at)
    return value


def _ports(items: Sequence[Mapping]) -> tuple[tuple[int, int], ...]:
    ports = tuple((port["internal"], port.get("host") or 0) for port in _at_most("ports", items, MAX_PORTS))
    if any(not 1 <= internal <= 65535 or not 0 <= host <= 65535 for internal, host in ports):
        raise RunSpecInvalid("ports", MESSAGE_PORT_RANGE)
    internals = [internal for internal, _ in ports]
    if len(set(internals)) != len(internals):
        raise RunSpecInvalid("ports", MESSAGE_PORT_TWICE)
    hosts = [host for _, host in ports if host]
    if len(set(hosts)) != len(hosts):
        raise RunSpecInvalid("ports", MESSAGE_HOST_PORT_TWICE)
    return ports


def _pairs(field: str, items: Sequence[Mapping], most: int, key_check) -> dict[str, str]:
    pairs = {}
    for index, item in enumerate(_at_most(field, items, most)):
        key, value = item["key"], item.get("value") or ""
        _short(field, key, MAX_KEY_CHARS, at=f"{index}: key")
        _short(field, value, MAX_ENV_VALUE_BYTES, at=f"{index}: value")
        pairs[key] = value
    for item in items:
        _check(field, key_check, item["key"])
    return pairs


def _envs(items: Sequence[Mapping]) -> dict[str, str]:
    envs = _pairs("envs", items, MAX_ENVS, validation.env_key)
    if sum(len(item["key"]) + len((item.get("value") or "").encode()) for item in items) > MAX_ENV_TOTAL_BYTES:
        raise RunSpecInvalid("envs", MESSAGE_ENV_TOTAL)
    return envs


def _keeps(items: Sequence[Mapping]) -> tuple[tuple[str, bool], ...]:
    keeps = tuple(
        (_check("keeps", validation.container_path, keep["path"], at=f"{index}: path"), bool(keep.get("readOnly")))
        for index, keep in enumerate(_at_most("keeps", items, MAX_KEEPS))
    )
    paths = [path for path, _ in keeps]
    if len(set(paths)) != len(paths):
        raise RunSpecInvalid("keeps", MESSAGE_KEEP_TWICE)
    return keeps


def _assets(items: Sequence[Mapping]) -> tuple[tuple[str, str], ...]:
    assets = []
    for index, asset in enumerate(_at_most("assets", items, MAX_ASSETS)):
        key = _check("assets", validation.env_key, asset["envVarKey"], at=f"{index}: envVarKey")
        url = _short("assets", asset["url"], MAX_URL_CHARS, at=f"{index}: url")
        try:
            _URL(url)
        except ValidationError as error:
            raise RunSpecInvalid("assets", MESSAGE_URL, at=f"{index}: url") from error
        assets.append((key, url))
    return tuple(assets)


def _gpus(capabilities: Mapping) -> tuple[bool, tuple[str, ...], int | None]:
    ids = tuple(_at_most("capabilities", capabilities.get("gpuIds") or (), MAX_GPU_IDS))
    count = capabilities.get("gpuCount") or None
    for gpu_id in ids:
        _check("capabilities", validation.gpu_id, gpu_id, at="gpuIds")
    if count is not None and not 1 <= count <= MAX_GPU_COUNT:
        raise RunSpecInvalid("capabilities", MESSAGE_GPU_COUNT, at="gpuCount")
    if count and ids:
        raise RunSpecInvalid("capabilities", MESSAGE_GPU_BOTH)
    # Asking for a count or for given GPUs is asking for GPUs, with or without gpuEnabled.
    return bool(capabilities.get("gpuEnabled") or count or ids), ids, count


def _limits(resources: Mapping) -> Limits:
    cpus = resources.get("cpus")
    memory, pids = resources.get("memoryBytes"), resources.get("pidsLimit")
    if cpus is not None:
        _check("resources", validation.cpus, cpus, at="cpus")  # at most the node's CPUs is checked on run
    if memory is not None:
        _check("resources", validation.memory_bytes, memory, at="memoryBytes")
    if pids is not None:
        _check("resources", validation.pids_limit, pids, at="pidsLimit")
    return Limits(nano_cpus=round(cpus * 1_000_000_000) if cpus else 0, memory_bytes=memory or 0, pids_limit=pids or 0)


def _command(items: Sequence[str] | None) -> tuple[str, ...] | None:
    if not items:
        return None
    for index, arg in enumerate(_at_most("command", items, MAX_COMMAND_ARGS)):
        _short("command", arg, MAX_COMMAND_ARG_CHARS, at=str(index))
    return tuple(items)


def run_spec_parse(*, data: Mapping) -> RunSpec:
    """The RunSpec of a run request (RunContainerRequestSerializer's shape); RunSpecInvalid when a value or a
    combination of values is not allowed."""
    reference = _check("image", validation.image_reference, data.get("image") or "")
    names = [_check("names", validation.container_name, name) for name in _at_most("names", data.get("names") or [], 1)]
    run_hash = _check("hash", validation.run_hash, data.get("hash") or "")
    ports = _ports(data.get("ports") or [])
    labels = _pairs("labels", data.get("labels") or [], MAX_LABELS, validation.label_key)
    envs = _envs(data.get("envs") or [])
    keeps = _keeps(data.get("keeps") or [])
    assets = _assets(data.get("assets") or [])
    gpu_enabled, gpu_ids, gpu_count = _gpus(data.get("capabilities") or {})
    return RunSpec(
        image=data["image"],
        reference=reference,
        name=names[0] if names else None,
        hash=run_hash,
        ports=ports,
        labels=labels,
        envs=envs,
        keeps=keeps,
        assets=assets,
        gpu_enabled=gpu_enabled,
        gpu_device_ids=gpu_ids,
        gpu_count=gpu_count,
        command=_command(data.get("command")),
        limits=_limits(data.get("resources") or {}),
    )
