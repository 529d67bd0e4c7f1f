"""A staff-entered profiling route pattern on a running gunicorn: a catastrophic one is
refused by the API, and one stored anyway does not stall requests (anonymous ones included)
whose paths are built to make it backtrack (issue 15: seconds per request)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.harness.servers import api_token, manage
from tests.paths import REPO_ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        "safe_regex" not in (REPO_ROOT / "telemetry" / "profiling" / "runs.py").read_text(),
        reason="waits for telemetry/profiling to use common.safe_regex (issue 15's edits, "
        "owned by the profiling rework)",
    ),
]


def test_a_catastrophic_route_pattern_is_refused_and_never_stalls_a_request(stack):
    base_url = stack.start_web(TELEMETRY_CONTROL_POLL_SECONDS="0.2")
    token = api_token(base_url, stack)
    refused = httpx.post(
        f"{base_url}/api/telemetry/profiling-runs",
        json={"name": "evil", "target": "requests", "route_pattern": "(a+)+$"},
        headers={"Authorization": f"Token {token}"},
    )
    assert refused.status_code == 400, refused.text
    assert "route_pattern" in refused.json()["error"]["fields"]

    # Stored without the check (as a row written before it existed would be).
    manage(
        stack.env,
        "shell",
        "-c",
        "from telemetry.models import ProfilingRun; from telemetry.profiling import runs; "
        "run = ProfilingRun.objects.create(name='old', target='requests', "
        "route_pattern='(a+)+$', sample_every=1000000, max_duration_seconds=600); "
        "runs.active_runs.notify_changed()",
    )
    time.sleep(2)  # every worker's poller has the run
    slowest = 0.0
    for _ in range(10):
        started = time.monotonic()
        httpx.get(f"{base_url}/admin/{'a' * 3000}!", timeout=30)
        slowest = max(slowest, time.monotonic() - started)
    print(f"slowest hostile request with the pattern live: {slowest * 1000:.0f} ms")
    assert slowest < 1.0
