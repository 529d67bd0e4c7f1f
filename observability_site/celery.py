"""The Celery app: reads Django settings under the CELERY_ namespace and finds tasks.

Workers start with `celery -A observability_site worker`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

app = Celery("observability_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
