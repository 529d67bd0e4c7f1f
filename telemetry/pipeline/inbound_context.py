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
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.propagators import textmap
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceState


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

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        base = context if context is not None else get_current()
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


def filter_inbound_context(*, baggage_keys: Iterable[str], tracestate_keys: Iterable[str]) -> None:
    """Wrap the global propagator in an InboundContextFilter (once per process)."""
    current = propagate.get_global_textmap()
    if isinstance(current, InboundContextFilter):
        current = current.inner
    propagate.set_global_textmap(
        InboundContextFilter(current, baggage_keys=baggage_keys, tracestate_keys=tracestate_keys)
    )
