"""The shapes the websockets send that no HTTP operation answers, declared in the OpenAPI document's components
all the same, so that a client, and the tests, can check what a socket sends against the one declaration.

drf-spectacular puts in the document only the serializers an operation uses; this postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) resolves the others with the document's own schema class,
through drf-spectacular's mocked view, as it does for webhooks.
"""

from drf_spectacular.plumbing import build_mocked_view
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema

from containersvc.api.serializers import ContainerStatusSerializer
from containersvc.api.stats_shapes import ContainerStatsSerializer, HostStatsSerializer

SOCKET_SHAPES = (
    ContainerStatusSerializer,  # ws/containers/: each container of a container.status message
    HostStatsSerializer,  # ws/stats/: the `node` of a stats.batch message
    ContainerStatsSerializer,  # ws/stats/: each row of its `stats` (GET containers/stats answers it too)
)


def socket_shapes_declared(result: dict, generator, **kwargs) -> dict:
    """Add SOCKET_SHAPES (as responses: what the service sends) to the components of `result`."""
    view = build_mocked_view(
        method="get", path="/", extend_schema_decorator=extend_schema(), registry=generator.registry
    )
    for shape in SOCKET_SHAPES:
        view.schema.resolve_serializer(shape, "response")
    built = generator.registry.build(spectacular_settings.APPEND_COMPONENTS)
    result.setdefault("components", {})["schemas"] = dict(sorted(built["schemas"].items()))
    return result
