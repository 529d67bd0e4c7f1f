"""bench/overhead.py --worker --instructions: what telemetry costs a Celery job, counted in
instructions, which the rest of a shared machine does not disturb (the served --worker rounds
move by a third from round to round there).

Each mode runs in a fresh process set up as a prefork pool process is (the Celery app
loaded, configure_telemetry as in worker_process_init) under valgrind's cachegrind: it
stores the jobs' rows with instrumentation suppressed (the same work in every mode), then
runs each job's chain (process_job -> complete_job) through Celery's own task tracer,
eagerly: the task signals fire (the consumer spans, the profiler's hooks), the database is
the real one, the downstream a separate server with telemetry off. What it leaves out is the
broker: no message is published or consumed (no producer span, no Redis spans), and the
Django fixup does not reconnect per task as it does in a worker. Two runs, with JOB_COUNTS
jobs, and their difference over the difference in jobs: start-up cancels out.
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
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    import observability_site.celery  # noqa: F401  (the app the tasks are bound to)
    from processing.models import ProcessingJob
    from processing.tasks import job_workflow
    from telemetry.pipeline.setup import configure_telemetry, shutdown_telemetry

    configure_telemetry("bench worker in process")
    with suppress_instrumentation():
        ids = [ProcessingJob.objects.create(data=PROCESS_BODY["data"]).pk for _ in range(count)]
    for job_id in ids:
        job_workflow(job_id).apply().get()
    with suppress_instrumentation():
        done = ProcessingJob.objects.filter(pk__in=ids, status=ProcessingJob.Status.SUCCEEDED)
        succeeded = done.count()
    shutdown_telemetry()
    if succeeded != count:
        raise SystemExit(f"only {succeeded} of {count} jobs succeeded")
    services.print_result({"jobs": count})


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
