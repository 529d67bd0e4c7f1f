"""The admin's login form is locked for an account after 10 wrong passwords: the 41st try,
with the right password, is refused (issue 15: it logged in, 17 s after 40 failures); every
attempt is in the audit log (django-axes' AccessAttempt and AccessFailureLog)."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.servers import create_superuser, manage

pytestmark = pytest.mark.e2e


def admin_login(client: httpx.Client, base_url: str, email: str, password: str) -> httpx.Response:
    client.get("/admin/login/")
    return client.post(
        "/admin/login/?next=/admin/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base_url}/admin/login/"},
    )


def test_the_admin_login_locks_an_account_after_repeated_failures(stack):
    base_url = stack.start_web()
    email, password = create_superuser(stack)
    client = httpx.Client(base_url=base_url, timeout=15, follow_redirects=False)
    statuses = [admin_login(client, base_url, email, "wrong").status_code for _ in range(40)]
    assert statuses[:9] == [200] * 9, statuses  # the form again, with its error
    assert set(statuses[9:]) == {429}, statuses

    right = admin_login(client, base_url, email, password)
    assert right.status_code == 429, right.text[:300]
    assert "sessionid" not in client.cookies
    assert "Too many failed login attempts" in right.text

    audit = manage(
        stack.env,
        "shell",
        "-c",
        "from axes.models import AccessAttempt, AccessFailureLog; "
        "print(AccessAttempt.objects.count(), AccessFailureLog.objects.count())",
    )
    attempts, failures = map(int, audit.strip().splitlines()[-1].split())
    assert attempts >= 1 and failures >= 40
