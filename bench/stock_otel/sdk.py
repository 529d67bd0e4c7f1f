"""The OpenTelemetry SDK and instrumentations set up as their documentation shows (see the
package docstring for the pages), once per process, after any fork."""

from __future__ import annotations

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SERVICE_NAME = "observability-site-stock-otel"


def configure_stock_opentelemetry(role: str) -> tuple[TracerProvider, MeterProvider]:
    """Build and set the global providers, then instrument the libraries: the docs' example,
    with the endpoint, sampler and intervals left to the OTEL_* variables."""
    resource = Resource.create({"service.name": SERVICE_NAME, "process.role": role})
    tracer_provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
    instrument_libraries()
    return tracer_provider, meter_provider


def instrument_libraries() -> None:
    """Each instrumentor with its documented default call. The same libraries as
    telemetry.pipeline.instrumentation, so that both set-ups record the same operations."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument()
    SQLite3Instrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()


def shutdown_stock_opentelemetry() -> None:
    """Flush and stop the global providers (a worker that exits)."""
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        shutdown = getattr(provider, "shutdown", None)
        if shutdown is not None:
            shutdown()
