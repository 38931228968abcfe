"""The engine client: one per timeout class, made lazily (the service boots without an engine), and the
translation of every docker-py and requests error into the project's error tree."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from django.conf import settings

from containersvc.errors import (
    Conflict,
    ContainerSvcError,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    InvalidRequest,
    NotFound,
)

NO_GPU_DRIVER_MARKER = "could not select device driver"
_clients: dict[str, docker.APIClient] = {}
PROBE_TIMEOUT_SECONDS = 2.0  # health checks: an engine slower than this is as good as away
_clients_lock = threading.Lock()


def api_client(long: bool = False, *, probe: bool = False) -> docker.APIClient:
    """A client per timeout class; made on first use and again after a failed start."""
    kind = "probe" if probe else "long" if long else "short"
    with _clients_lock:
        if kind not in _clients:
            timeout = {
                "probe": PROBE_TIMEOUT_SECONDS,
                "long": settings.CONTAINERSVC_PULL_TIMEOUT,
                "short": settings.CONTAINERSVC_ENGINE_TIMEOUT,
            }[kind]
            with translate_errors():
                _clients[kind] = docker.APIClient(
                    base_url=settings.CONTAINERSVC_DOCKER_HOST, version="auto", timeout=timeout
                )
        return _clients[kind]


def reset_clients() -> None:
    """Forget the clients, e.g. after DOCKER_HOST changed (tests) or the engine was replaced."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def address() -> str:
    return settings.CONTAINERSVC_DOCKER_HOST


def _explanation(error: docker.errors.APIError) -> str:
    text = error.explanation
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text or error).strip()


@contextmanager
def translate_errors(not_found: str | None = None) -> Iterator[None]:
    """Turn docker-py and requests errors into the project's error tree."""
    try:
        yield
    except ContainerSvcError:
        raise
    except docker.errors.NotFound as error:
        raise NotFound(not_found or _explanation(error)) from error
    except docker.errors.APIError as error:
        status = error.status_code or 500
        message = _explanation(error)
        if status == 409:
            raise Conflict(message) from error
        if status == 400 or status == 404:
            raise InvalidRequest(message) from error
        raise EngineError(message) from error
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout) as error:
        raise EngineTimeout() from error
    except (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError) as error:
        # The engine went away in the middle of a stream (killed, restarted): the stream ends with this.
        raise EngineUnavailable(f"The Docker engine at {address()} went away during a stream.") from error
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower():
            raise EngineTimeout() from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error
    except docker.errors.DockerException as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, requests.exceptions.Timeout) or "timed out" in str(error).lower():
            raise EngineTimeout() from error
        if isinstance(cause, requests.exceptions.ConnectionError):
            # docker-py's text here is urllib3's repr of the errno: the address says all there is to say.
            raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}: {error}") from error
    except (TimeoutError, OSError) as error:
        if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
            raise EngineTimeout() from error
        raise EngineUnavailable(f"The Docker engine is unavailable at {address()}.") from error


def is_no_gpu_driver_error(error: ContainerSvcError) -> bool:
    return NO_GPU_DRIVER_MARKER in error.message
