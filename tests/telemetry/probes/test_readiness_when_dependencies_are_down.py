"""With its broker or database down, the service stays alive (/health), says which
dependency is down (/ready, 503), and a job that cannot be queued is kept, marked failed."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.harness.servers import api_token, free_port

pytestmark = pytest.mark.e2e


def test_with_the_broker_down_ready_names_it_and_jobs_are_kept(stack):
    dead_port = free_port()
    base_url = stack.start_web(CELERY_BROKER_URL=f"redis://127.0.0.1:{dead_port}/0")
    token = api_token(base_url, stack)
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"})

    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"] == "down"  # what failed, and where, is for staff and the log

    response = client.post("/api/jobs", json={"data": "keep me"}, timeout=30)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    [job] = client.get("/api/jobs").json()["results"]
    assert job["status"] == "failed"
    assert job["error"].startswith("could not queue the job")


def test_with_the_database_down_ready_names_it(stack, tmp_path):
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/nothing"
    else:
        unreachable = f"sqlite:///{tmp_path}/no/such/dir/db.sqlite3"
    base_url = stack.start_web(DATABASE_URL=unreachable)

    assert httpx.get(f"{base_url}/health").status_code == 200
    ready = httpx.get(f"{base_url}/ready", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "down"  # what failed, and where, is for staff and the log
    assert checks["broker"] == "ok"
