"""Every seeded alert has a runbook (docs/runbooks/<alert>.md: what it means, how to confirm
it, what to do, how to silence it) and a runbook_url annotation that opens it in the admin."""

from __future__ import annotations

import pytest
import yaml

from telemetry.alerting import publish
from telemetry.models import AlertRule
from tests.paths import REPO_ROOT as ROOT

pytestmark = pytest.mark.django_db

RUNBOOKS = ROOT / "docs" / "runbooks"
SECTIONS = ("## What it means", "## How to confirm it", "## What to do", "## How to silence it")


def seeded_alerts() -> dict[str, set[str]]:
    """alertname -> the runbook_url annotations of its rules, in a fresh export."""
    found: dict[str, set[str]] = {}
    for group in yaml.safe_load(publish.render_rule_file())["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                url = rule.get("annotations", {}).get("runbook_url", "")
                found.setdefault(rule["alert"], set()).add(url)
    return found


def test_every_seeded_alert_has_a_runbook_with_the_four_sections(settings):
    alerts = seeded_alerts()
    assert len(alerts) >= 17
    base = settings.ALERT_RUNBOOK_BASE_URL
    for name, urls in alerts.items():
        assert urls == {f"{base}{name}"}, name
        text = (RUNBOOKS / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in SECTIONS:
            assert section in text, (name, section)
        assert "amtool silence add" in text and f"alertname={name}" in text, name


def test_no_runbook_is_left_without_its_alert():
    assert {path.stem for path in RUNBOOKS.glob("*.md")} == set(seeded_alerts())


def test_the_admin_serves_a_runbook_rendered(staff_session, settings):
    url = f"{settings.ALERT_RUNBOOK_BASE_URL}HighErrorRate".replace("http://127.0.0.1:8000", "")
    response = staff_session.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h2>What it means</h2>" in page and "<h1>HighErrorRate</h1>" in page
    rule = AlertRule.objects.get(name="HighErrorRate")
    assert f"/admin/telemetry/alertrule/{rule.pk}/change/" in page  # the rules using it


@pytest.mark.parametrize("name", ["NoSuchAlert", "..", ".hidden", "x.md"])
def test_an_unknown_runbook_is_a_404(staff_session, name):
    response = staff_session.get(f"/admin/telemetry/alertrule/runbooks/{name}")
    assert response.status_code == 404


def test_a_path_never_reads_a_file_outside_the_runbooks(staff_session):
    # A name with a slash matches no runbook URL at all (Django redirects it elsewhere).
    response = staff_session.get(
        "/admin/telemetry/alertrule/runbooks/..%2F..%2FREADME", follow=True
    )
    assert b'id="runbook"' not in response.content
    assert b"The backend stack" not in response.content


def test_runbooks_are_for_staff_only(client, user):
    client.force_login(user)
    response = client.get("/admin/telemetry/alertrule/runbooks/HighErrorRate")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
