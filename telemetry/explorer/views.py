"""The console's pages (staff only, in the admin's look): Traces, one trace, Logs and the
Service overview, read from the local store.

Bad input is a message on the page (400 for a malformed trace id in the URL), a store that
cannot be read is a message too: these pages never answer 500 for what the store holds or
what a user typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from telemetry.explorer import display, links, selectors, store
from telemetry.explorer.forms import LogSearchForm, OverviewForm, TraceSearchForm, parse_trace_id
from telemetry.explorer.overview import PERCENTILES, service_overview
from telemetry.explorer.router import store_alias
from telemetry.explorer.writer import describe_store

logger = logging.getLogger(__name__)

TEMPLATES = "telemetry/explorer/"


def console_view(permission: str) -> Callable:
    """Staff only (the admin's login otherwise), with the view permission of the page's
    admin entry (Telemetry > Traces, Logs, Service overview); GET and HEAD only."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(f"telemetry.{permission}"):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return staff_member_required(require_safe(guarded))

    return decorate


def _store_notice() -> str:
    """What the page should say about the store of this process, or ""."""
    writer = store.active_writer()
    if writer is None:
        mode = store.store_mode()
        if mode == "off":
            return (
                "The local store is switched off (TELEMETRY_LOCAL_STORE=off): these pages show "
                "only what it held before."
            )
        return (
            "This process does not write the local store: an OTLP endpoint is configured "
            "(TELEMETRY_LOCAL_STORE=auto). Set TELEMETRY_LOCAL_STORE=on to keep a copy here too."
        )
    if writer.health.failing:
        return (
            f"The local store cannot be written right now ({writer.health.last_error}): what "
            "this process records meanwhile is dropped; requests are not affected."
        )
    return ""


def _context(request: HttpRequest, *, title: str, section: str, **extra: Any) -> dict[str, Any]:
    context = admin.site.each_context(request)
    context.update(
        title=title,
        section=section,
        store_notice=_store_notice(),
        store_location=describe_store(),
        traces_url=reverse("console:traces"),
        logs_url=reverse("console:logs"),
        overview_url=reverse("console:overview"),
        **extra,
    )
    return context


def _unreadable(request: HttpRequest, exc: DatabaseError, *, title: str, section: str):
    hint = ""
    if "no such table" in str(exc) or "does not exist" in str(exc):
        hint = f"Create its tables with: manage.py migrate --database {store_alias()}"
    logger.warning("local telemetry store cannot be read: %r", exc)
    context = _context(
        request, title=title, section=section, store_error=f"{exc.__class__.__name__}: {exc}",
        store_hint=hint,
    )  # fmt: skip
    return TemplateResponse(request, TEMPLATES + "unreadable.html", context, status=503)


def _page_links(request: HttpRequest, page: selectors.Page) -> dict[str, str]:
    query = request.GET.copy()
    result = {}
    if page.has_previous:
        query["page"] = str(page.number - 1)
        result["previous_url"] = "?" + query.urlencode()
    if page.has_next:
        query["page"] = str(page.number + 1)
        result["next_url"] = "?" + query.urlencode()
    return result


@console_view("view_tracesearch")
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("console:traces"))


@console_view("view_tracesearch")
def traces(request: HttpRequest) -> HttpResponse:
    """Search traces: by service, process role, span or route name, status, minimum
    duration, time range and trace id; newest first, a page at a time."""
    title, section = "Traces", "traces"
    try:
        with selectors.store_reads():
            services, roles = selectors.known_services_and_roles()
            form = TraceSearchForm(request.GET, services=services, roles=roles)
            page = None
            if form.is_valid():
                data = form.cleaned_data
                filters = selectors.TraceFilters(
                    service=data["service"],
                    role=data["role"],
                    name=data["name"].strip(),
                    route=data["route"].strip(),
                    status=data["status"],
                    min_duration_us=data["min_duration"],
                    time_range=form.time_range(),
                    trace_id=data["trace_id"],
                )
                page = selectors.trace_search(filters, page=data["page"] or 1)
                if filters.trace_id and len(page.items) == 1 and len(request.GET) == 1:
                    return HttpResponseRedirect(links.trace_page_url(filters.trace_id))
            status = selectors.store_status()
    except DatabaseError as exc:
        return _unreadable(request, exc, title=title, section=section)
    rows = [
        {
            "summary": summary,
            "url": links.trace_page_url(summary.trace_id),
            "started": display.format_time_us(summary.start_us),
            "duration": display.format_duration_us(summary.duration_us),
        }
        for summary in (page.items if page else [])
    ]
    context = _context(
        request, title=title, section=section, form=form, page=page, rows=rows,
        status=status, oldest=display.format_time_us(status.oldest_us),
        **(_page_links(request, page) if page else {}),
    )  # fmt: skip
    return TemplateResponse(request, TEMPLATES + "traces.html", context, status=_status(form))


def _status(form) -> int:
    return 200 if form.is_valid() else 400


@console_view("view_tracesearch")
def trace(request: HttpRequest, trace_id: str) -> HttpResponse:
    """One trace: the waterfall of its spans across processes, its log records in time
    order, the resources of its processes, and the links to its job, profiling runs, alert
    events and the external viewer."""
    section = "traces"
    try:
        trace_id = parse_trace_id(trace_id)
    except ValueError as exc:
        context = _context(request, title="Trace", section=section, error=str(exc))
        return TemplateResponse(request, TEMPLATES + "trace.html", context, status=400)
    title = f"Trace {trace_id}"
    try:
        with selectors.store_reads():
            detail = selectors.trace_detail(trace_id)
        related = _related_links(trace_id, detail)
    except DatabaseError as exc:
        return _unreadable(request, exc, title=title, section=section)
    context = _context(
        request, title=title, section=section, trace_id=trace_id, detail=detail,
        external_url=links.external_trace_url(trace_id), jobs_url=links.jobs_url(trace_id),
        **related,
    )  # fmt: skip
    if detail is not None:
        context.update(_trace_view_model(detail))
    return TemplateResponse(
        request, TEMPLATES + "trace.html", context, status=200 if detail else 404
    )


def _related_links(trace_id: str, detail: selectors.TraceDetail | None) -> dict[str, Any]:
    if detail is None:
        return {"profiling_links": links.profiling_links(trace_id, set()), "alert_links": []}
    return {
        "profiling_links": [
            *links.profiling_links(trace_id, detail.profiling_run_ids()),
            *links.continuous_profile_links(trace_id, detail.continuous_profile_ids()),
        ],
        "alert_links": links.alert_links(
            detail.server_routes(), detail.start_us, detail.start_us + detail.duration_us
        ),
    }


_ROLE_CLASSES = ("web", "worker", "beat")


def _trace_view_model(detail: selectors.TraceDetail) -> dict[str, Any]:
    rows = []
    for row in detail.rows:
        span = row.span
        process = detail.processes.get(span.instance_id)
        rows.append(
            {
                "row": row,
                "span": span,
                "indent": f"{min(row.depth, 30) * 14}",
                "left": display.percent(row.offset_share),
                "width": display.percent(max(row.width_share, 0.002)),
                "duration": display.format_duration_us(span.duration_us),
                "offset": display.format_duration_us(span.start_us - detail.start_us),
                "started": display.format_time_us(span.start_us),
                "role_class": span.process_role if span.process_role in _ROLE_CLASSES else "other",
                "pid": process.pid if process else "",
                "attributes": sorted(span.attribute_map.items()),
                "detail": _span_detail(span),
                "events": [
                    {
                        "name": event.get("name", ""),
                        "offset": display.format_duration_us(
                            int(event.get("time_us", span.start_us)) - span.start_us
                        ),
                        "attributes": sorted((event.get("attributes") or {}).items()),
                        "stacktrace": (event.get("attributes") or {}).get("exception.stacktrace"),
                    }
                    for event in span.event_list
                ],
                "links": span.link_list,
                "logs": [_log_view(record, detail.start_us) for record in row.logs],
            }
        )
    processes = [
        {
            "process": process,
            "attributes": sorted(process.resource_attributes.items()),
        }
        for process in sorted(detail.processes.values(), key=lambda p: p.first_seen_us)
    ]
    spans_by_id = {row.span.span_id: row.span for row in detail.rows}
    logs = []
    for record in detail.logs:
        item = _log_view(record, detail.start_us)
        item["span"] = spans_by_id.get(record.span_id)
        logs.append(item)
    return {
        "spans": rows,
        "logs": logs,
        "processes": processes,
        "started": display.format_time_us(detail.start_us),
        "duration": display.format_duration_us(detail.duration_us),
    }


def _span_detail(span) -> str:
    """A hint of what a client span did (its statement or URL), shown beside its name."""
    if span.kind != "client":
        return ""
    attributes = span.attribute_map
    for key in ("db.statement", "db.query.text", "url.full", "http.url"):
        value = attributes.get(key)
        if value:
            return str(value)[:120]
    return ""


def _log_view(record, start_us: int | None = None) -> dict[str, Any]:
    return {
        "record": record,
        "time": display.format_time_us(record.time_us),
        "offset": display.format_duration_us(record.time_us - start_us) if start_us else "",
        "level_class": (record.level or "").lower(),
        "attributes": sorted(
            (k, v) for k, v in record.attribute_map.items() if k != "exception.stacktrace"
        ),
        "stacktrace": record.attribute_map.get("exception.stacktrace"),
    }


@console_view("view_logsearch")
def logs(request: HttpRequest) -> HttpResponse:
    """Search log records: by level, logger, text and trace id; newest first."""
    title, section = "Logs", "logs"
    form = LogSearchForm(request.GET)
    page = None
    try:
        with selectors.store_reads():
            if form.is_valid():
                data = form.cleaned_data
                filters = selectors.LogFilters(
                    min_severity=form.min_severity(),
                    logger=data["logger"].strip(),
                    text=data["text"].strip(),
                    trace_id=data["trace_id"],
                    time_range=form.time_range(),
                )
                page = selectors.log_search(filters, page=data["page"] or 1)
    except DatabaseError as exc:
        return _unreadable(request, exc, title=title, section=section)
    rows = []
    for record in page.items if page else []:
        item = _log_view(record)
        item["trace_url"] = links.trace_page_url(record.trace_id) if record.trace_id else ""
        rows.append(item)
    context = _context(
        request, title=title, section=section, form=form, page=page, rows=rows,
        **(_page_links(request, page) if page else {}),
    )  # fmt: skip
    return TemplateResponse(request, TEMPLATES + "logs.html", context, status=_status(form))


@console_view("view_serviceoverview")
def overview(request: HttpRequest) -> HttpResponse:
    """Per route and per task: rate, error rate and latency percentiles over a window,
    from the stored (sampled) spans."""
    title, section = "Service overview", "overview"
    form = OverviewForm(request.GET or {"window": "1h"})
    result = None
    try:
        with selectors.store_reads():
            if form.is_valid():
                result = service_overview(form.window_seconds())
    except DatabaseError as exc:
        return _unreadable(request, exc, title=title, section=section)

    def rows(entries) -> list[dict[str, Any]]:
        return [
            {
                "stats": entry,
                "per_minute": f"{entry.per_second * 60:.1f}",
                "error_percent": f"{entry.error_share * 100:.1f}",
                "percentiles": [
                    display.format_duration_us(entry.percentiles_ms[p] * 1000) for p in PERCENTILES
                ],
                "traces_url": _operation_traces_url(entry.kind, entry.name),
                "errors_url": _operation_traces_url(entry.kind, entry.name, status="error"),
            }
            for entry in entries
        ]

    context = _context(
        request, title=title, section=section, form=form, overview=result,
        percentiles=PERCENTILES,
        routes=rows(result.routes) if result else [], tasks=rows(result.tasks) if result else [],
        covered=display.format_duration_us(result.covered_seconds * 1e6) if result else "",
    )  # fmt: skip
    return TemplateResponse(request, TEMPLATES + "overview.html", context, status=_status(form))


def _operation_traces_url(kind: str, name: str, **extra: str) -> str:
    _, _, route = name.partition(" ")
    if kind == "server" and route:
        return links.traces_url(route=route, **extra)
    return links.traces_url(name=name, **extra)
