"""WSGI entry point: gunicorn (`gunicorn -c observability_site/gunicorn.conf.py
observability_site.wsgi`), or any other WSGI server (`waitress-serve
observability_site.wsgi:application`, mod_wsgi, uWSGI with lazy-apps ...).

Telemetry is set up here, in the process that imports this module and before Django builds
its handler (whose middleware chain telemetry arranges), unless this process has set it up
already: gunicorn's post_fork does, in each worker. telemetry.pipeline.entrypoints says why
this is the place, and which servers it suits.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

from django.core.wsgi import get_wsgi_application

from telemetry.pipeline.entrypoints import configure_for_server

configure_for_server("wsgi")

application = get_wsgi_application()
