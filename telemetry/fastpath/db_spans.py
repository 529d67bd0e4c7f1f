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
"""

from __future__ import annotations

from opentelemetry.instrumentation.dbapi import CursorTracer
from opentelemetry.trace import TracerProvider, get_current_span

from telemetry.sampling.sampler import PolicySampler

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
    return _stock_traced_execution(self, cursor, query_method, *args, **kwargs)
