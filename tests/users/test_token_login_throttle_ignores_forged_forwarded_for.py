"""POST /api/auth/token through nginx (NUM_PROXIES=1): the client is the address nginx saw,
whatever X-Forwarded-For the client writes. 40 wrong passwords with a new forged header
each are throttled after 10 (issue 15: never), a forged header cannot spend another
client's quota, and one account is locked after 10 failures from any number of addresses.
Clients are told apart by their source address (127.0.0.2, 127.0.0.3 ... on loopback)."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.proxy import NGINX, start_proxy
from tests.harness.servers import create_superuser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian `nginx`)"),
]


def client_from(address: str, base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, transport=httpx.HTTPTransport(local_address=address), timeout=15
    )


def test_login_throttle_and_lockout_count_the_address_nginx_saw(stack):
    web = stack.start_web(NUM_PROXIES="1")
    proxy = start_proxy(stack, web)
    email, password = create_superuser(stack)

    attacker = client_from("127.0.0.2", proxy)
    statuses = [
        attacker.post(
            "/api/auth/token",
            data={"username": f"guess{n}@example.com", "password": "wrong"},
            headers={"X-Forwarded-For": f"203.0.113.{n}, 127.0.0.3"},
        ).status_code
        for n in range(40)
    ]
    assert statuses[:9] == [400] * 9, statuses
    assert set(statuses[10:]) == {429}, statuses

    # The forged "127.0.0.3" spent nothing of 127.0.0.3's own quota.
    victim = client_from("127.0.0.3", proxy)
    assert (
        victim.post("/api/auth/token", data={"username": email, "password": password}).status_code
        == 200
    )

    # One account, many addresses: locked after 10 failures, the right password included.
    for n in range(10):
        guesser = client_from(f"127.0.1.{n + 1}", proxy)
        guesser.post("/api/auth/token", data={"username": email.upper(), "password": "wrong"})
    locked = client_from("127.0.2.1", proxy).post(
        "/api/auth/token", data={"username": email, "password": password}
    )
    assert locked.status_code == 429, locked.text
    assert locked.json()["error"]["code"] == "locked_out"
    assert int(locked.headers["Retry-After"]) > 0
