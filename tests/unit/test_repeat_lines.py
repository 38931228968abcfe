"""The repeat-line rule, shared by the log followers, the reads of the past and the log store."""

from containersvc.engine import LogLine
from containersvc.services.logs import LinePlacer, RepeatFilter

T0 = 1_700_000_000_000_000_000


def test_a_line_sent_again_with_its_timestamp_is_a_repeat_in_its_stream_only():
    repeats = RepeatFilter()
    seen = [LogLine("stdout", T0, "a"), LogLine("stdout", T0, "a"), LogLine("stderr", T0, "a")]

    assert [repeats.repeated(line) for line in seen] == [False, True, False]


def test_equal_text_at_another_time_and_other_text_at_the_same_time_are_new_lines():
    repeats = RepeatFilter()
    seen = [LogLine("stdout", T0, "a"), LogLine("stdout", T0 + 1, "a"), LogLine("stdout", T0 + 1, "b")]

    assert [repeats.repeated(line) for line in seen] == [False, False, False]


def test_the_placer_gives_a_repeat_no_place_and_numbers_lines_sharing_a_timestamp():
    placer = LinePlacer()
    lines = [LogLine("stdout", T0, "a"), LogLine("stdout", T0, "a"), LogLine("stdout", T0, "b")]
    lines += [LogLine("stdout", T0 + 1, "c")]

    placed = [placer.place(line) for line in lines]

    assert [None if item is None else item.position for item in placed] == [(T0, 1), None, (T0, 2), (T0 + 1, 1)]
