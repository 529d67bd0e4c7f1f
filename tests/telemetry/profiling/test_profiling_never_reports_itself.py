"""A wall-clock run over requests and tasks reports no frame of the profiler (its start,
stop and harvest) in any table or download, and its times add up: no function's cumulative
time exceeds the run's total.

The gaps between captures matter: yappi used to keep the capture's stop path on its stack
while stopped, and the next capture popped it with the whole gap as its time.
"""

from __future__ import annotations

import json
import pstats
import time

import pytest

from processing import tasks
from processing.models import ProcessingJob
from telemetry.models import ProfilingCapture, ProfilingRun
from telemetry.profiling import agent as profiling_agent
from tests.telemetry.profiling.support import assert_parses_as_callgrind, start_run

pytestmark = pytest.mark.django_db(transaction=True)

GAP_SECONDS = 0.15


def profiler_functions(keys) -> list:
    return [key for key in keys if "/telemetry/profiling/" in key[0]]


def assert_adds_up(stats: dict, where: str) -> None:
    """pstats' stats dict: (primitive, calls, own, cumulative, callers) per function."""
    total = sum(own for _, _, own, _, _ in stats.values())
    assert total > 0, where
    worst = max(stats.items(), key=lambda item: item[1][3])
    assert worst[1][3] <= total * 1.0001 + 1e-9, (where, worst[0], worst[1][3], total)
    assert not profiler_functions(stats), (where, profiler_functions(stats))


def run_requests_and_tasks(client, staff_client, live_server, settings) -> None:
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/downstream/enrich"
    for i in range(4):
        response = client.post(
            "/api/downstream/enrich", {"words": 40 + i, "sha256": "ab" * 32}, "application/json"
        )
        assert response.status_code == 200
        time.sleep(GAP_SECONDS)
        response = staff_client.post("/api/process", {"data": f"some words {i}"}, format="json")
        assert response.status_code == 200, response.content
        time.sleep(GAP_SECONDS)
    for i in range(3):
        job = ProcessingJob.objects.create(data=f"a job {i}")
        tasks.job_workflow(job.pk).apply()
        job.refresh_from_db()
        assert job.status == "succeeded"
        time.sleep(GAP_SECONDS)


@pytest.mark.parametrize("kept_one_by_one", [0, 3])
def test_a_wall_clock_run_over_requests_and_tasks_adds_up_without_the_profiler(
    client, staff_client, staff_session, live_server, settings, tmp_path, kept_one_by_one
):
    settings.PROFILING_MAX_CAPTURE_PROFILES = kept_one_by_one
    run = start_run(
        target="requests_and_tasks", clock="wall", max_captures=1000, import_frames="exclude"
    )
    run_requests_and_tasks(client, staff_client, live_server, settings)
    profiling_agent.tick()

    run.refresh_from_db()
    # 8 requests here and 8 downstream calls served by the live server, 6 tasks.
    assert run.captures >= 8 + 6
    path = tmp_path / "run.pstat"
    download = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/download/pstat/")
    path.write_bytes(download.content)
    stats = pstats.Stats(str(path)).stats
    names = {name for (_, _, name) in stats}
    assert {"ProcessApi.post", "DownstreamEnrichApi.post", "complete_job"} <= names
    assert_adds_up(stats, "merged pstat")

    # The same for every process's table, every capture kept on its own, and the exports.
    for kind in ("callgrind", "speedscope"):
        body = staff_session.get(f"/admin/telemetry/profilingrun/{run.pk}/download/{kind}/")
        assert body.status_code == 200
        assert b"telemetry/profiling/" not in body.content, kind
        if kind == "callgrind":
            # gprof2dot checks that the numbers are consistent, cycles (recursion) included.
            assert_parses_as_callgrind(body.content.decode(), tmp_path / "callgrind.out")
    captures = list(ProfilingCapture.objects.filter(run=run))
    # One per harvest at most (it needs yappi's counters empty): the test harvests once.
    assert len(captures) == min(kept_one_by_one, 1)
    for capture in captures:
        speedscope = staff_session.get(
            f"/admin/telemetry/profilingrun/{run.pk}/speedscope.json?capture={capture.pk}"
        )
        document = json.loads(speedscope.content)
        (profile,) = document["profiles"]
        assert sum(profile["weights"]) <= capture.duration_ms / 1000 * 1.01 + 1e-6
        frames = [frame.get("file", "") for frame in document["shared"]["frames"]]
        assert not [f for f in frames if "/telemetry/profiling/" in f]
    assert ProfilingRun.objects.get(pk=run.pk).status == ProfilingRun.Status.RUNNING
