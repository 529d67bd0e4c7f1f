"""deploy/otel-collector/config.yaml: a pipeline per signal that the collector would accept
(every component it names is declared, every declared one is used), memory_limiter first,
queues and retries on the exporters that leave the host, and the collector's own endpoints.

The collector binary is not available here (no Docker engine, and no package of it in the
registries this machine reaches), so these are the checks `otelcol validate` starts with, plus
the rules of this project.
"""

from __future__ import annotations

import pytest
import yaml

from tests.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
CONFIG_FILE = DEPLOY / "otel-collector" / "config.yaml"
KINDS = ("receivers", "processors", "exporters", "connectors")
# Exporters that send over the network; `debug` only writes the collector's log.
REMOTE_EXPORTERS = {"otlp_grpc/jaeger", "otlp_http/prometheus", "elasticsearch"}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG_FILE.read_text())


@pytest.fixture(scope="module")
def pipelines(config) -> dict:
    return config["service"]["pipelines"]


def kind_of(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def test_there_is_one_pipeline_per_signal(pipelines):
    assert set(pipelines) == {"traces", "metrics", "logs"}


def test_every_component_a_pipeline_names_is_declared(config, pipelines):
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{name}: {kind} {component}"


def test_every_declared_component_is_used(config, pipelines):
    used = {kind: set() for kind in KINDS}
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            used[kind] |= set(pipeline.get(kind, []))
    for kind in KINDS:
        assert set(config.get(kind) or {}) == used[kind], kind


def test_every_declared_extension_is_enabled_and_vice_versa(config):
    declared = set(config.get("extensions") or {})
    enabled = config["service"].get("extensions", [])
    assert len(enabled) == len(set(enabled))
    assert declared == set(enabled)


def test_memory_limiter_comes_first_then_batch(pipelines):
    for name, pipeline in pipelines.items():
        processors = [kind_of(p) for p in pipeline["processors"]]
        assert processors[0] == "memory_limiter", name
        assert "batch" in processors and "resource" in processors, name
        assert processors.index("batch") < processors.index("resource"), name


def test_memory_limiter_is_configured(config):
    limiter = config["processors"]["memory_limiter"]
    assert limiter["check_interval"]
    assert 0 < limiter["limit_percentage"] <= 90
    assert 0 < limiter["spike_limit_percentage"] < limiter["limit_percentage"]


def test_the_removed_logging_exporter_is_not_used(config, pipelines):
    assert not [e for e in config["exporters"] if kind_of(e) == "logging"]
    for pipeline in pipelines.values():
        assert not [e for e in pipeline["exporters"] if kind_of(e) == "logging"]


def test_each_signal_goes_to_its_backend(config, pipelines):
    assert "otlp_grpc/jaeger" in pipelines["traces"]["exporters"]
    assert config["exporters"]["otlp_grpc/jaeger"]["endpoint"] == "jaeger:4317"
    assert "otlp_http/prometheus" in pipelines["metrics"]["exporters"]
    assert (
        config["exporters"]["otlp_http/prometheus"]["endpoint"]
        == "http://prometheus:9090/api/v1/otlp"
    )
    assert "elasticsearch" in pipelines["logs"]["exporters"]
    assert config["exporters"]["elasticsearch"]["endpoint"] == "http://elasticsearch:9200"


def test_remote_exporters_queue_and_retry(config):
    for name in REMOTE_EXPORTERS:
        exporter = config["exporters"][name]
        assert exporter["sending_queue"]["enabled"] is True, name
        assert exporter["sending_queue"]["queue_size"] > 0, name
        # The Elasticsearch exporter has its own `retry` block instead of retry_on_failure.
        retry = (
            exporter["retry"] if kind_of(name) == "elasticsearch" else exporter["retry_on_failure"]
        )
        assert retry["enabled"] is True, name
        assert retry["max_interval"], name


def test_secrets_come_from_the_environment(config):
    password = config["exporters"]["elasticsearch"]["password"]
    assert password == "${env:OTEL_COLLECTOR_ES_PASSWORD}"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    environment = compose["services"]["otel-collector"]["environment"]
    assert "OTEL_COLLECTOR_ES_PASSWORD" in environment
    for reference in ("DEPLOYMENT_ENVIRONMENT",):
        assert reference in environment


def test_it_receives_otlp_over_grpc_and_http(config, pipelines):
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    for pipeline in pipelines.values():
        assert pipeline["receivers"] == ["otlp"]


def test_it_serves_its_health_and_its_own_metrics(config):
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"
    (reader,) = config["service"]["telemetry"]["metrics"]["readers"]
    prometheus = reader["pull"]["exporter"]["prometheus"]
    assert (prometheus["host"], prometheus["port"]) == ("0.0.0.0", 8888)
    # ... and Prometheus scrapes that port.
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["otel-collector"]["static_configs"][0]["targets"] == ["otel-collector:8888"]


def test_the_compose_service_mounts_this_file(config):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    collector = compose["services"]["otel-collector"]
    assert (
        "./otel-collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro" in (collector["volumes"])
    )
    assert collector["command"] == ["--config=/etc/otelcol-contrib/config.yaml"]
    assert collector["mem_limit"]  # memory_limiter's percentages need a limit


def test_the_jaeger_config_receives_otlp_and_serves_health(config):
    jaeger = yaml.safe_load((DEPLOY / "jaeger" / "config.yaml").read_text())
    assert jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert jaeger["extensions"]["healthcheckv2"]["http"]["endpoint"] == "0.0.0.0:13133"
    assert set(jaeger["service"]["extensions"]) == set(jaeger["extensions"])
    store = jaeger["exporters"]["jaeger_storage_exporter"]["trace_storage"]
    assert store in jaeger["extensions"]["jaeger_storage"]["backends"]
    assert jaeger["extensions"]["jaeger_query"]["storage"]["traces"] == store
