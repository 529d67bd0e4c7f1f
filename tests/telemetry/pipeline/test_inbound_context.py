"""The inbound context filter's shortcut: a carrier without the W3C headers has nothing to
extract, and the filter says so without running the propagators. It must extract exactly
what the propagators and the filter extract, and apply only to the W3C propagators."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from telemetry.pipeline.inbound_context import InboundContextFilter

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CARRIERS = [
    {},
    {"traceparent": PARENT},
    {"traceparent": ""},
    {"tracestate": "vendor=1"},  # without a traceparent: ignored
    {"traceparent": PARENT, "tracestate": "kept=1,vendor=2"},
    {"baggage": "tenant=acme,user.email=someone@example.com"},
    {"baggage": ""},
    {"user-agent": "curl"},
]


def _filter() -> InboundContextFilter:
    w3c = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    return InboundContextFilter(w3c, baggage_keys=["tenant"], tracestate_keys=["kept"])


def _seen(context: Context) -> tuple:
    span_context = trace.get_current_span(context).get_span_context()
    return span_context, dict(baggage.get_all(context))


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_shortcut_extracts_what_the_propagators_extract(carrier):
    shortcut = _filter()
    full = _filter()
    full.context_headers = None  # every extraction runs the propagators
    base = baggage.set_baggage("set.here", "1", Context())

    assert _seen(shortcut.extract(carrier, base)) == _seen(full.extract(carrier, base))
    assert _seen(shortcut.extract(carrier)) == _seen(full.extract(carrier))
    if not any(carrier.get(name) for name in ("traceparent", "baggage")):
        assert shortcut.extract(carrier, base) is base


class _CustomHeader(textmap.TextMapPropagator):
    """A propagator with a header of its own, as jaeger's uberctx-* baggage."""

    def extract(self, carrier, context=None, getter=textmap.default_getter):
        value = getter.get(carrier, "x-tenant")
        context = context if context is not None else Context()
        return baggage.set_baggage("tenant", value[0], context) if value else context

    def inject(self, carrier, context=None, setter=textmap.default_setter):
        pass

    @property
    def fields(self):
        return {"x-tenant"}


def test_another_propagator_is_run_for_every_carrier():
    propagators = CompositePropagator([TraceContextTextMapPropagator(), _CustomHeader()])
    filtered = InboundContextFilter(propagators, baggage_keys=["tenant"])

    context = filtered.extract({"x-tenant": "acme"}, Context())

    assert baggage.get_baggage("tenant", context) == "acme"


def _environ(carrier: dict) -> dict:
    """The WSGI environ a request with these headers arrives with."""
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in carrier.items()}


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_server_span_skips_extract_only_where_it_would_give_the_context_back(carrier):
    from opentelemetry import propagate
    from opentelemetry.instrumentation.wsgi import wsgi_getter

    from telemetry.fastpath.server_span import _carries_no_context

    before = propagate.get_global_textmap()
    propagate.set_global_textmap(_filter())
    try:
        environ = _environ(carrier)
        skipped = _carries_no_context(environ)
        # Skipped exactly where the filter answers "nothing to extract" itself: an empty
        # header still goes through the propagators, as wsgi_getter finds it.
        assert skipped == all(name not in carrier for name in ("traceparent", "baggage"))
        if skipped:
            base = baggage.set_baggage("set.here", "1", Context())
            assert propagate.extract(environ, base, getter=wsgi_getter) is base
        # Any other propagator may read any header: never skipped.
        propagate.set_global_textmap(TraceContextTextMapPropagator())
        assert _carries_no_context(environ) is False
    finally:
        propagate.set_global_textmap(before)
