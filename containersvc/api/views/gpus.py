"""The node's GPUs: inventory, the latest sample and which container each GPU process belongs to."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import gpu_selectors
from containersvc.api.gpu_shapes import GpuInventorySerializer, GpuSampleSerializer, inventory_payload
from containersvc.api.views.base import ScopedApi
from containersvc.scopes import Scope


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
        # Unlike the dashboard's pages, it always answers a sample: a stale one says NVML hangs or fails.
        inventory = inventory_payload(gpu_selectors.gpu_inventory())
        sample = gpu_selectors.gpu_latest_sample_for(actor=request.user)
        return Response({"inventory": inventory, "sample": sample})
