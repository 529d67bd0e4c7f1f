"""Redis in trouble under the request path: the cache (throttle counters) cut, or the cache
and the broker hanging (a partition: connections open, nothing answers). Every request that
needs it gets a 503 with Retry-After within its timeouts (issue 15: a 500 for every throttled
request when the cache was cut; POST /api/jobs held 20 s by a hanging broker)."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness.servers import api_token
from tests.harness.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
        reason="needs the Redis of the PostgreSQL + Redis pass",
    ),
]


def redis_url_via(port: int) -> str:
    db = urlsplit(os.environ["CELERY_BROKER_URL"]).path or "/0"
    return f"redis://127.0.0.1:{port}{db}"


class Blackhole:
    """Listens and never accepts: the kernel completes each connection, nothing is read or
    answered, as with a Redis behind a partition that still passes the handshake."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def assert_503(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) > 0


def test_a_cut_cache_makes_throttled_requests_503_and_they_recover(stack):
    redis = urlsplit(os.environ["CELERY_BROKER_URL"])
    proxy = TcpProxy(redis.hostname, redis.port or 6379)
    proxy.start()
    base_url = stack.start_web(CACHE_URL=redis_url_via(proxy.port))
    token = api_token(base_url, stack)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    assert client.get("/api/jobs").status_code == 200

    proxy.cut()
    assert_503(client.get("/api/jobs"), "cache_unavailable")
    assert_503(
        httpx.post(f"{base_url}/api/auth/token", data={"username": "a@b.c", "password": "x"}),
        "cache_unavailable",
    )
    proxy.start()
    deadline = time.monotonic() + 20
    while (status := client.get("/api/jobs").status_code) != 200:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_a_hanging_cache_and_broker_give_a_503_within_their_timeouts(stack):
    with Blackhole() as cache_port, Blackhole() as broker_port:
        base_url = stack.start_web(TELEMETRY_CONTROL_REDIS_URL="")
        token = api_token(base_url, stack)  # before the cache hangs: login is throttled too
        stack.stop()
        base_url = stack.start_web(
            CACHE_URL=redis_url_via(cache_port),
            CELERY_BROKER_URL=redis_url_via(broker_port),
            TELEMETRY_CONTROL_REDIS_URL="",
        )
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=60
        )
        started = time.monotonic()
        assert_503(client.get("/api/jobs"), "cache_unavailable")
        cache_seconds = time.monotonic() - started

        # The broker alone hanging: the cache is back (files), the publish is what waits.
        stack.stop()
        base_url = stack.start_web(
            CELERY_BROKER_URL=redis_url_via(broker_port), TELEMETRY_CONTROL_REDIS_URL=""
        )
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=60
        )
        started = time.monotonic()
        assert_503(client.post("/api/jobs", json={"data": "into the void"}), "broker_unavailable")
        broker_seconds = time.monotonic() - started
    print(f"hanging cache: 503 after {cache_seconds:.2f} s; hanging broker: {broker_seconds:.2f} s")
    assert cache_seconds < 5
    assert broker_seconds < 10
