"""The node's GPUs: inventory, the latest sample and which container each GPU process belongs to."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import gpu
from containersvc.api.views.base import ScopedApi
from containersvc.producers import gpu_sampler
from containersvc.scopes import Scope


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


class GpuProcessSerializer(serializers.Serializer):
    pid = serializers.IntegerField(help_text="Host pid.")
    usedMemoryBytes = serializers.IntegerField(allow_null=True)
    containerId = serializers.CharField(allow_null=True, help_text="From /proc/<pid>/cgroup; null: not a container.")
    containerName = serializers.CharField(allow_null=True)


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


class GpuSampleSerializer(serializers.Serializer):
    takenAt = serializers.DateTimeField(allow_null=True)
    available = serializers.BooleanField()
    stale = serializers.BooleanField(help_text="NVML failed or hung; these are the last good readings.")
    error = serializers.CharField(allow_null=True)
    gpus = GpuReadingSerializer(many=True)


class GpuListResponseSerializer(serializers.Serializer):
    inventory = GpuInventorySerializer()
    sample = GpuSampleSerializer()


class GpuListApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="listGpus",
        responses=GpuListResponseSerializer,
        description=(
            "Extension: the node's NVIDIA GPUs, their latest readings and the containers using them. "
            "A node without a GPU answers available: false, not an error."
        ),
    )
    def get(self, request):
        inventory = gpu_sampler.inventory_payload(gpu.gpu_inventory())
        sample = gpu_sampler.payload_for_viewer(gpu_sampler.gpu_latest_payload(), actor=request.user)
        return Response({"inventory": inventory, "sample": sample})
