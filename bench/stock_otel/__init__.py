"""The stock OpenTelemetry set-up, for bench/overhead.py's "stock" modes: the service set up
the way the OpenTelemetry documentation shows, instead of by telemetry.pipeline (none of its
fast paths, sampler, middleware or log bridge).

- sdk.py: the providers as the SDK's docs configure them: a TracerProvider with a
  BatchSpanProcessor(OTLPSpanExporter()), a MeterProvider with a
  PeriodicExportingMetricReader(OTLPMetricExporter()) ("Working With Fork Process Models",
  https://opentelemetry-python.readthedocs.io/en/latest/examples/fork-process-model/README.html,
  and its flask-gunicorn/gunicorn.conf.py), then each instrumentor's `instrument()` with no
  arguments, as its own docs show: DjangoInstrumentor (opentelemetry-instrumentation-django,
  "Usage") and CeleryInstrumentor (opentelemetry-instrumentation-celery, "Usage": in
  worker_process_init), plus the client libraries the service's own pipeline instruments
  (psycopg, sqlite3, httpx, redis), so that both set-ups trace the same operations.
  Everything else comes from the standard variables, as the SDK reads them itself: the
  collector (OTEL_EXPORTER_OTLP_ENDPOINT), the sampler (OTEL_TRACES_SAMPLER and _ARG),
  the batch and export intervals. Logs are not exported: neither page sets up the logs SDK.
- gunicorn.conf.py: the service's own gunicorn.conf.py with post_fork and worker_exit
  replaced (gunicorn -c bench/stock_otel/gunicorn.conf.py observability_site.wsgi).
- celery_app.py: the service's Celery app with telemetry.pipeline's worker hooks replaced
  by the documented worker_process_init one (celery -A bench.stock_otel.celery_app worker).
"""
