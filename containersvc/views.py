"""Views outside the API and the dashboard: the unauthenticated health check."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from containersvc import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the engine and the database answer, else 503 naming which; booleans only, no addresses."""
    engine_ok = not health.engine_problem()
    database_ok = health.database_reachable()
    ok = engine_ok and database_ok
    body = {"status": "ok" if ok else "unavailable", "engine": engine_ok, "database": database_ok}
    return JsonResponse(body, status=200 if ok else 503)
