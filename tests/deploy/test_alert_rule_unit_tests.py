"""The promtool rule unit tests in deploy/prometheus/tests run against a fresh export from the
database, and the Prometheus configuration in deploy/ passes promtool's checks."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.core.management import call_command

from telemetry.prometheus import promtool
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db
DEPLOY = REPO_ROOT / "deploy" / "prometheus"


@pytest.fixture(autouse=True)
def _promtool_installed():
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: run scripts/test.sh (it installs it) or apt-get")


def test_the_seeded_rules_pass_their_unit_tests(tmp_path):
    # Same layout as deploy/prometheus, so the test file's ../rules/ path finds the export.
    (tmp_path / "tests").mkdir()
    shutil.copy(DEPLOY / "tests" / "alert_rules_test.yml", tmp_path / "tests")
    call_command("export_alert_rules", "--output", str(tmp_path / "rules" / "alert_rules.yml"))
    outcome = promtool.run_rule_unit_tests(tmp_path / "tests" / "alert_rules_test.yml")
    assert outcome.ok, outcome.output


def test_the_unit_tests_catch_a_changed_threshold(tmp_path):
    from telemetry.models import AlertRule

    rule = AlertRule.objects.get(name="HighErrorRate")
    rule.expr = rule.expr.replace("> 0.05", "> 0.5")
    rule.save()
    (tmp_path / "tests").mkdir()
    shutil.copy(DEPLOY / "tests" / "alert_rules_test.yml", tmp_path / "tests")
    call_command("export_alert_rules", "--output", str(tmp_path / "rules" / "alert_rules.yml"))
    outcome = promtool.run_rule_unit_tests(tmp_path / "tests" / "alert_rules_test.yml")
    assert not outcome.ok and "HighErrorRate" in outcome.output


def test_the_prometheus_configuration_is_valid(tmp_path):
    # The same layout as the container's /etc/prometheus: the exported rules beside the config
    # and the scrape token file it names (promtool checks that the file exists).
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path)
    shutil.copytree(DEPLOY / "rules", tmp_path / "rules")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "metrics_token").write_text("not-a-real-token\n")
    done = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alert_rules.yml" in done.stdout  # the rule files were found and checked too
