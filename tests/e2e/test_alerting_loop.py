"""The whole alerting loop with real parts on 127.0.0.1: gunicorn serving the service,
Prometheus (Debian package) scraping its /metrics and evaluating the rules exported from the
database, Alertmanager (Debian package) routing with deploy/alertmanager/alertmanager.yml, and
its notifications landing in the service's webhook as AlertEvent rows.

The service is driven into real 5xx answers: its downstream is a port nobody listens on, so
POST /api/process answers 502. Intervals are shortened for the test (1s scrape and
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
import yaml

from tests.e2e.servers import ROOT, Stack, api_token, free_port, manage, start_process

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
WEBHOOK_PATH = "/api/telemetry/alertmanager/webhook"
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


def alertmanager_config(tmp: Path, webhook_url: str, dead_url: str) -> Path:
    """The shipped configuration, with secrets as files in TMP, the receivers pointed at this
    test (the service's webhook; a dead local port instead of Slack and PagerDuty, so
    nothing leaves the machine) and grouping shortened."""
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    secrets = tmp / "secrets"
    secrets.mkdir()
    (secrets / "webhook_token").write_text(WEBHOOK_TOKEN)
    (secrets / "slack_webhook_url").write_text(dead_url)
    (secrets / "pagerduty_routing_key").write_text("e2e-routing-key")
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
            webhook["http_config"]["authorization"]["credentials_file"] = str(
                secrets / "webhook_token"
            )
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(secrets / "slack_webhook_url")
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = str(secrets / "pagerduty_routing_key")
            pagerduty["url"] = dead_url
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def prometheus_config(tmp: Path, target: str, alertmanager: str) -> Path:
    """deploy/prometheus/prometheus.yml with 1s intervals and this test's ports."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [target]
    (tmp / "rules").mkdir()
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_error_rate_alert_fires_reaches_the_webhook_and_resolves(stack, tmp_path):
    dead_port = free_port()  # nothing listens here: the downstream "is down"
    dead_url = f"http://127.0.0.1:{dead_port}/down"
    base_url = stack.start_web(
        PROCESSING_DOWNSTREAM_URL=dead_url, ALERTMANAGER_WEBHOOK_TOKEN=WEBHOOK_TOKEN
    )
    token = api_token(base_url, stack)
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=10)

    am_port, prom_port = free_port(), free_port()
    am_dir, prom_dir = tmp_path / "alertmanager", tmp_path / "prometheus"
    am_dir.mkdir()
    prom_dir.mkdir()
    stack.processes.append(
        start_process(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={alertmanager_config(am_dir, base_url + WEBHOOK_PATH, dead_url)}",
                f"--storage.path={am_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",  # a single instance: no gossip port
            ],
            stack.env,
            stack.log_dir,
        )
    )
    prom_config = prometheus_config(
        prom_dir, base_url.removeprefix("http://"), f"127.0.0.1:{am_port}"
    )
    stack.processes.append(
        start_process(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={prom_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--web.enable-lifecycle",
            ],
            stack.env,
            stack.log_dir,
        )
    )
    prom = f"http://127.0.0.1:{prom_port}"
    am = f"http://127.0.0.1:{am_port}"
    wait_for("Alertmanager ready", lambda: httpx.get(f"{am}/-/ready").status_code == 200, 30, stack)
    wait_for("Prometheus ready", lambda: httpx.get(f"{prom}/-/ready").status_code == 200, 30, stack)

    # The rules come from the database: shortened, validated (promtool), exported, reloaded.
    manage(stack.env, "shell", "-c", SHORTEN_RULE)
    manage(
        stack.env,
        "export_alert_rules",
        "--output",
        str(prom_dir / "rules" / "alert_rules.yml"),
        "--check",
        "--reload",
        prom,
    )

    def loaded_rules() -> set[str]:
        groups = httpx.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
        return {rule["name"] for group in groups for rule in group["rules"]}

    loaded, _ = wait_for("rules loaded", loaded_rules, 10, stack)
    assert {"HighErrorRate", "HighLatency", "TrafficSpike", "SLOErrorBudgetBurn"} <= loaded

    def scraping() -> bool:
        targets = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        return any(t["health"] == "up" for t in targets)

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
    assert fired["labels"]["view"] == "processing:process"
    assert fired["severity"] == "warning" and fired["receiver"] == "warning"
    assert fired["annotations"]["summary"] == "High 5xx error rate on processing:process"
    assert fired["ends_at"] is None

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
    print(
        f"\nalerting loop: {len(answers)} failing requests; firing event stored "
        f"{fire_seconds:.1f}s after errors started; resolved event "
        f"{time.monotonic() - errors_stopped:.1f}s after they stopped "
        f"(waited {resolve_seconds:.1f}s); total {time.monotonic() - errors_started:.1f}s"
    )
