"""Captures in the request and task paths: sampled 1 in N, tagged on the span, never
breaking the work, one session per process, reported to the run by the agent."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import yappi

from telemetry.models import ProfilingRun
from telemetry.profiling import agent as profiling_agent
from telemetry.profiling import celery_signals as profiling_celery
from telemetry.profiling import yappi_capture as profiling_capture
from telemetry.profiling.report import capture_table
from telemetry.profiling.storage import merged_table
from tests.telemetry.profiling.support import start_run

pytestmark = pytest.mark.django_db

ENRICH = {"words": 12, "sha256": "ab" * 32}


def enrich(client):
    response = client.post("/api/downstream/enrich", ENRICH, content_type="application/json")
    assert response.status_code == 200
    return response


def function_names(run: ProfilingRun) -> set[str]:
    return {name for (_, _, name) in merged_table(run).functions}


def test_it_captures_matching_requests_and_reports_them_to_the_run(client):
    run = start_run(route_pattern=r"^/api/downstream/", max_captures=50)
    for _ in range(3):
        enrich(client)
    client.get("/health")  # does not match the route pattern
    profiling_agent.tick()

    run.refresh_from_db()
    assert run.captures == 3
    (result,) = run.results.all()
    assert result.captures == 3
    assert "DownstreamEnrichApi.post" in function_names(run)
    assert "enrichment_for" in function_names(run)


def test_it_captures_one_in_n_per_process(client):
    run = start_run(sample_every=3, max_captures=50)
    for _ in range(7):
        enrich(client)
    profiling_agent.tick()
    run.refresh_from_db()
    assert run.captures == 3  # requests 1, 4 and 7


def test_it_stops_capturing_at_the_limit_and_the_run_finishes(client):
    run = start_run(max_captures=2)
    for _ in range(4):
        enrich(client)
    profiling_agent.tick()
    run.refresh_from_db()
    assert run.captures == 2
    assert run.status == ProfilingRun.Status.FINISHED
    assert run.status_reason == "reached 2 captures"
    assert run.ended_at is not None


def test_the_captured_request_span_carries_the_run_id_and_the_run_keeps_its_trace(client, otel):
    run = start_run()
    enrich(client)
    profiling_agent.tick()
    (span,) = [s for s in otel.finished_spans() if s.kind.name == "SERVER"]
    assert span.attributes["profiling.run_id"] == run.pk
    (result,) = run.results.all()
    assert result.trace_ids == [format(span.context.trace_id, "032x")]


def test_a_profiler_failure_never_breaks_the_request(client, monkeypatch, caplog):
    run = start_run()

    def broken_start(*args, **kwargs):
        raise RuntimeError("profiler exploded")

    monkeypatch.setattr(yappi, "start", broken_start)
    response = enrich(client)
    assert response.json()["size_class"] == "short"
    assert "could not start a capture" in caplog.text
    assert not profiling_capture.busy()  # the session lock was given back
    profiling_agent.tick()
    run.refresh_from_db()
    assert run.captures == 0


def test_only_one_session_runs_per_process():
    first = profiling_capture.begin(run_id=1, clock="wall", memory=False)
    assert first is not None
    assert profiling_capture.begin(run_id=1, clock="wall", memory=False) is None
    other_thread: list = []
    thread = threading.Thread(
        target=lambda: other_thread.append(
            profiling_capture.begin(run_id=1, clock="wall", memory=False)
        )
    )
    thread.start()
    thread.join()
    assert other_thread == [None]
    profiling_capture.end(first)
    assert not profiling_capture.busy()


def test_a_capture_that_finds_the_agent_harvesting_waits_for_it(monkeypatch):
    # The agent's harvest holds the profiler for up to hundreds of ms on a process's first
    # captures (thousands of functions): a request or task starting then is captured after
    # it, not lost.
    first = profiling_capture.begin(run_id=1, clock="wall", memory=False)
    sum(i * i for i in range(1000))
    profiling_capture.end(first)
    reading, may_finish = threading.Event(), threading.Event()
    real_read_table = profiling_capture.yappi_stats.read_table

    def slow_read_table():
        reading.set()
        may_finish.wait(10)
        return real_read_table()

    monkeypatch.setattr(profiling_capture.yappi_stats, "read_table", slow_read_table)
    harvest = threading.Thread(target=profiling_capture.harvest)
    harvest.start()
    assert reading.wait(10)
    begun: list = []
    beginner = threading.Thread(
        target=lambda: begun.append(profiling_capture.begin(run_id=1, clock="wall", memory=False))
    )
    beginner.start()
    beginner.join(0.3)
    assert beginner.is_alive() and not begun  # waiting for the harvest, not skipped
    may_finish.set()
    harvest.join(10)
    beginner.join(10)
    assert begun and begun[0] is not None
    profiling_capture.end(begun[0])
    assert not profiling_capture.busy()


def test_celery_task_hooks_capture_matching_tasks():
    run = start_run(target="tasks", task_pattern=r"^processing\.")
    task = SimpleNamespace(name="processing.process_job")

    def the_task_body():
        return sum(i * i for i in range(2000))

    profiling_celery._on_task_prerun(task_id="t1", task=task)
    the_task_body()
    profiling_celery._on_task_postrun(task_id="t1", task=task)
    profiling_celery._on_task_prerun(task_id="t2", task=SimpleNamespace(name="other.task"))
    profiling_celery._on_task_postrun(task_id="t2")
    profiling_agent.tick()

    run.refresh_from_db()
    assert run.captures == 1
    assert "the_task_body" in function_names(run)


def test_memory_mode_records_allocation_sites(client):
    run = start_run(memory=True)
    enrich(client)
    profiling_agent.tick()
    (result,) = run.results.all()
    assert result.memory, "no allocation site recorded"
    site, size, count = result.memory[0]
    assert ":" in site and size > 0 and count > 0


def test_a_whole_process_run_profiles_every_thread_for_its_window():
    run = start_run(target="process", max_duration_seconds=60)
    profiling_agent.tick()  # joins and starts the window
    assert profiling_capture.busy()

    def background_work():
        return sum(i for i in range(50000))

    worker = threading.Thread(target=background_work)
    worker.start()
    worker.join()
    ProfilingRun.objects.filter(pk=run.pk).update(status=ProfilingRun.Status.CANCELLED)
    from telemetry.profiling import runs as profiling

    profiling.active_runs.reload()
    profiling_agent.tick()  # the run is gone from the snapshot: the window closes
    assert not profiling_capture.busy()
    run.refresh_from_db()
    (result,) = run.results.all()
    assert result.captures == 1
    assert "background_work" in function_names(run)


def test_the_first_captures_are_kept_one_by_one_at_most_one_per_harvest(client, settings):
    settings.PROFILING_MAX_CAPTURE_PROFILES = 2
    run = start_run(max_captures=50)
    enrich(client)
    enrich(client)  # its counters join the first's: not kept on its own
    profiling_agent.tick()
    enrich(client)
    profiling_agent.tick()
    enrich(client)
    profiling_agent.tick()
    run.refresh_from_db()
    assert run.captures == 4
    kept = list(run.captures_kept.order_by("started_at"))
    assert len(kept) == 2
    assert {capture.label for capture in kept} == {"/api/downstream/enrich"}
    # Each kept table is one request's; the run's table has all four.
    (merged_view,) = [
        c for k, c in merged_table(run).functions.items() if k[2] == "DownstreamEnrichApi.post"
    ]
    assert merged_view.calls == 4
    for capture in kept:
        _, table = capture_table(run, capture.pk)
        (view,) = [c for k, c in table.functions.items() if k[2] == "DownstreamEnrichApi.post"]
        assert view.calls == 1
        assert not [k for k in table.functions if "/telemetry/profiling/" in k[0]]
