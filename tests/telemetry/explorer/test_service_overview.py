"""The service overview: per route and per task, the rate, the error share and p50/p90/p99
over the window, from the stored server and consumer spans; and what it cannot say."""

from __future__ import annotations

import math
import re

import pytest

from telemetry.explorer.overview import percentile, service_overview
from telemetry.models import StoredSpan
from tests.telemetry.explorer.support import now_us, store_db, stored_span

MINUTE = 60_000_000


def test_percentiles_interpolate_between_the_closest_ranks():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 90) == pytest.approx(90.1)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7], 99) == 7
    assert percentile([10, 20], 50) == 15
    assert math.isnan(percentile([], 50))


@store_db
def test_it_computes_rate_errors_and_latency_per_route_and_task():
    now = now_us()
    for n in range(100):  # 1..100 ms, one a second; every 10th failed
        stored_span(
            name="GET /api/users/{user_id}",
            start_us=now - 100 * 1_000_000 + n * 1_000_000,
            duration_us=(n + 1) * 1000,
            status_code=StoredSpan.Status.ERROR if n % 10 == 0 else StoredSpan.Status.UNSET,
        )
    for _ in range(4):
        stored_span(
            name="run/processing.process_job",
            kind="consumer",
            process_role="worker",
            start_us=now - 50 * 1_000_000,
            duration_us=200_000,
        )
    stored_span(name="SELECT", kind="client", start_us=now - 1_000_000)  # not an operation
    stored_span(name="GET /api/jobs", start_us=now - 20 * MINUTE)  # before the window

    overview = service_overview(15 * 60, now_us=now)

    (route,) = [r for r in overview.routes if r.name == "GET /api/users/{user_id}"]
    assert route.count == 100 and route.errors == 10 and route.error_share == pytest.approx(0.1)
    assert route.percentiles_ms[50] == pytest.approx(50.5)
    assert route.percentiles_ms[99] == pytest.approx(99.01)
    # The store goes back 20 minutes, so the whole 15-minute window is covered.
    assert route.per_second == pytest.approx(100 / 900)
    assert not overview.partial
    assert [r.name for r in overview.routes] == ["GET /api/users/{user_id}"]
    (task,) = overview.tasks
    assert (task.name, task.count, task.percentiles_ms[90]) == (
        "run/processing.process_job",
        4,
        200,
    )


@store_db
def test_a_window_longer_than_the_store_history_is_measured_over_that_history():
    now = now_us()
    for n in range(60):
        stored_span(name="GET /api/jobs", start_us=now - 2 * MINUTE + n * 2_000_000)

    overview = service_overview(3600, now_us=now)

    assert overview.partial and overview.covered_seconds == pytest.approx(120, abs=1)
    assert overview.routes[0].per_second == pytest.approx(60 / 120, rel=0.02)


@store_db
def test_the_page_says_it_reflects_what_was_sampled_and_links_to_traces(staff_session):
    now = now_us()
    stored_span(
        name="POST /api/jobs",
        start_us=now - 1_000_000,
        duration_us=5000,
        status_code=StoredSpan.Status.ERROR,
    )

    response = staff_session.get("/admin/telemetry/console/overview/", {"window": "15m"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "only the traces the sampler kept" in page
    row = page[page.index('data-name="POST /api/jobs"') :].split("</tr>")[0]
    assert 'href="/admin/telemetry/console/traces/?route=%2Fapi%2Fjobs"' in row
    assert (
        'href="/admin/telemetry/console/traces/?route=%2Fapi%2Fjobs&amp;status=error">100.0%' in row
    )
    assert re.search(r"5\.00 ms</td>", row)
