"""deploy/kubernetes: each overlay rendered as `kustomize build` renders it
(tests/deploy/kustomize.py), every object validated against the Kubernetes API's schemas
(kubernetes-validate, strict: an unknown field fails) for the oldest and newest versions
stated below, then held to this project's rules: resources, probes, a non-root read-only
container, secrets only by reference, and selectors, HPA targets and references that meet
real objects.

No cluster and no kustomize binary here. kubectl (kustomize v5) is used when one is on PATH,
to check that the renderer agrees with it object for object.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize import KustomizeError, build, strip_internal

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = {name: KUBERNETES / "overlays" / name for name in ("development", "production")}
RENDERED = {**OVERLAYS, "backends": KUBERNETES / "backends"}
# The oldest minor version this is meant for (autoscaling/v2, policy/v1, the pod security
# admission labels and everything used here are GA well before it) and the newest whose
# schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
# Kinds of CRDs (installed by kube-prometheus-stack), which kubernetes-validate has no schema
# for: checked by hand below instead.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "PodMonitor")}
UID = 10001  # the Dockerfile's `app` user
SECRET = "observability-site"
SECRET_KEYS = {
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "METRICS_BEARER_TOKEN",
    "ALERTMANAGER_WEBHOOK_TOKEN",
}
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL|BROKER_URL|CACHE_URL")
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def render(name: str) -> list[dict]:
    return strip_internal(build(RENDERED[name]))


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def containers(obj: dict, *, init: bool = True) -> list[dict]:
    spec = pod_spec(obj)
    return (spec.get("initContainers", []) if init else []) + spec["containers"]


def pod_labels(obj: dict) -> dict:
    return obj["spec"]["template"]["metadata"].get("labels", {})


def matches(selector: dict, labels: dict) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if (operator == "Exists" and not present) or (operator == "DoesNotExist" and present):
            return False
    return True


# --- the renderer ----------------------------------------------------------------------------


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: nothing to compare with")
@pytest.mark.parametrize("name", sorted(RENDERED))
def test_the_renderer_agrees_with_kubectl_kustomize(name):
    done = subprocess.run(
        [KUBECTL, "kustomize", str(RENDERED[name])], capture_output=True, text=True, check=True
    )
    theirs = [o for o in yaml.safe_load_all(done.stdout) if o]

    def key(o):
        return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])

    assert sorted(map(key, render(name))) == sorted(map(key, theirs))
    assert {key(o): o for o in render(name)} == {key(o): o for o in theirs}


def test_the_renderer_refuses_what_it_does_not_render(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [../x]\nreplicas: [{name: a, count: 2}]\n"
    )
    with pytest.raises(KustomizeError, match="replicas"):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("configMapGenerator: [{name: a, files: [../f]}]\n")
    with pytest.raises(KustomizeError, match="outside"):
        build(tmp_path)


def test_generated_config_maps_are_named_by_their_content(overlay):
    _, objects = overlay
    prefix = "observability-site-settings-"
    settings = [o for o in find(objects, "ConfigMap") if o["metadata"]["name"].startswith(prefix)]
    assert len(settings) == 1
    assert re.fullmatch(
        r"observability-site-settings-[a-z0-9]{10}", settings[0]["metadata"]["name"]
    )


# --- the Kubernetes API's schemas ------------------------------------------------------------


def schema_errors(objects: list[dict], version: str) -> list[str]:
    errors = []
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: no such kind in {version}")
    return errors


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_object_is_valid_for_the_kubernetes_api(name, version):
    assert schema_errors(render(name), version) == []


def test_the_schema_check_fails_on_a_broken_manifest():
    objects = render("production")
    (web,) = find(objects, "Deployment", "observability-site-web")
    web["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # a typo
    (hpa,) = find(objects, "HorizontalPodAutoscaler", "observability-site-web")
    hpa["spec"]["minReplicas"] = "three"
    errors = schema_errors(objects, KUBERNETES_VERSIONS[0])
    assert any("Deployment observability-site-web" in e and "resource" in e for e in errors)
    assert any("HorizontalPodAutoscaler" in e for e in errors)


# --- the project's rules ---------------------------------------------------------------------


def rule_violations(objects: list[dict]) -> list[str]:
    """Every rule of this project that the rendered objects break, as sentences."""
    found: list[str] = []
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    config_maps = {o["metadata"]["name"]: o for o in find(objects, "ConfigMap")}
    for obj in workloads:
        name = f"{obj['kind']} {obj['metadata']['name']}"
        spec = pod_spec(obj)
        pod_security = spec.get("securityContext", {})
        if not (pod_security.get("runAsNonRoot") is True and pod_security.get("runAsUser") == UID):
            found.append(f"{name}: the pod must run as non-root uid {UID}")
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            found.append(f"{name}: no RuntimeDefault seccomp profile")
        if spec.get("automountServiceAccountToken") is not False:
            found.append(f"{name}: mounts a service account token it does not use")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        settings = {}
        for container in containers(obj):
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref not in config_maps:
                    found.append(f"{name}: envFrom names a missing ConfigMap {ref}")
                else:
                    settings.update(config_maps[ref]["data"])
        for container in containers(obj):
            where = f"{name} container {container['name']}"
            security = container.get("securityContext", {})
            if security.get("readOnlyRootFilesystem") is not True:
                found.append(f"{where}: root filesystem not read-only")
            if security.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: may escalate privileges")
            if security.get("capabilities", {}).get("drop") != ["ALL"] or security.get(
                "capabilities", {}
            ).get("add"):
                found.append(f"{where}: capabilities not dropped (ALL)")
            if security.get("privileged") or security.get("runAsUser", UID) != UID:
                found.append(f"{where}: privileged or another user")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        found.append(f"{where}: no {bound}.{resource}")
            image = container["image"]
            tag = image.rpartition(":")[2] if ":" in image else ""
            if not tag or tag == "latest" or "/" in tag:
                found.append(f"{where}: image {image} is not pinned to a version")
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            if "/tmp" not in mounts or "emptyDir" not in volumes.get(mounts["/tmp"]["name"], {}):
                found.append(f"{where}: /tmp is not a writable emptyDir")
            found += env_violations(where, container, settings, volumes, mounts)
        for container in containers(obj, init=False):
            where = f"{name} container {container['name']}"
            if obj["kind"] != "Job" and "livenessProbe" not in container:
                found.append(f"{where}: no livenessProbe")
            if container.get("ports") and "readinessProbe" not in container:
                found.append(f"{where}: serves a port without a readinessProbe")
    found += reference_violations(objects)
    return found


def env_violations(where, container, settings, volumes, mounts) -> list[str]:
    found = []
    defined = set(settings)
    for env in container.get("env", []):
        if SECRET_NAMES.search(env["name"]) and not env["name"].endswith("_FILE"):
            if "value" in env:
                found.append(f"{where}: {env['name']} is written in the manifest")
            ref = env.get("valueFrom", {}).get("secretKeyRef", {})
            if ref.get("name") != SECRET or ref.get("key") not in SECRET_KEYS:
                found.append(f"{where}: {env['name']} is not from Secret {SECRET}")
        if env["name"].endswith("_FILE"):
            mount = next((m for p, m in mounts.items() if env["value"].startswith(p + "/")), None)
            volume = volumes.get(mount["name"], {}) if mount else {}
            if volume.get("secret", {}).get("secretName") != SECRET:
                found.append(f"{where}: {env['name']} is not a file of Secret {SECRET}")
        # $(VAR) is expanded only from variables defined before it (envFrom or env).
        for reference in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", env.get("value", "")):
            if reference not in defined:
                found.append(f"{where}: {env['name']} uses $({reference}) before it is defined")
        defined.add(env["name"])
    for directory in ("DATA_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        path = settings.get(directory)
        needs = directory == "DATA_DIR" or container["name"] == "web"
        if needs and container["image"].startswith(("observability-site", "registry.")):
            mount = mounts.get(path)
            if not mount or "emptyDir" not in volumes.get(mount["name"], {}):
                found.append(f"{where}: {directory}={path} is not a writable emptyDir")
    return found


def reference_violations(objects: list[dict]) -> list[str]:
    found = []
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    for hpa in find(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        targets = [
            o
            for o in objects
            if (o["apiVersion"], o["kind"], o["metadata"]["name"])
            == (target["apiVersion"], target["kind"], target["name"])
        ]
        if len(targets) != 1:
            found.append(f"HPA {hpa['metadata']['name']}: no {target['kind']} {target['name']}")
        if not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
            found.append(f"HPA {hpa['metadata']['name']}: minReplicas > maxReplicas")
    for kind in ("PodDisruptionBudget", "Service", "NetworkPolicy"):
        for obj in find(objects, kind):
            selector = obj["spec"].get("selector") or obj["spec"].get("podSelector")
            if kind == "Service":
                selector = {"matchLabels": selector}
            selected = [w for w in workloads if matches(selector, pod_labels(w))]
            if not selected:
                found.append(f"{kind} {obj['metadata']['name']}: selects no pods")
            if kind == "PodDisruptionBudget" and len(selected) != 1:
                found.append(f"PDB {obj['metadata']['name']}: selects {len(selected)} workloads")
            ports = {
                port.get("name")
                for w in selected
                for c in containers(w, init=False)
                for port in c.get("ports", [])
            }
            if kind == "Service":
                wanted = [p.get("targetPort") for p in obj["spec"].get("ports", [])]
            else:
                rules = obj["spec"].get("ingress", [])
                wanted = [p["port"] for rule in rules for p in rule.get("ports", [])]
            for port in wanted:
                if isinstance(port, str) and port not in ports:
                    found.append(f"{kind} {obj['metadata']['name']}: no port named {port}")
    return found


def test_the_overlay_keeps_every_rule(overlay):
    name, objects = overlay
    assert rule_violations(objects) == [], name


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (lambda web: web["containers"][0]["resources"].pop("limits"), "no limits.cpu"),
        (lambda web: web["containers"][1].pop("readinessProbe"), "without a readinessProbe"),
        (lambda web: web["containers"][0].pop("livenessProbe"), "no livenessProbe"),
        (
            lambda web: web["containers"][0]["securityContext"].update(
                readOnlyRootFilesystem=False
            ),
            "not read-only",
        ),
        (lambda web: web["securityContext"].update(runAsUser=0), "non-root uid 10001"),
        (
            lambda web: web["containers"][0]["env"].append(
                {"name": "DJANGO_SECRET_KEY", "value": "hunter2"}
            ),
            "DJANGO_SECRET_KEY is written in the manifest",
        ),
        (
            lambda web: web["containers"][0]["env"].insert(
                0, {"name": "X", "value": "$(HOST_IP):4317"}
            ),
            "uses $(HOST_IP) before it is defined",
        ),
        (lambda web: web["volumes"].pop(1), "PROMETHEUS_MULTIPROC_DIR"),
        (lambda web: web["containers"][1].update(image="nginx:latest"), "not pinned"),
    ],
)
def test_the_rules_fail_when_a_manifest_breaks_one(breakage, complaint):
    objects = copy.deepcopy(render("production"))
    (web,) = find(objects, "Deployment", "observability-site-web")
    breakage(pod_spec(web))
    assert any(complaint in v for v in rule_violations(objects)), rule_violations(objects)


def test_a_selector_that_meets_no_pods_or_a_missing_hpa_target_fails():
    objects = copy.deepcopy(render("production"))
    (pdb,) = find(objects, "PodDisruptionBudget", "observability-site-web")
    pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "wbe"
    (service,) = find(objects, "Service", "observability-site-web")
    service["spec"]["ports"][0]["targetPort"] = "https"
    (hpa,) = find(objects, "HorizontalPodAutoscaler", "observability-site-worker")
    hpa["spec"]["scaleTargetRef"]["name"] = "observability-site-workers"
    violations = rule_violations(objects)
    assert "PodDisruptionBudget observability-site-web: selects no pods" in violations
    assert "Service observability-site-web: no port named https" in violations
    assert any(v.startswith("HPA observability-site-worker: no Deployment") for v in violations)


# --- what each workload runs -----------------------------------------------------------------


def container_named(objects, deployment, name) -> dict:
    (obj,) = find(objects, "Deployment", deployment)
    return next(c for c in containers(obj) if c["name"] == name)


def env_of(container: dict) -> dict[str, dict]:
    return {env["name"]: env for env in container.get("env", [])}


def test_the_commands_are_the_services(overlay):
    _, objects = overlay
    web = container_named(objects, "observability-site-web", "web")
    assert web["command"] == [
        "gunicorn",
        "-c",
        "observability_site/gunicorn.conf.py",
        "observability_site.wsgi",
    ]
    worker = container_named(objects, "observability-site-worker", "worker")
    assert worker["command"][:4] == ["celery", "-A", "observability_site", "worker"]
    assert "--loglevel=INFO" in worker["command"]
    assert any(arg.startswith("--concurrency=") for arg in worker["command"])
    beat = container_named(objects, "observability-site-beat", "beat")
    assert beat["command"][:4] == ["celery", "-A", "observability_site", "beat"]
    # Beat's schedule file must be somewhere writable.
    assert "--schedule=/var/lib/observability-site/celerybeat-schedule" in beat["command"]


def test_the_migration_job_runs_migrate_and_the_pods_wait_for_it(overlay):
    _, objects = overlay
    (job,) = find(objects, "Job", "observability-site-migrate")
    (migrate,) = containers(job)
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    for deployment in find(objects, "Deployment"):
        (wait,) = pod_spec(deployment)["initContainers"]
        assert "manage.py migrate --check" in " ".join(wait["command"])


def test_web_probes_health_for_liveness_and_ready_for_readiness(overlay):
    _, objects = overlay
    web = container_named(objects, "observability-site-web", "web")
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    port = ports[web["readinessProbe"]["httpGet"]["port"]]
    assert f"0.0.0.0:{port}" == env_of(web)["GUNICORN_BIND"]["value"]
    # The probes and Prometheus send Host: <pod IP>; Django must accept it.
    assert "$(POD_IP)" in env_of(web)["DJANGO_ALLOWED_HOSTS"]["value"]
    assert env_of(web)["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_nginx_fronts_gunicorn_and_the_service_exposes_only_nginx(overlay):
    _, objects = overlay
    nginx = container_named(objects, "observability-site-web", "nginx")
    web = container_named(objects, "observability-site-web", "web")
    assert env_of(nginx)["UPSTREAM"]["value"] == f"127.0.0.1:{web['ports'][0]['containerPort']}"
    assert env_of(nginx)["NGINX_ENVSUBST_FILTER"]["value"] == "^(LISTEN|UPSTREAM)$"
    listen = int(env_of(nginx)["LISTEN"]["value"])
    assert nginx["ports"] == [{"name": "http", "containerPort": listen}]
    (service,) = find(objects, "Service", "observability-site-web")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    # The template comes from deploy/nginx, byte for byte.
    (deployment,) = find(objects, "Deployment", "observability-site-web")
    volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "nginx-template")
    (config_map,) = find(objects, "ConfigMap", volume["configMap"]["name"])
    template = (ROOT / "deploy" / "nginx" / "nginx.conf.template").read_text()
    assert config_map["data"] == {"nginx.conf.template": template}
    assert env_of(web)["NUM_PROXIES"]["value"] == "1"


def test_telemetry_goes_to_the_node_local_agent_with_the_pods_identity(overlay):
    _, objects = overlay
    for obj in [o for o in objects if o["kind"] in WORKLOADS]:
        for container in containers(obj, init=False):
            if container["name"] == "nginx":
                continue
            env = env_of(container)
            assert env["HOST_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://$(HOST_IP):4317"
            attributes = dict(
                pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(",")
            )
            fields = {
                "k8s.pod.name": "metadata.name",
                "k8s.namespace.name": "metadata.namespace",
                "k8s.node.name": "spec.nodeName",
            }
            for attribute, field in fields.items():
                variable = re.fullmatch(r"\$\((\w+)\)", attributes[attribute]).group(1)
                assert env[variable]["valueFrom"]["fieldRef"]["fieldPath"] == field


def test_beat_is_a_single_replica_that_is_recreated(overlay):
    _, objects = overlay
    (beat,) = find(objects, "Deployment", "observability-site-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    autoscaled = {
        h["spec"]["scaleTargetRef"]["name"] for h in find(objects, "HorizontalPodAutoscaler")
    }
    assert autoscaled == {"observability-site-web", "observability-site-worker"}
    budgeted = {p["metadata"]["name"] for p in find(objects, "PodDisruptionBudget")}
    assert budgeted == {"observability-site-web", "observability-site-worker"}
    for hpa in find(objects, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"


def test_no_secret_value_is_shipped(overlay):
    _, objects = overlay
    assert not find(objects, "Secret")
    text = yaml.safe_dump_all(objects)
    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", text), "credentials in a URL"
    # The example is never applied: no kustomization lists it.
    for kustomization in KUBERNETES.rglob("kustomization.yaml"):
        resources = yaml.safe_load(kustomization.read_text()).get("resources", [])
        assert not [r for r in resources if "example" in r], kustomization
    example = yaml.safe_load((KUBERNETES / "base" / "secret.example.yaml").read_text())
    assert set(example["stringData"]) == SECRET_KEYS
    assert set(example["stringData"].values()) == {"change-me"}


def test_the_namespace_enforces_the_restricted_pod_security_standard(overlay):
    _, objects = overlay
    (namespace,) = find(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], obj["kind"]


def test_the_overlays_differ_where_they_should():
    development, production = render("development"), render("production")

    def settings(objects):
        (cm,) = [o for o in find(objects, "ConfigMap") if "settings" in o["metadata"]["name"]]
        return cm["data"]

    assert settings(development)["DEPLOYMENT_ENVIRONMENT"] == "development"
    assert settings(production)["DEPLOYMENT_ENVIRONMENT"] == "production"
    assert settings(production).get("DJANGO_SECURE_SSL_REDIRECT", "true") != "false"
    (dev_hpa,) = find(development, "HorizontalPodAutoscaler", "observability-site-web")
    (prod_hpa,) = find(production, "HorizontalPodAutoscaler", "observability-site-web")
    assert dev_hpa["spec"]["minReplicas"] < prod_hpa["spec"]["minReplicas"]


def test_prometheus_scrapes_gunicorn_with_the_token_in_production():
    objects = render("production")
    ((monitor),) = [o for o in objects if (o["apiVersion"], o["kind"]) in CUSTOM_KINDS]
    (web,) = find(objects, "Deployment", "observability-site-web")
    assert matches(monitor["spec"]["selector"], pod_labels(web))
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"] for c in containers(web, init=False) for p in c.get("ports", [])}
    assert endpoint["port"] == "http-app" and endpoint["port"] in ports
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {
        "name": SECRET,
        "key": "METRICS_BEARER_TOKEN",
    }
    # ... and the NetworkPolicy lets Prometheus' namespace, and only it, reach that port.
    (policy,) = find(objects, "NetworkPolicy", "observability-site-web")
    rules = {tuple(p["port"] for p in r["ports"]): r.get("from") for r in policy["spec"]["ingress"]}
    assert rules[("http",)] is None
    assert rules[("http-app",)] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
