"""bench/overhead.py --in-process: telemetry's CPU cost per request without gunicorn, wrk or
threads. Each mode (and round) is a fresh Python process that sets telemetry up as gunicorn's
post_fork does (the service's pipeline, or the stock set-up), loads the WSGI app and calls it
in one thread with the benchmark's requests, and reports CPU time per request
(process_time: every thread, the export threads included)."""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench.harness import instructions, report, services
from bench.harness.rounds import rotated
from bench.overhead_modes import (
    BASELINE,
    PROCESS_BODY,
    UNTHROTTLED,
    filled,
    is_stock,
    mode_environment,
    tree_of,
)
from tests.harness.servers import BIN, Stack

SCRIPT = Path(__file__).with_name("overhead.py")
REQUESTS = {"GET /": 3000, "GET /api/users": 300, "POST /api/process": 300}


def wsgi_environ(endpoint: str, token: str) -> dict:
    """The WSGI environ gunicorn would give the app for one of the benchmark's requests."""
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


def child(
    token: str, endpoints: list[str], *, flush: bool, stock: bool, requests: int | None = None
) -> None:
    """Run in a fresh process whose environment is the mode's: set telemetry up, load the
    app, and print the CPU microseconds per request of each endpoint as one result line.
    `requests` replaces each endpoint's count (--instructions runs two counts)."""
    # The service's code comes from the working directory (this tree or --baseline-tree).
    assert "telemetry" not in sys.modules
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    if stock:
        from bench.stock_otel.sdk import configure_stock_opentelemetry

        configure_stock_opentelemetry("bench in process")
    else:
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
    for endpoint in endpoints:
        count = REQUESTS[endpoint] if requests is None else requests
        serve(endpoint, REQUESTS[endpoint] // 5)  # warm up
        if flush_spans:
            flush_spans()
        started = time.process_time()
        serve(endpoint, count)
        if flush_spans:  # the encoding and export of these requests' spans counts too
            flush_spans()
        cpu_us[endpoint] = (time.process_time() - started) * 1e6 / max(count, 1)
    services.print_result(cpu_us)


def child_command(mode: str, token: str, endpoints: list[str]) -> list[str]:
    command = [str(BIN / "python"), str(SCRIPT), "--child", token, "--endpoints", *endpoints]
    if "{closed}" in mode_environment(mode).values():
        command.append("--no-flush")
    if is_stock(mode):
        command.append("--stock-child")
    return command


def child_environment(stack: Stack, mode: str, args, endpoints: dict[str, str]) -> dict:
    env = {**stack.env, **filled(mode, endpoints), **UNTHROTTLED}
    # POST /api/process's downstream is a server with telemetry off.
    env["PROCESSING_DOWNSTREAM_URL"] = args.downstream
    return env


def run_mode(stack: Stack, mode: str, token: str, args, endpoints: dict[str, str]) -> dict:
    """One child process for one mode, running the service's code from the mode's tree (this
    script itself from here): CPU microseconds per request (with --instructions, cachegrind's
    instructions per request instead, in the same places)."""
    if args.instructions:
        return {
            endpoint: instructions_per_request(stack, mode, token, args, endpoints, endpoint)
            for endpoint in args.endpoints
        }
    result, _ = services.run_child(
        child_command(mode, token, args.endpoints),
        env=child_environment(stack, mode, args, endpoints),
        cwd=tree_of(mode, args.baseline_tree),
        what=f"in-process run of {mode}",
        timeout=600,
    )
    return result


# --instructions: the counts of requests whose difference is measured.
INSTRUCTION_COUNTS = (100, 600)


def instructions_per_request(
    stack: Stack, mode: str, token: str, args, endpoints: dict[str, str], endpoint: str
) -> float:
    """Instructions (cachegrind: every thread, the export threads included) per request of
    one endpoint: two runs of the child, INSTRUCTION_COUNTS requests each after the same
    warm-up (instructions.per_unit). Instruction counts do not depend on what else the
    machine runs, where CPU time does."""
    return instructions.per_unit(
        INSTRUCTION_COUNTS,
        lambda count: [*child_command(mode, token, [endpoint]), "--requests", str(count)],
        env=child_environment(stack, mode, args, endpoints),
        cwd=tree_of(mode, args.baseline_tree),
        what=f"{mode}, {endpoint}",
    )


def summarize_in_process(results: list[dict], modes: list[str], key: str = "cpu_us") -> dict:
    """Per mode and endpoint: the least cost per request over rounds (the run least disturbed
    by the rest of the machine), the median, and off's least over the mode's least. `key`:
    "cpu_us", or "instructions" with --instructions."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        summary[mode] = {}
        for endpoint in REQUESTS:
            values = [r[key] for r in results if r["mode"] == mode and r["endpoint"] == endpoint]
            base = [r[key] for r in results if r["mode"] == BASELINE and r["endpoint"] == endpoint]
            if values and base:
                summary[mode][endpoint] = {
                    f"{key}_min": min(values),
                    f"{key}_median": statistics.median(values),
                    "cpu_ratio": min(base) / min(values),
                }
    return summary


def columns(key: str) -> tuple[report.Column, ...]:
    header = "CPU us/req min" if key == "cpu_us" else "instructions/req min"
    spec = ".1f" if key == "cpu_us" else ",.0f"
    return (
        report.figure(header, f"{key}_min", spec),
        report.figure("median", f"{key}_median", spec),
        report.figure("off/mode", "cpu_ratio", ".3f"),
    )


def measure(args, stack: Stack, modes: list[str], token: str, endpoints: dict) -> dict:
    """The rounds and their table; the figures for the JSON results."""
    key = "instructions" if args.instructions else "cpu_us"
    results = []
    for round_index in range(args.rounds):
        for mode in rotated(modes, round_index):
            figures = run_mode(stack, mode, token, args, endpoints)
            print(f"round {round_index + 1} {mode}: {figures}", flush=True)
            results.extend(
                {"round": round_index + 1, "mode": mode, "endpoint": e, key: v}
                for e, v in figures.items()
            )
    stack.stop()
    summary = summarize_in_process(results, modes, key)
    report.print_summary(summary, columns(key), group="endpoint")
    return {"in_process": True, "summary": summary, "runs": results}
