"""bench/overhead.py end to end, as short as it can be: real gunicorn under wrk, a real
Celery worker taking real jobs, a real collector; what it writes (JSON, PNG) and what it
measured (no timing asserted: only that every figure was taken)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

from bench import overhead, overhead_worker, overhead_worker_instructions
from bench.harness import services
from tests.harness.collector import otlp_env, spans_named
from tests.harness.servers import BIN

ROOT = overhead.ROOT

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/test.sh)")
def test_it_serves_every_mode_under_wrk_and_writes_the_figures_and_their_plot(tmp_path):
    output = tmp_path / "results" / "overhead.json"
    argv = ["--rounds", "1", "--seconds", "1", "--warmup", "1", "--endpoints", "GET /",
            "--modes", "off", "stock 1%", "--output", str(output)]  # fmt: skip
    assert overhead.main(argv) == 0

    results = json.loads(output.read_text())
    assert results["stock_modes"] == ["stock 1%"]
    assert results["modes"]["stock 1%"]["OTEL_TRACES_SAMPLER_ARG"] == "0.01"
    stock = results["summary"]["stock 1%"]["GET /"]
    assert stock["rps"] > 0 and stock["cpu_ms"] > 0 and stock["p99_ms"] > 0
    assert stock["ratio"] > 0 and stock["ratio_min"] == stock["ratio_max"] == stock["ratio"]
    assert results["summary"]["off"]["GET /"]["ratio"] == 1.0
    assert {r["mode"] for r in results["memory_runs"]} == {"off", "stock 1%"}
    assert all(r["rss_mb"] > 20 for r in results["memory_runs"])  # a Django worker
    assert output.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_it_runs_real_jobs_through_a_worker_per_mode(stack):
    args = SimpleNamespace(rounds=1, jobs=4, warmup_jobs=1, baseline_tree=None)
    results = overhead_worker.run_rounds(args, stack, ["off"], endpoints={})

    (run,) = results
    assert run["mode"] == "off" and run["jobs"] == 4
    assert run["seconds"] > 0 and run["jobs_per_s"] == pytest.approx(4 / run["seconds"])
    assert run["cpu_ms"] > 0  # the worker's main and pool processes did the work
    assert run["rss_mb"] > 20  # the pool process, with Django loaded


def test_it_runs_job_chains_in_process_as_the_instruction_count_does(stack, collector):
    """What --worker --instructions counts under cachegrind, run natively: each job's chain
    through the tracer a worker runs a task with, to success, with the consumer spans of
    both tasks."""
    downstream = stack.start_web(OTEL_SDK_DISABLED="true", GUNICORN_WORKERS="1")
    env = {
        **stack.env,
        **otlp_env(collector, OTEL_TRACES_SAMPLER="parentbased_always_on"),
        "PROCESSING_DOWNSTREAM_URL": f"{downstream}/api/downstream/enrich",
    }
    command = [str(BIN / "python"), str(overhead_worker_instructions.SCRIPT),
               "--jobs-instructions-child", "2"]  # fmt: skip
    result, _ = services.run_child(command, env=env, cwd=ROOT, what="2 jobs in process")

    assert result == {"jobs": 2}
    received = collector.wait_for(
        "both tasks of both jobs",
        lambda r: len(spans_named(r.spans, "run/processing.complete_job")) == 2,
    )
    assert len(spans_named(received.spans, "run/processing.process_job")) == 2


def test_it_counts_only_the_services_own_set_up():
    with pytest.raises(SystemExit):
        overhead.parse_args(["--worker", "--instructions", "--modes", "off", "stock 100%"])
