"""OpenAPI: the document's operation ids, component names, declared responses and the bearer scheme.

Operation ids are 1Backend's (runContainer, ...), so a client generated from the document has the method
names of the published one; views set theirs with `extend_schema(operation_id=...)`, and a view that does
not gets `<action><Entity>` from its `<Entity><Action>Api` class name. Component names say what a shape is
once: `RunContainerRequest`, never `RunContainerRequestRequest`. Every operation also declares the error
body `{"error": ...}` for the statuses the one exception handler answers.
"""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.fields import empty

TAG = "Container Svc"
ERROR_STATUSES = ("400", "401", "403", "404", "409", "503", "504")
ERROR = inline_serializer("ErrorResponse", {"error": serializers.CharField(help_text="What went wrong.")})
REQUEST_SUFFIX = "Request"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "containersvc.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106  (the scheme name)


def operation_id_from_class(class_name: str) -> str:
    """`BuildCancelApi` -> `cancelBuild`: the style of 1Backend's ids, for views that name none."""
    words = re.findall(r"[A-Z][a-z0-9]*", class_name.removesuffix("Api"))
    if len(words) < 2:
        return (words[0].lower() if words else class_name) or "operation"
    return words[-1].lower() + "".join(words[:-1])


class ContainerSvcSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        return [TAG]

    def get_operation_id(self) -> str:
        return operation_id_from_class(type(self.view).__name__)

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        # drf-spectacular appends "Request" to request components (COMPONENT_SPLIT_REQUEST): once is enough.
        doubled = REQUEST_SUFFIX + REQUEST_SUFFIX
        return name.removesuffix(REQUEST_SUFFIX) if name.endswith(doubled) else name

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response":
            # What DRF always writes: every field of a model, and any field that is required or has a default.
            of_model = isinstance(serializer, serializers.ModelSerializer)
            always = [
                field.field_name
                for field in serializer.fields.values()
                if field.field_name in schema["properties"]
                and not field.write_only
                and (of_model or field.required or field.default is not empty)
            ]
            if always:
                schema["required"] = sorted({*schema.get("required", []), *always})
        return schema

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if "content" not in response:
            # An empty serializer is sent as {}: declared so, where drf-spectacular would say "no body".
            response["content"] = {"application/json": {"schema": {"type": "object", "properties": {}}}}
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in ERROR_STATUSES:
            if status not in responses:
                responses[status] = self._get_response_for_code(ERROR, status, direction=direction)
        return responses
