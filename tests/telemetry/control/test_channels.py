"""telemetry.control.channels: a change written by one process reaches the others through a version
marker; the hot path reads memory only; an unreachable store keeps the last state."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import pytest

from telemetry.control import channels as control
from telemetry.control.channels import Channel
from telemetry.control.version_store import FileVersionStore, RedisVersionStore


def redis_url() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["file", "redis"])
def store(request, tmp_path):
    if request.param == "file":
        return FileVersionStore(tmp_path / "control")
    return RedisVersionStore(redis_url())


def test_a_bump_changes_the_version_every_process_reads(store):
    channel = f"test-{uuid.uuid4().hex}"
    assert store.read(channel) is None
    store.bump(channel)
    first = store.read(channel)
    store.bump(channel)
    assert store.read(channel) not in (None, first)


def test_a_process_reloads_only_when_the_version_moved(store):
    name = f"test-{uuid.uuid4().hex}"
    rows = ["v1"]
    loads = []

    def load():
        loads.append(1)
        return tuple(rows)

    reader = Channel(name, load, empty=())
    writer = Channel(name, lambda: (), empty=())  # another process's copy of the channel
    assert reader.refresh_if_changed(store) is True  # first poll: loads
    assert reader.refresh_if_changed(store) is False
    assert reader._snapshot == ("v1",)

    rows.append("v2")
    store.bump(writer.name)
    assert reader.refresh_if_changed(store) is True
    assert reader._snapshot == ("v1", "v2")
    assert len(loads) == 2


class BrokenStore:
    def read(self, channel):
        raise ConnectionError("store is down")

    def bump(self, channel):
        raise ConnectionError("store is down")


def test_an_unreachable_store_keeps_the_last_state_and_logs_once(caplog, tmp_path):
    name = f"test-{uuid.uuid4().hex}"
    channel = control.register_channel(Channel(name, lambda: ("kept",), empty=()))
    try:
        control.reset_for_tests(FileVersionStore(tmp_path))
        control.poll_once()
        assert channel._snapshot == ("kept",)

        control.reset_for_tests(BrokenStore())
        with caplog.at_level(logging.WARNING, logger="telemetry.control.channels"):
            control.poll_once()
            control.poll_once()
            control.poll_once()
        assert channel._snapshot == ("kept",)
        warnings = [
            r
            for r in caplog.records
            if "keeping the last state" in r.getMessage() and name in r.getMessage()
        ]
        assert len(warnings) == 1

        control.reset_for_tests(FileVersionStore(tmp_path))
        with caplog.at_level(logging.INFO, logger="telemetry.control.channels"):
            control.poll_once()
        assert any(f"{name} reachable again" in r.getMessage() for r in caplog.records)
    finally:
        control._channels.pop(name, None)
        control.reset_for_tests(None)
        control._failing.discard(name)


def test_announcing_a_change_with_the_store_down_does_not_raise(caplog):
    channel = Channel(f"test-{uuid.uuid4().hex}", lambda: ("fresh",), empty=())
    control.reset_for_tests(BrokenStore())
    try:
        with caplog.at_level(logging.WARNING, logger="telemetry.control.channels"):
            channel.notify_changed()
        assert channel._snapshot == ("fresh",)  # the writing process has it at once
        assert any("unreachable" in r.getMessage() for r in caplog.records)
    finally:
        control.reset_for_tests(None)


def test_pausing_waits_for_a_poll_under_way_and_none_runs_after(settings, tmp_path):
    # A test that steps the channels by hand pauses the poller this way; a poll left under
    # way would overwrite the snapshot the test just set with what it loaded before.
    name = f"test-{uuid.uuid4().hex}"
    loading, release = threading.Event(), threading.Event()
    loads: list[float] = []

    def load():
        loads.append(time.monotonic())
        loading.set()
        assert release.wait(10)
        return ("loaded",)

    channel = control.register_channel(Channel(name, load, empty=()))
    control.reset_for_tests(FileVersionStore(tmp_path))
    try:
        settings.TELEMETRY_CONTROL_ENABLED = True
        control.ensure_poller()
        assert loading.wait(10), "the poller did not poll"
        settings.TELEMETRY_CONTROL_ENABLED = False
        paused = threading.Thread(target=control.wait_for_poll_under_way)
        paused.start()
        paused.join(0.5)
        assert paused.is_alive(), "returned while the poll was still loading"
        release.set()
        paused.join(10)
        assert not paused.is_alive() and channel._snapshot == ("loaded",)
        polls = len(loads)
        channel.reset(())  # a poll now would load it again
        time.sleep(1.5)  # more than a poll interval (TELEMETRY_CONTROL_POLL_SECONDS, 1 s)
        assert len(loads) == polls and channel._snapshot == ()
    finally:
        release.set()
        control._channels.pop(name, None)
        control.reset_for_tests(None)
