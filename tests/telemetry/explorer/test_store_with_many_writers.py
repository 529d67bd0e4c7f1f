"""Many processes write the store at once (gunicorn workers, Celery pool children): WAL, the
busy timeout and immediate write transactions keep every batch, and pruning from several
processes still keeps the count within the bound."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from django.db import connections
from django.db.models import Max, Min

from telemetry.models import StoredProcess, StoredSpan
from tests.telemetry.explorer.support import STORE, store_db_committed

ROOT = Path(__file__).resolve().parents[3]

# One writer process: its own provider and spans, written in batches like a batch processor.
WRITER = textwrap.dedent(
    """
    import os, sys, django
    django.setup()
    from django.conf import settings
    settings.DATABASES["telemetry_store"]["NAME"] = sys.argv[1]
    from tests.telemetry.explorer.support import Recorder
    from telemetry.explorer.writer import StoreBounds, StoreWriter
    bound, batches, per_batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    writer = StoreWriter(alias="telemetry_store", bounds=StoreBounds(bound, bound, 86400),
                         role="worker")
    recorder = Recorder()
    for batch in range(batches):
        for n in range(per_batch):
            recorder.tracer.start_span(f"pid {os.getpid()} batch {batch} span {n}").end()
        if not writer.write_spans(recorder.finished_spans()):
            sys.exit(f"batch {batch} failed")
        recorder.spans.clear()
    print("done", os.getpid())
    """
)


def run_writers(count: int, *, bound: int, batches: int, per_batch: int) -> list[str]:
    path = connections[STORE].settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "observability_site.settings",
        "TELEMETRY_LOCAL_STORE": "off",
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(bound), str(batches), str(per_batch)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = []
    for writer in writers:
        output, _ = writer.communicate(timeout=180)
        assert writer.returncode == 0, output
        outputs.append(output)
    return outputs


@store_db_committed
def test_four_processes_writing_at_once_lose_nothing():
    outputs = run_writers(4, bound=100_000, batches=20, per_batch=100)

    assert StoredSpan.objects.count() == 4 * 20 * 100
    assert StoredProcess.objects.count() == 4
    assert StoredSpan.objects.values("instance_id").distinct().count() == 4
    assert not [o for o in outputs if "cannot write" in o], outputs


@store_db_committed
def test_four_processes_pruning_at_once_keep_the_bound():
    bound = 1000
    run_writers(4, bound=bound, batches=20, per_batch=100)

    count = StoredSpan.objects.count()
    assert 0.9 * bound <= count <= bound
    # What is left is the newest, without holes: pruning only ever cut the oldest end.
    ids = StoredSpan.objects.aggregate(low=Min("id"), high=Max("id"))
    assert ids["high"] - ids["low"] + 1 == count
    newest = StoredSpan.objects.get(id=ids["high"])
    assert " batch 19 " in newest.name  # the last batch written, kept whole
    pid = newest.name.split()[1]
    assert StoredSpan.objects.filter(name__startswith=f"pid {pid} batch 19 ").count() == 100
