"""Settings helpers: a bad value fails loudly, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.env import envbool, envfloat, envint, envlist, envsecret
from tests.paths import REPO_ROOT


def test_it_reads_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert envbool("X_BOOL", False) is True
    assert envint("X_INT", 1) == 42
    assert envfloat("X_FLOAT", 1.0) == 0.5
    assert envlist("X_LIST", []) == ["a", "b", "c"]


def test_it_uses_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    assert envint("X_UNSET", 7) == 7
    assert envbool("X_UNSET", True) is True


@pytest.mark.parametrize(
    ("reader", "raw"),
    [
        (lambda: envbool("X_BAD", False), "maybe"),
        (lambda: envint("X_BAD", 1), "ten"),
        (lambda: envint("X_BAD", 1, minimum=1), "0"),
        (lambda: envfloat("X_BAD", 1.0), "fast"),
    ],
)
def test_it_rejects_bad_values_naming_the_variable(monkeypatch, reader, raw):
    monkeypatch.setenv("X_BAD", raw)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        reader()


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret_file))
    assert envsecret("X_SECRET") == "s3cret"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE"):
        envsecret("X_SECRET")


def test_a_bad_celery_task_log_level_stops_start_up_naming_the_variable():
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "observability_site.settings",
            "CELERY_TASK_LOG_LEVEL": "loud",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "CELERY_TASK_LOG_LEVEL must be" in done.stderr and "'LOUD'" in done.stderr
