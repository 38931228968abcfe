"""The engine going away is logged once, then at doubling intervals, and once when it is back."""

import itertools
import logging

import pytest

from containersvc.errors import EngineTimeout, EngineUnavailable
from containersvc.producers.engine_away import EngineAwayLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def away_log(clock) -> EngineAwayLog:
    return EngineAwayLog(logger=logging.getLogger("test.engine_away"), first_repeat=30, max_repeat=240, clock=clock)


def _lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "test.engine_away"]


def test_one_line_when_the_engine_goes_away_however_often_it_fails(away_log, clock, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(29):  # a retry a second for 29 s, by every producer at once
        away_log.away(EngineUnavailable("The Docker engine is unavailable at unix:///x.sock: FileNotFoundError(2)"))
        clock.now += 1

    assert len(_lines(caplog)) == 1
    assert _lines(caplog)[0].endswith("is unreachable; retrying in the background.")
    assert "FileNotFoundError" not in _lines(caplog)[0]
    assert away_log.is_away


def test_reminders_come_at_doubling_intervals_up_to_the_cap(away_log, clock, caplog):
    caplog.set_level(logging.INFO)
    logged_at = []
    start = clock.now
    for _ in range(1200):  # twenty minutes of retries, one a second
        before = len(_lines(caplog))
        away_log.away(EngineUnavailable())
        if len(_lines(caplog)) > before:
            logged_at.append(clock.now - start)
        clock.now += 1

    assert logged_at[:5] == [0, 30, 90, 210, 450]  # then 240 s apart at most
    assert all(later - earlier <= 240 for earlier, later in itertools.pairwise(logged_at))
    assert "unreachable (for 30 s); still retrying." in _lines(caplog)[1]
    assert "(for 8 min)" in _lines(caplog)[4]


def test_one_line_when_the_engine_is_back_and_nothing_while_it_stays(away_log, clock, caplog):
    caplog.set_level(logging.INFO)
    away_log.away(EngineTimeout())
    clock.now += 95
    away_log.back()
    away_log.back()

    assert _lines(caplog)[0].endswith("does not answer in time; retrying in the background.")
    assert _lines(caplog)[1].endswith("is back after 95 s.")
    assert len(_lines(caplog)) == 2
    assert not away_log.is_away


def test_going_away_again_is_logged_again(away_log, clock, caplog):
    caplog.set_level(logging.INFO)
    away_log.away(EngineUnavailable())
    away_log.back()
    away_log.away(EngineUnavailable())

    assert len(_lines(caplog)) == 3
