"""The list asked on a thread of its own while the caller reads the database (engine.container_list_asked): its
answer, its errors, a bound on the wait, and a forked server (the browser tests' daphne) still answered. The
engine's list is replaced at its boundary: no engine is reached."""

import os
import threading

import pytest

from containersvc.engine import containers as engine_containers
from containersvc.errors import EngineTimeout, EngineUnavailable


def test_the_answer_and_the_error_reach_the_caller(monkeypatch):
    monkeypatch.setattr(engine_containers, "container_list", lambda: ["listed"])
    assert engine_containers.container_list_asked()() == ["listed"]

    def away():
        raise EngineUnavailable("The Docker engine is not reachable.")

    monkeypatch.setattr(engine_containers, "container_list", away)
    wait = engine_containers.container_list_asked()
    with pytest.raises(EngineUnavailable):
        wait()


def test_an_answer_that_never_comes_is_waited_for_a_bounded_time(monkeypatch, settings):
    settings.CONTAINERSVC_ENGINE_TIMEOUT = 0.2
    released = threading.Event()
    monkeypatch.setattr(engine_containers, "container_list", lambda: released.wait(30) and [])
    try:
        with pytest.raises(EngineTimeout):
            engine_containers.container_list_asked()()
    finally:
        released.set()


def test_a_forked_child_is_answered(monkeypatch, settings):
    settings.CONTAINERSVC_ENGINE_TIMEOUT = 1
    monkeypatch.setattr(engine_containers, "container_list", lambda: ["listed"])
    assert engine_containers.container_list_asked()() == ["listed"]  # the parent's pool has a thread now

    child = os.fork()
    if child == 0:  # pragma: no cover - the child's exit code is the result
        try:
            code = 0 if engine_containers.container_list_asked()() == ["listed"] else 1
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "0: answered; 2: the child waited for a thread it does not have"
