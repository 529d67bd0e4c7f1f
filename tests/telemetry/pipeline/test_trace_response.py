"""The W3C traceresponse header: every traced response names its trace, span and sampled
flag, so a client or a support engineer can find the trace; exposed to browsers' scripts;
TELEMETRY_TRACE_RESPONSE switches it (read at start-up)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from opentelemetry.trace import SpanKind

from telemetry.pipeline.config import load_config

pytestmark = pytest.mark.django_db

TRACE_ID = "6bf92f3577b34da6a3ce929d0e0e4738"
TRACEPARENT = f"00-{TRACE_ID}-20f067aa0ba902b9-01"


def test_a_traced_response_names_its_trace(otel):
    response = Client().get("/", HTTP_TRACEPARENT=TRACEPARENT)

    (span,) = [s for s in otel.finished_spans() if s.kind == SpanKind.SERVER]
    span_id = format(span.context.span_id, "016x")
    assert response["traceresponse"] == f"00-{TRACE_ID}-{span_id}-01"
    assert "traceresponse" in response["Access-Control-Expose-Headers"]


def test_a_new_trace_is_handed_back_too(otel):
    response = Client().get("/api/users/1")

    # Flags: 01 sampled, 02 a random trace id (W3C Trace Context Level 2), as the SDK sets.
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]", response["traceresponse"])
    (span,) = [s for s in otel.finished_spans() if s.kind == SpanKind.SERVER]
    assert response["traceresponse"].split("-")[1] == format(span.context.trace_id, "032x")


def test_a_probe_has_no_trace_to_hand_back(otel):
    assert "traceresponse" not in Client().get("/health")


@pytest.mark.parametrize(("raw", "on"), [(None, True), ("true", True), ("false", False)])
def test_the_switch_is_read_from_the_environment(monkeypatch, raw, on):
    if raw is None:
        monkeypatch.delenv("TELEMETRY_TRACE_RESPONSE", raising=False)
    else:
        monkeypatch.setenv("TELEMETRY_TRACE_RESPONSE", raw)

    assert load_config().trace_response is on


def test_a_bad_switch_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("TELEMETRY_TRACE_RESPONSE", "sometimes")

    with pytest.raises(ImproperlyConfigured, match="TELEMETRY_TRACE_RESPONSE must be a boolean"):
        load_config()
