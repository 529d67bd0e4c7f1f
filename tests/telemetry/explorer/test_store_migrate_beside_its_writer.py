"""`manage.py migrate --database telemetry_store` on a fresh data dir, while the same
process's export threads already write its spans and logs to that store: the command creates
the tables, the writer does not race it ("table already exists"), and the command succeeds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT


@pytest.mark.parametrize("attempt", range(3))
def test_migrating_the_store_is_not_raced_by_its_own_writer(tmp_path, attempt):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DATA_DIR=str(tmp_path),
        TELEMETRY_LOCAL_STORE="on",
        # Export at once, so that the writer finds the tables missing while migrate runs.
        OTEL_BSP_SCHEDULE_DELAY="1",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1",
        OTEL_BLRP_SCHEDULE_DELAY="1",
        OTEL_TRACES_SAMPLER="always_on",
    )
    for database in ("telemetry_store", "default"):
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--database", database],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        assert "already exists" not in done.stderr
    assert (tmp_path / "telemetry.sqlite3").exists()
