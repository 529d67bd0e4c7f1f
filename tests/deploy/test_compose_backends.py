"""deploy/compose.yaml and its backends' configurations, read against each backend's own
documentation for the pinned versions (no Docker engine here: the files are parsed).

- Secrets fail fast when unset OR empty: `${VAR:?msg}`; `${VAR?msg}` lets an empty value
  through, and a secret that reaches a container only as a file would be an empty file.
- No command-line flag that the pinned version documents as deprecated.
- Prometheus takes out-of-order samples on its OTLP intake (its OpenTelemetry guide).
- The Elasticsearch exporter retries only what cannot write documents twice.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|ENCRYPTIONKEY|ROUTING_KEY|WEBHOOK_URL")
# Flags marked [DEPRECATED] in the pinned versions' command-line references:
#   Prometheus v3.14.0 docs/command-line/prometheus.md: the retention flags (use
#   storage.tsdb.retention.* in the configuration file).
DEPRECATED_FLAGS = {
    "prometheus": {"--storage.tsdb.retention.time", "--storage.tsdb.retention.size"},
}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def references(text: str) -> list[tuple[str, str]]:
    """(name, operator) of every ${NAME<op>...} in the text; `$$` is a literal `$`."""
    text = text.replace("$$", "")
    return re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+]|)", text)


def strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def test_no_variable_is_required_only_when_unset():
    found = [name for s in strings(compose()) for name, op in references(s) if op == "?"]
    assert found == [], f"${{VAR?}} lets an empty value through: {found}"


def test_every_secret_is_required_set_and_non_empty():
    data = compose()
    operators: dict[str, set[str]] = {}
    for s in strings(data):
        for name, op in references(s):
            operators.setdefault(name, set()).add(op)
    # The variables the compose secrets are made from count as secrets.
    file_secrets = {secret["environment"] for secret in data["secrets"].values()}
    for name in set(operators) | file_secrets:
        if SECRET_NAME.search(name) or name in file_secrets:
            assert operators.get(name) == {":?"}, f"{name}: {operators.get(name)}"


def test_the_check_above_catches_a_lenient_reference(tmp_path):
    lenient = 'x: "${DJANGO_SECRET_KEY?missing}"\ny: "${REDIS_PASSWORD:-}"\n'
    found = {(n, op) for n, op in references(lenient)}
    assert found == {("DJANGO_SECRET_KEY", "?"), ("REDIS_PASSWORD", ":-")}


def test_no_service_uses_a_deprecated_flag():
    for name, service in compose()["services"].items():
        command = service.get("command") or []
        words = " ".join(command if isinstance(command, list) else [command])
        words += " " + " ".join(service.get("entrypoint") or [])
        flags = {word.split("=", 1)[0] for word in words.split() if word.startswith("--")}
        assert not flags & DEPRECATED_FLAGS.get(name, set()), name


def test_prometheus_accepts_out_of_order_samples_on_its_otlp_receiver():
    prometheus = compose()["services"]["prometheus"]
    assert "--web.enable-otlp-receiver" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    window = config["storage"]["tsdb"]["out_of_order_time_window"]
    assert window == "30m"  # Prometheus' OpenTelemetry guide
    # The Kubernetes stack says the same to the Prometheus Operator.
    values = yaml.safe_load(
        (DEPLOY / "kubernetes" / "backends" / "kube-prometheus-stack.values.yaml").read_text()
    )
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["tsdb"]["outOfOrderTimeWindow"] == window
    assert spec["enableOTLPReceiver"] is True
    assert "exemplar-storage" in spec["enableFeatures"]
    assert spec["retention"] == "15d"  # compose: Prometheus' default, 15 days


def test_the_elasticsearch_exporter_retries_only_what_cannot_duplicate():
    for name in ("config.yaml", "loadbalancing.yaml"):
        config = yaml.safe_load((DEPLOY / "otel-collector" / name).read_text())
        retry = config["exporters"]["elasticsearch"]["retry"]
        # 429: nothing of the request (or the document) was written. A 5xx bulk answer may
        # come after some documents were indexed; with generated _ids a retry doubles them.
        assert retry["retry_on_status"] == [429], name
        assert retry["enabled"] is True and retry["max_retries"] >= 1


def test_images_of_the_proxy_are_pinned_alike():
    """nginx: the same stable version in compose and Kubernetes."""
    image = compose()["services"]["proxy"]["image"]
    kustomization = yaml.safe_load(
        (DEPLOY / "kubernetes" / "base" / "kustomization.yaml").read_text()
    )
    tags = {i["name"]: i["newTag"] for i in kustomization["images"]}
    assert image == f"nginx:{tags['nginx']}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tags["nginx"])
