"""Reading on after a line: the engine's stored order, not the timestamps', says which lines are new."""

from containersvc.engine import LogLine
from containersvc.producers.groups import LinePosition
from containersvc.producers.log_history import lines_after

T0 = 1_700_000_000_000_000_000


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_newer_lines_stored_before_the_line_were_read_already_and_older_ones_after_it_are_new():
    # stdout's copier stored 4 and 5 before stderr's stored "oops", which it had read earlier.
    stored = [
        LogLine("stdout", T0 + 4, "4"),
        LogLine("stdout", T0 + 5, "5"),
        LogLine("stderr", T0 + 3, "oops"),
        LogLine("stdout", T0 + 6, "6"),
        LogLine("stderr", T0 + 2, "late"),
    ]
    read_from_oops = [line for line in stored if line.timestamp_ns >= T0 + 3]  # as the engine answers `since`

    assert texts(lines_after(read_from_oops, LinePosition("stderr", T0 + 3))) == ["6"]
    assert texts(lines_after(stored, LinePosition("stdout", T0 + 5))) == ["oops", "6", "late"]


def test_the_line_at_the_end_leaves_nothing_to_read():
    stored = [LogLine("stdout", T0 + 5, "5"), LogLine("stderr", T0 + 3, "oops")]

    assert texts(lines_after(stored, LinePosition("stderr", T0 + 3))) == []


def test_when_the_line_is_gone_the_first_newer_line_of_its_stream_begins_the_new_ones():
    stored = [LogLine("stderr", T0 + 9, "other"), LogLine("stdout", T0 + 7, "7"), LogLine("stdout", T0 + 8, "8")]

    assert texts(lines_after(stored, LinePosition("stdout", T0 + 5))) == ["7", "8"]
