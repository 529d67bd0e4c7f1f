"""Telemetry configuration: the OTEL_* variables first, then settings; bad values fail at
start-up naming the variable; with no endpoint the service says where telemetry goes."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from opentelemetry import trace

from telemetry.conventions.routes import route_template
from telemetry.pipeline.config import load_config
from telemetry.pipeline.log_format import JsonFormatter

OTEL_VARIABLES = [
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_SERVICE_NAME",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_it_exports_nothing_and_says_how_when_no_endpoint_is_set():
    config = load_config()
    assert not any(s.exported for s in (config.traces, config.metrics, config.logs))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in config.describe()
    assert "kept in process" in config.describe()


def test_it_exports_over_grpc_by_default_and_http_by_choice(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    config = load_config()
    assert config.traces.exported and config.traces.protocol == "grpc"
    assert "traces: OTLP grpc http://127.0.0.1:4317" in config.describe()

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    config = load_config()
    assert config.metrics.protocol == "http/protobuf"
    assert config.traces.protocol == "grpc"  # the per-signal variable wins


def test_the_otel_exporter_variables_win_over_settings(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    with override_settings(TELEMETRY_METRICS_ENABLED=False, TELEMETRY_LOGS_ENABLED=False):
        monkeypatch.setenv("OTEL_LOGS_EXPORTER", "otlp")
        config = load_config()
    assert config.metrics.exporter == "none"  # the setting, as no variable says otherwise
    assert config.logs.exporter == "otlp"  # the variable
    assert "metrics: off" in config.describe()


def test_the_sdk_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert load_config().describe() == "telemetry is off (OTEL_SDK_DISABLED=true)"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "json"),
        ("OTEL_TRACES_EXPORTER", "jaeger"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
        ("OTEL_SDK_DISABLED", "perhaps"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4317"),
    ],
)
def test_it_rejects_bad_values_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=variable):
        load_config()


def test_it_rejects_a_bad_log_level():
    with (
        override_settings(TELEMETRY_LOG_LEVEL="LOUD"),
        pytest.raises(ImproperlyConfigured, match="TELEMETRY_LOG_LEVEL"),
    ):
        load_config()


@pytest.mark.parametrize(
    ("route", "template"),
    [
        ("", "/"),
        ("api/users", "/api/users"),
        ("api/users/<int:user_id>", "/api/users/{user_id}"),
        ("api/jobs/<uuid:job_id>", "/api/jobs/{job_id}"),
        ("admin/<app_label>/", "/admin/{app_label}/"),
        ("^legacy/(?P<pk>[0-9]+)/$", "/legacy/{pk}/"),
    ],
)
def test_routes_become_opentelemetry_route_templates(route, template):
    assert route_template(route) == template


@pytest.fixture
def stdout_lines():
    """What the service's own stdout handler (settings.LOGGING, LOG_FORMAT=json) writes,
    read from a buffer put in place of its stream."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        handler.setStream(previous)


def test_log_lines_are_json_with_the_trace_ids(otel, stdout_lines):
    # The production path: a logger call inside a span of the process's tracer, formatted by
    # the configured handler, with the logging instrumentation as the pipeline sets it up.
    with trace.get_tracer("tests").start_as_current_span("work") as span:
        logging.getLogger("processing.services").warning("hello %s", "you", extra={"job_id": "j1"})
    context = span.get_span_context()

    (entry,) = [e for e in stdout_lines() if e["message"] == "hello you"]
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "processing.services"
    assert entry["trace_id"] == trace.format_trace_id(context.trace_id)
    assert entry["span_id"] == trace.format_span_id(context.span_id)
    assert entry["job_id"] == "j1"
    assert not [key for key in entry if key.startswith("otel")]  # no repeated ids


def test_log_lines_outside_a_span_have_no_trace_ids():
    assert not trace.get_current_span().get_span_context().is_valid
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "plain", (), None)
    entry = json.loads(JsonFormatter().format(record))
    assert "trace_id" not in entry and entry["message"] == "plain"
