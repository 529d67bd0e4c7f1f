"""ASGI entry point (uvicorn, daphne); the default deployment is WSGI under gunicorn."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

application = get_asgi_application()
