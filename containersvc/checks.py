"""System checks for settings that would quietly weaken the service."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

ALL_INTERFACES = {"0.0.0.0", "::", ""}  # noqa: S104  (recognising it, not binding to it)


@register(Tags.security)
def allowed_hosts_not_wildcard(app_configs, **kwargs) -> list[Warning]:
    if "*" in settings.ALLOWED_HOSTS:
        return [
            Warning(
                "ALLOWED_HOSTS contains '*', which turns off the websocket origin check.",
                hint="List the host names the dashboard is served on.",
                id="containersvc.W001",
            )
        ]
    return []


@register(Tags.security)
def ports_published_on_loopback(app_configs, **kwargs) -> list[Warning]:
    if settings.CONTAINERSVC_PUBLISH_INTERFACE in ALL_INTERFACES:
        return [
            Warning(
                "Published container ports bind on every interface and bypass host firewall rules.",
                hint="Set CONTAINERSVC_PUBLISH_INTERFACE to one address (default 127.0.0.1).",
                id="containersvc.W002",
            )
        ]
    return []
