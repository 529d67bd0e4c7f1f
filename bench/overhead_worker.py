"""bench/overhead.py --worker: what telemetry costs a Celery worker, in jobs per second and
CPU per job, on small jobs through the real broker.

Each mode's worker is a prefork worker with one pool process (--concurrency=1), started from
the service's Celery app (or the stock one). A child process with telemetry off queues the
jobs through the service's own processing.jobs.job_create (the row, then the
process_job -> complete_job chain on the broker) and waits for them; each job analyses its
text and calls the downstream, a separate gunicorn with telemetry off (untraced). Jobs per
second run from the first job's queued_at to the last one's finished_at; CPU per job is the
worker's (its main process, which talks to the broker, and its pool process, from /proc)
over the measured jobs, after unmeasured warm-up jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import procfs, report, services
from bench.harness.rounds import Ratio, rotated, summarize
from bench.overhead_modes import BASELINE, PROCESS_BODY, filled, worker_options
from tests.harness.servers import BIN, Stack

SCRIPT = Path(__file__).with_name("overhead.py")
ROOT = SCRIPT.parents[1]
MEDIANS = ("jobs_per_s", "cpu_ms", "rss_mb")
RATIOS = (
    Ratio("ratio", "jobs_per_s"),
    Ratio("cpu_x", "cpu_ms"),  # a multiple: 1.23 is 23% more CPU per job than off
    Ratio("rss_ratio", "rss_mb"),
)
COLUMNS = (
    report.figure("jobs/s", "jobs_per_s", ".1f"),
    report.ratio("ratio (min-max)", "ratio"),
    report.figure("CPU ms/job", "cpu_ms", ".2f"),
    report.ratio("CPU x (min-max)", "cpu_x", 2),
    report.figure("RSS MB", "rss_mb", ".1f"),
    report.ratio("RSS x (min-max)", "rss_ratio"),
)


def jobs_child(count: int, timeout: float) -> None:
    """Run in a child with the stack's environment (telemetry off): queue `count` jobs, wait
    for all of them to finish, and print one result line: the seconds from the first job's
    queued_at to the last one's finished_at. Fails if any job failed or was retried: a job
    that fails is cheap and would make a mode look fast."""
    import django

    django.setup()
    from django.db.models import Count, Max, Min, Q

    from processing.jobs import job_create
    from processing.models import ProcessingJob

    ids = [job_create(data=PROCESS_BODY["data"]).pk for _ in range(count)]
    jobs = ProcessingJob.objects.filter(pk__in=ids)
    deadline = time.monotonic() + timeout
    while (done := jobs.filter(status__in=ProcessingJob.FINISHED).count()) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done} of {count} jobs finished in {timeout:.0f}s")
        time.sleep(0.05)
    figures = jobs.aggregate(
        first=Min("queued_at"),
        last=Max("finished_at"),
        failed=Count("pk", filter=Q(status=ProcessingJob.Status.FAILED)),
        retried=Count("pk", filter=Q(attempts__gt=1)),
    )
    if figures["failed"] or figures["retried"]:
        raise SystemExit(f"{figures['failed']} jobs failed, {figures['retried']} were retried")
    seconds = (figures["last"] - figures["first"]).total_seconds()
    services.print_result({"jobs": count, "seconds": seconds})


def child_timeout(count: int) -> float:
    """A job takes tens of milliseconds: a second each, and a minute more, is generous."""
    return 60.0 + count


def run_jobs(stack: Stack, count: int) -> dict:
    """Queue `count` jobs from a child process and wait for them: its result line."""
    env = {**stack.env, "OTEL_SDK_DISABLED": "true", "LOG_LEVEL": "WARNING"}
    command = [str(BIN / "python"), str(SCRIPT), "--jobs-child", str(count)]
    result, _ = services.run_child(
        command, env=env, cwd=ROOT, what=f"queueing {count} jobs", timeout=child_timeout(count)
    )
    return result


def run_rounds(args, stack: Stack, modes: list[str], endpoints: dict[str, str]) -> list[dict]:
    """Every mode's worker once per round: --warmup-jobs, then --jobs measured; jobs per
    second, the worker's CPU per job and the pool process's RSS after the jobs."""
    downstream = stack.start_web(
        OTEL_SDK_DISABLED="true", GUNICORN_WORKERS="1", GUNICORN_ACCESS_LOG="false"
    )
    untraced = stack.processes[-1]
    results = []
    for round_index in range(args.rounds):
        for mode in rotated(modes, round_index):
            worker = stack.start_worker(
                concurrency=1,
                **worker_options(mode, args.baseline_tree),
                PROCESSING_DOWNSTREAM_URL=f"{downstream}/api/downstream/enrich",
                **filled(mode, endpoints),
            )
            tree = procfs.ProcessTree(worker.popen.pid)
            if args.warmup_jobs:
                run_jobs(stack, args.warmup_jobs)
            cpu_before = tree.cpu_seconds()
            seconds = run_jobs(stack, args.jobs)["seconds"]
            cpu_ms = (tree.cpu_seconds() - cpu_before) * 1000 / args.jobs
            rss_mb = procfs.rss_bytes(procfs.only_child(worker.popen.pid)) / 2**20
            run = {"round": round_index + 1, "mode": mode, "jobs": args.jobs, "seconds": seconds}
            run.update(jobs_per_s=args.jobs / seconds, cpu_ms=cpu_ms, rss_mb=rss_mb)
            results.append(run)
            print(
                f"round {round_index + 1} {mode:<22} {run['jobs_per_s']:7.1f} jobs/s"
                f"  worker CPU {cpu_ms:6.2f} ms/job  pool process RSS {rss_mb:6.1f} MB",
                flush=True,
            )
            services.stop_all_but(stack, untraced)
    return results


def measure(args, stack: Stack, modes: list[str], endpoints: dict[str, str]) -> dict:
    """The rounds, their table and PNG; the figures for the JSON results."""
    print(
        f"worker: {args.jobs} jobs (after {args.warmup_jobs} unmeasured) per mode and round"
        f" through {stack.env.get('CELERY_BROKER_URL')}, 1 prefork pool process;"
        f" {args.rounds} rounds x {len(modes)} modes",
        flush=True,
    )
    results = run_rounds(args, stack, modes, endpoints)
    stack.stop()
    summary = summarize(results, modes, baseline=BASELINE, medians=MEDIANS, ratios=RATIOS)
    report.print_summary(summary, COLUMNS)
    if summary:
        panels = [
            report.Panel("Jobs per second, ratio to off", "mode / off",
                         report.ratio_bars(summary, "ratio")),
            report.Panel("Worker CPU per job, multiple of off's", "mode / off",
                         report.ratio_bars(summary, "cpu_x")),
            report.Panel("Pool process RSS after the jobs", "mode / off",
                         report.ratio_bars(summary, "rss_ratio")),
        ]  # fmt: skip
        title = "bench/overhead.py --worker: median over rounds, whiskers min-max"
        print(f"plot: {report.plot_ratios(args.output.with_suffix('.png'), title, panels)}")
    return {"summary": summary, "runs": results}
