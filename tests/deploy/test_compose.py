"""deploy/compose.yaml and the Dockerfile: the whole stack is declared, pinned, health-checked,
keeps its data in named volumes, publishes on 127.0.0.1 only and holds no secret.

No Docker engine is needed (nor available here): the file is parsed as YAML and checked the way
`docker compose config` would resolve it, plus the rules this project sets for itself.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from tests.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"

SERVICES = {
    "proxy",
    "web",
    "worker",
    "beat",
    "migrate",
    "postgres",
    "redis",
    "otel-collector",
    "jaeger",
    "prometheus",
    "alertmanager",
    "elasticsearch",
    "es-setup",
    "kibana",
    "grafana",
}
ONE_SHOT = {"migrate", "es-setup"}
# The collector image is FROM scratch: nothing inside it can run a check (see compose.yaml).
NO_HEALTHCHECK_POSSIBLE = {"otel-collector"}
UI_PORTS = {"grafana": 3000, "jaeger": 16686, "prometheus": 9090, "alertmanager": 9093,
            "kibana": 5601}  # fmt: skip
# The service faces clients through its buffering proxy (deploy/nginx); gunicorn is internal.
PROXY_PORT = "127.0.0.1:8000:8080"

SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|ENCRYPTIONKEY|ROUTING_KEY|WEBHOOK_URL")
WHOLE_REFERENCE = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
URL_CREDENTIALS = re.compile(r"://[^:/@\s]*:(\$\{[^}]*\}|[^@\s]*)@")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_it_declares_the_whole_stack(services):
    assert set(services) == SERVICES


def test_every_image_is_pinned_to_a_version(services):
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        if name in {"web", "worker", "beat", "migrate"}:
            # Built here from the Dockerfile, tagged with the service's version.
            assert service["build"]["dockerfile"] == "Dockerfile", name
            assert (DEPLOY / service["build"]["context"] / "Dockerfile").is_file()
            assert image.startswith("observability-site:${SERVICE_VERSION:-"), image
            continue
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        # major.minor[.patch]: PostgreSQL's own versions have two parts (18.4).
        assert re.match(r"v?\d+\.\d+(\.\d+)?$", tag), f"{name}: {image} is not a version"


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        if name in NO_HEALTHCHECK_POSSIBLE:
            assert "healthcheck" not in service
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert service["restart"] == "unless-stopped", name


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("web", "/ready"),
        ("worker", "inspect ping"),
        ("postgres", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("prometheus", "/-/ready"),
        ("alertmanager", "/-/ready"),
        ("grafana", "/api/health"),
        ("elasticsearch", "/_cluster/health"),
        ("jaeger", ":13133/status"),
    ],
)
def test_each_healthcheck_probes_what_the_service_offers(services, service, probe):
    assert probe in " ".join(services[service]["healthcheck"]["test"])


def test_the_collector_health_endpoint_is_published_for_outside_probes(services):
    ports = services["otel-collector"]["ports"]
    assert "127.0.0.1:13133:13133" in ports


def test_data_lives_in_named_volumes_that_are_declared_and_used(compose, services):
    declared = set(compose["volumes"])
    used = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (DEPLOY / source).exists() or source == "./grafana/dashboards", volume
    assert used == declared
    for name in ("postgres", "redis", "prometheus", "alertmanager", "elasticsearch", "grafana"):
        assert any(not v.startswith((".", "/")) for v in services[name]["volumes"]), (
            f"{name} keeps its data in the container"
        )


def test_ports_are_published_on_the_loopback_only(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    for name, port in UI_PORTS.items():
        assert f"127.0.0.1:{port}:{port}" in services[name]["ports"]
    assert PROXY_PORT in services["proxy"]["ports"]
    assert "ports" not in services["web"]  # slow clients meet nginx, never gunicorn


def test_dependencies_wait_for_health_or_completion(services):
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for target, rule in depends_on.items():
            assert target in services
            expected = {
                True: "service_completed_successfully",
                False: "service_healthy",
            }[target in ONE_SHOT]
            if target in NO_HEALTHCHECK_POSSIBLE:
                expected = "service_started"
            assert rule["condition"] == expected, f"{name} -> {target}"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_web_worker_and_migrate_run_the_one_image(services):
    commands = {name: " ".join(services[name]["command"]) for name in ("web", "worker", "migrate")}
    assert commands["web"] == (
        "gunicorn -c observability_site/gunicorn.conf.py observability_site.wsgi"
    )
    assert commands["worker"].startswith("celery -A observability_site worker")
    assert commands["migrate"].startswith(
        "sh -c python manage.py migrate --noinput && { python manage.py export_alert_rules"
    )
    assert len({services[name]["image"] for name in commands}) == 1


def test_the_service_is_wired_to_the_stack(services):
    env = environment_of(services["web"])
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert env["DATABASE_URL"].endswith("@postgres:5432/observability_site")
    assert env["CELERY_BROKER_URL"].endswith("@redis:6379/0")
    assert env["CACHE_URL"].startswith("redis://")
    assert env["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert "web" in env["DJANGO_ALLOWED_HOSTS"]
    assert env["NUM_PROXIES"] == "1"  # the one trusted hop: the proxy in front of it
    web_only = {"GUNICORN_BIND", "NUM_PROXIES"}
    assert env.keys() - web_only == environment_of(services["worker"]).keys()


def test_no_secret_value_is_written_in_the_file(services):
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key):
                assert WHOLE_REFERENCE.match(value), f"{name}: {key}={value!r} is not ${{VAR:?}}"
            for password in URL_CREDENTIALS.findall(value):
                assert WHOLE_REFERENCE.match(password), f"{name}: {key} has a literal password"


def test_the_file_secrets_come_from_the_environment(compose, services):
    for secret in compose["secrets"].values():
        assert set(secret) == {"environment"}, secret
    mounted = {
        (name, entry["source"], entry["target"])
        for name, service in services.items()
        for entry in service.get("secrets", [])
    }
    assert ("prometheus", "metrics_token", "/etc/prometheus/secrets/metrics_token") in mounted
    for file in ("webhook_token", "slack_webhook_url", "pagerduty_routing_key"):
        assert any(n == "alertmanager" and t.endswith(f"/{file}") for n, _, t in mounted), file


def strings_in(node) -> list[str]:
    """Every string of the parsed file (comments are not interpolated, so they do not count)."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings_in(key) + strings_in(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return [node] if isinstance(node, str) else []


def referenced_variables() -> set[str]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    names = set()
    for string in strings_in(compose):
        names |= set(REFERENCE.findall(string.replace("$$", "")))
    names |= {secret["environment"] for secret in compose["secrets"].values()}
    return names


def test_the_variable_scan_finds_references():
    names = referenced_variables()
    assert {"POSTGRES_PASSWORD", "SERVICE_VERSION", "SLACK_WEBHOOK_URL"} <= names
    assert "REDIS_PASSWORD" in names and "HOSTNAME" not in names  # $$HOSTNAME is the shell's


def documented_variables() -> dict[str, str]:
    documented = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            documented[match.group(1)] = match.group(2)
    return documented


def test_the_example_env_file_documents_every_variable():
    documented = documented_variables()
    missing = referenced_variables() - documented.keys()
    assert not missing, f"not in deploy/.env.example: {sorted(missing)}"
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?[A-Z][A-Z0-9_]*=", line):
            assert lines[index - 1].startswith("#"), f"no explanation above {line!r}"


def test_the_example_env_file_holds_placeholders_only():
    for name, value in documented_variables().items():
        if SECRET_NAME.search(name) and name != "SLACK_WEBHOOK_URL":
            assert value.startswith("change-me"), f"{name} looks like a real secret"


def test_every_required_secret_fails_fast_when_missing():
    text = COMPOSE_FILE.read_text()
    for name in documented_variables():
        if SECRET_NAME.search(name) and name not in {"SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY"}:
            assert re.search(r"\$\{" + name + r":\?", text), f"{name} has no ${{{name}:?...}}"


def test_the_real_env_file_is_not_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=REPO_ROOT, check=False
    ).returncode
    assert ignored == 0, "deploy/.env is not git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/.env"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""


def test_the_mounted_configuration_files_exist(services):
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and source != "./grafana/dashboards":
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    # The dashboards mount is where Grafana's provider looks (test_grafana_provisioning.py).
    assert "./grafana/dashboards:/etc/grafana/dashboards:ro" in services["grafana"]["volumes"]


def test_alertmanager_reaches_the_service_by_its_compose_name(services):
    script = services["alertmanager"]["entrypoint"][-1]
    shipped = (DEPLOY / "alertmanager" / "alertmanager.yml").read_text()
    # The shipped file names the `make run` address; the entrypoint rewrites exactly that.
    assert "http://127.0.0.1:8000/api/telemetry/alertmanager/webhook" in shipped
    assert "sed 's#http://127.0.0.1:8000/#http://web:8000/#'" in script
    assert "--config.file=/alertmanager/alertmanager.compose.yml" in script


def test_prometheus_runs_with_the_otlp_receiver_and_exemplars(services):
    command = services["prometheus"]["command"]
    assert "--web.enable-otlp-receiver" in command
    assert "--enable-feature=exemplar-storage" in command
    assert "--web.enable-lifecycle" in command
    # The rules the service publishes (web, migrate) into the volume Prometheus reads.
    assert "prometheus-rules:/etc/prometheus/live:ro" in services["prometheus"]["volumes"]
    for writer in ("web", "migrate"):
        assert "prometheus-rules:/var/lib/observability-site/rules" in services[writer]["volumes"]
    assert "--web.external-url=http://127.0.0.1:9090" in command


class TestDockerfile:
    text = (REPO_ROOT / "Dockerfile").read_text()

    def instructions(self, keyword: str) -> list[str]:
        """The arguments of each KEYWORD instruction, continuation lines joined."""
        joined = re.sub(r"\\\n\s*", " ", self.text)
        return [
            line.split(None, 1)[1]
            for line in joined.splitlines()
            if line.upper().startswith(keyword + " ")
        ]

    def test_it_runs_as_a_user_without_privileges(self):
        users = self.instructions("USER")
        assert users and users[-1].split(":")[0] not in {"root", "0"}
        # The last USER comes after everything that installs or copies.
        last_user = self.text.rindex("\nUSER ")
        assert "RUN " not in self.text[last_user:] and "COPY " not in self.text[last_user:]

    def test_it_installs_the_pinned_versions(self):
        installs = [run for run in self.instructions("RUN") if "pip install" in run]
        assert installs and all("-c requirements.lock" in run for run in installs)
        assert any("requirements.lock" in copy for copy in self.instructions("COPY"))

    def test_its_base_image_is_python_3_11_slim(self):
        assert "ARG PYTHON_IMAGE=python:3.11-slim" in self.text
        stages = self.instructions("FROM")
        # The Python stages (build, runtime) on the one base; the viewer stage only builds
        # speedscope's files with a pinned Node (nothing of it runs in the image).
        python = [f for f in stages if not f.startswith("node:")]
        assert python and all(f.startswith("${PYTHON_IMAGE}") for f in python)
        assert [f for f in stages if f.startswith("node:")] == ["node:20-bookworm-slim AS viewer"]

    def test_it_starts_gunicorn_with_the_telemetry_hooks(self):
        (cmd,) = self.instructions("CMD")
        assert cmd == (
            '["gunicorn", "-c", "observability_site/gunicorn.conf.py", "observability_site.wsgi"]'
        )
        # post_fork in that file starts each worker's telemetry.
        conf = (REPO_ROOT / "observability_site" / "gunicorn.conf.py").read_text()
        assert "def post_fork(" in conf and "configure_telemetry" in conf

    def test_the_build_context_leaves_out_secrets_and_local_state(self):
        ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
        assert ignore[0].startswith("#") and "*" in ignore
        assert "!deploy/" not in ignore and "!.env" not in ignore and "!var/" not in ignore
        for needed in ("manage.py", "requirements.lock", "pyproject.toml"):
            assert f"!{needed}" in ignore


def test_the_local_stack_renders_configurations_its_tools_accept(tmp_path):
    """deploy/local/run-stack.sh --check: the compose configurations with 127.0.0.1 targets,
    accepted by promtool and amtool (Debian's, as the script runs them)."""
    done = subprocess.run(
        ["bash", str(DEPLOY / "local" / "run-stack.sh"), "--check"],
        env={
            **os.environ,
            "STACK_DIR": str(tmp_path),
            "PORT": "18000",
            "OTEL_METRICS_PORTS": "19464-19466",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    prometheus = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = {
        name: job["static_configs"][0]["targets"]
        for name, job in jobs.items()
        if "static_configs" in job
    }
    assert targets == {
        "observability-site": ["127.0.0.1:18000"],
        "prometheus": ["127.0.0.1:9090"],
        "alertmanager": ["127.0.0.1:9093"],
    }
    # Each process of the service announces the port it took (telemetry.pipeline.scrape_targets).
    (found,) = jobs["observability-site-otel"]["file_sd_configs"]
    assert found["files"] == [str(tmp_path / "prometheus" / "otel-targets" / "*.json")]
    alertmanager = yaml.safe_load((tmp_path / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in alertmanager["receivers"]:
        for webhook in receiver["webhook_configs"]:
            assert webhook["url"].startswith("http://127.0.0.1:18000/")
    service_env = (tmp_path / "service.env").read_text()
    assert "OTEL_METRICS_EXPORTER=otlp,prometheus\n" in service_env
    assert "OTEL_EXPORTER_PROMETHEUS_PORT=19464-19466\n" in service_env
    assert f"TELEMETRY_PROMETHEUS_TARGETS_DIR={tmp_path}/prometheus/otel-targets\n" in service_env
    token = re.search(r"^METRICS_BEARER_TOKEN=([0-9a-f]{48})$", service_env, re.M).group(1)
    assert (tmp_path / "prometheus" / "secrets" / "metrics_token").read_text() == token
    assert (tmp_path / "service.env").stat().st_mode & 0o077 == 0
