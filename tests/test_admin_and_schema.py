"""The Django admin shows the mirror read-only and issues tokens; the OpenAPI document covers the API."""

import pytest
from django.urls import reverse

from containersvc.models import AuditEvent, Container, ImageBuild, ImagePull, LogChunk, ServiceToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, make_user):
    client.force_login(make_user(superuser=True, username="root-admin"))
    return client


@pytest.mark.parametrize("model", [Container, ImageBuild, ImagePull, LogChunk, AuditEvent, ServiceToken])
def test_admin_lists_each_model(admin_client_logged_in, model):
    url = reverse(f"admin:containersvc_{model._meta.model_name}_changelist")

    assert admin_client_logged_in.get(url).status_code == 200


@pytest.mark.parametrize("model", [Container, ImageBuild, ImagePull, LogChunk, AuditEvent])
def test_the_mirror_cannot_be_edited_in_the_admin(admin_client_logged_in, model):
    assert admin_client_logged_in.get(reverse(f"admin:containersvc_{model._meta.model_name}_add")).status_code == 403


def test_a_token_issued_in_the_admin_is_shown_once_and_works(admin_client_logged_in, make_user):
    user = make_user(username="svc")

    response = admin_client_logged_in.post(
        reverse("admin:containersvc_servicetoken_add"), {"user": user.pk, "name": "from admin"}, follow=True
    )

    message = next(str(item) for item in response.context["messages"])
    token = message.split("New token for svc: ")[1].split(" ")[0]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/container-svc/host").status_code == 403  # authenticated, holds no scope
    assert ServiceToken.objects.get().name == "from admin"


def test_group_grants_are_edited_in_the_admin(admin_client_logged_in):
    from django.contrib.auth.models import Group

    url = reverse("admin:auth_group_change", args=[Group.objects.get(name="model-svc").pk])
    page = admin_client_logged_in.get(url).content.decode()

    assert "container-svc:container:run" in page


def test_openapi_document_lists_the_contract(client):
    response = client.get("/container-svc/openapi.json", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path, method in [
        ("/container-svc/container", "put"),
        ("/container-svc/container/stop", "put"),
        ("/container-svc/containers", "post"),
        ("/container-svc/logs", "post"),
        ("/container-svc/container/is-running", "get"),
        ("/container-svc/container/summary", "get"),
        ("/container-svc/daemon/info", "get"),
        ("/container-svc/host", "get"),
        ("/container-svc/image/{imageName}/pullable", "get"),
        ("/container-svc/image", "put"),
        ("/container-svc/container/start", "put"),
        ("/container-svc/container/remove", "put"),
        ("/container-svc/images", "get"),
        ("/container-svc/image/builds", "get"),
    ]:
        assert method in paths[path], path
