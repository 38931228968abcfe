"""`python -m bench` (what `scripts/bench` and `make bench` run): every benchmark, then the table."""

import argparse
import os
import platform
import shutil
import sys
import time

from bench import environment

BENCHMARKS = ("run", "list", "logs", "ws", "stats", "stats-accuracy", "stats-history", "stats-cost", "stats-browser")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--sizes", default="100,500", help="container counts for the list benchmark")
    parser.add_argument("--repeats", type=int, default=21, help="timed rounds per list size (median)")
    parser.add_argument("--run-repeats", type=int, default=7, help="timed run+stop rounds of each side (median)")
    parser.add_argument("--log-lines", type=int, default=1_000_000, help="stored lines for the logs benchmark")
    parser.add_argument("--log-repeats", type=int, default=7, help="timed calls per logs page (median)")
    parser.add_argument("--ws-lines", type=int, default=200_000, help="lines per websocket throughput round")
    parser.add_argument("--ws-rounds", type=int, default=3, help="websocket throughput rounds (median)")
    parser.add_argument("--ws-latency-lines", type=int, default=1000, help="lines of the latency run, 1 per 10 ms")
    parser.add_argument("--ws-clients", type=int, default=200, help="websocket clients of the fan-out")
    parser.add_argument("--ws-fan-out-lines", type=int, default=10_000, help="lines of the fan-out, 10 per 10 ms")
    parser.add_argument("--stats-containers", type=int, default=50, help="running containers of the stats benchmark")
    parser.add_argument("--stats-rounds", type=int, default=10, help="timed sampling rounds (the engine's: half)")
    parser.add_argument("--stats-cost-sizes", default="100,500", help="running containers of the collector cost")
    parser.add_argument(
        "--stats-cost-seconds", type=float, default=60, help="seconds each side of the cost is measured"
    )
    parser.add_argument("--stats-history-others", type=int, default=50, help="other containers with 24 h of history")
    parser.add_argument("--stats-history-repeats", type=int, default=15, help="timed 24 h history calls (median)")
    parser.add_argument("--stats-browser-containers", type=int, default=500, help="containers on the browser's page")
    parser.add_argument("--stats-browser-seconds", type=float, default=20, help="seconds the browser is measured")
    parser.add_argument(
        "--no-daphne", action="store_true", help="only drive the API in-process, not through daphne (and leave out ws)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database under var/bench/")
    args = parser.parse_args(argv)
    args.only = [name for name in args.only.split(",") if name]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    args.stats_cost_sizes = sorted(int(size) for size in args.stats_cost_sizes.split(","))
    return args


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine(bench: environment.Bench) -> str:
    version = bench.raw.version()
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} CPUs, {memory_gib:.1f} GiB memory, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, Docker engine {version.get('Version')} (API {version.get('ApiVersion')})"
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    run_id, workdir = environment.prepare()
    # Only now may Django models be imported.
    from bench import (
        container_run_stop,
        containers_list,
        logs_live,
        logs_stored,
        stats_accuracy,
        stats_browser,
        stats_cost,
        stats_history,
        stats_sampling,
    )
    from bench.served import Served
    from bench.timing import Row, table

    bench = environment.make(run_id, workdir)
    rows, notes = [], []

    def attempt(name: str, function) -> None:
        """Run one benchmark; a failure becomes a row and a note, and the others still run."""
        try:
            rows.extend(function())
        except (Exception, SystemExit) as error:
            rows.append(Row(f"{name}: FAILED (see below)", ours="-"))
            notes.append(f"{name} failed: {error}")
            progress(f"{name} failed: {error}")

    def serve() -> Served:
        return Served(token=bench.token, log_path=workdir / "daphne.log")

    served = None if args.no_daphne else serve
    try:
        progress(f"run {run_id}: {machine(bench)}")
        if "run" in args.only:
            attempt("run + stop", lambda: container_run_stop.run(
                bench, repeats=args.run_repeats, progress=progress, serve=served))  # fmt: skip
            environment.containers_remove(bench)
        if "list" in args.only:
            attempt("list", lambda: containers_list.run(
                bench, sizes=args.sizes, repeats=args.repeats, progress=progress, serve=served))  # fmt: skip
            progress("list: removing the containers")
            environment.containers_remove(bench)
        if "logs" in args.only:
            attempt("logs", lambda: logs_stored.run(
                bench, lines=args.log_lines, repeats=args.log_repeats, progress=progress, notes=notes))  # fmt: skip
        if "ws" in args.only and served:
            attempt("ws", lambda: logs_live.run(
                bench, serve=served, lines=args.ws_lines, rounds=args.ws_rounds, latency_lines=args.ws_latency_lines,
                fan_out_clients=args.ws_clients, fan_out_lines=args.ws_fan_out_lines, progress=progress))  # fmt: skip
        if "stats" in args.only:
            attempt("stats", lambda: stats_sampling.run(
                bench, containers=args.stats_containers, rounds=args.stats_rounds, progress=progress))  # fmt: skip
            environment.containers_remove(bench)
        if "stats-accuracy" in args.only:
            attempt("stats-accuracy", lambda: stats_accuracy.run(bench, progress=progress))
        if "stats-history" in args.only:
            attempt("stats-history", lambda: stats_history.run(
                bench, others=args.stats_history_others, repeats=args.stats_history_repeats, progress=progress,
                serve=served))  # fmt: skip
        # The cost and the browser share their sleeping containers: starting 500 takes minutes here.
        if "stats-cost" in args.only and served:
            attempt("stats-cost", lambda: stats_cost.run(
                bench, sizes=args.stats_cost_sizes, seconds=args.stats_cost_seconds, progress=progress))  # fmt: skip
        if "stats-browser" in args.only and served:
            attempt("stats-browser", lambda: stats_browser.run(
                bench, containers=args.stats_browser_containers, seconds=args.stats_browser_seconds,
                progress=progress))  # fmt: skip
    finally:
        removed = environment.containers_remove(bench)
        progress(f"removed {removed} remaining container(s) of run {run_id}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"Container Svc benchmarks on {machine(bench)}")
    print("API driven in-process with DRF's APIClient; rows 'through daphne' over HTTP on 127.0.0.1;")
    print("rows 'ws' through daphne's websockets on 127.0.0.1.")
    print()
    print(table(rows))
    for note in notes:
        print()
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
