"""One idempotent telemetry set-up per process: resource, providers, exporters,
instrumentations, log bridge, and the flush at exit.

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
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from telemetry import metrics_pull
from telemetry.config import SignalConfig, TelemetryConfig, load_config
from telemetry.sampling import build_sampler
from telemetry.sampling_export import (
    SwitchableLogExporter,
    SwitchableMetricExporter,
    SwitchableSpanExporter,
)
from telemetry.tallied_histogram import TallyReportingMeterProvider
from telemetry.tallied_metrics import TalliedMeterProvider

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
    extra_span_processors: Sequence[object] = (),
    extra_metric_readers: Sequence[object] = (),
    extra_log_processors: Sequence[object] = (),
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
            _build_providers(
                state, extra_span_processors, extra_metric_readers, extra_log_processors
            )
            # Instrumentations read the global providers, so they come after them.
            from telemetry.instrumentation import instrument_libraries

            instrument_libraries(config, bridge_logs=state.logger_provider is not None)
            # Forced sampling must see the request before the instrumentation's middleware
            # starts the server span, so it goes in front of it (telemetry.sampling_force).
            from telemetry.sampling_force import install_middleware

            install_middleware()
        _current = state
    announce_destination()
    return True


# Attribute values carry what callers send (user agents, URLs, headers): bound their length
# unless the operator chose a limit with the OpenTelemetry variables.
DEFAULT_ATTRIBUTE_VALUE_LENGTH = 2048


def span_limits() -> SpanLimits:
    """The SDK's span limits, with a bounded attribute length when no variable sets one."""
    chosen = {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"}
    if chosen & os.environ.keys():
        return SpanLimits()
    return SpanLimits(max_attribute_length=DEFAULT_ATTRIBUTE_VALUE_LENGTH)


# Where the TracerProvider and LoggerProvider record their per-item self-metrics
# (otel.sdk.span.started, otel.sdk.span.live, otel.sdk.log.created): nowhere. Recorded, they
# cost three metric measurements per span, more than the span's own HTTP metrics, and they
# say nothing that http.server.request.duration and the processors' counts do not.
_NO_PER_ITEM_SELF_METRICS = NoOpMeterProvider()


def new_tracer_provider(resource: Resource, sampler: Sampler) -> TracerProvider:
    """This process's TracerProvider, without the SDK's per-span self-metrics.

    The batch span processors added to it still count what they export and what they drop
    (otel.sdk.processor.span.processed) in the global MeterProvider.
    """
    return TracerProvider(
        resource=resource,
        sampler=sampler,
        span_limits=span_limits(),
        shutdown_on_exit=False,
        meter_provider=_NO_PER_ITEM_SELF_METRICS,
    )


def new_logger_provider(resource: Resource) -> LoggerProvider:
    """This process's LoggerProvider, without the SDK's per-record self-metrics."""
    return LoggerProvider(
        resource=resource, shutdown_on_exit=False, meter_provider=_NO_PER_ITEM_SELF_METRICS
    )


def _all_counters(name: str) -> bool:
    return True


def new_batch_span_processor(exporter: SpanExporter) -> BatchSpanProcessor:
    """A BatchSpanProcessor whose counts of exported and dropped spans cost no metric
    measurement per span (they reach the global MeterProvider at collection).

    With the collector away, the queues stay full and every span or log record ending is a
    drop, which the SDK would count with one synchronous measurement each (about 6 us, as
    much as the span's own work in the processor)."""
    return BatchSpanProcessor(exporter, meter_provider=TalliedMeterProvider(_all_counters))


def new_batch_log_record_processor(exporter: LogRecordExporter) -> BatchLogRecordProcessor:
    """The same for log records (otel.sdk.processor.log.processed)."""
    return BatchLogRecordProcessor(exporter, meter_provider=TalliedMeterProvider(_all_counters))


def _build_providers(
    state: _ProcessTelemetry,
    extra_span_processors: Sequence[object],
    extra_metric_readers: Sequence[object],
    extra_log_processors: Sequence[object],
) -> None:
    config = state.config
    resource = build_resource(config)
    if config.traces.exporter != "none" or extra_span_processors:
        # Built even with no endpoint: spans still give logs and job rows their trace ids.
        # Sampling and each signal's export follow the policy edited in the admin
        # (telemetry.sampling*); with no policy row, OTEL_TRACES_SAMPLER decides as before.
        tracer_provider = new_tracer_provider(resource, build_sampler())
        if config.traces.exported:
            tracer_provider.add_span_processor(
                new_batch_span_processor(SwitchableSpanExporter(_span_exporter(config.traces)))
            )
        for processor in extra_span_processors:
            tracer_provider.add_span_processor(processor)  # type: ignore[arg-type]
        trace.set_tracer_provider(tracer_provider)
        state.tracer_provider = tracer_provider
    if config.metrics.exporter != "none" or extra_metric_readers or config.prometheus_pull:
        readers = list(extra_metric_readers)
        if config.prometheus_pull:
            readers.extend(metrics_pull.start_reader(*config.prometheus_pull))
        if config.metrics.exported:
            readers.append(
                PeriodicExportingMetricReader(
                    SwitchableMetricExporter(_metric_exporter(config.metrics)),
                    export_interval_millis=config.metric_export_interval_ms,
                )
            )
        # Also hands every reader the histograms tallied in memory (telemetry.tallied_histogram).
        meter_provider = TallyReportingMeterProvider(
            resource=resource,
            metric_readers=readers,  # type: ignore[arg-type]
            shutdown_on_exit=False,
        )
        metrics.set_meter_provider(meter_provider)
        state.meter_provider = meter_provider
    if config.logs.exported or extra_log_processors:
        logger_provider = new_logger_provider(resource)
        if config.logs.exported:
            logger_provider.add_log_record_processor(
                new_batch_log_record_processor(SwitchableLogExporter(_log_exporter(config.logs)))
            )
        for processor in extra_log_processors:
            logger_provider.add_log_record_processor(processor)  # type: ignore[arg-type]
        set_logger_provider(logger_provider)
        state.logger_provider = logger_provider
    # Our own exit hook flushes all three in order, with a bounded wait.
    atexit.register(shutdown_telemetry)


def build_resource(config: TelemetryConfig) -> Resource:
    """The resource every signal of this process carries.

    service.instance.id is new in every process (each gunicorn worker and Celery child is
    an instance), so metrics from many workers are never mixed up. OTEL_RESOURCE_ATTRIBUTES
    and OTEL_SERVICE_NAME override what settings say.
    """
    defaults = {
        "service.name": config.service_name,
        "service.version": config.service_version,
        "service.instance.id": str(uuid.uuid4()),
        "deployment.environment": config.deployment_environment,
        "deployment.environment.name": config.deployment_environment,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
        "process.parent_pid": os.getppid(),
    }
    return Resource.create(defaults).merge(OTELResourceDetector().detect())


def _span_exporter(signal: SignalConfig):
    # The OTLP exporters read their endpoint, headers, timeout and compression from the
    # standard OTEL_EXPORTER_OTLP_* variables themselves.
    if signal.exporter == "console":
        return ConsoleSpanExporter()
    # The OTLP exporters with a faster encoder of the same messages (telemetry.span_encoding).
    from telemetry.span_encoding import GrpcSpanExporter, HttpSpanExporter

    if signal.protocol == "grpc":
        return GrpcSpanExporter()
    return HttpSpanExporter()


def _metric_exporter(signal: SignalConfig):
    if signal.exporter == "console":
        return ConsoleMetricExporter()
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter()


def _log_exporter(signal: SignalConfig):
    if signal.exporter == "console":
        return ConsoleLogRecordExporter()
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter()


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


def is_configured() -> bool:
    """True when this process has run configure_telemetry()."""
    return _current is not None and _current.pid == os.getpid()


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
