"""A database that is not migrated yet (the first `manage.py migrate` of a fresh clone) is not
a fault: the channels keep their defaults without a warning; other database errors still warn
once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from telemetry.control import channels as control
from telemetry.control.channels import Channel
from telemetry.control.version_store import FileVersionStore
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db


def _poll_with(load, tmp_path, caplog) -> list[logging.LogRecord]:
    name = f"test-{uuid.uuid4().hex}"
    control.register_channel(Channel(name, load, empty=()))
    control.reset_for_tests(FileVersionStore(tmp_path))
    try:
        with caplog.at_level(logging.DEBUG, logger="telemetry.control.channels"):
            control.poll_once()
            control.poll_once()
        return [r for r in caplog.records if name in r.getMessage()]
    finally:
        control._channels.pop(name, None)
        control._failing.discard(name)
        control.reset_for_tests(None)


def test_it_says_nothing_above_debug_while_a_table_is_missing(tmp_path, caplog):
    def load():
        with connection.cursor() as cursor:  # a real "no such table" / "undefined table"
            cursor.execute("SELECT 1 FROM telemetry_table_that_is_not_migrated")
        return ()

    records = _poll_with(load, tmp_path, caplog)
    assert [r.levelno for r in records] == [logging.DEBUG]


def test_it_still_warns_once_about_other_database_errors(tmp_path, caplog):
    def load():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM")  # a syntax error: a real fault
        return ()

    records = _poll_with(load, tmp_path, caplog)
    assert [r.levelno for r in records] == [logging.WARNING]


def test_the_first_migrate_of_a_fresh_data_dir_logs_no_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert '"level": "WARNING"' not in output and '"level": "ERROR"' not in output, output


def test_the_default_broker_url_names_a_host_so_kombu_does_not_warn(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["DATA_DIR"] = str(tmp_path)
    script = (
        "import logging, sys; logging.basicConfig(stream=sys.stdout, level=logging.WARNING)\n"
        "from observability_site.celery import app\n"
        "connection = app.connection_for_write(); connection.as_uri(); print(connection.hostname)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "No hostname was supplied" not in done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "localhost"
