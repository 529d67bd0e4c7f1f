"""PostgreSQL goes away under a running service and comes back: requests get a clear 503
(not a traceback) while it is gone, and the same processes recover without a restart."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.harness.servers import api_token
from tests.harness.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="SQLite is a file with no server to lose; this runs in the PostgreSQL pass",
    ),
]


def test_the_service_answers_503_while_postgres_is_away_and_recovers(stack):
    db_url = urlsplit(stack.env["DATABASE_URL"])
    proxy = TcpProxy(db_url.hostname, db_url.port or 5432)
    proxy.start()
    via_proxy = urlunsplit(db_url._replace(netloc=f"{db_url.username}@127.0.0.1:{proxy.port}"))
    base_url = stack.start_web(DATABASE_URL=via_proxy, DATABASE_CONN_MAX_AGE="600")
    token = api_token(base_url, stack)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    assert client.get("/api/users").status_code == 200

    proxy.cut()
    for path in ("/api/users", "/api/jobs"):
        response = client.get(path)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert response.headers["Retry-After"] == "5"
    # /ready is not a DRF view: the token does not count; anonymous callers get no details.
    assert client.get("/ready").json()["checks"]["database"] == "down"
    assert client.get("/health").status_code == 200

    proxy.start()  # same port: the service was never told anything changed
    deadline = time.monotonic() + 20
    while (status := client.get("/api/users").status_code) != 200:
        assert time.monotonic() < deadline, f"no recovery, last status {status}"
        time.sleep(0.2)
    assert client.get("/ready").status_code == 200
    created = client.post("/api/jobs", json={"data": "after the outage"})
    assert created.status_code in (202, 503)  # 503 only if no broker: never a 500
