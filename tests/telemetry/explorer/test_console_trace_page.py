"""A trace's page: every span across processes as one waterfall (tree order, depth, timing,
kind, status, attributes, events and exceptions), each process's resource, the trace's log
records in time order, and its links: jobs, profiling runs, alert events, the viewer."""

from __future__ import annotations

import datetime
import html
import json
import re
from urllib.parse import parse_qs, urlsplit

from telemetry.models import AlertEvent, ProfilingProcessResult, ProfilingRun, StoredSpan
from tests.telemetry.explorer.pages import JOB_TRACE, fill_store
from tests.telemetry.explorer.support import store_db

pytestmark = store_db
URL = f"/admin/telemetry/console/traces/{JOB_TRACE}/"


def waterfall(page: str) -> list[tuple[str, str, str]]:
    """(name, depth, role) of each span row, in page order."""
    return re.findall(
        r'<details class="span[^"]*" id="span-[0-9a-f]{16}"[^>]*data-role="([^"]*)" '
        r'data-name="([^"]*)" data-status="[^"]*" data-depth="(\d+)"',
        page,
    )


def test_the_waterfall_shows_every_span_across_processes_in_tree_order(staff_session):
    fill_store()
    response = staff_session.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert [(name, depth, role) for role, name, depth in waterfall(page)] == [
        ("POST /api/jobs", "0", "web"),
        ("INSERT", "1", "web"),
        ("apply_async/processing.process_job", "1", "web"),
        ("run/processing.process_job", "2", "worker"),
        ("POST", "3", "worker"),
        ("POST /api/downstream/enrich", "4", "web"),
    ]
    # Timing on one axis: the trace lasts 400 ms; the task starts at 100 ms and lasts 300.
    task = page[page.index('id="span-eeeeeeeeeeeeeeee"') :].split("</details>")[0]
    assert 'style="left: 25.000%; width: 75.000%"' in task
    assert "300.00 ms" in task and "+100.00 ms" in task
    assert 'data-status="error"' in task and "boom" in task
    assert "DownstreamUnavailable" in task and "Traceback (most recent call last)" in task
    assert "celery.task_name" in task and "processing.process_job" in task
    assert "remote parent" in task  # its parent was in the web process
    client = page[page.index('id="span-ffffffffffffffff"') :].split("</details>")[0]
    assert "http://127.0.0.1:8000/api/downstream/enrich" in client  # what the client did


def test_it_shows_the_log_records_in_time_order_and_each_process_resource(staff_session):
    fill_store()
    page = staff_session.get(URL).content.decode()

    logs = page[page.index('id="trace-logs"') :].split("</table>")[0]
    assert re.findall(r"<td class=\"message\">([^<]+)", logs) == [
        "job queued",
        "processing data",
        "downstream unavailable, will retry",
    ]
    assert 'href="#span-eeeeeeeeeeeeeeee"' in logs  # each line leads to its span
    assert "job_id=j-1" in logs
    # ... and inline, under the span that logged them.
    task = page[page.index('id="span-eeeeeeeeeeeeeeee"') :].split("</details>")[0]
    assert "processing data" in task and "2 logs" in task
    assert 'id="process-web-1"' in page and 'id="process-worker-1"' in page
    resource = page[page.index('id="process-worker-1"') :].split("</details>")[0]
    assert "process.pid" in resource and "201" in resource


def test_it_links_the_job_the_profiling_runs_the_alerts_and_the_viewer(staff_session, settings):
    store = fill_store()
    settings.TRACE_VIEWER_URL = "http://jaeger.example:16686/trace/{trace_id}"
    run = ProfilingRun.objects.create(name="slow jobs", status=ProfilingRun.Status.FINISHED)
    ProfilingProcessResult.objects.create(run=run, process="worker:h:1", trace_ids=[JOB_TRACE])
    other_run = ProfilingRun.objects.create(name="elsewhere")
    ProfilingProcessResult.objects.create(run=other_run, process="w:h:2", trace_ids=["f" * 32])
    started = datetime.datetime.fromtimestamp(store.job_server.start_us / 1e6, tz=datetime.UTC)
    during = AlertEvent.objects.create(
        fingerprint="a1",
        starts_at=started - datetime.timedelta(minutes=5),
        status="firing",
        alertname="HighLatency",
        labels={"alertname": "HighLatency", "http_route": "/api/jobs"},
    )
    AlertEvent.objects.create(  # the same route, resolved before the trace
        fingerprint="a1",
        starts_at=started - datetime.timedelta(hours=2),
        status="resolved",
        ends_at=started - datetime.timedelta(hours=1),
        alertname="HighLatency",
        labels={"alertname": "HighLatency", "http_route": "/api/jobs"},
    )
    AlertEvent.objects.create(  # another route
        fingerprint="b2",
        starts_at=started,
        status="firing",
        alertname="HighErrorRate",
        labels={"alertname": "HighErrorRate", "http_route": "/api/users"},
    )

    page = staff_session.get(URL).content.decode()

    assert f'href="/admin/processing/processingjob/?trace_id={JOB_TRACE}"' in page
    assert f'href="http://jaeger.example:16686/trace/{JOB_TRACE}"' in page
    profiling = re.findall(r'class="trace-profiling-link" href="([^"]+)"', page)
    assert profiling == [f"/admin/telemetry/profilingrun/{run.pk}/change/"]
    alerts = re.findall(r'class="trace-alert-link" href="([^"]+)"', page)
    assert alerts == [f"/admin/telemetry/alertevent/{during.pk}/change/"]


def test_spans_recorded_during_a_profiling_capture_link_their_run(staff_session):
    fill_store()  # the task span carries profiling.run_id 999999
    run = ProfilingRun.objects.create(pk=999_999, name="captured", status="finished")

    page = staff_session.get(URL).content.decode()

    assert f'href="/admin/telemetry/profilingrun/{run.pk}/change/"' in page


def test_spans_the_continuous_profiler_sampled_link_its_window(staff_session):
    store = fill_store()
    profile_id = "web:host:201@1764590400"
    StoredSpan.objects.using("telemetry_store").filter(span_id=store.job_server.span_id).update(
        attributes=json.dumps({"http.route": "/api/jobs", "profiling.profile_id": profile_id})
    )

    page = staff_session.get(URL).content.decode()

    (link,) = re.findall(r'class="trace-profiling-link" href="([^"]+)"', page)
    link = html.unescape(link)
    assert link.startswith("/admin/telemetry/continuousprofilewindow/")
    query = parse_qs(urlsplit(link).query)
    assert query == {"profile_id": [profile_id], "trace_id": [JOB_TRACE]}
