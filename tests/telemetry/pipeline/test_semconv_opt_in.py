"""OTEL_SEMCONV_STABILITY_OPT_IN as the operator sets it, end to end (gunicorn, a real
collector): the database spans (sqlite3 or psycopg, through the dbapi instrumentation) use
the stable names (db.system.name, db.query.text) when `database` is opted in, both sets with
`database/dup`, the old ones otherwise; the HTTP spans and metrics are the stable ones
whatever is listed, with the old ones beside them under `http/dup`."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.collector import otlp_env, spans_named
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("opt_in", "database_names", "old_http"),
    [
        ("", "old", False),
        ("database", "stable", False),
        ("database/dup", "both", False),
        ("http/dup,database", "stable", True),
    ],
    ids=["default", "database", "database-dup", "http-dup-and-database"],
)
def test_the_operators_opt_in_is_honoured(collector, stack, opt_in, database_names, old_http):
    env = otlp_env(collector)
    if opt_in:
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = opt_in
    base_url = stack.start_web(GUNICORN_WORKERS="1", **env)
    trace_id, _, traceparent = new_traceparent()

    # A failed login looks the user up: database spans inside the request's server span.
    response = httpx.post(
        f"{base_url}/api/auth/token",
        data={"username": "nobody@example.com", "password": "wrong"},
        headers={"traceparent": traceparent},
        timeout=10,
    )
    assert response.status_code == 400

    received = collector.wait_for(
        "the request's server and database spans, and its duration metric",
        lambda r: bool(
            spans_named(r.spans_in(trace_id), "POST /api/auth/token")
            and any(s["kind"] == "SPAN_KIND_CLIENT" for s in r.spans_in(trace_id))
            and "http.server.request.duration" in r.metric_names()
        ),
    )
    queries = [
        s["attributes"] for s in received.spans_in(trace_id) if s["kind"] == "SPAN_KIND_CLIENT"
    ]
    select = next(
        q for q in queries if "SELECT" in str(q.get("db.query.text", q.get("db.statement")))
    )
    vendor = "postgresql" if stack.env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    stable = {"db.system.name", "db.query.text"} <= select.keys()
    old = {"db.system", "db.statement"} <= select.keys()
    assert (stable, old) == {
        "old": (False, True),
        "stable": (True, False),
        "both": (True, True),
    }[database_names], select
    if stable:
        assert select["db.system.name"] == vendor
        assert "%s" in select["db.query.text"] or "?" in select["db.query.text"]
        assert "nobody@example.com" not in select["db.query.text"]
    (server,) = spans_named(received.spans_in(trace_id), "POST /api/auth/token")
    # The stable HTTP names always (dashboards and alert rules are written against them).
    assert server["attributes"]["http.request.method"] == "POST"
    assert server["attributes"]["http.response.status_code"] == 400
    assert server["attributes"]["http.route"] == "/api/auth/token"
    assert ("http.method" in server["attributes"]) is old_http
    assert ("http.server.duration" in received.metric_names()) is old_http
    web = stack.processes[-1].output()
    assert "Traceback" not in web, web[-3000:]
