"""Root URLs: the API under /container-svc/, the Django admin, and the dashboard."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("container-svc/", include("containersvc.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
]
