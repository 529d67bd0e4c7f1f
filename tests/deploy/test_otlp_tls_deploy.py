"""The OTLP-over-mutual-TLS options of the deployments, checked as files (no Docker engine,
no cluster, no collector binary here): deploy/compose.tls.yaml over compose.yaml, the
receiver's TLS fragment merged over each collector configuration, the production-otlp-tls
overlay rendered and validated against the Kubernetes API, and the agent's chart values.
That the SDK side works against a real TLS endpoint: tests/telemetry/pipeline/test_otlp_tls.py."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize import build, strip_internal
from tests.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COLLECTOR = DEPLOY / "otel-collector"
RECEIVER_TLS = COLLECTOR / "receiver-tls.yaml"
OVERLAY = DEPLOY / "kubernetes" / "overlays" / "production-otlp-tls"
AGENT_TLS_VALUES = (
    DEPLOY / "kubernetes" / "backends" / "opentelemetry-collector-agent-tls.values.yaml"
)
DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")
TLS_VARIABLES = {
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
}


def load(path):
    return yaml.safe_load(path.read_text())


def merged(base: dict, override: dict) -> dict:
    """The collector's merge of --config files: maps deep-merged, later values win."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def mount_of(path: str, mounts: list[str]) -> str | None:
    """The compose volume (source:target[:ro], its ${VAR:-default} resolved to the default)
    whose target holds `path`."""
    for mount in (DEFAULTED.sub(r"\1", m) for m in mounts):
        target = mount.split(":")[1]
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return mount
    return None


@pytest.fixture(scope="module")
def compose():
    return load(DEPLOY / "compose.yaml")["services"], load(DEPLOY / "compose.tls.yaml")["services"]


@pytest.mark.parametrize("config", ["config.yaml", "agent.yaml"])
def test_the_receiver_takes_tls_and_client_certificates_on_both_protocols(config):
    result = merged(load(COLLECTOR / config), load(RECEIVER_TLS))

    for protocol in ("grpc", "http"):
        receiver = result["receivers"]["otlp"]["protocols"][protocol]
        assert receiver["endpoint"].endswith((":4317", ":4318"))  # kept from the main file
        tls = receiver["tls"]
        assert {"cert_file", "key_file", "client_ca_file"} <= tls.keys()
        assert tls["min_version"] in ("1.2", "1.3")
        assert all(
            tls[key].startswith("/etc/otelcol-contrib/tls/")
            for key in ("cert_file", "key_file", "client_ca_file")
        )


def test_the_compose_override_gives_the_collector_its_certificates(compose):
    base, tls = compose
    collector = tls["otel-collector"]
    assert collector["command"] == [
        base["otel-collector"]["command"][0],
        "--config=/etc/otelcol-contrib/receiver-tls.yaml",
    ]
    mounts = [*base["otel-collector"]["volumes"], *collector["volumes"]]
    assert mount_of("/etc/otelcol-contrib/receiver-tls.yaml", mounts).startswith(
        "./otel-collector/receiver-tls.yaml:"
    )
    for protocol in ("grpc", "http"):
        for key, path in load(RECEIVER_TLS)["receivers"]["otlp"]["protocols"][protocol][
            "tls"
        ].items():
            if key.endswith("_file"):
                assert mount_of(path, mounts).endswith(":ro"), path


def test_every_exporting_service_sends_over_mutual_tls(compose):
    base, tls = compose
    exporting = {
        name
        for name, s in base.items()
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in (s.get("environment") or {})
    }
    assert exporting == {"web", "worker", "beat", "migrate"}
    for name in exporting:
        environment = {**base[name]["environment"], **tls[name]["environment"]}
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otel-collector:4317"
        assert environment["OTEL_EXPORTER_OTLP_COMPRESSION"] == "gzip"
        mounts = [*base[name].get("volumes", []), *tls[name]["volumes"]]
        for variable in TLS_VARIABLES:
            mount = mount_of(environment[variable], mounts)
            assert mount and mount.endswith(":ro") and "/service:" in mount, (name, variable)


@pytest.fixture(scope="module")
def overlay() -> list[dict]:
    return strip_internal(build(OVERLAY))


@pytest.mark.parametrize("version", ["1.33.0", "1.37.0"])
def test_the_overlay_is_valid_for_the_kubernetes_api(overlay, version):
    errors = []
    for obj in overlay:
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            continue  # a CRD's kind (the production overlay's PodMonitor)
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message}")
    assert errors == []


def test_every_exporting_container_of_the_overlay_sends_over_mutual_tls(overlay):
    settings = next(
        o for o in overlay if o["kind"] == "ConfigMap" and "OTEL_SERVICE_NAME" in o.get("data", {})
    )
    assert {v: settings["data"][v] for v in TLS_VARIABLES} == {
        "OTEL_EXPORTER_OTLP_CERTIFICATE": "/run/otlp-tls/ca.crt",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/run/otlp-tls/tls.crt",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/run/otlp-tls/tls.key",
    }
    exporting = []
    for obj in overlay:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env:
                continue
            exporting.append(obj["metadata"]["name"])
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
                "https://otel-agent.observability.svc.cluster.local:4317"
            )
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/run/otlp-tls"]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["secret"]["secretName"] == "observability-site-otlp-tls"
    assert sorted(exporting) == [
        "observability-site-beat",
        "observability-site-migrate",
        "observability-site-web",
        "observability-site-worker",
    ]


def test_the_agents_values_mount_what_the_receiver_fragment_reads():
    values = load(AGENT_TLS_VALUES)
    assert values["service"]["enabled"] is True
    (extra,) = values["command"]["extraArgs"]
    fragment_mount = next(
        m
        for m in values["extraVolumeMounts"]
        if extra.endswith(m["mountPath"] + "/receiver-tls.yaml")
    )
    volumes = {v["name"]: v for v in values["extraVolumes"]}
    assert volumes[fragment_mount["name"]]["configMap"]["name"] == "otel-receiver-tls-config"
    generators = load(COLLECTOR / "kustomization.yaml")["configMapGenerator"]
    assert {"name": "otel-receiver-tls-config", "files": ["receiver-tls.yaml"]} in generators
    tls_mount = next(
        m for m in values["extraVolumeMounts"] if m["mountPath"] == "/etc/otelcol-contrib/tls"
    )
    assert volumes[tls_mount["name"]]["secret"]["secretName"] == "otel-agent-otlp-tls"
    certificates = list(
        yaml.safe_load_all((AGENT_TLS_VALUES.parent / "otlp-tls.example.yaml").read_text())
    )
    assert {c["spec"]["secretName"] for c in certificates} == {
        "otel-agent-otlp-tls",
        "observability-site-otlp-tls",
    }
