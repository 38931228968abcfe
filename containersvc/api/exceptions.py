"""The one exception handler: every error is JSON `{"error": "..."}` with a meaningful status."""

import logging

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from containersvc.errors import ContainerSvcError, EngineUnavailable, TooManyRequests

logger = logging.getLogger(__name__)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(
            f"{key}: {_flatten(value)}" if key != "non_field_errors" else _flatten(value)
            for key, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def error_response(message: str, status_code: int, headers: dict | None = None) -> Response:
    return Response({"error": message}, status=status_code, headers=headers)


def error_handler(exc, context) -> Response:
    if isinstance(exc, ContainerSvcError):
        headers = None
        if isinstance(exc, (EngineUnavailable, TooManyRequests)):
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        return error_response(exc.message, exc.status_code, headers)
    if isinstance(exc, RequestDataTooBig):
        return error_response("The request body is too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = exception_handler(exc, context)
    if response is not None:
        if isinstance(exc, exceptions.ValidationError):
            message = _flatten(exc.detail)
        else:
            message = _flatten(getattr(exc, "detail", str(exc)))
        response.data = {"error": message}
        return response
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
    return error_response("Internal error.", status.HTTP_500_INTERNAL_SERVER_ERROR)
