"""The Prometheus series this service produces: the one list that dashboards
(telemetry.dashboards.grafana) and alert rules (seeded in telemetry/migrations) are checked
against.

Names are as Prometheus holds them. The OpenTelemetry instruments arrive over OTLP through the
collector (or are scraped with OTEL_METRICS_EXPORTER=prometheus); both apply the same
OpenTelemetry-to-Prometheus rules: dots become underscores, the unit becomes a suffix
(`s` -> `_seconds`, `{job}` -> nothing), counters get `_total`. The django-prometheus series
are scraped from the web processes' /metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    name: str  # the base name; histograms add _bucket, _count and _sum
    kind: str  # "counter", "gauge" or "histogram"
    labels: tuple[str, ...]
    source: str  # the instrument (OpenTelemetry) or exporter (django-prometheus) behind it
    help: str

    def sample_names(self) -> tuple[str, ...]:
        if self.kind == "histogram":
            return tuple(f"{self.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        return (self.name,)


# --- Requests (OpenTelemetry Django instrumentation, stable HTTP semantic conventions).
HTTP_SERVER_DURATION = Series(
    "http_server_request_duration_seconds",
    "histogram",
    ("http_route", "http_request_method", "http_response_status_code"),
    "http.server.request.duration",
    "Server requests by route template, method and status.",
)
HTTP_SERVER_ACTIVE = Series(
    "http_server_active_requests",
    "gauge",
    ("http_request_method",),
    "http.server.active_requests",
    "Requests in progress.",
)
HTTP_CLIENT_DURATION = Series(
    "http_client_request_duration_seconds",
    "histogram",
    ("server_address", "http_request_method", "http_response_status_code"),
    "http.client.request.duration (httpx)",
    "Downstream calls.",
)
APP_ERRORS = Series(
    "app_errors_total",
    "counter",
    ("error_type",),
    "app.errors",
    "Unhandled exceptions in views and tasks.",
)

# --- Jobs (processing/metrics.py).
JOBS_QUEUED = Series(
    "processing_jobs_queued_total",
    "counter",
    (),
    "processing.jobs.queued",
    "Jobs accepted and handed to the broker.",
)
JOBS_FINISHED = Series(
    "processing_jobs_finished_total",
    "counter",
    ("outcome",),
    "processing.jobs.finished",
    "Jobs that reached a final state, by outcome (succeeded, failed).",
)
JOB_DURATION = Series(
    "processing_job_duration_seconds",
    "histogram",
    (),
    "processing.job.duration",
    "From the first attempt's start to the final state.",
)
JOB_QUEUE_WAIT = Series(
    "processing_job_queue_wait_seconds",
    "histogram",
    (),
    "processing.job.queue_wait",
    "From queued to the first attempt's start.",
)

# --- The telemetry pipeline's own health (OpenTelemetry SDK self-metrics).
SPANS_PROCESSED = Series(
    "otel_sdk_processor_span_processed_total",
    "counter",
    ("error_type",),
    "otel.sdk.processor.span.processed",
    "Spans handed to the exporter; error_type=queue_full counts the dropped ones.",
)

# --- Database (django-prometheus engines, scraped from /metrics).
DB_QUERIES = Series(
    "django_db_execute_total",
    "counter",
    ("alias", "vendor"),
    "django-prometheus",
    "Queries executed.",
)
DB_QUERY_DURATION = Series(
    "django_db_query_duration_seconds",
    "histogram",
    ("alias", "vendor"),
    "django-prometheus",
    "Query time.",
)
DB_ERRORS = Series(
    "django_db_errors_total",
    "counter",
    ("alias", "vendor", "type"),
    "django-prometheus",
    "Queries that raised, by exception type.",
)

ALL = (
    HTTP_SERVER_DURATION,
    HTTP_SERVER_ACTIVE,
    HTTP_CLIENT_DURATION,
    APP_ERRORS,
    JOBS_QUEUED,
    JOBS_FINISHED,
    JOB_DURATION,
    JOB_QUEUE_WAIT,
    SPANS_PROCESSED,
    DB_QUERIES,
    DB_QUERY_DURATION,
    DB_ERRORS,
)


def sample_names() -> frozenset[str]:
    """Every series name the service produces, histogram suffixes included."""
    return frozenset(name for series in ALL for name in series.sample_names())


# PromQL words that look like metric names but are not.
_PROMQL_WORDS = frozenset(
    "sum avg min max count count_values topk bottomk quantile stddev stdvar group by without "
    "on ignoring group_left group_right and or unless offset bool rate irate increase delta "
    "histogram_quantile vector scalar abs clamp_min clamp_max absent absent_over_time time "
    "label_replace sort sort_desc inf nan".split()
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, grouping labels, ranges,
    function names and Grafana variables left out)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    return {
        name
        for name in _NAME.findall(text)
        if name.lower() not in _PROMQL_WORDS and not name.startswith("$")
    }
