"""deploy/alertmanager/alertmanager.yml: valid for amtool, routes by severity, holds no secret."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.paths import REPO_ROOT

CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


@pytest.fixture(autouse=True)
def _amtool_installed():
    if shutil.which("amtool") is None:
        pytest.fail("amtool is not installed: run scripts/test.sh (it installs it) or apt-get")


def amtool(*args: str) -> str:
    done = subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_it_passes_amtool_check_config():
    assert "SUCCESS" in amtool("check-config", str(CONFIG))


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "critical"), ("warning", "warning"), ("info", "service-webhook")],
)
def test_it_routes_by_severity(severity, receiver):
    routed = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", "alertname=X", f"severity={severity}"
    )
    assert routed.strip() == receiver


def test_every_receiver_notifies_the_service():
    config = yaml.safe_load(CONFIG.read_text())
    for receiver in config["receivers"]:
        (webhook,) = receiver["webhook_configs"]
        assert webhook["url"].endswith("/api/telemetry/alertmanager/webhook")
        assert webhook["send_resolved"] is True


def test_secrets_come_from_files_only():
    config = yaml.safe_load(CONFIG.read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            authorization = webhook["http_config"]["authorization"]
            assert "credentials" not in authorization and authorization["credentials_file"]
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack and slack["api_url_file"]
        for pagerduty in receiver.get("pagerduty_configs", []):
            assert not {"routing_key", "service_key"} & pagerduty.keys()
            assert pagerduty["routing_key_file"]
