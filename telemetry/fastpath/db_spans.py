"""Database client spans in a dropped trace: not started at all.

The DB-API instrumentations (psycopg and sqlite3 here) start a span for every statement. In a
trace the sampler dropped, that span can only be dropped too (every sampler this service
runs follows its parent), yet the stock CursorTracer.traced_execution still pays for it per
statement: the operation name parsed from the SQL, the sampler asked, a non-recording span
made current and detached again, about 112,000 instructions. A worker job runs about eight
statements: at 1% sampling that was a fifth of what telemetry cost a job that nothing
records (docs/overhead.md, "Round five").

`skip_spans_in_dropped_traces` replaces CursorTracer.traced_execution with one that runs the
statement directly when the current span's trace is dropped and the sampler, this service's
PolicySampler, follows a dropped parent now (every policy row does, and the parent-based
values of OTEL_TRACES_SAMPLER; `always_on` and `traceidratio` do not, and then the stock
method runs). For a span that does not record, the stock method only makes it current (no
attributes, no SQL comment) and records the database metrics when they are on; so with those
on (OTEL_SEMCONV_STABILITY_OPT_IN naming `database`) the shortcut is not installed. The only
difference: code inside the statement sees the dropped parent as the current span instead
of a dropped child of it, with the same trace id, neither of them exported.

It reproduces what the stock method does at the tested version of
opentelemetry-instrumentation-dbapi (telemetry.upstream.versions), so it runs only with the
fast paths on (telemetry.pipeline.fast_paths); tests/telemetry/fastpath/test_db_spans.py
holds it against the stock method.

In a kept trace, `_kept_execution` does what the stock method does for a recording span, with
what depends only on the statement and the connection (the operation name parsed from the
SQL, the span's attributes) worked out once per statement and connection kind, in a bounded
cache, and those attributes written as plain values; the span is made current and ended
directly instead of through the tracer's context manager (the same exception event and
status). A kept `SELECT 1` on sqlite3 in a loop: 31-35 us this way, 40-50 us the stock way,
1.3 us untraced. The SQL commenter, captured parameters, statements that are not strings and
cursor tracers other than the dbapi's and psycopg's go the stock way; the test holds the
spans equal to the stock ones, failures included.
"""

from __future__ import annotations

import threading

from opentelemetry.context import attach, detach
from opentelemetry.instrumentation._semconv import (
    _set_db_name,
    _set_db_statement,
    _set_db_system,
)
from opentelemetry.instrumentation.dbapi import CursorTracer
from opentelemetry.instrumentation.psycopg import CursorTracer as PsycopgCursorTracer
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, TracerProvider, get_current_span, set_span_in_context

from telemetry.fastpath.plain_attributes import set_plain_attributes
from telemetry.fastpath.span_failures import mark_failed
from telemetry.sampling.sampler import PolicySampler

# Statements (and connection kinds) whose span name and attributes are remembered: an
# application runs a bounded set of statement texts; one that builds ever new ones only turns
# the cache over.
STATEMENT_CACHE_LIMIT = 1024
# The cursor tracers whose name and statement of a str statement are CursorTracer's own (the
# psycopg instrumentation's subclass only adds psycopg's Composable statements).
_STRING_STATEMENT_TRACERS: frozenset[type] = frozenset({CursorTracer, PsycopgCursorTracer})
_descriptions: dict[tuple, tuple[str, dict]] = {}
_descriptions_lock = threading.Lock()

_stock_traced_execution = CursorTracer.traced_execution
_sampler: PolicySampler | None = None


def skip_spans_in_dropped_traces(tracer_provider: TracerProvider, semconv_opt_in: str) -> bool:
    """Install the shortcut for this process (idempotent); False when it does not apply:
    the provider's sampler is not ours, or the database metrics are on. `semconv_opt_in`:
    OTEL_SEMCONV_STABILITY_OPT_IN as the instrumentations read it."""
    global _sampler
    sampler = getattr(tracer_provider, "sampler", None)
    if not isinstance(sampler, PolicySampler) or _database_metrics_on(semconv_opt_in):
        return False
    _sampler = sampler
    CursorTracer.traced_execution = _traced_execution  # type: ignore[method-assign]
    return True


def restore_stock() -> None:
    """Put the stock method back (tests)."""
    global _sampler
    CursorTracer.traced_execution = _stock_traced_execution  # type: ignore[method-assign]
    _sampler = None


def _database_metrics_on(semconv_opt_in: str) -> bool:
    """Whether the instrumentations record the stable database metrics: the opt-in list
    names `database` or `database/dup`."""
    entries = {entry.strip() for entry in semconv_opt_in.split(",")}
    return bool(entries & {"database", "database/dup"})


def _traced_execution(self, cursor, query_method, *args, **kwargs):
    context = get_current_span().get_span_context()
    if (
        context.is_valid
        and not context.trace_flags.sampled
        and _sampler is not None
        and _sampler.follows_dropped_parents()
    ):
        return query_method(*args, **kwargs)
    described = _described(self, args)
    if described is None:
        return _stock_traced_execution(self, cursor, query_method, *args, **kwargs)
    return _kept_execution(self, described, query_method, args, kwargs)


def _described(tracer: CursorTracer, args: tuple) -> tuple[str, dict] | None:
    """The span name and attributes the stock method would give this statement, from the
    cache; None where the stock method must decide (another subclass, the SQL commenter,
    captured parameters, a statement that is not a string, unhashable connection attributes)."""
    integration = tracer._db_api_integration
    if (
        tracer.__class__ not in _STRING_STATEMENT_TRACERS
        or tracer._commenter_enabled
        or integration.capture_parameters
        or not args
        or args[0].__class__ is not str
    ):
        return None
    key = (
        args[0],
        integration.database_system,
        integration.database,
        integration.name,
        integration._sem_conv_opt_in_mode_db,
        tuple(integration.span_attributes.items()),
    )
    try:
        found = _descriptions.get(key)
    except TypeError:  # an unhashable connection attribute
        return None
    if found is None:
        found = _describe(tracer, *key)
        with _descriptions_lock:
            if len(_descriptions) >= STATEMENT_CACHE_LIMIT:
                _descriptions.pop(next(iter(_descriptions)))  # the oldest
            _descriptions[key] = found
    return found


def _describe(
    tracer: CursorTracer, statement: str, system, database, fallback_name, mode, connection_items
) -> tuple[str, dict]:
    """What CursorTracer.traced_execution and _populate_span work out for `statement`: the
    span name (the operation, else the database, else the integration's name) and the
    attributes, in the order they set them. Callers copy nothing: set_plain_attributes only
    reads the dict."""
    name = tracer.get_operation_name(None, (statement,)) or database or fallback_name
    attributes: dict = {}
    _set_db_system(attributes, system, mode)
    _set_db_name(attributes, database, mode)
    _set_db_statement(attributes, tracer.get_statement(None, (statement,)), mode)
    attributes.update(connection_items)
    return name, attributes


def _kept_execution(tracer: CursorTracer, described, query_method, args, kwargs):
    """The stock method's recording path: the span started current, its attributes set, the
    statement run, an exception recorded as use_span records it, the span ended."""
    if not is_instrumentation_enabled():
        return query_method(*args, **kwargs)
    name, attributes = described
    span = tracer._db_api_integration._tracer.start_span(name, kind=SpanKind.CLIENT)
    if span.is_recording():
        set_plain_attributes(span, attributes)
    try:
        token = attach(set_span_in_context(span))
        try:
            return query_method(*args, **kwargs)
        finally:
            detach(token)
    except Exception as exc:  # as use_span: not BaseException (GeneratorExit, ...)
        mark_failed(span, exc)
        raise
    finally:
        span.end()
