"""OTEL_METRICS_EXPORTER=prometheus: OpenTelemetry metrics served for scraping, one port per
process from a range, with the names the collector and Prometheus's OTLP receiver give."""

from __future__ import annotations

import socket

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry.sdk.metrics import MeterProvider

from telemetry.pipeline.config import load_config
from telemetry.pipeline.metrics_pull import start_reader
from tests.harness.servers import free_port, free_port_range


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_prometheus_can_be_listed_beside_otlp_or_alone(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp, prometheus")
    both = load_config()
    assert both.metrics.exporter == "otlp" and both.metrics.exported
    assert both.prometheus_pull == ("127.0.0.1", range(9464, 9465))

    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", "9500-9503")
    alone = load_config()
    assert alone.metrics.exporter == "none"
    assert alone.prometheus_pull == ("127.0.0.1", range(9500, 9504))
    assert "metrics also scraped at 127.0.0.1:9500-9503" in alone.describe()


def test_without_prometheus_nothing_is_served(monkeypatch):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    assert load_config().prometheus_pull is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_METRICS_EXPORTER", "prometheus,statsd", "got 'statsd'"),
        ("OTEL_METRICS_EXPORTER", "otlp,console", "more than one push exporter"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "9470-9460", "a port or a range"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "http", "a port or a range"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        load_config()


def test_a_process_takes_the_first_free_port_and_serves_translated_names():
    taken, _ = free_port_range(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        readers = start_reader("127.0.0.1", range(taken, taken + 2))
    assert len(readers) == 1
    provider = MeterProvider(metric_readers=readers)
    try:
        meter = provider.get_meter("processing")
        meter.create_counter("processing.jobs.queued", unit="{job}").add(2)
        meter.create_histogram("http.server.request.duration", unit="s").record(
            0.2, {"http.route": "/api/users"}
        )
        text = httpx.get(f"http://127.0.0.1:{taken + 1}/metrics", timeout=5).text
    finally:
        provider.shutdown()
    assert "processing_jobs_queued_total{" in text
    assert 'http_server_request_duration_seconds_count{http_route="/api/users"' in text
    # Its own registry: nothing of prometheus_client's process-wide default collectors.
    assert "python_gc_objects_collected_total" not in text


def test_no_free_port_means_no_reader_and_an_error_logged(caplog):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert start_reader("127.0.0.1", range(port, port + 1)) == []
    assert "no free port" in caplog.text
