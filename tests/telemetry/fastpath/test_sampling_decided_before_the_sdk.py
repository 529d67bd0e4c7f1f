"""The server-span middleware decides sampling before the SDK: a request the policy drops
gets a non-recording span of its own (a valid trace id, the parent's when one came, handed
back in traceresponse and in the logs) without the SDK's Tracer.start_span; a kept root
is started by the SDK on the very trace id the decision was made on, so a ratio applies
once. In-process, the real SDK and policy sampler, spans read from memory."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, override_settings
from opentelemetry.trace import SpanKind, get_current_span

from telemetry.sampling.policy import TRACE_ID_MASK
from tests.telemetry.fastpath import side_by_side_urls
from tests.telemetry.sampling.support import snapshot

pytestmark = pytest.mark.django_db

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4731"


@pytest.fixture
def sdk_span_starts(monkeypatch) -> list[str]:
    """The name of every span the server span's tracer starts through the SDK."""
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    tracer = _DjangoMiddleware._tracer
    started: list[str] = []
    start_span = tracer.start_span

    def counting_start_span(name, *args, **kwargs):
        started.append(name)
        return start_span(name, *args, **kwargs)

    monkeypatch.setattr(tracer, "start_span", counting_start_span)
    return started


def server_spans(otel):
    return [s for s in otel.finished_spans() if s.kind == SpanKind.SERVER]


def flags_and_trace(response) -> tuple[str, str]:
    _, trace_id, _, flags = response["traceresponse"].split("-")
    return trace_id, flags


@override_settings(ROOT_URLCONF="tests.telemetry.fastpath.side_by_side_urls")
def test_a_dropped_root_request_skips_the_sdk_but_keeps_a_trace_id(
    otel, sampling_policy, sdk_span_starts
):
    sampling_policy(snapshot(0.0))
    seen = []

    def inside_the_view():
        seen.append(get_current_span().get_span_context())
        logging.getLogger("tests.fastpath").warning("inside the view")

    side_by_side_urls.while_serving.append(inside_the_view)
    try:
        response = Client().get("/side/ok")
    finally:
        side_by_side_urls.while_serving.remove(inside_the_view)

    assert response.status_code == 200
    assert server_spans(otel) == [] and sdk_span_starts == []
    (context,) = seen
    trace_id, flags = flags_and_trace(response)
    assert context.is_valid and not context.trace_flags.sampled and flags in ("00", "02")
    assert format(context.trace_id, "032x") == trace_id
    # The view's log record carries the same trace id (log correlation still works).
    (record,) = [r for r in otel.logs.get_finished_logs() if r.log_record.body == "inside the view"]
    assert format(record.log_record.trace_id, "032x") == trace_id


def test_a_dropped_request_continues_its_unsampled_parent(otel, sampling_policy, sdk_span_starts):
    sampling_policy(snapshot(1.0))  # the parent's flag decides, not the ratio
    response = Client().get("/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-00")

    assert server_spans(otel) == [] and sdk_span_starts == []
    assert flags_and_trace(response)[0] == TRACE_ID


def test_a_kept_request_goes_through_the_sdk(otel, sampling_policy, sdk_span_starts):
    sampling_policy(snapshot(0.0))
    response = Client().get("/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01")

    (span,) = server_spans(otel)
    assert len(sdk_span_starts) == 1
    assert format(span.context.trace_id, "032x") == TRACE_ID == flags_and_trace(response)[0]
    assert span.attributes["sampling.rule"] == "parent"


def test_a_ratio_applies_once_on_the_trace_id_the_span_keeps(otel, sampling_policy):
    policy = snapshot(0.5)
    sampling_policy(policy)
    client = Client()
    requests = 300
    for _ in range(requests):
        client.get("/")

    kept = server_spans(otel)
    # Decided on the kept span's own trace id: every kept id is below the ratio's bound.
    assert all((s.context.trace_id & TRACE_ID_MASK) < policy.default.bound for s in kept)
    # Once, not twice (0.25): 300 draws at 0.5 fall outside 0.38-0.62 with p < 1e-4.
    assert 0.38 * requests < len(kept) < 0.62 * requests, len(kept)
    assert all(s.attributes["sampling.rule"] == "default" for s in kept)


def test_the_server_span_tracer_has_the_ids_the_fast_path_needs(otel):
    # Without them every request goes the SDK's way (correct, slower): this keeps the tests
    # above from passing on that way.
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    from telemetry.fastpath.trace_ids import DecidedTraceIds

    assert isinstance(_DjangoMiddleware._tracer.id_generator, DecidedTraceIds)
