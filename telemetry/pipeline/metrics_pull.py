"""OTEL_METRICS_EXPORTER=prometheus: this process's OpenTelemetry metrics on a scrape endpoint
of its own, for a Prometheus that cannot take OTLP (Debian's packages strip the receiver).

The SDK's PrometheusMetricReader names series by the same OpenTelemetry-to-Prometheus rules
as the collector and Prometheus's OTLP receiver (http.server.request.duration in seconds ->
http_server_request_duration_seconds_bucket), so dashboards and alert rules read the same
names either way. Every process needs a port of its own: OTEL_EXPORTER_PROMETHEUS_PORT may
be a range ("9464-9467", one port per gunicorn worker or Celery pool child), and each process
takes the first free one; Prometheus finds the ports taken from the target files each
process writes (telemetry.pipeline.scrape_targets), or scrapes the whole range.
"""

from __future__ import annotations

import logging

from opentelemetry.sdk.metrics.export import MetricReader
from prometheus_client import CollectorRegistry, start_http_server

from telemetry.pipeline import scrape_targets

logger = logging.getLogger(__name__)


def start_reader(host: str, ports: range) -> list[MetricReader]:
    """A PrometheusMetricReader served on the first free port of PORTS at HOST; no reader
    (and one error logged) when every port is taken, so the process still starts."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    # A registry of its own: prometheus_client's global one also holds, in gunicorn,
    # django-prometheus's per-process series (multiprocess mode), which /metrics serves.
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    for port in ports:
        try:
            start_http_server(port, addr=host, registry=registry)
        except OSError:
            continue
        logger.info(
            "OpenTelemetry metrics served for Prometheus at http://%s:%d/metrics", host, port
        )
        scrape_targets.announce(host, port)
        return [reader]
    logger.error(
        "OTEL_EXPORTER_PROMETHEUS_PORT: no free port in %d-%d on %s; this process's metrics "
        "are not served for scraping",
        ports.start,
        ports.stop - 1,
        host,
    )
    return []
