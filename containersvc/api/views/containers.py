"""Container endpoints: run, stop, start, restart, remove, inspect, list, is-running, summary."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import access, selectors
from containersvc.api import serializers as api
from containersvc.api.views.base import ScopedApi
from containersvc.errors import NotFound
from containersvc.scopes import Scope
from containersvc.services import containers
from containersvc.services.run_spec import run_spec_parse

EMPTY = inline_serializer("Empty", {})


class ContainerRunApi(ScopedApi):
    required_scope = Scope.CONTAINER_RUN

    @extend_schema(
        operation_id="runContainer",
        request=api.RunContainerRequestSerializer,
        responses=api.RunContainerResponseSerializer,
    )
    def put(self, request):
        data = self.validated(api.RunContainerRequestSerializer, request.data)
        result = containers.container_run(actor=request.user, spec=run_spec_parse(data=data))
        ports = [{"internal": port.internal, "host": port.host} for port in result.ports]
        return Response({"started": result.started, "ports": ports, "id": result.container_id, "name": result.name})


def _target_view(operation_id: str, scope: Scope, request_serializer, action, description: str):
    """A PUT endpoint acting on one container named by `id` or `name`."""

    class ContainerActionApi(ScopedApi):
        required_scope = scope

        @extend_schema(operation_id=operation_id, request=request_serializer, responses=EMPTY, description=description)
        def put(self, request):
            data = self.validated(request_serializer, request.data)
            options = {key: data[key] for key in ("timeout", "force") if key in data}
            action(actor=request.user, container_id=data.get("id") or None, name=data.get("name") or None, **options)
            return Response({})

    return ContainerActionApi


ContainerStopApi = _target_view(
    "stopContainer", Scope.CONTAINER_STOP, api.StopContainerRequestSerializer, containers.container_stop,
    "Stop a container; stopping a stopped container succeeds.",
)  # fmt: skip
ContainerStartApi = _target_view(
    "startContainer",
    Scope.CONTAINER_RUN,
    api.ContainerTargetSerializer,
    containers.container_start,
    "Extension: start a stopped container.",
)
ContainerRestartApi = _target_view(
    "restartContainer",
    Scope.CONTAINER_RUN,
    api.StopContainerRequestSerializer,
    containers.container_restart,
    "Extension: restart a container.",
)
ContainerRemoveApi = _target_view(
    "removeContainer", Scope.CONTAINER_STOP, api.RemoveContainerRequestSerializer, containers.container_remove,
    "Extension: remove a container (its row and stored logs are kept).",
)  # fmt: skip


class ContainerInspectApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="inspectContainer",
        parameters=[api.ContainerTargetSerializer],
        responses=inline_serializer("InspectContainerResponse", {"container": api.InspectedContainerSerializer()}),
        description="Extension: config, mounts, ports and state of one container.",
    )
    def get(self, request):
        data = self.validated(api.ContainerTargetSerializer, request.query_params.dict())
        found, row = containers.container_resolve(
            actor=request.user,
            level=access.Level.VIEW,
            container_id=data.get("id") or None,
            name=data.get("name") or None,
        )
        details = selectors.container_details(actor=request.user, container_id=found.id, row=row)
        return Response({"container": api.inspected_container_json(details)})


class ContainerListApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW
    representations = api.ContainerRepresentations()

    @extend_schema(
        operation_id="listContainers",
        request=api.ListContainersRequestSerializer,
        responses=inline_serializer("ListContainersResponse", {"containers": api.ContainerSerializer(many=True)}),
    )
    def post(self, request):
        data = self.validated(api.ListContainersRequestSerializer, request.data)
        node_id = data.get("nodeId") or None
        merged = containers.container_list_started(node_id=node_id)
        sight = access.sight_of(request.user)  # its grants read while the engine answers
        rows = selectors.container_list_for(
            sight=sight,
            live=merged(),
            node_id=node_id,
            container_id=data.get("containerId") or None,
            limit=data.get("limit"),
        )
        shown = self.representations.of(rows)
        if not sight.everything:
            # Representations are shared between lists: a masked one is a copy.
            shown = [
                shape if sight.env_visible(row) else {**shape, "envs": access.envs_masked(shape["envs"])}
                for row, shape in zip(rows, shown, strict=True)
            ]
        return Response({"containers": shown})


class ContainerIsRunningApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="containerIsRunning",
        parameters=[api.NameOrHashQuerySerializer],
        responses=inline_serializer("ContainerIsRunningResponse", {"isRunning": serializers.BooleanField()}),
    )
    def get(self, request):
        data = self.validated(api.NameOrHashQuerySerializer, request.query_params.dict())
        found = selectors.container_find_by_name_or_hash(
            actor=request.user, name=data.get("name") or None, hash=data.get("hash") or None
        )
        # One the caller may not see answers as an unknown one: not running.
        return Response({"isRunning": bool(found and found[0].state == "running")})


class ContainerSummaryApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="containerSummary",
        parameters=[api.SummaryQuerySerializer],
        responses=inline_serializer(
            "GetContainerSummaryResponse",
            {"status": serializers.CharField(), "logs": serializers.CharField(), "summary": serializers.CharField()},
        ),
    )
    def get(self, request):
        data = self.validated(api.SummaryQuerySerializer, request.query_params.dict())
        found = selectors.container_find_by_name_or_hash(
            actor=request.user, name=data.get("name") or None, hash=data.get("hash") or None
        )
        if found is None:
            raise NotFound("No container with that name or hash.")
        summary = selectors.container_summary(
            container_id=found[0].id,
            lines=data["lines"],
            with_logs=access.logs_visible(actor=request.user, container=found[1]),
        )
        return Response({"status": summary.status, "logs": summary.logs, "summary": summary.text})
