"""The service's Celery app with the stock OpenTelemetry set-up in each pool process instead
of telemetry.pipeline's (bench/overhead.py's stock modes):

    celery -A bench.stock_otel.celery_app worker

The app, its settings and its tasks are the service's own (observability_site.celery). Its
worker hooks, which would build telemetry.pipeline in every pool process, are disconnected,
and the hook the Celery instrumentation's docs show ("Usage": worker_process_init) takes
their place, with a flush when the pool process ends (its atexit hooks never run).
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

from observability_site.celery import app

# The dispatch_uids telemetry.pipeline.celery_hooks connects its hooks with.
worker_init.disconnect(dispatch_uid="telemetry.worker_init")
worker_process_init.disconnect(dispatch_uid="telemetry.worker_process_init")
worker_process_shutdown.disconnect(dispatch_uid="telemetry.worker_process_shutdown")

__all__ = ["app"]


@worker_process_init.connect(weak=False)
def init_celery_tracing(*args: Any, **kwargs: Any) -> None:
    from bench.stock_otel.sdk import configure_stock_opentelemetry

    configure_stock_opentelemetry("celery worker child")


@worker_process_shutdown.connect(weak=False)
def flush_celery_tracing(*args: Any, **kwargs: Any) -> None:
    from bench.stock_otel.sdk import shutdown_stock_opentelemetry

    shutdown_stock_opentelemetry()
