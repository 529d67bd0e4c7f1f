"""The seeded meta-alert ServiceTargetDown fires end to end when the service's processes stop:
real gunicorn, Prometheus and Alertmanager on 127.0.0.1. While the service is down its own
webhook cannot take the alert, so it reaches PagerDuty (a local stand-in; critical); once the
service is back, Alertmanager's next notification lands in its alert events."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.harness.alertmanager import (
    WEBHOOK_PATH,
    active_alerts,
    alertmanager_config,
    receiving_sink,
    start_alertmanager,
)
from tests.harness.prometheus import ALERTMANAGER_JOB, loaded_rules, start_prometheus
from tests.harness.servers import api_token, free_port

pytestmark = pytest.mark.e2e

TOKEN = "e2e-target-down-token"


def wait_for(what: str, probe, timeout: float, stack):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            result = probe()
        except httpx.HTTPError:
            result = None
        if result:
            return result, time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s\n{stack.logs()}")


def rule_state(prom: str, name: str) -> str:
    return "".join(rule["state"] for rule in loaded_rules(prom).get(name, []))


def test_service_target_down_fires_when_the_processes_stop(stack, tmp_path):
    web_port = free_port()
    rules_file = tmp_path / "prometheus" / "live" / "observability-site.rules.yml"
    with receiving_sink() as (slack_url, _), receiving_sink(202) as (pagerduty_url, paged):
        config = alertmanager_config(
            tmp_path / "alertmanager",
            webhook_url=f"http://127.0.0.1:{web_port}{WEBHOOK_PATH}",
            token=TOKEN,
            slack_url=slack_url,
            pagerduty_url=pagerduty_url,
        )
        alertmanager = start_alertmanager(stack, tmp_path / "alertmanager", config)
        prom = start_prometheus(
            stack,
            tmp_path / "prometheus",
            targets={
                "observability-site": [f"127.0.0.1:{web_port}"],
                ALERTMANAGER_JOB: [alertmanager.removeprefix("http://")],
            },
            alertmanager=alertmanager.removeprefix("http://"),
            rules_dir=rules_file.parent,
        )
        web_env = {
            "ALERTMANAGER_WEBHOOK_TOKEN": TOKEN,
            "PROMETHEUS_URL": prom,
            "PROMETHEUS_RULES_FILE": str(rules_file),
        }
        base_url = stack.start_web(port=web_port, **web_env)
        web = stack.processes[-1]
        api = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {api_token(base_url, stack)}"}
        )
        # The seeded rule, with `for` shortened from 1m through the API (which publishes).
        rules = api.get("/api/telemetry/alert-rules").json()["results"]
        (rule,) = [r for r in rules if r["name"] == "ServiceTargetDown"]
        changed = api.patch(f"/api/telemetry/alert-rules/{rule['id']}", json={"for_duration": "2s"})
        assert changed.status_code == 200 and changed.json()["publication"]["outcome"] == "live"
        wait_for(
            "the target up",
            lambda: (
                rule_state(prom, "ServiceTargetDown") == "inactive"
                and [
                    t
                    for t in httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
                    if t["labels"]["job"] == "observability-site" and t["health"] == "up"
                ]
            ),
            30,
            stack,
        )

        # The service's processes stop (SIGTERM to gunicorn's master, as a supervisor does).
        web.stop()
        stack.processes.remove(web)
        stopped = time.monotonic()
        wait_for(
            "firing in Prometheus",
            lambda: rule_state(prom, "ServiceTargetDown") == "firing",
            60,
            stack,
        )
        firing_after = time.monotonic() - stopped
        (alert,), _ = wait_for(
            "in Alertmanager", lambda: active_alerts(alertmanager, "ServiceTargetDown"), 60, stack
        )
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["instance"] == f"127.0.0.1:{web_port}"
        pages, _ = wait_for(
            "paged",
            lambda: [
                p
                for p in paged
                if p.get("payload", {}).get("summary", "").startswith("ServiceTargetDown")
            ],
            60,
            stack,
        )
        paged_after = time.monotonic() - stopped
        assert pages[0]["event_action"] == "trigger"

        # Back up: the alert resolves, and Alertmanager's webhook notification is stored.
        base_url = stack.start_web(port=web_port, **web_env)
        restarted = time.monotonic()

        def stored() -> list[dict]:
            events = api.get(
                "/api/telemetry/alert-events", params={"alertname": "ServiceTargetDown"}
            )
            return events.json()["results"]

        (event,), _ = wait_for("the event stored", stored, 90, stack)
        stored_after = time.monotonic() - restarted
        assert event["severity"] == "critical" and event["receiver"] == "critical"
        assert event["annotations"]["runbook_url"].endswith("/runbooks/ServiceTargetDown")
        wait_for("resolved", lambda: rule_state(prom, "ServiceTargetDown") == "inactive", 60, stack)
    print(
        f"\ntarget down: processes stopped -> ServiceTargetDown firing in Prometheus "
        f"{firing_after:.1f}s, paged {paged_after:.1f}s; service back -> event stored "
        f"{stored_after:.1f}s"
    )
