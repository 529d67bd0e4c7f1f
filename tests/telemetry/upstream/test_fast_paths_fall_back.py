"""A process whose installed OpenTelemetry is not the tested one (a newer SDK, or a private
symbol gone) says so in one line and serves on the stock components: the instrumentation's
middleware, the SDK's OTLP span and log exporters and its histograms, with telemetry.fastpath
never imported; its requests still leave a server span, an http.server.request.duration
point and log records at the collector. The child process starts as a gunicorn worker does
(tests/telemetry/upstream/serve_one_request.py) and exports to a real OTLP/HTTP receiver."""

from __future__ import annotations

import logging

from telemetry.pipeline import middleware
from tests.telemetry.upstream.conftest import attributes_of
from tests.telemetry.upstream.serve_one_request import FAKED_SDK_VERSION, MOVED_SYMBOL

STOCK_EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter"
STOCK_LOG_EXPORTER = "opentelemetry.exporter.otlp.proto.http._log_exporter.OTLPLogExporter"
SDK_METER_PROVIDER = "opentelemetry.sdk.metrics._internal.MeterProvider"
SDK_HISTOGRAM = "opentelemetry.sdk.metrics._internal.instrument._Histogram"


def fast_path_lines(run) -> list[dict]:
    return [r for r in run.log_messages() if "fast paths" in r.get("message", "")]


def assert_served_on_the_stock_components(run, otlp_receiver) -> None:
    report = run.report
    assert report["statuses"] == [200, 200]
    chain = report["middleware"]
    assert middleware.SERVER_SPAN not in chain
    assert chain.count(middleware.STOCK_SERVER_SPAN) == 1
    position = chain.index(middleware.STOCK_SERVER_SPAN)
    assert chain[position - 1 : position + 2] == [
        middleware.FORCED_SAMPLING,
        middleware.STOCK_SERVER_SPAN,
        middleware.UNTRACED_PROBES,
    ]
    assert report["span_exporters"] == [STOCK_EXPORTER]
    assert report["log_exporters"] == [STOCK_LOG_EXPORTER]
    assert otlp_receiver.bodies.get("/v1/logs"), "the stock log exporter sent nothing"
    assert report["meter_provider"] == SDK_METER_PROVIDER
    assert report["duration_histogram"] == SDK_HISTOGRAM
    assert report["fastpath_modules"] == []
    # The SDK's own (rate-limited) report of dropped spans is let through again.
    assert report["drop_logger_level"] == logging.WARNING
    # What the stock components sent: the server span of GET / (none for the probe), and
    # its duration point, by route template.
    spans = otlp_receiver.server_spans()
    assert [span.name for span in spans] == ["GET /"]
    assert attributes_of(spans[0])["http.route"] == "/"
    points = [
        point
        for point in otlp_receiver.histogram_points("http.server.request.duration")
        if attributes_of(point).get("http.route") == "/"
    ]
    # Cumulative, and exported twice at exit (the flush, then the shutdown): one request.
    assert points and {point.count for point in points} == {1}
    assert attributes_of(points[0])["http.response.status_code"] == 200


def test_it_falls_back_to_the_stock_components_on_another_sdk_version(
    serve_in_child, otlp_receiver
):
    run = serve_in_child("newer-sdk")

    assert run.returncode == 0, run.output
    (line,) = fast_path_lines(run)
    assert line["level"] == "WARNING"
    assert line["message"] == (
        f"telemetry fast paths off: opentelemetry-sdk {FAKED_SDK_VERSION} installed, tested "
        "with 1.45.1; using the stock server-span middleware, span and log exporters and SDK "
        "histograms"
    )
    assert_served_on_the_stock_components(run, otlp_receiver)


def test_it_falls_back_to_the_stock_components_when_a_private_symbol_moved(
    serve_in_child, otlp_receiver
):
    run = serve_in_child("moved-symbol")

    assert run.returncode == 0, run.output
    (line,) = fast_path_lines(run)
    assert line["level"] == "WARNING"
    assert line["message"].startswith(
        f"telemetry fast paths off: opentelemetry.instrumentation._semconv.{MOVED_SYMBOL} "
        "not found; using the stock"
    )
    assert_served_on_the_stock_components(run, otlp_receiver)


def test_it_runs_the_fast_paths_on_the_tested_versions(serve_in_child, otlp_receiver):
    """The same child, on the installed (tested) OpenTelemetry: the fast paths, silently."""
    run = serve_in_child("tested")

    assert run.returncode == 0, run.output
    assert fast_path_lines(run) == []
    report = run.report
    assert middleware.SERVER_SPAN in report["middleware"]
    assert middleware.STOCK_SERVER_SPAN not in report["middleware"]
    assert report["span_exporters"] == ["telemetry.fastpath.span_exporters.HttpSpanExporter"]
    assert report["log_exporters"] == ["telemetry.fastpath.log_exporters.HttpLogExporter"]
    assert otlp_receiver.bodies.get("/v1/logs"), "the fast log exporter sent nothing"
    assert report["duration_histogram"] == "telemetry.fastpath.tallied_histogram.TalliedHistogram"
    assert report["drop_logger_level"] == logging.ERROR  # settings.LOGGING; tallied_metrics reports
    assert [span.name for span in otlp_receiver.server_spans()] == ["GET /"]


def test_it_says_so_once_per_process(monkeypatch, caplog):
    from telemetry.pipeline import fast_paths

    decision = fast_paths.FastPathDecision(False, "opentelemetry-api 1.46.0 installed")
    monkeypatch.setattr(fast_paths, "_decision", decision)
    monkeypatch.setattr(fast_paths, "_announced_in", None)
    drop_logger = logging.getLogger(fast_paths.SDK_DROP_LOGGER)
    level = drop_logger.level
    try:
        with caplog.at_level(logging.INFO, logger=fast_paths.__name__):
            fast_paths.announce_stock_components()
            fast_paths.announce_stock_components()
        effective = drop_logger.getEffectiveLevel()
    finally:
        drop_logger.setLevel(level)

    lines = [r for r in caplog.records if r.name == fast_paths.__name__]
    assert [(r.levelno, r.getMessage()) for r in lines] == [(logging.WARNING, decision.describe())]
    assert effective == logging.WARNING
