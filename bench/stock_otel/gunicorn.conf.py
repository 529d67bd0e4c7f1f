"""The service's gunicorn.conf.py with the stock OpenTelemetry set-up in post_fork instead of
telemetry.pipeline's (bench/overhead.py's stock modes):

    gunicorn -c bench/stock_otel/gunicorn.conf.py observability_site.wsgi

Everything else (bind, workers, threads, gc.freeze after start-up ...) is the service's own,
read from its file, so that the two set-ups differ only in their telemetry. post_fork is
where the OpenTelemetry docs set up a pre-fork server ("Working With Fork Process Models").
"""

import os
import runpy
from pathlib import Path

_SERVICE_CONFIG = Path(__file__).resolve().parents[2] / "observability_site" / "gunicorn.conf.py"
globals().update(
    {k: v for k, v in runpy.run_path(str(_SERVICE_CONFIG)).items() if not k.startswith("__")}
)


def post_fork(server, worker):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    from bench.stock_otel.sdk import configure_stock_opentelemetry

    configure_stock_opentelemetry("gunicorn worker")


def worker_exit(server, worker):
    from bench.stock_otel.sdk import shutdown_stock_opentelemetry

    shutdown_stock_opentelemetry()
