"""A rule saved in the admin goes live with no command: real gunicorn, Prometheus and
Alertmanager (Debian's packages) on 127.0.0.1, a staff user in the admin over HTTP.

The service runs as its image does, without promtool (PROMTOOL_PATH names nothing), so
Prometheus itself is the one that may refuse a rule. Saving publishes into the rules file
Prometheus loads and reloads it; the rule's page shows it loaded, then firing once the
service answers real 5xx (its downstream is a dead port), and the resolved event comes back
through Alertmanager's webhook. Disabling takes it out of Prometheus; a rule Prometheus
refuses leaves the previous rules loaded, and the admin says why.
"""

from __future__ import annotations

import re
import threading
import time
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.harness.alertmanager import (
    ALERTMANAGER,
    WEBHOOK_PATH,
    alertmanager_config,
    receiving_sink,
    start_alertmanager,
)
from tests.harness.prometheus import (
    ALERTMANAGER_JOB,
    OTEL_JOB,
    PROMETHEUS,
    loaded_rules,
    otel_scrape_env,
    start_prometheus,
)
from tests.harness.servers import admin_session, api_token, free_port, free_port_range

pytestmark = pytest.mark.e2e

TOKEN = "e2e-live-webhook-token"
RULE_FORM = {
    "group": "e2e",
    "name": "E2EServerErrors",
    "enabled": "on",
    "severity": "warning",
    # Short windows so it fires and resolves within seconds, not the shipped minutes.
    "expr": (
        "sum by (http_route) (rate(http_server_request_duration_seconds_count"
        '{http_response_status_code=~"5.."}[10s]))\n'
        "  / sum by (http_route) (rate(http_server_request_duration_seconds_count[10s]))\n"
        "  > 0.05"
    ),
    "for_duration": "2s",
    "labels": '{"team": "e2e"}',
    "summary": "Server errors on {{ $labels.http_route }}",
    "description": "{{ $value | humanizePercentage }} of the answers were 5xx",
    "runbook": "HighErrorRate",
    "_save": "Save",
}


@pytest.fixture(autouse=True)
def _servers_installed():
    for binary in (PROMETHEUS, ALERTMANAGER):
        if not Path(binary).exists():
            pytest.fail("Prometheus/Alertmanager are not installed: run scripts/test.sh")


def wait_for(what: str, probe, timeout: float, stack):
    """Poll PROBE until it returns something truthy; return it with the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            result = probe()
        except httpx.HTTPError:
            result = None
        if result:
            return result, time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s\n{stack.logs()}")


def messages_of(page: str) -> list[str]:
    return [
        unescape(re.sub(r"<[^>]+>", "", text)).strip()
        for text in re.findall(r'<li class="[^"]*">(.*?)</li>', page, re.S)
    ]


def admin_post(admin: httpx.Client, path: str, data: dict) -> tuple[httpx.Response, list[str]]:
    """POST an admin form as a browser does (CSRF token), follow its redirect, return the
    page it lands on and the messages it shows."""
    response = admin.post(
        path,
        data={**data, "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
        headers={"Referer": f"{admin.base_url}{path}"},
    )
    assert response.status_code == 302, response.text[:3000]
    landed = admin.get(response.headers["Location"])
    return landed, messages_of(landed.text)


def attribute(page: str, element_id: str, name: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*\b{name}="([^"]*)"', page)
    if match is None:
        match = re.search(rf'\b{name}="([^"]*)"[^>]*id="{element_id}"', page)
    return match.group(1) if match else ""


def page_showing(admin: httpx.Client, path: str, element_id: str, name: str, value: str):
    """The page at PATH once its element ELEMENT_ID has NAME=VALUE, else None."""
    page = admin.get(path).text
    return page if attribute(page, element_id, name) == value else None


def test_a_rule_saved_in_the_admin_goes_live_fires_resolves_and_leaves(stack, tmp_path):
    web_port, web_metrics = free_port(), free_port_range(2)
    dead_downstream = f"http://127.0.0.1:{free_port()}/down"
    rules_dir = tmp_path / "prometheus" / "live"
    rules_file = rules_dir / "observability-site.rules.yml"
    with receiving_sink() as (slack_url, slack), receiving_sink(202) as (pagerduty_url, _):
        config = alertmanager_config(
            tmp_path / "alertmanager",
            webhook_url=f"http://127.0.0.1:{web_port}{WEBHOOK_PATH}",
            token=TOKEN,
            slack_url=slack_url,
            pagerduty_url=pagerduty_url,
        )
        alertmanager = start_alertmanager(stack, tmp_path / "alertmanager", config)
        prom = start_prometheus(
            stack,
            tmp_path / "prometheus",
            targets={
                "observability-site": [f"127.0.0.1:{web_port}"],
                OTEL_JOB: [f"127.0.0.1:{port}" for port in web_metrics],
                ALERTMANAGER_JOB: [alertmanager.removeprefix("http://")],
            },
            alertmanager=alertmanager.removeprefix("http://"),
            rules_dir=rules_dir,
        )
        base_url = stack.start_web(
            port=web_port,
            PROCESSING_DOWNSTREAM_URL=dead_downstream,
            ALERTMANAGER_WEBHOOK_TOKEN=TOKEN,
            GUNICORN_WORKERS=str(len(web_metrics)),
            PROMETHEUS_URL=prom,
            PROMETHEUS_RULES_FILE=str(rules_file),
            PROMTOOL_PATH=str(tmp_path / "no-promtool-here"),
            **otel_scrape_env(web_metrics),
        )
        token = api_token(base_url, stack)
        api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"})
        admin, _, _ = admin_session(stack, base_url)
        assert not rules_file.exists() and "E2EServerErrors" not in loaded_rules(prom)

        # --- Saved in the admin: live without any command.
        saved_at = time.monotonic()
        landed, messages = admin_post(admin, "/admin/telemetry/alertrule/add/", RULE_FORM)
        answered = time.monotonic() - saved_at
        _, loaded_after = wait_for(
            "the rule loaded", lambda: "E2EServerErrors" in loaded_rules(prom), 20, stack
        )
        save_to_loaded = answered + loaded_after
        assert any("Prometheus at" in m and "loaded" in m for m in messages), messages
        (rule_id,) = re.findall(
            r'/admin/telemetry/alertrule/(\d+)/change/">E2EServerErrors', landed.text
        )
        change_page = f"/admin/telemetry/alertrule/{rule_id}/change/"
        page, shown_after = wait_for(
            "the admin showing it loaded",
            lambda: page_showing(admin, change_page, "prometheus-loaded", "data-loaded", "yes"),
            20,
            stack,
        )
        assert attribute(page, "prometheus-state", "data-state") == "inactive"
        assert attribute(page, "publish-status", "data-status") == "in_force"
        # And on the list row.
        listing = admin.get("/admin/telemetry/alertrule/?q=E2EServerErrors").text
        assert "loaded" in listing and "inactive" in listing

        # --- Errors: firing in the admin, then an event through Alertmanager's webhook.
        wait_for(
            "Prometheus scraping both workers",
            lambda: (
                sum(
                    t["health"] == "up" and t["labels"]["job"] == OTEL_JOB
                    for t in httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
                )
                == len(web_metrics)
            ),
            30,
            stack,
        )
        stop_errors = threading.Event()
        answers: list[int] = []

        def send_failing_requests() -> None:
            with httpx.Client(base_url=base_url, headers=api.headers, timeout=10) as client:
                while not stop_errors.is_set():
                    answers.append(client.post("/api/process", json={"data": "x"}).status_code)
                    time.sleep(0.05)

        def events(status: str) -> list[dict]:
            found = api.get(
                "/api/telemetry/alert-events", params={"alertname": "E2EServerErrors"}
            ).json()["results"]
            return [event for event in found if event["status"] == status]

        errors_started = time.monotonic()
        sender = threading.Thread(target=send_failing_requests, daemon=True)
        sender.start()
        try:
            page, firing_in_admin = wait_for(
                "the admin showing it firing",
                lambda: page_showing(
                    admin, change_page, "prometheus-state", "data-state", "firing"
                ),
                90,
                stack,
            )
            (fired,), _ = wait_for("the firing event", lambda: events("firing"), 90, stack)
            errors_to_event = time.monotonic() - errors_started
        finally:
            stop_errors.set()
            sender.join(15)
        errors_stopped = time.monotonic()
        assert answers and set(answers) == {502}, set(answers)
        assert "firing since" in page and "/api/process" in page
        assert fired["labels"]["http_route"] == "/api/process" and fired["labels"]["team"] == "e2e"
        assert fired["annotations"]["runbook_url"].endswith("/runbooks/HighErrorRate")
        # Item 22.7: the link back to Prometheus names the address it was reached on.
        assert fired["generator_url"].startswith(f"{prom}/graph?g0.expr="), fired["generator_url"]
        (resolved,), _ = wait_for("the resolved event", lambda: events("resolved"), 90, stack)
        stop_to_resolved = time.monotonic() - errors_stopped
        assert resolved["id"] == fired["id"]
        assert any("Server errors on /api/process" in m["attachments"][0]["text"] for m in slack)
        event_page = admin.get(f"/admin/telemetry/alertevent/{fired['id']}/change/").text
        assert 'id="event-runbook"' in event_page and "What it means" in event_page
        assert f'href="/admin/telemetry/alertrule/{rule_id}/change/"' in event_page
        assert f"{prom}/graph?" in unescape(event_page)  # generator URL: 127.0.0.1, not a hostname

        # --- Disabled in the admin: out of Prometheus.
        form = {**RULE_FORM}
        del form["enabled"]
        _, messages = admin_post(admin, change_page, form)
        assert any("loaded" in m for m in messages), messages
        assert "E2EServerErrors" not in loaded_rules(prom)  # synchronous: at once
        page = admin.get(change_page).text
        assert attribute(page, "prometheus-loaded", "data-loaded") == "no"
        assert "disabled" in page

        # --- A rule Prometheus refuses: the previous rules stay loaded, the admin says why.
        good_file = rules_file.read_text()
        before = set(loaded_rules(prom))
        broken = {
            **RULE_FORM,
            "name": "E2EBroken",
            "expr": "sum(rate(http_server_request_duration_seconds_count[5m])",
        }
        landed, messages = admin_post(admin, "/admin/telemetry/alertrule/add/", broken)
        refusal = " ".join(m for m in messages if "Saved, but not in force" in m)
        assert "refused the reload" in refusal and "E2EBroken" in refusal, messages
        assert "unclosed left parenthesis" in refusal
        assert set(loaded_rules(prom)) == before and "E2EBroken" not in before
        assert rules_file.read_text() == good_file
        (broken_id,) = re.findall(
            r'/admin/telemetry/alertrule/(\d+)/change/">E2EBroken', landed.text
        )
        page = admin.get(f"/admin/telemetry/alertrule/{broken_id}/change/").text
        assert attribute(page, "publish-status", "data-status") == "failed"
        assert "unclosed left parenthesis" in unescape(page)
        # The operator's text is kept, to fix.
        assert "sum(rate(http_server_request_duration_seconds_count[5m])" in unescape(page)

    print(
        f"\nrules go live: save -> loaded in Prometheus {save_to_loaded:.2f}s (the admin "
        f"answered in {answered:.2f}s, showed it loaded {shown_after:.2f}s later); errors -> "
        f"firing in the admin {firing_in_admin:.1f}s, firing event stored {errors_to_event:.1f}s; "
        f"stop -> resolved event {stop_to_resolved:.1f}s; {len(answers)} failing requests"
    )
