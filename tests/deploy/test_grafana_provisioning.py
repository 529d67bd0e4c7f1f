"""deploy/grafana/provisioning: the three datasources with the uids the dashboards name, the
links between signals pointing at datasources that exist, and a dashboard provider reading the
directory compose.yaml mounts."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PROVISIONING = DEPLOY / "grafana" / "provisioning"


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict]:
    config = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yaml").read_text())
    assert config["apiVersion"] == 1
    return {source["uid"]: source for source in config["datasources"]}


@pytest.fixture(scope="module")
def grafana_service() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["grafana"]


def test_the_uids_are_the_ones_dashboards_use(datasources):
    assert set(datasources) == {"prometheus", "jaeger", "elasticsearch"}
    assert {uid: s["type"] for uid, s in datasources.items()} == {
        "prometheus": "prometheus",
        "jaeger": "jaeger",
        "elasticsearch": "elasticsearch",
    }
    assert [uid for uid, s in datasources.items() if s.get("isDefault")] == ["prometheus"]


def test_each_points_at_its_compose_service(datasources):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for source in datasources.values():
        host = re.match(r"http://([a-z-]+):\d+$", source["url"]).group(1)
        assert host in compose, source["url"]
    assert datasources["prometheus"]["url"] == "http://prometheus:9090"
    assert datasources["jaeger"]["url"] == "http://jaeger:16686"
    assert datasources["elasticsearch"]["url"] == "http://elasticsearch:9200"


def linked_uids(node) -> list[str]:
    """Every datasourceUid anywhere below NODE."""
    if isinstance(node, dict):
        found = [node["datasourceUid"]] if "datasourceUid" in node else []
        return found + [uid for value in node.values() for uid in linked_uids(value)]
    if isinstance(node, list):
        return [uid for item in node for uid in linked_uids(item)]
    return []


def test_every_link_names_an_existing_datasource(datasources):
    links = linked_uids(list(datasources.values()))
    assert links and set(links) <= set(datasources)


def test_metrics_lead_to_traces_through_exemplars(datasources):
    (destination,) = datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    # The label Prometheus gives an OTLP exemplar's trace id.
    assert destination == {"name": "trace_id", "datasourceUid": "jaeger"}


def test_traces_lead_to_logs_and_metrics(datasources):
    data = datasources["jaeger"]["jsonData"]
    logs = data["tracesToLogsV2"]
    assert logs["datasourceUid"] == "elasticsearch"
    # `$$` keeps Grafana from reading ${__span.traceId} as an environment variable.
    assert logs["query"] == 'trace_id:"$${__span.traceId}"'
    metrics = data["tracesToMetrics"]
    assert metrics["datasourceUid"] == "prometheus"
    for query in metrics["queries"]:
        assert "http_server_request_duration_seconds" in query["query"]
        assert "{$$__tags}" in query["query"]


def test_logs_lead_to_traces(datasources):
    data = datasources["elasticsearch"]["jsonData"]
    (link,) = data["dataLinks"]
    assert link["field"] == "trace_id" and link["datasourceUid"] == "jaeger"
    # Fields of the collector's OTel-native mapping (deploy/otel-collector/config.yaml).
    collector = yaml.safe_load((DEPLOY / "otel-collector" / "config.yaml").read_text())
    # The OTel-native mapping is the exporter's default (mapping::mode is deprecated): absent
    # or "otel", never another mode.
    assert collector["exporters"]["elasticsearch"].get("mapping", {}).get("mode", "otel") == "otel"
    assert data["index"] == "logs-*"
    assert collector["exporters"]["elasticsearch"]["logs_index"].startswith("logs-")
    assert (data["timeField"], data["logMessageField"], data["logLevelField"]) == (
        "@timestamp",
        "body.text",
        "severity_text",
    )


def test_the_elasticsearch_password_comes_from_the_environment(datasources, grafana_service):
    source = datasources["elasticsearch"]
    assert source["basicAuth"] is True and source["basicAuthUser"] == "grafana_reader"
    assert source["secureJsonData"]["basicAuthPassword"] == "$GRAFANA_ES_PASSWORD"
    assert grafana_service["environment"]["GRAFANA_ES_PASSWORD"].startswith(
        "${GRAFANA_ES_PASSWORD:?"
    )
    setup = (DEPLOY / "elasticsearch" / "setup.sh").read_text()
    assert "/_security/user/grafana_reader" in setup and '"read"' in setup


def test_the_dashboard_provider_reads_the_mounted_directory(grafana_service):
    config = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yaml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    mounts = dict(volume.split(":")[:2] for volume in grafana_service["volumes"])
    assert mounts["./grafana/dashboards"] == path
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_dashboards_are_files_not_api_payloads():
    # The seed wrapped its dashboard as {"dashboard": {...}} for the HTTP API; file
    # provisioning wants the dashboard itself.
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        assert "dashboard" not in dashboard and "panels" in dashboard, path.name


def datasource_references(node, path="") -> list[tuple[str, object]]:
    """(where, value) of every "datasource" anywhere in a dashboard: panels, targets, panel
    options (the alert list's filter), templating, annotations."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key == "datasource" and value is not None:
                found.append((where, value))
            found += datasource_references(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += datasource_references(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize(
    "path", sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")), ids=lambda p: p.name
)
def test_every_datasource_reference_of_a_dashboard_resolves(datasources, path):
    by_name = {source["name"]: source for source in datasources.values()}
    references = datasource_references(json.loads(path.read_text()))
    assert references
    for where, value in references:
        if isinstance(value, dict):
            # {"type", "uid"}: a provisioned uid of that type.
            assert value.get("uid") in datasources, (where, value)
            assert datasources[value["uid"]]["type"] == value["type"], (where, value)
        else:
            # A bare string is a data source *name* (the alert list panel stores the picked
            # source's name and filters its rules by it): a provisioned name that can hold
            # alert rules, or Grafana's own.
            assert value in by_name or value == "grafana", (where, value)
            if value in by_name:
                assert by_name[value]["type"] in ("prometheus", "loki"), (where, value)


def test_the_alert_list_filters_on_the_provisioned_prometheus(datasources):
    dashboard = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "observability-site.json").read_text()
    )
    (panel,) = [p for p in dashboard["panels"] if p["type"] == "alertlist"]
    # Once the uid ("prometheus"), which names no data source: the panel showed no alert, ever.
    assert panel["options"]["datasource"] == datasources["prometheus"]["name"] == "Prometheus"
