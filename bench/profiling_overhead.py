"""What a profiling run costs the service: throughput of a real gunicorn worker with no run
active, with a run at its default sampling, and with every request captured (wall and cpu
clocks), printed as ratios to "no run".

    .venv/bin/python bench/profiling_overhead.py [--rounds 3] [--seconds 5] [--strict]

The load comes from another process: `wrk` (Debian package; scripts/test.sh installs it)
or, without it, a Python load generator in a child process. Modes alternate within every
round (in a rotated order), and each ratio is taken against the "no run" measurement of the
same round, so that drift on a shared machine cancels out as far as it can. The spread
(min-max of the per-round ratios) is printed next to the median.

Runs are started and stopped with the management commands, and reach the worker through the
same change propagation as the admin's (telemetry.control). With --strict the exit status
is 1 when default sampling costs more than 10% of throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
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

import httpx  # noqa: E402

from tests.e2e.servers import api_token, prepared_stack  # noqa: E402

PATH = "/api/downstream/enrich"
RUNS = "/api/telemetry/profiling-runs"
BODY = {"words": 120, "sha256": "ab" * 32}
MODES = {
    # name: the run's fields for POST /api/telemetry/profiling-runs (None: no run)
    "no run": None,
    # An active run that matches nothing: the cost of the poller and the hot-path check.
    "run, no match": {"target": "requests", "route_pattern": "^/nothing-matches-this$"},
    "default sampling": {"target": "requests"},
    "every request, wall": {"target": "requests", "sample_every": 1, "clock": "wall"},
    "every request, cpu": {"target": "requests", "sample_every": 1, "clock": "cpu"},
}
PICKUP_SECONDS = 1.5  # each process polls the run marker about once a second
BUDGET = 0.10


def measure_wrk(url: str, seconds: float, connections: int, script: Path) -> tuple[float, int]:
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
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if non_2xx:
        raise RuntimeError(f"the service answered errors under load:\n{done.stdout}")
    requests = re.search(r"(\d+) requests in", done.stdout)
    return float(found.group(1)), int(requests.group(1)) if requests else 0


def _python_load(url: str, seconds: float, connections: int, result) -> None:
    import threading

    import httpx

    count = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal count
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                response = client.post(url, json=BODY)
                response.raise_for_status()
                with lock:
                    count += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.value = count / (time.monotonic() - started)


def measure_python(url: str, seconds: float, connections: int) -> tuple[float, int]:
    result = multiprocessing.Value("d", 0.0)
    process = multiprocessing.Process(target=_python_load, args=(url, seconds, connections, result))
    process.start()
    process.join(seconds + 60)
    return result.value, round(result.value * seconds)


def service_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by gunicorn's worker processes.

    CPU per request does not depend on what else the machine runs, unlike throughput: on a
    shared machine it is the steadier measure of what profiling costs the service.
    """
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--strict", action="store_true", help="exit 1 over the 10%% budget")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="profiling-bench-") as tmp,
        prepared_stack(Path(tmp)) as stack,
    ):
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
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = '{json.dumps(BODY)}'\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        use_wrk = shutil.which("wrk") is not None

        master_pid = stack.processes[0].popen.pid

        def measure(seconds: float) -> tuple[float, float]:
            """(requests per second, worker CPU milliseconds per request)."""
            cpu_before = service_cpu_seconds(master_pid)
            if use_wrk:
                rate, count = measure_wrk(url, seconds, args.connections, script)
            else:
                rate, count = measure_python(url, seconds, args.connections)
            cpu_ms = (service_cpu_seconds(master_pid) - cpu_before) * 1000
            return rate, cpu_ms / max(count, 1)

        load = "wrk" if use_wrk else "python load generator (child process)"
        print(f"load: {load}, {args.connections} connections, {args.seconds:.0f}s per mode")
        print("service: 1 gunicorn gthread worker x 4 threads, POST", PATH)
        measure(2.0)  # warm-up: imports, connections, first-request caches

        # Each mode is measured between two "no run" windows, and its ratio is taken against
        # their mean: on a shared machine, the load of others drifts within a minute.
        names = list(MODES)
        profiled = [name for name in names if MODES[name] is not None]
        throughput: dict[str, list[float]] = {name: [] for name in names}
        cpu_per_request: dict[str, list[float]] = {name: [] for name in names}
        baseline_throughput: dict[str, list[float]] = {name: [] for name in names}
        baseline_cpu: dict[str, list[float]] = {name: [] for name in names}
        captures: dict[str, list[int]] = {name: [] for name in names}
        before = measure(args.seconds)
        for round_index in range(args.rounds):
            order = (
                profiled[round_index % len(profiled) :] + profiled[: round_index % len(profiled)]
            )
            for name in order:
                run = api.post(RUNS, json={**MODES[name], "max_duration_seconds": 3600,
                                         "max_captures": 10000})  # fmt: skip
                run.raise_for_status()
                time.sleep(PICKUP_SECONDS)
                rate, cpu_ms = measure(args.seconds)
                time.sleep(1.5)  # the last captures are reported about once a second
                captures[name].append(api.get(f"{RUNS}/{run.json()['id']}").json()["captures"])
                api.post(f"{RUNS}/{run.json()['id']}/stop").raise_for_status()
                time.sleep(PICKUP_SECONDS)
                after = measure(args.seconds)
                throughput[name].append(rate)
                cpu_per_request[name].append(cpu_ms)
                baseline_throughput[name].append((before[0] + after[0]) / 2)
                baseline_cpu[name].append((before[1] + after[1]) / 2)
                throughput["no run"].append(after[0])
                cpu_per_request["no run"].append(after[1])
                print(
                    f"  round {round_index + 1}: {name:<22} {rate:8.1f} req/s"
                    f" {cpu_ms:6.3f} CPU ms/request (no run around it: {before[0]:.1f}, "
                    f"{after[0]:.1f} req/s)"
                )
                before = after

    print()
    print("Throughput, as ratios to the mean of the 'no run' windows around each measurement")
    print("(median, and min-max over rounds):")
    print(f"{'mode':<22} {'req/s':>8} {'ratio':>7} {'spread':>13}   captures per round")
    throughput_ratio = _report(throughput, baseline_throughput, captures, higher=True)
    print()
    print("Worker CPU per request, as the throughput it allows relative to 'no run'")
    print("(no_run_cpu / mode_cpu: steadier than throughput on a shared machine):")
    print(f"{'mode':<22} {'CPU ms':>8} {'ratio':>7} {'spread':>13}")
    cpu_ratio = _report(cpu_per_request, baseline_cpu, None, higher=False)
    print()
    verdicts = []
    for label, ratio in (("throughput", throughput_ratio), ("CPU per request", cpu_ratio)):
        cost = 1 - ratio
        verdicts.append(cost <= BUDGET)
        print(
            f"default sampling costs {cost:.1%} by {label} (budget {BUDGET:.0%}): "
            f"{'OK' if cost <= BUDGET else 'OVER BUDGET'}"
        )
    return 0 if all(verdicts) or not args.strict else 1


def _report(
    values: dict[str, list[float]],
    baselines: dict[str, list[float]],
    captures: dict[str, list[int]] | None,
    *,
    higher: bool,
) -> float:
    """Print one table; return the median ratio of default sampling."""
    default_ratio = 1.0
    for name, measured in values.items():
        if name == "no run":
            print(f"{name:<22} {statistics.median(measured):8.2f} {1:7.3f} {'':>13}")
            continue
        pairs = zip(measured, baselines[name], strict=True)
        ratios = [v / b if higher else b / v for v, b in pairs]
        median = statistics.median(ratios)
        spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
        line = f"{name:<22} {statistics.median(measured):8.2f} {median:7.3f} {spread:>13}"
        if captures is not None:
            line += "   " + ",".join(map(str, captures[name]))
        print(line)
        if name == "default sampling":
            default_ratio = median
    return default_ratio


if __name__ == "__main__":
    raise SystemExit(main())
