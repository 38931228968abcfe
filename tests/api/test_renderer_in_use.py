"""The API answers with its orjson renderer, byte for byte what DRF's JSONRenderer writes (the renderer's own
cases are in tests/unit/test_renderer.py)."""

import pytest
from rest_framework.renderers import JSONRenderer

from containersvc.api.renderers import OrjsonRenderer

pytestmark = pytest.mark.django_db


def test_the_api_answers_with_it(api, run, name):
    run(name)

    listed = api.post("/container-svc/containers", {}, format="json")
    refused = api.post("/container-svc/containers", {"limit": 0}, format="json")

    for response in (listed, refused):
        assert isinstance(response.accepted_renderer, OrjsonRenderer)
        assert response["Content-Type"] == "application/json"
        assert response.content == JSONRenderer().render(response.data)
    assert refused.status_code == 400 and set(refused.json()) == {"error"}
