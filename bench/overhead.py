"""What telemetry costs the service: throughput, latency, CPU and memory of the real API under
gunicorn (and, with --worker, of jobs in a real Celery worker), with telemetry off, at 100%,
10% and 1% trace sampling, with the collector unreachable, with the local telemetry store on,
and set up the stock OpenTelemetry way (bench/stock_otel), each as a ratio to "telemetry off".

    .venv/bin/python bench/overhead.py [--rounds 3] [--seconds 8] [--output PATH]
    .venv/bin/python bench/overhead.py --worker [--jobs 200] [--rounds 3]
    .venv/bin/python bench/overhead.py --worker --instructions --rounds 1   # jobs, counted

The service runs from its own gunicorn.conf.py on 127.0.0.1 (one sync worker) against a
fresh migrated database (tests.harness.servers.prepared_stack: SQLite unless DATABASE_URL is
set), exporting OTLP/gRPC to a live rotel-agent on 127.0.0.1. The load comes from `wrk` in
its own process. Every round starts the service once per mode (modes are environment
variables read at start-up: bench/overhead_modes.py), in an order rotated each round, warms
it up and drives every endpoint; each ratio is taken against the "off" run of the same round,
so that drift on a shared machine cancels out as far as it can, and the spread (min-max over
rounds) is printed next to the median. Results are written as JSON (--output), and the
ratios as a PNG next to it. --worker (bench/overhead_worker.py), --worker --instructions
(bench/overhead_worker_instructions.py) and --in-process (bench/overhead_in_process.py)
measure in their own ways, with the same modes and rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench import (  # noqa: E402
    overhead_in_process,
    overhead_worker,
    overhead_worker_instructions,
)
from bench.harness import load, procfs, report, services  # noqa: E402
from bench.harness.rounds import Ratio, rotated, summarize  # noqa: E402
from bench.overhead_modes import (  # noqa: E402
    BASELINE,
    MODES,
    PROCESS_BODY,
    UNTHROTTLED,
    filled,
    is_stock,
    mode_environment,
    run_order,
    web_options,
)
from tests.harness.servers import ServiceProcess, Stack, api_token, prepared_stack  # noqa: E402

ENDPOINTS = ("GET /", "GET /api/users", "POST /api/process")
RESULTS = ROOT / "bench" / "results"
MEDIANS = ("rps", "p50_ms", "p99_ms", "cpu_ms")
RATIOS = (
    Ratio("ratio", "rps"),
    Ratio("p99_ratio", "p99_ms"),  # a multiple: 2.0 is twice off's p99
    Ratio("cpu_ratio", "cpu_ms", cost=True),  # off's CPU / the mode's: the throughput it allows
)
COLUMNS = (
    report.figure("req/s", "rps", ".1f"),
    report.figure("p50 ms", "p50_ms", ".2f"),
    report.figure("p99 ms", "p99_ms", ".2f"),
    report.ratio("ratio (min-max)", "ratio"),
    report.ratio("p99 x (min-max)", "p99_ratio", 2),
    report.figure("CPU ms", "cpu_ms", ".3f"),
    report.ratio("CPU ratio (min-max)", "cpu_ratio"),
)
MEMORY_RATIOS = (Ratio("rss_ratio", "rss_mb"),)
MEMORY_COLUMNS = (report.figure("RSS MB", "rss_mb", ".1f"), report.ratio("x off", "rss_ratio"))
LONG_RUN_COLUMNS = (
    report.figure("req/s", "rps", ".0f"),
    report.figure("first MB", "rss_mb_first", ".1f"),
    report.figure("last MB", "rss_mb_last", ".1f"),
    report.figure("max MB", "rss_mb_max", ".1f"),
    report.figure("MB/min", "slope_mb_per_min", "+.3f"),
    report.figure("MB/min, 2nd half", "late_slope_mb_per_min", "+.3f"),
)


def seed(base_url: str, stack: Stack, users: int) -> str:
    """A staff user (whose token the load uses) and a few more users for /api/users to list."""
    token = api_token(base_url, stack, email="bench@example.com")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}) as api:
        for n in range(users):
            api.post(
                "/api/users",
                json={
                    "email": f"user{n}@example.com",
                    "name": f"User {n}",
                    "password": f"pw-{n}-x9Kq!zz",
                },
                timeout=10,
            ).raise_for_status()
    return token


class WebModes:
    """Starts the service's gunicorn for one mode (from this tree, from the baseline tree, or
    with the stock OpenTelemetry set-up) and stops it again, leaving `kept` (the downstream
    server of the sync set-up) running."""

    def __init__(self, stack: Stack, common: dict[str, str], args, kept: ServiceProcess | None):
        self.stack, self.common, self.args, self.kept = stack, common, args, kept

    def start(self, mode: str, endpoints: dict[str, str]) -> tuple[str, int]:
        """(base URL, the pid of its one worker) once it answers /health."""
        options = web_options(mode, self.args.baseline_tree)
        base_url = self.stack.start_web(**options, **self.common, **filled(mode, endpoints))
        return base_url, procfs.only_child(self.stack.processes[-1].popen.pid)

    def stop(self) -> None:
        services.stop_all_but(self.stack, self.kept)


def run_served(args, modes: list[str], web: WebModes, scripts: dict, endpoints: dict) -> tuple:
    """The rounds: every mode's server once per round, every endpoint under wrk; (the runs,
    the worker's RSS after the load per mode and round)."""
    results: list[dict] = []
    memory: list[dict] = []
    for round_index in range(args.rounds):
        for mode in rotated(modes, round_index):
            base_url, worker = web.start(mode, endpoints)
            tree = procfs.ProcessTree(worker)
            print(f"round {round_index + 1} {mode}: worker pid {worker}", flush=True)
            for endpoint in args.endpoints:
                path, script = scripts[endpoint]
                # First requests import and cache things; the measured run starts warm.
                load.run_wrk(f"{base_url}{path}", script, args.warmup, args.connections)
                cpu_before = tree.cpu_seconds()
                sample = load.run_wrk(f"{base_url}{path}", script, args.seconds, args.connections)
                cpu_ms = (tree.cpu_seconds() - cpu_before) * 1000 / max(sample.requests, 1)
                run = {"round": round_index + 1, "mode": mode, "endpoint": endpoint}
                results.append({**run, **asdict(sample), "cpu_ms": cpu_ms})
                print(
                    f"  {endpoint:<18} {sample.rps:8.1f} req/s"
                    f"  p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:6.2f} ms"
                    f"  worker CPU {cpu_ms:6.3f} ms/request",
                    flush=True,
                )
            rss_mb = procfs.rss_bytes(worker) / 2**20
            memory.append({"round": round_index + 1, "mode": mode, "rss_mb": rss_mb})
            print(f"  worker RSS after the load: {rss_mb:.1f} MB", flush=True)
            web.stop()
    return results, memory


def run_long(args, modes: list[str], web: WebModes, script: Path, endpoints: dict) -> dict:
    """--memory-seconds: each mode once, `GET /` for that long, the worker's RSS sampled every
    --memory-every seconds; the slope of a least-squares line through the samples, over the
    whole run and over its second half (after the caches have filled)."""
    long_runs = {}
    for mode in modes:
        base_url, worker = web.start(mode, endpoints)
        load.run_wrk(f"{base_url}/", script, args.warmup, args.connections)
        print(f"long run {mode}: {args.memory_seconds}s of GET /, worker pid {worker}", flush=True)
        started = time.monotonic()
        command = load.wrk_command(f"{base_url}/", script, args.memory_seconds, args.connections)
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        while wrk.poll() is None:
            samples.append((time.monotonic() - started, procfs.rss_bytes(worker) / 2**20))
            try:
                wrk.wait(args.memory_every)
            except subprocess.TimeoutExpired:
                pass
        stdout, stderr = wrk.communicate()
        sample = load.checked_sample(f"{base_url}/", wrk.returncode, stdout, stderr)
        samples.append((time.monotonic() - started, procfs.rss_bytes(worker) / 2**20))
        long_runs[mode] = {
            "rps": sample.rps,
            "requests": sample.requests,
            "rss_mb_first": samples[0][1],
            "rss_mb_last": samples[-1][1],
            "rss_mb_max": max(mb for _, mb in samples),
            "slope_mb_per_min": rss_slope(samples),
            "late_slope_mb_per_min": rss_slope(samples[len(samples) // 2 :]),
            "samples": samples,
        }
        web.stop()
    return long_runs


def rss_slope(samples: list[tuple[float, float]]) -> float:
    """MB per minute: the slope of the least-squares line through (seconds, MB) samples."""
    if len(samples) < 2:
        return float("nan")
    seconds, mb = zip(*samples, strict=True)
    return statistics.linear_regression(seconds, mb).slope * 60


def plot_served(path: Path, summary: dict, memory: dict) -> Path:
    bars = report.ratio_bars
    panels = [
        report.Panel("Throughput, ratio to off", "mode req/s / off req/s",
                     bars(summary, "ratio", group="endpoint")),
        report.Panel("Worker CPU per request, off's over the mode's", "off CPU / mode CPU",
                     bars(summary, "cpu_ratio", group="endpoint")),
        report.Panel("p99 latency, multiple of off's", "mode p99 / off p99",
                     bars(summary, "p99_ratio", group="endpoint")),
        report.Panel("Worker RSS after the load, multiple of off's", "mode RSS / off RSS",
                     bars(memory, "rss_ratio")),
    ]  # fmt: skip
    return report.plot_ratios(path, "bench/overhead.py: median over rounds, min-max", panels)


def web_main(args, stack: Stack, modes: list[str], endpoints: dict, tmp: Path) -> dict:
    """The served measurement (or --in-process): the figures for the JSON results."""
    threaded = {
        "GUNICORN_WORKERS": "1",
        # POST /api/process calls this same service downstream: with every connection
        # waiting on a downstream call, the worker still needs a thread to answer it.
        "GUNICORN_THREADS": str(2 * args.connections),
        "GUNICORN_ACCESS_LOG": "false",
        **UNTHROTTLED,
    }
    # The users and the token live in the database, so every mode's server shares them.
    base_url = stack.start_web(**threaded, OTEL_SDK_DISABLED="true")
    token = seed(base_url, stack, args.users)
    # POST /api/process's downstream (sync, --in-process): this first server, telemetry
    # off, which outlives every mode's server.
    args.downstream = f"{base_url}/api/downstream/enrich"
    if args.in_process:
        return overhead_in_process.measure(args, stack, modes, token, endpoints)
    common = dict(threaded)
    downstream_server = None
    if args.worker_class == "sync":
        downstream_server = stack.processes[-1]
        common.update(GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="1")
        common["PROCESSING_DOWNSTREAM_URL"] = args.downstream
    web = WebModes(stack, common, args, downstream_server)
    web.stop()
    scripts = {}
    for endpoint in args.endpoints:
        method, path = endpoint.split(" ")
        script = tmp / f"{method.lower()}{path.replace('/', '_')}.lua"
        body = PROCESS_BODY if method == "POST" else None
        script.write_text(load.wrk_script(method, token, body))
        scripts[endpoint] = (path, script)
    print(
        f"wrk: {args.connections} connections, {args.seconds}s per endpoint;"
        f" service: 1 gunicorn {args.worker_class} worker x {common['GUNICORN_THREADS']}"
        f" threads; {args.rounds} rounds x {len(modes)} modes x {len(args.endpoints)} endpoints"
    )
    results, memory_runs = run_served(args, modes, web, scripts, endpoints)
    long_runs = {}
    if args.memory_seconds:
        get_root = tmp / "get_root.lua"
        get_root.write_text(load.wrk_script("GET", token))
        long_runs = run_long(args, modes, web, get_root, endpoints)
    stack.stop()
    summary = summarize(
        results, modes, baseline=BASELINE, medians=MEDIANS, ratios=RATIOS, group="endpoint"
    )
    memory = summarize(
        memory_runs, modes, baseline=BASELINE, medians=("rss_mb",), ratios=MEMORY_RATIOS
    )
    if summary:
        report.print_summary(summary, COLUMNS, group="endpoint")
    if memory:
        print("\nThe worker's RSS after the load (median over rounds), and its ratio to off's:")
        report.print_summary(memory, MEMORY_COLUMNS)
    if long_runs:
        print("\nLong run: the worker's RSS under GET / (slope of a least-squares line):")
        report.print_summary(long_runs, LONG_RUN_COLUMNS)
    if summary:
        print(f"plot: {plot_served(args.output.with_suffix('.png'), summary, memory)}")
    return {
        "summary": summary,
        "memory": memory,
        "long_runs": long_runs,
        "runs": results,
        "memory_runs": memory_runs,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--users", type=int, default=20, help="users created for /api/users")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(MODES),
        default=list(MODES),
        help="'local store on' sets TELEMETRY_LOCAL_STORE=on with the collector up: until the"
        " service reads that variable it measures the same as 'full 100%%'. 'stock 100%%' and"
        " 'stock 1%%' run the stock OpenTelemetry set-up (bench/stock_otel) instead of ours",
    )
    parser.add_argument(
        "--endpoints",
        nargs="+",
        choices=ENDPOINTS,
        default=list(ENDPOINTS),
        help="the issue's set-up measures 'GET /' alone",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="the JSON results; the PNG of the ratios goes next to it (default:"
        " bench/results/overhead.json, with --worker overhead-worker.json)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="another checkout of the service (e.g. `git worktree add /tmp/before <commit>`):"
        " every telemetry mode also runs from it, as '<mode> @baseline', in the same rounds",
    )
    parser.add_argument(
        "--worker-class",
        choices=["sync", "gthread"],
        default="sync",
        help="sync (the issue's set-up): one request at a time, POST /api/process calling a"
        " separate server with telemetry off; gthread (what gunicorn.conf.py ships): 2 x"
        " connections threads, calling this same server downstream",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="instead of gunicorn and wrk: each mode in a fresh process serving requests"
        " through the WSGI app in one thread, CPU time per request (least over rounds)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="with --in-process: instructions per request counted by valgrind's cachegrind"
        " (every thread), which the rest of the machine does not disturb; slow (minutes per"
        " mode and endpoint). With --worker: instructions per job, each job's chain run in"
        " process through Celery's task tracer (bench/overhead_worker_instructions.py)",
    )
    parser.add_argument(
        "--memory-seconds",
        type=int,
        default=0,
        help="after the rounds, each mode once under GET / for this long, the worker's RSS"
        " sampled every --memory-every seconds, and its slope in MB per minute",
    )
    parser.add_argument("--memory-every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="instead of the web endpoints: --jobs small jobs through the Redis broker"
        " (CELERY_BROKER_URL) into a prefork Celery worker with --concurrency=1, the downstream"
        " a separate server with telemetry off; jobs per second (first queued to last"
        " finished) and the worker's CPU per job",
    )
    parser.add_argument("--jobs", type=int, default=200, help="--worker: jobs per mode and round")
    parser.add_argument("--warmup-jobs", type=int, default=20, help="--worker: unmeasured first")
    # The children this script starts for --in-process and --worker.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-flush", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stock-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--jobs-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--jobs-instructions-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_tree and not (args.baseline_tree / "observability_site").is_dir():
        parser.error(f"--baseline-tree {args.baseline_tree} is not a checkout of the service")
    if args.instructions and not (args.in_process or args.worker):
        parser.error("--instructions counts the --in-process runs or --worker jobs: add one")
    if args.instructions and args.worker and any(is_stock(m) for m in args.modes):
        parser.error("--worker --instructions runs the service's own set-up: no stock modes")
    if args.worker and args.in_process:
        parser.error("--worker and --in-process measure different things: choose one")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if args.worker and not args.instructions and not broker.startswith("redis"):
        parser.error("--worker runs through Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/N")
    args.endpoints = [e for e in ENDPOINTS if e in args.endpoints]  # in the usual order
    args.output = args.output or RESULTS / (
        "overhead-worker.json" if args.worker else "overhead.json"
    )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        overhead_in_process.child(
            args.child,
            args.endpoints,
            flush=not args.no_flush,
            stock=args.stock_child,
            requests=args.requests,
        )
        return 0
    if args.jobs_child:
        overhead_worker.jobs_child(args.jobs_child, overhead_worker.child_timeout(args.jobs_child))
        return 0
    if args.jobs_instructions_child:
        overhead_worker_instructions.child(args.jobs_instructions_child)
        return 0
    modes = run_order(args.modes, bool(args.baseline_tree))
    with (
        tempfile.TemporaryDirectory(prefix="overhead-bench-") as tmp_name,
        prepared_stack(Path(tmp_name)) as stack,
        services.blackhole_collector(Path(tmp_name)) as collector,
    ):
        endpoints = {"{collector}": collector, "{closed}": services.closed_endpoint()}
        if args.worker and args.instructions:
            figures = overhead_worker_instructions.measure(args, stack, modes, endpoints)
        elif args.worker:
            figures = overhead_worker.measure(args, stack, modes, endpoints)
        else:
            figures = web_main(args, stack, modes, endpoints, Path(tmp_name))
    internal = {
        "output",
        "downstream",
        "child",
        "no_flush",
        "stock_child",
        "jobs_child",
        "jobs_instructions_child",
        "requests",
    }
    payload = {
        "settings": {k: v for k, v in vars(args).items() if k not in internal},
        "modes": {m: mode_environment(m) for m in modes},
        "stock_modes": [m for m in modes if is_stock(m)],
        **figures,
    }
    print(f"\nwritten to {report.write_json(args.output, payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
