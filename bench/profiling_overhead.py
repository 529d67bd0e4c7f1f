"""What a profiling run costs the service: with no run active, with a run that matches
nothing, with a run at its default sampling (1 in 50), and with every request captured
(wall and cpu clocks), each as a ratio to "no run", three ways in one run:

1. served: a real gunicorn worker (1 process x 4 threads) loaded by `wrk` (a Python load
   generator in a child process without it): requests per second, and the worker's CPU
   milliseconds per request (user + system from /proc, summed over gunicorn's workers).
   Each mode is measured between two "no run" windows and compared with their mean, in an
   order rotated every round. Runs are switched through the REST API and reach the worker
   through the same change propagation as the admin's (telemetry.control).
2. in process: the same view through Django's test client in a fresh child process per
   mode and round (rotated order), CPU milliseconds per request (process_time: user +
   system) over N requests, with the profiling agent's report step (harvest and database
   write) once per second of wall time, as the control poller does.
3. instructions: the in-process loop counted by valgrind (cachegrind, no cache simulation):
   user-space instructions per request, the difference between N requests and none, with
   the agent's step every --tick-every requests. Deterministic up to a fraction of a
   percent, so it shows small costs that the clocks above cannot resolve on a shared
   machine. It does not count the kernel: the cpu clock's per-call clock_gettime system
   call shows only in the CPU-time measures.

    .venv/bin/python bench/profiling_overhead.py [--rounds 8] [--seconds 3]
        [--in-process-rounds 5] [--requests 2000] [--instruction-requests 2000]
        [--skip served,in-process,instructions] [--strict]

Ratios are "no run" / mode for costs (CPU, instructions) and mode / "no run" for throughput:
both read as the throughput the mode allows relative to no run. With --strict the exit
status is 1 when default sampling costs more than 10% by a CPU or instruction measure
(throughput on a shared machine is printed, not judged: its noise exceeds the budget).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.harness import load, procfs, report, services  # noqa: E402
from bench.harness.rounds import ratio_summary, rotated  # noqa: E402
from tests.harness.servers import api_token, prepared_stack  # noqa: E402

PATH = "/api/downstream/enrich"
RUNS = "/api/telemetry/profiling-runs"
BODY = {"words": 120, "sha256": "ab" * 32}
BASELINE = "no run"
MODES = {
    # name: the run's fields for POST /api/telemetry/profiling-runs (None: no run)
    BASELINE: None,
    # An active run that matches nothing: the cost of the poller and the hot-path check.
    "run, no match": {"target": "requests", "route_pattern": "^/nothing-matches-this$"},
    "default sampling": {"target": "requests"},
    "every request, wall": {"target": "requests", "sample_every": 1, "clock": "wall"},
    "every request, cpu": {"target": "requests", "sample_every": 1, "clock": "cpu"},
}
DEFAULT_MODE = "default sampling"
PICKUP_SECONDS = 1.5  # each process polls the run marker about once a second
BUDGET = 0.10
PARTS = ("served", "in-process", "instructions")


# --- parsing (tests/bench/test_profiling_overhead.py) -----------------------------------------


def parse_cachegrind_refs(stderr: str) -> int:
    """Instructions executed, from valgrind cachegrind's summary ("==12== I   refs: 1,234")."""
    found = re.findall(r"^==\d+==\s+I\s+refs:\s+([\d,]+)\s*$", stderr, re.M)
    if not found:
        raise ValueError(f"no cachegrind 'I refs' line in:\n{stderr[-2000:]}")
    return int(found[-1].replace(",", ""))


# --- 1. served by gunicorn --------------------------------------------------------------


def run_served(stack, tmp: Path, args: argparse.Namespace) -> dict:
    """Part 1; returns {"throughput"|"cpu": {mode: summary}, "rps", "cpu_ms", "captures"}."""
    base_url = stack.start_web(
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="4",
        GUNICORN_ACCESS_LOG="false",
        LOG_LEVEL="WARNING",
        API_THROTTLE_USER="1000000/min",
        API_THROTTLE_ANON="1000000/min",
    )
    # Runs are started and stopped through the REST API: a management command per switch
    # would start a Django process next to the measurement on a small machine.
    api = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Token {api_token(base_url, stack)}"},
        timeout=30,
    )
    url = f"{base_url}{PATH}"
    script = tmp / "post.lua"
    script.write_text(load.wrk_script("POST", body=BODY))
    use_wrk = shutil.which("wrk") is not None
    # gunicorn's workers, not its master: the CPU that serves the requests.
    workers = procfs.ProcessTree(stack.processes[-1].popen.pid, include_root=False)

    def measure(seconds: float) -> tuple[float, float]:
        """(requests per second, worker CPU milliseconds per request)."""
        cpu_before = workers.cpu_seconds()
        if use_wrk:
            # Socket errors are left to the throughput they cost; an error response fails.
            sample = load.run_wrk(url, script, seconds, args.connections, socket_errors_ok=True)
        else:
            sample = load.run_python_load(url, seconds, args.connections, BODY)
        cpu_ms = (workers.cpu_seconds() - cpu_before) * 1000
        return sample.rps, cpu_ms / max(sample.requests, 1)

    generator = "wrk" if use_wrk else "python load generator (child process)"
    print(f"\n1. served: {generator}, {args.connections} connections, {args.seconds}s per window;")
    print(f"   1 gunicorn gthread worker x 4 threads, POST {PATH}; {args.rounds} rounds")
    measure(2.0)  # warm-up: imports, connections, first-request caches

    # Each mode is measured between two "no run" windows, and its ratio is taken against
    # their mean: on a shared machine, the load of others drifts within a minute.
    profiled = [name for name in MODES if MODES[name] is not None]
    rps: dict[str, list[float]] = {name: [] for name in MODES}
    cpu: dict[str, list[float]] = {name: [] for name in MODES}
    base_rps: dict[str, list[float]] = {name: [] for name in profiled}
    base_cpu: dict[str, list[float]] = {name: [] for name in profiled}
    captures: dict[str, list[int]] = {name: [] for name in profiled}
    before = measure(args.seconds)
    for round_index in range(args.rounds):
        for name in rotated(profiled, round_index):
            fields = {**MODES[name], "max_duration_seconds": 3600, "max_captures": 10000}
            run = api.post(RUNS, json=fields)
            run.raise_for_status()
            run_id = run.json()["id"]
            time.sleep(PICKUP_SECONDS)
            rate, cpu_ms = measure(args.seconds)
            time.sleep(1.5)  # the last captures are reported about once a second
            captures[name].append(api.get(f"{RUNS}/{run_id}").json()["captures"])
            api.post(f"{RUNS}/{run_id}/stop").raise_for_status()
            time.sleep(PICKUP_SECONDS)
            after = measure(args.seconds)
            rps[name].append(rate)
            cpu[name].append(cpu_ms)
            base_rps[name].append((before[0] + after[0]) / 2)
            base_cpu[name].append((before[1] + after[1]) / 2)
            rps[BASELINE].append(after[0])
            cpu[BASELINE].append(after[1])
            print(
                f"   round {round_index + 1}: {name:<20} {rate:7.1f} req/s {cpu_ms:6.3f} CPU ms"
                f" (no run around it: {before[0]:.1f}, {after[0]:.1f} req/s;"
                f" {before[1]:.3f}, {after[1]:.3f} CPU ms)",
                flush=True,
            )
            before = after
    stack.stop()
    return {
        "rps": {name: statistics.median(values) for name, values in rps.items()},
        "cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
        "throughput": {n: ratio_summary(rps[n], base_rps[n], cost=False) for n in profiled},
        "cpu": {n: ratio_summary(cpu[n], base_cpu[n], cost=True) for n in profiled},
        "captures": captures,
    }


# --- 2. and 3. in process ---------------------------------------------------------------


def child_main(args: argparse.Namespace) -> int:
    """Serve `--requests` requests through Django's test client in this process, in mode
    `--child`, and print one result line (CPU and wall ms per request, ticks, captures).

    The control poller is off (TELEMETRY_CONTROL_ENABLED=false, set by the parent): the
    run's snapshot is loaded directly, and the agent's step runs in this thread, either
    every --tick-every requests (deterministic, for instruction counts) or once per second
    of wall time (as the poller would, --tick-every 0), or never (--tick-every -1).
    """
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from telemetry.models import ProfilingRun
    from telemetry.profiling import agent as profiling_agent
    from telemetry.profiling import runs as profiling

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # A child that died mid-way must not leave its run active for the next one.
    ProfilingRun.objects.filter(status__in=ProfilingRun.ACTIVE).update(
        status=ProfilingRun.Status.CANCELLED
    )
    fields = MODES[args.child]
    run = None
    if fields is not None:
        fields = {"sample_every": settings.PROFILING_DEFAULT_SAMPLE_EVERY, **fields}
        run = profiling.run_start(
            **fields,
            max_duration_seconds=int(settings.PROFILING_MAX_SECONDS_LIMIT),
            max_captures=int(settings.PROFILING_MAX_CAPTURES_LIMIT),
        )
    profiling.active_runs.reload()
    client = Client()
    body = json.dumps(BODY)

    def request() -> None:
        response = client.post(PATH, body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{PATH} answered {response.status_code}: {response.content!r}")

    for _ in range(args.warmup):
        request()
    profiling_agent.tick()
    captured_before = _captures(run)
    ticks = 0
    last_tick = time.monotonic()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for index in range(args.requests):
        request()
        if args.tick_every > 0:
            due = (index + 1) % args.tick_every == 0
        elif args.tick_every < 0:
            due = False
        else:
            due = time.monotonic() - last_tick >= 1.0
        if due:
            profiling_agent.tick()
            ticks += 1
            last_tick = time.monotonic()
    cpu_seconds = time.process_time() - cpu_started
    wall_seconds = time.perf_counter() - wall_started
    # Captures counted as they end, before any report: a final agent step here would add
    # a harvest to the instruction count that the loop did not ask for.
    captures = _captures(run) - captured_before
    if run is not None:
        profiling.run_stop(run_id=run.pk)
    result = {
        "mode": args.child,
        "requests": args.requests,
        "cpu_ms": cpu_seconds * 1000 / max(args.requests, 1),
        "wall_ms": wall_seconds * 1000 / max(args.requests, 1),
        "ticks": ticks,
        "captures": captures,
        "sample_every": run.sample_every if run is not None else 0,
    }
    services.print_result(result)
    return 0


def _captures(run) -> int:
    """This process's captures for the run so far, reported or not (0 without a run)."""
    from telemetry.profiling import agent as profiling_agent

    if run is None:
        return 0
    aggregate = profiling_agent._aggregates.get(run.pk)  # the agent's own count, per capture
    return aggregate.captures if aggregate is not None else 0


def run_child(
    env: dict[str, str],
    mode: str,
    *,
    requests: int,
    warmup: int,
    tick_every: int = 0,
    valgrind: bool = False,
) -> tuple[dict, int | None]:
    """One in-process child: (its result, its instruction count under valgrind or None)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--requests",
        str(requests),
        "--warmup",
        str(warmup),
        "--tick-every",
        str(tick_every),
    ]
    if valgrind:
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            *command,
        ]
    result, done = services.run_child(
        command, env=env, cwd=ROOT, what=f"in-process child ({mode})", timeout=3600
    )
    return result, parse_cachegrind_refs(done.stderr) if valgrind else None


def child_env(stack_env: dict[str, str]) -> dict[str, str]:
    return {
        **stack_env,
        "TELEMETRY_CONTROL_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        # The same hashes in every child: fewer differences between instruction counts.
        "PYTHONHASHSEED": "0",
    }


def run_in_process(stack, args: argparse.Namespace) -> dict:
    """Part 2: CPU ms per request of the test-client loop, per mode, rotated rounds."""
    env = child_env(stack.env)
    names = list(MODES)
    print(
        f"\n2. in process: Django test client, {args.requests} requests per mode and round,"
        f" a fresh child per measurement; agent step once a second; {args.in_process_rounds}"
        " rounds"
    )
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    per_tick: dict[str, list[float]] = {name: [] for name in names}
    captures: dict[str, list[int]] = {name: [] for name in names}
    for round_index in range(args.in_process_rounds):
        for name in rotated(names, round_index):
            result, _ = run_child(env, name, requests=args.requests, warmup=args.warmup)
            cpu[name].append(result["cpu_ms"])
            wall[name].append(result["wall_ms"])
            captures[name].append(result["captures"])
            if result["ticks"]:
                per_tick[name].append(args.requests / result["ticks"])
            print(
                f"   round {round_index + 1}: {name:<20} {result['cpu_ms']:6.3f} CPU ms"
                f" {result['wall_ms']:6.3f} wall ms per request, {result['ticks']} agent steps,"
                f" {result['captures']} captures",
                flush=True,
            )
    # Rounds are the unit: each mode's ratio against the "no run" child of the same round.
    return {
        "cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
        "wall_ms": {name: statistics.median(values) for name, values in wall.items()},
        "cpu": {n: ratio_summary(cpu[n], cpu[BASELINE], cost=True) for n in names[1:]},
        "wall": {n: ratio_summary(wall[n], wall[BASELINE], cost=True) for n in names[1:]},
        "requests_per_step": {n: statistics.median(v) for n, v in per_tick.items() if v},
        "captures": captures,
    }


def run_instructions(stack, args: argparse.Namespace) -> dict:
    """Part 3: instructions per request under cachegrind, N requests minus none."""
    env = child_env(stack.env)
    names = list(MODES)
    print(
        f"\n3. instructions (valgrind cachegrind): ({args.instruction_requests} requests - 0"
        f" requests) / {args.instruction_requests}, agent step every {args.tick_every} requests"
    )
    per_request: dict[str, float] = {}
    captures: dict[str, int] = {}
    empties: dict[str, int] = {}
    for name in names:
        _, empty = run_child(env, name, requests=0, warmup=args.warmup, valgrind=True)
        result, full = run_child(
            env,
            name,
            requests=args.instruction_requests,
            warmup=args.warmup,
            tick_every=args.tick_every,
            valgrind=True,
        )
        empties[name] = empty
        per_request[name] = (full - empty) / args.instruction_requests
        captures[name] = result["captures"]
        print(
            f"   {name:<20} {per_request[name] / 1e6:8.3f} M instructions per request"
            f" ({full:,} - {empty:,}), {result['ticks']} agent steps,"
            f" {result['captures']} captures",
            flush=True,
        )
    # Where default sampling's cost goes: the same loop without the agent's steps.
    result, no_steps = run_child(
        env,
        DEFAULT_MODE,
        requests=args.instruction_requests,
        warmup=args.warmup,
        tick_every=-1,
        valgrind=True,
    )
    steps = args.instruction_requests // args.tick_every if args.tick_every else 0
    with_steps = per_request[DEFAULT_MODE] * args.instruction_requests + empties[DEFAULT_MODE]
    breakdown = {
        "per_step": (with_steps - no_steps) / steps if steps else float("nan"),
        "per_capture": (
            (no_steps - empties[DEFAULT_MODE]) / args.instruction_requests - per_request[BASELINE]
        )
        * args.instruction_requests
        / max(result["captures"], 1),
    }
    print(
        f"   {DEFAULT_MODE} without agent steps: {no_steps:,}; so one agent step (harvest and"
        f" report) ~ {breakdown['per_step'] / 1e6:.1f} M instructions, one captured request"
        f" ~ {breakdown['per_capture'] / 1e6:.2f} M more than an uncaptured one",
        flush=True,
    )
    return {
        "per_request": per_request,
        "ratio": {n: per_request[BASELINE] / per_request[n] for n in names[1:]},
        "captures": captures,
        "breakdown": breakdown,
        "tick_every": args.tick_every,
        "sample_every": result["sample_every"],
    }


# --- report -----------------------------------------------------------------------------


def print_report(results: dict) -> list[tuple[str, float]]:
    """The side-by-side table; returns the default sampling's cost by each steady measure."""
    served, local, counted = (results.get(p) for p in PARTS)
    print("\nRatio to 'no run' (the throughput each mode allows), median (min-max over rounds)")
    columns = []
    if served:
        columns += [("served req/s", served["throughput"]), ("served CPU/req", served["cpu"])]
    if local:
        columns += [("in-process CPU/req", local["cpu"])]
    headers = ["mode", *(title for title, _ in columns)]
    if counted:
        headers.append("instructions/req")
    rows = []
    for name in list(MODES)[1:]:
        row = [name, *(report.format_ratio(col[name]) for _, col in columns)]
        if counted:
            row.append(f"{counted['ratio'][name]:.4f}")
        rows.append(row)
    report.print_table(headers, rows)
    print("\nAbsolute, medians:")
    for name in MODES:
        parts = []
        if served:
            parts.append(f"{served['rps'][name]:7.1f} req/s, {served['cpu_ms'][name]:.3f} CPU ms")
        if local:
            parts.append(
                f"in process {local['cpu_ms'][name]:.3f} CPU ms, {local['wall_ms'][name]:.3f}"
                " wall ms"
            )
        if counted:
            parts.append(f"{counted['per_request'][name] / 1e6:.3f} M instructions")
        print(f"  {name:<20} " + "; ".join(parts))
    if served:
        print("  captures per round (served):")
        for name, values in served["captures"].items():
            print(f"    {name:<20} {','.join(map(str, values))}")

    if local and local["requests_per_step"]:
        print("  in process, requests per agent step (one step a second of wall time):")
        for name, count in local["requests_per_step"].items():
            print(f"    {name:<20} {count:.0f}")
    if counted:
        base = counted["per_request"][BASELINE]
        step, capture = counted["breakdown"]["per_step"], counted["breakdown"]["per_capture"]
        every = counted["tick_every"]
        print(
            f"\nWhere default sampling's instructions go, per request, relative to 'no run':\n"
            f"  a live run's check and its agent steps with nothing to harvest:"
            f" {1 / counted['ratio']['run, no match'] - 1:6.2%}\n"
            f"  captures: {capture / 1e6:.2f} M instructions each, 1 in"
            f" {counted['sample_every']}: {capture / counted['sample_every'] / base:6.2%}\n"
            f"  agent steps (harvest, report): {step / 1e6:.1f} M instructions each, one per"
            f" {every} requests: {step / every / base:6.2%}"
        )

    costs = []
    if served:
        costs.append(("served worker CPU per request", 1 - served["cpu"][DEFAULT_MODE]["median"]))
    if local:
        costs.append(("in-process CPU per request", 1 - local["cpu"][DEFAULT_MODE]["median"]))
    if counted:
        costs.append(("instructions per request", 1 - counted["ratio"][DEFAULT_MODE]))
    print()
    if served:
        cost = 1 - served["throughput"][DEFAULT_MODE]["median"]
        print(f"default sampling costs {cost:6.1%} by served throughput (noisy; not judged)")
    for label, cost in costs:
        verdict = "OK" if cost <= BUDGET else "OVER BUDGET"
        print(f"default sampling costs {cost:6.1%} by {label} (budget {BUDGET:.0%}): {verdict}")
    return costs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="served: rounds")
    parser.add_argument("--seconds", type=int, default=3, help="served: seconds per window")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--in-process-rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="in process: per child")
    parser.add_argument("--instruction-requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100, help="in process: unmeasured first")
    parser.add_argument(
        "--tick-every",
        type=int,
        default=1000,
        help="instructions: requests per agent step. The poller steps once a second; a process "
        "saturated with this view in process serves about 2000 a CPU-second, so 1000 counts "
        "the step's cost about twice",
    )
    parser.add_argument(
        "--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}"
    )
    parser.add_argument("--output", type=Path, help="also write the results as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 over the 10%% budget")
    parser.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if unknown := skip - set(PARTS):
        parser.error(f"unknown parts to skip: {', '.join(sorted(unknown))}")
    if "instructions" not in skip and shutil.which("valgrind") is None:
        print("valgrind not found: the instruction counts are skipped")
        skip.add("instructions")

    results: dict = {}
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="profiling-bench-") as tmp,
        prepared_stack(Path(tmp)) as stack,
    ):
        if "served" not in skip:
            results["served"] = run_served(stack, Path(tmp), args)
        if "in-process" not in skip:
            results["in-process"] = run_in_process(stack, args)
        if "instructions" not in skip:
            results["instructions"] = run_instructions(stack, args)
    costs = print_report(results)
    print(f"\n(took {time.monotonic() - started:.0f} s)")
    if args.output:
        report.write_json(
            args.output, {"settings": vars(args) | {"output": None}, "results": results}
        )
    return 1 if args.strict and any(cost > BUDGET for _, cost in costs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
