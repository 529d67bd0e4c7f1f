"""What leaves the service as telemetry holds no personal data and no secrets, and hostile
trace headers neither break a request nor blow up span attributes. Checked on what a real
OTLP collector received."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import httpx
import pytest

from tests.harness.collector import otlp_env
from tests.harness.servers import api_token
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


PASSWORD = "Sup3r-secret-pw-0451"


def test_no_email_password_or_token_reaches_the_collector(collector, stack):
    stack.env.update(otlp_env(collector))
    base_url = stack.start_web()
    token = api_token(base_url, stack, email="staff.member@example.org")
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
    )
    trace_id, _, traceparent = new_traceparent()
    email = "alice.private@example.org"
    created = client.post(
        "/api/users",
        json={"email": email, "name": "Alice Private", "password": PASSWORD},
        headers={"traceparent": traceparent},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert client.get("/api/users", params={"email": email}).status_code == 200
    duplicate = client.post("/api/users", json={"email": email, "name": "Again"})
    assert duplicate.status_code == 400
    login = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200
    assert client.get(f"/api/users/{user_id}").status_code == 200

    received = collector.wait_for(
        "the user requests' spans and logs",
        lambda r: (
            len(r.spans_in(trace_id)) >= 2
            and any(s["name"] == "POST /api/auth/token" for s in r.spans)
            and any(s["name"] == "GET /api/users/{user_id}" for s in r.spans)
        ),
    )
    assert received.logs, "no log records arrived: the check below would prove nothing"
    # The database spans are among what is scanned: their statements hold placeholders only.
    statements = [
        s["attributes"].get("db.statement") or s["attributes"].get("db.query.text") or ""
        for s in received.spans
        if {"db.system", "db.system.name"} & s["attributes"].keys()
    ]
    assert any("INSERT INTO" in q and "users_user" in q for q in statements), statements
    assert any("SELECT" in q and "users_user" in q for q in statements), statements
    everything = collector.output()
    for secret in (email, "staff.member@example.org", PASSWORD, token, login.json()["token"]):
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            assert form not in everything, f"{form!r} reached the collector"
    assert "example.org" not in everything
    # The filter's shape is kept, its value is not.
    assert any(s["attributes"].get("url.query") == "email=REDACTED" for s in received.spans), (
        "the filtered request's span is missing"
    )
    assert "http.request.header.authorization" not in everything.lower()
    assert "http.request.header.cookie" not in everything.lower()


def test_hostile_trace_headers_neither_break_requests_nor_bloat_spans(collector, stack):
    stack.env.update(otlp_env(collector))
    base_url = stack.start_web()
    hostile = {
        "traceparent": "00-" + "z" * 4000,
        "tracestate": ",".join(f"k{i}=" + "v" * 200 for i in range(30)),
        "baggage": ",".join(f"key{i}=" + "x" * 200 for i in range(30)),
        "User-Agent": "agent/" + "u" * 7000,
    }
    for path in ("/", "/api/downstream/enrich"):
        response = httpx.request(
            "POST" if "enrich" in path else "GET",
            base_url + path,
            headers=hostile,
            json={"words": 1, "sha256": "0" * 64} if "enrich" in path else None,
            timeout=15,
        )
        assert response.status_code == 200, response.text

    received = collector.wait_for(
        "the spans of the hostile requests",
        lambda r: (
            any(s["name"] == "POST /api/downstream/enrich" for s in r.spans)
            and any(s["name"] == "GET /" for s in r.spans)
        ),
    )
    for span in received.spans:
        # The invalid traceparent was ignored: each request started a trace of its own.
        assert "z" * 32 not in span["trace_id"]
        for name, value in span["attributes"].items():
            assert len(str(value)) <= 2048, (span["name"], name, len(str(value)))
    agents = [
        s["attributes"]["user_agent.original"]
        for s in received.spans
        if "user_agent.original" in s["attributes"]
    ]
    assert agents and all(len(a) == 2048 for a in agents)
