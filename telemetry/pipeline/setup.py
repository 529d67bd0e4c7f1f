"""One idempotent telemetry set-up per process, and its flush at exit: the providers
(telemetry.pipeline.providers), then the instrumentations and the log bridge
(telemetry.pipeline.instrumentation).

Providers own background threads (batch processors, the periodic metric reader), and threads
do not survive fork(). So they are built once per process, after any fork, by the hook of
the server that forks: gunicorn's post_fork, Celery's worker_process_init, manage.py for
runserver (in the autoreloader's child only) and the other commands. Never in a parent that
forks afterwards: the OpenTelemetry API lets a process set its global providers only once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from telemetry.pipeline.config import TelemetryConfig, load_config
from telemetry.pipeline.fast_paths import announce_stock_components, fast_paths_enabled
from telemetry.pipeline.providers import build_providers

logger = logging.getLogger(__name__)

# Flushing at exit must not hold a stopping process for long when the collector is gone.
SHUTDOWN_TIMEOUT_MILLIS = 3000


@dataclass
class _ProcessTelemetry:
    """What this process built, so that it is built once and flushed at exit."""

    pid: int
    role: str
    config: TelemetryConfig
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None
    announced: bool = False
    shut_down: bool = False


_lock = threading.Lock()
_current: _ProcessTelemetry | None = None


def configure_telemetry(
    role: str,
    *,
    extra_span_processors: Sequence[SpanProcessor] = (),
    extra_metric_readers: Sequence[MetricReader] = (),
    extra_log_processors: Sequence[LogRecordProcessor] = (),
) -> bool:
    """Build this process's providers and instrument the libraries; True if it did so now.

    Idempotent: a second call in the same process does nothing. `role` ("web", "worker",
    "manage.py migrate" ...) only goes into the start-up line. The extra processors and
    readers are for in-process tests that read spans from memory.
    """
    global _current
    with _lock:
        if _current is not None and _current.pid == os.getpid():
            return False
        if _current is not None:
            # Built in a parent before fork: the SDK re-creates its threads in the child, but
            # the wiring is wrong (see the module docstring). Say so rather than hide it.
            logger.warning(
                "telemetry was configured in pid %s before this process (pid %s) forked",
                _current.pid,
                os.getpid(),
            )
            return False
        config = load_config()
        # The SDK's own metrics count what its batch processors drop when their bounded
        # queues are full (otel.sdk.processor.span.processed{error.type="queue_full"});
        # the drop itself is logged at most once per 20 s. Off in the SDK by default. Only
        # the processors' and exporters' metrics are kept (one measurement per batch): the
        # per-span and per-log-record ones are not (see new_tracer_provider).
        os.environ.setdefault("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
        state = _ProcessTelemetry(pid=os.getpid(), role=role, config=config)
        if not config.sdk_disabled:
            # Decided before anything is built: the fast paths, or the stock components
            # when the installed OpenTelemetry is not the tested one (telemetry.upstream).
            fast_paths_enabled()
            built = build_providers(
                config, extra_span_processors, extra_metric_readers, extra_log_processors
            )
            state.tracer_provider = built.tracer_provider
            state.meter_provider = built.meter_provider
            state.logger_provider = built.logger_provider
            # Our own exit hook flushes all three in order, with a bounded wait.
            atexit.register(shutdown_telemetry)
            # What callers may pass on through this process: the trace, not their baggage
            # or tracestate (telemetry.pipeline.inbound_context). Before the
            # instrumentations, which extract with the global propagator.
            from django.conf import settings

            from telemetry.pipeline.inbound_context import filter_inbound_context

            filter_inbound_context(
                baggage_keys=getattr(settings, "TELEMETRY_INBOUND_BAGGAGE_KEYS", ()),
                tracestate_keys=getattr(settings, "TELEMETRY_INBOUND_TRACESTATE_KEYS", ()),
            )
            # Instrumentations read the global providers, so they come after them.
            from telemetry.pipeline.instrumentation import instrument_libraries

            instrument_libraries(config, bridge_logs=state.logger_provider is not None)
        _current = state
    announce_destination()
    return True


def announce_destination() -> None:
    """Log, once per process, where its telemetry goes.

    gunicorn's post_fork and manage.py run before Django configures logging; the line then
    waits for TelemetryConfig.ready() to call this again, so it reaches the configured
    handlers.
    """
    from django.apps import apps

    state = _current
    if state is None or state.announced or state.pid != os.getpid():
        return
    if not apps.apps_ready:  # logging is configured just before the apps are loaded
        return
    state.announced = True
    logger.info(
        "%s (%s, pid %s)",
        state.config.describe(),
        state.role,
        state.pid,
        extra={"telemetry_role": state.role},
    )
    announce_stock_components()


def shutdown_telemetry(timeout_millis: int = SHUTDOWN_TIMEOUT_MILLIS) -> None:
    """Flush and stop this process's providers, waiting at most `timeout_millis` in all.

    Safe to call more than once. The three providers flush in parallel, each in its own
    daemon thread, so a collector that is down costs one timeout, not three, and never
    keeps the process from exiting.
    """
    state = _current
    if state is None or state.pid != os.getpid() or state.shut_down:
        return
    state.shut_down = True
    providers = [
        p for p in (state.tracer_provider, state.meter_provider, state.logger_provider) if p
    ]

    def flush_and_stop(provider) -> None:
        try:
            provider.force_flush(timeout_millis)
            provider.shutdown()
        except Exception:  # an exit hook must never raise
            logger.warning("telemetry flush failed", exc_info=True)

    threads = [
        threading.Thread(target=flush_and_stop, args=(p,), name="telemetry-flush", daemon=True)
        for p in providers
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_millis / 1000
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def configure_for_command(argv: list[str]) -> None:
    """Set up telemetry for a manage.py command, and flush it when the command exits.

    runserver's autoreloader runs the server in a child it restarts on every change; the
    parent only watches files, so it gets no telemetry (the child has RUN_MAIN=true).
    """
    command = argv[1] if len(argv) > 1 else "help"
    if command in {"help", "--help", "-h", "version", "--version"}:
        return
    if command == "runserver" and "--noreload" not in argv:
        from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

        if os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            return
    configure_telemetry(f"manage.py {command}")
