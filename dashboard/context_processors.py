"""What every dashboard page's template gets: the engine banner's text ("" hides it) and the active alerts."""

from django.http import HttpRequest

from containersvc import alert_selectors, health

BANNER_MAX_AGE_SECONDS = 5.0  # a page render costs at most one engine probe per this many seconds


def engine_banner(request: HttpRequest) -> dict[str, str]:
    # Only for those logged in: the login page tells nobody where the engine is.
    if not request.user.is_authenticated:
        return {}
    return {"engine_error": health.engine_problem(max_age=BANNER_MAX_AGE_SECONDS)}


def alert_banner(request: HttpRequest) -> dict[str, list]:
    """The alerts active now on containers the user may see (the banner beside the engine's)."""
    if not request.user.is_authenticated:
        return {}
    return {"active_alerts": list(alert_selectors.alert_active_list(actor=request.user))}
