"""Password logins (dashboard and admin alike): refused while locked out, failures counted, all audited."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from containersvc.errors import TooManyRequests
from containersvc.models import AuditOutcome
from containersvc.services import throttling
from containersvc.services.audit import audit_record


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


class LockoutModelBackend(ModelBackend):
    """Django's backend, refusing a locked-out username or address before it hashes the password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            throttling.lockout_check(rule=throttling.LOGIN_ADDRESS, subject=client_address(request))
            if username is not None:
                throttling.lockout_check(rule=throttling.LOGIN_USER, subject=str(username))
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginLockoutMiddleware:
    """A login refused for too many failures answers 429 with a page saying so (the backend raised it)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TooManyRequests):
            return None
        response = render(
            request, "dashboard/locked_out.html", {"message": exception.message}, status=exception.status_code
        )
        response["Retry-After"] = str(exception.retry_after_seconds)
        return response


def login_succeeded(sender, request, user, **kwargs) -> None:
    """user_logged_in: audited; the username's failures are forgotten (the address's are not)."""
    if request is None:
        return
    throttling.failures_clear(rule=throttling.LOGIN_USER, subject=user.get_username())
    audit_record(
        actor=user,
        action="login",
        target=f"user {user.get_username()}",
        outcome=AuditOutcome.OK,
        detail=f"from {client_address(request)}",
    )


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    """user_login_failed: audited and counted per username and per address."""
    if request is None:
        return
    username = str(credentials.get("username", ""))
    address = client_address(request)
    audit_record(
        actor=None,
        action="login",
        target=f"user {username}",
        outcome=AuditOutcome.ERROR,
        detail=f"wrong username or password, from {address}",
    )
    throttling.failure_record(rule=throttling.LOGIN_ADDRESS, subject=address)
    if username:
        throttling.failure_record(rule=throttling.LOGIN_USER, subject=username)


def connect() -> None:
    user_logged_in.connect(login_succeeded, dispatch_uid="containersvc-login-succeeded")
    user_login_failed.connect(login_failed, dispatch_uid="containersvc-login-failed")
