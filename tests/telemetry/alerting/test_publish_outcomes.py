"""What a publish does when it cannot go live: not configured, no Prometheus to reload,
Prometheus down, promtool refusing, another publisher holding the lock, an unwritable path.
The file in force never changes for the worse, and every attempt is logged."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from telemetry.alerting import live
from telemetry.alerting.audit import Actor
from telemetry.models import AlertingAuditEntry, AlertRule, PublicationOutcome, Source
from telemetry.prometheus import rule_file_store
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Source.COMMAND, label="test")


def publish():
    return live.publish_rules(actor=ACTOR, reason="test")


def test_it_is_not_published_when_no_rules_file_is_configured(settings):
    settings.PROMETHEUS_RULES_FILE = ""
    publication = publish()
    assert publication.outcome == PublicationOutcome.NOT_CONFIGURED
    assert "PROMETHEUS_RULES_FILE" in publication.message
    assert AlertingAuditEntry.objects.filter(publication=publication).exists()


def test_without_a_prometheus_url_the_file_is_written_readable_for_prometheus(rules_file):
    publication = publish()
    assert publication.outcome == PublicationOutcome.WRITTEN, publication.message
    assert "not reloaded" in publication.message
    assert rules_file.read_text() == publication.text
    # Prometheus often runs as another user: the file is world-readable, and no temporary or
    # lock file matches a *.yml glob.
    assert stat.S_IMODE(rules_file.stat().st_mode) == 0o644
    assert sorted(p.name for p in rules_file.parent.glob("*.yml")) == [rules_file.name]


def test_prometheus_unreachable_puts_the_previous_file_back(rules_file, settings):
    assert publish().outcome == PublicationOutcome.WRITTEN
    previous = rules_file.read_text()
    AlertRule.objects.filter(name="HighErrorRate").update(for_duration="10m")
    settings.PROMETHEUS_URL = dead_url()
    publication = publish()
    assert publication.outcome == PublicationOutcome.UNREACHABLE
    assert "cannot be reached" in publication.message and "previous" in publication.message
    assert rules_file.read_text() == previous
    # The change is kept, and in the file that was refused for lack of an answer.
    assert "for: 10m" in publication.text and "for: 10m" not in previous


def test_the_first_file_stays_when_prometheus_is_not_up_yet(rules_file, settings):
    settings.PROMETHEUS_URL = dead_url()
    publication = publish()
    assert publication.outcome == PublicationOutcome.UNREACHABLE
    assert "first rules file" in publication.message
    assert rules_file.read_text() == publication.text


def test_promtool_refusing_the_file_writes_nothing(rules_file):
    AlertRule.objects.create(group="g", name="Broken", expr="sum(rate(x[5m])")
    publication = publish()
    assert publication.outcome == PublicationOutcome.INVALID
    assert "could not parse expression" in publication.message
    assert not rules_file.exists()


def test_an_unwritable_path_is_a_failure_not_an_exception(settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.PROMETHEUS_RULES_FILE = str(blocker / "rules.yml")
    publication = publish()
    assert publication.outcome == PublicationOutcome.FAILED
    assert "could not be written" in publication.message


HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a+b") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process (a gunicorn worker, say) holding the publish lock for SECONDS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(rule_file_store.lock_path(path)), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_publishes_from_several_processes_take_turns(rules_file, monkeypatch):
    holder = hold_lock(rules_file, 2.0)
    try:
        monkeypatch.setattr(live, "LOCK_WAIT_SECONDS", 0.3)
        busy = publish()
        assert busy.outcome == PublicationOutcome.BUSY
        assert not rules_file.exists()
        monkeypatch.setattr(live, "LOCK_WAIT_SECONDS", 30)
        started = time.monotonic()
        waited = publish()
        assert waited.outcome == PublicationOutcome.WRITTEN
        assert time.monotonic() - started > 1.0  # it waited for the other process
    finally:
        holder.kill()
        holder.wait()


def test_a_bug_in_a_publish_is_a_failed_publication(rules_file, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(live.promtool, "check_rules_text", broken)
    publication = publish()
    assert publication.outcome == PublicationOutcome.FAILED
    assert "boom" in publication.message
    assert os.path.exists(rules_file) is False
