"""Telemetry for a process that serves observability_site.wsgi or .asgi under any server.

gunicorn has hooks (post_fork builds the telemetry in each worker before it loads the app);
most servers do not. So the entry module sets telemetry up itself, when it is imported,
before it builds Django's handler:

- Django builds the handler's middleware chain from settings.MIDDLEWARE when the handler is
  constructed (get_wsgi_application() / get_asgi_application(), at import of the entry
  module), not at the first request. The set-up puts telemetry's middleware into
  settings.MIDDLEWARE (telemetry.pipeline.middleware), so it must run first; a set-up at the
  first request would find a chain already built without the server-span middleware.
- It runs in the process that imports the entry module. uvicorn --workers and hypercorn
  --workers start each worker with multiprocessing's spawn (a fresh interpreter that imports
  the app itself), so that is the worker; a single-process server (waitress, uvicorn, daphne)
  imports it in its only process. In a gunicorn worker post_fork has already done it: the
  set-up is idempotent per pid, so nothing happens twice.
- A server that imports the app and then forks its workers (gunicorn --preload, uWSGI
  without lazy-apps) cannot be served correctly this way: its children cannot use the
  parent's exporters. They say so once and export nothing (telemetry.pipeline.setup).

Flushed at exit: the set-up registers an atexit hook, which runs when the process returns
normally (gunicorn's sync and gthread workers on SIGTERM, hypercorn's spawned workers,
daphne). But uvicorn, on its own or as gunicorn's worker class, ends a graceful shutdown by
raising the signal again with its default handler, which ends the process without atexit:
so asgi.py's application also answers the ASGI lifespan protocol and flushes at
`lifespan.shutdown`, which uvicorn and hypercorn send once the last request is answered.
Django's ASGI handler does not speak lifespan, so nothing else is lost. A WSGI server that
leaves SIGTERM at its default (waitress) gets a handler that flushes first, then dies of the
signal as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

from opentelemetry import trace

from telemetry.pipeline.setup import (
    configure_telemetry,
    configured_here,
    flush_then_die_on_sigterm,
    shutdown_telemetry,
)

logger = logging.getLogger(__name__)


def configure_for_server(role: str) -> bool:
    """Set up this process's telemetry from an entry module (wsgi.py, asgi.py), before it
    builds Django's handler; True if it did so now (False: already set up in this process,
    e.g. by gunicorn's post_fork, or OpenTelemetry set up by something else)."""
    if not configured_here() and not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    ):
        # Someone else set OpenTelemetry up in this process (opentelemetry-instrument, a
        # server hook of the deployment's own): two pipelines would instrument twice.
        logger.info(
            "OpenTelemetry was set up before %s was imported (by opentelemetry-instrument or "
            "a server hook): the service's own telemetry set-up stands aside",
            role,
        )
        return False
    built = configure_telemetry(role)
    if built and threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            flush_then_die_on_sigterm()
    return built


def with_telemetry_lifespan(application: Any) -> Any:
    """`application` (Django's ASGI handler) answering the ASGI lifespan protocol itself:
    startup is acknowledged, shutdown flushes this process's telemetry (at most 3 s, off the
    event loop) before it is acknowledged. Every other scope goes to `application`."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await application(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(shutdown_telemetry)
                await send({"type": "lifespan.shutdown.complete"})
                return

    return app
