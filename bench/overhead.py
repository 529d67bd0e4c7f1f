"""What telemetry costs the service: throughput and latency of the real API under gunicorn,
with telemetry off, at 100%, 10% and 1% trace sampling, and with the collector unreachable,
each as a ratio to "telemetry off".

    .venv/bin/python bench/overhead.py [--rounds 3] [--seconds 8] [--output PATH]

The service runs from its own gunicorn.conf.py on 127.0.0.1 (one gthread worker) against a
fresh migrated database (tests.harness.servers.prepared_stack: SQLite unless DATABASE_URL is
set), exporting OTLP/gRPC to a live rotel-agent on 127.0.0.1. The load comes from `wrk` in
its own process. Every round starts the service once per mode (modes are environment
variables read at start-up), in an order rotated each round, warms it up and drives every
endpoint; each ratio is taken against the "off" run of the same round, so that drift on a
shared machine cancels out as far as it can, and the spread (min-max over rounds) is printed
next to the median. Results are written as JSON (--output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.harness.collector import ROTEL_AGENT, _accepts  # noqa: E402
from tests.harness.servers import (  # noqa: E402
    BIN,
    ServiceProcess,
    Stack,
    api_token,
    free_port,
    prepared_stack,
    wait_until_serving,
)

# Everything a mode sets on top of the common environment. The collector's endpoint is
# filled in at run time ("{collector}", "{closed}": a port nothing listens on).
_FULL = {"OTEL_EXPORTER_OTLP_ENDPOINT": "{collector}"}


def _ratio(arg: str) -> dict[str, str]:
    return {
        **_FULL,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": arg,
    }


MODES: dict[str, dict[str, str]] = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "full 100%": {**_FULL, "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "full 10%": _ratio("0.1"),
    "full 1%": _ratio("0.01"),
    "collector down": {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "{closed}",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    },
}
BASELINE = "off"
# A mode run from the --baseline-tree checkout is named "<mode> @baseline".
BASELINE_TREE_SUFFIX = " @baseline"
ENDPOINTS = ("GET /", "GET /api/users", "POST /api/process")
PROCESS_BODY = {"data": "The quick brown fox jumps over the lazy dog. " * 8}
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Sample:
    """One wrk run: requests per second and latency percentiles in milliseconds."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def parse_wrk(output: str) -> Sample:
    """Parse `wrk --latency` output (latencies come as 812.00us, 3.41ms or 1.02s)."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    if not rate or not count:
        raise ValueError(f"not wrk --latency output:\n{output}")
    percentiles = {
        pct: float(value) * _UNITS[unit]
        for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Sample(
        rps=float(rate.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(count.group(1)),
        errors=errors,
    )


def wrk_script(method: str, token: str, body: dict | None) -> str:
    """A wrk Lua script: the method, the token and (for POST) a JSON body."""
    lines = [f'wrk.method = "{method}"', f'wrk.headers["Authorization"] = "Token {token}"']
    if body is not None:
        lines += [
            f"wrk.body = '{json.dumps(body)}'",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    return "\n".join(lines) + "\n"


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> Sample:
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{done.stdout}{done.stderr}")
    sample = parse_wrk(done.stdout)
    # Errors would make a mode look fast (a 429 or 500 is cheap): fail rather than report.
    if sample.errors:
        raise RuntimeError(f"errors under load at {url}:\n{done.stdout}")
    return sample


@contextlib.contextmanager
def rotel(log_dir: Path) -> Iterator[str]:
    """rotel-agent on 127.0.0.1 receiving OTLP/gRPC and dropping it (blackhole exporter).

    Not tests.harness.collector.Collector: that one prints every item it receives in detail,
    which at thousands of spans a second would take a core from the service measured.
    """
    port = free_port()
    log = (log_dir / "rotel.log").open("wb")
    popen = subprocess.Popen(
        [
            str(ROTEL_AGENT),
            "start",
            "--otlp-grpc-endpoint",
            f"127.0.0.1:{port}",
            "--otlp-http-endpoint",
            f"127.0.0.1:{free_port()}",
            "--exporter",
            "blackhole",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=log_dir,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _accepts(port):
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"rotel-agent did not start: {(log_dir / 'rotel.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        popen.terminate()
        try:
            popen.wait(10)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)
        log.close()


def mode_environment(mode: str) -> dict[str, str]:
    """The environment of a mode, also for its twin from the baseline tree."""
    return MODES[mode.removesuffix(BASELINE_TREE_SUFFIX)]


def run_order(modes: list[str], baseline_tree: bool) -> list[str]:
    """Every mode once per round: off first, then each telemetry mode, each followed by its
    twin from the baseline tree when there is one (rotated from round to round)."""
    order = [BASELINE]
    for mode in modes:
        if mode != BASELINE:
            order.append(mode)
            if baseline_tree:
                order.append(mode + BASELINE_TREE_SUFFIX)
    return order


def start_web_from(stack: Stack, tree: Path, **extra_env: str) -> str:
    """Start gunicorn from another checkout of the service (as Stack.start_web does from this
    one), on the same database; return its base URL once it answers /health."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **stack.env,
        "PORT": str(port),
        "PROCESSING_DOWNSTREAM_URL": f"{base_url}/api/downstream/enrich",
        **extra_env,
    }
    log_path = stack.log_dir / f"web-baseline-{port}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "observability_site/gunicorn.conf.py",
                "observability_site.wsgi",
            ],
            cwd=tree,  # gunicorn puts its working directory first on sys.path
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    process = ServiceProcess("web (baseline tree)", popen, log_path)
    stack.processes.append(process)
    wait_until_serving(f"{base_url}/health", process)
    return base_url


def stop_all_but(stack: Stack, kept: ServiceProcess | None) -> None:
    """Stop the stack's servers, except `kept` (still stopped with the stack at the end)."""
    for process in stack.processes:
        if process is not kept:
            process.stop()
    stack.processes[:] = [kept] if kept else []


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


def worker_pid(master_pid: int) -> int:
    """The pid of gunicorn's (single) worker, from /proc: for CPU time, and for py-spy."""
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        children = (task / "children").read_text().split()
        if children:
            return int(children[0])
    raise RuntimeError(f"gunicorn master {master_pid} has no worker")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far, from /proc.

    Unlike throughput, CPU per request hardly depends on what else the machine runs: on a
    shared machine it is the steadier measure of what telemetry costs.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(results: list[dict], modes: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per mode and endpoint: medians of rps, p50, p99 and worker CPU ms per request, and
    their ratios to the baseline of the same round (throughput: median, min, max)."""
    by_key = {(r["round"], r["mode"], r["endpoint"]): r for r in results}
    rounds = sorted({r["round"] for r in results})
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        summary[mode] = {}
        for endpoint in ENDPOINTS:
            runs = [by_key[(n, mode, endpoint)] for n in rounds if (n, mode, endpoint) in by_key]
            bases = [by_key.get((r["round"], BASELINE, endpoint)) for r in runs]
            ratios = [r["rps"] / b["rps"] for r, b in zip(runs, bases, strict=True) if b]
            p99s = [r["p99_ms"] / b["p99_ms"] for r, b in zip(runs, bases, strict=True) if b]
            # baseline CPU / mode CPU: the throughput the mode's CPU cost alone would allow.
            cpus = [b["cpu_ms"] / r["cpu_ms"] for r, b in zip(runs, bases, strict=True) if b]
            if not runs:
                continue
            summary[mode][endpoint] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "ratio": statistics.median(ratios) if ratios else float("nan"),
                "ratio_min": min(ratios, default=float("nan")),
                "ratio_max": max(ratios, default=float("nan")),
                "p99_ratio": statistics.median(p99s) if p99s else float("nan"),
                "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
                "cpu_ratio": statistics.median(cpus) if cpus else float("nan"),
                "cpu_ratio_min": min(cpus, default=float("nan")),
                "cpu_ratio_max": max(cpus, default=float("nan")),
            }
    return summary


def print_table(summary: dict[str, dict[str, dict[str, float]]]) -> None:
    print(
        f"\n{'mode':<25} {'endpoint':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'ratio':>6} {'min-max':>11} {'p99 x':>6} {'CPU ms':>7} {'CPU ratio':>9} {'min-max':>11}"
    )
    for mode, endpoints in summary.items():
        for endpoint, s in endpoints.items():
            print(
                f"{mode:<25} {endpoint:<18} {s['rps']:8.1f} {s['p50_ms']:7.2f} {s['p99_ms']:7.2f}"
                f" {s['ratio']:6.3f} {s['ratio_min']:5.3f}-{s['ratio_max']:5.3f}"
                f" {s['p99_ratio']:6.2f} {s['cpu_ms']:7.3f} {s['cpu_ratio']:9.3f}"
                f" {s['cpu_ratio_min']:5.3f}-{s['cpu_ratio_max']:5.3f}"
            )


# --- in process: CPU per request without gunicorn, wrk or threads (--in-process).
IN_PROCESS_REQUESTS = {"GET /": 3000, "GET /api/users": 300, "POST /api/process": 300}


def wsgi_environ(endpoint: str, token: str) -> dict:
    """The WSGI environ gunicorn would give the app for one of the benchmark's requests."""
    import io

    method, path = endpoint.split(" ")
    body = json.dumps(PROCESS_BODY).encode() if method == "POST" else b""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "RAW_URI": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def in_process_child(token: str, flush: bool) -> None:
    """Run in a fresh process whose environment is the mode's: set telemetry up as gunicorn's
    post_fork does, load the app, and print the CPU microseconds (process_time: all threads,
    the export threads included) per request of each endpoint, as one JSON line."""
    # The service's code comes from the working directory (this tree or --baseline-tree).
    assert "telemetry" not in sys.modules
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    from telemetry.pipeline.setup import configure_telemetry

    configure_telemetry("bench in process")
    from django.core.wsgi import get_wsgi_application
    from opentelemetry import trace

    app = get_wsgi_application()
    statuses: list[str] = []
    # No SDK provider with telemetry off; no flush with the collector down (it would wait
    # out the exporter's retries for spans the full queue drops anyway).
    flush_spans = getattr(trace.get_tracer_provider(), "force_flush", None) if flush else None

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def serve(endpoint: str, count: int) -> None:
        for _ in range(count):
            body = app(wsgi_environ(endpoint, token), start_response)
            for _chunk in body:
                pass
            body.close()
            if not statuses[-1].startswith("2"):
                raise RuntimeError(f"{endpoint}: {statuses[-1]}")

    cpu_us = {}
    for endpoint, count in IN_PROCESS_REQUESTS.items():
        serve(endpoint, count // 5)  # warm up
        if flush_spans:
            flush_spans()
        started = time.process_time()
        serve(endpoint, count)
        if flush_spans:  # the encoding and export of these requests' spans counts too
            flush_spans()
        cpu_us[endpoint] = (time.process_time() - started) * 1e6 / count
    print(json.dumps(cpu_us), flush=True)


def run_in_process(
    stack: Stack, mode: str, env: dict[str, str], token: str, tree: Path, downstream: str
) -> dict[str, float]:
    """One child process for one mode, running the service's code from `tree` (this script
    itself from here): CPU microseconds per request."""
    flush = "{closed}" not in mode_environment(mode).values()
    child_env = {
        **stack.env,
        **env,
        "PROCESSING_DOWNSTREAM_URL": downstream,
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_ANON": "100000000/min",
    }
    done = subprocess.run(
        [
            str(BIN / "python"),
            __file__,
            "--child",
            token,
            "--flush" if flush else "--no-flush",
        ],
        cwd=tree,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"in-process run of {mode} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize_in_process(results: list[dict], modes: list[str]) -> dict:
    """Per mode and endpoint: the least CPU per request over rounds (the run least disturbed
    by the rest of the machine), the median, and off's least over the mode's least."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        summary[mode] = {}
        for endpoint in ENDPOINTS:
            values = [
                r["cpu_us"] for r in results if r["mode"] == mode and r["endpoint"] == endpoint
            ]
            base = [
                r["cpu_us"] for r in results if r["mode"] == BASELINE and r["endpoint"] == endpoint
            ]
            if values and base:
                summary[mode][endpoint] = {
                    "cpu_us_min": min(values),
                    "cpu_us_median": statistics.median(values),
                    "cpu_ratio": min(base) / min(values),
                }
    return summary


def print_in_process_table(summary: dict) -> None:
    print(f"\n{'mode':<25} {'endpoint':<18} {'CPU us/req min':>14} {'median':>8} {'off/mode':>8}")
    for mode, endpoints in summary.items():
        for endpoint, s in endpoints.items():
            print(
                f"{mode:<25} {endpoint:<18} {s['cpu_us_min']:14.1f} {s['cpu_us_median']:8.1f}"
                f" {s['cpu_ratio']:8.3f}"
            )


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        in_process_child(sys.argv[2], flush=sys.argv[3] == "--flush")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--users", type=int, default=20, help="users created for /api/users")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "overhead.json")
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
    args = parser.parse_args()
    if args.baseline_tree and not (args.baseline_tree / "observability_site").is_dir():
        parser.error(f"--baseline-tree {args.baseline_tree} is not a checkout of the service")
    modes = run_order(args.modes, bool(args.baseline_tree))

    results: list[dict] = []
    with (
        tempfile.TemporaryDirectory(prefix="overhead-bench-") as tmp_name,
        prepared_stack(Path(tmp_name)) as stack,
        rotel(Path(tmp_name)) as collector,
    ):
        tmp = Path(tmp_name)
        endpoints = {"{collector}": collector, "{closed}": f"http://127.0.0.1:{free_port()}"}
        threaded = {
            "GUNICORN_WORKERS": "1",
            # POST /api/process calls this same service downstream: with every connection
            # waiting on a downstream call, the worker still needs a thread to answer it.
            "GUNICORN_THREADS": str(2 * args.connections),
            "GUNICORN_ACCESS_LOG": "false",
            "API_THROTTLE_USER": "100000000/min",
            "API_THROTTLE_ANON": "100000000/min",
        }
        # The users and the token live in the database, so every mode's server shares them.
        base_url = stack.start_web(**threaded, OTEL_SDK_DISABLED="true")
        token = seed(base_url, stack, args.users)
        common = dict(threaded)
        downstream_server = None
        if args.worker_class == "sync":
            # One request at a time: POST /api/process's downstream is this first server
            # (telemetry off), which outlives every mode's server.
            downstream_server = stack.processes[-1]
            common.update(
                GUNICORN_WORKER_CLASS="sync",
                GUNICORN_THREADS="1",
                PROCESSING_DOWNSTREAM_URL=f"{base_url}/api/downstream/enrich",
            )
        if args.in_process:
            # POST /api/process's downstream call goes to this server (telemetry off).
            downstream = f"{base_url}/api/downstream/enrich"
            for round_index in range(args.rounds):
                shift = round_index % len(modes)
                for mode in modes[shift:] + modes[:shift]:
                    env = {k: endpoints.get(v, v) for k, v in mode_environment(mode).items()}
                    tree = args.baseline_tree if mode.endswith(BASELINE_TREE_SUFFIX) else ROOT
                    cpu_us = run_in_process(stack, mode, env, token, tree, downstream)
                    print(f"round {round_index + 1} {mode}: {cpu_us}", flush=True)
                    results.extend(
                        {"round": round_index + 1, "mode": mode, "endpoint": e, "cpu_us": v}
                        for e, v in cpu_us.items()
                    )
            stack.stop()
            summary = summarize_in_process(results, modes)
            print_in_process_table(summary)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(
                json.dumps({"in_process": True, "summary": summary, "runs": results}, indent=2)
            )
            print(f"\nwritten to {args.output}")
            return 0
        stop_all_but(stack, downstream_server)
        scripts = {}
        for endpoint in ENDPOINTS:
            method, path = endpoint.split(" ")
            script = tmp / f"{method.lower()}{path.replace('/', '_')}.lua"
            script.write_text(wrk_script(method, token, PROCESS_BODY if method == "POST" else None))
            scripts[endpoint] = (path, script)

        print(
            f"wrk: {args.connections} connections, {args.seconds}s per endpoint;"
            f" service: 1 gunicorn {args.worker_class} worker x {common['GUNICORN_THREADS']}"
            " threads;"
            f" {args.rounds} rounds x {len(modes)} modes x {len(ENDPOINTS)} endpoints"
        )
        for round_index in range(args.rounds):
            shift = round_index % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                env = {k: endpoints.get(v, v) for k, v in mode_environment(mode).items()}
                if mode.endswith(BASELINE_TREE_SUFFIX):
                    base_url = start_web_from(stack, args.baseline_tree, **common, **env)
                else:
                    base_url = stack.start_web(**common, **env)
                master = stack.processes[-1].popen.pid
                worker = worker_pid(master)
                print(f"round {round_index + 1} {mode}: worker pid {worker}", flush=True)
                for endpoint in ENDPOINTS:
                    path, script = scripts[endpoint]
                    # First requests import and cache things; the measured run starts warm.
                    run_wrk(f"{base_url}{path}", script, args.warmup, args.connections)
                    cpu_before = cpu_seconds(worker)
                    sample = run_wrk(f"{base_url}{path}", script, args.seconds, args.connections)
                    cpu_ms = (cpu_seconds(worker) - cpu_before) * 1000 / max(sample.requests, 1)
                    results.append(
                        {
                            "round": round_index + 1,
                            "mode": mode,
                            "endpoint": endpoint,
                            **asdict(sample),
                            "cpu_ms": cpu_ms,
                        }
                    )
                    print(
                        f"  {endpoint:<18} {sample.rps:8.1f} req/s"
                        f"  p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:6.2f} ms"
                        f"  worker CPU {cpu_ms:6.3f} ms/request",
                        flush=True,
                    )
                stop_all_but(stack, downstream_server)

    summary = summarize(results, modes)
    print_table(summary)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "settings": {
                    k: str(v) if isinstance(v, Path) else v
                    for k, v in vars(args).items()
                    if k != "output"
                },
                "modes": {m: mode_environment(m) for m in modes},
                "summary": summary,
                "runs": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
