"""Continuous profiling in one process, as the control poller runs it: switched on by the
admin's row, it samples and writes a bounded row per window (rewritten while the window is
open, with what the sampler cost); switched off, it stops and writes what it had; old and
surplus rows are pruned; a range merges the rows of several processes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from telemetry.models import ContinuousProfileWindow, ContinuousProfiling
from telemetry.profiling.continuous import lifecycle, windows
from telemetry.profiling.continuous.config import continuous_settings
from telemetry.profiling.stacks import StackProfile

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def continuous(settings, profiling_state):
    settings.PROFILING_CONTINUOUS_WINDOW_SECONDS = 10
    settings.PROFILING_CONTINUOUS_FLUSH_SECONDS = 1
    lifecycle.enable_in_this_process("web", force=True)
    yield
    lifecycle.stop_for_tests()
    continuous_settings.reset(continuous_settings.snapshot())


def switch(enabled: bool, hz: int = 100) -> None:
    ContinuousProfiling.objects.update_or_create(
        pk=1, defaults={"enabled": enabled, "sample_hz": hz}
    )
    continuous_settings.reload()


def crunch_numbers(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(3000))


def test_it_samples_while_on_writes_windows_and_stops_when_off():
    stop = threading.Event()
    worker = threading.Thread(target=crunch_numbers, args=(stop,))
    worker.start()
    try:
        switch(True)
        lifecycle.tick()
        sampler = lifecycle.current_sampler()
        assert sampler is not None and sampler.running
        time.sleep(0.6)
        lifecycle.tick(now=time.time() + 5)  # past the flush interval
        rows = list(ContinuousProfileWindow.objects.order_by("window_start"))
        assert 1 <= len(rows) <= 2  # two if a window boundary fell in the test
        assert {(r.role, r.process) for r in rows} == {("web", lifecycle.process_label())}
        assert sum(r.samples for r in rows) > 5
        assert {(r.mode, r.sample_hz) for r in rows} == {("cpu", 100)}
        assert all(r.window_start.timestamp() % 10 == 0 for r in rows)
        profile = StackProfile()
        for r in rows:
            profile.merge(StackProfile.from_json(r.stacks, r.traces))
        assert "crunch_numbers" in {name for (_, _, name) in profile.frames}
        assert (
            0 < sum(r.sampler_cpu_seconds for r in rows) < sum(r.process_cpu_seconds for r in rows)
        )

        switch(False)
        lifecycle.tick()
        assert lifecycle.current_sampler() is None
        assert not sampler.running
        samples = sum(ContinuousProfileWindow.objects.values_list("samples", flat=True))
        time.sleep(0.3)
        lifecycle.tick(now=time.time() + 5)
        assert sum(ContinuousProfileWindow.objects.values_list("samples", flat=True)) == samples
    finally:
        stop.set()
        worker.join()


def test_the_rate_changes_live():
    switch(True, hz=5)
    lifecycle.tick()
    sampler = lifecycle.current_sampler()
    assert sampler.config.sample_hz == 5
    switch(True, hz=40)
    lifecycle.tick()
    assert lifecycle.current_sampler() is sampler and sampler.config.sample_hz == 40


def test_without_a_row_the_settings_decide(settings):
    settings.PROFILING_CONTINUOUS_DEFAULT_ENABLED = False
    continuous_settings.reload()
    lifecycle.tick()
    assert lifecycle.current_sampler() is None
    settings.PROFILING_CONTINUOUS_DEFAULT_ENABLED = True
    settings.PROFILING_CONTINUOUS_DEFAULT_HZ = 7
    continuous_settings.reload()
    lifecycle.tick()
    assert lifecycle.current_sampler().config.sample_hz == 7


def test_a_process_that_is_not_a_server_never_samples():
    lifecycle.stop_for_tests()
    assert lifecycle.enable_in_this_process("web") is False  # pytest is not gunicorn
    switch(True)
    lifecycle.tick()
    assert lifecycle.current_sampler() is None


def row(process: str, minutes_ago: float, frame: str, samples: int = 3):
    profile = StackProfile()
    stack = (profile.frame_index(("app.py", 1, "view")), profile.frame_index(("app.py", 9, frame)))
    profile.add(stack, samples, samples * 1000, trace_id="ab" * 16)
    stacks, traces = profile.to_json()
    start = timezone.now() - timedelta(minutes=minutes_ago)
    return ContinuousProfileWindow.objects.create(
        service="svc", role=process.split(":")[0], process=process,
        window_start=start.replace(second=0, microsecond=0), window_seconds=60,
        samples=samples, stacks=stacks, traces=traces,
        sampler_cpu_seconds=0.01, process_cpu_seconds=2.0,
    )  # fmt: skip


def test_old_rows_and_rows_beyond_the_limit_are_pruned(settings):
    settings.PROFILING_CONTINUOUS_RETENTION_HOURS = 1
    settings.PROFILING_CONTINUOUS_MAX_WINDOWS = 3
    row("web:h:1", 90, "old")
    for minutes in (5, 4, 3, 2):
        row("web:h:1", minutes, f"f{minutes}")
    assert windows.prune() == 2
    kept = ContinuousProfileWindow.objects.order_by("window_start")
    assert [StackProfile.from_json(r.stacks).frames[1][2] for r in kept] == ["f4", "f3", "f2"]


def test_a_range_merges_the_processes_it_selects():
    row("web:h:1", 2, "render", samples=4)
    row("web:h:2", 2, "render", samples=6)
    row("worker:h:3", 2, "task_body", samples=5)
    row("web:h:1", 30, "long_ago")
    now = timezone.now()
    merged = windows.range_profile(windows.windows_in_range(now - timedelta(minutes=10), now))
    assert merged.windows == 3 and merged.processes == {"web:h:1", "web:h:2", "worker:h:3"}
    rows = {r.key[2]: r for r in merged.profile.functions()}
    assert rows["render"].samples == 10 and rows["task_body"].samples == 5
    assert "long_ago" not in rows
    web = windows.range_profile(
        windows.windows_in_range(now - timedelta(minutes=10), now, role="web")
    )
    assert {r.key[2] for r in web.profile.functions()} == {"view", "render"}
    assert web.profiler_cpu_share == pytest.approx(0.02 / 4.0)
    assert datetime.now(UTC) > web.first
