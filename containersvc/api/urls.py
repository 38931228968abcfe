"""The API's paths: the 1Backend Container Svc contract and its extensions."""

from django.urls import path

from containersvc.api.views import containers, docs, gpus, image_changes, images, logs, node, stats

urlpatterns = [
    path("container", containers.ContainerRunApi.as_view(), name="container-run"),
    path("container/stop", containers.ContainerStopApi.as_view(), name="container-stop"),
    path("container/start", containers.ContainerStartApi.as_view(), name="container-start"),
    path("container/restart", containers.ContainerRestartApi.as_view(), name="container-restart"),
    path("container/remove", containers.ContainerRemoveApi.as_view(), name="container-remove"),
    path("container/inspect", containers.ContainerInspectApi.as_view(), name="container-inspect"),
    path("container/is-running", containers.ContainerIsRunningApi.as_view(), name="container-is-running"),
    path("container/summary", containers.ContainerSummaryApi.as_view(), name="container-summary"),
    path("containers", containers.ContainerListApi.as_view(), name="container-list"),
    path("containers/stats", stats.ContainerStatsListApi.as_view(), name="container-stats-list"),
    path("container/stats/history", stats.ContainerStatsHistoryApi.as_view(), name="container-stats-history"),
    path("node/stats", stats.NodeStatsApi.as_view(), name="node-stats"),
    path("node/stats/recent", stats.NodeStatsRecentApi.as_view(), name="node-stats-recent"),
    path("logs", logs.LogListApi.as_view(), name="log-list"),
    path("daemon/info", node.DaemonInfoApi.as_view(), name="daemon-info"),
    path("host", node.HostApi.as_view(), name="host"),
    path("gpus", gpus.GpuListApi.as_view(), name="gpu-list"),
    path("image", images.ImageBuildApi.as_view(), name="image-build"),
    path("images", images.ImageListApi.as_view(), name="image-list"),
    path("image/builds", images.BuildListApi.as_view(), name="build-list"),
    path("image/build/<int:build_id>", images.BuildDetailApi.as_view(), name="build-detail"),
    path("image/build/<int:build_id>/cancel", images.BuildCancelApi.as_view(), name="build-cancel"),
    path("image/pull", image_changes.ImagePullApi.as_view(), name="image-pull"),
    path("image/pulls/<int:pull_id>", image_changes.ImagePullDetailApi.as_view(), name="image-pull-detail"),
    path("image/remove", image_changes.ImageRemoveApi.as_view(), name="image-remove"),
    path("image/prune", image_changes.ImagePruneApi.as_view(), name="image-prune"),
    path("image/<path:imageName>/pullable", images.ImagePullableApi.as_view(), name="image-pullable"),
    path("openapi.json", docs.OpenApiJsonView.as_view(), name="openapi"),
    path("openapi.yaml", docs.OpenApiYamlView.as_view(), name="openapi-yaml"),
    path("docs/", docs.ApiBrowserView.as_view(), name="api-docs"),
]
