"""WSGI entry point for gunicorn: `gunicorn -c observability_site/gunicorn.conf.py
observability_site.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

application = get_wsgi_application()
