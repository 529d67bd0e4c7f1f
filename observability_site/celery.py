"""The Celery app: reads Django settings under the CELERY_ namespace and finds tasks.

Workers start with `celery -A observability_site worker`.
"""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from common.worker_connections import keep_connections_between_tasks
from telemetry.pipeline.celery_hooks import connect_worker_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

app = Celery("observability_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each pool process builds its telemetry after fork and flushes it when it stops.
connect_worker_signals()
# Database connections outlive a task, as they outlive a request (CELERY_DB_REUSE_MAX).
keep_connections_between_tasks()


@worker_process_init.connect(weak=False, dispatch_uid="observability_site.freeze")
def _freeze_what_the_pool_process_started_with(**_: Any) -> None:
    # As gunicorn's post_worker_init does (gunicorn.conf.py): what the parent loaded before
    # forking (Django, the tasks, the instrumentations) lives as long as the pool process;
    # frozen, full collections no longer walk it between tasks.
    gc.freeze()
