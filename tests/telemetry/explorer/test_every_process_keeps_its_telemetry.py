"""With no OTLP endpoint (the `make run` default), a management command keeps its spans and
log records in the local store too, flushed when it exits; with an endpoint it keeps nothing
unless the store is switched on."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAY_HELLO = (
    "import logging; logging.getLogger('tests.command').warning('hello from %s', 'a command')"
)


def manage(data_dir: Path, *args: str, **extra_env: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTEST_", "TELEMETRY_"))
    }
    env.pop("DATABASE_URL", None)  # a SQLite database of its own, in data_dir
    env.update(
        DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="observability_site.settings", **extra_env
    )
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def stored(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "telemetry.sqlite3") as store:
        return store.execute(sql).fetchall()


def hellos(data_dir: Path) -> int:
    query = "SELECT COUNT(*) FROM telemetry_storedlogrecord WHERE body = 'hello from a command'"
    return stored(data_dir, query)[0][0]


def test_commands_keep_their_spans_and_logs_in_the_store_by_default(tmp_path):
    manage(tmp_path, "migrate", "--noinput", "--database", "telemetry_store")
    manage(tmp_path, "migrate", "--noinput")
    manage(tmp_path, "shell", "-c", SAY_HELLO)

    roles = {role for (role,) in stored(tmp_path, "SELECT process_role FROM telemetry_storedspan")}
    assert "manage.py migrate" in roles  # the migration's database spans
    assert hellos(tmp_path) == 1
    logs = stored(
        tmp_path,
        "SELECT process_role, level, logger FROM telemetry_storedlogrecord "
        "WHERE body = 'hello from a command'",
    )
    assert logs == [("manage.py shell", "WARN", "tests.command")]
    processes = stored(tmp_path, "SELECT process_role FROM telemetry_storedprocess")
    assert ("manage.py shell",) in processes


def test_with_a_collector_configured_the_store_is_off_unless_switched_on(tmp_path):
    manage(tmp_path, "migrate", "--noinput", "--database", "telemetry_store")
    collector = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_BSP_EXPORT_TIMEOUT": "500",
    }

    manage(tmp_path, "shell", "-c", SAY_HELLO, **collector)
    assert hellos(tmp_path) == 0

    manage(tmp_path, "shell", "-c", SAY_HELLO, TELEMETRY_LOCAL_STORE="on", **collector)
    assert hellos(tmp_path) == 1
