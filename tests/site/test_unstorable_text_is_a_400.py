"""A NUL character or a lone surrogate anywhere in a JSON body (a webhook label's key, a
profiling run's text fields) is a 400 naming where, and nothing is stored (issue 15: a 500
from PostgreSQL, or from the encoder)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.harness.servers import api_token, manage

pytestmark = pytest.mark.e2e


def alert_notification(labels: dict) -> dict:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "service",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", **labels},
                "annotations": {},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "abc",
            }
        ],
    }


def stored(stack, model: str) -> int:
    out = manage(
        stack.env,
        "shell",
        "-c",
        f"from telemetry.models import {model}; print({model}.objects.count())",
    )
    return int(out.strip().splitlines()[-1])


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_unstorable_text_in_json_is_a_400_and_nothing_is_stored(stack, bad):
    base_url = stack.start_web(ALERTMANAGER_WEBHOOK_TOKEN="hook-token")
    token = api_token(base_url, stack)
    # json.dumps writes \u0000 and \ud800 escapes: what a hostile client sends.
    webhook = httpx.post(
        f"{base_url}/api/telemetry/alertmanager/webhook",
        content=json.dumps(alert_notification({f"team{bad}": "payments"})),
        headers={"Content-Type": "application/json", "Authorization": "Bearer hook-token"},
    )
    assert webhook.status_code == 400, webhook.text
    assert list(webhook.json()["error"]["fields"]) == [
        "alerts[0].labels." + repr(f"team{bad}")[1:-1]
    ]
    for field in ("name", "route_pattern", "task_pattern"):
        run = httpx.post(
            f"{base_url}/api/telemetry/profiling-runs",
            content=json.dumps({"name": "ok", "target": "requests", field: f"x{bad}y"}),
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        )
        assert run.status_code == 400, (field, run.text)
        assert list(run.json()["error"]["fields"]) == [field]
    assert stored(stack, "AlertEvent") == 0
    assert stored(stack, "ProfilingRun") == 0
