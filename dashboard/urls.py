"""Dashboard pages."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from dashboard import first_admin, views

app_name = "dashboard"
CONTAINER = r"(?P<container_id>[0-9a-f]{64})"
urlpatterns = [
    path("", views.container_list, name="containers"),
    path("containers/run/", views.container_run, name="container-run"),
    re_path(rf"^containers/{CONTAINER}/$", views.container_detail, name="container"),
    re_path(rf"^containers/{CONTAINER}/logs\.txt$", views.container_log_download, name="container-logs"),
    path("images/", views.images, name="images"),
    path("builds/<int:build_id>/", views.build_detail, name="build"),
    path("images/pull/", views.image_pull, name="image-pull"),
    path("images/remove/", views.image_remove, name="image-remove"),
    path("images/prune/", views.images_prune, name="images-prune"),
    path("pulls/<int:pull_id>/", views.pull_detail, name="pull"),
    path("builds/<int:build_id>/cancel/", views.build_cancel, name="build-cancel"),
    path("node/", views.node, name="node"),
    path("gpus/", views.gpus, name="gpus"),
    path("audit/", views.audit, name="audit"),
    path("alerts/", views.active_alerts, name="alerts"),
    path("login/", auth_views.LoginView.as_view(template_name="dashboard/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("setup/<str:token>/", first_admin.first_admin, name="first-admin"),
]
