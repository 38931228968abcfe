"""The OpenAPI document (JSON and YAML) and the API browser (Swagger UI from the sidecar's static files)."""

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


class OpenApiJsonView(SpectacularAPIView):
    # application/json first: tools fetching a .json URL get JSON whatever their Accept header says.
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer]


class OpenApiYamlView(SpectacularAPIView):
    renderer_classes = [OpenApiYamlRenderer2, OpenApiYamlRenderer]


class ApiBrowserView(SpectacularSwaggerView):
    """Swagger UI started by a static module of ours (no inline script or style: it works under a strict CSP)."""

    template_name = "api/swagger_ui.html"
    url_name = "openapi"
