"""The engine's log bodies decoded by hand (chunked transfer, multiplexed frames): pieces may split anywhere."""

import io
import struct
from types import SimpleNamespace

import pytest

from containersvc import engine
from containersvc.engine import logstream
from containersvc.errors import EngineUnavailable


class Trickle(io.RawIOBase):
    """A socket that hands out at most `step` bytes per read, as a network might."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        piece, self.data = self.data[: min(self.step, len(buffer))], self.data[min(self.step, len(buffer)) :]
        buffer[: len(piece)] = piece
        return len(piece)


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


class FakeResponse:
    def __init__(self, body: bytes, step: int) -> None:
        reader = io.BufferedReader(Trickle(body, step))
        self.raw = SimpleNamespace(_fp=SimpleNamespace(fp=reader, chunked=True, chunk_left=None))
        self.closed = False

    def close(self) -> None:
        self.closed = True


STAMP = b"2026-11-28T12:00:00.000000001Z "


@pytest.mark.parametrize("step", [1, 3, 7, 64, 65536])
def test_frames_split_anywhere_give_the_same_lines(step):
    frames = [frame(1, STAMP + b"one\n"), frame(2, STAMP + b"two\n"), frame(1, STAMP + b"thr"), frame(1, b"ee\n")]
    body = chunked(frames[0], frames[1] + frames[2], frames[3])
    response = FakeResponse(body, step)
    lines = list(logstream.log_lines(response))
    assert [(line.stream, line.text) for line in lines] == [("stdout", "one"), ("stderr", "two"), ("stdout", "three")]
    assert lines[0].timestamp_ns == engine.timestamp_ns("2026-11-28T12:00:00.000000001Z")
    assert response.closed


def test_a_tty_body_is_stdout_text():
    response = FakeResponse(chunked(STAMP + b"plain text\n"), 5)
    assert [(line.stream, line.text) for line in logstream.log_lines(response)] == [("stdout", "plain text")]


def test_a_body_cut_off_mid_chunk_is_the_engine_going_away():
    body = chunked(frame(1, STAMP + b"whole\n"), frame(1, STAMP + b"cut\n"))[:-20]
    lines = logstream.log_lines(FakeResponse(body, 16))
    assert next(lines).text == "whole"
    with pytest.raises(EngineUnavailable):
        list(lines)
