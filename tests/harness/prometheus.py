"""A real Prometheus on 127.0.0.1 for end-to-end tests (Debian's package), configured from
deploy/prometheus/prometheus.yml with this test's targets and 1s intervals.

It reads the service's OpenTelemetry metrics by scraping them (OTEL_METRICS_EXPORTER=
prometheus, one port per process): Debian builds Prometheus without its OTLP receiver. The
SDK's Prometheus reader names series by the same rules as the collector and Prometheus's
OTLP receiver in deploy/compose.yaml (http.server.request.duration in seconds ->
http_server_request_duration_seconds_*), so what the tests query is what production holds.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import yaml

from tests.harness.servers import Stack, free_port, start_process
from tests.paths import REPO_ROOT

PROMETHEUS = "/usr/bin/prometheus"
# The scrape job of the processes' OpenTelemetry metrics; exists only where Prometheus scrapes
# them (tests, the local stack), not in compose, where they arrive over OTLP.
OTEL_JOB = "observability-site-otel"
# Alertmanager's own metrics (the meta-monitoring rules read them), added where TARGETS names
# it and the shipped configuration has no such job.
ALERTMANAGER_JOB = "alertmanager"


def otel_scrape_env(ports: list[int]) -> dict[str, str]:
    """Environment for a service process group (gunicorn or a Celery worker): serve the
    OpenTelemetry metrics for scraping, each process on one of PORTS (a contiguous range)."""
    return {
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_PORT": f"{min(ports)}-{max(ports)}",
    }


def prometheus_config(
    directory: Path,
    *,
    targets: dict[str, list[str]],
    alertmanager: str | None = None,
    otel_targets_dir: Path | None = None,
    rules_dir: Path | None = None,
) -> Path:
    """deploy/prometheus/prometheus.yml with 1s intervals, the scrape jobs named in TARGETS
    (job name -> host:port list) pointed at this test's servers and the others dropped, an
    OTEL_JOB (and ALERTMANAGER_JOB) added when TARGETS names it (or OTEL_JOB found from the
    target files the processes write in OTEL_TARGETS_DIR: telemetry.pipeline.scrape_targets),
    and rules read from RULES_DIR/*.yml (DIRECTORY/rules by default)."""
    config = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    rules_dir = rules_dir or directory / "rules"
    config["rule_files"] = [str(rules_dir / "*.yml")]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
            job.pop("authorization", None)  # the test service sets no METRICS_BEARER_TOKEN
            job.pop("scheme", None)
            jobs.append(job)
    for extra in (OTEL_JOB, ALERTMANAGER_JOB):
        if extra in targets and extra not in {job["job_name"] for job in jobs}:
            jobs.append({"job_name": extra, "static_configs": [{"targets": targets[extra]}]})
    if OTEL_JOB not in targets and otel_targets_dir is not None:
        files = [{"files": [str(otel_targets_dir / "*.json")], "refresh_interval": "1s"}]
        jobs.append({"job_name": OTEL_JOB, "file_sd_configs": files})
    config["scrape_configs"] = jobs
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    else:
        config.pop("alerting", None)
    rules_dir.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_prometheus(
    stack: Stack,
    directory: Path,
    *,
    targets: dict[str, list[str]],
    alertmanager: str | None = None,
    otel_targets_dir: Path | None = None,
    rules_dir: Path | None = None,
    flags: tuple[str, ...] = (),
) -> str:
    """Start Prometheus for STACK (stopped with it); return its base URL once it is ready.
    FLAGS are added to its command line (e.g. --enable-feature=exemplar-storage).

    Its external URL is the address it is reached on, so the generatorURL of its alerts
    opens here (without it Prometheus names the machine's hostname)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    targets = {**targets}
    targets.setdefault("prometheus", [f"127.0.0.1:{port}"])
    config = prometheus_config(
        directory,
        targets=targets,
        alertmanager=alertmanager,
        otel_targets_dir=otel_targets_dir,
        rules_dir=rules_dir,
    )
    stack.processes.append(
        start_process(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                f"--web.external-url=http://127.0.0.1:{port}",
                # A firing alert Prometheus could not hand to Alertmanager (its set of
                # Alertmanagers is rebuilt on every reload, and a rule publish reloads) is
                # sent again after this delay, 1m by default: scaled down like the intervals.
                "--rules.alert.resend-delay=2s",
                *flags,
            ],
            stack.env,
            stack.log_dir,
        )
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"Prometheus not ready within 30s\n{stack.logs()}")


def query(prometheus_url: str, expr: str) -> list[dict]:
    """The result vector of an instant query; AssertionError with Prometheus's message when
    the expression is invalid."""
    body = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    return body["data"]["result"]


def series_names(prometheus_url: str) -> set[str]:
    """Every metric name Prometheus holds."""
    body = httpx.get(f"{prometheus_url}/api/v1/label/__name__/values", timeout=10).json()
    return set(body["data"])


def loaded_rules(prometheus_url: str) -> dict[str, list[dict]]:
    """Rule name -> the rules of that name Prometheus has loaded (GET /api/v1/rules)."""
    groups = httpx.get(f"{prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    found: dict[str, list[dict]] = {}
    for group in groups:
        for rule in group["rules"]:
            found.setdefault(rule["name"], []).append({**rule, "group": group["name"]})
    return found
