"""Accuracy (issue 12): the collector's numbers against `docker stats --no-stream`, in the same run.

A CPU burner (`yes > /dev/null`) should read one core, a container holding 64 MiB in a tmpfs of its own
should read 64 MiB, and a known number of bytes sent from one container to another over a user-defined
bridge network should be counted by both ends. The collector is the real one (`StatsCollector`, the source
it chooses here), driven round by round in this process a second apart, as its thread would.

The reference is the docker CLI where it is installed (`docker stats --no-stream --format '{{json .}}'`,
on the engine the service uses); without it, the engine's own stats with the CLI's formulas. Each row
names which.

The interface counters count whole frames: each frame's Ethernet, IP and TCP headers (66 bytes) come on top
of its payload, about 6 % at an MTU of 1,500 (measured here: 110.8 MB counted for 104.9 MB sent, by the
collector and by docker stats alike). So the bytes sent are compared with what the collector counted less
66 bytes for each frame the kernel counted on the same interface over the same transfer.
"""

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from bench.environment import Bench
from bench.timing import Row
from containersvc.producers.stats_collector import StatsCollector
from containersvc.stats import ContainerStats

HOLD_BYTES = 64 * 1024**2
SEND_BYTES = 100 * 1024**2
PORT = 5000
CPU_POINTS = 5.0  # 100 % ± 5 of one core
MEMORY_SHARE = 0.02
NETWORK_SHARE = 0.01
CLI_CALLS = 5  # docker stats --no-stream calls while the collector samples (each measures about a second)
WAIT_SECONDS = 120.0
# What each frame adds to its TCP payload on the counters: Ethernet 14, IPv4 20, TCP with timestamps 32.
FRAME_HEADERS = 66


@dataclass(frozen=True, slots=True)
class Reference:
    cpu_percent: float
    memory_bytes: float
    net_rx_bytes: float
    net_tx_bytes: float


BINARY: dict[str, float] = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
DECIMAL: dict[str, float] = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def _size(text: str, units: dict[str, float]) -> float:
    """'64.51MiB' or '105MB' (the CLI's go-units sizes) in bytes."""
    text = text.strip()
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(f"not a size: {text!r}")


def cli_available() -> bool:
    return shutil.which("docker") is not None


def reference(bench: Bench, container_ids: list[str]) -> dict[str, Reference]:
    """docker stats --no-stream's figures of each container (CPU over the second it measures)."""
    if not cli_available():
        return {cid: _from_engine(bench, cid) for cid in container_ids}
    command = ["docker", "-H", settings.CONTAINERSVC_DOCKER_HOST, "stats", "--no-stream", "--format", "{{json .}}"]
    output = subprocess.run([*command, *container_ids], check=True, capture_output=True, text=True, timeout=120).stdout
    found = {}
    for line in output.splitlines():
        entry = json.loads(line)
        rx, tx = entry["NetIO"].split(" / ")
        found[entry["ID"]] = Reference(
            cpu_percent=float(entry["CPUPerc"].rstrip("%")),
            memory_bytes=_size(entry["MemUsage"].split(" / ")[0], BINARY),
            net_rx_bytes=_size(rx, DECIMAL),
            net_tx_bytes=_size(tx, DECIMAL),
        )
    return {cid: next(value for short, value in found.items() if cid.startswith(short)) for cid in container_ids}


def _from_engine(bench: Bench, container_id: str) -> Reference:
    """The engine's stats (two readings a second apart), with docker/cli's stats_helpers.go formulas."""
    stats = bench.raw.stats(container_id, stream=False)
    cpu, pre = stats["cpu_stats"], stats["precpu_stats"]
    system = cpu["system_cpu_usage"] - pre.get("system_cpu_usage", 0)
    used = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    online = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [1])
    memory = stats["memory_stats"]
    inactive = memory.get("stats", {}).get("total_inactive_file", memory.get("stats", {}).get("inactive_file", 0))
    networks = stats.get("networks", {}).values()
    return Reference(
        cpu_percent=used / system * online * 100 if system > 0 else 0.0,
        memory_bytes=memory["usage"] - inactive if inactive < memory["usage"] else memory["usage"],
        net_rx_bytes=sum(n["rx_bytes"] for n in networks),
        net_tx_bytes=sum(n["tx_bytes"] for n in networks),
    )


def _source_name() -> str:
    return "docker stats --no-stream" if cli_available() else "the engine's stats, docker stats' formulas"


class Containers:
    """The run's accuracy containers, removed at the end whatever happens (they carry the run's label too)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.ids: list[str] = []
        self.network: str | None = None

    def start(self, name: str, command: str, *, on_network: bool = False, **host: object) -> str:
        raw = self.bench.raw
        networking = None
        if on_network:
            host["network_mode"] = self.network
            networking = raw.create_networking_config({self.network: raw.create_endpoint_config()})
        config = raw.create_host_config(**host)
        full_name = f"bench-{self.bench.run_id}-accuracy-{name}"
        created = raw.create_container(
            self.bench.image,
            ["sh", "-c", command],
            name=full_name,
            labels=self.bench.labels,
            host_config=config,
            networking_config=networking,
        )
        self.ids.append(created["Id"])
        raw.start(created["Id"])
        return created["Id"]

    def make_network(self) -> None:
        created = self.bench.raw.create_network(
            f"bench-{self.bench.run_id}-accuracy",
            driver="bridge",
            labels=self.bench.labels,
        )
        self.network = created["Id"]

    def __enter__(self) -> "Containers":
        return self

    def __exit__(self, *exc_info) -> None:
        for container_id in self.ids:
            try:
                self.bench.raw.remove_container(container_id, force=True)
            except Exception:  # noqa: S110 - gone already; the run's label sweep is the last resort
                pass
        if self.network:
            self.bench.raw.remove_network(self.network)


def wait(condition, what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"stats-accuracy: {what} did not happen within {seconds:g} s")
        time.sleep(0.2)


def latest(collector: StatsCollector, container_id: str) -> ContainerStats:
    samples = collector.history(container_id)
    if not samples:
        raise SystemExit(f"stats-accuracy: the collector has no sample of {container_id[:12]}")
    return samples[-1]


def cpu_rows(bench: Bench, collector: StatsCollector, burner: str) -> list[Row]:
    """The collector's rounds a second apart, while docker stats measures the same container beside them."""
    references: list[float] = []

    def measure() -> None:
        for _ in range(CLI_CALLS):
            references.append(reference(bench, [burner])[burner].cpu_percent)

    collector.collect_once(only={burner})
    first = len(collector.history(burner))
    counters_before = _engine_cpu(bench, burner)
    beside = threading.Thread(target=measure, name="docker-stats")
    beside.start()
    while beside.is_alive():
        time.sleep(1)  # the collector's interval: each of its figures covers one second
        collector.collect_once(only={burner})
    beside.join()  # no round after it: one a millisecond after the last would be a figure of the kernel's tick
    counters_after = _engine_cpu(bench, burner)
    samples = [s.cpu_percent for s in collector.history(burner)[first:] if s.cpu_percent is not None]
    ours, theirs = sum(samples) / len(samples), sum(references) / len(references)
    used, system = (counters_after[i] - counters_before[i] for i in (0, 1))
    whole_span = used / system * counters_after[2] * 100
    label = f"stats accuracy: `yes > /dev/null`, CPU % (mean of {len(samples)} rounds a second apart)"
    return [
        Row(
            f"{label} vs {_source_name()} (mean of {len(references)} calls in the same seconds)",
            f"{ours:.1f} %",
            f"{theirs:.1f} %",
            goal=f"100 ± {CPU_POINTS:g} %",
            passed=abs(ours - 100) <= CPU_POINTS,
        ),
        Row(
            f"{label} vs the engine's counters over the same seconds (docker stats' formula)",
            f"{ours:.1f} %",
            f"{whole_span:.1f} %",
            goal=f"within {CPU_POINTS:g} points",
            passed=abs(ours - whole_span) <= CPU_POINTS,
        ),
    ]


def _engine_cpu(bench: Bench, container_id: str) -> tuple[int, int, int]:
    """The engine's cumulative (container usage, system usage) in ns, and the online CPUs."""
    cpu = bench.raw.stats(container_id, stream=False, one_shot=True)["cpu_stats"]
    return cpu["cpu_usage"]["total_usage"], cpu["system_cpu_usage"], cpu["online_cpus"]


def memory_rows(bench: Bench, collector: StatsCollector, holder: str) -> list[Row]:
    def filled() -> bool:
        collector.collect_once(only={holder})
        return latest(collector, holder).memory_bytes >= HOLD_BYTES

    wait(filled, "the 64 MiB tmpfs filling")
    time.sleep(1)  # a round a second after the last
    collector.collect_once(only={holder})
    ours = latest(collector, holder).memory_bytes
    theirs = reference(bench, [holder])[holder].memory_bytes
    off = ours / HOLD_BYTES - 1
    return [
        Row(
            f"stats accuracy: 64 MiB held in a tmpfs, memory vs {_source_name()}",
            f"{ours / 1024**2:.2f} MiB ({off:+.1%} of 64 MiB)",
            f"{theirs / 1024**2:.2f} MiB",
            goal=f"64 MiB ± {MEMORY_SHARE:.0%}",
            passed=abs(off) <= MEMORY_SHARE,
        )
    ]


def _listening(pid: int) -> bool:
    """A socket listening on PORT in the network namespace of `pid` (state 0A in /proc/net/tcp or tcp6)."""
    lines = [line for name in ("tcp", "tcp6") for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]]
    return any(f":{PORT:04X}" in line.split()[1] and line.split()[3] == "0A" for line in lines)


def _frames(pid: int) -> tuple[int, int]:
    """Frames received and sent on the interfaces of `pid`'s network namespace, loopback left out."""
    received = sent = 0
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, counters = line.split(":", 1)
        if name.strip() != "lo":
            fields = counters.split()
            received, sent = received + int(fields[1]), sent + int(fields[9])
    return received, sent


def network_rows(bench: Bench, collector: StatsCollector, receiver: str, sender: str) -> list[Row]:
    pids = {cid: bench.raw.inspect_container(cid)["State"]["Pid"] for cid in (receiver, sender)}
    wait(lambda: _listening(pids[receiver]), "the receiver's nc listening")
    pair = {receiver, sender}
    collector.collect_once(only=pair)
    rx_before, tx_before = latest(collector, receiver).net_rx_bytes, latest(collector, sender).net_tx_bytes
    frames_before = _frames(pids[receiver])[0], _frames(pids[sender])[1]
    name = bench.raw.inspect_container(receiver)["Name"].lstrip("/")
    command = ["sh", "-c", f"head -c {SEND_BYTES} /dev/zero | nc {name} {PORT}"]
    execution = bench.raw.exec_create(sender, command)
    bench.raw.exec_start(execution["Id"])
    if bench.raw.exec_inspect(execution["Id"])["ExitCode"] != 0:
        raise SystemExit("stats-accuracy: the sender's nc failed")
    previous = [-1]

    def settled() -> bool:
        """The sender is done; the receiver's count stops moving once the last bytes in flight are in."""
        time.sleep(1)  # the collector's interval
        collector.collect_once(only=pair)
        now = latest(collector, receiver).net_rx_bytes
        done = now == previous[0] and now - rx_before >= SEND_BYTES
        previous[0] = now
        return done

    wait(settled, f"the receiver getting {SEND_BYTES:,} bytes")
    frames = _frames(pids[receiver])[0] - frames_before[0], _frames(pids[sender])[1] - frames_before[1]
    rx = latest(collector, receiver).net_rx_bytes - rx_before
    tx = latest(collector, sender).net_tx_bytes - tx_before
    references = reference(bench, [receiver, sender])
    rows = []
    for end, counted, count, theirs in (
        ("receiver's rx", rx, frames[0], references[receiver].net_rx_bytes),
        ("sender's tx", tx, frames[1], references[sender].net_tx_bytes),
    ):
        payload = counted - count * FRAME_HEADERS
        off = payload / SEND_BYTES - 1
        rows.append(
            Row(
                f"stats accuracy: 100 MiB sent over a bridge network, the {end} counted, vs {_source_name()}",
                f"{counted:,} B",
                f"{theirs:,.0f} B",
            )
        )
        rows.append(
            Row(
                f"stats accuracy: the {end} less {FRAME_HEADERS} B of headers a frame ({count:,} frames, "
                "the kernel's count), vs the bytes sent",
                f"{payload:,} B ({off:+.2%})",
                f"{SEND_BYTES:,} B",
                goal=f"± {NETWORK_SHARE:.0%}",
                passed=abs(off) <= NETWORK_SHARE,
            )
        )
    return rows


def run(bench: Bench, *, progress) -> list[Row]:
    progress(f"stats-accuracy: a burner, a 64 MiB holder and two containers on a network; reference: {_source_name()}")
    collector = StatsCollector()
    with Containers(bench) as made:
        made.make_network()
        burner = made.start("burner", "yes > /dev/null")
        holder = made.start(
            "holder", f"dd if=/dev/zero of=/hold/fill bs=1048576 count={HOLD_BYTES // 1024**2} && exec sleep 3600",
            tmpfs={"/hold": "size=80m"},
        )  # fmt: skip
        receiver = made.start("receiver", f"sleep 3600 | nc -l -p {PORT} > /dev/null", on_network=True)
        sender = made.start("sender", "exec sleep 3600", on_network=True)
        try:
            rows = cpu_rows(bench, collector, burner)
            rows.append(Row("stats accuracy: the collector's source (its own choice here)", collector.source or "-"))
            rows += memory_rows(bench, collector, holder)
            progress(f"stats-accuracy: sending {SEND_BYTES:,} bytes")
            rows += network_rows(bench, collector, receiver, sender)
        finally:
            collector.stop()
    return rows
