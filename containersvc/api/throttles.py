"""The API's request rate: per bearer token, or per user for a browser session (CONTAINERSVC_API_RATE)."""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from containersvc.models import ServiceToken
from containersvc.services.throttling import request_rate_take


class TokenRateThrottle(BaseThrottle):
    """Raises TooManyRequests (429 with Retry-After) beyond the rate; anonymous requests are refused anyway."""

    def allow_request(self, request, view) -> bool:
        if isinstance(request.auth, ServiceToken):
            request_rate_take(subject=f"token {request.auth.pk}", rate=settings.CONTAINERSVC_API_RATE)
        elif request.user and request.user.is_authenticated:
            request_rate_take(subject=f"user {request.user.pk}", rate=settings.CONTAINERSVC_API_RATE)
        return True
