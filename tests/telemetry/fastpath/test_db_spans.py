"""Database statements in a trace the sampler dropped run without a span of their own
(telemetry.fastpath.db_spans); in a kept trace they get the span the stock method gives them
(name, attributes, status and exception event, held against it side by side) from a cache
per statement, and where the sampler would not follow the dropped parent it is asked. In
process, the real SDK, the policy sampler and real sqlite3 and psycopg connections, spans
read from memory."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.dbapi import CursorTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from telemetry.fastpath import db_spans
from telemetry.pipeline.fast_paths import fast_paths_enabled
from telemetry.sampling.policy import ENV_POLICY
from telemetry.sampling.sampler import PolicySampler
from tests.telemetry.sampling.support import snapshot

pytestmark = pytest.mark.django_db


def sqlite_connection():
    return sqlite3.connect(":memory:")  # sqlite3.connect as SQLite3Instrumentor wrapped it


def psycopg_connection():
    """A new connection to the test database, made as Django makes one (psycopg.connect, which
    PsycopgInstrumentor wrapped), outside Django's own connection handling."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the PostgreSQL pass of scripts/test.sh runs it")
    return connection.get_new_connection(connection.get_connection_params())


CONNECTIONS = [
    pytest.param(sqlite_connection, "?", id="sqlite3"),
    pytest.param(psycopg_connection, "%s", id="psycopg"),
]


@pytest.fixture
def stock_calls(monkeypatch) -> list[str]:
    """The statements that went the stock way (CursorTracer.traced_execution as shipped)."""
    calls: list[str] = []
    stock = db_spans._stock_traced_execution

    def counting(self, cursor, query_method, *args, **kwargs):
        calls.append(args[0] if args else "")
        return stock(self, cursor, query_method, *args, **kwargs)

    monkeypatch.setattr(db_spans, "_stock_traced_execution", counting)
    return calls


@pytest.fixture(autouse=True)
def _installed(otel):
    """The process's shortcut, as telemetry.pipeline.instrumentation installed it."""
    assert fast_paths_enabled(), "the test process runs the fast paths"
    assert CursorTracer.traced_execution is db_spans._traced_execution
    yield
    db_spans.skip_spans_in_dropped_traces(trace.get_tracer_provider(), "http")


def run_in_a_job(connect, placeholder: str):
    """A statement inside a consumer span of the process's tracer, as a Celery task runs
    one: (the row it returned, the job's span)."""
    tracer = trace.get_tracer("tests.db_spans")
    connection = connect()
    try:
        with tracer.start_as_current_span("job", kind=SpanKind.CONSUMER) as job:
            cursor = connection.cursor()
            cursor.execute(f"SELECT 7 + {placeholder}", (35,))
            row = cursor.fetchone()
    finally:
        connection.close()
    return tuple(row), job


def client_spans(otel):
    return [s for s in otel.finished_spans() if s.kind == SpanKind.CLIENT]


@pytest.mark.parametrize(("connect", "placeholder"), CONNECTIONS)
def test_a_dropped_trace_runs_its_statements_without_spans(
    otel, sampling_policy, stock_calls, connect, placeholder
):
    sampling_policy(snapshot(0.0))

    row, job = run_in_a_job(connect, placeholder)

    assert row == (42,)
    assert not job.is_recording() and job.get_span_context().is_valid
    assert stock_calls == [] and client_spans(otel) == []


def described(span) -> dict:
    """What a span says, but its ids and times."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes),
        "status": (span.status.status_code, span.status.description),
        "events": [(e.name, dict(e.attributes)) for e in span.events],
    }


def without_stacktrace(span_description: dict) -> dict:
    # The stacktraces differ by the frames of the stock context manager.
    for _, attributes in span_description["events"]:
        attributes.pop("exception.stacktrace", None)
    return span_description


def run_statement_in_a_job(connect, statement: str, parameters=()):
    """`statement` inside a consumer span; (the error it raised or None, the job's span)."""
    tracer = trace.get_tracer("tests.db_spans")
    connection = connect()
    error = None
    try:
        with tracer.start_as_current_span("job", kind=SpanKind.CONSUMER) as job:
            try:
                connection.cursor().execute(statement, parameters)
            except Exception as exc:
                error = exc
    finally:
        connection.close()
    return error, job


@pytest.mark.parametrize(("connect", "placeholder"), CONNECTIONS)
@pytest.mark.parametrize(
    "statement",
    ["SELECT 7 + {p}", "  select 1 -- trailing comment", "/* leading */ SELECT 2", "SELEC nope"],
)
def test_a_kept_trace_gets_the_stock_span_without_the_stock_method(
    otel, sampling_policy, stock_calls, monkeypatch, connect, placeholder, statement
):
    sampling_policy(snapshot(1.0))
    statement = statement.format(p=placeholder)
    parameters = (35,) if placeholder in statement else ()

    error, job = run_statement_in_a_job(connect, statement, parameters)
    (ours,) = client_spans(otel)
    went_the_stock_way = list(stock_calls)
    otel.spans.clear()
    monkeypatch.setattr(CursorTracer, "traced_execution", db_spans._stock_traced_execution)
    stock_error, _ = run_statement_in_a_job(connect, statement, parameters)
    (stock,) = client_spans(otel)

    assert went_the_stock_way == []
    assert type(error) is type(stock_error) and str(error) == str(stock_error)
    assert ours.parent.span_id == job.get_span_context().span_id
    assert without_stacktrace(described(ours)) == without_stacktrace(described(stock))
    assert ours.attributes["db.statement"] == statement
    if error is not None:  # the failing statement: an exception event and the error status
        assert ours.status.status_code.name == "ERROR" and ours.events[0].name == "exception"


def test_a_statement_is_described_once_per_connection_kind(otel, sampling_policy):
    sampling_policy(snapshot(1.0))
    db_spans._descriptions.clear()

    for _ in range(3):
        run_statement_in_a_job(sqlite_connection, "SELECT 11")

    assert [key[0] for key in db_spans._descriptions] == ["SELECT 11"]
    assert len(client_spans(otel)) == 3


def test_the_description_cache_is_bounded(otel, sampling_policy, monkeypatch):
    sampling_policy(snapshot(1.0))
    monkeypatch.setattr(db_spans, "STATEMENT_CACHE_LIMIT", 3)
    db_spans._descriptions.clear()

    for number in range(5):
        run_statement_in_a_job(sqlite_connection, f"SELECT {number}")

    assert [key[0] for key in db_spans._descriptions] == ["SELECT 2", "SELECT 3", "SELECT 4"]


def test_suppressed_instrumentation_starts_no_span(otel, sampling_policy, stock_calls):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    sampling_policy(snapshot(1.0))
    with suppress_instrumentation():
        error, _ = run_statement_in_a_job(sqlite_connection, "SELECT 1")

    assert error is None and client_spans(otel) == [] and stock_calls == []


def test_captured_parameters_go_the_stock_way(otel, sampling_policy, stock_calls, monkeypatch):
    sampling_policy(snapshot(1.0))
    connection = sqlite_connection()
    try:
        cursor = connection.cursor()
        tracer = cursor._self_cursor_tracer if hasattr(cursor, "_self_cursor_tracer") else None
        if tracer is None:
            pytest.skip("the instrumented cursor keeps its tracer elsewhere in this version")
        monkeypatch.setattr(tracer._db_api_integration, "capture_parameters", True)
        with trace.get_tracer("tests.db_spans").start_as_current_span("job"):
            cursor.execute("SELECT 1 + ?", (2,))
    finally:
        connection.close()

    assert stock_calls == ["SELECT 1 + ?"]
    (span,) = client_spans(otel)
    assert span.attributes["db.statement.parameters"] == "(2,)"


def test_a_sampler_that_ignores_parents_is_asked_for_the_span(
    otel, sampling_policy, stock_calls, monkeypatch
):
    sampling_policy(snapshot(0.0))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    provider = TracerProvider(sampler=PolicySampler(policy=lambda: ENV_POLICY))
    assert db_spans.skip_spans_in_dropped_traces(provider, "http")
    started: list[str] = []
    kept_execution = db_spans._kept_execution

    def counting(tracer, described, query_method, args, kwargs):
        started.append(args[0])
        return kept_execution(tracer, described, query_method, args, kwargs)

    monkeypatch.setattr(db_spans, "_kept_execution", counting)

    run_in_a_job(sqlite_connection, "?")

    # Not skipped in the dropped trace: the span is started, and its tracer's sampler decides.
    assert started == ["SELECT 7 + ?"] and stock_calls == []


def test_not_installed_where_it_does_not_apply():
    db_spans.restore_stock()
    with_database_metrics = trace.get_tracer_provider()
    assert not db_spans.skip_spans_in_dropped_traces(with_database_metrics, "database,http")
    assert not db_spans.skip_spans_in_dropped_traces(TracerProvider(), "http")  # SDK sampler
    assert CursorTracer.traced_execution is db_spans._stock_traced_execution


FOLLOWING = {
    "parentbased_always_on": True,
    "parentbased_always_off": True,
    "parentbased_traceidratio": True,
    "always_on": False,
    "always_off": False,
    "traceidratio": False,
}


@pytest.mark.parametrize("name", FOLLOWING)
def test_follows_dropped_parents_only_when_the_sampler_does(monkeypatch, name):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "1.0")
    sampler = PolicySampler(policy=lambda: ENV_POLICY)
    dropped_parent = NonRecordingSpan(
        SpanContext(0x5BF92F3577B34DA6A3CE929D0E0E4731, 0x00F067AA0BA902B7, False, TraceFlags(0))
    )
    parent_context = trace.set_span_in_context(dropped_parent, Context())

    follows = sampler.follows_dropped_parents()
    decisions = {
        sampler.should_sample(parent_context, trace_id, "SELECT", SpanKind.CLIENT).decision
        for trace_id in (1, 2**63, 2**128 - 1)
    }

    assert follows is FOLLOWING[name]
    if follows:  # what the shortcut relies on
        assert decisions == {Decision.DROP}


def test_every_policy_row_follows_dropped_parents():
    assert PolicySampler(policy=lambda: snapshot(1.0)).follows_dropped_parents()
