"""Bearer tokens of service accounts (`Authorization: Bearer <token>`)."""

from rest_framework import authentication, exceptions

from containersvc.errors import TooManyRequests
from containersvc.logins import client_address
from containersvc.services.accounts import token_authenticate
from containersvc.services.throttling import bearer_failure_record


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        address = client_address(request)
        if len(header) != 2:
            _failure(address)
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            token = header[1].decode()
        except UnicodeDecodeError as error:
            _failure(address)
            raise exceptions.AuthenticationFailed("Invalid token.") from error
        record = token_authenticate(token=token)
        if record is None:
            _failure(address)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return record.user, record

    def authenticate_header(self, request) -> str:
        return self.keyword


class LockedOut(exceptions.APIException):
    """TooManyRequests as an authenticator raises it: DRF's kind of error, so DRF marks the request anonymous."""

    status_code = 429

    def __init__(self, error: TooManyRequests) -> None:
        super().__init__(error.message)
        self.wait = error.retry_after_seconds  # DRF's handler sends it as Retry-After


def _failure(address: str) -> None:
    try:
        bearer_failure_record(address=address)
    except TooManyRequests as error:
        raise LockedOut(error) from error
