"""Every dashboard query and every alert expression reads series that a real Prometheus holds
after it scraped the running service under a short generated load.

Real parts on 127.0.0.1: gunicorn (2 workers) and a Celery worker (2 pool children), each
process serving its OpenTelemetry metrics for scraping (OTEL_METRICS_EXPORTER=prometheus; see
tests/harness/prometheus.py for why not OTLP here), django-prometheus's /metrics, rotel receiving
traces and logs over OTLP (so the span pipeline's own metrics exist), and Debian's Prometheus
scraping all of it and loading the rules exported from the database, and Alertmanager (scraped
too: the meta-monitoring rules read its series). The collector's own series (otelcol_*) are
the one exception: this machine has no OpenTelemetry Collector binary (rotel exposes no
metrics), so those names are held to the collector's documentation (telemetry/dashboards/
catalog.py, STACK) instead.

The load, kept up while the checks run so that rate() sees increases between scrapes: API
reads, a 404, synchronous processing whose downstream is down (502s, so the 5xx selectors have
data) and jobs that succeed in the worker.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import yaml

from telemetry.dashboards import catalog as metric_catalog
from telemetry.dashboards import grafana as dashboards
from tests.harness.alertmanager import alertmanager_config, start_alertmanager
from tests.harness.collector import Collector
from tests.harness.prometheus import (
    ALERTMANAGER_JOB,
    OTEL_JOB,
    otel_scrape_env,
    query,
    series_names,
    start_prometheus,
)
from tests.harness.servers import api_token, free_port, free_port_range, manage
from tests.paths import REPO_ROOT

# Grafana variables, as Grafana would fill them for a short range with 1s scrapes.
pytestmark = pytest.mark.e2e


GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__range": "5m"}


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def rule_expressions(path) -> list[tuple[str, str]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]


def wait_until(what: str, probe, timeout: float, stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s\n{stack.logs()}")


def test_every_panel_and_alert_expression_reads_series_prometheus_scraped(
    collector: Collector,
    stack,
    tmp_path,
):
    web_port, web_metrics, worker_metrics = free_port(), free_port_range(2), free_port_range(2)
    telemetry_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint}
    # Alertmanager for Prometheus to hand alerts to and to scrape (its series, and Prometheus's
    # notification series, exist once it is there); nothing fires long enough to be sent.
    dead = f"http://127.0.0.1:{free_port()}/not-sent"
    config = alertmanager_config(
        tmp_path / "alertmanager",
        webhook_url=dead,
        token="unused",
        slack_url=dead,
        pagerduty_url=dead,
    )
    alertmanager = start_alertmanager(stack, tmp_path / "alertmanager", config)
    prometheus = start_prometheus(
        stack,
        tmp_path / "prometheus",
        targets={
            "observability-site": [f"127.0.0.1:{web_port}"],
            OTEL_JOB: [f"127.0.0.1:{port}" for port in web_metrics + worker_metrics],
            ALERTMANAGER_JOB: [alertmanager.removeprefix("http://")],
        },
        alertmanager=alertmanager.removeprefix("http://"),
    )
    dead_downstream = f"http://127.0.0.1:{free_port()}/down"
    base_url = stack.start_web(
        port=web_port,
        PROCESSING_DOWNSTREAM_URL=dead_downstream,
        **telemetry_env,
        **otel_scrape_env(web_metrics),
    )
    stack.start_worker(
        PROCESSING_DOWNSTREAM_URL=f"{base_url}/api/downstream/enrich",
        **telemetry_env,
        **otel_scrape_env(worker_metrics),
    )
    rules = tmp_path / "prometheus" / "rules" / "alert_rules.yml"
    manage(stack.env, "export_alert_rules", "--output", str(rules), "--check")
    httpx.post(f"{prometheus}/-/reload", timeout=10).raise_for_status()

    token = api_token(base_url, stack)
    headers = {"Authorization": f"Token {token}"}
    api = httpx.Client(base_url=base_url, headers=headers, timeout=20)
    job_ids: list[str] = []
    answers: list[int] = []
    stop_load = threading.Event()

    def generate_load() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=20) as client:
            while not stop_load.is_set():
                answers.append(client.get("/api/users").status_code)
                answers.append(client.get("/api/users/999999").status_code)
                answers.append(client.post("/api/process", json={"data": "x"}).status_code)
                response = client.post("/api/jobs", json={"data": "y"})
                answers.append(response.status_code)
                if response.status_code == 202:
                    job_ids.append(response.json()["id"])
                stop_load.wait(0.5)

    load = threading.Thread(target=generate_load, daemon=True)
    load.start()
    try:
        _check_series(prometheus, rules, api, job_ids, stack)
    finally:
        stop_load.set()
        load.join(30)
    assert set(answers) == {200, 404, 502, 202}, set(answers)


def _check_series(prometheus: str, rules, api: httpx.Client, job_ids: list[str], stack) -> None:
    def some_jobs_done() -> bool:
        done = [api.get(f"/api/jobs/{job_id}").json()["status"] for job_id in job_ids[:5]]
        return len(done) == 5 and set(done) <= {"succeeded", "failed"}

    wait_until("jobs finished", some_jobs_done, 90, stack)

    def targets_up() -> bool:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
        return all(t["health"] == "up" for t in targets["activeTargets"])

    wait_until("every target up", targets_up, 30, stack)
    # The SDK self-metric about exported spans appears once a batch has gone out; after it,
    # a few scrapes give rate() its two samples everywhere.
    wait_until(
        "span pipeline metrics scraped",
        lambda: bool(query(prometheus, metric_catalog.SPANS_PROCESSED.name)),
        60,
        stack,
    )
    time.sleep(5)

    held = series_names(prometheus)
    problems = []
    dashboard_file = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "observability-site.json"
    dashboard = json.loads(dashboard_file.read_text())
    panel_queries = dashboards.prometheus_queries(dashboard)
    for title, expr in panel_queries:
        # ALERTS exists only while an alert is pending or firing; Prometheus makes it.
        missing = metric_catalog.metric_names_in(expr) - held - {"ALERTS"}
        if missing:
            problems.append(f"panel {title!r} reads series Prometheus does not hold: {missing}")
        elif not query(prometheus, grafana_expr(expr)):
            problems.append(f"panel {title!r} returns no data: {expr}")

    def rules_evaluated() -> list[dict]:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def all_rules_evaluated() -> bool:
        rules = rules_evaluated()
        return bool(rules) and not any(r["lastEvaluation"].startswith("0001") for r in rules)

    wait_until("rules evaluated", all_rules_evaluated, 30, stack)
    for rule in rules_evaluated():
        if rule["health"] != "ok":
            problems.append(f"rule {rule['name']} does not evaluate: {rule.get('lastError')}")
    recorded = {name for name, _ in rule_expressions(rules) if ":" in name}
    not_here = metric_catalog.stack_sample_names(sources=("OpenTelemetry Collector",))
    alert_selectors = 0
    for name, expr in rule_expressions(rules):
        for series in metric_catalog.metric_names_in(expr) - recorded - not_here:
            alert_selectors += 1
            if series not in held:
                problems.append(f"rule {name} reads series Prometheus does not hold: {series}")
    assert not problems, "\n".join(problems) + f"\nPrometheus holds: {sorted(held)}"
    assert len(panel_queries) >= 15 and alert_selectors >= 3
    # The selectors with label matchers have data too (5xx from the dead downstream, jobs).
    assert query(
        prometheus, 'http_server_request_duration_seconds_count{http_response_status_code="502"}'
    )
    assert query(prometheus, 'processing_jobs_finished_total{outcome="succeeded"}')
    print(
        f"\n{len(panel_queries)} panel queries and the series of "
        f"{len(rule_expressions(rules))} rules checked against {len(held)} series names"
    )
