"""The Grafana dashboard of the service, as code: `manage.py export_dashboards` writes it to
deploy/grafana/dashboards/, which Grafana loads by file provisioning.

Queries are built from telemetry/dashboards/catalog.py, the list the alert rules are checked
against too, so a renamed series breaks a test instead of a panel. Datasource uids are those
of deploy/grafana/provisioning/datasources/.
"""

from __future__ import annotations

import json
from typing import Any

from telemetry.dashboards import catalog as m

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
# The alert list panel filters its rule source by data source *name* (Grafana's alertlist
# stores the picked data source's name), not by uid: the provisioned name.
PROMETHEUS_NAME = "Prometheus"
ELASTICSEARCH = {"type": "elasticsearch", "uid": "elasticsearch"}
RATE = "$__rate_interval"  # Grafana's window for rate(): at least four scrape intervals

# Series of Prometheus itself (not of the service) that the alert panels read.
PROMETHEUS_OWN_SERIES = m.stack_sample_names(sources=("Prometheus",))


def _rate(series: m.Series, selector: str = "", suffix: str = "") -> str:
    name = series.name + (f"_{suffix}" if suffix else "")
    return f"rate({name}{selector}[{RATE}])"


def _quantile(q: float, series: m.Series, by: str = "") -> str:
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) ({_rate(series, suffix='bucket')}))"


def _target(expr: str, legend: str, ref: str, *, exemplar: bool = False) -> dict[str, Any]:
    return {
        "datasource": PROMETHEUS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "exemplar": exemplar,
    }


def _timeseries(title: str, unit: str, *targets: dict[str, Any], description: str = ""):
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": list(targets),
    }


def _stat(title: str, unit: str, target: dict[str, Any], description: str = ""):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
        "targets": [target],
    }


def _row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def _request_panels() -> list[dict[str, Any]]:
    duration = m.HTTP_SERVER_DURATION
    errors = f'{{{duration.labels[2]}=~"5.."}}'
    return [
        _row("Requests"),
        _timeseries(
            "Request rate by route",
            "reqps",
            _target(
                f"sum by (http_route) ({_rate(duration, suffix='count')})", "{{http_route}}", "A"
            ),
        ),
        _timeseries(
            "Latency p50 / p90 / p99",
            "s",
            _target(_quantile(0.5, duration), "p50", "A"),
            _target(_quantile(0.9, duration), "p90", "B"),
            _target(_quantile(0.99, duration), "p99", "C", exemplar=True),
            description="Exemplars link slow requests to their traces in Jaeger.",
        ),
        _timeseries(
            "Server error rate (5xx share)",
            "percentunit",
            _target(
                f"(sum({_rate(duration, errors, 'count')}) or vector(0))"
                f" / sum({_rate(duration, suffix='count')})",
                "5xx share",
                "A",
            ),
            description="0 when no request failed; the HighErrorRate alert fires above 5%.",
        ),
        _timeseries(
            "Active requests",
            "short",
            _target(f"sum({m.HTTP_SERVER_ACTIVE.name})", "in progress", "A"),
        ),
        _timeseries(
            "Responses by status",
            "reqps",
            _target(
                f"sum by (http_response_status_code) ({_rate(duration, suffix='count')})",
                "{{http_response_status_code}}",
                "A",
            ),
        ),
        _timeseries(
            "p99 latency by route",
            "s",
            _target(_quantile(0.99, duration, "http_route"), "{{http_route}}", "A"),
        ),
    ]


def _job_panels() -> list[dict[str, Any]]:
    finished = m.JOBS_FINISHED
    return [
        _row("Jobs"),
        _timeseries(
            "Jobs queued and finished per second",
            "ops",
            _target(f"sum({_rate(m.JOBS_QUEUED)})", "queued", "A"),
            _target(f"sum by (outcome) ({_rate(finished)})", "{{outcome}}", "B"),
        ),
        _stat(
            "Failed jobs (time range)",
            "short",
            _target(
                f'sum(increase({finished.name}{{outcome="failed"}}[$__range])) or vector(0)',
                "failed",
                "A",
            ),
            description="Jobs that ended failed after their retries.",
        ),
        _timeseries(
            "Queue wait p50 / p95",
            "s",
            _target(_quantile(0.5, m.JOB_QUEUE_WAIT), "p50", "A"),
            _target(_quantile(0.95, m.JOB_QUEUE_WAIT), "p95", "B"),
            description="From queued to the first attempt's start: grows with a backlog.",
        ),
        _timeseries(
            "Job duration p50 / p95",
            "s",
            _target(_quantile(0.5, m.JOB_DURATION), "p50", "A"),
            _target(_quantile(0.95, m.JOB_DURATION), "p95", "B", exemplar=True),
        ),
        _timeseries(
            "Oldest queued job",
            "s",
            _target(f"max({m.JOBS_OLDEST_QUEUED_AGE.name})", "waiting", "A"),
            description="How long the oldest job still queued has waited; the "
            "OldestQueuedJobTooOld alert fires above 5 minutes.",
        ),
    ]


def _dependency_panels() -> list[dict[str, Any]]:
    return [
        _row("Downstream and database"),
        _timeseries(
            "Downstream call p99 by host",
            "s",
            _target(
                _quantile(0.99, m.HTTP_CLIENT_DURATION, "server_address"), "{{server_address}}", "A"
            ),
        ),
        _timeseries(
            "Database queries per second",
            "ops",
            _target(f"sum by (vendor) ({_rate(m.DB_QUERIES)})", "{{vendor}}", "A"),
        ),
        _timeseries(
            "Database query p99",
            "s",
            _target(_quantile(0.99, m.DB_QUERY_DURATION, "vendor"), "{{vendor}}", "A"),
        ),
    ]


def _log_and_alert_panels() -> list[dict[str, Any]]:
    return [
        _row("Logs, alerts and the telemetry pipeline"),
        {
            "type": "logs",
            "title": "Warnings and errors",
            "datasource": ELASTICSEARCH,
            "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending"},
            "targets": [
                {
                    "datasource": ELASTICSEARCH,
                    "refId": "A",
                    "query": "severity_text:(WARN OR WARNING OR ERROR OR CRITICAL)",
                    "metrics": [{"id": "1", "type": "logs"}],
                    "bucketAggs": [],
                    "timeField": "@timestamp",
                }
            ],
        },
        {
            "type": "alertlist",
            "title": "Firing and pending alerts",
            "options": {
                "viewMode": "list",
                "groupMode": "default",
                "maxItems": 20,
                "sortOrder": 1,
                "stateFilter": {"firing": True, "pending": True, "noData": False, "error": True},
                "datasource": PROMETHEUS_NAME,
            },
        },
        _stat(
            "Alerts firing",
            "short",
            _target('count(ALERTS{alertstate="firing"}) or vector(0)', "firing", "A"),
        ),
        _timeseries(
            "Rules loaded and failing",
            "short",
            _target("sum(prometheus_rule_group_rules)", "rules", "A"),
            _target(
                f"sum(rate(prometheus_rule_evaluation_failures_total[{RATE}]))", "failures/s", "B"
            ),
        ),
        _timeseries(
            "Spans exported and dropped",
            "ops",
            _target(
                f"sum by (error_type) ({_rate(m.SPANS_PROCESSED)})",
                "{{error_type}}",
                "A",
            ),
            description="error_type=queue_full: spans dropped because the exporter fell behind.",
        ),
        _timeseries(
            "Log records exported and dropped",
            "ops",
            _target(
                f"sum by (error_type) ({_rate(m.LOGS_PROCESSED)})",
                "{{error_type}}",
                "A",
            ),
            description="error_type=queue_full: records dropped because the exporter fell behind.",
        ),
    ]


def _lay_out(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids and grid positions: rows span the width, other panels go three to a line."""
    x = y = 0
    for panel_id, panel in enumerate(panels, start=1):
        panel["id"] = panel_id
        if panel["type"] == "row":
            y += 8 if x else 0
            panel["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            x, y = 0, y + 1
            continue
        panel["gridPos"] = {"x": x, "y": y, "w": 8, "h": 8}
        x += 8
        if x == 24:
            x, y = 0, y + 8
    return panels


def service_dashboard() -> dict[str, Any]:
    panels = _request_panels() + _job_panels() + _dependency_panels() + _log_and_alert_panels()
    return {
        "uid": "observability-site",
        "title": "Observability site: service",
        "tags": ["observability-site", "generated"],
        "description": (
            "Generated by `manage.py export_dashboards`; edit telemetry/dashboards/grafana.py."
        ),
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": _lay_out(panels),
    }


DASHBOARDS = {"observability-site.json": service_dashboard}


def render(name: str) -> str:
    """The file text of dashboard NAME (stable: sorted keys, so diffs show real changes)."""
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=True) + "\n"


def prometheus_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every Prometheus target of DASHBOARD."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("datasource", {}).get("type") == "prometheus"
    ]
