"""The load on a service under measurement: `wrk` in its own process, its output parsed, or a
Python load generator in a child process where wrk is not installed.

Errors fail the run rather than being reported: an error response is cheap and would make a
mode look fast.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Sample:
    """One load run: requests per second, latency percentiles in milliseconds (NaN when the
    load generator does not measure them), and what went wrong: `errors` counts socket
    errors and non-2xx/3xx responses together, `non_2xx` the responses alone."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    non_2xx: int = 0


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
    responses = int(non_2xx.group(1)) if non_2xx else 0
    errors = responses + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    return Sample(
        rps=float(rate.group(1)),
        p50_ms=percentiles.get("50", float("nan")),
        p99_ms=percentiles.get("99", float("nan")),
        requests=int(count.group(1)),
        errors=errors,
        non_2xx=responses,
    )


def wrk_script(method: str, token: str | None = None, body: dict | None = None) -> str:
    """A wrk Lua script: the method, the API token (if any) and (for POST) a JSON body."""
    lines = [f'wrk.method = "{method}"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Token {token}"')
    if body is not None:
        lines += [
            f"wrk.body = '{json.dumps(body)}'",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    return "\n".join(lines) + "\n"


def wrk_command(url: str, script: Path, seconds: float, connections: int) -> list[str]:
    """One wrk thread (the service gets the other core), `connections` connections."""
    duration = f"{max(1, round(seconds))}s"
    return [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        duration,
        "--latency",
        "-s",
        str(script),
        url,
    ]


def checked_sample(
    url: str, returncode: int, stdout: str, stderr: str, *, socket_errors_ok: bool = False
) -> Sample:
    """The sample of a finished wrk run; RuntimeError if wrk failed or the service answered
    errors (socket errors too, unless `socket_errors_ok`)."""
    if returncode != 0:
        raise RuntimeError(f"wrk failed:\n{stdout}{stderr}")
    sample = parse_wrk(stdout)
    if sample.non_2xx or (sample.errors and not socket_errors_ok):
        raise RuntimeError(f"errors under load at {url}:\n{stdout}")
    return sample


def run_wrk(
    url: str, script: Path, seconds: float, connections: int, *, socket_errors_ok: bool = False
) -> Sample:
    """Load `url` with wrk for `seconds`; the parsed, checked sample."""
    done = subprocess.run(
        wrk_command(url, script, seconds, connections),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    return checked_sample(
        url, done.returncode, done.stdout, done.stderr, socket_errors_ok=socket_errors_ok
    )


def _python_load(url: str, seconds: float, connections: int, body: dict | None, result) -> None:
    import httpx

    count = 0
    failures: list[Exception] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal count
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                try:
                    if body is None:
                        response = client.get(url)
                    else:
                        response = client.post(url, json=body)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    failures.append(exc)
                    return
                with lock:
                    count += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, the first: {failures[0]}")
    result.value = count / (time.monotonic() - started)


def run_python_load(url: str, seconds: float, connections: int, body: dict | None) -> Sample:
    """Where wrk is missing: `connections` threads in a child process (not this one, whose
    GIL the measurement would share), GET, or POST of `body` as JSON. Requests per second
    only (no latencies); a non-2xx response fails the child and so the run."""
    result = multiprocessing.Value("d", 0.0)
    process = multiprocessing.Process(
        target=_python_load, args=(url, seconds, connections, body, result)
    )
    process.start()
    process.join(seconds + 60)
    if process.exitcode != 0:
        raise RuntimeError(f"the Python load generator failed at {url} (exit {process.exitcode})")
    nan = float("nan")
    return Sample(result.value, nan, nan, round(result.value * seconds), errors=0)
