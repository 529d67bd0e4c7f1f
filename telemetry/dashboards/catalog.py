"""The Prometheus series this service produces: the one list that dashboards
(telemetry.dashboards.grafana) and alert rules (seeded in telemetry/migrations) are checked
against; and, apart (STACK), the series of the parts around it (Prometheus, the collector,
Alertmanager) that the meta-monitoring rules and the alert panels read.

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
JOBS_OLDEST_QUEUED_AGE = Series(
    "processing_jobs_oldest_queued_age_seconds",
    "gauge",
    (),
    "processing.jobs.oldest_queued.age",
    "How long the oldest job still queued has waited; every process reports it (use max).",
)

# --- Every process's resource (the SDK's Prometheus reader and Prometheus's OTLP receiver).
TARGET_INFO = Series(
    "target_info",
    "gauge",
    ("service_name", "service_instance_id"),
    "OpenTelemetry resource",
    "One series per process reporting OpenTelemetry metrics (its resource attributes).",
)

# --- The telemetry pipeline's own health (OpenTelemetry SDK self-metrics).
SPANS_PROCESSED = Series(
    "otel_sdk_processor_span_processed_total",
    "counter",
    ("error_type",),
    "otel.sdk.processor.span.processed",
    "Spans handed to the exporter; error_type=queue_full counts the dropped ones.",
)
LOGS_PROCESSED = Series(
    "otel_sdk_processor_log_processed_total",
    "counter",
    ("error_type",),
    "otel.sdk.processor.log.processed",
    "Log records handed to the exporter; error_type=queue_full counts the dropped ones.",
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
    TARGET_INFO,
    JOBS_OLDEST_QUEUED_AGE,
    HTTP_SERVER_DURATION,
    HTTP_SERVER_ACTIVE,
    HTTP_CLIENT_DURATION,
    APP_ERRORS,
    JOBS_QUEUED,
    JOBS_FINISHED,
    JOB_DURATION,
    JOB_QUEUE_WAIT,
    SPANS_PROCESSED,
    LOGS_PROCESSED,
    DB_QUERIES,
    DB_QUERY_DURATION,
    DB_ERRORS,
)


def sample_names() -> frozenset[str]:
    """Every series name the service produces, histogram suffixes included."""
    return frozenset(name for series in ALL for name in series.sample_names())


# --- The stack around the service, as Prometheus holds it: Prometheus's own series and those
# of the scrape jobs prometheus, otel-collector (collector >= 0.120 names its counters with
# _total; the names are the collector's documented internal metrics) and alertmanager.
def _stack(name: str, kind: str, labels: tuple[str, ...], source: str, help: str) -> Series:
    return Series(name, kind, labels, source, help)


UP = _stack("up", "gauge", ("job", "instance"), "Prometheus", "1 when the last scrape worked.")
ALERTS = _stack(
    "ALERTS", "gauge", ("alertname", "alertstate"), "Prometheus", "Pending and firing alerts."
)
PROMETHEUS_OWN = tuple(
    _stack(name, kind, labels, "Prometheus", help)
    for name, kind, labels, help in (
        ("prometheus_rule_group_rules", "gauge", ("rule_group",), "Rules loaded per group."),
        (
            "prometheus_rule_evaluation_failures_total",
            "counter",
            ("rule_group",),
            "Rule evaluations that failed.",
        ),
        (
            "prometheus_notifications_errors_total",
            "counter",
            ("alertmanager",),
            "Alerts Prometheus failed to hand to an Alertmanager.",
        ),
        (
            "prometheus_config_last_reload_successful",
            "gauge",
            (),
            "0 after a reload whose configuration or rule files did not load.",
        ),
    )
)
COLLECTOR = tuple(
    _stack(name, kind, labels, "OpenTelemetry Collector", help)
    for name, kind, labels, help in (
        *(
            (
                f"otelcol_receiver_refused_{items}_total",
                "counter",
                ("receiver", "transport"),
                f"{items} a receiver could not push into its pipeline.",
            )
            for items in ("spans", "metric_points", "log_records")
        ),
        *(
            (
                f"otelcol_exporter_send_failed_{items}_total",
                "counter",
                ("exporter",),
                f"{items} an exporter failed to send.",
            )
            for items in ("spans", "metric_points", "log_records")
        ),
        ("otelcol_exporter_queue_size", "gauge", ("exporter",), "Batches in a sending queue."),
        ("otelcol_exporter_queue_capacity", "gauge", ("exporter",), "A sending queue's size."),
    )
)
ALERTMANAGER = (
    _stack(
        "alertmanager_notifications_failed_total",
        "counter",
        ("integration",),
        "Alertmanager",
        "Notifications that failed, by integration (webhook, slack, pagerduty...).",
    ),
)
STACK = (UP, ALERTS, *PROMETHEUS_OWN, *COLLECTOR, *ALERTMANAGER)


def stack_sample_names(*, sources: tuple[str, ...] | None = None) -> frozenset[str]:
    """Series names of the stack around the service (of SOURCES only, when given)."""
    return frozenset(
        name
        for series in STACK
        if sources is None or series.source in sources
        for name in series.sample_names()
    )


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
