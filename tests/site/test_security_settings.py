"""Security defaults: throttled login and API, /metrics behind an optional token, and
production settings that pass `manage.py check --deploy`."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.throttling import SimpleRateThrottle

from common.env import kept_random_secret
from tests.paths import REPO_ROOT


@pytest.fixture
def throttle_rates(monkeypatch):
    """DRF reads the rates once, at import: set them on the throttle class, as its docs do."""

    def set_rates(**rates: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    return set_rates


@pytest.mark.django_db
def test_token_login_is_throttled_per_client_at_the_default_rate(anon_client, user, settings):
    settings.AXES_FAILURE_LIMIT = 100  # the lockout (tests/users) is not what this tests
    statuses = [
        anon_client.post(
            "/api/auth/token", {"username": user.email, "password": "wrong"}
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [400] * 10 + [429]
    body = anon_client.post("/api/auth/token", {"username": user.email, "password": "x"})
    assert body.json()["error"]["code"] == "throttled"


@pytest.mark.django_db
def test_a_valid_login_returns_a_token_that_authenticates(anon_client, user):
    token = anon_client.post(
        "/api/auth/token", {"username": user.email, "password": "correct horse battery"}
    ).json()["token"]
    response = anon_client.get(f"/api/users/{user.pk}", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_api_callers_are_throttled(user_client, throttle_rates):
    throttle_rates(anon="100/min", user="2/min", login="3/min")
    statuses = [user_client.get("/api/jobs").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_the_downstream_stand_in_is_not_throttled(anon_client, throttle_rates):
    throttle_rates(anon="1/min", user="1/min", login="1/min")
    payload = {"words": 1, "sha256": "0" * 64}
    statuses = {
        anon_client.post("/api/downstream/enrich", payload, format="json").status_code
        for _ in range(3)
    }
    assert statuses == {200}


def test_metrics_can_require_a_bearer_token(client, settings):
    settings.METRICS_BEARER_TOKEN = "scrape-me"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert allowed.status_code == 200
    assert b"django_migrations_" in allowed.content


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DEPLOYMENT_ENVIRONMENT": "production",
        "DJANGO_SECRET_KEY": "a-long-random-production-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "service.example.com",
        "OTEL_SDK_DISABLED": "true",
    }
    done = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SECRET_KEY")}
    env.update(
        DATA_DIR=str(tmp_path), DEPLOYMENT_ENVIRONMENT="production", OTEL_SDK_DISABLED="true"
    )
    done = _manage(env, "check")
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set in production" in done.stderr


def _read_key_at(path: str, start: float, results) -> None:
    while time.monotonic() < start:  # all of them at once
        pass
    results.put(kept_random_secret(Path(path)))


def test_processes_starting_together_on_a_fresh_directory_share_one_secret_key(tmp_path):
    # gunicorn's workers read settings at the same moment on a fresh DATA_DIR: one of them
    # used to read the key file its neighbour had created but not yet written (an empty
    # SECRET_KEY, every request of that worker a 500).
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    for attempt in range(5):
        path = tmp_path / f"secret_key_{attempt}"
        start = time.monotonic() + 0.5
        readers = [
            context.Process(target=_read_key_at, args=(str(path), start, results)) for _ in range(8)
        ]
        for reader in readers:
            reader.start()
        keys = {results.get(timeout=30) for _ in readers}
        for reader in readers:
            reader.join(10)
        assert len(keys) == 1 and len(keys.pop()) >= 50
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
