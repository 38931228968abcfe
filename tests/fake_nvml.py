"""A fake NVML module (the subset containersvc.gpu calls, shaped like nvidia-ml-py's pynvml), for the gpu.py
boundary: GPUs, their readings and compute processes are plain attributes a test sets; any function can be
made to fail or to hang."""

import time
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace

NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    """Like pynvml's: one class per NVML return code, `value` is the code."""

    value = 999

    def __str__(self) -> str:
        return self.__class__.__name__.removeprefix("NVMLError_") or "Unknown Error"


class NVMLError_LibraryNotFound(NVMLError):
    value = 12

    def __str__(self) -> str:
        return "NVML Shared Library Not Found"


class NVMLError_DriverNotLoaded(NVMLError):
    value = 9


class NVMLError_NoPermission(NVMLError):
    value = 4


class NVMLError_NotSupported(NVMLError):
    value = 3


class NVMLError_GpuIsLost(NVMLError):
    value = 15

    def __str__(self) -> str:
        return "GPU is lost"


class NVMLError_Unknown(NVMLError):
    value = 999


@dataclass
class FakeGpu:
    uuid: str
    name: str
    memory_total: int
    memory_used: int = 0
    utilization: int = 0
    memory_utilization: int = 0
    temperature: int = 40
    power_milliwatts: int = 60_000
    power_limit_milliwatts: int = 300_000
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (host pid, GPU memory bytes)


def two_gpus() -> list[FakeGpu]:
    return [
        FakeGpu("GPU-0aaaaaaa-1111-2222-3333-444444444444", "NVIDIA Fake A100", 80 * 1024**3, 10 * 1024**3, 75, 30),
        FakeGpu("GPU-1bbbbbbb-1111-2222-3333-444444444444", "NVIDIA Fake A100", 80 * 1024**3, 0, 0, 0),
    ]


class FakeNvml(ModuleType):
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVMLError = NVMLError
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_NoPermission = NVMLError_NoPermission
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_Unknown = NVMLError_Unknown

    def __init__(self, gpus: list[FakeGpu] | None = None) -> None:
        super().__init__("fake_nvml")
        self.gpus = two_gpus() if gpus is None else gpus
        self.driver_version = "550.54.15"
        self.cuda_version = 12040
        self.failures: dict[str, Exception] = {}  # function name -> raised on every call
        self.hangs: dict[str, float] = {}  # function name -> seconds it sleeps first
        self.calls: list[str] = []

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if name in self.hangs:
            time.sleep(self.hangs[name])
        if name in self.failures:
            raise self.failures[name]

    def _gpu(self, handle: int) -> FakeGpu:
        return self.gpus[handle]

    def nvmlInit(self) -> None:
        self._enter("nvmlInit")

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._enter("nvmlDeviceGetHandleByIndex")
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        self._enter("nvmlDeviceGetUUID")
        return self._gpu(handle).uuid

    def nvmlDeviceGetName(self, handle: int) -> str:
        self._enter("nvmlDeviceGetName")
        return self._gpu(handle).name

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        self._enter("nvmlDeviceGetMemoryInfo")
        gpu = self._gpu(handle)
        return SimpleNamespace(total=gpu.memory_total, used=gpu.memory_used, free=gpu.memory_total - gpu.memory_used)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        self._enter("nvmlDeviceGetUtilizationRates")
        gpu = self._gpu(handle)
        return SimpleNamespace(gpu=gpu.utilization, memory=gpu.memory_utilization)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        self._enter("nvmlDeviceGetTemperature")
        assert sensor == NVML_TEMPERATURE_GPU
        return self._gpu(handle).temperature

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        self._enter("nvmlDeviceGetPowerUsage")
        return self._gpu(handle).power_milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        self._enter("nvmlDeviceGetEnforcedPowerLimit")
        return self._gpu(handle).power_limit_milliwatts

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        self._enter("nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in self._gpu(handle).processes]
