"""Websocket routes; each consumer checks authentication and its scope before it accepts."""

from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from containersvc.consumers.auth import bearer
from containersvc.consumers.builds import BuildOutputConsumer
from containersvc.consumers.containers import ContainerStatusConsumer
from containersvc.consumers.gpu import GpuSamplesConsumer
from containersvc.consumers.logs import ContainerLogsConsumer
from containersvc.consumers.pulls import PullProgressConsumer
from containersvc.consumers.stats import ContainerStatsConsumer
from containersvc.producers import pull_progress
from containersvc.producers.build_output import relay_install

# Builds started from now on are heard from their first line, so a viewer joining late sees all of it.
relay_install()
pull_progress.relay_install()

websocket_urlpatterns: list = [
    path("ws/gpus/", GpuSamplesConsumer.as_asgi()),
    # Services may use their bearer token instead of a session (browsers always have the session).
    path("ws/containers/", bearer(ContainerStatusConsumer.as_asgi())),
    re_path(r"^ws/containers/(?P<container_id>[0-9a-f]{64})/logs/$", bearer(ContainerLogsConsumer.as_asgi())),
    path("ws/builds/<int:build_id>/", bearer(BuildOutputConsumer.as_asgi())),
    path("ws/pulls/<int:pull_id>/", bearer(PullProgressConsumer.as_asgi())),
    path("ws/stats/", bearer(ContainerStatsConsumer.as_asgi())),
    # Anything else is refused at the handshake (403), rather than the router's "No route found" error (500).
    re_path(r"", WebsocketDenier.as_asgi()),
]
