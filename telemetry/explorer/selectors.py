"""Reading the local store for the console: trace search, one trace with its log records and
processes, log search. Every query is bounded (a page, a trace's spans) and served by an index
of telemetry.models.explorer; the reads run under suppress_instrumentation(), so looking at
the store does not fill it with the console's own database spans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet
from opentelemetry.instrumentation.utils import suppress_instrumentation

from telemetry.explorer.forms import TimeRange
from telemetry.explorer.router import store_alias
from telemetry.models.explorer import StoredLogRecord, StoredProcess, StoredSpan

NO_TIME_RANGE = TimeRange(None, None)
TRACES_PER_PAGE = 50
LOGS_PER_PAGE = 100
# What one trace page shows at most (a runaway trace must not take the page down).
MAX_TRACE_SPANS = 5000
MAX_TRACE_LOGS = 2000


@contextmanager
def store_reads() -> Iterator[None]:
    """Around a page's reads of the store: untraced, and inside a savepoint when the store's
    connection is already in a transaction (the store in the service's database, a request
    in a transaction), so that a failed read leaves that transaction usable. Never a
    transaction of its own otherwise: the store's SQLite connections begin IMMEDIATE, which
    would take the writers' lock for a read."""
    alias = store_alias()
    with suppress_instrumentation():
        if connections[alias].in_atomic_block:
            with transaction.atomic(using=alias):
                yield
        else:
            yield


@dataclass(frozen=True)
class TraceFilters:
    service: str = ""
    role: str = ""
    name: str = ""
    route: str = ""  # a server span's exact route template
    status: str = ""  # "", "error", "ok"
    min_duration_us: int | None = None
    time_range: TimeRange = NO_TIME_RANGE
    trace_id: str = ""


@dataclass
class TraceSummary:
    """One row of the Traces page."""

    trace_id: str
    start_us: int
    duration_us: int
    spans: int
    errors: int
    root_name: str = ""
    root_role: str = ""
    roles: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)


@dataclass
class Page:
    items: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def known_services_and_roles() -> tuple[list[str], list[str]]:
    """The service names and process roles that wrote to the store (from its small process
    table, so the filters offer only values that exist)."""
    with suppress_instrumentation():
        pairs = set(StoredProcess.objects.values_list("service_name", "process_role"))
    return sorted({s for s, _ in pairs}), sorted({r for _, r in pairs})


def _matching_spans(filters: TraceFilters) -> QuerySet[StoredSpan]:
    spans = StoredSpan.objects.all()
    if filters.trace_id:
        spans = spans.filter(trace_id=filters.trace_id)
    if filters.service:
        spans = spans.filter(service_name=filters.service)
    if filters.role:
        spans = spans.filter(process_role=filters.role)
    if filters.name:
        spans = spans.filter(name__icontains=filters.name)
    if filters.route:
        # Server spans are named "METHOD route" (telemetry.pipeline.instrumentation).
        spans = spans.filter(kind="server", name__endswith=f" {filters.route}")
    if filters.status == "error":
        spans = spans.filter(status_code=StoredSpan.Status.ERROR)
    elif filters.status == "ok":
        spans = spans.exclude(status_code=StoredSpan.Status.ERROR)
    if filters.min_duration_us is not None:
        spans = spans.filter(duration_us__gte=filters.min_duration_us)
    if filters.time_range.since_us is not None:
        spans = spans.filter(start_us__gte=filters.time_range.since_us)
    if filters.time_range.until_us is not None:
        spans = spans.filter(start_us__lte=filters.time_range.until_us)
    return spans


def trace_search(filters: TraceFilters, *, page: int = 1) -> Page:
    """The traces with a span that matches every filter, newest first (by their newest
    matching span), one page of them, with a summary of each whole trace."""
    offset = (page - 1) * TRACES_PER_PAGE
    with suppress_instrumentation():
        found = list(
            _matching_spans(filters)
            .values("trace_id")
            .annotate(newest=Max("start_us"))
            .order_by("-newest", "trace_id")[offset : offset + TRACES_PER_PAGE + 1]
        )
        trace_ids = [row["trace_id"] for row in found[:TRACES_PER_PAGE]]
        summaries = _summaries(trace_ids)
    return Page(
        items=[summaries[t] for t in trace_ids if t in summaries],
        number=page,
        has_next=len(found) > TRACES_PER_PAGE,
    )


def _summaries(trace_ids: list[str]) -> dict[str, TraceSummary]:
    if not trace_ids:
        return {}
    in_traces = StoredSpan.objects.filter(trace_id__in=trace_ids).order_by()
    summaries = {
        row["trace_id"]: TraceSummary(
            trace_id=row["trace_id"],
            start_us=row["start"],
            duration_us=row["end"] - row["start"],
            spans=row["spans"],
            errors=row["errors"],
        )
        for row in in_traces.values("trace_id").annotate(
            start=Min("start_us"),
            end=Max(F("start_us") + F("duration_us")),
            spans=Count("id"),
            errors=Count("id", filter=Q(status_code=StoredSpan.Status.ERROR)),
        )
    }
    # The entry span of each process in the trace (no parent here, or a remote one): the
    # earliest names the trace, all of them say which processes took part.
    entries = in_traces.filter(Q(parent_span_id="") | Q(parent_is_remote=True)).values_list(
        "trace_id", "start_us", "name", "process_role", "service_name"
    )
    firsts: dict[str, int] = {}
    for trace_id, start, name, role, service in sorted(entries, key=lambda row: row[1]):
        summary = summaries[trace_id]
        if trace_id not in firsts:
            firsts[trace_id] = start
            summary.root_name, summary.root_role = name, role
        if role not in summary.roles:
            summary.roles.append(role)
        if service not in summary.services:
            summary.services.append(service)
    return summaries


@dataclass
class WaterfallRow:
    """One span of a trace page, in tree order, with its place on the time axis."""

    span: StoredSpan
    depth: int
    offset_share: float  # where it starts, as a share of the trace's duration
    width_share: float
    logs: list[StoredLogRecord] = field(default_factory=list)
    orphan: bool = False  # its parent is not in the store (pruned, or never sampled here)


@dataclass
class TraceDetail:
    trace_id: str
    rows: list[WaterfallRow]
    logs: list[StoredLogRecord]
    processes: dict[str, StoredProcess]
    start_us: int
    duration_us: int
    spans_truncated: bool
    logs_truncated: bool

    @property
    def errors(self) -> int:
        return sum(1 for row in self.rows if row.span.is_error)

    def server_routes(self) -> set[str]:
        return {
            str(route)
            for row in self.rows
            if row.span.kind == "server" and (route := row.span.attribute_map.get("http.route"))
        }

    def profiling_run_ids(self) -> set[int]:
        """The profiling runs whose captures recorded spans of this trace (profiling.run_id)."""
        ids = set()
        for row in self.rows:
            value = row.span.attribute_map.get("profiling.run_id")
            if isinstance(value, int):
                ids.add(value)
        return ids

    def continuous_profile_ids(self) -> list[str]:
        """The continuous profiling windows that sampled spans of this trace
        (profiling.profile_id: role:host:pid@window), in the order the spans started."""
        seen: dict[str, None] = {}
        for row in self.rows:
            value = row.span.attribute_map.get("profiling.profile_id")
            if isinstance(value, str) and value:
                seen.setdefault(value, None)
        return list(seen)


def trace_detail(trace_id: str) -> TraceDetail | None:
    """Every span of the trace (bounded), as a waterfall; its log records in time order; the
    processes that wrote them. None when the store holds nothing of it."""
    with suppress_instrumentation():
        spans = list(
            StoredSpan.objects.filter(trace_id=trace_id).order_by("start_us", "id")[
                : MAX_TRACE_SPANS + 1
            ]
        )
        logs = list(
            StoredLogRecord.objects.filter(trace_id=trace_id).order_by("time_us", "id")[
                : MAX_TRACE_LOGS + 1
            ]
        )
        if not spans and not logs:
            return None
        instances = {s.instance_id for s in spans} | {r.instance_id for r in logs}
        processes = {
            p.instance_id: p for p in StoredProcess.objects.filter(instance_id__in=instances)
        }
    spans_truncated, logs_truncated = len(spans) > MAX_TRACE_SPANS, len(logs) > MAX_TRACE_LOGS
    spans, logs = spans[:MAX_TRACE_SPANS], logs[:MAX_TRACE_LOGS]
    times = [s.start_us for s in spans] + [r.time_us for r in logs]
    ends = [s.end_us for s in spans] + [r.time_us for r in logs]
    start, end = min(times), max(ends)
    return TraceDetail(
        trace_id=trace_id,
        rows=waterfall(spans, logs, start_us=start, duration_us=end - start),
        logs=logs,
        processes=processes,
        start_us=start,
        duration_us=end - start,
        spans_truncated=spans_truncated,
        logs_truncated=logs_truncated,
    )


def waterfall(
    spans: Iterable[StoredSpan], logs: Iterable[StoredLogRecord], *, start_us: int, duration_us: int
) -> list[WaterfallRow]:
    """The spans in tree order (each parent before its children, siblings by start time),
    with their depth and their place on the time axis; each with its own log records."""
    spans = list(spans)
    by_id = {span.span_id: span for span in spans}
    children: dict[str, list[StoredSpan]] = defaultdict(list)
    roots: list[StoredSpan] = []
    for span in spans:  # already ordered by start
        if span.parent_span_id and span.parent_span_id in by_id:
            children[span.parent_span_id].append(span)
        else:
            roots.append(span)
    logs_of: dict[str, list[StoredLogRecord]] = defaultdict(list)
    for record in logs:
        if record.span_id:
            logs_of[record.span_id].append(record)
    total = max(duration_us, 1)
    rows: list[WaterfallRow] = []
    seen: set[int] = set()
    stack = [(root, 0) for root in reversed(roots)]
    while stack:  # depth first, without recursion (a deep trace must not hit the limit)
        span, depth = stack.pop()
        if id(span) in seen:
            continue
        seen.add(id(span))
        rows.append(
            WaterfallRow(
                span=span,
                depth=depth,
                offset_share=(span.start_us - start_us) / total,
                width_share=max(span.duration_us / total, 0.0),
                logs=logs_of.get(span.span_id, []),
                orphan=bool(span.parent_span_id) and span.parent_span_id not in by_id,
            )
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return rows


@dataclass(frozen=True)
class LogFilters:
    min_severity: int | None = None
    logger: str = ""
    text: str = ""
    trace_id: str = ""
    time_range: TimeRange = NO_TIME_RANGE


def log_search(filters: LogFilters, *, page: int = 1) -> Page:
    """The log records that match every filter, newest first, one page of them."""
    records = StoredLogRecord.objects.all()
    if filters.trace_id:
        records = records.filter(trace_id=filters.trace_id)
    if filters.min_severity is not None:
        records = records.filter(severity_number__gte=filters.min_severity)
    if filters.logger:
        records = records.filter(
            Q(logger=filters.logger) | Q(logger__startswith=filters.logger + ".")
        )
    if filters.text:
        records = records.filter(body__icontains=filters.text)
    if filters.time_range.since_us is not None:
        records = records.filter(time_us__gte=filters.time_range.since_us)
    if filters.time_range.until_us is not None:
        records = records.filter(time_us__lte=filters.time_range.until_us)
    offset = (page - 1) * LOGS_PER_PAGE
    with suppress_instrumentation():
        found = list(records.order_by("-time_us", "-id")[offset : offset + LOGS_PER_PAGE + 1])
    return Page(items=found[:LOGS_PER_PAGE], number=page, has_next=len(found) > LOGS_PER_PAGE)


@dataclass(frozen=True)
class StoreStatus:
    spans: int
    log_records: int
    processes: int
    oldest_us: int | None


def store_status() -> StoreStatus:
    """What the store holds now."""
    with suppress_instrumentation():
        return StoreStatus(
            spans=StoredSpan.objects.count(),
            log_records=StoredLogRecord.objects.count(),
            processes=StoredProcess.objects.count(),
            oldest_us=StoredSpan.objects.aggregate(oldest=Min("start_us"))["oldest"],
        )
