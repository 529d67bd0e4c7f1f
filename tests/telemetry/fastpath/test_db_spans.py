"""Database statements in a trace the sampler dropped run without a span of their own
(telemetry.fastpath.db_spans); in a kept trace they get the stock span, and where the
sampler would not follow the dropped parent the stock method decides. In-process, the real
SDK, the policy sampler and real sqlite3 and psycopg connections, spans read from memory."""

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


@pytest.mark.parametrize(("connect", "placeholder"), CONNECTIONS)
def test_a_kept_trace_gets_the_stock_span(
    otel, sampling_policy, stock_calls, monkeypatch, connect, placeholder
):
    sampling_policy(snapshot(1.0))

    row, job = run_in_a_job(connect, placeholder)
    (shortcut,) = client_spans(otel)
    went_the_stock_way = list(stock_calls)
    otel.spans.clear()
    monkeypatch.setattr(CursorTracer, "traced_execution", db_spans._stock_traced_execution)
    run_in_a_job(connect, placeholder)
    (stock,) = client_spans(otel)

    assert row == (42,) and went_the_stock_way == [f"SELECT 7 + {placeholder}"]
    assert shortcut.parent.span_id == job.get_span_context().span_id
    assert (shortcut.name, dict(shortcut.attributes)) == (stock.name, dict(stock.attributes))
    assert shortcut.attributes["db.statement"] == f"SELECT 7 + {placeholder}"


def test_a_sampler_that_ignores_parents_gets_the_stock_method(
    otel, sampling_policy, stock_calls, monkeypatch
):
    sampling_policy(snapshot(0.0))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    provider = TracerProvider(sampler=PolicySampler(policy=lambda: ENV_POLICY))
    assert db_spans.skip_spans_in_dropped_traces(provider, "http")

    run_in_a_job(sqlite_connection, "?")

    assert stock_calls == ["SELECT 7 + ?"]


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
