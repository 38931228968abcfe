"""The one error tree of Container Svc; the API turns each class into its status code."""

from containersvc.redaction import without_host_details


class ContainerSvcError(Exception):
    status_code = 500
    default_message = "Internal error."

    def __init__(self, message: str | None = None) -> None:
        # Every message is made here, whoever raises it: none names a host path or an internal address.
        self.message = without_host_details(message or self.default_message)
        super().__init__(self.message)


class InvalidRequest(ContainerSvcError):
    status_code = 400
    default_message = "Invalid request."


class PermissionDenied(ContainerSvcError):
    status_code = 403
    default_message = "You do not have permission to do this."


class NotFound(ContainerSvcError):
    status_code = 404
    default_message = "Not found."


class Conflict(ContainerSvcError):
    status_code = 409
    default_message = "Conflict."


class EngineUnavailable(ContainerSvcError):
    status_code = 503
    default_message = "The Docker engine is unavailable."
    retry_after_seconds = 5


class EngineTimeout(ContainerSvcError):
    status_code = 504
    default_message = "The Docker engine did not answer in time."


class EngineError(ContainerSvcError):
    """The engine refused a call for a reason that is not the caller's input."""

    status_code = 502
    default_message = "The Docker engine reported an error."


class TooManyRequests(ContainerSvcError):
    """Too many failed logins or tokens, or requests: refused until `retry_after_seconds` have passed."""

    status_code = 429
    default_message = "Too many requests. Try again later."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 60) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
