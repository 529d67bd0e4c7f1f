"""Requests through Django's ASGI handler (what asgi.py serves under uvicorn, hypercorn or
gunicorn's uvicorn worker), in-process with the real telemetry set-up: async and sync views
traced with the same route names as under WSGI, the trace continued and handed back, probes
untraced, errors marked, forced sampling obeyed, and no telemetry middleware adapted with
sync_to_async.

Each runs twice: on the site's middleware, where WhiteNoise (synchronous only) makes Django
run the whole chain in one synchronous call (so the middlewares serve in their sync mode),
and on the same chain without WhiteNoise, where every middleware serves in its async mode
(ServerSpanMiddleware's own coroutine path).
"""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, override_settings
from opentelemetry.trace import SpanKind, StatusCode

from telemetry.pipeline import middleware
from tests.telemetry.sampling.support import snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.telemetry.urls")]

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4737"
PARENT_SPAN_ID = "10f067aa0ba902b8"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture(autouse=True, params=["site chain", "async chain"])
def chain(request, settings) -> str:
    if request.param == "async chain":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "whitenoise" not in m]
    return request.param


def server_spans(otel):
    return [s for s in otel.finished_spans() if s.kind == SpanKind.SERVER]


def get(path: str, **headers: str):
    return async_to_sync(AsyncClient().get)(path, headers=headers)


def test_it_names_an_async_views_span_by_its_route_and_continues_the_trace(otel):
    response = get("/test/async/7", traceparent=TRACEPARENT)

    assert response.status_code == 200
    (span,) = server_spans(otel)
    assert span.name == "GET /test/async/{item_id}"
    assert span.attributes["http.route"] == "/test/async/{item_id}"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 200
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    # The span was current inside the async view, after an await.
    assert response.json()["trace_id"] == TRACE_ID
    # The client gets the trace back (W3C traceresponse).
    span_id = format(span.context.span_id, "016x")
    assert response.headers["traceresponse"] == f"00-{TRACE_ID}-{span_id}-01"
    points = [
        p
        for p in otel.metric_points("http.server.request.duration")
        if p.attributes.get("http.route") == "/test/async/{item_id}"
    ]
    assert points and points[0].attributes["http.response.status_code"] == 200


def test_a_sync_view_under_asgi_has_its_spans_inside_the_server_span(otel):
    response = get("/test/sync-query/5")

    assert response.status_code == 200 and response.json() == {"item": 5}
    (server,) = server_spans(otel)
    assert server.name == "GET /test/sync-query/{item_id}"
    # The view ran in sync_to_async's thread: the context crossed over with it.
    (work,) = [s for s in otel.finished_spans() if s.name == "sync view work"]
    assert work.parent.span_id == server.context.span_id
    assert work.context.trace_id == server.context.trace_id


def test_the_probes_leave_no_span_under_asgi(otel):
    for path in ("/health", "/ready"):
        assert get(path).status_code in (200, 503)

    assert otel.finished_spans() == []


def test_an_async_view_that_raises_marks_the_span(otel):
    before = otel.count("app.errors", **{"error.type": "ZeroDivisionError"})

    client = AsyncClient(raise_request_exception=False)
    response = async_to_sync(client.get)("/test/async-fail")

    assert response.status_code == 500
    (span,) = server_spans(otel)
    assert span.name == "GET /test/async-fail"
    assert span.status.status_code is StatusCode.ERROR
    assert otel.count("app.errors", **{"error.type": "ZeroDivisionError"}) == before + 1


def test_a_forced_request_is_kept_under_asgi_at_ratio_zero(otel, sampling_policy):
    forcing = {"force_header_key": "HTTP_X_DEBUG_TRACE", "force_header_value": "s3cret"}
    sampling_policy(snapshot(0.0, forcing=True, **forcing))
    get("/test/async/1", **{"x-debug-trace": "s3cret"})
    get("/test/async/2")

    (span,) = server_spans(otel)
    assert span.attributes["sampling.rule"] == "forced: header"


def test_no_telemetry_middleware_is_adapted_with_sync_to_async(otel, caplog, settings, chain):
    # With DEBUG on, Django logs each middleware whose mode it has to adapt to the handler's
    # (a thread hop per request under ASGI), on django.request.
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        handler = ASGIHandler()

    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    ours = (
        middleware.FORCED_SAMPLING,
        middleware.SERVER_SPAN,
        middleware.UNTRACED_PROBES,
        "telemetry.profiling.middleware.ProfilingMiddleware",
    )
    assert not [m for m in adapted if any(path in m for path in ours)], adapted
    if chain == "site chain":
        # The check sees adaptations: WhiteNoise 6 is synchronous only, and so makes every
        # middleware above it synchronous too (one thread hop for the whole chain).
        assert any("WhiteNoiseMiddleware" in message for message in adapted), adapted
    else:
        # Without it nothing is adapted: the chain down to the view is coroutines.
        assert adapted == []
        assert iscoroutinefunction(handler._middleware_chain)


@override_settings(ROOT_URLCONF="observability_site.urls")
def test_an_unknown_path_is_named_by_its_method_only(otel):
    assert get("/no/such/path").status_code == 404

    (span,) = server_spans(otel)
    assert span.name == "GET"
