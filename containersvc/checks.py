"""System checks for settings that would quietly weaken the service."""

import re

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

ALL_INTERFACES = {"0.0.0.0", "::", ""}  # noqa: S104  (recognising it, not binding to it)
LOG_SIZE = re.compile(r"[1-9][0-9]*(?:[kmgKMG][bB]?)?")  # what the engine's json-file max-size takes


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


@register()
def engine_log_rotation(app_configs, **kwargs) -> list[Error]:
    """A bad value would make the engine refuse every container the service creates."""
    errors = []
    if not LOG_SIZE.fullmatch(str(settings.CONTAINERSVC_LOG_MAX_SIZE)):
        errors.append(
            Error(
                f"CONTAINERSVC_LOG_MAX_SIZE '{settings.CONTAINERSVC_LOG_MAX_SIZE}' is not a size the engine takes.",
                hint="A number with an optional unit: 10m, 512k, 1g.",
                id="containersvc.E001",
            )
        )
    if settings.CONTAINERSVC_LOG_MAX_FILES < 1:
        errors.append(
            Error(
                "CONTAINERSVC_LOG_MAX_FILES must be at least 1.",
                hint="The engine keeps this many files of each container's log (default 3).",
                id="containersvc.E002",
            )
        )
    return errors
