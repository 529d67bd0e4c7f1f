"""Accounts on a running service (issue 15): look-alike emails (fullwidth or Cyrillic letters)
do not register as other users, login ignores case, the configured password validators
apply to POST /api/users, a chunked request body is read, and /ready tells anonymous callers
which dependency is down without naming hosts or ports."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.servers import admin_session, api_token, free_port

pytestmark = pytest.mark.e2e

PASSWORD = "a sturdy pass phrase 42"


def test_look_alikes_case_weak_passwords_chunked_bodies_and_ready(stack):
    closed_port = free_port()
    base_url = stack.start_web(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0", TELEMETRY_CONTROL_REDIS_URL=""
    )
    token = api_token(base_url, stack)
    staff = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15)

    created = staff.post(
        "/api/users", json={"email": "Dana@Example.com", "name": "Dana", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "dana@example.com"
    for look_alike in ("\uff24ana@example.com", "dana@\uff45xample.\uff43om"):  # fullwidth D, e, c
        fullwidth = staff.post(
            "/api/users", json={"email": look_alike, "name": "Fake", "password": PASSWORD}
        )
        assert fullwidth.status_code == 400, fullwidth.text
        assert "already exists" in fullwidth.json()["error"]["fields"]["email"][0]
    cyrillic = staff.post(
        "/api/users", json={"email": "dana@ex\u0430mple.com", "name": "Fake", "password": PASSWORD}
    )
    assert cyrillic.status_code == 400
    assert "look-alike" in cyrillic.json()["error"]["fields"]["email"][0]

    login = httpx.post(
        f"{base_url}/api/auth/token", data={"username": "DANA@EXAMPLE.COM", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text

    for weak in ("password", "12345678", "dana@example.com"):
        response = staff.post(
            "/api/users", json={"email": "erin@example.com", "name": "Erin", "password": weak}
        )
        assert response.status_code == 400, (weak, response.text)
        assert response.json()["error"]["fields"]["password"], response.text
    assert staff.get("/api/users", params={"email": "erin@example.com"}).json()["count"] == 0

    def chunks():
        yield b'{"data": "sent in '
        yield b'chunks"}'

    chunked = staff.post(
        "/api/process", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code != 400, chunked.text  # 200, or 502 without a downstream
    assert "data" not in chunked.json().get("error", {}).get("fields", {})

    anonymous = httpx.get(f"{base_url}/ready")
    assert anonymous.status_code == 503
    assert anonymous.json()["checks"]["broker"] == "down"
    assert str(closed_port) not in anonymous.text and "127.0.0.1" not in anonymous.text
    session, _, _ = admin_session(stack, base_url)
    detailed = session.get("/ready").json()["checks"]["broker"]
    assert detailed.startswith("down: ") and len(detailed) > len("down: ")
