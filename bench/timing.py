"""Interleaved, repeated timing and the table of results."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    ours: float
    raw: float


def interleaved(ours: Callable[[], object], raw: Callable[[], object], *, repeats: int, warmup: int = 1) -> Sample:
    """Median seconds of each, taking turns (and swapping who goes first) so drift hits both alike."""
    for _ in range(warmup):
        raw()
        ours()
    ours_times: list[float] = []
    raw_times: list[float] = []
    for round_number in range(repeats):
        pair = [(ours, ours_times), (raw, raw_times)]
        if round_number % 2:
            pair.reverse()
        for function, times in pair:
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    return Sample(ours=statistics.median(ours_times), raw=statistics.median(raw_times))


def median_of(function: Callable[[], object], *, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table; `passed` None means the row informs and has no goal of its own."""

    benchmark: str
    ours: str
    raw: str = "-"
    ratio: float | None = None
    goal: str = "-"
    passed: bool | None = None

    @classmethod
    def timed(cls, benchmark: str, sample: Sample, *, max_ratio: float | None = None) -> "Row":
        ratio = sample.ours / sample.raw
        return cls(
            benchmark=benchmark,
            ours=ms(sample.ours),
            raw=ms(sample.raw),
            ratio=ratio,
            goal=f"<= {max_ratio:g}x" if max_ratio else "-",
            passed=None if max_ratio is None else ratio <= max_ratio,
        )

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "short", None: "-"}[self.passed]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "ours", "raw engine", "ratio", "goal", "result")
    cells = [header] + [
        (row.benchmark, row.ours, row.raw, f"{row.ratio:.2f}x" if row.ratio is not None else "-", row.goal, row.verdict)
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
