"""`make run` (scripts/run.sh) stops cleanly on Ctrl-C: every server's main process gets
SIGTERM and stops its own workers, nothing is SIGKILLed, no pool child dies by a signal, and
no process is left behind (issue 22, item 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.harness.servers import BIN, free_port
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e


def _default_sigint() -> None:
    # A terminal's shell starts `make run` with SIGINT at its default; a test runner may have
    # it ignored (a background job), and an ignored signal stays ignored across exec.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    members.append(int(entry.name))
            except ProcessLookupError:
                continue
    return members


def _alive(pids: list[int]) -> list[str]:
    """The command lines of the PIDS still running (a zombie has exited: only its exit status
    waits for whoever adopted it)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            alive.append(cmdline)
    return alive


def test_ctrl_c_stops_every_server_gracefully(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DATA_DIR=str(tmp_path), PORT=str(port), BIN=str(BIN), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        run = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a terminal: the script leads its own group
            preexec_fn=_default_sigint,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            output = log_path.read_text(errors="replace")
            ready = "ready." in output and "Serving on" in output
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except httpx.HTTPError:
                healthy = None
            if ready and healthy == 200:
                break
            assert run.poll() is None, output
            time.sleep(0.5)
        else:
            pytest.fail(f"make run did not come up:\n{log_path.read_text()}")
        servers = [pid for pid in _session_members(run.pid) if pid != run.pid]

        started = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: the terminal's foreground group
        returncode = run.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")
    print(f"stopped in {took:.1f} s")  # the figure, for the notes
    assert returncode == 0, output
    assert "SIGKILL" not in output, output
    assert "exited with 'signal" not in output, output  # a pool child killed under its parent
    assert '"level": "ERROR"' not in output and "ERROR/" not in output, output
    assert output.rstrip().endswith("stopped"), output
    # Every server process of the session is gone (gunicorn's workers, the pool children).
    time.sleep(0.5)
    assert _alive(servers) == []
