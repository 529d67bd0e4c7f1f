"""The profiling run admin: the start form (field errors, never a 500), stop and repeat,
the run page with its results, and the downloads."""

from __future__ import annotations

import pstats

import pytest
from django.utils.html import escape

from telemetry.models import ProfilingRun
from telemetry.profiling import agent as profiling_agent
from tests.telemetry.profiling.support import start_run

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/telemetry/profilingrun/add/"


def start_form(**fields):
    return {
        "target": "requests",
        "route_pattern": "",
        "task_pattern": "",
        "sample_every": "",
        "clock": "wall",
        "max_duration_seconds": "",
        "max_captures": "",
        **fields,
    }


def test_it_starts_a_run_from_the_form_with_the_default_limits(staff_session, staff, settings):
    response = staff_session.post(ADD_URL, start_form(route_pattern="^/api/"))
    assert response.status_code == 302
    run = ProfilingRun.objects.get()
    assert run.status == ProfilingRun.Status.RUNNING
    assert run.started_at is not None
    assert run.route_pattern == "^/api/"
    assert run.sample_every == settings.PROFILING_DEFAULT_SAMPLE_EVERY
    assert run.max_captures == settings.PROFILING_DEFAULT_MAX_CAPTURES
    assert run.created_by == staff


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"route_pattern": "(unclosed"}, "route_pattern", "Not a valid regular expression"),
        ({"task_pattern": "*"}, "task_pattern", "Not a valid regular expression"),
        ({"sample_every": "0"}, "sample_every", "between 1 and"),
        ({"max_duration_seconds": "999999"}, "max_duration_seconds", "between 1 and"),
        ({"max_captures": "-3"}, "max_captures", ""),
        ({"target": "everything"}, "target", "valid choice"),
        ({"clock": "sundial"}, "clock", "valid choice"),
        ({"starts_at_0": "not a date", "starts_at_1": "x"}, "starts_at", ""),
    ],
)
def test_it_rejects_bad_input_with_field_errors(staff_session, fields, field, message):
    response = staff_session.post(ADD_URL, start_form(**fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not ProfilingRun.objects.exists()


def test_a_later_start_time_schedules_the_run(staff_session):
    response = staff_session.post(
        ADD_URL, start_form(starts_at_0="2999-01-01", starts_at_1="10:00:00")
    )
    assert response.status_code == 302
    run = ProfilingRun.objects.get()
    assert run.status == ProfilingRun.Status.SCHEDULED
    assert run.started_at is None


def test_the_stop_action_cancels_active_runs(staff_session):
    running = start_run()
    response = staff_session.post(
        "/admin/telemetry/profilingrun/",
        {"action": "stop_runs", "_selected_action": [running.pk]},
    )
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.status == ProfilingRun.Status.CANCELLED
    assert running.status_reason == "stopped"


def test_the_stop_button_cancels_the_run(staff_session):
    run = start_run()
    response = staff_session.post(f"/admin/telemetry/profilingrun/{run.pk}/stop/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ProfilingRun.Status.CANCELLED


def test_start_again_copies_the_settings(staff_session):
    first = start_run(route_pattern="^/api/x", sample_every=7)
    staff_session.post(
        "/admin/telemetry/profilingrun/",
        {"action": "start_again", "_selected_action": [first.pk]},
    )
    again = ProfilingRun.objects.exclude(pk=first.pk).get()
    assert (again.route_pattern, again.sample_every) == ("^/api/x", 7)
    assert again.status == ProfilingRun.Status.RUNNING


def test_the_run_page_shows_top_functions_picture_and_traces(staff_session, client, settings, otel):
    settings.TRACE_VIEWER_URL = "http://jaeger.example:16686/trace/{trace_id}"
    run = start_run()
    client.post("/api/downstream/enrich", {"words": 3, "sha256": "cd" * 32}, "application/json")
    profiling_agent.tick()
    response = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and 'class="frame"' in page
    assert "DownstreamEnrichApi.post" in page
    # As the template escapes it: the hottest function may well be a '<listcomp>'.
    assert escape(response.context["hottest"]) in page
    (result,) = run.results.all()
    (trace_id,) = result.trace_ids  # the captured request's span (the otel fixture traces)
    assert f"http://jaeger.example:16686/trace/{trace_id}" in page


def test_the_downloads_load_with_pstats_and_look_like_callgrind(staff_session, client, tmp_path):
    run = start_run()
    client.post("/api/downstream/enrich", {"words": 3, "sha256": "cd" * 32}, "application/json")
    profiling_agent.tick()
    pstat = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/download/pstat/")
    assert pstat.status_code == 200
    assert "attachment" in pstat["Content-Disposition"]
    path = tmp_path / "run.pstat"
    path.write_bytes(pstat.content)
    names = {name for (_, _, name) in pstats.Stats(str(path)).stats}
    assert "DownstreamEnrichApi.post" in names
    callgrind = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/download/callgrind/")
    assert callgrind.status_code == 200
    assert callgrind.content.startswith(b"# callgrind format\nversion: 1\n")
    bad = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/download/pprof/")
    assert bad.status_code == 404


def test_the_page_of_a_run_past_its_duration_shows_it_finished(staff_session):
    run = start_run(max_duration_seconds=1)
    ProfilingRun.objects.filter(pk=run.pk).update(
        started_at=run.started_at.replace(year=run.started_at.year - 1)
    )
    response = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/change/")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == ProfilingRun.Status.FINISHED
    assert run.status_reason == "reached 1 s"
