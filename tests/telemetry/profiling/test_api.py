"""The profiling runs REST API: admin users only, field errors for bad input, start,
read, stop and download."""

from __future__ import annotations

import pstats

import pytest

from telemetry.models import ProfilingRun
from telemetry.profiling import agent as profiling_agent
from tests.telemetry.profiling.support import start_run

pytestmark = pytest.mark.django_db

RUNS = "/api/telemetry/profiling-runs"


def test_it_is_for_admin_users_only(anon_client, user_client):
    assert anon_client.get(RUNS).status_code == 401
    assert user_client.get(RUNS).status_code == 403
    assert user_client.post(RUNS, {"target": "requests"}, format="json").status_code == 403
    assert not ProfilingRun.objects.exists()


def test_it_starts_a_run(staff_client, staff):
    response = staff_client.post(
        RUNS,
        {"target": "requests_and_tasks", "route_pattern": "^/api/", "sample_every": 5},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    run = ProfilingRun.objects.get()
    assert body["id"] == run.pk and body["status"] == "running"
    assert response["Location"] == body["url"]
    assert (run.target, run.sample_every, run.created_by) == ("requests_and_tasks", 5, staff)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"target": "requests", "route_pattern": "(("}, "route_pattern"),
        ({"target": "nope"}, "target"),
        ({"target": "requests", "max_captures": 0}, "max_captures"),
        ({"target": "requests", "sample_every": "many"}, "sample_every"),
        ({"target": "requests", "starts_at": "tomorrow"}, "starts_at"),
        ({"target": "requests", "starts_at": {"a": 1}}, "starts_at"),
        ({"target": ["requests"]}, "target"),
        ({"target": "requests", "starts_at": 1234567}, "starts_at"),
        ({"target": "requests", "sample_every": True}, "sample_every"),
        ({"target": 7}, "target"),
        ({"target": "requests", "sample_every": 2.5}, "sample_every"),
        ({"target": "requests", "memory": "perhaps"}, "memory"),
        ({"target": "requests", "sample_evry": 5}, "sample_evry"),
        ({"target": "requests", "route_pattern": "x" * 301}, "route_pattern"),
    ],
)
def test_it_rejects_bad_input_with_field_errors(staff_client, payload, field):
    response = staff_client.post(RUNS, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not ProfilingRun.objects.exists()


def test_a_list_body_is_a_field_error_not_a_500(staff_client):
    response = staff_client.post(RUNS, [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["error"]["fields"]


def test_it_shows_a_run_with_its_results_and_downloads(staff_client, client, tmp_path):
    run = start_run()
    client.post("/api/downstream/enrich", {"words": 3, "sha256": "cd" * 32}, "application/json")
    profiling_agent.tick()
    body = staff_client.get(f"{RUNS}/{run.pk}").json()
    assert body["captures"] == 1
    assert body["top_functions"] and body["top_functions"][0]["own_seconds"] > 0
    assert len(body["processes"]) == 1
    assert [r["id"] for r in staff_client.get(RUNS).json()["results"]] == [run.pk]

    pstat = staff_client.get(body["downloads"]["pstat"])
    assert pstat.status_code == 200
    (tmp_path / "run.pstat").write_bytes(pstat.content)
    names = {name for (_, _, name) in pstats.Stats(str(tmp_path / "run.pstat")).stats}
    assert "DownstreamEnrichApi.post" in names
    assert staff_client.get(body["downloads"]["callgrind"]).status_code == 200
    speedscope = staff_client.get(body["downloads"]["speedscope"])
    assert speedscope.status_code == 200
    (profile,) = speedscope.json()["profiles"]
    assert profile["type"] == "sampled" and sum(profile["weights"]) > 0
    process = body["processes"][0]
    assert staff_client.get(process["speedscope"]).json()["profiles"][0]["samples"]
    (capture,) = body["captures_kept"]
    assert staff_client.get(capture["speedscope"]).json()["profiles"][0]["samples"]
    assert staff_client.get(f"{RUNS}/{run.pk}/speedscope?capture=x").status_code == 400
    assert staff_client.get(f"{RUNS}/{run.pk}/speedscope?capture=999").status_code == 404
    assert staff_client.get(f"{RUNS}/{run.pk}/pprof").status_code == 404
    assert staff_client.get(f"{RUNS}/999999").status_code == 404


def test_it_stops_a_run_once(staff_client):
    run = start_run()
    response = staff_client.post(f"{RUNS}/{run.pk}/stop")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = staff_client.post(f"{RUNS}/{run.pk}/stop")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_ended"


def test_it_refuses_more_active_runs_than_the_limit(staff_client, settings):
    settings.PROFILING_MAX_ACTIVE_RUNS = 2
    start_run()
    start_run()
    response = staff_client.post(RUNS, {"target": "requests"}, format="json")
    assert response.status_code == 400
    assert "already scheduled or running" in str(response.json()["error"]["fields"])
    assert ProfilingRun.objects.count() == 2
