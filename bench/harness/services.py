"""The processes a benchmark runs: the service through the project's own tests.harness.servers
(a prepared database, gunicorn, Celery: not copied here), a collector that receives OTLP and
drops it, and child processes that report one result line among their logs."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.harness.collector import ROTEL_AGENT, _accepts
from tests.harness.servers import ServiceProcess, Stack, free_port

RESULT_PREFIX = "BENCH-RESULT "


@contextlib.contextmanager
def blackhole_collector(log_dir: Path) -> Iterator[str]:
    """rotel-agent on 127.0.0.1 receiving OTLP/gRPC and dropping it (blackhole exporter);
    yields its endpoint URL.

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


def closed_endpoint() -> str:
    """An OTLP endpoint on 127.0.0.1 that nothing listens on: a collector that is down."""
    return f"http://127.0.0.1:{free_port()}"


def stop_all_but(stack: Stack, kept: ServiceProcess | None) -> None:
    """Stop the stack's servers, except `kept` (still stopped with the stack at the end)."""
    for process in stack.processes:
        if process is not kept:
            process.stop()
    stack.processes[:] = [kept] if kept else []


def print_result(result: object) -> None:
    """In a child process: its result, one JSON line that parse_child_result finds among
    whatever else the child printed (logs)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def parse_child_result(stdout: str) -> dict:
    """The JSON result line a child printed (its logs may surround it)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise ValueError(f"no result line in the child's output:\n{stdout[-2000:]}")


def run_child(
    command: Sequence[str], *, env: dict[str, str], cwd: Path, what: str, timeout: float = 3600
) -> tuple[dict, subprocess.CompletedProcess]:
    """Run a child to its end: (its result line, the finished process); RuntimeError with its
    output if it failed."""
    done = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
    return parse_child_result(done.stdout), done
