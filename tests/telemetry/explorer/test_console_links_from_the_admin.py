"""Every trace id the admin shows leads to the console's trace page: a job's (by URL name,
processing imports no telemetry), a profiling run's captured traces, and an alert event's
traces (its route while it fired)."""

from __future__ import annotations

import datetime
import re
from urllib.parse import quote

from django.utils import timezone

from processing.models import ProcessingJob
from telemetry.models import AlertEvent, ProfilingProcessResult, ProfilingRun
from telemetry.profiling.report import trace_link
from tests.telemetry.explorer.support import store_db

pytestmark = store_db
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CONSOLE = f"/admin/telemetry/console/traces/{TRACE_ID}/"


def test_a_job_links_to_its_trace_in_the_console(staff_session):
    job = ProcessingJob.objects.create(data="x", trace_id=TRACE_ID)

    page = staff_session.get(f"/admin/processing/processingjob/{job.pk}/change/").content.decode()
    listing = staff_session.get("/admin/processing/processingjob/").content.decode()

    assert f'href="{CONSOLE}"' in page and f'href="{CONSOLE}"' in listing


def test_a_job_links_to_the_viewer_too_when_one_is_configured(staff_session, settings):
    settings.TRACE_VIEWER_URL = "http://jaeger.example/trace/{trace_id}"
    job = ProcessingJob.objects.create(data="x", trace_id=TRACE_ID)

    page = staff_session.get(f"/admin/processing/processingjob/{job.pk}/change/").content.decode()

    assert f'href="{CONSOLE}"' in page
    assert f'href="http://jaeger.example/trace/{TRACE_ID}"' in page


def test_the_console_finds_a_trace_s_jobs_in_the_job_admin(staff_session):
    ProcessingJob.objects.create(data="mine", trace_id=TRACE_ID)
    ProcessingJob.objects.create(data="another", trace_id="f" * 32)

    listing = staff_session.get("/admin/processing/processingjob/", {"trace_id": TRACE_ID})

    assert listing.status_code == 200
    assert "1 processing job" in listing.content.decode()


def test_a_profiling_run_links_its_captured_traces_to_the_console(staff_session, settings):
    settings.TRACE_VIEWER_URL = ""
    run = ProfilingRun.objects.create(name="r", status=ProfilingRun.Status.FINISHED)
    ProfilingProcessResult.objects.create(run=run, process="web:h:1", trace_ids=[TRACE_ID])

    page = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/change/").content.decode()

    assert trace_link(TRACE_ID) == CONSOLE
    assert f'href="{CONSOLE}"' in page


def test_an_alert_event_links_to_the_traces_of_its_route_while_it_fired(staff_session):
    starts = (timezone.now() - datetime.timedelta(days=1)).replace(microsecond=0)
    since = quote(starts.strftime("%Y-%m-%dT%H:%M:%S"))
    until = quote((starts + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"))
    AlertEvent.objects.create(
        fingerprint="f1",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        status="resolved",
        alertname="HighLatency",
        labels={"alertname": "HighLatency", "http_route": "/api/jobs/{job_id}"},
    )
    AlertEvent.objects.create(
        fingerprint="f2",
        starts_at=starts,
        status="firing",
        alertname="WorkerDown",
        labels={"alertname": "WorkerDown"},
    )

    listing = staff_session.get("/admin/telemetry/alertevent/").content.decode()

    links = re.findall(r'<a href="(/admin/telemetry/console/traces/[^"]*)">traces</a>', listing)
    assert links == [
        "/admin/telemetry/console/traces/?route=%2Fapi%2Fjobs%2F%7Bjob_id%7D"
        f"&amp;since={since}&amp;until={until}"
    ]
    followed = staff_session.get(links[0].replace("&amp;", "&"))
    assert followed.status_code == 200  # a valid search
