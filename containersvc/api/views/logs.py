"""Stored logs, newest first."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.response import Response

from containersvc import selectors
from containersvc.api import serializers as api
from containersvc.api.views.base import ScopedApi
from containersvc.producers.log_capture import capture
from containersvc.scopes import Scope
from containersvc.services.logs import logs_capture_recent

DEFAULT_LIMIT = 100


class LogListApi(ScopedApi):
    required_scope = Scope.LOG_VIEW

    @extend_schema(
        operation_id="listContainerLogs",
        request=api.ListLogsRequestSerializer,
        responses=inline_serializer("ListLogsResponse", {"logs": api.LogSerializer(many=True)}),
        description=(
            "Stored log chunks, newest first; what the engine has beyond them is stored first, for a few seconds "
            "at most (a container captured as it prints answers at once). Extension: `gap` chunks mark lines "
            "the engine's log rotation may have taken before they were stored. "
            "Extension: `before` (the last id of a page) gives the next, older page."
        ),
    )
    def post(self, request):
        data = self.validated(api.ListLogsRequestSerializer, request.data)
        container_id = data.get("containerId") or None
        before = data.get("before")
        # Paging back reads what is stored: whatever the engine has beyond it is newer than any such page.
        if not before and (not data.get("nodeId") or data["nodeId"] == selectors.this_node()):
            rows = selectors.containers_to_capture(container_id=container_id, actor=request.user)
            logs_capture_recent(containers=rows, followed=capture.flush_if_followed)
        chunks = selectors.log_chunks(
            actor=request.user,
            node_id=data.get("nodeId") or None,
            container_id=container_id,
            limit=data.get("limit") or DEFAULT_LIMIT,
            before=before,
        )
        return Response({"logs": api.LogSerializer(chunks, many=True).data})
