"""The SLO page's error budget is what an independent PromQL computation gives: real gunicorn
scraped by a real Prometheus, driven into a mix of 200s and real 502s (the downstream is a
dead port), the admin page read over HTTP, and the budget recomputed here from the bad events
(the page counts the good ones) at the very instant the page evaluated it."""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.harness.prometheus import OTEL_JOB, otel_scrape_env, start_prometheus
from tests.harness.servers import admin_session, api_token, free_port, free_port_range

pytestmark = pytest.mark.e2e

COUNT = "http_server_request_duration_seconds_count"


def value_at(prom: str, expr: str, at: float) -> float:
    body = httpx.get(f"{prom}/api/v1/query", params={"query": expr, "time": at}).json()
    assert body["status"] == "success", body
    (sample,) = body["data"]["result"]
    return float(sample["value"][1])


def test_the_budget_on_the_slo_page_equals_an_independent_promql_computation(stack, tmp_path):
    web_port, web_metrics = free_port(), free_port_range(2)
    prom = start_prometheus(
        stack,
        tmp_path / "prometheus",
        targets={
            "observability-site": [f"127.0.0.1:{web_port}"],
            OTEL_JOB: [f"127.0.0.1:{p}" for p in web_metrics],
        },
    )
    base_url = stack.start_web(
        port=web_port,
        PROCESSING_DOWNSTREAM_URL=f"http://127.0.0.1:{free_port()}/down",
        GUNICORN_WORKERS=str(len(web_metrics)),
        PROMETHEUS_URL=prom,
        **otel_scrape_env(web_metrics),
    )
    headers = {"Authorization": f"Token {api_token(base_url, stack)}"}
    admin, _, _ = admin_session(stack, base_url)
    stop = threading.Event()

    def traffic() -> None:  # one 502 for every four 200s
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
            while not stop.is_set():
                client.post("/api/process", json={"data": "x"})
                for _ in range(4):
                    client.get("/api/users")
                time.sleep(0.05)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both codes scraped, then a few more scrapes
            body = httpx.get(
                f"{prom}/api/v1/query",
                params={"query": f"count by (http_response_status_code) ({COUNT})"},
            ).json()
            if len(body["data"]["result"]) >= 2:
                time.sleep(3)  # rate() needs two samples of each series
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no request series in Prometheus\n{stack.logs()}")
        slo = httpx.get(f"{base_url}/api/telemetry/slos", headers=headers, timeout=30).json()
        slo = slo["results"][0]
        assert slo["name"] == "api_availability" and slo["window"] == "30d"
        page = admin.get(f"/admin/telemetry/slo/{slo['id']}/change/").text
        api_budget = httpx.get(
            f"{base_url}/api/telemetry/slos/{slo['id']}/budget", headers=headers, timeout=30
        ).json()
    finally:
        stop.set()
        sender.join(15)

    match = re.search(r'id="slo-budget-remaining" data-value="([^"]*)" data-at="([^"]*)"', page)
    assert match, page[:3000]
    shown, at = float(match.group(1)), float(match.group(2))
    assert re.search(r">-?\d+\.\d\d%</strong>", page)  # the figure as a percentage
    # Independent: bad events (5xx) over all events, against a budget of 1 - 0.995.
    bad = f'sum(increase({COUNT}{{http_response_status_code=~"5.."}}[30d]))'
    total = f"sum(increase({COUNT}[30d]))"
    expected = 1 - value_at(prom, f"({bad}) / ({total})", at) / 0.005
    assert math.isclose(shown, expected, rel_tol=1e-9, abs_tol=1e-9), (shown, expected)
    assert shown < 0  # about 20% errors: far over a 0.5% budget
    # The burn rate over 5m, the same way.
    (row,) = re.findall(r'data-severity="critical" data-long="1h">.*?</tr>', page, re.S)
    assert row
    burn_5m = value_at(
        prom,
        f'(sum(rate({COUNT}{{http_response_status_code=~"5.."}}[5m]))'
        f" / sum(rate({COUNT}[5m]))) / 0.005",
        at,
    )
    assert f"{burn_5m:.2f}" in row
    assert '<svg id="slo-budget-chart"' in page and "<polyline" in page
    # The API reads the same budget (evaluated a moment later: close, not equal).
    assert api_budget["budget_remaining"] == pytest.approx(shown, rel=0.2)
    assert datetime.fromtimestamp(at, tz=UTC) <= datetime.fromisoformat(api_budget["at"])
    print(f"\nSLO page: budget left {shown:.6f}, independent PromQL {expected:.6f}")
