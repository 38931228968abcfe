"""Security headers on every response: a strict Content-Security-Policy, and no caching of what may carry env or logs.

Django 5.2 has no CSP of its own (6.0 has). The pages load scripts and styles from static files only (no inline
script, no style attribute; data rides in `<script type="application/json">` blocks, which are not run), so the
policy needs no 'unsafe-inline' anywhere.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the pages' empty favicon is a data: URL
        "font-src 'self'",
        "connect-src 'self'",  # the dashboard's own websockets and API
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
REFERRER_POLICY = "same-origin"
NO_STORE = "no-store"
# What may be cached: it holds no env, logs or anything else a later user of the same browser should not read.
CACHEABLE_URL_NAMES = frozenset({"openapi", "openapi-yaml"})


def cacheable(request: HttpRequest) -> bool:
    """Static files and the OpenAPI document; every page and every other API answer is no-store."""
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    match = request.resolver_match
    return match is not None and match.url_name in CACHEABLE_URL_NAMES


class SecurityHeadersMiddleware(MiddlewareMixin):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not cacheable(request):
            response.headers["Cache-Control"] = NO_STORE
        return response
