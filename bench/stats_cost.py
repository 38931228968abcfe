"""Collector cost (issue 12): what sampling N running containers every second costs the node, against
Dozzle's way of getting the same numbers, one streaming engine stats connection per container.

Ours is the service as `scripts/run` starts it: a daphne with its always-on producers, whose collector reads
every running container's cgroup files each second and stores history. Its side is daphne's CPU plus the
engine's (dockerd, containerd and the containers' shims). The other side: this process holds
`GET /containers/<id>/stats?stream=1` open to every container and reads what comes; its side is this
process's CPU plus the engine's. The reader only counts bytes (Dozzle also decodes each JSON object), so
the streaming side is, if anything, undercounted.

The engine is shared: other work on the machine makes dockerd busy too. So the windows are interleaved, in
rounds of three of equal length: daphne sampling; nothing of ours (daphne stopped with SIGSTOP, no
streams: the engine's baseline); the streams (daphne stopped). Each side's engine CPU is counted over the
baseline of the same rounds.

Daphne's CPU is all of its producers and whatever else it serves; its collector's thread names itself in
/proc, so its own CPU is read apart (`/proc/<pid>/task/<tid>/stat`). The collector samples every running
container of the engine, others' included where the engine is shared: the rows say how many it sampled.
"""

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from django.conf import settings

from bench.containers_list import containers_ensure
from bench.environment import BENCH_LABEL, Bench, admin_token
from bench.process_cpu import ENGINE_PROGRAMS, EngineWindow, cpu_seconds, thread_cpu_seconds
from bench.served import Served
from bench.timing import Row
from containersvc.producers.stats_collector import StatsCollector

Progress = Callable[[str], None]

RATIO_GOAL = 0.2  # ours (service + engine) against the streams (reader + engine)
SERVICE_CORE_GOAL = 5.0  # % of one core, at the largest count
SAMPLED_WITHIN = 600.0  # seconds for daphne's first rounds (an inspect per container) on a busy machine
CONNECTS_AT_ONCE = 32
ROUNDS = 3
SETTLE_SECONDS = 2.0  # after the streams close, before the next window: the engine tidies up


@dataclass(slots=True)
class Tally:
    """CPU seconds of one kind of window, summed over the rounds."""

    wall: float = 0.0
    process: float = 0.0  # daphne, or the streams' reader; nothing in the baseline
    collector: float = 0.0  # daphne's collector thread alone (part of `process`)
    sampled: list[int] = field(default_factory=list)  # containers daphne's collector sampled, after each window
    engine: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ENGINE_PROGRAMS, 0.0))
    objects: int = 0  # stats objects the streams received

    @property
    def engine_total(self) -> float:
        return sum(self.engine.values())

    def over(self, baseline: "Tally") -> float:
        """The engine's CPU beyond the baseline's (scaled to this tally's wall time), plus the process's."""
        extra = self.engine_total - baseline.engine_total * self.wall / baseline.wall
        return self.process + max(0.0, extra)


def fleet_ids(bench: Bench, count: int) -> list[str]:
    """`count` running sleeping containers of this run (started as the list benchmark starts them, 8 at a time
    in threads; those already there are reused)."""
    containers_ensure(bench, count)
    found = bench.raw.containers(
        filters={"label": f"{BENCH_LABEL}={bench.run_id}", "status": "running", "name": f"bench-{bench.run_id}-list-"}
    )
    ids = sorted(entry["Id"] for entry in found)
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} of {count} containers are running")
    return ids[:count]


def served_admin(bench: Bench) -> Served:
    """A daphne (always-on producers, the collector among them) called as a superuser, who sees every container."""
    return Served(token=admin_token(), log_path=bench.workdir / "daphne.log")


def wait_sampled(served: Served, ids: list[str], progress: Progress) -> None:
    """Until daphne's collector has a CPU figure (two rounds) for every one of `ids`: its steady state."""
    wanted, deadline = set(ids), time.monotonic() + SAMPLED_WITHIN
    while time.monotonic() < deadline:
        response = served.session.get(f"{served.base}/container-svc/containers/stats", timeout=120)
        response.raise_for_status()
        have = {row["containerId"] for row in response.json()["stats"] if row["cpuPercent"] is not None}
        missing = len(wanted - have)
        if not missing:
            return
        progress(f"stats: daphne's collector has {len(ids) - missing} of {len(ids)} containers")
        time.sleep(2)  # polling: each answer lists every container
    raise SystemExit(f"daphne's collector did not sample all {len(ids)} containers in {SAMPLED_WITHIN:g} s")


# --- Dozzle's way -----------------------------------------------------------------------------------------
def _engine_address() -> tuple[str | None, str, int]:
    """(unix socket path, host, port) of the engine, from the setting the service uses."""
    address = urlparse(settings.CONTAINERSVC_DOCKER_HOST)
    if address.scheme in ("unix", "http+unix"):
        return address.path, "", 0
    return None, address.hostname or "127.0.0.1", address.port or 2375


async def _stream(container_id: str, version: str, received: list[int], index: int, first: asyncio.Event) -> None:
    path, host, port = _engine_address()
    if path:
        reader, writer = await asyncio.open_unix_connection(path)
    else:
        reader, writer = await asyncio.open_connection(host, port)
    try:
        request = f"GET /v{version}/containers/{container_id}/stats?stream=1 HTTP/1.1\r\nHost: docker\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        while data := await reader.read(65536):
            received[index] += data.count(b"}\n")  # one JSON object a line; one split between reads is missed
            if received[index]:
                first.set()
    finally:
        writer.close()


class Streams:
    """One engine stats stream per container, open from open() (which waits for every first object) to close()."""

    def __init__(self, ids: list[str], version: str) -> None:
        self.ids, self.version = ids, version
        self.received = [0] * len(ids)
        self._futures: list[asyncio.Future] = []

    async def open(self) -> None:
        firsts = [asyncio.Event() for _ in self.ids]
        gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

        async def one(index: int, container_id: str) -> None:
            # Opened a few at a time: each holds its place until its first object arrives.
            async with gate:
                task = asyncio.create_task(_stream(container_id, self.version, self.received, index, firsts[index]))
                first = asyncio.create_task(firsts[index].wait())
                await asyncio.wait([task, first], return_when=asyncio.FIRST_COMPLETED)
                first.cancel()
            await task

        tasks = [asyncio.create_task(one(index, container_id)) for index, container_id in enumerate(self.ids)]
        ready = asyncio.ensure_future(asyncio.gather(*(first.wait() for first in firsts)))
        self._futures = [ready, *tasks]
        done, _ = await asyncio.wait(self._futures, timeout=SAMPLED_WITHIN, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            failed = next((future.exception() for future in done if future.exception()), None)
            raise SystemExit(f"the engine stats streams did not all answer: {failed or 'no object in time'}")

    async def close(self) -> None:
        for future in self._futures:
            future.cancel()
        await asyncio.gather(*self._futures, return_exceptions=True)


# --- the rounds -------------------------------------------------------------------------------------------
async def _window(
    tally: Tally,
    seconds: float,
    process_cpu: Callable[[], float],
    objects: Callable[[], int],
    collector_cpu: Callable[[], float] = lambda: 0.0,
) -> None:
    engine = EngineWindow()
    process_before, objects_before, collector_before = process_cpu(), objects(), collector_cpu()
    engine.start()
    await asyncio.sleep(seconds)  # the window: CPU seconds over wall time is what is measured
    used = engine.stop()
    tally.process += process_cpu() - process_before
    tally.collector += collector_cpu() - collector_before
    tally.objects += objects() - objects_before
    tally.wall += used.seconds
    for program, spent in used.by_program.items():
        tally.engine[program] += spent


async def _rounds(bench: Bench, served: Served, ids: list[str], window: float, progress: Progress) -> list[Tally]:
    ours, baseline, theirs = Tally(), Tally(), Tally()
    daphne = served.pid

    def daphne_cpu() -> float:
        return cpu_seconds(daphne)

    def collector_cpu() -> float:
        return thread_cpu_seconds(daphne, StatsCollector.thread_name)

    def nothing() -> float:
        return 0.0

    for number in range(1, ROUNDS + 1):
        progress(f"stats: round {number} of {ROUNDS}: {window:g} s of daphne's collector over {len(ids)} containers")
        await _window(ours, window, daphne_cpu, lambda: 0, collector_cpu)
        ours.sampled.append(_sampled(served))
        os.kill(daphne, signal.SIGSTOP)
        try:
            progress(f"stats: round {number}: {window:g} s of the engine's baseline (daphne stopped)")
            await _window(baseline, window, nothing, lambda: 0)
            streams = Streams(ids, bench.raw.api_version)
            try:
                await streams.open()
                progress(f"stats: round {number}: {window:g} s of {len(ids)} engine stats streams")
                await _window(theirs, window, time.process_time, lambda: sum(streams.received))  # noqa: B023
            finally:
                await streams.close()
            await asyncio.sleep(SETTLE_SECONDS)
        finally:
            os.kill(daphne, signal.SIGCONT)
    return [ours, baseline, theirs]


def _sampled(served: Served) -> int:
    """How many containers daphne's collector samples now: the engine is shared, so others' count too."""
    response = served.session.get(f"{served.base}/container-svc/containers/stats", timeout=120)
    response.raise_for_status()
    return len(response.json()["stats"])


def _programs(tally: Tally) -> str:
    return " / ".join(f"{tally.engine[program]:.2f}" for program in reversed(ENGINE_PROGRAMS)) + " s"


def run(bench: Bench, *, sizes: list[int], seconds: float, progress: Progress) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        progress(f"stats: starting containers up to {size}")
        ids = fleet_ids(bench, size)
        with served_admin(bench) as served:
            wait_sampled(served, ids, progress)
            ours, baseline, theirs = asyncio.run(_rounds(bench, served, ids, seconds / ROUNDS, progress))
        label = f"stats cost, {size} containers, {ours.wall:.0f} s a side at 1 s"
        ours_total, theirs_total = ours.over(baseline), theirs.over(baseline)
        ratio = ours_total / theirs_total if theirs_total else None
        rows.append(
            Row(
                f"{label}: CPU, service + engine over the baseline, vs a stats stream per container (reader + engine)",
                f"{ours_total:.2f} s",
                f"{theirs_total:.2f} s",
                ratio,
                f"<= {RATIO_GOAL:g}x",
                ratio is not None and ratio <= RATIO_GOAL,
            )
        )
        rows.append(
            Row(
                f"{label}: engine CPU as measured (dockerd, containerd, shims; baseline {baseline.engine_total:.2f} s)",
                f"{ours.engine_total:.2f} s",
                f"{theirs.engine_total:.2f} s",
                ours.engine_total / theirs.engine_total if theirs.engine_total else None,
            )
        )
        rows.append(
            Row(
                f"{label}: engine CPU, dockerd / containerd / shims (baseline {_programs(baseline)})",
                _programs(ours),
                _programs(theirs),
            )
        )
        share = ours.process / ours.wall * 100
        largest = size == max(sizes)
        rows.append(
            Row(
                f"{label}: service process (daphne, all producers) vs the streams' reader (this process)",
                f"{ours.process:.2f} s ({share:.1f} % of a core)",
                f"{theirs.process:.2f} s ({theirs.process / theirs.wall * 100:.1f} % of a core)",
                goal=f"< {SERVICE_CORE_GOAL:g} % of a core" if largest else "-",
                passed=share < SERVICE_CORE_GOAL if largest else None,
            )
        )
        sampled = sum(ours.sampled) / len(ours.sampled)
        collector_share = ours.collector / ours.wall * 100
        per_container = ours.collector / ours.wall / sampled * 1e6 if sampled else 0.0
        rows.append(
            Row(
                f"{label}: daphne's collector thread alone (reads, history, buckets, alerts), sampling"
                f" {sampled:.0f} containers (the engine's others too); a container a round",
                f"{ours.collector:.2f} s ({collector_share:.1f} % of a core); {per_container:.0f} us",
                "-",
                goal=f"< {SERVICE_CORE_GOAL:g} % of a core" if largest else "-",
                passed=collector_share < SERVICE_CORE_GOAL if largest else None,
            )
        )
        rows.append(
            Row(
                f"{label}: stats objects received per container per second",
                "-",
                f"{theirs.objects / size / theirs.wall:.2f}",
            )
        )
        rows.append(Row(f"{label}: the machine's load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"))
    return rows
