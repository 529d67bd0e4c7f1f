"""Exporting rules: the command with --output, the admin download, an empty export,
promtool's verdict, and where each file says it came from."""

from __future__ import annotations

import io
import shutil

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client

from telemetry.alerting import publish as alerting
from telemetry.models import SLO, AlertRule
from telemetry.prometheus import promtool
from tests.harness.servers import free_port
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _promtool_installed():
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: run scripts/test.sh (it installs it) or apt-get")


def export(*args: str) -> str:
    err = io.StringIO()
    call_command("export_alert_rules", *args, stderr=err)
    return err.getvalue()


def test_it_exports_the_seeded_rules_and_promtool_accepts_them(tmp_path):
    out = tmp_path / "rules.yml"
    assert "promtool check rules: OK" in export("--output", str(out), "--check")
    groups = yaml.safe_load(out.read_text())["groups"]
    alerts = {
        group["name"]: [rule["alert"] for rule in group["rules"] if "alert" in rule]
        for group in groups
    }
    assert alerts["service_alerts"] == ["HighErrorRate", "HighLatency", "TrafficSpike"]
    assert alerts["slo-api_availability-alerts"] == ["SLOErrorBudgetBurn"] * 2
    assert "ServiceTargetDown" in alerts["meta_monitoring"]
    assert list(alerts) == [  # alert groups in name order, then each SLO's two groups
        "meta_monitoring",
        "service_alerts",
        "slo-api_availability-recordings",
        "slo-api_availability-alerts",
    ]
    assert promtool.check_rules_file(out).ok
    assert out.read_text().startswith("# Written by `manage.py export_alert_rules --output`")


def test_the_committed_rule_file_is_the_export_of_the_seeded_rules():
    # deploy/ must not drift from the migration: regenerate with `manage.py export_alert_rules`.
    committed = (REPO_ROOT / "deploy" / "prometheus" / "rules" / "alert_rules.yml").read_text()
    assert committed == alerting.render_rule_file()


def test_it_exports_an_empty_but_valid_file_when_no_rule_is_enabled(tmp_path):
    AlertRule.objects.update(enabled=False)
    SLO.objects.all().delete()
    out = tmp_path / "rules.yml"
    export("--output", str(out), "--check")
    assert yaml.safe_load(out.read_text()) == {"groups": []}
    outcome = promtool.check_rules_file(out)
    assert outcome.ok and "0 rules found" in outcome.output


def test_disabled_rules_are_left_out(tmp_path):
    AlertRule.objects.filter(name="TrafficSpike").update(enabled=False)
    text = alerting.render_rule_file()
    assert "TrafficSpike" not in text and "HighErrorRate" in text


def test_it_writes_a_copy_where_told_creating_the_directories(tmp_path):
    out = tmp_path / "deep" / "rules" / "alert_rules.yml"
    assert f"wrote {out}" in export("--output", str(out))
    assert "HighErrorRate" in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["alert_rules.yml"]  # no temporary left


def test_check_refuses_to_write_a_file_promtool_rejects(tmp_path):
    # Saved without validation (e.g. by a script), the bad rule still never reaches Prometheus.
    AlertRule.objects.create(group="g", name="Broken", expr="rate(x[5m]")
    out = tmp_path / "rules.yml"
    out.write_text("previous\n")
    with pytest.raises(CommandError, match="could not parse expression"):
        export("--output", str(out), "--check")
    assert out.read_text() == "previous\n"


def test_check_fails_loudly_without_promtool(settings, tmp_path):
    settings.PROMTOOL_PATH = "/nonexistent/promtool"
    with pytest.raises(CommandError, match="NOT checked"):
        export("--output", str(tmp_path / "rules.yml"), "--check")


def test_reload_failure_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="reload failed"):
        export("--output", str(tmp_path / "r.yml"), "--reload", f"http://127.0.0.1:{free_port()}")


def test_reload_without_a_url_is_an_error(settings, tmp_path):
    settings.PROMETHEUS_URL = ""
    with pytest.raises(CommandError, match="PROMETHEUS_URL"):
        export("--output", str(tmp_path / "r.yml"), "--reload")


def test_the_admin_action_downloads_the_selected_enabled_rules(staff):
    client = Client()
    client.force_login(staff)
    AlertRule.objects.filter(name="HighLatency").update(enabled=False)
    response = client.post(
        "/admin/telemetry/alertrule/",
        {
            "action": "download_rule_file",
            "_selected_action": list(AlertRule.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="alert_rules-')
    text = response.content.decode()
    # It says where it came from: the admin, by whom; not the command.
    first_line = text.splitlines()[0]
    assert first_line.startswith(f"# Downloaded from the admin by {staff.email} at ")
    assert "export_alert_rules" not in text
    assert "HighErrorRate" in text and "HighLatency" not in text
    assert "SLOErrorBudgetBurn" not in text
    assert promtool.check_rules_text(text).ok


def test_the_slo_admin_action_downloads_its_rules(staff):
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/telemetry/slo/",
        {
            "action": "download_rule_file",
            "_selected_action": list(SLO.objects.values_list("pk", flat=True)),
        },
    )
    text = response.content.decode()
    assert "slo:sli_error:ratio_rate5m" in text and "HighErrorRate" not in text
    assert promtool.check_rules_text(text).ok
