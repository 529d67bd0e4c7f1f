"""A 2 KB JSON body nested 990 deep, to every JSON endpoint of a running gunicorn: a 400 in
the one error shape (issue 15: RecursionError in the parser, a 500 feeding the 5xx alerts),
anonymously and as staff; a body over API_JSON_MAX_BYTES is a 413 without being parsed."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e

NESTED = "[" * 990 + "]" * 990
ANONYMOUS = ["/api/downstream/enrich", "/api/auth/token"]
STAFF = ["/api/users", "/api/process", "/api/jobs", "/api/telemetry/profiling-runs"]


def test_deep_json_is_refused_with_a_400_everywhere(stack):
    base_url = stack.start_web(ALERTMANAGER_WEBHOOK_TOKEN="hook-token")
    token = api_token(base_url, stack)
    headers = {"Content-Type": "application/json"}
    calls = [(path, {}) for path in ANONYMOUS]
    calls += [(path, {"Authorization": f"Token {token}"}) for path in STAFF]
    calls += [("/api/telemetry/alertmanager/webhook", {"Authorization": "Bearer hook-token"})]
    for path, auth in calls:
        response = httpx.post(f"{base_url}{path}", content=NESTED, headers={**headers, **auth})
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
        error = response.json()["error"]
        assert error["code"] == "parse_error" and "deeper than 64" in error["message"], error

    big = '{"data": "' + "x" * (1024 * 1024) + '"}'
    response = httpx.post(
        f"{base_url}/api/jobs", content=big, headers={**headers, "Authorization": f"Token {token}"}
    )
    assert response.status_code == 413, response.text[:200]
    assert response.json()["error"]["code"] == "too_large"
    assert "Traceback" not in stack.logs()
