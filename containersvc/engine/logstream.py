"""Container logs as the engine streams them, and raw HTTP through docker-py's client.

The chunked-body decoder, the frame demultiplexer and the socket control reach into docker-py's, requests' and
urllib3's private attributes: every such access in the service is in this module, nowhere else.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

import docker
import requests
import urllib3.exceptions

from containersvc.engine.client import api_client, translate_errors
from containersvc.engine.parsing import log_line
from containersvc.engine.types import BOTH_STREAMS, STREAM_NAMES, LogLine
from containersvc.errors import ContainerSvcError


# --- raw HTTP through docker-py's client: its session, base URL, API version, timeout and credentials ----
def http_get(client: docker.APIClient, path: str, *args: str, **kwargs) -> requests.Response:
    """GET `path` (its {0}... filled with args, quoted) and return the response unread."""
    return client._get(client._url(path, *args), **kwargs)


def http_post(client: docker.APIClient, path: str, *args: str, **kwargs) -> requests.Response:
    """POST `path` (its {0}... filled with args, quoted) and return the response unread."""
    return client._post(client._url(path, *args), **kwargs)


def raise_for_status(client: docker.APIClient, response: requests.Response) -> None:
    """docker-py's own check: an error answer raises its APIError, which translate_errors maps."""
    client._raise_for_status(response)


def json_stream(client: docker.APIClient, response: requests.Response) -> Iterator[dict]:
    """The decoded JSON messages of a streamed answer (pull, build), read as docker-py reads them."""
    return client._stream_helper(response, decode=True)


def add_auth_headers(client: docker.APIClient, headers: dict[str, str]) -> None:
    """The registry credentials docker-py knows of, as its own build sends them."""
    client._set_auth_headers(headers)


# --- container logs ---------------------------------------------------------------------------------------
def container_logs(
    *,
    container_id: str,
    since_ns: int = 0,
    tail: int | None = None,
    follow: bool = False,
    streams: tuple[str, ...] = BOTH_STREAMS,
    timeout: float | None = None,
) -> Generator[LogLine, None, None]:
    """Lines of the streams asked for (both by default) in the engine's order, each with its stream and
    exact timestamp.

    Reads the engine's multiplexed frames itself so that stdout and stderr stay apart in one call, and
    keeps the read timeout unless following (a follow is ended by closing it, see LogFollow). `timeout`: the
    most each engine read may take, when shorter than the engine timeout.
    """
    response = _open_logs(
        container_id=container_id, since_ns=since_ns, tail=tail, follow=follow, streams=streams, timeout=timeout
    )
    yield from log_lines(response)


def _open_logs(
    *,
    container_id: str,
    since_ns: int,
    tail: int | None,
    follow: bool,
    streams: tuple[str, ...] = BOTH_STREAMS,
    timeout: float | None = None,
):
    params: dict[str, int | str] = {
        "stdout": int("stdout" in streams),
        "stderr": int("stderr" in streams),
        "timestamps": 1,
    }
    params["follow"] = 1 if follow else 0
    params["tail"] = "all" if tail is None else str(tail)
    if since_ns:
        params["since"] = f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
    client = api_client()
    with translate_errors(not_found=f"No container with id '{container_id}'."):
        response = http_get(
            client,
            "/containers/{0}/logs",
            container_id,
            params=params,
            stream=True,
            **({"timeout": timeout} if timeout else {}),
        )
        raise_for_status(client, response)
    if follow:
        set_socket_timeout(response, None)
    return response


def _socket_of(response) -> socket.socket:
    raw = response.raw._fp.fp.raw
    return getattr(raw, "_sock", raw)


def set_socket_timeout(response, timeout: float | None) -> None:
    _socket_of(response).settimeout(timeout)


def shutdown(response) -> None:
    """Wake a thread blocked reading this response: shutdown() makes its recv() return, close() alone may not."""
    try:
        _socket_of(response).shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass  # already closed, or never connected


class LogFollow:
    """A log follow that any thread may end: close() makes lines() stop, and the reader releases the socket.

    Reading errors after close() are the close itself, not a failure.
    """

    def __init__(self, response) -> None:
        self._response = response
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def lines(self) -> Iterator[LogLine]:
        try:
            yield from log_lines(self._response)
        except (ContainerSvcError, urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
            if not self.closed:
                raise

    def close(self) -> None:
        self._closed.set()
        shutdown(self._response)

    def release(self) -> None:
        """Free the socket when lines() was never read to its end (its own finally does it otherwise)."""
        self.close()
        self._response.close()


def log_follow_open(*, container_id: str, since_ns: int = 0, tail: int | None = 0) -> LogFollow:
    """Open a follow of both streams; the caller reads lines() in a thread and ends it with close()."""
    return LogFollow(_open_logs(container_id=container_id, since_ns=since_ns, tail=tail, follow=True))


READ_BYTES = 65536
_FRAME_HEADER = struct.Struct(">BxxxL")


def _body_reader(response) -> Callable[[], bytes]:
    """A function returning the next piece of the body as it arrives (b"" at its end).

    The engine sends a log as a chunked body, one chunk per frame (a line each, mostly). Through urllib3 and
    http.client each chunk costs several times what cutting its line does, so a chunked body not yet read
    from is decoded here, from the socket's buffered reader: each call returns the data of every chunk that
    has arrived, waiting only while none has.
    """
    http_response = getattr(response.raw, "_fp", None)
    reader = getattr(http_response, "fp", None)
    chunked = getattr(http_response, "chunked", False)
    if reader is None or not chunked or getattr(http_response, "chunk_left", None) is not None:
        return lambda: response.raw.read1(READ_BYTES)
    # raw: bytes not yet cut into chunks; done: the last (empty) chunk was read.
    state: dict[str, Any] = {"raw": b"", "done": False}

    def fill() -> None:
        more = reader.read1(READ_BYTES)
        if not more:
            raise urllib3.exceptions.ProtocolError("the chunked body ended before its last chunk")
        state["raw"] += more

    def read1() -> bytes:
        pieces: list[bytes] = []
        while not state["done"]:
            raw, start = state["raw"], 0
            while True:  # every complete chunk in what has arrived
                line_end = raw.find(b"\r\n", start)
                if line_end < 0:
                    break
                size = int(raw[start:line_end].split(b";", 1)[0], 16)
                if size == 0:
                    state["done"] = True
                    break
                if len(raw) < line_end + 2 + size + 2:
                    break
                pieces.append(raw[line_end + 2 : line_end + 2 + size])
                start = line_end + 2 + size + 2
            state["raw"] = raw[start:]
            if pieces or state["done"]:
                break
            fill()
        return b"".join(pieces)

    return read1


def _frames(response) -> Iterator[tuple[str, bytes]]:
    """(stream, payload) frames; a TTY container's raw output counts as stdout.

    Reads whatever the engine has sent so far (so a follow is never held back waiting for more) and cuts the
    frames out of it, rather than two reads per frame.
    """
    read1 = _body_reader(response)
    with translate_errors():
        buffer = b""
        while len(buffer) < 8 and (chunk := read1()):
            buffer += chunk
        if not buffer:
            return
        if not (len(buffer) >= 8 and buffer[0] in (0, 1, 2) and buffer[1:4] == b"\0\0\0"):
            yield "stdout", buffer
            while chunk := read1():
                yield "stdout", chunk
            return
        unpack, start = _FRAME_HEADER.unpack_from, 0
        while True:
            end = len(buffer)
            while end - start >= 8:
                stream_type, length = unpack(buffer, start)
                if end - start - 8 < length:
                    break
                start += 8
                yield STREAM_NAMES.get(stream_type, "stdout"), buffer[start : start + length]
                start += length
            chunk = read1()
            if not chunk:
                if end - start > 8:
                    yield STREAM_NAMES.get(buffer[start], "stdout"), buffer[start + 8 :]  # cut short at the end
                return
            buffer = buffer[start:] + chunk
            start = 0


def log_lines(response) -> Iterator[LogLine]:
    partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
    try:
        for stream, payload in _frames(response):
            data = partial[stream] + payload
            *lines, partial[stream] = data.split(b"\n")
            for line in lines:
                yield log_line(stream, line)
        for stream, rest in partial.items():
            if rest:
                yield log_line(stream, rest)
    finally:
        response.close()
