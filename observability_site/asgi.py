"""ASGI entry point: uvicorn (`uvicorn observability_site.asgi:application --workers 2`),
gunicorn with the uvicorn worker class (`gunicorn -c observability_site/gunicorn.conf.py
-k uvicorn_worker.UvicornWorker observability_site.asgi:application`), or any other ASGI
server (hypercorn, daphne, granian ...).

Telemetry is set up here, in the process that imports this module and before Django builds
its handler (whose middleware chain telemetry arranges), unless this process has set it up
already: gunicorn's post_fork does, in each worker. uvicorn and hypercorn start their
workers with multiprocessing's spawn, so each worker imports this module itself.
telemetry.pipeline.entrypoints says why this is the place, and which servers it suits.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

from django.core.asgi import get_asgi_application

from telemetry.pipeline.entrypoints import configure_for_server, with_telemetry_lifespan

configure_for_server("asgi")

# Flushed at the server's lifespan shutdown: uvicorn ends by re-raising SIGTERM, which skips
# atexit (telemetry.pipeline.entrypoints).
application = with_telemetry_lifespan(get_asgi_application())
