"""The GPU wire shapes (camelCase), each declared once as a serializer with the function that writes it beside it:
the API (GET /container-svc/gpus), the GPU sampler's websocket and the dashboard's GPU page all send these.

The serializers are declared for the document only; the functions below them write the shapes (as container_json
does for ContainerSerializer). tests/unit/test_gpu_shapes.py holds the two to each other.
"""

from rest_framework import serializers

from containersvc import gpu


class GpuDeviceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    uuid = serializers.CharField()
    name = serializers.CharField()
    memoryTotalBytes = serializers.IntegerField()


class GpuInventorySerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False: no NVIDIA GPU (or no NVML) on this node.")
    stale = serializers.BooleanField(help_text="NVML failed or hung; this is the last good inventory.")
    error = serializers.CharField(allow_null=True)
    driverVersion = serializers.CharField()
    cudaVersion = serializers.CharField()
    count = serializers.IntegerField()
    gpus = GpuDeviceSerializer(many=True)


def inventory_payload(inventory: gpu.GpuInventory) -> dict:
    """An inventory in GpuInventorySerializer's shape."""
    return {
        "available": inventory.available,
        "stale": inventory.stale,
        "error": inventory.error,
        "driverVersion": inventory.driver_version,
        "cudaVersion": inventory.cuda_version,
        "count": inventory.count,
        "gpus": [
            {"index": d.index, "uuid": d.uuid, "name": d.name, "memoryTotalBytes": d.memory_total_bytes}
            for d in inventory.devices
        ],
    }


class GpuProcessSerializer(serializers.Serializer):
    pid = serializers.IntegerField(help_text="Host pid.")
    usedMemoryBytes = serializers.IntegerField(allow_null=True)
    containerId = serializers.CharField(allow_null=True, help_text="From /proc/<pid>/cgroup; null: not a container.")
    containerName = serializers.CharField(allow_null=True)


def _process_payload(process: gpu.GpuProcess, names: dict[str, str]) -> dict:
    """A GPU process in GpuProcessSerializer's shape; `names`: container names by container id."""
    return {
        "pid": process.pid,
        "usedMemoryBytes": process.used_memory_bytes,
        "containerId": process.container_id,
        "containerName": names.get(process.container_id or ""),
    }


class GpuReadingSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    uuid = serializers.CharField()
    utilizationPercent = serializers.IntegerField(allow_null=True)
    memoryUtilizationPercent = serializers.IntegerField(allow_null=True)
    memoryUsedBytes = serializers.IntegerField(allow_null=True)
    memoryTotalBytes = serializers.IntegerField(allow_null=True)
    temperatureCelsius = serializers.IntegerField(allow_null=True)
    powerDrawWatts = serializers.FloatField(allow_null=True)
    powerLimitWatts = serializers.FloatField(allow_null=True)
    processes = GpuProcessSerializer(many=True)


def _reading_payload(reading: gpu.GpuReading, names: dict[str, str]) -> dict:
    """One GPU's reading in GpuReadingSerializer's shape."""
    return {
        "index": reading.index,
        "uuid": reading.uuid,
        "utilizationPercent": reading.utilization_percent,
        "memoryUtilizationPercent": reading.memory_utilization_percent,
        "memoryUsedBytes": reading.memory_used_bytes,
        "memoryTotalBytes": reading.memory_total_bytes,
        "temperatureCelsius": reading.temperature_celsius,
        "powerDrawWatts": reading.power_draw_watts,
        "powerLimitWatts": reading.power_limit_watts,
        "processes": [_process_payload(p, names) for p in reading.processes],
    }


class GpuSampleSerializer(serializers.Serializer):
    takenAt = serializers.DateTimeField(allow_null=True)
    available = serializers.BooleanField()
    stale = serializers.BooleanField(help_text="NVML failed or hung; these are the last good readings.")
    error = serializers.CharField(allow_null=True)
    gpus = GpuReadingSerializer(many=True)


def sample_payload(sample: gpu.GpuSample, *, names: dict[str, str] | None = None) -> dict:
    """A sample in GpuSampleSerializer's shape; `names`: the names of the containers its processes run in."""
    names = names or {}
    return {
        "takenAt": sample.taken_at.isoformat() if sample.taken_at else None,
        "available": sample.available,
        "stale": sample.stale,
        "error": sample.error,
        "gpus": [_reading_payload(r, names) for r in sample.gpus],
    }
