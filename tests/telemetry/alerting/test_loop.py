"""The whole alerting loop with real parts on 127.0.0.1: gunicorn serving the service, each
worker serving its OpenTelemetry metrics for scraping, Prometheus (Debian package, started by
tests/harness/prometheus.py from deploy/prometheus/prometheus.yml) scraping them (job OTEL_JOB)
and /metrics (job observability-site) and evaluating the rules exported from the database,
Alertmanager (Debian package) routing with deploy/alertmanager/alertmanager.yml, and its
notifications landing in the service's webhook as AlertEvent rows.

The service is driven into real 5xx answers: its downstream is a port nobody listens on, so
POST /api/process answers 502, recorded by OpenTelemetry as
http_server_request_duration_seconds_count{http_route="/api/process",
http_response_status_code="502"}. Intervals are shortened for the test (1s scrape and
evaluation, a 10s rate window, `for: 2s`, 1s Alertmanager grouping); everything else is the
shipped configuration.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.harness.alertmanager import (
    ALERTMANAGER,
    WEBHOOK_PATH,
    alertmanager_config,
    receiving_sink,
    start_alertmanager,
)
from tests.harness.prometheus import OTEL_JOB, PROMETHEUS, otel_scrape_env, query, start_prometheus
from tests.harness.servers import Stack, api_token, free_port, free_port_range, manage

pytestmark = pytest.mark.e2e


WEBHOOK_TOKEN = "e2e-webhook-token"

# Short windows so the alert fires and resolves within seconds, not the shipped minutes.
SHORTEN_RULE = """
from telemetry.models import AlertRule
rule = AlertRule.objects.get(group="service_alerts", name="HighErrorRate")
rule.expr = rule.expr.replace("[5m]", "[10s]")
rule.for_duration = "2s"
rule.full_clean()
rule.save()
"""


@pytest.fixture(autouse=True)
def _servers_installed():
    for binary in (PROMETHEUS, ALERTMANAGER, shutil.which("promtool")):
        if not binary or not Path(binary).exists():
            pytest.fail("Prometheus/Alertmanager are not installed: run scripts/test.sh")


def wait_for(what: str, probe, timeout: float, stack: Stack):
    """Poll PROBE until it returns something truthy; return it with the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            result = probe()
        except httpx.HTTPError:
            result = None
        if result:
            return result, time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout}s\n{stack.logs()}")


@pytest.fixture
def slack():
    with receiving_sink() as sink:
        yield sink


def test_the_error_rate_alert_fires_reaches_the_webhook_and_resolves(stack, tmp_path, slack):
    slack_url, slack_messages = slack
    dead_port = free_port()  # nothing listens here: the downstream "is down"
    dead_url = f"http://127.0.0.1:{dead_port}/down"
    web_port = free_port()
    # One port per gunicorn worker (gunicorn.conf.py: GUNICORN_WORKERS, 2 by default).
    web_metrics = free_port_range(2)
    webhook_url = f"http://127.0.0.1:{web_port}{WEBHOOK_PATH}"
    config = alertmanager_config(
        tmp_path / "alertmanager",
        webhook_url=webhook_url,
        token=WEBHOOK_TOKEN,
        slack_url=slack_url,
        pagerduty_url=dead_url,
    )
    am = start_alertmanager(stack, tmp_path / "alertmanager", config)
    prom = start_prometheus(
        stack,
        tmp_path / "prometheus",
        targets={
            "observability-site": [f"127.0.0.1:{web_port}"],
            OTEL_JOB: [f"127.0.0.1:{port}" for port in web_metrics],
        },
        alertmanager=am.removeprefix("http://"),
    )
    base_url = stack.start_web(
        port=web_port,
        PROCESSING_DOWNSTREAM_URL=dead_url,
        ALERTMANAGER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        GUNICORN_WORKERS=str(len(web_metrics)),
        **otel_scrape_env(web_metrics),
    )
    token = api_token(base_url, stack)
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=10)

    # The rules come from the database: shortened, validated (promtool), exported, reloaded.
    manage(stack.env, "shell", "-c", SHORTEN_RULE)
    manage(
        stack.env,
        "export_alert_rules",
        "--output",
        str(tmp_path / "prometheus" / "rules" / "alert_rules.yml"),
        "--check",
        "--reload",
        prom,
    )

    def loaded_rules() -> dict[str, str]:
        groups = httpx.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
        return {rule["name"]: rule["query"] for group in groups for rule in group["rules"]}

    loaded, _ = wait_for("rules loaded", loaded_rules, 10, stack)
    assert {"HighErrorRate", "HighLatency", "TrafficSpike", "SLOErrorBudgetBurn"} <= set(loaded)
    assert "http_server_request_duration_seconds_count" in loaded["HighErrorRate"]
    assert "[10s]" in loaded["HighErrorRate"]

    def scraping() -> set[str]:
        # Both jobs up: every gunicorn worker's OpenTelemetry port, and /metrics.
        targets = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        up = [t for t in targets if t["health"] == "up"]
        jobs = {t["labels"]["job"] for t in up}
        otel_up = sum(t["labels"]["job"] == OTEL_JOB for t in up)
        return jobs if otel_up == len(web_metrics) and "observability-site" in jobs else set()

    wait_for("Prometheus scraping the service", scraping, 30, stack)

    def error_events() -> list[dict]:
        response = api.get("/api/telemetry/alert-events", params={"alertname": "HighErrorRate"})
        return response.json()["results"]

    assert error_events() == []

    # Drive real 5xx answers until the alert has come back through the webhook.
    stop_errors = threading.Event()
    answers: list[int] = []

    def send_failing_requests() -> None:
        with httpx.Client(base_url=base_url, headers=api.headers, timeout=10) as client:
            while not stop_errors.is_set():
                answers.append(client.post("/api/process", json={"data": "x"}).status_code)
                time.sleep(0.05)

    errors_started = time.monotonic()
    sender = threading.Thread(target=send_failing_requests, daemon=True)
    sender.start()
    try:
        (fired,), fire_seconds = wait_for(
            "HighErrorRate firing in the webhook",
            lambda: [e for e in error_events() if e["status"] == "firing"],
            90,
            stack,
        )
    finally:
        stop_errors.set()
        sender.join(15)
    errors_stopped = time.monotonic()
    assert answers and set(answers) == {502}, set(answers)
    assert fired["labels"]["http_route"] == "/api/process"
    assert "view" not in fired["labels"]
    assert fired["severity"] == "warning" and fired["receiver"] == "warning"
    assert fired["annotations"]["summary"] == "High 5xx error rate on /api/process"
    assert (
        "of the responses on route /api/process were server errors"
        in fired["annotations"]["description"]
    )
    # What the rule read: the OpenTelemetry histogram, scraped from the gunicorn workers.
    (failed,) = query(
        prom,
        "sum by (http_route) (http_server_request_duration_seconds_count"
        f'{{job="{OTEL_JOB}",http_response_status_code="502"}})',
    )
    assert failed["metric"] == {"http_route": "/api/process"}
    assert fired["ends_at"] is None
    # Prometheus started with its external URL: the link back names the address it is on.
    assert fired["generator_url"].startswith(f"{prom}/graph?g0.expr=")

    (resolved,), resolve_seconds = wait_for(
        "HighErrorRate resolved in the webhook",
        lambda: [e for e in error_events() if e["status"] == "resolved"],
        90,
        stack,
    )
    # The resolved notification updated the firing event instead of adding one.
    assert resolved["id"] == fired["id"] and resolved["fingerprint"] == fired["fingerprint"]
    assert resolved["ends_at"] is not None and resolved["notifications"] >= 2
    assert len(error_events()) == 1
    # The warning route also told "Slack", with the route in its text.
    texts = [message["attachments"][0]["text"] for message in slack_messages]
    assert any(text.startswith("High 5xx error rate on /api/process: ") for text in texts), texts
    print(
        f"\nalerting loop: {len(answers)} failing requests; firing event stored "
        f"{fire_seconds:.1f}s after errors started; resolved event "
        f"{time.monotonic() - errors_stopped:.1f}s after they stopped "
        f"(waited {resolve_seconds:.1f}s); total {time.monotonic() - errors_started:.1f}s"
    )
