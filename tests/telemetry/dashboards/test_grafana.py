"""The Grafana dashboard: generated from code, checked in as JSON, reading only series the
service produces (telemetry/dashboards/catalog.py) through the provisioned datasources."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from telemetry.dashboards import catalog as metric_catalog
from telemetry.dashboards import grafana as dashboards
from tests.paths import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCES = REPO_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"


def checked_in() -> list[dict]:
    return [json.loads((DASHBOARD_DIR / name).read_text()) for name in dashboards.DASHBOARDS]


def test_the_checked_in_json_is_what_the_code_generates():
    call_command("export_dashboards", "--check")


def test_check_names_a_stale_file_and_keeps_it(tmp_path):
    stale = tmp_path / "observability-site.json"
    stale.write_text("{}\n")
    with pytest.raises(CommandError, match="out of date"):
        call_command("export_dashboards", "--check", "--output-dir", str(tmp_path))
    assert stale.read_text() == "{}\n"
    call_command("export_dashboards", "--output-dir", str(tmp_path))
    assert json.loads(stale.read_text())["uid"] == "observability-site"


@pytest.mark.parametrize("dashboard", checked_in(), ids=lambda d: d["uid"])
def test_panel_ids_are_unique_and_every_panel_has_a_place(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]


@pytest.mark.parametrize("dashboard", checked_in(), ids=lambda d: d["uid"])
def test_every_datasource_is_a_provisioned_one(dashboard):
    provisioned = {
        source["uid"]: source["type"]
        for source in yaml.safe_load(DATASOURCES.read_text())["datasources"]
    }
    used = []
    for panel in dashboard["panels"]:
        used += [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
    used = [source for source in used if source]
    assert used
    for source in used:
        assert provisioned.get(source["uid"]) == source["type"], source


@pytest.mark.parametrize("dashboard", checked_in(), ids=lambda d: d["uid"])
def test_queries_read_only_series_of_the_catalog_or_of_prometheus_itself(dashboard):
    allowed = metric_catalog.sample_names() | dashboards.PROMETHEUS_OWN_SERIES
    queries = dashboards.prometheus_queries(dashboard)
    assert len(queries) >= 15
    for title, expr in queries:
        names = metric_catalog.metric_names_in(expr)
        assert names, (title, expr)
        assert names <= allowed, (title, names - allowed)


def test_the_seeds_four_panels_and_the_job_panels_are_there():
    titles = {panel["title"] for panel in dashboards.service_dashboard()["panels"]}
    assert {
        "Request rate by route",
        "Latency p50 / p90 / p99",
        "Server error rate (5xx share)",
        "Active requests",
        "Jobs queued and finished per second",
        "Failed jobs (time range)",
        "Queue wait p50 / p95",
        "Job duration p50 / p95",
        "Warnings and errors",
        "Firing and pending alerts",
        "Oldest queued job",
        "Log records exported and dropped",
    } <= titles


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (http_route) (rate(a_count{code=~"5.."}[5m])) / sum(rate(a_count[5m])) > 0.05',
            {"a_count"},
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(b_bucket[$__rate_interval])))", {"b_bucket"}),
        (
            'slo:ratio_rate5m{slo="x"} > 14.4 * (1 - 0.995) and c_total offset 5m',
            {"slo:ratio_rate5m", "c_total"},
        ),
        ('count(ALERTS{alertstate="firing"}) or vector(0)', {"ALERTS"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expr, names):
    assert metric_catalog.metric_names_in(expr) == names
