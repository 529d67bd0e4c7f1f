"""deploy/otel-collector/{agent,loadbalancing,tail-sampling}.yaml: the collector tier of
docs/scaling.md (agent per node -> load-balancing layer -> tail-sampling layer), and the
compose stack's single collector (config.yaml) beside it.

No collector binary can run here (no Docker engine; no package of it in the registries this
machine reaches), so these are the checks `otelcol validate` starts with (every component a
pipeline names is declared, every declared one is used, connectors both ways), the
component names of collector-contrib 0.161.0, and the shape the tier needs: the order of
processors, trace-id routing to the sampling layer, span metrics before any sampling, and
the three tail-sampling policies. The chart values that run each file are checked against it
too (ports, config map, environment).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR = ROOT / "deploy" / "otel-collector"
BACKENDS = ROOT / "deploy" / "kubernetes" / "backends"
TIER = {
    "agent": COLLECTOR / "agent.yaml",
    "loadbalancing": COLLECTOR / "loadbalancing.yaml",
    "tail-sampling": COLLECTOR / "tail-sampling.yaml",
}
ALL = {**TIER, "compose": COLLECTOR / "config.yaml"}
VALUES = {
    "agent": BACKENDS / "opentelemetry-collector-agent.values.yaml",
    "loadbalancing": BACKENDS / "opentelemetry-collector-gateway.values.yaml",
    "tail-sampling": BACKENDS / "opentelemetry-collector-sampling.values.yaml",
}
CONFIG_MAPS = {
    "agent": "otel-agent-config",
    "loadbalancing": "otel-gateway-config",
    "tail-sampling": "otel-sampling-config",
}
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# Names that collector-contrib 0.161.0 keeps only as deprecated aliases (it logs a warning
# for each), or no longer has: the new name is the value.
DEPRECATED = {
    "spanmetrics": "span_metrics",
    "loadbalancing": "load_balancing",
    "k8sattributes": "k8s_attributes",
    "resourcedetection": "resource_detection",
    "filelog": "file_log",
    "otlp": "otlp_grpc",  # the exporter (the receiver is still `otlp`)
    "otlphttp": "otlp_http",
    "logging": "debug",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def kind_of(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def processors(config: dict, pipeline: str) -> list[str]:
    return [kind_of(p) for p in config["service"]["pipelines"][pipeline].get("processors", [])]


@pytest.fixture(params=sorted(ALL), scope="module")
def named_config(request) -> tuple[str, dict]:
    return request.param, load(ALL[request.param])


@pytest.fixture(params=sorted(TIER), scope="module")
def tier_config(request) -> tuple[str, dict]:
    return request.param, load(TIER[request.param])


# --- what otelcol validate would refuse ------------------------------------------------------


def problems_of(config: dict) -> list[str]:
    """What the collector would refuse to start with (unknown or unused components)."""
    found = []
    declared = {kind: set(config.get(kind) or {}) for kind in KINDS}
    used = {kind: set() for kind in KINDS}
    connectors_in = set()
    connectors_out = set()
    for name, pipeline in config["service"]["pipelines"].items():
        if kind_of(name) not in ("traces", "metrics", "logs"):
            found.append(f"pipeline {name}: not a signal")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            found.append(f"pipeline {name}: needs receivers and exporters")
        for role in ("receivers", "processors", "exporters"):
            for component in pipeline.get(role, []):
                if role != "processors" and component in declared["connectors"]:
                    (connectors_in if role == "exporters" else connectors_out).add(component)
                    used["connectors"].add(component)
                elif component not in declared[role]:
                    found.append(f"pipeline {name}: {role} {component} is not declared")
                else:
                    used[role].add(component)
        if len(set(pipeline.get("processors", []))) != len(pipeline.get("processors", [])):
            found.append(f"pipeline {name}: a processor twice")
    used["extensions"] = set(config["service"].get("extensions", []))
    for kind in KINDS:
        for component in declared[kind] - used[kind]:
            found.append(f"{kind} {component} is declared but not used")
        for component in used[kind] - declared[kind]:
            found.append(f"{kind} {component} is used but not declared")
    for connector in connectors_in ^ connectors_out:
        found.append(
            f"connector {connector} must be an exporter of one pipeline and a receiver of another"
        )
    return found


def test_every_component_is_declared_and_used(named_config):
    name, config = named_config
    assert problems_of(config) == [], name


def test_the_check_finds_an_unused_and_an_undeclared_component():
    config = load(TIER["agent"])
    config["processors"]["filter/unused"] = {}
    config["service"]["pipelines"]["logs"]["exporters"].append("otlp_http/missing")
    del config["service"]["pipelines"]["metrics"]["receivers"][1]  # span_metrics: half a connector
    problems = problems_of(config)
    assert "processors filter/unused is declared but not used" in problems
    assert "pipeline logs: exporters otlp_http/missing is not declared" in problems
    assert any(p.startswith("connector span_metrics") for p in problems)


def test_no_component_has_a_deprecated_name(named_config):
    name, config = named_config
    for kind in ("processors", "exporters", "connectors", "extensions"):
        for component in config.get(kind) or {}:
            assert kind_of(component) not in DEPRECATED, (
                f"{name}: {component} -> {DEPRECATED[kind_of(component)]}"
            )
    assert set(config.get("receivers") or {}) <= {"otlp"}, name


def test_memory_limiter_comes_first_in_every_pipeline(named_config):
    name, config = named_config
    for pipeline in config["service"]["pipelines"]:
        assert processors(config, pipeline)[0] == "memory_limiter", f"{name} {pipeline}"
    limiter = config["processors"]["memory_limiter"]
    assert 0 < limiter["spike_limit_percentage"] < limiter["limit_percentage"] <= 80


def test_secrets_and_addresses_come_from_the_environment(tier_config):
    """Nothing deployment-specific is written in the tier's files: the chart values set it."""
    name, config = tier_config
    text = TIER[name].read_text()
    references = set(re.findall(r"\$\{env:([A-Z_]+)\}", text))
    values = load(VALUES[name])
    provided = {env["name"] for env in values.get("extraEnvs", [])}
    assert references <= provided, f"{name}: {sorted(references - provided)} not set by the chart"
    for key in ("password", "user", "api_key"):
        for exporter in (config.get("exporters") or {}).values():
            if key in exporter:
                assert exporter[key].startswith("${env:"), f"{name}: literal {key}"
    for env in values.get("extraEnvs", []):
        if re.search(r"PASSWORD|TOKEN|SECRET|USERNAME", env["name"]):
            assert "value" not in env and env["valueFrom"]["secretKeyRef"], env["name"]


# --- the agent -------------------------------------------------------------------------------


def test_the_agent_computes_span_metrics_from_every_span_before_any_sampling():
    agent = load(TIER["agent"])
    pipelines = agent["service"]["pipelines"]
    # The traces pipeline feeds the connector and the gateway with the same spans ...
    assert "span_metrics" in pipelines["traces"]["exporters"]
    assert "otlp_grpc/gateway" in pipelines["traces"]["exporters"]
    # ... and no sampling happens on the way: not here, not in the load-balancing layer.
    for name in ("agent", "loadbalancing"):
        config = load(TIER[name])
        for pipeline in config["service"]["pipelines"]:
            kinds = processors(config, pipeline)
            assert not {"tail_sampling", "probabilistic_sampler"} & set(kinds), name
    # The metrics it makes leave with the service's own metrics.
    assert "span_metrics" in pipelines["metrics"]["receivers"]
    assert pipelines["metrics"]["exporters"] == ["otlp_grpc/gateway"]
    connector = agent["connectors"]["span_metrics"]
    assert connector["histogram"]["explicit"]["buckets"]
    assert connector["metrics_expiration"]
    # The tail-sampling layer does not compute them (again, on a sample).
    assert "connectors" not in load(TIER["tail-sampling"])


def test_the_agent_sends_every_signal_to_the_load_balancing_layer():
    agent = load(TIER["agent"])
    for pipeline in agent["service"]["pipelines"].values():
        assert [e for e in pipeline["exporters"] if e != "span_metrics"] == ["otlp_grpc/gateway"]
    gateway = agent["exporters"]["otlp_grpc/gateway"]
    assert gateway["sending_queue"]["enabled"] and gateway["retry_on_failure"]["enabled"]
    assert gateway["balancer_name"] == "round_robin"
    endpoint = next(
        e["value"]
        for e in load(VALUES["agent"])["extraEnvs"]
        if e["name"] == "OTEL_GATEWAY_ENDPOINT"
    )
    # dns:/// and a headless Service: round_robin sees every gateway pod.
    assert endpoint == "dns:///otel-gateway.observability.svc.cluster.local:4317"
    assert load(VALUES["loadbalancing"])["service"]["clusterIP"] == "None"


# --- the load-balancing layer ----------------------------------------------------------------


def test_traces_are_routed_by_trace_id_to_the_sampling_layer():
    config = load(TIER["loadbalancing"])
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["load_balancing"]
    exporter = config["exporters"]["load_balancing"]
    assert exporter["routing_key"] == "traceID"
    assert set(exporter["protocol"]) == {"otlp"}
    assert "endpoint" not in exporter["protocol"]["otlp"]  # the resolver fills it in
    (resolver,) = exporter["resolver"].items()
    kind, settings = resolver
    assert kind in {"dns", "k8s"}
    assert settings["hostname"] == "${env:OTEL_SAMPLING_HOSTNAME}"
    assert settings["port"] == "4317"
    hostname = next(
        e["value"]
        for e in load(VALUES["loadbalancing"])["extraEnvs"]
        if e["name"] == "OTEL_SAMPLING_HOSTNAME"
    )
    sampling_values = load(VALUES["tail-sampling"])
    # The DNS resolver needs the A records of every pod: the sampling layer's headless
    # Service, which the chart names after fullnameOverride.
    assert hostname == f"{sampling_values['fullnameOverride']}.observability.svc.cluster.local"
    assert sampling_values["service"]["clusterIP"] == "None"
    assert sampling_values["ports"]["otlp"]["containerPort"] == 4317
    # The queue is in front of routing, so a departed pod's share is routed again.
    assert exporter["sending_queue"]["enabled"] is True


def test_metrics_and_logs_go_straight_to_their_backends_without_trace_affinity():
    config = load(TIER["loadbalancing"])
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]
    assert pipelines["logs"]["exporters"] == ["elasticsearch"]
    for signal in ("metrics", "logs"):
        assert "load_balancing" not in pipelines[signal]["exporters"]
        assert processors(config, signal) == ["memory_limiter", "batch"]


def test_the_tier_exports_as_the_compose_collector_does():
    """Same backends, same settings: the Elasticsearch exporter retries only 429 (a retried
    5xx bulk request can write documents twice), every remote exporter queues and retries."""
    compose = load(ALL["compose"])["exporters"]
    gateway = load(TIER["loadbalancing"])["exporters"]
    sampling = load(TIER["tail-sampling"])["exporters"]
    for exporters in (compose, gateway):
        es = exporters["elasticsearch"]
        assert es["retry"]["retry_on_status"] == [429]
        assert es["logs_index"] == "logs-generic.otel-default"
        assert "mapping" not in es  # the default (otel) mode, which the index name ends in
        assert es["sending_queue"]["enabled"] is True
    remote = [
        (compose, "otlp_http/prometheus"),
        (gateway, "otlp_http/prometheus"),
        (compose, "otlp_grpc/jaeger"),
        (sampling, "otlp_grpc/jaeger"),
    ]
    for exporters, name in remote:
        exporter = exporters[name]
        assert exporter["sending_queue"]["enabled"] and exporter["retry_on_failure"]["enabled"]
    assert compose["otlp_http/prometheus"]["endpoint"].endswith("/api/v1/otlp")


# --- the tail-sampling layer -----------------------------------------------------------------


def test_the_sampling_pipeline_samples_after_the_limiter_and_batches_after_sampling():
    config = load(TIER["tail-sampling"])
    assert list(config["service"]["pipelines"]) == ["traces"]
    assert processors(config, "traces") == ["memory_limiter", "tail_sampling", "batch"]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/jaeger"]


def test_batching_never_comes_before_sampling_anywhere():
    for name, path in TIER.items():
        config = load(path)
        for pipeline in config["service"]["pipelines"]:
            kinds = processors(config, pipeline)
            if "tail_sampling" in kinds and "batch" in kinds:
                assert kinds.index("batch") > kinds.index("tail_sampling"), name


def test_the_three_policies_keep_errors_slow_traces_and_a_baseline():
    sampling = load(TIER["tail-sampling"])["processors"]["tail_sampling"]
    policies = {policy["type"]: policy for policy in sampling["policies"]}
    # Top-level policies are OR'ed: any one keeps the trace. No `drop` policy vetoes them, and
    # no `and`/`composite` narrows them.
    assert len(sampling["policies"]) == len(policies) == 4
    assert set(policies) == {"status_code", "latency", "probabilistic", "string_attribute"}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] == 500
    assert "upper_threshold_ms" not in policies["latency"]["latency"]
    assert policies["probabilistic"]["probabilistic"]["sampling_percentage"] == 10
    assert len({policy["name"] for policy in sampling["policies"]}) == 4


def test_traces_forced_from_the_admin_are_kept_whole():
    """The fourth policy: what the service's head sampler forced (docs/sampling.md) is kept,
    matched on the exact strings the service writes (found in its source, wherever the
    telemetry package keeps them)."""
    sampling = load(TIER["tail-sampling"])["processors"]["tail_sampling"]
    (forced,) = [p for p in sampling["policies"] if p["type"] == "string_attribute"]
    assert forced["string_attribute"]["key"] == "sampling.rule"
    assert set(forced["string_attribute"]["values"]) == {"forced: header", "forced: user"}
    assert not forced["string_attribute"].get("invert_match")
    source = "\n".join(p.read_text() for p in (ROOT / "telemetry").rglob("*.py"))
    for literal in ("sampling.rule", "forced: header", "forced: user"):
        assert f'"{literal}"' in source, f"the service no longer writes {literal!r}"


def test_the_sampler_holds_enough_traces_for_its_wait():
    sampling = load(TIER["tail-sampling"])["processors"]["tail_sampling"]
    wait = int(sampling["decision_wait"].removesuffix("s"))
    # Traces arriving during decision_wait must fit, or the oldest are evicted undecided.
    assert sampling["num_traces"] >= sampling["expected_new_traces_per_sec"] * wait
    # Late spans of kept traces are kept; late spans of dropped traces are judged again, so a
    # job's error after the decision is not dropped unseen (docs/scaling.md).
    assert sampling["decision_cache"]["sampled_cache_size"] > sampling["num_traces"]
    assert "non_sampled_cache_size" not in sampling["decision_cache"]


# --- what runs each file ---------------------------------------------------------------------


def test_each_chart_release_runs_its_file(tier_config):
    name, config = tier_config
    values = load(VALUES[name])
    assert values["configMap"] == {"create": False, "existingName": CONFIG_MAPS[name]}
    generated = load(COLLECTOR / "kustomization.yaml")
    files = {g["name"]: g["files"] for g in generated["configMapGenerator"]}
    # The chart reads the key `relay` (its templates/_pod.tpl).
    assert files[CONFIG_MAPS[name]] == [f"relay={TIER[name].name}"]
    assert generated["generatorOptions"]["disableNameSuffixHash"] is True
    assert values["image"] == {
        "repository": "otel/opentelemetry-collector-contrib",
        "tag": compose_collector_version(),
    }
    # The chart's probes ask :13133; the receivers listen on the ports the chart opens.
    assert config["extensions"]["health_check"]["endpoint"].endswith(":13133")
    grpc = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc.endswith(f":{values['ports']['otlp']['containerPort']}")
    http = config["receivers"]["otlp"]["protocols"].get("http")
    assert bool(http) == values["ports"]["otlp-http"]["enabled"]
    for unused in ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin"):
        assert values["ports"][unused]["enabled"] is False
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    assert reader["prometheus"]["port"] == 8888 and values["ports"]["metrics"]["enabled"]


def test_go_memory_limit_matches_the_memory_limiter(named_config):
    """GOMEMLIMIT at memory_limiter's hard limit (limit_percentage of the memory limit): in
    the charts useGOMEMLIMIT sets 80% of resources.limits.memory; compose sets it itself."""
    name, config = named_config
    percentage = config["processors"]["memory_limiter"]["limit_percentage"]
    if name == "compose":
        collector = load(ROOT / "deploy" / "compose.yaml")["services"]["otel-collector"]
        limit_mib = parse_mib(collector["mem_limit"])
        gomemlimit = parse_mib(collector["environment"]["GOMEMLIMIT"])
    else:
        values = load(VALUES[name])
        assert values["useGOMEMLIMIT"] is True
        limit_mib = parse_mib(values["resources"]["limits"]["memory"])
        gomemlimit = 0.8 * limit_mib  # the chart's opentelemetry-collector.gomemlimit
    assert abs(gomemlimit - limit_mib * percentage / 100) <= 1


def parse_mib(text: str) -> float:
    match = re.fullmatch(r"(\d+)\s*(Mi|MiB|Gi|GiB|m|g)", str(text))
    assert match, text
    number, unit = int(match.group(1)), match.group(2)
    return number * (1024 if unit in ("Gi", "GiB", "g") else 1)


def compose_collector_version() -> str:
    image = load(ROOT / "deploy" / "compose.yaml")["services"]["otel-collector"]["image"]
    return image.rpartition(":")[2]
