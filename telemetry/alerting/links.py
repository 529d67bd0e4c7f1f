"""Where an alert event leads: its rule, its runbook, and example traces of its route while it
fired (the console's trace pages, or Prometheus exemplars where the stack keeps them)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.urls import reverse

from telemetry.models import SLO, AlertEvent, AlertRule
from telemetry.prometheus import server

logger = logging.getLogger(__name__)

# The console's traces page (telemetry/explorer/), filtered by route and time range. Until
# that page exists the name does not resolve and the link is left out.
REQUEST_HISTOGRAM_BUCKETS = "http_server_request_duration_seconds_bucket"
EXEMPLAR_LIMIT = 5


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def exemplar_traces(route: str, start: datetime, end: datetime) -> list[tuple[str, str | None]]:
    """(trace id, trace viewer URL or None) of a few requests of ROUTE between START and END
    that Prometheus kept as exemplars; [] where it keeps none or cannot be asked."""
    if not settings.PROMETHEUS_URL or not route:
        return []
    selector = f'{REQUEST_HISTOGRAM_BUCKETS}{{http_route="{_label_value(route)}"}}'
    try:
        found = server.query_exemplars(settings.PROMETHEUS_URL, selector, start=start, end=end)
    except server.PrometheusError as exc:
        logger.info("no exemplars for the alert event: %s", exc)
        return []
    trace_ids: list[str] = []
    for series in found:
        for exemplar in series.get("exemplars") or []:
            labels = exemplar.get("labels") or {}
            trace_id = labels.get("trace_id") or labels.get("traceID") or ""
            if trace_id and trace_id not in trace_ids:
                trace_ids.append(trace_id)
    viewer = settings.TRACE_VIEWER_URL
    return [
        (trace_id, viewer.format(trace_id=trace_id) if viewer else None)
        for trace_id in trace_ids[:EXEMPLAR_LIMIT]
    ]


def rules_of_event(event: AlertEvent) -> list[AlertRule | SLO]:
    """The rows that made EVENT: the SLO named by its slo label, else the alert rules with
    its alertname (one per group that has it)."""
    slo_name = (event.labels or {}).get("slo")
    if slo_name:
        slo = SLO.objects.filter(name=slo_name).first()
        if slo is not None:
            return [slo]
    return list(AlertRule.objects.filter(name=event.alertname))


def admin_change_url(row: AlertRule | SLO) -> str:
    """The admin page of a rule or SLO."""
    return reverse(f"admin:telemetry_{row._meta.model_name}_change", args=[row.pk])
