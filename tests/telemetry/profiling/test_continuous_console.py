"""The console's continuous profiling pages: the switch and rate (one row, one message per
limit, every process told), the profile of a time range by role or process or trace, the
difference of two ranges, the same in speedscope (valid against speedscope's own schema),
the link a sampled span leads to, and bad input as form errors, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from telemetry.models import ContinuousProfileWindow, ContinuousProfiling
from telemetry.profiling.continuous.config import continuous_settings
from telemetry.profiling.links import jaeger_link_patterns, profile_url_for_span
from telemetry.profiling.stacks import StackProfile

pytestmark = pytest.mark.django_db

PAGE = "/admin/telemetry/continuousprofilewindow/"
TRACE = "ab" * 16


def window(process: str, minutes_ago: int, *stacks: tuple[tuple[str, ...], int]):
    profile = StackProfile()
    for names, samples in stacks:
        stack = tuple(profile.frame_index((f"app/{n}.py", 1, n)) for n in names)
        profile.add(stack, samples, samples * 50_000, trace_id=TRACE if "view" in names else None)
    body, traces = profile.to_json()
    start = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    return ContinuousProfileWindow.objects.create(
        service="observability-site", role=process.split(":")[0], process=process,
        window_start=start, window_seconds=60, samples=sum(s for _, s in stacks),
        stacks=body, traces=traces, sampler_cpu_seconds=0.02, process_cpu_seconds=4.0,
    )  # fmt: skip


def test_the_switch_is_one_row_with_one_message_per_limit(
    staff_session, django_capture_on_commit_callbacks
):
    add = "/admin/telemetry/continuousprofiling/add/"
    assert staff_session.get("/admin/telemetry/continuousprofiling/")["Location"] == add
    for bad in ("0", "251"):
        response = staff_session.post(add, {"enabled": "on", "sample_hz": bad, "mode": "cpu"})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["sample_hz"] == [
            "Must be between 1 and 250."
        ]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_session.post(add, {"sample_hz": "7", "mode": "wall"})  # unticked: off
    assert response.status_code == 302
    row = ContinuousProfiling.objects.get()
    assert (row.enabled, row.sample_hz, row.mode) == (False, 7, "wall")
    # This process was told (the writer reloads at once; the others within a poll).
    assert continuous_settings.snapshot().enabled is False
    assert continuous_settings.snapshot().source == "admin"
    assert staff_session.get(add).status_code == 403  # a second row would be ignored
    change = f"/admin/telemetry/continuousprofiling/{row.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        edit = staff_session.post(change, {"enabled": "on", "sample_hz": "19", "mode": "cpu"})
    assert edit.status_code == 302
    assert continuous_settings.snapshot().enabled is True


def test_the_range_page_shows_the_profile_its_traces_and_what_it_cost(staff_session):
    window("web:h:1", 2, (("handler", "view", "render"), 6), (("handler", "view"), 2))
    window("worker:h:2", 2, (("consume", "task_body"), 4))
    window("web:h:1", 40, (("handler", "old_code"), 9))

    page = staff_session.get(PAGE).content.decode()  # the last 15 minutes, everything
    assert "render (app/render.py:1)" in page and "task_body (app/task_body.py:1)" in page
    assert "old_code" not in page
    assert TRACE in page and 'class="frame"' in page
    assert "0.50%" in page  # the sampler's CPU: 0.04 s of 8 s

    web = staff_session.get(PAGE, {"role": "web", "last": "60"}).content.decode()
    assert "old_code" in web and "task_body" not in web
    only_trace = staff_session.get(PAGE, {"trace": TRACE}).content.decode()
    assert "render" in only_trace and "task_body" not in only_trace


def test_two_ranges_are_compared(staff_session):
    window("web:h:1", 20, (("handler", "slow_query"), 8), (("handler", "render"), 2))
    window("web:h:1", 5, (("handler", "slow_query"), 2), (("handler", "render"), 8))
    response = staff_session.get(PAGE, {"last": "15", "compare": "previous"})
    rows = {row["function"].split(" ")[0]: row for row in response.context["differences"]}
    assert rows["render"]["after"] == pytest.approx(0.8)
    assert rows["render"]["before"] == pytest.approx(0.2)
    assert rows["slow_query"]["change"] == pytest.approx(-0.6)
    assert "continuous-diff-flamegraph" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday-ish"},
        {"last": "7"},
        {"trace": "not-a-trace"},
        {"start": "2026-01-02 10:00", "end": "2026-01-01 10:00"},
        {"compare": "custom", "compare_start": "2026-01-01 10:00"},
        {"imports": "sometimes"},
    ],
)
def test_bad_input_is_a_form_error(staff_session, query):
    response = staff_session.get(PAGE, query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "errorlist" in response.content.decode()


def test_the_range_and_its_comparison_open_in_speedscope(staff_session):
    window("web:h:1", 20, (("handler", "slow_query"), 8))
    window("web:h:1", 5, (("handler", "view", "render"), 5))
    page = staff_session.get(PAGE, {"last": "15", "compare": "previous"})
    link = page.context["speedscope_link"]
    fragment = parse_qs(urlsplit(link).fragment)
    profile_url = fragment["profileURL"][0]
    assert profile_url.startswith("/admin/telemetry/continuousprofilewindow/speedscope.json?")
    document = json.loads(staff_session.get(profile_url).content)
    schema_path = Path(django_settings.PROFILING_SPEEDSCOPE_DIR) / "file-format-schema.json"
    jsonschema.validate(document, json.loads(schema_path.read_text()))
    now, before = document["profiles"]
    names = [frame["name"] for frame in document["shared"]["frames"]]
    assert {names[i] for stack in now["samples"] for i in stack} == {"handler", "view", "render"}
    assert {names[i] for stack in before["samples"] for i in stack} == {"handler", "slow_query"}
    assert sum(now["weights"]) == pytest.approx(5 * 0.05)
    bad = staff_session.get("/admin/telemetry/continuousprofilewindow/speedscope.json?last=9")
    assert bad.status_code == 400


def test_a_sampled_span_leads_to_its_window_and_trace(staff_session):
    row = window("web:h:1", 3, (("handler", "view", "render"), 6))
    profile_id = f"web:h:1@{int(row.window_start.timestamp())}"
    url = profile_url_for_span({"profiling.profile_id": profile_id}, trace_id=TRACE)
    response = staff_session.get(url)
    assert response.status_code == 302
    page = staff_session.get(response["Location"])
    assert page.context["selection"].process == "web:h:1"
    assert page.context["selection"].trace == TRACE
    assert "render (app/render.py:1)" in page.content.decode()
    bad = "/admin/telemetry/continuousprofilewindow/for-span/?profile_id=nonsense"
    assert staff_session.get(bad).status_code == 404


def test_span_attributes_map_to_their_profiles():
    assert profile_url_for_span({"profiling.run_id": 12}) == (
        "/admin/telemetry/profilingrun/12/change/"
    )
    url = profile_url_for_span({"profiling.profile_id": "worker:h:9@1764067200"})
    assert url == (
        "/admin/telemetry/continuousprofilewindow/for-span/?profile_id=worker%3Ah%3A9%401764067200"
    )
    assert profile_url_for_span({"http.route": "/api/x"}) is None
    assert profile_url_for_span({"profiling.profile_id": "no-window"}) is None
    assert profile_url_for_span({"profiling.run_id": True}) is None
    patterns = jaeger_link_patterns("http://console.example:8000/")
    assert patterns[0]["url"] == (
        "http://console.example:8000/admin/telemetry/continuousprofilewindow/for-span/"
        "?profile_id=#{profiling.profile_id}&trace_id=#{trace.traceID}"
    )
    assert patterns[1]["url"] == (
        "http://console.example:8000/admin/telemetry/profilingrun/#{profiling.run_id}/change/"
    )


def test_the_pages_are_for_staff_only(client, user):
    client.force_login(user)
    for url in (PAGE, f"{PAGE}speedscope.json", "/admin/telemetry/continuousprofiling/"):
        assert client.get(url).status_code == 302  # to the admin's login
