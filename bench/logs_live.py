"""Live logs through a real daphne (ws/containers/<id>/logs/): throughput, latency and fan-out, each beside
the raw engine in the same run.

The containers are labelled as this node's managed ones (as if the API had made them), so the daphne under
test also captures their logs into the database, as it would in use. Each waits for a file to appear (made
with an engine exec) before it prints, so that every socket is following before the first line.
"""

import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from websockets.asyncio.client import connect
from websockets.typing import Origin

from bench.environment import Bench
from bench.served import Served
from bench.timing import Row
from containersvc import labels

THROUGHPUT_GOAL = 0.7  # at least this share of the raw engine's rate
MEMORY_GOAL_MB = 100
LATENCY_P50_GOAL_MS = 50
LATENCY_P99_GOAL_MS = 250
WAIT_FOR_GO = "until [ -e /go ]; do usleep 20000; done; "


@dataclass
class Received:
    """What one socket received: lines, skip markers, gaps, the end, and when each line arrived."""

    generation: str = ""
    lines: int = 0
    skipped: int = 0
    gaps: int = 0
    out_of_order: int = 0
    last_number: int = 0
    last_stamp: int = 0
    ended: bool = False
    closed: int | None = None
    last_at: float = 0.0  # perf_counter at the last line
    latencies_ns: list[int] = field(default_factory=list)


async def follow(url: str, served: Served, *, connected: asyncio.Event | None = None, latency: bool = False):
    """Follow one container's logs to the end, acknowledging every message as soon as it arrives."""
    received = Received()
    headers = {"Authorization": str(served.session.headers["Authorization"])}  # set as a str by Served
    async with connect(
        url,
        origin=Origin(served.base),
        additional_headers=headers,
        max_size=None,
        compression=None,
        open_timeout=60,
        ping_interval=None,
    ) as socket:
        hello = json.loads(await socket.recv())
        if hello.get("type") != "hello":
            raise SystemExit(f"the log socket opened with {hello}")
        received.generation = hello["generation"]
        if connected is not None:
            connected.set()
        async for raw in socket:
            arrived_ns, arrived = time.time_ns(), time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "lines":
                await socket.send(json.dumps({"type": "ack", "seq": message["seq"]}))
                received.skipped += message["skipped"]
                received.gaps += bool(message["gap"])
                _check_order(received, message["lines"])
                if latency:
                    received.latencies_ns += [arrived_ns - int(stamp) for _n, _s, stamp, _t in message["lines"]]
                received.lines += len(message["lines"])
                received.last_at = arrived
            elif message["type"] == "end":
                received.ended = True
                break
    received.closed = socket.close_code
    return received


def _check_order(received: Received, lines: list[list]) -> None:
    """Each line once and in order: timestamps only increase (the benchmark's containers print to stdout
    only), and so do the numbers of the follower's lines (lines read for the socket alone have none)."""
    stamps = [int(stamp) for _number, _stream, stamp, _text in lines]
    numbers = [number for number, *_rest in lines if number is not None]
    for values, before in ((stamps, received.last_stamp), (numbers, received.last_number)):
        if not values:
            continue
        previous = [before, *values[:-1]]
        received.out_of_order += sum(value <= earlier for value, earlier in zip(values, previous, strict=True))
    received.last_stamp = stamps[-1] if stamps else received.last_stamp
    received.last_number = numbers[-1] if numbers else received.last_number


def _url(served: Served, container_id: str, *, tail: str = "0") -> str:
    return f"ws://127.0.0.1:{served.port}/ws/containers/{container_id}/logs/?tail={tail}"


def _container_make(bench: Bench, name: str, script: str) -> str:
    """A managed container of this node that waits for /go, then runs `script` and exits."""
    created = bench.raw.create_container(
        bench.image,
        name=f"bench-{bench.run_id}-{name}",
        command=["sh", "-c", WAIT_FOR_GO + script],
        labels={**bench.labels, labels.MANAGED: "true", labels.NODE: settings.CONTAINERSVC_NODE_ID},
        host_config=bench.raw.create_host_config(init=True, network_mode="none"),
    )
    bench.raw.start(created["Id"])
    return created["Id"]


def _go(bench: Bench, container_id: str) -> None:
    execution = bench.raw.exec_create(container_id, ["touch", "/go"])
    bench.raw.exec_start(execution["Id"])


def _print_lines(count: int, *, every: int = 0, pause_us: int = 0) -> str:
    """awk printing `count` numbered lines of 44 characters; with `every`, a pause after every that many."""
    pause = f'if (i % {every} == 0) {{ fflush(); system("usleep {pause_us}") }}' if every else ""
    return f"awk 'BEGIN {{ for (i = 1; i <= {count}; i++) {{ printf \"line %07d of the live benchmark output\\n\", i; {pause} }} }}'"  # noqa: E501


def _raw_read(bench: Bench, container_id: str) -> tuple[float, int]:
    """Seconds to read the whole log of a container once, and its lines (frames split on newlines)."""
    started = time.perf_counter()
    lines = 0
    for chunk in bench.raw.logs(container_id, stream=True, follow=False, timestamps=True):
        lines += chunk.count(b"\n")
    return time.perf_counter() - started, lines


class RawFollow(threading.Thread):
    """A raw engine follow in a thread, opened before the container prints: lines, arrival of the last, and
    (with `latency`) each line's arrival on this machine's clock minus the engine's timestamp."""

    def __init__(self, bench: Bench, container_id: str, *, latency: bool = False) -> None:
        super().__init__(daemon=True)
        self.stream = bench.raw.logs(container_id, stream=True, follow=True, timestamps=True)
        self.latency = latency
        self.lines = 0
        self.last_at = 0.0
        self.latencies_ns: list[int] = []

    def run(self) -> None:
        partial = b""
        for chunk in self.stream:
            arrived_ns, self.last_at = time.time_ns(), time.perf_counter()
            *complete, partial = (partial + chunk).split(b"\n")
            self.lines += len(complete)
            if self.latency:
                for line in complete:
                    stamp = line.split(b" ", 1)[0].decode()
                    self.latencies_ns.append(arrived_ns - _timestamp_ns(stamp))


def _timestamp_ns(stamp: str) -> int:
    """The engine's RFC 3339 timestamp with nanoseconds (always UTC with timestamps=1) as ns since the epoch."""
    from containersvc.engine import timestamp_ns

    return timestamp_ns(stamp)


# --- the daphne process -------------------------------------------------------------------------------------
def _status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _log_readers(log_path: str) -> int | None:
    """Open descriptors of the container's log file in every process (the engine's writer among them);
    None when /proc does not show other processes' descriptors to this user."""
    found, readable = 0, False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                readable = True
                try:
                    found += os.readlink(fd.path) == log_path
                except OSError:
                    continue
        except OSError:
            continue
    return found if readable and found else None


def _mb(kb: int) -> str:
    return f"{kb / 1024:+.1f} MB"


def _rate(lines: int, seconds: float) -> str:
    return f"{lines / seconds:,.0f} lines/s"


# --- the benchmarks -----------------------------------------------------------------------------------------
def _captured(container_id: str, lines: int, timeout: float = 180) -> None:
    """Wait until the daphne under test has stored the container's whole log (as when a user opens it later)."""
    from django.db.models import Sum

    from containersvc.models import LogChunk

    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = LogChunk.objects.filter(container__container_id=container_id).aggregate(n=Sum("line_count"))["n"]
        if stored == lines:
            return
        time.sleep(0.5)
    raise SystemExit(f"the service stored {stored} of {lines} lines within {timeout:.0f} s")


def from_the_start(bench: Bench, served: Served, *, lines: int, rounds: int, progress) -> list[Row]:
    """The goal's comparison: a client follows a 200,000-line log from its start (tail=all) to its end, against
    reading the same log raw; rounds alternate which side goes first."""
    pid = served.pid
    rss_before = _status_kb(pid, "VmRSS")
    container_id = _container_make(bench, "from-the-start", "touch /go; " + _print_lines(lines))
    _go(bench, container_id)
    bench.raw.wait(container_id, timeout=300)
    progress(f"ws from the start: waiting for the service to store the {lines:,} lines")
    _captured(container_id, lines)

    def ours() -> tuple[float, Received]:
        async def client() -> Received:
            return await asyncio.wait_for(follow(_url(served, container_id, tail="all"), served), 300)

        started = time.perf_counter()
        received = asyncio.run(client())
        return time.perf_counter() - started, received

    ours_times, raw_times, received_all, cpu_times = [], [], [], []
    for number in range(rounds):
        progress(f"ws from the start: round {number + 1} of {rounds}, {lines:,} lines")
        for side in ("ours", "raw") if number % 2 == 0 else ("raw", "ours"):
            if side == "raw":
                seconds, raw_lines = _raw_read(bench, container_id)
                if raw_lines != lines:
                    raise SystemExit(f"the engine read {raw_lines} lines of {lines}")
                raw_times.append(seconds)
                continue
            cpu_started = _cpu_seconds(pid)
            seconds, received = ours()
            cpu_times.append(_cpu_seconds(pid) - cpu_started)
            ours_times.append(seconds)
            received_all.append(received)
    bench.raw.remove_container(container_id, force=True)
    ours_rate = _rate_of(received_all, ours_times)
    share = ours_rate / (lines / statistics.median(raw_times))
    title = f"ws logs: {lines:,} lines followed from the start (tail=all), 1 client"
    return [
        Row(
            f"{title}, vs raw read",
            ours=f"{ours_rate:,.0f} lines/s",
            raw=_rate(lines, statistics.median(raw_times)),
            ratio=share,
            goal=f">= {THROUGHPUT_GOAL:g}x",
            passed=share >= THROUGHPUT_GOAL,
        ),
        *_round_rows(
            "from the start",
            pid,
            lines=lines,
            received_all=received_all,
            times=ours_times,
            cpu_times=cpu_times,
            rss_before=rss_before,
            memory_goal=True,
        ),
    ]


def printed_while_followed(bench: Bench, served: Served, *, lines: int, rounds: int, progress) -> list[Row]:
    """A burst printed while a client follows it (connected first, with tail=all): the follower pushes it, and
    when it outruns the client the socket reads the rest from the engine itself rather than skip."""
    pid = served.pid
    rss_before = _status_kb(pid, "VmRSS")
    ours_times, raw_read_times, raw_follow_times, received_all, cpu_times = [], [], [], [], []
    for number in range(rounds):
        progress(f"ws burst: round {number + 1} of {rounds}, {lines:,} lines printed while followed")
        container_id = _container_make(bench, f"throughput-{number}", _print_lines(lines))

        async def ours(container_id=container_id) -> Received:
            connected = asyncio.Event()
            url = _url(served, container_id, tail="all")
            task = asyncio.create_task(follow(url, served, connected=connected))
            await asyncio.wait_for(connected.wait(), 60)
            started = time.perf_counter()
            await asyncio.to_thread(_go, bench, container_id)
            received = await asyncio.wait_for(task, 300)
            received.last_at -= started
            return received

        cpu_started = _cpu_seconds(pid)
        received = asyncio.run(ours())
        cpu_times.append(_cpu_seconds(pid) - cpu_started)
        ours_times.append(received.last_at)
        received_all.append(received)
        bench.raw.wait(container_id, timeout=120)
        seconds, raw_lines = _raw_read(bench, container_id)
        if raw_lines != lines:
            raise SystemExit(f"the engine read {raw_lines} lines of {lines}")
        raw_read_times.append(seconds)
        # A raw follow from the same start, on a twin container.
        twin = _container_make(bench, f"throughput-raw-{number}", _print_lines(lines))
        raw_follow = RawFollow(bench, twin)
        raw_follow.start()
        started = time.perf_counter()
        _go(bench, twin)
        raw_follow.join(300)
        raw_follow_times.append(raw_follow.last_at - started)
        bench.raw.remove_container(container_id, force=True)
        bench.raw.remove_container(twin, force=True)
    read_s, follow_s = statistics.median(raw_read_times), statistics.median(raw_follow_times)
    ours_rate = _rate_of(received_all, ours_times)
    title = f"ws logs: {lines:,} lines printed while followed (tail=all), 1 client"
    return [
        Row(
            f"{title}, vs raw follow",
            ours=f"{ours_rate:,.0f} lines/s",
            raw=_rate(lines, follow_s),
            ratio=ours_rate / (lines / follow_s),
        ),
        Row(
            f"{title}, vs raw read of the finished log",
            ours=f"{ours_rate:,.0f} lines/s",
            raw=_rate(lines, read_s),
            ratio=ours_rate / (lines / read_s),
        ),
        *_round_rows(
            "printed while followed",
            pid,
            lines=lines,
            received_all=received_all,
            times=ours_times,
            cpu_times=cpu_times,
            rss_before=rss_before,
            memory_goal=False,
        ),
    ]


def _rate_of(received_all: list[Received], times: list[float]) -> float:
    """Median lines per second over the rounds; it counts the lines received (skipped ones were not delivered)."""
    return statistics.median(r.lines / seconds for r, seconds in zip(received_all, times, strict=True))


def _round_rows(
    label: str,
    pid: int,
    *,
    lines: int,
    received_all: list[Received],
    times: list[float],
    cpu_times: list[float],
    rss_before: int,
    memory_goal: bool,
) -> list[Row]:
    """What each round received (every line, once, in order, then the end), daphne's CPU and its memory."""
    whole = all(
        r.lines == lines and not r.skipped and not r.gaps and not r.out_of_order and r.ended for r in received_all
    )
    rss_after, rss_peak = _status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM")
    growth_mb = (max(rss_after, rss_peak) - rss_before) / 1024
    return [
        Row(
            f"ws logs: {label}, received + skipped per round (of {lines:,})",
            ours=", ".join(f"{r.lines:,} + {r.skipped:,}" for r in received_all),
            goal="all received",
            passed=whole,
        ),
        Row(
            f"ws logs: {label}, daphne CPU per round (median)",
            ours=f"{statistics.median(cpu_times):.1f} s in {statistics.median(times):.1f} s",
        ),
        Row(
            f"ws logs: {label}, daphne RSS growth over {len(times)} rounds (peak)",
            ours=f"{_mb(rss_after - rss_before)} ({_mb(rss_peak - rss_before)})",
            goal=f"< {MEMORY_GOAL_MB} MB" if memory_goal else "-",
            passed=growth_mb < MEMORY_GOAL_MB if memory_goal else None,
        ),
    ]


def latency(bench: Bench, served: Served, *, lines: int, interval_ms: int, progress) -> list[Row]:
    progress(f"ws latency: {lines:,} lines, one every {interval_ms} ms")
    container_id = _container_make(bench, "latency", _print_lines(lines, every=1, pause_us=interval_ms * 1000))
    raw_follow = RawFollow(bench, container_id, latency=True)
    raw_follow.start()

    async def ours() -> Received:
        connected = asyncio.Event()
        task = asyncio.create_task(follow(_url(served, container_id), served, connected=connected, latency=True))
        await asyncio.wait_for(connected.wait(), 60)
        await asyncio.to_thread(_go, bench, container_id)
        return await asyncio.wait_for(task, 300)

    received = asyncio.run(ours())
    raw_follow.join(60)
    if received.lines != lines or raw_follow.lines != lines:
        raise SystemExit(
            f"latency: the socket got {received.lines} lines, the raw follow {raw_follow.lines}, of {lines}"
        )
    rows = []
    for label, goal in (("p50", LATENCY_P50_GOAL_MS), ("p99", LATENCY_P99_GOAL_MS)):
        quantile = 0.5 if label == "p50" else 0.99
        ours_ms, raw_ms = _quantile(received.latencies_ns, quantile), _quantile(raw_follow.latencies_ns, quantile)
        rows.append(
            Row(
                f"ws live latency {label}: {lines:,} lines {interval_ms} ms apart, engine stamp to client",
                ours=f"{ours_ms:.1f} ms",
                raw=f"{raw_ms:.1f} ms (follow)",
                goal=f"<= {goal} ms",
                passed=ours_ms <= goal,
            )
        )
    worst = max(received.latencies_ns) / 1e6
    rows.append(Row("ws live latency max", ours=f"{worst:.1f} ms", raw=f"{max(raw_follow.latencies_ns) / 1e6:.1f} ms"))
    bench.raw.remove_container(container_id, force=True)
    return rows


def _quantile(values_ns: list[int], quantile: float) -> float:
    ordered = sorted(values_ns)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] / 1e6


def fan_out(bench: Bench, served: Served, *, clients: int, lines: int, per_second: int, progress) -> list[Row]:
    pid = served.pid
    every = max(1, per_second // 100)  # a pause every 10 ms
    container_id = _container_make(bench, "fan-out", _print_lines(lines, every=every, pause_us=10_000))
    log_path = bench.raw.inspect_container(container_id)["LogPath"]
    raw_follow = RawFollow(bench, container_id)
    raw_follow.start()
    time.sleep(1)  # the daphne's capture follower opens its follow when it hears the container start
    # The engine's writer, daphne's capture follow and the raw follow beside ours: the sockets add to these.
    readers_before = _log_readers(log_path)
    rss_before = _status_kb(pid, "VmRSS")
    progress(f"ws fan-out: connecting {clients} clients")

    async def ours() -> tuple[list[Received], int | None, float, float, float]:
        connected = [asyncio.Event() for _ in range(clients)]
        gate = asyncio.Semaphore(16)

        async def one(event: asyncio.Event) -> Received:
            async with gate:
                task = asyncio.create_task(follow(_url(served, container_id), served, connected=event))
                await asyncio.wait_for(event.wait(), 120)
            return await task

        tasks = [asyncio.create_task(one(event)) for event in connected]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), 300)
        readers = await asyncio.to_thread(_log_readers, log_path)
        progress(f"ws fan-out: {clients} clients following; {lines:,} lines, {every} per 10 ms")
        cpu_started, client_cpu_started, started = _cpu_seconds(pid), time.process_time(), time.perf_counter()
        await asyncio.to_thread(_go, bench, container_id)
        results = await asyncio.wait_for(asyncio.gather(*tasks), 600)
        return results, readers, _cpu_seconds(pid) - cpu_started, time.process_time() - client_cpu_started, started

    results, readers_during, cpu, client_cpu, started = asyncio.run(ours())
    wall = max(r.last_at for r in results) - started
    raw_follow.join(60)
    raw_wall = raw_follow.last_at - started
    rss_after, rss_peak = _status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM")
    bench.raw.remove_container(container_id, force=True)
    exact = sum(r.lines + r.skipped == lines and not r.gaps and not r.out_of_order and r.ended for r in results)
    generations = {r.generation for r in results}
    skipped = [r.skipped for r in results]
    follows = None if readers_before is None or readers_during is None else readers_during - readers_before
    title = f"ws fan-out: {clients} clients, {lines:,} lines ({every} per 10 ms)"
    return [
        Row(
            f"{title}: lines + skipped == printed",
            ours=f"{exact} of {clients} clients",
            goal="every client",
            passed=exact == clients,
        ),
        Row(
            f"{title}: last line at the last client",
            ours=f"{wall:.1f} s",
            raw=f"{raw_wall:.1f} s (follow)",
            ratio=wall / raw_wall,
        ),
        Row(
            f"{title}: skipped per client (min / median / max)",
            ours=f"{min(skipped):,} / {statistics.median(skipped):,.0f} / {max(skipped):,}",
        ),
        Row(
            f"{title}: engine follows added (engine side; generations)",
            ours=f"{follows if follows is not None else '?'} ({len(generations)})",
            goal="1",
            passed=follows == 1 and len(generations) == 1,
        ),
        Row(f"{title}: daphne CPU (benchmark's clients)", ours=f"{cpu:.1f} s in {wall:.1f} s ({client_cpu:.1f} s)"),
        Row(f"{title}: daphne RSS growth (peak)", ours=f"{_mb(rss_after - rss_before)} ({_mb(rss_peak - rss_before)})"),
    ]


def run(
    bench: Bench,
    *,
    serve: Callable[[], Served],
    lines: int,
    rounds: int,
    latency_lines: int,
    fan_out_clients: int,
    fan_out_lines: int,
    progress,
) -> list[Row]:
    rows: list[Row] = []
    with serve() as served:
        rows += from_the_start(bench, served, lines=lines, rounds=rounds, progress=progress)
        rows += printed_while_followed(bench, served, lines=lines, rounds=rounds, progress=progress)
        rows += latency(bench, served, lines=latency_lines, interval_ms=10, progress=progress)
        rows += fan_out(bench, served, clients=fan_out_clients, lines=fan_out_lines, per_second=1000, progress=progress)
    return rows
