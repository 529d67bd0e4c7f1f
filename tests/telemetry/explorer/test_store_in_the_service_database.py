"""TELEMETRY_LOCAL_STORE_DATABASE=default: the store lives in the service's own database
(PostgreSQL in the second pass, SQLite in the first), created by the one `migrate`; the web
and worker processes write it and the console reads it, as with its own file."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.harness.jobs import wait_for_job
from tests.harness.servers import admin_session, login_token, prepared_stack
from tests.harness.telemetry_fixtures import new_traceparent
from tests.telemetry.explorer.e2e_support import QUICK_BATCHES

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("untraced_test_process")]


def test_the_store_in_the_service_database_serves_the_console(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_LOCAL_STORE_DATABASE", "default")
    with prepared_stack(tmp_path) as stack:
        try:
            base_url = stack.start_web(**QUICK_BATCHES)
            stack.start_worker(**QUICK_BATCHES)
            console, email, password = admin_session(stack, base_url)
            token = login_token(base_url, email, password)
            api = httpx.Client(
                base_url=base_url, timeout=20, headers={"Authorization": f"Token {token}"}
            )
            trace_id, _, traceparent = new_traceparent()
            response = api.post(
                "/api/jobs",
                json={"data": "kept beside the jobs"},
                headers={"traceparent": traceparent},
            )
            assert response.status_code == 202, response.text
            assert wait_for_job(api, response.json()["url"])["status"] == "succeeded"

            page = ""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                page = console.get(f"/admin/telemetry/console/traces/{trace_id}/").text
                # Each process exports in its own batches: the web's may come after the worker's.
                if all(
                    text in page
                    for text in ("run/processing.complete_job", "job succeeded", 'data-role="web"')
                ):
                    break
                time.sleep(0.5)
            assert "run/processing.complete_job" in page, stack.logs()
            assert "database &#x27;default&#x27;" in page  # where the page says the store is
            roles = set(re.findall(r'data-role="([^"]+)"', page))
            assert roles == {"web", "worker"}
            listing = console.get("/admin/telemetry/console/traces/", params={"role": "worker"})
            assert listing.status_code == 200 and trace_id in listing.text
            # Log records are batched apart from spans: they may come a batch later.
            logs = ""
            while time.monotonic() < deadline + 30:
                logs = console.get(
                    "/admin/telemetry/console/logs/", params={"trace_id": trace_id}
                ).text
                if "job queued" in logs and "processing data" in logs:
                    break
                time.sleep(0.5)
            assert "job queued" in logs and "processing data" in logs, stack.logs()
        except BaseException:
            print(stack.logs())
            raise
