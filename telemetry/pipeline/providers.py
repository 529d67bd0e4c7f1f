"""The providers of one process: its resource, TracerProvider, MeterProvider and
LoggerProvider with their processors, readers and exporters, set as the global ones.

With the fast paths on (telemetry.pipeline.fast_paths), the MeterProvider also reports the
histograms tallied in memory and the batch processors count in memory; off, they are the
SDK's own, and telemetry.fastpath is never imported.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Sampler

from common.env import envint
from telemetry.explorer import store as local_store
from telemetry.pipeline import metrics_pull
from telemetry.pipeline.config import TelemetryConfig
from telemetry.pipeline.exporters import log_exporter, metric_exporter, span_exporter
from telemetry.pipeline.fast_paths import fast_paths_enabled
from telemetry.sampling.export_switches import (
    SwitchableLogExporter,
    SwitchableMetricExporter,
    SwitchableSpanExporter,
)
from telemetry.sampling.sampler import build_sampler

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
    id_generator = None  # the SDK's RandomIdGenerator
    if fast_paths_enabled():  # the server-span middleware names the trace ids it decided on
        from telemetry.fastpath.trace_ids import DecidedTraceIds

        id_generator = DecidedTraceIds()
    return TracerProvider(
        resource=resource,
        sampler=sampler,
        span_limits=span_limits(),
        shutdown_on_exit=False,
        meter_provider=_NO_PER_ITEM_SELF_METRICS,
        id_generator=id_generator,
    )


def new_logger_provider(resource: Resource) -> LoggerProvider:
    """This process's LoggerProvider, without the SDK's per-record self-metrics."""
    return LoggerProvider(
        resource=resource, shutdown_on_exit=False, meter_provider=_NO_PER_ITEM_SELF_METRICS
    )


def _all_counters(name: str) -> bool:
    return True


def _self_metrics_meter_provider() -> metrics.MeterProvider | None:
    """Where a batch processor counts what it exports and drops: tallied in memory with the
    fast paths on, else the global MeterProvider (the SDK's default)."""
    if not fast_paths_enabled():
        return None
    from telemetry.fastpath.tallied_metrics import TalliedMeterProvider

    return TalliedMeterProvider(_all_counters)


def new_batch_span_processor(
    exporter: SpanExporter, max_export_batch_size: int | None = None
) -> BatchSpanProcessor:
    """A BatchSpanProcessor whose counts of exported and dropped spans cost no metric
    measurement per span (they reach the global MeterProvider at collection).

    With the collector away, the queues stay full and every span or log record ending is a
    drop, which the SDK would count with one synchronous measurement each (about 6 us, as
    much as the span's own work in the processor)."""
    return BatchSpanProcessor(
        exporter,
        meter_provider=_self_metrics_meter_provider(),
        max_export_batch_size=max_export_batch_size,
    )


# Spans per OTLP export when OTEL_BSP_MAX_EXPORT_BATCH_SIZE is unset (the SDK's default is
# 512). The export thread encodes a batch holding the GIL; 512 spans are milliseconds that a
# request in flight waits out (its p99). 64 let it go between smaller exports: measured side
# by side, GET /'s p99 at 100% 1.9x off's instead of 2.6x, for 2% more instructions
# (docs/overhead.md, round four).
OTLP_EXPORT_BATCH_SIZE = 64


def otlp_export_batch_size() -> int | None:
    """The batch size for the OTLP span export: the operator's (None: the SDK reads it), or
    OTLP_EXPORT_BATCH_SIZE within the queue's size (the SDK refuses a larger batch)."""
    if os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "").strip():
        return None
    queue = envint("OTEL_BSP_MAX_QUEUE_SIZE", 2048, minimum=1)
    return min(OTLP_EXPORT_BATCH_SIZE, queue)


def new_batch_log_record_processor(exporter: LogRecordExporter) -> BatchLogRecordProcessor:
    """The same for log records (otel.sdk.processor.log.processed)."""
    return BatchLogRecordProcessor(exporter, meter_provider=_self_metrics_meter_provider())


# The histograms recorded on every job or outgoing call, by code that asks the global
# MeterProvider for them (the processing app's, the httpx instrumentation's): tallied in
# memory with the fast paths on, as the per-request ones are (a synchronous SDK measurement
# costs about 13 us). Views do not apply to a tallied histogram; none are configured.
PER_JOB_HISTOGRAMS = frozenset(
    {"processing.job.duration", "processing.job.queue_wait", "http.client.request.duration"}
)


def new_meter_provider(resource: Resource, readers: Sequence[MetricReader]) -> MeterProvider:
    """This process's MeterProvider: with the fast paths on, one that also hands every
    reader the histograms tallied in memory (telemetry.fastpath), and tallies
    PER_JOB_HISTOGRAMS; else the SDK's."""
    if fast_paths_enabled():
        from telemetry.fastpath.tallied_histogram import TallyReportingMeterProvider

        return TallyReportingMeterProvider(
            resource=resource,
            metric_readers=readers,
            shutdown_on_exit=False,
            tallied_histograms=PER_JOB_HISTOGRAMS,
        )
    return MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)


@dataclass
class Providers:
    """The providers one process built (None: that signal is off)."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None
    # The exporters' switchable wrappers, so a forked child can stop using the parent's.
    exporters: list[SwitchableSpanExporter | SwitchableMetricExporter | SwitchableLogExporter] = (
        field(default_factory=list)
    )


def build_providers(
    config: TelemetryConfig,
    extra_span_processors: Sequence[SpanProcessor],
    extra_metric_readers: Sequence[MetricReader],
    extra_log_processors: Sequence[LogRecordProcessor],
) -> Providers:
    """Build this process's providers and set them as the global ones."""
    built = Providers()
    resource = build_resource(config)
    # The local telemetry store (telemetry.explorer), behind batch processors of its own.
    store = local_store.store_exporters(config, in_memory=bool(extra_span_processors))
    if store is not None and store.spans is not None:
        extra_span_processors = [*extra_span_processors, new_batch_span_processor(store.spans)]
    if store is not None and store.logs is not None:
        extra_log_processors = [*extra_log_processors, new_batch_log_record_processor(store.logs)]
    if config.traces.exporter != "none" or extra_span_processors:
        # Built even with no endpoint: spans still give logs and job rows their trace ids.
        # Sampling and each signal's export follow the policy edited in the admin
        # (telemetry.sampling); with no policy row, OTEL_TRACES_SAMPLER decides as before.
        tracer_provider = new_tracer_provider(resource, build_sampler())
        if config.traces.exported:
            switchable_spans = SwitchableSpanExporter(span_exporter(config.traces))
            built.exporters.append(switchable_spans)
            tracer_provider.add_span_processor(
                new_batch_span_processor(switchable_spans, otlp_export_batch_size())
            )
        for processor in extra_span_processors:
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
        built.tracer_provider = tracer_provider
    if config.metrics.exporter != "none" or extra_metric_readers or config.prometheus_pull:
        readers = list(extra_metric_readers)
        if config.prometheus_pull:
            readers.extend(metrics_pull.start_reader(*config.prometheus_pull))
        if config.metrics.exported:
            switchable_metrics = SwitchableMetricExporter(metric_exporter(config.metrics))
            built.exporters.append(switchable_metrics)
            readers.append(
                PeriodicExportingMetricReader(
                    switchable_metrics, export_interval_millis=config.metric_export_interval_ms
                )
            )
        meter_provider = new_meter_provider(resource, readers)
        metrics.set_meter_provider(meter_provider)
        built.meter_provider = meter_provider
    if config.logs.exported or extra_log_processors:
        logger_provider = new_logger_provider(resource)
        if config.logs.exported:
            switchable_logs = SwitchableLogExporter(log_exporter(config.logs))
            built.exporters.append(switchable_logs)
            logger_provider.add_log_record_processor(
                new_batch_log_record_processor(switchable_logs)
            )
        for log_processor in extra_log_processors:
            logger_provider.add_log_record_processor(log_processor)
        set_logger_provider(logger_provider)
        built.logger_provider = logger_provider
    return built


def build_resource(config: TelemetryConfig) -> Resource:
    """The resource every signal of this process carries.

    service.instance.id is new in every process (each gunicorn worker and Celery child is
    an instance), so metrics from many workers are never mixed up. OTEL_RESOURCE_ATTRIBUTES
    and OTEL_SERVICE_NAME override what settings say.
    """
    defaults: dict[str, str | int] = {
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


class _DroppingSpanExporter(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


class _DroppingMetricExporter(MetricExporter):
    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        return None


class _DroppingLogExporter(LogRecordExporter):
    def export(self, batch):
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


# The exporters a forked child is given instead of its parent's (whose gRPC channels and
# HTTP sessions it must not use): they drop what they get. The wrapped originals are kept
# here, never closed: closing a parent's gRPC channel in a child can hang.
_orphaned_exporters: list = []


def drop_exports(
    switchable: SwitchableSpanExporter | SwitchableMetricExporter | SwitchableLogExporter,
) -> None:
    """Make `switchable` drop everything from now on, in this process."""
    _orphaned_exporters.append(switchable.exporter)
    if isinstance(switchable, SwitchableSpanExporter):
        switchable.exporter = _DroppingSpanExporter()
    elif isinstance(switchable, SwitchableMetricExporter):
        switchable.exporter = _DroppingMetricExporter()
    else:
        switchable.exporter = _DroppingLogExporter()
