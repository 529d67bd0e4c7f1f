"""bench/overhead.py --worker --instructions: what telemetry costs a Celery job, counted in
instructions, which the rest of a shared machine does not disturb (the served --worker rounds
move by a third from round to round there).

Each mode runs in a fresh process set up as a prefork pool process is (the Celery app
loaded, Celery's Django fix-up installed as a worker installs it, configure_telemetry as in
worker_process_init) under valgrind's cachegrind: it stores the jobs' rows with
instrumentation suppressed (the same work in every mode), then runs each job's two tasks
(process_job, then complete_job with its result) through the tracer a worker runs a task
with: the task signals fire (the consumer spans, the profiler's hooks, the fix-up's and the
tree's handling of database connections between tasks), the database is the real one, the
downstream a separate server with telemetry off. What it leaves out is the broker: no
message is published or consumed (no producer span, no Redis spans). Two runs, with
JOB_COUNTS jobs, and their difference over the difference in jobs: start-up cancels out.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.harness import instructions, report, services
from bench.overhead_modes import PROCESS_BODY, filled, tree_of
from tests.harness.servers import BIN, Stack

SCRIPT = Path(__file__).with_name("overhead.py")
JOB_COUNTS = (6, 26)
COLUMNS = (
    report.figure("instructions/job", "instructions", ",.0f"),
    report.figure("x off", "instructions_x", ".3f"),
)


def child(count: int) -> None:
    """Run in a child with the mode's environment, the service's code from the working
    directory (this tree or --baseline-tree): `count` jobs' chains, each to success."""
    assert not {"telemetry", "processing", "observability_site"} & sys.modules.keys()
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    import django

    django.setup()
    from celery.fixups.django import DjangoWorkerFixup
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    from observability_site.celery import app
    from processing.models import ProcessingJob
    from processing.tasks import complete_job, process_job
    from telemetry.pipeline.setup import configure_telemetry, shutdown_telemetry

    # What a worker's start installs: it closes the database connections around every task
    # unless the tree's settings set CELERY_DB_REUSE_MAX. Its signal handlers are weakly
    # referenced: the worker keeps it alive, and so does this name.
    fixup = DjangoWorkerFixup(app).install()
    configure_telemetry("bench worker in process")
    with suppress_instrumentation():
        ids = [ProcessingJob.objects.create(data=PROCESS_BODY["data"]).pk for _ in range(count)]
    for job_id in ids:
        outcome = run_as_a_worker(process_job, (), {"job_id": str(job_id)})
        run_as_a_worker(complete_job, (outcome,), {"job_id": str(job_id)})
    with suppress_instrumentation():
        done = ProcessingJob.objects.filter(pk__in=ids, status=ProcessingJob.Status.SUCCEEDED)
        succeeded = done.count()
    shutdown_telemetry()
    del fixup
    if succeeded != count:
        raise SystemExit(f"only {succeeded} of {count} jobs succeeded")
    services.print_result({"jobs": count})


def run_as_a_worker(task, args: tuple, kwargs: dict):
    """The task run by the tracer a worker runs it with (celery.app.trace, not eager: the
    signals' handlers see a worker's task); its return value (propagate: a failure raises)."""
    from celery import uuid
    from celery.app.trace import build_tracer

    task_id = uuid()
    request = {"id": task_id, "task": task.name, "is_eager": False, "delivery_info": {}}
    tracer = build_tracer(task.name, task, app=task.app, propagate=True)
    return tracer(task_id, args, kwargs, request).retval


def instructions_per_job(mode: str, args, env: dict[str, str], endpoints: dict[str, str]) -> float:
    """Instructions (every thread, the export threads included) per job of one mode."""
    return instructions.per_unit(
        JOB_COUNTS,
        lambda count: [str(BIN / "python"), str(SCRIPT), "--jobs-instructions-child", str(count)],
        env={**env, **filled(mode, endpoints)},
        cwd=tree_of(mode, args.baseline_tree),
        what=f"{mode}, jobs",
    )


def measure(args, stack: Stack, modes: list[str], endpoints: dict[str, str]) -> dict:
    """Every mode once per round (the counts repeat within a fraction of a percent, so one
    round is enough); instructions per job and their multiple of off's."""
    downstream = stack.start_web(
        OTEL_SDK_DISABLED="true", GUNICORN_WORKERS="1", GUNICORN_ACCESS_LOG="false"
    )
    env = {**stack.env, "PROCESSING_DOWNSTREAM_URL": f"{downstream}/api/downstream/enrich"}
    print(f"worker in process: {JOB_COUNTS} jobs per count, under cachegrind", flush=True)
    results = []
    for round_index in range(args.rounds):
        for mode in modes:
            count = instructions_per_job(mode, args, env, endpoints)
            results.append({"round": round_index + 1, "mode": mode, "instructions": count})
            print(f"round {round_index + 1} {mode:<22} {count:,.0f} instructions/job", flush=True)
    stack.stop()
    summary = {}
    off = min(r["instructions"] for r in results if r["mode"] == "off")
    for mode in modes:
        least = min(r["instructions"] for r in results if r["mode"] == mode)
        summary[mode] = {"instructions": least, "instructions_x": least / off}
    report.print_summary(summary, COLUMNS)
    return {"in_process": True, "summary": summary, "runs": results}
