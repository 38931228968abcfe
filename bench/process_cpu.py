"""CPU time of processes on this host, read from /proc/<pid>/stat (utime + stime), by pid or by program.

The engine's side of a stats benchmark is what dockerd, containerd and containerd's shims (one per running
container, which answer containerd's metrics requests) spend; it is read from outside, so nothing in the
service or the engine is changed to be measured.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# The engine's processes by their `comm`, longest prefix first: a shim is counted as a shim, not containerd.
ENGINE_PROGRAMS = ("containerd-shim", "containerd", "dockerd")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    return _ticks(Path(f"/proc/{pid}")) / TICKS


def thread_cpu_seconds(pid: int, name: str) -> float:
    """User + system CPU seconds so far of the threads of `pid` named `name` in /proc (their comm)."""
    ticks = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == name:
                ticks += _ticks(task)
        except OSError:
            continue  # it ended meanwhile
    return ticks / TICKS


def _ticks(entry: Path) -> int:
    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def engine_ticks() -> dict[int, tuple[str, int]]:
    """Every engine process now: pid -> (program, CPU ticks so far)."""
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            program = next((name for name in ENGINE_PROGRAMS if comm.startswith(name)), None)
            if program is not None:
                found[int(entry.name)] = (program, _ticks(entry))
        except OSError:
            continue  # it ended meanwhile
    return found


def engine_cpu_seconds() -> float | None:
    """CPU seconds the engine's processes alive now have used; None where they are not visible here."""
    found = engine_ticks()
    return sum(ticks for _, ticks in found.values()) / TICKS if found else None


@dataclass(frozen=True, slots=True)
class EngineCpu:
    """CPU seconds each engine program used over a window, and the window's length."""

    by_program: dict[str, float]
    seconds: float

    @property
    def total(self) -> float:
        return sum(self.by_program.values())


class EngineWindow:
    """The engine's CPU between start() and stop(), per program.

    Counted per pid: a process that started in the window counts from zero, one that ended in it counts
    nothing (its last ticks are gone with it).
    """

    def __init__(self) -> None:
        self._before: dict[int, tuple[str, int]] = {}
        self._started = 0.0

    def start(self) -> None:
        self._before, self._started = engine_ticks(), time.monotonic()

    def stop(self) -> EngineCpu:
        after, seconds = engine_ticks(), time.monotonic() - self._started
        by_program = dict.fromkeys(ENGINE_PROGRAMS, 0.0)
        for pid, (program, ticks) in after.items():
            _, before = self._before.get(pid, (program, 0))
            by_program[program] += max(0, ticks - before) / TICKS
        return EngineCpu(by_program=by_program, seconds=seconds)
