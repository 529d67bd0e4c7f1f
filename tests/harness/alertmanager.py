"""A real Alertmanager on 127.0.0.1 for end-to-end tests (Debian's package), configured from
deploy/alertmanager/alertmanager.yml: secrets as files, receivers pointed at this test (the
service's webhook, local stand-ins for Slack and PagerDuty, so nothing leaves the machine),
grouping shortened to seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import yaml

from tests.harness.downstreams import serving
from tests.harness.servers import Stack, free_port, start_process
from tests.paths import REPO_ROOT as ROOT

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
WEBHOOK_PATH = "/api/telemetry/alertmanager/webhook"


@contextmanager
def receiving_sink(status: int = 200) -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for Slack's or PagerDuty's endpoint: answers STATUS and keeps what it
    got. Not a dead port: Alertmanager retries a failing integration until the notification's
    timeout (at least 10s) before the group flushes again, which would delay everything."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = b'{"status": "success", "message": "Event processed"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as base_url:
        yield f"{base_url}/notify", received


def alertmanager_config(
    directory: Path, *, webhook_url: str, token: str, slack_url: str, pagerduty_url: str
) -> Path:
    """The shipped configuration with this test's receivers and 1s grouping."""
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    secrets = directory / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "webhook_token").write_text(token)
    (secrets / "slack_webhook_url").write_text(slack_url)
    (secrets / "pagerduty_routing_key").write_text("e2e-routing-key")
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
            webhook["http_config"]["authorization"]["credentials_file"] = str(
                secrets / "webhook_token"
            )
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(secrets / "slack_webhook_url")
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = str(secrets / "pagerduty_routing_key")
            pagerduty["url"] = pagerduty_url
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_alertmanager(stack: Stack, directory: Path, config: Path) -> str:
    """Start Alertmanager for STACK (stopped with it); its base URL once it is ready. Its
    external URL is the address it is reached on (the links in its notifications open)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack.processes.append(
        start_process(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",  # a single instance: no gossip port
            ],
            stack.env,
            stack.log_dir,
        )
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"Alertmanager not ready within 30s\n{stack.logs()}")


def active_alerts(alertmanager_url: str, alertname: str) -> list[dict]:
    """The alerts of ALERTNAME Alertmanager holds now (GET /api/v2/alerts)."""
    response = httpx.get(
        f"{alertmanager_url}/api/v2/alerts",
        params={"filter": f'alertname="{alertname}"'},
        timeout=10,
    )
    return response.json()
