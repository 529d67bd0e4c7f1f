"""Telemetry for Celery workers: built in each pool process after fork, flushed when it ends.

The prefork pool forks its children from the main worker process, so the main process
builds nothing (its threads would not survive the fork) and each child builds its own
providers in worker_process_init. Pools that do not fork (solo, threads) run tasks in the
main process, which then builds them in worker_init.
"""

from __future__ import annotations

import signal
from typing import Any

from celery.signals import (
    task_failure,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)

_FORKING_POOLS = {"prefork", "processes"}


def connect_worker_signals() -> None:
    """Connect the worker hooks; called once by the Celery app module."""
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid="telemetry.worker_init")
    worker_process_init.connect(
        _on_worker_process_init, weak=False, dispatch_uid="telemetry.worker_process_init"
    )
    worker_process_shutdown.connect(
        _on_worker_process_shutdown, weak=False, dispatch_uid="telemetry.worker_process_shutdown"
    )
    worker_shutdown.connect(
        _on_worker_shutdown, weak=False, dispatch_uid="telemetry.worker_shutdown"
    )
    task_failure.connect(_on_task_failure, weak=False, dispatch_uid="telemetry.task_failure")


def _pool_name(worker: Any) -> str:
    pool_cls = getattr(worker, "pool_cls", None)
    if isinstance(pool_cls, str):
        return pool_cls.rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()
    module = getattr(pool_cls, "__module__", "") or ""
    return module.rsplit(".", 1)[-1].lower()


def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    if _pool_name(sender) in _FORKING_POOLS:
        return  # the children set up their own in worker_process_init
    from telemetry.pipeline.setup import configure_telemetry

    configure_telemetry("celery worker")


def _on_worker_process_init(**kwargs: Any) -> None:
    from telemetry.pipeline.setup import configure_telemetry

    configure_telemetry("celery worker child")
    # A child dies on SIGTERM (Celery resets it to the default), and a supervisor that
    # signals the whole process group sends it one. Flush first, then die as before.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        from telemetry.pipeline.setup import flush_then_die_on_sigterm

        flush_then_die_on_sigterm()


def _on_worker_process_shutdown(**kwargs: Any) -> None:
    # Pool children leave with os._exit(): atexit hooks never run, so flush here.
    from telemetry.pipeline.setup import shutdown_telemetry

    shutdown_telemetry()


def _on_worker_shutdown(**kwargs: Any) -> None:
    from telemetry.pipeline.setup import shutdown_telemetry

    shutdown_telemetry()


def _on_task_failure(sender: Any = None, exception: BaseException | None = None, **kwargs):
    from telemetry.pipeline.app_errors import count_error

    count_error(exception, source="celery")
