"""Prometheus scrapes the processes that exist, not a port range (issue 22, item 4): each
process that serves its OpenTelemetry metrics announces its port as a file_sd target, and
withdraws it when it stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from telemetry.pipeline import scrape_targets
from telemetry.pipeline.metrics_pull import start_reader
from tests.harness.servers import free_port
from tests.paths import REPO_ROOT

ANNOUNCE_AND_WAIT = """
import sys, time
from telemetry.pipeline import scrape_targets
scrape_targets.announce("127.0.0.1", int(sys.argv[1]))
print("announced", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_process_announces_the_port_it_took(tmp_path, monkeypatch):
    monkeypatch.setenv(scrape_targets.TARGETS_DIR_VARIABLE, str(tmp_path))
    port = free_port()
    assert start_reader("127.0.0.1", range(port, port + 1))
    (path,) = tmp_path.glob("*.json")
    (group,) = json.loads(path.read_text())  # Prometheus's file_sd format
    assert group["targets"] == [f"127.0.0.1:{port}"]
    assert group["labels"]["process_pid"] == str(os.getpid())


def test_nothing_is_written_without_a_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(scrape_targets.TARGETS_DIR_VARIABLE, raising=False)
    assert scrape_targets.announce("127.0.0.1", 9464) is None


def _announcing_process(tmp_path, port: int, seconds: float) -> subprocess.Popen:
    env = {**os.environ, scrape_targets.TARGETS_DIR_VARIABLE: str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", ANNOUNCE_AND_WAIT, str(port), str(seconds)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "announced"
    return proc


def test_a_process_withdraws_its_target_when_it_exits(tmp_path):
    proc = _announcing_process(tmp_path, 9464, 0.2)
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert proc.wait(timeout=30) == 0
    assert list(tmp_path.glob("*.json")) == []


def test_the_file_of_a_killed_process_is_swept_by_the_next_one(tmp_path, monkeypatch):
    killed = _announcing_process(tmp_path, 9464, 60)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert len(list(tmp_path.glob("*.json"))) == 1  # a down target, until swept
    monkeypatch.setenv(scrape_targets.TARGETS_DIR_VARIABLE, str(tmp_path))
    mine = scrape_targets.announce("127.0.0.1", 9465)
    assert list(tmp_path.glob("*.json")) == [mine]
