"""The Celery app: reads Django settings under the CELERY_ namespace and finds tasks.

Workers start with `celery -A observability_site worker`.
"""

import os

from celery import Celery

from telemetry.pipeline.celery_hooks import connect_worker_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

app = Celery("observability_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each pool process builds its telemetry after fork and flushes it when it stops.
connect_worker_signals()
