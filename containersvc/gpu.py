"""The node's NVIDIA GPUs through NVML: inventory and samples as our own values; the only importer of pynvml.

NVML can hang when a GPU falls off the bus, so every NVML call runs in one worker thread under a deadline.
A call that misses it is abandoned (the thread stays parked in it) and the last good value is served marked
stale; no new call is queued behind a hung one, so a hang never blocks a request or the event loop.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)

MESSAGE_NO_GPU = "No NVIDIA GPU on this node."
MESSAGE_TIMEOUT = "NVML did not answer within {seconds:g} s; showing the last reading."
MESSAGE_BUSY = "An earlier NVML call has not returned in time; showing the last reading."
MESSAGE_ERROR = "NVML reported an error: {detail}"

# NVML's own answers meaning "this node has no usable NVIDIA GPU", as opposed to "a GPU misbehaves".
_NO_GPU_ERROR_NAMES = ("LibraryNotFound", "DriverNotLoaded", "NoPermission")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GpuDevice:
    index: int
    uuid: str
    name: str
    memory_total_bytes: int


@dataclass(frozen=True, slots=True)
class GpuInventory:
    available: bool
    driver_version: str
    cuda_version: str
    devices: tuple[GpuDevice, ...]
    stale: bool = False
    error: str | None = None

    @property
    def count(self) -> int:
        return len(self.devices)


@dataclass(frozen=True, slots=True)
class GpuProcess:
    pid: int
    used_memory_bytes: int | None  # None: NVML cannot tell (e.g. no permission to see it)
    container_id: str | None = None  # filled from /proc/<pid>/cgroup; None: not in a Docker container


@dataclass(frozen=True, slots=True)
class GpuReading:
    index: int
    uuid: str
    utilization_percent: int | None
    memory_utilization_percent: int | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_celsius: int | None
    power_draw_watts: float | None
    power_limit_watts: float | None
    processes: tuple[GpuProcess, ...]


@dataclass(frozen=True, slots=True)
class GpuSample:
    taken_at: datetime | None
    available: bool
    gpus: tuple[GpuReading, ...]
    stale: bool = False
    error: str | None = None


NO_GPU_INVENTORY = GpuInventory(available=False, driver_version="", cuda_version="", devices=(), error=MESSAGE_NO_GPU)


def load_nvml() -> ModuleType:
    """The NVML binding; the boundary tests replace with a fake module (see `set_nvml_loader`)."""
    import pynvml

    return pynvml


_loader: Callable[[], ModuleType] = load_nvml


# --- attribution: which container a process lives in -----------------------------------------------------

# cgroup v1: "12:memory:/docker/<id>"; v2 with the systemd driver: "0::/system.slice/docker-<id>.scope";
# v2 with the cgroupfs driver: "0::/docker/<id>". Nested (docker-in-docker) paths end with the innermost id.
_CGROUP_CONTAINER = re.compile(r"(?:/docker/|/docker-)([0-9a-f]{64})(?:\.scope)?(?=/|$)")


def container_id_from_cgroup(text: str) -> str | None:
    """The Docker container id named in the text of a /proc/<pid>/cgroup file, if any."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        found = _CGROUP_CONTAINER.findall(path)
        if found:
            return found[-1]
    return None


def container_id_for_pid(*, pid: int, proc_root: Path = Path("/proc")) -> str | None:
    """The container a host pid runs in; None when it is not in one or the process is gone."""
    try:
        text = (proc_root / str(int(pid)) / "cgroup").read_text()
    except OSError:
        return None
    return container_id_from_cgroup(text)


# --- the worker thread -----------------------------------------------------------------------------------


class NvmlTimeout(Exception):
    pass


class _Worker:
    """One daemon thread running NVML calls; a daemon so that a hung call never blocks interpreter exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Future | None = None

    def call(self, function: Callable[[], T], *, timeout: float) -> T:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = self._pending
                if pending is None or pending.done():
                    future: Future = Future()
                    self._pending = future
                    threading.Thread(target=self._run, args=(function, future), name="nvml", daemon=True).start()
                    break
            # Another caller's call is in flight: wait for it, but never queue behind a hung one for long.
            wait([pending], timeout=max(0.0, deadline - time.monotonic()))
            if not pending.done():
                raise NvmlTimeout(MESSAGE_BUSY)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise NvmlTimeout(MESSAGE_TIMEOUT.format(seconds=timeout)) from None

    @staticmethod
    def _run(function: Callable[[], Any], future: Future) -> None:
        try:
            future.set_result(function())
        except BaseException as error:  # noqa: BLE001  (handed to the waiting caller, who translates it)
            future.set_exception(error)


# --- reading NVML (runs in the worker) -------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _is_no_gpu(nvml: ModuleType, error: BaseException) -> bool:
    return any(
        isinstance(error, cls)
        for cls in (getattr(nvml, f"NVMLError_{name}", None) for name in _NO_GPU_ERROR_NAMES)
        if cls is not None
    )


class _NoGpu(Exception):
    pass


class _Session:
    """NVML initialised once per process; a failed init is retried on the next call (a driver may load)."""

    def __init__(self) -> None:
        self.nvml: ModuleType | None = None

    def ready(self) -> ModuleType:
        if self.nvml is not None:
            return self.nvml
        try:
            nvml = _loader()
        except ImportError as error:
            raise _NoGpu(str(error)) from error
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            if _is_no_gpu(nvml, error):
                raise _NoGpu(str(error)) from error
            raise
        self.nvml = nvml
        return nvml

    def forget(self) -> None:
        self.nvml = None


def _optional(nvml: ModuleType, function: Callable[[], T]) -> T | None:
    """One reading a GPU may not support (power on some boards, temperature on vGPUs): None, not a failure."""
    try:
        return function()
    except nvml.NVMLError as error:
        if isinstance(error, getattr(nvml, "NVMLError_GpuIsLost", ())):
            raise
        return None


def _cuda_version(nvml: ModuleType) -> str:
    version = _optional(nvml, nvml.nvmlSystemGetCudaDriverVersion)
    return f"{version // 1000}.{version % 1000 // 10}" if version else ""


def _read_inventory(nvml: ModuleType) -> GpuInventory:
    devices = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        devices.append(
            GpuDevice(
                index=index,
                uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                name=_text(nvml.nvmlDeviceGetName(handle)),
                memory_total_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
            )
        )
    if not devices:
        return NO_GPU_INVENTORY
    return GpuInventory(
        available=True,
        driver_version=_text(nvml.nvmlSystemGetDriverVersion()),
        cuda_version=_cuda_version(nvml),
        devices=tuple(devices),
    )


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else round(milliwatts / 1000, 1)


def _read_processes(nvml: ModuleType, handle: Any, proc_root: Path) -> tuple[GpuProcess, ...]:
    processes = _optional(nvml, lambda: nvml.nvmlDeviceGetComputeRunningProcesses(handle)) or []
    return tuple(
        GpuProcess(
            pid=int(process.pid),
            used_memory_bytes=None if process.usedGpuMemory is None else int(process.usedGpuMemory),
            container_id=container_id_for_pid(pid=int(process.pid), proc_root=proc_root),
        )
        for process in processes
    )


def _read_gpu(nvml: ModuleType, index: int, proc_root: Path) -> GpuReading:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    utilization = _optional(nvml, lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
    memory = _optional(nvml, lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    return GpuReading(
        index=index,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        utilization_percent=None if utilization is None else int(utilization.gpu),
        memory_utilization_percent=None if utilization is None else int(utilization.memory),
        memory_used_bytes=None if memory is None else int(memory.used),
        memory_total_bytes=None if memory is None else int(memory.total),
        temperature_celsius=_optional(nvml, lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
        power_draw_watts=_watts(_optional(nvml, lambda: nvml.nvmlDeviceGetPowerUsage(handle))),
        power_limit_watts=_watts(_optional(nvml, lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))),
        processes=_read_processes(nvml, handle, proc_root),
    )


def _read_sample(nvml: ModuleType, proc_root: Path) -> GpuSample:
    gpus = tuple(_read_gpu(nvml, index, proc_root) for index in range(nvml.nvmlDeviceGetCount()))
    if not gpus:
        return GpuSample(taken_at=datetime.now(UTC), available=False, gpus=(), error=MESSAGE_NO_GPU)
    return GpuSample(taken_at=datetime.now(UTC), available=True, gpus=gpus)


# --- the reader: one per process --------------------------------------------------------------------------


class GpuReader:
    def __init__(self) -> None:
        self._worker = _Worker()
        self._session = _Session()
        self._last_inventory: GpuInventory | None = None
        self._last_sample: GpuSample | None = None

    def _call(self, read: Callable[[ModuleType], T]) -> T:
        def job() -> T:
            return read(self._session.ready())

        return self._worker.call(job, timeout=settings.CONTAINERSVC_GPU_NVML_TIMEOUT)

    def _failure(self, error: BaseException) -> str:
        if isinstance(error, NvmlTimeout):
            logger.warning("NVML: %s", error)
            return str(error)
        logger.warning("NVML call failed: %s", error)
        # A lost GPU or a reset driver may need a fresh nvmlInit; redo it on the next call.
        self._session.forget()
        return MESSAGE_ERROR.format(detail=error)

    def inventory(self) -> GpuInventory:
        try:
            inventory = self._call(_read_inventory)
        except _NoGpu:
            inventory = NO_GPU_INVENTORY
        except Exception as error:  # noqa: BLE001  (NVML raises its own classes; every failure means stale)
            message = self._failure(error)
            if self._last_inventory is None:
                return replace(NO_GPU_INVENTORY, stale=True, error=message)
            return replace(self._last_inventory, stale=True, error=message)
        self._last_inventory = inventory
        return inventory

    def sample(self, *, proc_root: Path = Path("/proc")) -> GpuSample:
        try:
            sample = self._call(lambda nvml: _read_sample(nvml, proc_root))
        except _NoGpu:
            sample = GpuSample(taken_at=datetime.now(UTC), available=False, gpus=(), error=MESSAGE_NO_GPU)
        except Exception as error:  # noqa: BLE001  (NVML raises its own classes; every failure means stale)
            message = self._failure(error)
            if self._last_sample is None or not self._last_sample.available:
                return GpuSample(taken_at=None, available=False, gpus=(), stale=True, error=message)
            return replace(self._last_sample, stale=True, error=message)
        self._last_sample = sample
        return sample


_reader = GpuReader()


def set_nvml_loader(loader: Callable[[], ModuleType] | None) -> None:
    """Swap the NVML binding (tests pass a fake); None restores pynvml. Starts from a clean reader."""
    global _loader, _reader
    _loader = loader or load_nvml
    _reader = GpuReader()


def gpu_inventory() -> GpuInventory:
    return _reader.inventory()


def gpu_sample(*, proc_root: Path = Path("/proc")) -> GpuSample:
    return _reader.sample(proc_root=proc_root)
