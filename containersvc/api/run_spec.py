"""A validated run request (RunContainerRequestSerializer's data, camelCase as the 1Backend clients send it)
as the service's RunSpec: shared by the API and the dashboard's run form, which validates with the same
serializer."""

from containersvc.engine import Limits
from containersvc.services.containers import RunSpec


def _pairs(items) -> dict[str, str]:
    return {item["key"]: item["value"] for item in items or []}


def _limits(resources: dict | None) -> Limits:
    resources = resources or {}
    cpus = resources.get("cpus")
    return Limits(
        nano_cpus=round(cpus * 1_000_000_000) if cpus else 0,
        memory_bytes=resources.get("memoryBytes") or 0,
        pids_limit=resources.get("pidsLimit") or 0,
    )


def run_spec_from(data: dict) -> RunSpec:
    capabilities = data.get("capabilities") or {}
    return RunSpec(
        image=data["image"],
        name=(data.get("names") or [None])[0],
        hash=data.get("hash") or "",
        ports=tuple((port["internal"], port["host"]) for port in data.get("ports") or []),
        labels=_pairs(data.get("labels")),
        envs=_pairs(data.get("envs")),
        keeps=tuple((keep["path"], keep["readOnly"]) for keep in data.get("keeps") or []),
        assets=tuple((asset["envVarKey"], asset["url"]) for asset in data.get("assets") or []),
        # Asking for a count or for given GPUs is asking for GPUs, with or without gpuEnabled.
        gpu_enabled=bool(capabilities.get("gpuEnabled") or capabilities.get("gpuCount") or capabilities.get("gpuIds")),
        gpu_device_ids=tuple(capabilities.get("gpuIds") or ()),
        gpu_count=capabilities.get("gpuCount") or None,
        command=tuple(data["command"]) if data.get("command") else None,
        limits=_limits(data.get("resources")),
    )
