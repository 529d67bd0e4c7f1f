"""One idempotent telemetry set-up per process, and its flush at exit: the providers
(telemetry.pipeline.providers), then the instrumentations and the log bridge
(telemetry.pipeline.instrumentation).

Providers own background threads (batch processors, the periodic metric reader), and threads
do not survive fork(). So they are built once per process, after any fork, by the hook of
the server that forks: gunicorn's post_fork, Celery's worker_process_init, manage.py for
runserver (in the autoreloader's child only) and the other commands, and, under any other
server, the import of wsgi.py or asgi.py in each worker process
(telemetry.pipeline.entrypoints). Never in a parent that forks afterwards: the OpenTelemetry
API lets a process set its global providers only once, and a gRPC channel does not survive
fork(). A child forked from a process that did set it up says so once and exports nothing
(see _after_fork_in_child).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from telemetry.explorer import store as local_store
from telemetry.pipeline.config import TelemetryConfig, load_config
from telemetry.pipeline.fast_paths import announce_stock_components, fast_paths_enabled
from telemetry.pipeline.otlp_tls import check_handshakes, report_tls_failures_once
from telemetry.pipeline.providers import build_providers, drop_exports

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
    # The pid that built it, in a child forked from there (set by _after_fork_in_child).
    inherited_from: int | None = None
    exporters: list = field(default_factory=list)  # the Switchable* wrappers built


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
            # Built in a parent before fork (and not through os.fork, which the fork hook
            # sees): say so rather than hide it.
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
        # gRPC's C core logs every failed handshake and reconnection on stderr at INFO (a
        # wrong CA: a line per attempt, forever); telemetry.pipeline.otlp_tls reports it
        # once. Its errors still print. Read when the core starts, before any exporter.
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
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
            state.exporters = built.exporters
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
            # A refused TLS handshake with the collector: one line, not one per batch.
            report_tls_failures_once()
            check_handshakes((config.traces, config.metrics, config.logs))
            _watch_for_fork()
            # Instrumentations read the global providers, so they come after them.
            from telemetry.pipeline.instrumentation import instrument_libraries

            instrument_libraries(config, bridge_logs=state.logger_provider is not None)
        _current = state
    announce_destination()
    return True


def configured_here() -> bool:
    """True when this process (this pid) has run configure_telemetry()."""
    return _current is not None and _current.pid == os.getpid()


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
    if state.inherited_from is not None:
        logger.warning(_INHERITED, state.inherited_from, state.pid)
        return
    described = state.config.describe()
    if local_store.active_writer() is not None:
        described += (
            "; spans and log records also go to the local store (the console shows them:"
            " /admin/telemetry/console/)"
        )
    logger.info(
        "%s (%s, pid %s)",
        described,
        state.role,
        state.pid,
        extra={"telemetry_role": state.role},
    )
    errors, warnings = state.config.tls_lines()
    for line in errors:
        logger.error(line)
    for line in warnings:
        logger.warning(line)
    announce_stock_components()


_INHERITED = (
    "telemetry was set up in pid %s, which then forked this process (pid %s): a server that "
    "loads the app before forking its workers (gunicorn --preload, uWSGI without "
    "lazy-apps). Its exporters cannot be used here, so this process exports nothing: load "
    "the app in each worker (gunicorn's post_fork in observability_site/gunicorn.conf.py "
    "does; uWSGI: lazy-apps = true)"
)
_fork_watched = False


def _watch_for_fork() -> None:
    global _fork_watched
    if not _fork_watched and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_watched = True


def _after_fork_in_child() -> None:
    """In a child forked (os.fork) from a process whose telemetry was set up: the SDK
    re-creates its threads here, but the exporters' gRPC channels and HTTP sessions belong
    to the parent, and the resource names the parent (process.pid, service.instance.id).
    So the child drops what it would export (its exporters are swapped for ones that drop),
    owns the state (no second set-up, no flush of the parent's queues) and says so once."""
    state = _current
    if state is None or state.pid == os.getpid():
        return
    state.inherited_from = state.inherited_from or state.pid
    state.pid = os.getpid()
    state.announced = False
    state.shut_down = True  # nothing of its own to flush
    for switchable in state.exporters:
        drop_exports(switchable)
    # Logging's own locks are re-made in the child before this hook runs.
    announce_destination()


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


def flush_then_die_on_sigterm() -> None:
    """On SIGTERM, flush this process's telemetry, then die of the signal as before.

    For processes whose SIGTERM is left at its default (Celery's pool children, a server
    that installs no handler): the default ends the process at once, without atexit hooks.
    Call it from the main thread."""
    signal.signal(signal.SIGTERM, _flush_then_die)


def _flush_then_die(signum: int, frame) -> None:
    shutdown_telemetry()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


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
    if command == "migrate":
        local_store.leave_schema_to_migrate()
    configure_telemetry(f"manage.py {command}")
