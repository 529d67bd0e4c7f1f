"""A web process started the way a gunicorn worker starts (telemetry first, as post_fork does,
then the WSGI application), serving a few requests on a real WSGI server, then flushing its
telemetry as at exit. Run by tests/telemetry/upstream/test_fast_paths_fall_back.py:

    python tests/telemetry/upstream/serve_one_request.py MODE REPORT_PATH

MODE fakes what an upgrade would change, before anything of telemetry runs:
- tested: nothing (the installed OpenTelemetry, which is the tested one);
- newer-sdk: the version lookup says opentelemetry-sdk 1.46.0 is installed;
- moved-symbol: a private helper the server-span middleware imports is gone from
  opentelemetry.instrumentation._semconv (importing telemetry.fastpath.server_span would fail).

REPORT_PATH receives what the process ran on, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

FAKED_SDK_VERSION = "1.46.0"
MOVED_SYMBOL = "_set_http_flavor_version"


def fake(mode: str) -> None:
    if mode == "newer-sdk":
        from telemetry.upstream import versions

        real = versions.installed_version

        def installed_version(distribution: str) -> str | None:
            return FAKED_SDK_VERSION if distribution == "opentelemetry-sdk" else real(distribution)

        versions.installed_version = installed_version
    elif mode == "moved-symbol":
        # The stock modules keep the name they imported (an upgrade would move it for them
        # too); only a module importing it afresh, as ours would, finds it gone.
        import opentelemetry.instrumentation.django.middleware.otel_middleware
        import opentelemetry.instrumentation.wsgi  # noqa: F401
        from opentelemetry.instrumentation import _semconv

        delattr(_semconv, MOVED_SYMBOL)
    elif mode != "tested":
        raise SystemExit(f"unknown mode {mode!r}")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main(mode: str, report_path: str) -> None:
    fake(mode)
    from telemetry.pipeline import providers
    from telemetry.pipeline.setup import configure_telemetry, shutdown_telemetry

    # The span and log exporters the start-up builds, as it builds them.
    built_span_exporters: list = []
    built_log_exporters: list = []

    def recording(build, built: list):
        def recording_exporter(signal):
            exporter = build(signal)
            built.append(exporter)
            return exporter

        return recording_exporter

    providers.span_exporter = recording(providers.span_exporter, built_span_exporters)
    providers.log_exporter = recording(providers.log_exporter, built_log_exporters)

    configure_telemetry("gunicorn worker")
    from observability_site.wsgi import application  # django.setup(): logging, apps

    server = make_server("127.0.0.1", 0, application, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    statuses = []
    try:
        for path in ("/", "/health"):
            url = f"http://127.0.0.1:{server.server_address[1]}{path}"
            with urllib.request.urlopen(url, timeout=30) as response:
                statuses.append(response.status)
    finally:
        server.shutdown()
        server.server_close()

    import logging

    from django.conf import settings
    from opentelemetry import metrics
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    histogram = _DjangoMiddleware._duration_histogram_new
    report = {
        "statuses": statuses,
        "middleware": list(settings.MIDDLEWARE),
        "span_exporters": [_class_path(exporter) for exporter in built_span_exporters],
        "log_exporters": [_class_path(exporter) for exporter in built_log_exporters],
        "meter_provider": _class_path(metrics.get_meter_provider()),
        "duration_histogram": _class_path(histogram),
        "fastpath_modules": sorted(m for m in sys.modules if m.startswith("telemetry.fastpath")),
        "drop_logger_level": logging.getLogger(
            "opentelemetry.sdk._shared_internal"
        ).getEffectiveLevel(),
    }
    shutdown_telemetry()  # what the exit hook does: spans and metrics flushed to the receiver
    Path(report_path).write_text(json.dumps(report))


def _class_path(instance: object) -> str:
    return f"{type(instance).__module__}.{type(instance).__qualname__}"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
