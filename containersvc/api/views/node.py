"""The node: daemon info and the host address of published ports."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import gpu, selectors
from containersvc.api.views.base import ScopedApi
from containersvc.errors import ContainerSvcError
from containersvc.scopes import Scope


class DaemonInfoApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="containerDaemonInfo",
        responses=inline_serializer(
            "GetDaemonInfoResponse",
            {
                "available": serializers.BooleanField(),
                "address": serializers.CharField(required=False),
                "error": serializers.CharField(required=False),
                "version": serializers.CharField(required=False, help_text="Extension."),
                "apiVersion": serializers.CharField(required=False, help_text="Extension."),
                "runtimes": serializers.ListField(
                    child=serializers.CharField(), required=False, help_text="Extension."
                ),
                "gpuRuntime": serializers.BooleanField(required=False, help_text="Extension."),
                "gpuCount": serializers.IntegerField(help_text="Extension: NVIDIA GPUs NVML sees on this node."),
                "nodeId": serializers.CharField(required=False, help_text="Extension: when the engine answers."),
            },
        ),
        description="Whether the Docker engine answers; never an error status when it does not.",
    )
    def get(self, request):
        gpu_count = gpu.gpu_inventory().count
        try:
            info = selectors.daemon_info()
        except ContainerSvcError as error:
            return Response(
                {
                    "available": False,
                    "address": selectors.engine_address(),
                    "error": error.message,
                    "gpuCount": gpu_count,
                }
            )
        return Response(
            {
                "available": True,
                "address": info.address,
                "version": info.version,
                "apiVersion": info.api_version,
                "runtimes": list(info.runtimes),
                "gpuRuntime": info.gpu_runtime,
                "gpuCount": gpu_count,
                "nodeId": settings.CONTAINERSVC_NODE_ID,
            }
        )


class HostApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getHost",
        responses=inline_serializer("GetHostResponse", {"host": serializers.CharField()}),
        description="The address other containers and services reach published ports on.",
    )
    def get(self, request):
        return Response({"host": settings.CONTAINERSVC_HOST_ADDRESS or settings.CONTAINERSVC_PUBLISH_INTERFACE})
