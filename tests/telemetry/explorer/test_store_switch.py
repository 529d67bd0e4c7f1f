"""When a process keeps its telemetry in the local store: TELEMETRY_LOCAL_STORE=auto (on with
no OTLP endpoint, off with one), on (also beside a collector), off; a signal switched off is
not kept either. Bad settings stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from telemetry.explorer import store
from telemetry.explorer.writer import process_role
from telemetry.pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def no_otlp(monkeypatch):
    # store_exporters() makes its writer this process's: the test process keeps none.
    monkeypatch.setattr(store, "_writer", store.active_writer())
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_LOGS_EXPORTER",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("mode", "endpoint", "kept"),
    [
        ("auto", None, True),
        ("auto", "http://127.0.0.1:4317", False),
        ("on", "http://127.0.0.1:4317", True),
        ("on", None, True),
        ("off", None, False),
    ],
)
def test_auto_keeps_it_unless_a_collector_takes_it(no_otlp, monkeypatch, mode, endpoint, kept):
    if endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    with override_settings(TELEMETRY_LOCAL_STORE=mode):
        config = load_config()
        assert store.local_store_enabled(config) is kept
        exporters = store.store_exporters(config)
    assert (exporters is not None) is kept


def test_auto_leaves_it_to_a_process_that_keeps_its_telemetry_in_memory(no_otlp):
    config = load_config()
    with override_settings(TELEMETRY_LOCAL_STORE="auto"):
        assert store.local_store_enabled(config, in_memory=True) is False
    with override_settings(TELEMETRY_LOCAL_STORE="on"):
        assert store.local_store_enabled(config, in_memory=True) is True


def test_a_signal_switched_off_is_not_kept(no_otlp, monkeypatch):
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    with override_settings(TELEMETRY_LOCAL_STORE="auto"):
        exporters = store.store_exporters(load_config())
    assert exporters is not None and exporters.spans is not None and exporters.logs is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    with override_settings(TELEMETRY_LOCAL_STORE="auto"):
        assert store.store_exporters(load_config()) is None


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/srv/.venv/bin/gunicorn", "-c", "gunicorn.conf.py", "observability_site.wsgi"], "web"),
        (["/srv/.venv/bin/celery", "-A", "observability_site", "worker"], "worker"),
        (["manage.py", "runserver"], "web"),
        (["manage.py", "migrate", "--noinput"], "manage.py migrate"),
        (["/usr/bin/pytest", "-q"], "pytest"),
    ],
)
def test_each_process_says_what_it_is(argv, role):
    assert process_role(argv) == role


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEMETRY_LOCAL_STORE", "sometimes"),
        ("TELEMETRY_LOCAL_STORE_DATABASE", "nowhere"),
        ("TELEMETRY_LOCAL_STORE_MAX_SPANS", "lots"),
        ("TELEMETRY_LOCAL_STORE_MAX_LOG_RECORDS", "10"),
        ("TELEMETRY_LOCAL_STORE_MAX_AGE_SECONDS", "-1"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_variable(tmp_path, variable, value):
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        variable: value,
        "DJANGO_SETTINGS_MODULE": "observability_site.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and variable in done.stderr
