"""gunicorn settings: `gunicorn -c observability_site/gunicorn.conf.py observability_site.wsgi`.

Threaded workers (gthread): POST /api/process calls the downstream service, which by default
is this same service, so a worker must be able to serve that call while it waits on it.
A single synchronous worker would wait on itself until the timeout. GUNICORN_WORKER_CLASS=sync
suits a service whose downstream is elsewhere (PROCESSING_DOWNSTREAM_URL).
"""

import gc
import os
import shutil
from pathlib import Path

_port = os.environ.get("PORT", "8000")
bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{_port}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# gthread (default), sync, or uvicorn_worker.UvicornWorker for the ASGI application
# (`gunicorn -c observability_site/gunicorn.conf.py -k uvicorn_worker.UvicornWorker
# observability_site.asgi:application`; `threads` does not apply to it). The hooks below
# serve all three: post_fork runs before the worker imports its application.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "true").lower() == "true" else None
# The default format logs the request line with its query string (%(r)s: "?email=...",
# "?token=...") and the Referer (another URL with its query). Method, path without the
# query (%(U)s), protocol, status, bytes, seconds taken, user agent: nothing a client typed
# into a URL's query reaches the log. No %(u)s either (a Basic-auth user name).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s "%(a)s"'
# Limits on what a client sends gunicorn directly (behind nginx, its own limits come first:
# deploy/nginx/nginx.conf.template states them). Request line and header sizes as nginx's.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100
# Never preload: each worker must build its own state (connections, telemetry threads)
# after fork.
preload_app = False

# Workers are separate processes: prometheus_client's multiprocess mode lets /metrics add up
# the counters of all of them instead of reporting whichever worker answered.
_data_dir = Path(os.environ.get("DATA_DIR", Path(__file__).resolve().parent.parent / "var"))
# gunicornc's control socket defaults to one path per user: two instances (tests, or a
# second service on the host) would take it from each other. Keep it with the instance.
control_socket = str(_data_dir / "gunicorn.ctl")
_metrics_dir = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_data_dir / "prometheus"))
)


def on_starting(server):
    # Stale files of a previous run would add old counts to the new ones.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def post_fork(server, worker):
    # Telemetry providers own threads, which do not survive fork(): each worker builds its
    # own here, before it loads the Django app (so the instrumentation wraps it). The entry
    # module's own set-up (wsgi.py, asgi.py) then finds it done in this process.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    from telemetry.pipeline.setup import configure_telemetry

    configure_telemetry("gunicorn worker")


def post_worker_init(worker):
    # Everything loaded so far (Django, the app, the instrumentations: several hundred
    # thousand objects) lives as long as the worker. Frozen, the garbage collector's full
    # collections no longer walk it: measured (docs/overhead.md), they were the p99 of a
    # traced request, every span's allocations bringing the next full collection closer.
    gc.freeze()


def worker_exit(server, worker):
    # Flush the last spans, metrics and logs of a worker that stops (restart, shutdown).
    from telemetry.pipeline.setup import shutdown_telemetry

    shutdown_telemetry()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
