"""start_profiling, stop_profiling and prune_profiling_runs."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from telemetry.models import ProfilingProcessResult, ProfilingRun
from tests.telemetry.profiling.support import start_run

pytestmark = pytest.mark.django_db


def run_command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_start_profiling_starts_a_run_and_prints_its_id():
    out = run_command(
        "start_profiling", "--target", "tasks", "--task", "^processing\\.", "--every", "2",
        "--clock", "cpu", "--memory", "--duration", "30", "--max-captures", "5",
    )  # fmt: skip
    run = ProfilingRun.objects.get()
    assert out.strip() == str(run.pk)
    assert (run.target, run.task_pattern, run.sample_every, run.clock, run.memory) == (
        "tasks", "^processing\\.", 2, "cpu", True,
    )  # fmt: skip
    assert (run.max_duration_seconds, run.max_captures) == (30, 5)


def test_start_profiling_rejects_bad_input_by_field():
    with pytest.raises(CommandError, match="route_pattern: Not a valid regular expression"):
        run_command("start_profiling", "--route", "(")
    assert not ProfilingRun.objects.exists()


def test_stop_profiling_stops_named_or_all_runs():
    first, second, third = start_run(), start_run(), start_run()
    assert "stopped 1 run(s)" in run_command("stop_profiling", str(first.pk))
    assert "stopped 2 run(s)" in run_command("stop_profiling", "--all")
    statuses = set(ProfilingRun.objects.values_list("status", flat=True))
    assert statuses == {"cancelled"}
    with pytest.raises(CommandError):
        run_command("stop_profiling")
    assert second.pk and third.pk


def test_prune_deletes_only_runs_that_ended_long_ago():
    old, recent, running = start_run(), start_run(), start_run()
    ProfilingProcessResult.objects.create(run=old, process="web:h:1", captures=1)
    ProfilingRun.objects.filter(pk__in=[old.pk, recent.pk]).update(status="finished")
    ProfilingRun.objects.filter(pk=old.pk).update(ended_at=timezone.now() - timedelta(days=40))
    ProfilingRun.objects.filter(pk=recent.pk).update(ended_at=timezone.now())

    assert "deleted 1 profiling run(s)" in run_command("prune_profiling_runs", "--days", "30")
    assert set(ProfilingRun.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not ProfilingProcessResult.objects.exists()
    with pytest.raises(CommandError):
        run_command("prune_profiling_runs", "--days", "-1")
