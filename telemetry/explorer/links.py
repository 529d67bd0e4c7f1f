"""How the console links a trace to the rest of the admin, and the rest of the admin to a
trace: the job it belongs to, the profiling runs that captured it, the alert events of its
routes while it ran, the external trace viewer.

Telemetry never imports the domain apps (import-linter holds it), so a job is reached by its
admin's URL name and a filter on its trace id, not by its model. The job admin, profiling
pages and alert events link back here by this app's URL names ("console:trace").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from telemetry.explorer.forms import parse_trace_id
from telemetry.models import AlertEvent, ProfilingProcessResult, ProfilingRun


def trace_page_url(trace_id: str) -> str:
    """The console's page of a trace."""
    return reverse("console:trace", args=[trace_id])


def external_trace_url(trace_id: str) -> str:
    """The configured trace viewer's page of a trace (TRACE_VIEWER_URL), or ""."""
    template = getattr(settings, "TRACE_VIEWER_URL", "")
    return template.replace("{trace_id}", trace_id) if template else ""


def jobs_url(trace_id: str) -> str:
    """The job admin's list filtered on this trace id, or "" without the processing app."""
    try:
        changelist = reverse("admin:processing_processingjob_changelist")
    except NoReverseMatch:
        return ""
    return f"{changelist}?{urlencode({'trace_id': trace_id})}"


def traces_url(**filters: str) -> str:
    """The console's Traces page with these filters."""
    query = urlencode({k: v for k, v in filters.items() if v})
    return reverse("console:traces") + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def profiling_links(trace_id: str, run_ids: set[int]) -> list[Link]:
    """The profiling runs that recorded this trace: spans captured during a run carry
    profiling.run_id, and each process's result keeps the trace ids it captured."""
    captured = ProfilingProcessResult.objects.filter(trace_ids__icontains=trace_id).values_list(
        "run_id", flat=True
    )
    ids = set(run_ids) | set(captured)
    runs = ProfilingRun.objects.filter(pk__in=ids).order_by("-pk")
    return [
        Link(
            label=f"profiling run {run.pk}{f' ({run.name})' if run.name else ''}: {run.status}",
            url=reverse("admin:telemetry_profilingrun_change", args=[run.pk]),
        )
        for run in runs
    ]


def continuous_profile_links(trace_id: str, profile_ids: list[str]) -> list[Link]:
    """The continuous profiles that sampled this trace's spans: each window's page of the
    samples of this trace (the profiling admin's page, by its URL name)."""
    try:
        page = reverse("admin:telemetry_continuousprofilewindow_for_span")
    except NoReverseMatch:  # continuous profiling's pages are not installed
        return []
    return [
        Link(
            label=f"continuous profile {profile_id}",
            url=f"{page}?{urlencode({'profile_id': profile_id, 'trace_id': trace_id})}",
        )
        for profile_id in profile_ids
    ]


def alert_links(routes: set[str], start_us: int, end_us: int) -> list[Link]:
    """The alert events of these routes (their http_route label) that were firing at some
    moment of [start, end]."""
    if not routes:
        return []
    start = datetime.datetime.fromtimestamp(start_us / 1e6, tz=datetime.UTC)
    end = datetime.datetime.fromtimestamp(end_us / 1e6, tz=datetime.UTC)
    events = AlertEvent.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gte=start),
        labels__http_route__in=sorted(routes),
        starts_at__lte=end,
    ).order_by("-starts_at")[:20]
    return [
        Link(
            label=f"{event.alertname} on {event.labels.get('http_route')}: {event.status} "
            f"since {event.starts_at:%Y-%m-%d %H:%M:%S}",
            url=reverse("admin:telemetry_alertevent_change", args=[event.pk]),
        )
        for event in events
    ]


def alert_event_traces_url(event: AlertEvent) -> str:
    """For an alert event: its trace's page when its labels or annotations name a trace id,
    else the Traces page of its route (http_route) while it fired; "" when it has neither."""
    for source in (event.labels or {}, event.annotations or {}):
        try:
            return trace_page_url(parse_trace_id(str(source.get("trace_id", ""))))
        except ValueError:
            continue
    route = (event.labels or {}).get("http_route")
    if not route:
        return ""
    since = event.starts_at
    until = event.ends_at if event.ends_at and event.ends_at > since else None
    return traces_url(
        route=str(route),
        since=since.strftime("%Y-%m-%dT%H:%M:%S"),
        until=until.strftime("%Y-%m-%dT%H:%M:%S") if until else "",
    )
