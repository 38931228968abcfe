"""Resource sampling: one collector round over N running containers, from the cgroup files and from the
engine, against the raw engine's one-shot stats of every container (what `docker stats --no-stream` asks);
the CPU each costs the engine (dockerd and containerd) and this process; and a burner's CPU figure against
docker stats' own over the same seconds.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from bench.environment import Bench
from bench.process_cpu import engine_cpu_seconds
from bench.timing import Row, ms
from containersvc.producers.stats_collector import ENGINE_READERS, StatsCollector

ROUND_GOAL = 0.25  # a cgroup round against the engine's stats of the same containers
ENGINE_CPU_GOAL = 0.1  # what a cgroup round costs the engine, against what asking it costs
ACCURACY_POINTS = 5.0  # a burner's CPU %, against docker stats' own figure


@dataclass(frozen=True, slots=True)
class Cost:
    wall: float
    own_cpu: float
    engine_cpu: float | None


def measured(round_once, rounds: int) -> Cost:
    """Mean wall, own CPU and engine CPU per round."""
    engine_before, own_before, started = engine_cpu_seconds(), time.process_time(), time.perf_counter()
    for _ in range(rounds):
        round_once()
    wall, own = time.perf_counter() - started, time.process_time() - own_before
    engine_after = engine_cpu_seconds()
    engine = engine_after - engine_before if engine_before is not None and engine_after is not None else None
    return Cost(wall / rounds, own / rounds, engine / rounds if engine is not None else None)


def cpu_seconds(value: float | None) -> str:
    return "-" if value is None else ms(value)


def run(bench: Bench, *, containers: int, rounds: int, progress) -> list[Row]:
    progress(f"stats: starting {containers} sleeping containers and a CPU burner")
    create = {"labels": bench.labels, "host_config": bench.raw.create_host_config()}

    def start(command: str) -> str:
        container_id = bench.raw.create_container(bench.image, ["sh", "-c", command], **create)["Id"]
        bench.raw.start(container_id)
        return container_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: start("sleep 3600"), range(containers)))
    burner = start("while :; do :; done")
    ids.append(burner)

    def raw_round() -> None:
        # As docker stats --no-stream does: every container's stats at once, side by side.
        with ThreadPoolExecutor(max_workers=ENGINE_READERS) as pool:
            list(pool.map(lambda cid: bench.raw.stats(cid, stream=False, one_shot=True), ids))

    rows: list[Row] = []
    progress(f"stats: {rounds} rounds of the raw engine's one-shot stats")
    raw_round()
    raw = measured(raw_round, rounds)
    costs: dict[str, Cost] = {}
    wanted = set(ids)  # the engine may run others' containers too: both sides sample the same ones
    for source, source_rounds in (("cgroup", rounds), ("engine", max(1, rounds // 2))):
        settings.CONTAINERSVC_STATS_SOURCE = source
        collector = StatsCollector()
        collector.collect_once(only=wanted)  # the first round inspects each container once (its row and pid)
        progress(f"stats: {source_rounds} collector rounds from the {source} source")
        costs[source] = measured(lambda: collector.collect_once(only=wanted), source_rounds)  # noqa: B023
        if source == "cgroup":
            rows.extend(accuracy(bench, collector, burner))
        collector.stop()

    label = f"stats round, {len(ids)} containers"
    cgroup, engine = costs["cgroup"], costs["engine"]
    ratio = cgroup.wall / raw.wall
    rows.append(
        Row(
            f"{label}: cgroup files (wall)",
            ms(cgroup.wall),
            ms(raw.wall),
            ratio,
            f"<= {ROUND_GOAL:g}x",
            ratio <= ROUND_GOAL,
        )
    )
    rows.append(Row(f"{label}: engine fallback (wall)", ms(engine.wall), ms(raw.wall), engine.wall / raw.wall))
    if raw.engine_cpu:
        ratio = (cgroup.engine_cpu or 0.0) / raw.engine_cpu
        goal = f"<= {ENGINE_CPU_GOAL:g}x"
        engine_cpu = cpu_seconds(raw.engine_cpu)
        rows.append(
            Row(
                f"{label}: engine CPU, cgroup files",
                cpu_seconds(cgroup.engine_cpu),
                engine_cpu,
                ratio,
                goal,
                ratio <= ENGINE_CPU_GOAL,
            )
        )
        fallback = (engine.engine_cpu or 0.0) / raw.engine_cpu
        rows.append(Row(f"{label}: engine CPU, engine fallback", cpu_seconds(engine.engine_cpu), engine_cpu, fallback))
    rows.append(Row(f"{label}: service CPU, cgroup files", cpu_seconds(cgroup.own_cpu), cpu_seconds(raw.own_cpu)))
    rows.append(Row(f"{label}: service CPU, engine fallback", cpu_seconds(engine.own_cpu), cpu_seconds(raw.own_cpu)))
    return rows


def accuracy(bench: Bench, collector: StatsCollector, burner: str) -> list[Row]:
    """The burner's mean CPU % over ten collector rounds a second apart, against the engine's figure."""
    before = bench.raw.stats(burner, stream=False, one_shot=True)["cpu_stats"]
    collector.collect_once(only={burner})
    first = len(collector.history(burner))
    for _ in range(10):
        time.sleep(1)  # the collector's own interval: the figure is a one-second one
        collector.collect_once(only={burner})
    after = bench.raw.stats(burner, stream=False, one_shot=True)["cpu_stats"]
    samples = [s.cpu_percent for s in collector.history(burner)[first:] if s.cpu_percent is not None]
    ours = sum(samples) / len(samples)
    used = after["cpu_usage"]["total_usage"] - before["cpu_usage"]["total_usage"]
    expected = used / (after["system_cpu_usage"] - before["system_cpu_usage"]) * after["online_cpus"] * 100
    off = abs(ours - expected)
    return [
        Row(
            "stats: a burner's CPU % (cgroup files) vs docker stats",
            f"{ours:.1f} %",
            f"{expected:.1f} %",
            goal=f"within {ACCURACY_POINTS:g} points",
            passed=off <= ACCURACY_POINTS,
        )
    ]
