"""A downstream call's client span keeps its attributes whoever decides to keep it: the httpx
instrumentation gives them all when it starts the span, and the SDK records only what the
sampler hands back. Under a policy row and under OTEL_TRACES_SAMPLER, as a root and inside a
job's span. In-process: the real SDK, sampler and instrumentation; the live server answers."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tests.telemetry.sampling.support import snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("decided_by", ["policy row", "OTEL_TRACES_SAMPLER"])
@pytest.mark.parametrize("inside_a_job", [False, True], ids=["root", "inside a job"])
def test_a_downstream_call_keeps_its_attributes(
    otel, sampling_policy, live_server, decided_by, inside_a_job
):
    if decided_by == "policy row":
        sampling_policy(snapshot(1.0))
    url = f"{live_server.url}/health"

    if inside_a_job:
        with trace.get_tracer("tests.client_spans").start_as_current_span(
            "run/processing.process_job", kind=SpanKind.CONSUMER
        ):
            response = httpx.get(url)
    else:
        response = httpx.get(url)

    assert response.status_code == 200
    (client,) = [s for s in otel.finished_spans() if s.kind == SpanKind.CLIENT]
    attributes = dict(client.attributes)
    assert attributes["url.full"] == url
    assert attributes["http.request.method"] == "GET"
    assert attributes["server.address"] == urlsplit(url).hostname
    assert attributes["server.port"] == urlsplit(url).port
    assert attributes["http.response.status_code"] == 200
