"""What a process accepts of the context a caller sends: the trace, not the caller's data.

W3C `baggage` is arbitrary key=value pairs a client chooses (`user.email=...`); the stock
propagators put it in the context and every instrumented client call (httpx to the
downstream) sends it on verbatim, so a client could push personal data, or anything else,
through the service into systems it calls (issue 15). `tracestate` is vendor data of the
same kind: W3C asks a participant to pass it on, but also lets it drop entries, and entries
from an untrusted client are not vendor data of ours.

So every extraction (the server span's, a Celery consumer's) keeps only the allow-listed
keys: TELEMETRY_INBOUND_BAGGAGE_KEYS and TELEMETRY_INBOUND_TRACESTATE_KEYS (comma-separated,
empty by default: nothing from outside is propagated). The traceparent itself (trace id,
parent span id, sampled flag) is kept: it is what lets a caller's trace continue here.
Injection is unchanged: baggage this service sets itself still travels.

Most requests carry none of the headers: with the W3C propagators (the default), a carrier
without `traceparent` and `baggage` leaves the context as it is, so the filter answers that
at once instead of running the propagators and the filter (about a fifth of an untraced
request's telemetry cost, docs/overhead.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# The header each W3C propagator reads first: without it (or empty), its extract returns the
# context it was given. (tracestate is read only after a traceparent.)
_FIRST_HEADER = {TraceContextTextMapPropagator: "traceparent", W3CBaggagePropagator: "baggage"}


class InboundContextFilter(textmap.TextMapPropagator):
    """Wraps the configured propagator (OTEL_PROPAGATORS): extracts with it, then drops the
    baggage and tracestate entries that are not allow-listed."""

    def __init__(
        self,
        inner: textmap.TextMapPropagator,
        *,
        baggage_keys: Iterable[str] = (),
        tracestate_keys: Iterable[str] = (),
    ) -> None:
        self.inner = inner
        self.baggage_keys = frozenset(baggage_keys)
        self.tracestate_keys = frozenset(tracestate_keys)
        # The headers without which the inner propagator extracts nothing (None: unknown,
        # every extraction runs). Public: the server-span middleware asks the WSGI environ
        # for them itself, before it would call extract at all.
        self.context_headers = _headers_that_carry_context(inner)

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        base = context if context is not None else get_current()
        headers = self.context_headers
        if headers is not None and not any(getter.get(carrier, name) for name in headers):
            return base  # what the propagators would return: nothing to extract
        extracted = self.inner.extract(carrier, base, getter)
        return self._filtered(extracted, base)

    def _filtered(self, context: Context, base: Context) -> Context:
        before = baggage.get_all(base)
        entries = baggage.get_all(context)
        dropped = [
            key
            for key, value in entries.items()
            if key not in self.baggage_keys and before.get(key) is not value
        ]
        for key in dropped:
            context = baggage.remove_baggage(key, context)
        span_context = trace.get_current_span(context).get_span_context()
        state = span_context.trace_state
        if span_context.is_remote and state:
            kept = TraceState([(k, v) for k, v in state.items() if k in self.tracestate_keys])
            if len(kept) != len(state):
                remote = SpanContext(
                    span_context.trace_id,
                    span_context.span_id,
                    is_remote=True,
                    trace_flags=span_context.trace_flags,
                    trace_state=kept,
                )
                context = trace.set_span_in_context(NonRecordingSpan(remote), context)
        return context

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


def _headers_that_carry_context(propagator: textmap.TextMapPropagator) -> tuple[str, ...] | None:
    """The headers without which `propagator` extracts nothing, when it is made of the W3C
    propagators only (OTEL_PROPAGATORS=tracecontext,baggage or either); else None: another
    propagator may read headers of its own (jaeger's uberctx-*), so every extraction runs.
    A composite's members are a private attribute (telemetry.upstream.private_api); if it
    moved, every extraction runs too."""
    if propagator.__class__ is CompositePropagator:
        members = getattr(propagator, "_propagators", None)
    else:
        members = [propagator]
    if members is None or not all(member.__class__ in _FIRST_HEADER for member in members):
        return None
    return tuple(_FIRST_HEADER[member.__class__] for member in members)


def filter_inbound_context(*, baggage_keys: Iterable[str], tracestate_keys: Iterable[str]) -> None:
    """Wrap the global propagator in an InboundContextFilter (once per process)."""
    current = propagate.get_global_textmap()
    if isinstance(current, InboundContextFilter):
        current = current.inner
    propagate.set_global_textmap(
        InboundContextFilter(current, baggage_keys=baggage_keys, tracestate_keys=tracestate_keys)
    )
