"""The Traces page: newest first, a page at a time, filtered by service, process role, span
or route name, status, minimum duration, time range and trace id."""

from __future__ import annotations

import re

import pytest

from telemetry.explorer.selectors import TRACES_PER_PAGE
from tests.telemetry.explorer.pages import FAST_TRACE, JOB_TRACE, OLD_TRACE, SLOW_TRACE, fill_store
from tests.telemetry.explorer.support import now_us, store_db, stored_span

pytestmark = store_db
URL = "/admin/telemetry/console/traces/"


def listed(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return re.findall(r'data-trace-id="([0-9a-f]{32})"', response.content.decode())


@pytest.fixture
def store():
    return fill_store()


def test_it_lists_traces_newest_first_with_a_summary_of_each(staff_session, store):
    response = staff_session.get(URL)

    assert listed(response) == [SLOW_TRACE, FAST_TRACE, JOB_TRACE, OLD_TRACE]
    page = response.content.decode()
    row = page[page.index(f'data-trace-id="{JOB_TRACE}"') :].split("</tr>")[0]
    assert "POST /api/jobs" in row  # the entry span names the trace
    assert "web, worker" in row  # the processes that took part
    assert ">6<" in row and "400.00 ms" in row  # its spans, from first start to last end
    assert 'class="badge error">1<' in row
    assert f'href="/admin/telemetry/console/traces/{JOB_TRACE}/"' in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "error"}, [JOB_TRACE]),
        ({"status": "ok"}, [SLOW_TRACE, FAST_TRACE, JOB_TRACE, OLD_TRACE]),
        ({"role": "worker"}, [SLOW_TRACE, JOB_TRACE]),
        ({"service": "observability-site", "name": "users"}, [FAST_TRACE]),
        ({"name": "DOWNSTREAM"}, [JOB_TRACE]),
        ({"route": "/api/jobs"}, [JOB_TRACE]),
        ({"min_duration": "1.5s"}, [SLOW_TRACE]),
        ({"min_duration": "250ms"}, [SLOW_TRACE, JOB_TRACE]),
        ({"last": "1h"}, [SLOW_TRACE, FAST_TRACE, JOB_TRACE]),
        ({"trace_id": FAST_TRACE, "status": "error"}, []),
    ],
)
def test_it_filters(staff_session, store, query, expected):
    assert listed(staff_session.get(URL, query)) == expected


def test_an_absolute_time_range_selects_what_started_in_it(staff_session, store):
    old = stored_span(name="x", start_us=now_us())  # noqa: F841 (a trace after the range)
    response = staff_session.get(URL, {"since": "2000-01-01T00:00:00", "until": "2000-01-02T00:00"})
    assert listed(response) == []
    assert "No trace matches." in response.content.decode()


def test_a_trace_id_alone_opens_its_trace(staff_session, store):
    response = staff_session.get(URL, {"trace_id": JOB_TRACE.upper()})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/telemetry/console/traces/{JOB_TRACE}/"


def test_pages_of_fifty_newest_first(staff_session):
    start = now_us() - 1_000_000
    for n in range(TRACES_PER_PAGE * 2 + 20):
        stored_span(trace_id=f"{n + 1:032x}", start_us=start + n)
    newest_first = [f"{n + 1:032x}" for n in reversed(range(TRACES_PER_PAGE * 2 + 20))]

    first = staff_session.get(URL)
    third = staff_session.get(URL, {"page": 3})

    assert listed(first) == newest_first[:TRACES_PER_PAGE]
    assert 'id="older-page"' in first.content.decode()
    assert listed(third) == newest_first[2 * TRACES_PER_PAGE :]
    assert 'id="older-page"' not in third.content.decode()
    assert 'href="?page=2" id="newer-page"' in third.content.decode()
