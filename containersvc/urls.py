"""Root URLs: the API under /container-svc/, the Django admin, the health check and the dashboard."""

from django.contrib import admin
from django.urls import include, path

from containersvc import views

urlpatterns = [
    path("container-svc/", include("containersvc.api.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("", include("dashboard.urls")),
]
