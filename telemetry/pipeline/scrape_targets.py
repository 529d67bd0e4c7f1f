"""With OTEL_METRICS_EXPORTER=prometheus, every process announces the port it took as a
Prometheus file_sd target, so that Prometheus scrapes the processes that exist.

A port range in a static scrape config (`OTEL_EXPORTER_PROMETHEUS_PORT=9464-9471`) lists the
ports a process may take, not the ones taken: in a healthy local stack Prometheus showed the
service's job 4/8 up. With TELEMETRY_PROMETHEUS_TARGETS_DIR set, each process writes
`<dir>/<host>-<pid>.json` (Prometheus's file_sd format, written to a temporary file and
renamed, so Prometheus never reads half of one) once its port is bound, and removes it at
exit. A process that died without removing its file (SIGKILL) leaves a target that is down,
as it should be, until the next process on the host sweeps files of pids that are gone.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
from pathlib import Path

logger = logging.getLogger(__name__)

TARGETS_DIR_VARIABLE = "TELEMETRY_PROMETHEUS_TARGETS_DIR"


def targets_dir() -> Path | None:
    """The directory TELEMETRY_PROMETHEUS_TARGETS_DIR names, or None when unset."""
    raw = os.environ.get(TARGETS_DIR_VARIABLE, "").strip()
    return Path(raw) if raw else None


def announce(host: str, port: int, *, role: str = "") -> Path | None:
    """Write this process's target file (when a directory is configured) and remove it at
    exit; returns its path. Never raises: scraping is not worth failing a process for."""
    directory = targets_dir()
    if directory is None:
        return None
    hostname = socket.gethostname()
    path = directory / f"{hostname}-{os.getpid()}.json"
    labels = {"host_name": hostname, "process_pid": str(os.getpid())}
    if role:
        labels["process_role"] = role
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _sweep(directory, hostname)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps([{"targets": [f"{host}:{port}"], "labels": labels}]))
        os.replace(temporary, path)
    except OSError as exc:
        logger.error("%s: cannot write %s (%s): Prometheus will not find this process",
                     TARGETS_DIR_VARIABLE, path, exc)  # fmt: skip
        return None
    atexit.register(_withdraw, path, os.getpid())
    return path


def _withdraw(path: Path, pid: int) -> None:
    if os.getpid() != pid:  # a forked child inherits atexit hooks: the file is its parent's
        return
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _sweep(directory: Path, hostname: str) -> None:
    """Remove the files of this host's processes that are gone."""
    for stale in directory.glob(f"{hostname}-*.json"):
        pid = stale.stem.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
