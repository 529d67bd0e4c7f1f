"""The exporter of each signal, as its SignalConfig names it: console, or OTLP over gRPC or
HTTP. The OTLP exporters read their endpoint, headers, timeout, certificates and compression
from the standard OTEL_EXPORTER_OTLP_* variables (and their per-signal forms) themselves; the
HTTP ones get a session that keeps the configured CA (telemetry.pipeline.otlp_tls)."""

from __future__ import annotations

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from telemetry.pipeline.config import SignalConfig
from telemetry.pipeline.fast_paths import fast_paths_enabled
from telemetry.pipeline.otlp_tls import http_session


def span_exporter(signal: SignalConfig):
    if signal.exporter == "console":
        return ConsoleSpanExporter()
    if not fast_paths_enabled():  # the SDK's own, with the official encoder
        if signal.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpOTLPSpanExporter,
        )

        return HttpOTLPSpanExporter(session=http_session(signal.name))
    # The OTLP exporters with a faster encoder of the same messages (telemetry.fastpath).
    from telemetry.fastpath.span_exporters import GrpcSpanExporter, HttpSpanExporter

    if signal.protocol == "grpc":
        return GrpcSpanExporter()
    return HttpSpanExporter(session=http_session(signal.name))


def metric_exporter(signal: SignalConfig):
    if signal.exporter == "console":
        return ConsoleMetricExporter()
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(session=http_session(signal.name))


def log_exporter(signal: SignalConfig):
    if signal.exporter == "console":
        return ConsoleLogRecordExporter()
    if not fast_paths_enabled():  # the SDK's own, with the official encoder
        if signal.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

            return OTLPLogExporter()
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (
            OTLPLogExporter as HttpLogExporter,
        )

        return HttpLogExporter(session=http_session(signal.name))
    # The same exporters with a faster encoder of the same messages (telemetry.fastpath).
    from telemetry.fastpath.log_exporters import GrpcLogExporter, HttpLogExporter

    if signal.protocol == "grpc":
        return GrpcLogExporter()
    return HttpLogExporter(session=http_session(signal.name))
