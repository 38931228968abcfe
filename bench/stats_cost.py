"""Collector cost (issue 12): what sampling N running containers every second costs the node, against
Dozzle's way of getting the same numbers, one streaming engine stats connection per container.

Ours is the service as `scripts/run` starts it: a daphne with its always-on producers, whose collector reads
every running container's cgroup files each second and stores history. Its side is daphne's CPU plus the
engine's (dockerd, containerd and the containers' shims) over the window. The other side, in the same run:
this process holds `GET /containers/<id>/stats?stream=1` open to every container and reads what comes,
and its side is this process's CPU plus the engine's over a window of the same length. The reader only
counts bytes (Dozzle also decodes each JSON object), so the streaming side is, if anything, undercounted.
"""

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings

from bench.containers_list import containers_ensure
from bench.environment import BENCH_LABEL, Bench, admin_token
from bench.process_cpu import ENGINE_PROGRAMS, EngineCpu, EngineWindow, cpu_seconds
from bench.served import Served
from bench.timing import Row

Progress = Callable[[str], None]

RATIO_GOAL = 0.2  # ours (service + engine) against the streams (reader + engine)
SERVICE_CORE_GOAL = 5.0  # % of one core, at the largest count
SAMPLED_WITHIN = 600.0  # seconds for daphne's first rounds (an inspect per container) on a busy machine
CONNECTS_AT_ONCE = 32


@dataclass(frozen=True, slots=True)
class Side:
    """One side's CPU seconds over a window."""

    process: float  # daphne, or the streams' reader
    engine: EngineCpu

    @property
    def total(self) -> float:
        return self.process + self.engine.total


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


def wait_sampled(served: Served, ids: list[str], progress) -> None:
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


def collector_side(bench: Bench, ids: list[str], seconds: float, progress) -> Side:
    with served_admin(bench) as served:
        wait_sampled(served, ids, progress)
        progress(f"stats: {seconds:g} s of daphne's collector over {len(ids)} containers")
        engine = EngineWindow()
        before = cpu_seconds(served.pid)
        engine.start()
        time.sleep(seconds)  # the window: CPU seconds over wall time is what is measured
        used = engine.stop()
        return Side(process=cpu_seconds(served.pid) - before, engine=used)


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
        writer.write(
            f"GET /v{version}/containers/{container_id}/stats?stream=1 HTTP/1.1\r\nHost: docker\r\n\r\n".encode()
        )
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        while data := await reader.read(65536):
            received[index] += data.count(b"}\n")  # one JSON object a line; one split between reads is missed
            if received[index]:
                first.set()
    finally:
        writer.close()


async def _streams(bench: Bench, ids: list[str], seconds: float, progress) -> tuple[Side, int]:
    version = bench.raw.api_version
    received = [0] * len(ids)
    firsts = [asyncio.Event() for _ in ids]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def one(index: int, container_id: str) -> None:
        # Connections are opened a few at a time: each holds its place until its first object arrives.
        async with gate:
            task = asyncio.create_task(_stream(container_id, version, received, index, firsts[index]))
            first = asyncio.create_task(firsts[index].wait())
            await asyncio.wait([task, first], return_when=asyncio.FIRST_COMPLETED)
            first.cancel()
        await task

    tasks = [asyncio.create_task(one(index, container_id)) for index, container_id in enumerate(ids)]
    ready = asyncio.ensure_future(asyncio.gather(*(first.wait() for first in firsts)))
    everything: list[asyncio.Future] = [ready, *tasks]
    try:
        done, _ = await asyncio.wait(everything, timeout=SAMPLED_WITHIN, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            failed = next((task.exception() for task in done if task.exception()), None)
            raise SystemExit(f"the engine stats streams did not all answer: {failed or 'no object in time'}")
        progress(f"stats: {seconds:g} s of {len(ids)} engine stats streams")
        engine = EngineWindow()
        before_objects, before = sum(received), time.process_time()
        engine.start()
        await asyncio.sleep(seconds)  # the window: CPU seconds over wall time is what is measured
        used = engine.stop()
        side = Side(process=time.process_time() - before, engine=used)
        return side, sum(received) - before_objects
    finally:
        for future in everything:
            future.cancel()
        await asyncio.gather(*everything, return_exceptions=True)


def streams_side(bench: Bench, ids: list[str], seconds: float, progress) -> tuple[Side, int]:
    """Dozzle's way, read by this process (whose other threads are idle meanwhile)."""
    return asyncio.run(_streams(bench, ids, seconds, progress))


def _cpu(seconds: float, window: float) -> str:
    return f"{seconds:.2f} s ({seconds / window * 100:.1f} % of a core)"


def _by_program(side: Side) -> str:
    return " / ".join(f"{side.engine.by_program[program]:.2f}" for program in reversed(ENGINE_PROGRAMS)) + " s"


def run(bench: Bench, *, sizes: list[int], seconds: float, progress: Progress) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        progress(f"stats: starting containers up to {size}")
        ids = fleet_ids(bench, size)
        ours = collector_side(bench, ids, seconds, progress)
        theirs, objects = streams_side(bench, ids, seconds, progress)
        label = f"stats cost, {size} containers, {seconds:g} s at 1 s"
        ratio = ours.total / theirs.total
        rows.append(
            Row(
                f"{label}: CPU, service + engine, vs a stats stream per container (reader + engine)",
                f"{ours.total:.2f} s",
                f"{theirs.total:.2f} s",
                ratio,
                f"<= {RATIO_GOAL:g}x",
                ratio <= RATIO_GOAL,
            )
        )
        rows.append(
            Row(
                f"{label}: CPU, engine only (dockerd + containerd + shims)",
                f"{ours.engine.total:.2f} s",
                f"{theirs.engine.total:.2f} s",
                ours.engine.total / theirs.engine.total if theirs.engine.total else None,
            )
        )
        rows.append(Row(f"{label}: engine CPU, dockerd / containerd / shims", _by_program(ours), _by_program(theirs)))
        share = ours.process / seconds * 100
        largest = size == max(sizes)
        rows.append(
            Row(
                f"{label}: service process (daphne, all producers) vs the streams' reader",
                _cpu(ours.process, seconds),
                _cpu(theirs.process, seconds),
                goal=f"< {SERVICE_CORE_GOAL:g} % of a core" if largest else "-",
                passed=share < SERVICE_CORE_GOAL if largest else None,
            )
        )
        rows.append(
            Row(
                f"{label}: stats objects the streams received per container per second",
                "-",
                f"{objects / size / seconds:.2f}",
            )
        )
        rows.append(Row(f"{label}: the machine's load average (1 min) after both", f"{os.getloadavg()[0]:.1f}"))
    return rows
