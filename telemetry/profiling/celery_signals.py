"""Celery signal handlers that capture the tasks a live profiling run asks for.

task_prerun starts the capture and task_postrun ends it, in the worker process (or thread)
that runs the task. Connected once, from TelemetryConfig.ready(), so the main worker
process connects them before its pool forks.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_init

from telemetry.profiling import agent, runs
from telemetry.profiling.continuous import lifecycle
from telemetry.profiling.yappi_capture import Capture

logger = logging.getLogger(__name__)

_captures = threading.local()


def connect_signals() -> None:
    """Connect the task and worker hooks (idempotent)."""
    task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="telemetry.profiling.prerun")
    task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="telemetry.profiling.postrun")
    worker_process_init.connect(
        _on_worker_process_init, weak=False, dispatch_uid="telemetry.profiling.process_init"
    )


def _on_worker_process_init(**_: Any) -> None:
    # Each pool process joins runs from its start, with its own poller thread, and samples
    # continuously when that is on.
    agent.set_process_role("worker")
    agent.start()
    lifecycle.enable_in_this_process("worker")


def _on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not runs.live_runs():
        return
    try:
        capture = agent.begin_for_task(getattr(task, "name", "") or "")
        if capture is not None:
            pending: dict[str, Capture] = _pending()
            pending[task_id or ""] = capture
    except Exception:
        logger.exception("profiling: could not start a task capture")


def _on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    pending = getattr(_captures, "pending", None)
    if not pending:
        return
    capture = pending.pop(task_id or "", None)
    if capture is not None:
        agent.finish(capture)


def _pending() -> dict[str, Capture]:
    pending = getattr(_captures, "pending", None)
    if pending is None:
        pending = _captures.pending = {}
    return pending
