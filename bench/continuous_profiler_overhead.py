"""What the continuous profiler costs a busy worker, at its default rate and above, three
ways in one run, printed side by side (ratios to "off" and the sampler's share of CPU):

1. served: a real gunicorn worker (1 process x 4 threads) loaded by `wrk` on
   POST /api/downstream/enrich, started afresh per mode (the mode set by the environment,
   PROFILING_CONTINUOUS_DEFAULT_*), in an order rotated every round: requests per second,
   the worker's CPU milliseconds per request (user + system from /proc), and the share of
   the worker's CPU its sampler thread used, as the windows it wrote say (each window
   records its sampler's thread CPU time and its process's CPU time).
2. in process: the same view through Django's test client in a fresh child per mode and
   round, one busy thread, the sampler thread live at the mode's rate: CPU per request
   (process_time) and the sampler thread's own CPU time as a share of the process's.
3. instructions (valgrind cachegrind, no cache simulation; deterministic): instructions per
   sample, with 1 and 4 threads parked 75 frames deep and sampled in wall mode (every
   thread folded), as (N samples - 0 samples) / N; instructions per request with and
   without the span processor noting local root spans. The sampler's share at a rate is
   rate x instructions per sample / the instructions a busy core runs per second (the
   request's instructions over its in-process CPU time, part 2's "off"). Cachegrind counts
   no kernel work: the cpu mode's clock_gettime per thread shows in parts 1 and 2 only.

    .venv/bin/python bench/continuous_profiler_overhead.py [--rounds 3] [--seconds 6]
        [--in-process-rounds 3] [--in-process-seconds 4] [--samples 400]
        [--skip served,in-process,instructions] [--output x.json] [--strict]

With --strict the exit status is 1 when the default rate costs more than 1% of a busy
worker's CPU by the sampler's own CPU share (parts 1 and 2) or by instructions (part 3).
This script stands alone (no import from the other benchmarks).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import instructions  # noqa: E402
from tests.harness.servers import prepared_stack  # noqa: E402

PATH = "/api/downstream/enrich"
BODY = {"words": 120, "sha256": "ab" * 32}
DEFAULT_HZ = 19  # PROFILING_CONTINUOUS_DEFAULT_HZ's default, checked by the child
OFF = "off"
DEFAULT_MODE = f"default ({DEFAULT_HZ} Hz, cpu)"
MODES = {
    # name: (mode, samples per second) or None (off)
    OFF: None,
    DEFAULT_MODE: ("cpu", DEFAULT_HZ),
    f"5x default ({DEFAULT_HZ * 5} Hz, cpu)": ("cpu", DEFAULT_HZ * 5),
    "default rate, wall mode": ("wall", DEFAULT_HZ),
}
BUDGET = 0.01
PARTS = ("served", "in-process", "instructions")
RESULT = "CONTINUOUS-BENCH-RESULT "
PARK_DEPTH = 75


def rotated(names: list[str], index: int) -> list[str]:
    shift = index % len(names)
    return [*names[shift:], *names[:shift]]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_result(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    raise ValueError(f"no result line in:\n{stdout[-2000:]}")


# --- children (in-process measurements) --------------------------------------------------


def _django_client():
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from opentelemetry.sdk.trace import SpanProcessor

    from telemetry.pipeline.setup import configure_telemetry

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # Spans are built (and their processors called) as in a served worker; nothing leaves.
    configure_telemetry("bench", extra_span_processors=[SpanProcessor()])
    client = Client()
    body = json.dumps(BODY)

    def request() -> None:
        response = client.post(PATH, body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{PATH} answered {response.status_code}")

    return settings, request


def _sampler(mode: str, hz: int):
    from telemetry.profiling.continuous import spans
    from telemetry.profiling.continuous.sampler import Sampler, SamplerSettings

    spans.install()
    spans.set_active(True)
    return Sampler(
        SamplerSettings(
            sample_hz=hz,
            mode=mode,
            window_seconds=60,
            max_stacks=2000,
            max_traces=100,
            max_depth=128,
        ),
        "bench:child:0",
    )


def child_cpu(args: argparse.Namespace) -> None:
    """Part 2: one busy thread serving requests for --seconds, the sampler live."""
    settings, request = _django_client()
    assert settings.PROFILING_CONTINUOUS_DEFAULT_HZ == DEFAULT_HZ, "DEFAULT_HZ is stale"
    for _ in range(args.warmup):
        request()
    chosen = MODES[args.child]
    sampler = _sampler(*chosen) if chosen else None
    if sampler is not None:
        sampler.start()
    requests = 0
    cpu_started, deadline = time.process_time(), time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        request()
        requests += 1
    cpu_seconds = time.process_time() - cpu_started
    result = {"requests": requests, "cpu_ms": cpu_seconds * 1000 / max(requests, 1)}
    if sampler is not None:
        sampler.stop()
        sampler.close_current()
        closed, _ = sampler.take_windows()
        sampler_cpu = sum(w.sampler_cpu_ns for w in closed) / 1e9
        stacks = [s for w in closed for s in w.profile.stacks.items()]
        samples = sum(w.samples for w in closed)
        depth = sum(len(stack) * n for stack, (n, _) in stacks) / max(samples, 1)
        result.update(sampler_share=sampler_cpu / cpu_seconds, samples=samples, depth=depth)
    print(RESULT + json.dumps(result), flush=True)


def child_instructions(args: argparse.Namespace) -> None:
    """Part 3: --count requests (with or without the span processor noting root spans), or
    --count samples of --threads parked threads."""
    import threading

    _, request = _django_client()
    for _ in range(args.warmup):
        request()
    if args.child == "requests":
        for _ in range(args.count):
            request()
    elif args.child == "requests, spans noted":
        from telemetry.profiling.continuous import spans

        spans.install()
        spans.set_active(True)
        for _ in range(args.count):
            request()
    else:  # samples: threads parked deep in a stack, folded each time (wall mode)
        release = threading.Event()
        parked = threading.Barrier(args.threads + 1)

        def deep(level: int) -> None:
            if level:
                deep(level - 1)
            else:
                parked.wait()
                release.wait()

        threads = [threading.Thread(target=deep, args=(PARK_DEPTH,)) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        parked.wait()
        sampler = _sampler("wall", DEFAULT_HZ)
        sampler.sample_once()  # the code objects' first fold, in both counts
        for _ in range(args.count):
            sampler.sample_once()
        release.set()
        for thread in threads:
            thread.join()
    print(RESULT + json.dumps({"count": args.count}), flush=True)


def run_child(env, *extra: str, valgrind: bool = False) -> tuple[dict, int | None]:
    command = [sys.executable, str(Path(__file__).resolve()), *extra]
    if valgrind:
        command = instructions.counted(command)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"child {extra} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return parse_result(done.stdout), instructions.refs(done.stderr) if valgrind else None


def child_env(stack_env: dict[str, str]) -> dict[str, str]:
    return {
        **stack_env,
        "TELEMETRY_CONTROL_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "PYTHONHASHSEED": "0",
    }


# --- parts ------------------------------------------------------------------------------


def run_in_process(stack, args) -> dict:
    env = child_env(stack.env)
    names = list(MODES)
    print(
        f"\n2. in process: test client, one busy thread, {args.in_process_seconds}s per"
        f" child, a fresh child per mode and round, {args.in_process_rounds} rounds"
    )
    cpu: dict[str, list[float]] = {n: [] for n in names}
    share: dict[str, list[float]] = {n: [] for n in names[1:]}
    depth: list[float] = []
    for round_index in range(args.in_process_rounds):
        for name in rotated(names, round_index):
            result, _ = run_child(
                env,
                "--child",
                name,
                "--seconds",
                str(args.in_process_seconds),
                "--warmup",
                str(args.warmup),
            )
            cpu[name].append(result["cpu_ms"])
            extra = ""
            if name != OFF:
                share[name].append(result["sampler_share"])
                depth.append(result["depth"])
                extra = (
                    f", sampler {result['sampler_share']:.3%} of the CPU,"
                    f" {result['samples']} samples {result['depth']:.0f} frames deep"
                )
            print(
                f"   round {round_index + 1}: {name:<28} {result['cpu_ms']:.3f} CPU ms per"
                f" request ({result['requests']} requests){extra}",
                flush=True,
            )
    ratios = {n: [b / v for v, b in zip(cpu[n], cpu[OFF], strict=True) if v > 0] for n in names[1:]}
    return {
        "cpu_ms": {n: median(v) for n, v in cpu.items()},
        "cpu_ratio": {
            n: {"median": median(r), "min": min(r), "max": max(r)} for n, r in ratios.items()
        },
        "sampler_share": {n: median(v) for n, v in share.items()},
        "stack_depth": median(depth),
    }


def run_instructions(stack, args, cpu_ms_off: float | None) -> dict:
    env = child_env(stack.env)
    n, k = args.instruction_requests, args.samples
    print(
        f"\n3. instructions (valgrind cachegrind): ({n} requests - 0) / {n}; ({k} samples"
        f" - 0) / {k} of threads parked {PARK_DEPTH} frames deep, wall mode"
    )
    per_request = {}
    for kind in ("requests", "requests, spans noted"):
        _, none = run_child(env, "--child-instructions", kind, "--count", "0", valgrind=True)
        _, full = run_child(env, "--child-instructions", kind, "--count", str(n), valgrind=True)
        per_request[kind] = (full - none) / n
        print(
            f"   {kind:<24} {per_request[kind] / 1e6:8.4f} M instructions per request", flush=True
        )
    per_sample = {}
    for threads in (1, 4):
        common = ("--child-instructions", "samples", "--threads", str(threads))
        _, none = run_child(env, *common, "--count", "0", valgrind=True)
        _, full = run_child(env, *common, "--count", str(k), valgrind=True)
        per_sample[threads] = (full - none) / k
        print(
            f"   one sample, {threads} thread(s): {per_sample[threads] / 1e3:8.1f} k instructions",
            flush=True,
        )
    spans_share = per_request["requests, spans noted"] / per_request["requests"] - 1
    result = {"per_request": per_request, "per_sample": per_sample, "spans_share": spans_share}
    if cpu_ms_off:
        per_cpu_second = per_request["requests"] / (cpu_ms_off / 1000)
        result["instructions_per_cpu_second"] = per_cpu_second
        result["sampler_share"] = {
            name: chosen[1] * per_sample[4] / per_cpu_second
            for name, chosen in MODES.items()
            if chosen
        }
        print(
            f"   a busy core runs {per_cpu_second / 1e9:.2f} G instructions per CPU second"
            " here (part 2's off); the span processor adds"
            f" {spans_share:+.3%} per request",
            flush=True,
        )
    return result


def worker_cpu_seconds(master_pid: int) -> float:
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wrk(url: str, seconds: float, connections: int, script: Path) -> int:
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    found = re.search(r"(\d+) requests in", done.stdout)
    if done.returncode != 0 or not found or "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    return int(found.group(1))


def sampler_share_from_windows(stack) -> float | None:
    code = (
        "import json\n"
        "from django.db.models import Sum\n"
        "from telemetry.models import ContinuousProfileWindow as W\n"
        "a = W.objects.aggregate(s=Sum('sampler_cpu_seconds'), p=Sum('process_cpu_seconds'))\n"
        "print(json.dumps(a))\n"
        "W.objects.all().delete()\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**stack.env, "LOG_LEVEL": "ERROR", "TELEMETRY_CONTROL_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["s"] / found["p"] if found["p"] else None


def run_served(stack, tmp: Path, args) -> dict:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is needed for the served part (Debian's wrk package)")
    script = tmp / "post.lua"
    script.write_text(
        f"wrk.method = \"POST\"\nwrk.body = '{json.dumps(BODY)}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    names = list(MODES)
    print(
        f"\n1. served: wrk, {args.connections} connections, {args.seconds}s per mode; 1 gunicorn"
        f" gthread worker x 4 threads, started afresh per mode; {args.rounds} rounds"
    )
    rps: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    share: dict[str, list[float]] = {n: [] for n in names[1:]}
    for round_index in range(args.rounds):
        for name in rotated(names, round_index):
            chosen = MODES[name]
            env = {
                "GUNICORN_WORKERS": "1",
                "GUNICORN_THREADS": "4",
                "GUNICORN_ACCESS_LOG": "false",
                "LOG_LEVEL": "WARNING",
                "API_THROTTLE_ANON": "1000000/min",
                "PROFILING_CONTINUOUS_DEFAULT_ENABLED": "true" if chosen else "false",
                "PROFILING_CONTINUOUS_WINDOW_SECONDS": "5",
                "PROFILING_CONTINUOUS_FLUSH_SECONDS": "1",
            }
            if chosen:
                env["PROFILING_CONTINUOUS_DEFAULT_HZ"] = str(chosen[1])
            base_url = stack.start_web(**env)
            url = f"{base_url}{PATH}"
            master = stack.processes[-1].popen.pid
            wrk(url, 2, args.connections, script)  # warm-up
            if chosen and chosen[0] == "wall":
                # Wall mode is the admin's choice, not an environment default: set the row.
                _set_mode_row(stack, "wall", chosen[1])
                time.sleep(2)
            before = worker_cpu_seconds(master)
            started = time.monotonic()
            count = wrk(url, args.seconds, args.connections, script)
            elapsed = time.monotonic() - started
            cpu_ms = (worker_cpu_seconds(master) - before) * 1000 / max(count, 1)
            time.sleep(2)  # the last flush
            stack.stop()
            measured = sampler_share_from_windows(stack)
            if chosen and chosen[0] == "wall":
                _set_mode_row(stack, None, 0)
            rps[name].append(count / elapsed)
            cpu[name].append(cpu_ms)
            extra = ""
            if name != OFF and measured is not None:
                share[name].append(measured)
                extra = f", sampler {measured:.3%} of the worker's CPU (its windows)"
            print(
                f"   round {round_index + 1}: {name:<28} {count / elapsed:7.1f} req/s"
                f" {cpu_ms:.3f} worker CPU ms per request{extra}",
                flush=True,
            )
    ratio = {n: [b / v for v, b in zip(cpu[n], cpu[OFF], strict=True) if v > 0] for n in names[1:]}
    throughput = {
        n: [v / b for v, b in zip(rps[n], rps[OFF], strict=True) if b > 0] for n in names[1:]
    }
    return {
        "rps": {n: median(v) for n, v in rps.items()},
        "cpu_ms": {n: median(v) for n, v in cpu.items()},
        "cpu_ratio": {n: median(r) for n, r in ratio.items()},
        "throughput_ratio": {n: median(r) for n, r in throughput.items()},
        "sampler_share": {n: median(v) for n, v in share.items()},
    }


def _set_mode_row(stack, mode: str | None, hz: int) -> None:
    code = "from telemetry.models import ContinuousProfiling as C;" + (
        f"C.objects.update_or_create(pk=1, defaults={{'enabled': True, 'mode': '{mode}',"
        f" 'sample_hz': {hz}}})"
        if mode
        else "C.objects.all().delete()"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        check=True,
        env={**stack.env, "LOG_LEVEL": "ERROR"},
        capture_output=True,
        timeout=120,
    )
    # The running worker polls the marker the row's save did not bump (a shell, no admin):
    # bump it as the admin would.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from telemetry.profiling.continuous.config import continuous_settings as c;"
            "c.notify_changed()",
        ],
        cwd=ROOT,
        check=True,
        env={**stack.env, "LOG_LEVEL": "ERROR"},
        capture_output=True,
        timeout=120,
    )


# --- the summary ------------------------------------------------------------------------


def summarize(results: dict) -> bool:
    print("\nShare of a busy worker's CPU the continuous profiler uses (median): its sampler")
    print("thread's own CPU (served, in process: the thread's CPU clock; instructions: per")
    print("sample x rate), and the throughput each mode allows relative to off (off / mode")
    print("for CPU per request, mode / off for requests per second):\n")
    header = (
        "mode",
        "served: sampler",
        "served: CPU/request",
        "served: req/s",
        "in process: sampler",
        "in process: CPU/request",
        "instructions: sampler",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    served, local, counted = (results.get(part, {}) for part in PARTS)
    for name in list(MODES)[1:]:
        cells = [
            _pct(served.get("sampler_share", {}).get(name)),
            _ratio(served.get("cpu_ratio", {}).get(name)),
            _ratio(served.get("throughput_ratio", {}).get(name)),
            _pct(local.get("sampler_share", {}).get(name)),
            _ratio((local.get("cpu_ratio", {}).get(name) or {}).get("median")),
            _pct(counted.get("sampler_share", {}).get(name)),
        ]
        print(" | ".join([name, *cells]))
    # The whole cost at the default rate: the sampler thread, plus what noting local root
    # spans adds to every request (instructions; too small for the clocks to resolve).
    spans_share = counted.get("spans_share", 0.0)
    totals = [
        share + spans_share
        for share in (
            served.get("sampler_share", {}).get(DEFAULT_MODE),
            local.get("sampler_share", {}).get(DEFAULT_MODE),
            counted.get("sampler_share", {}).get(DEFAULT_MODE),
        )
        if share is not None
    ]
    if "spans_share" in counted:
        print(
            f"\nNoting local root spans adds {spans_share:+.3%} to a request's instructions"
            " (only while continuous profiling is on)."
        )
    within = bool(totals) and max(totals) <= BUDGET
    shown = ", ".join(f"{total:.2%}" for total in totals)
    print(
        f"At the default rate, sampler + span noting: {shown or '-'} by the measures above;"
        f" budget {BUDGET:.0%}: {'met' if within else 'EXCEEDED'}."
    )
    return within


def _pct(value) -> str:
    return "-" if value is None else f"{value:.3%}"


def _ratio(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=list(MODES))
    parser.add_argument(
        "--child-instructions", choices=["requests", "requests, spans noted", "samples"]
    )
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--in-process-rounds", type=int, default=3)
    parser.add_argument("--in-process-seconds", type=float, default=4.0)
    parser.add_argument("--instruction-requests", type=int, default=500)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--skip", default="")
    parser.add_argument("--output", default="")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    if args.child:
        child_cpu(args)
        return 0
    if args.child_instructions:
        args.child = args.child_instructions
        child_instructions(args)
        return 0
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp, prepared_stack(Path(tmp)) as stack:
        if "served" not in skip:
            results["served"] = run_served(stack, Path(tmp), args)
        if "in-process" not in skip:
            results["in-process"] = run_in_process(stack, args)
        if "instructions" not in skip:
            if not shutil.which("valgrind"):
                raise RuntimeError("valgrind is needed for the instruction counts")
            off = results.get("in-process", {}).get("cpu_ms", {}).get(OFF)
            results["instructions"] = run_instructions(stack, args, off)
    within = summarize(results)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 1 if args.strict and not within else 0


if __name__ == "__main__":
    sys.exit(main())
