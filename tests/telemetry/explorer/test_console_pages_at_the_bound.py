"""The console stays fast on a full store: with the default bounds filled (100,000 spans and
100,000 log records), every page answers in well under a second, and the queries behind
them are served by indexes (SQLite's query plans say so: no full scan of a table).

The timings are printed (pytest -s) and bounded generously, for a busy machine; the plans
are what would fail if an index went missing.
"""

from __future__ import annotations

import json
import random
import time

import pytest
from django.db import connections

from telemetry.explorer import rows
from telemetry.explorer.selectors import TraceFilters, _matching_spans
from telemetry.models import StoredLogRecord, StoredProcess, StoredSpan
from tests.telemetry.explorer.support import STORE, now_us, store_db

pytestmark = store_db
BOUND = 100_000  # TELEMETRY_LOCAL_STORE_MAX_SPANS and _MAX_LOG_RECORDS by default
SPANS_PER_TRACE = 5
ROUTES = [
    "GET /api/users/{user_id}",
    "POST /api/jobs",
    "GET /api/jobs/{job_id}",
    "POST /api/process",
]
# Generous: the pages take tens of milliseconds on an idle machine.
PAGE_SECONDS = 3.0


def fill_to_the_bound() -> str:
    """BOUND spans (BOUND / 5 traces over the last 12 hours: a server span, three database
    spans, a worker span) and BOUND log records; returns a trace id in the middle."""
    rng = random.Random(16)
    now = now_us()
    spans, logs = [], []
    traces = BOUND // SPANS_PER_TRACE
    middle = ""
    for n in range(traces):
        trace_id = f"{n + 1:032x}"
        middle = trace_id if n == traces // 2 else middle
        start = now - 12 * 3600 * 1_000_000 + n * (12 * 3600 * 1_000_000 // traces)
        route = ROUTES[n % len(ROUTES)]
        failed = n % 50 == 0
        server = f"{n:08x}00000001"
        spans.append(
            _span(
                trace_id,
                server,
                "",
                route,
                "server",
                "web",
                start,
                rng.randint(2_000, 400_000),
                failed,
                '{"http.route":"/api"}',
            )
        )
        for k in range(3):
            spans.append(
                _span(
                    trace_id,
                    f"{n:08x}0000001{k}",
                    server,
                    "SELECT",
                    "client",
                    "web",
                    start + 100 * k,
                    rng.randint(50, 2_000),
                    False,
                    '{"db.statement":"SELECT ... FROM users_user WHERE id = %s"}',
                )
            )
        spans.append(
            _span(
                trace_id,
                f"{n:08x}00000020",
                server,
                "run/processing.process_job",
                "consumer",
                "worker",
                start + 5_000,
                rng.randint(5_000, 900_000),
                failed,
                "{}",
            )
        )
        for k in range(SPANS_PER_TRACE * BOUND // BOUND):
            logs.append(
                (
                    start + 10 * k,
                    trace_id,
                    server,
                    13 if failed else 9,
                    "WARN" if failed else "INFO",
                    "processing.jobs",
                    f"job {n} queued" if k % 2 == 0 else f"processing data {n}",
                    "",
                    "observability-site",
                    "web",
                    "instance-web",
                )
            )
    logs = logs[:BOUND]
    connection = connections[STORE]
    with connection.cursor() as cursor:
        span_sql = _insert(StoredSpan, rows.SPAN_COLUMNS)
        log_sql = _insert(StoredLogRecord, rows.LOG_COLUMNS)
        for first in range(0, len(spans), 5000):
            cursor.executemany(span_sql, spans[first : first + 5000])
        for first in range(0, len(logs), 5000):
            cursor.executemany(log_sql, logs[first : first + 5000])
    for instance, role in (("instance-web", "web"), ("instance-worker", "worker")):
        StoredProcess.objects.create(
            instance_id=instance,
            service_name="observability-site",
            process_role=role,
            resource=json.dumps({"process.pid": 1}),
            first_seen_us=now,
            last_seen_us=now,
        )
    assert StoredSpan.objects.count() == BOUND and StoredLogRecord.objects.count() == BOUND
    return middle


def _span(trace_id, span_id, parent, name, kind, role, start, duration, failed, attributes):
    return (
        trace_id,
        span_id,
        parent,
        False,
        name,
        kind,
        "observability-site",
        role,
        f"instance-{role}",
        "scope",
        start,
        duration,
        2 if failed else 0,
        "",
        attributes,
        "",
        "",
    )


def _insert(model, columns) -> str:
    quote = connections[STORE].ops.quote_name
    names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )


def timed(client, url: str, params: dict | None = None) -> float:
    started = time.perf_counter()
    response = client.get(url, params or {})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, params, response.content.decode()[:500])
    return elapsed


def test_every_page_answers_fast_with_the_store_at_its_bound(staff_session):
    middle = fill_to_the_bound()
    base = "/admin/telemetry/console/"
    pages = [
        ("traces", "traces/", {}),
        ("traces, errors", "traces/", {"status": "error"}),
        ("traces, role worker, min 500ms", "traces/", {"role": "worker", "min_duration": "500ms"}),
        ("traces, name contains", "traces/", {"name": "jobs"}),
        ("traces, last hour", "traces/", {"last": "1h"}),
        ("traces, page 20", "traces/", {"page": 20}),
        ("one trace", f"traces/{middle}/", {}),
        ("logs", "logs/", {}),
        ("logs, WARNING and above", "logs/", {"level": "WARNING"}),
        ("logs, text", "logs/", {"text": "job 1999 queued"}),
        ("logs, trace id", "logs/", {"trace_id": middle}),
        ("overview, 1h", "overview/", {"window": "1h"}),
        ("overview, 24h", "overview/", {"window": "24h"}),
    ]
    timed(staff_session, base + "traces/")  # the first request loads templates
    timings = {label: timed(staff_session, base + url, params) for label, url, params in pages}
    print(f"\nconsole pages with {BOUND} spans and {BOUND} log records stored (seconds):")
    for label, seconds in timings.items():
        print(f"  {label:36} {seconds:.3f}")
    slow = {label: s for label, s in timings.items() if s > PAGE_SECONDS}
    assert not slow, slow


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connections[STORE].cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("label", "queryset", "index"),
    [
        ("a trace", lambda: StoredSpan.objects.filter(trace_id="ab" * 16), "store_span_trace"),
        ("errors", lambda: _matching_spans(TraceFilters(status="error")), "store_span_status"),
        (
            "a role's spans, newest first",
            lambda: _matching_spans(TraceFilters(role="worker")).order_by("-start_us")[:50],
            "store_span_start",
        ),
        ("newest first", lambda: StoredSpan.objects.order_by("-start_us")[:50], "store_span_start"),
        (
            "the overview",
            lambda: StoredSpan.objects.filter(kind__in=("server", "consumer"), start_us__gte=0),
            "store_span_kind",
        ),
        (
            "a trace's logs",
            lambda: StoredLogRecord.objects.filter(trace_id="ab" * 16),
            "store_log_trace",
        ),
        (
            "logs by level",
            # Newest first and filtered: SQLite walks the time index backwards.
            lambda: StoredLogRecord.objects.filter(severity_number__gte=17),
            "store_log_time",
        ),
        (
            "logs newest first",
            lambda: StoredLogRecord.objects.order_by("-time_us")[:100],
            "store_log_time",
        ),
    ],
)
def test_the_queries_are_served_by_an_index(label, queryset, index):
    if connections[STORE].vendor != "sqlite":
        pytest.skip("reads SQLite's query plans")
    plan = _plan(queryset())
    assert index in plan, (label, plan)
    scans = [step for step in plan.split(" | ") if step.startswith("SCAN")]
    assert all("USING" in step for step in scans), (label, plan)  # never a whole table
