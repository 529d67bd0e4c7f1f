"""THE list of every private OpenTelemetry symbol our code uses: where it lives, which of our
modules uses it, why, what to re-check when its distribution is upgraded, and what runs when
it is gone. docs/upstream.md renders it for humans.

A test reads our source for private OpenTelemetry imports, attributes and dotted paths and
fails on any this list does not name (tests/telemetry/upstream/), so it cannot drift; another
resolves every entry in the installed packages. At start-up the fast paths are switched on
only if the versions are the tested ones and every entry they use resolves
(telemetry.upstream.compatibility, telemetry.pipeline.fast_paths); the other users of a
private symbol each have a public fallback of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

# How an entry is checked against the installed packages (telemetry.upstream.compatibility).
ATTRIBUTE = "attribute"  # the module imports and `name` resolves in it with getattr
INSTANCE = "instance"  # "Class.attr": an attribute Class's constructor sets on each instance
MODULE = "module"  # the module itself is private by name; it must import
CONSTANT = "constant"  # a literal of upstream code we repeat: among `name`'s constants

SERVER_SPAN = "telemetry/fastpath/server_span.py"
EXCLUDED_URLS = "telemetry/fastpath/excluded_urls.py"
SPAN_ENCODER = "telemetry/fastpath/span_encoder.py"
SPAN_EXPORTERS = "telemetry/fastpath/span_exporters.py"
LOG_ENCODER = "telemetry/fastpath/log_encoder.py"
LOG_EXPORTERS = "telemetry/fastpath/log_exporters.py"
OTLP_WIRE = "telemetry/fastpath/otlp_wire.py"
PLAIN_ATTRIBUTES = "telemetry/fastpath/plain_attributes.py"
DB_SPANS = "telemetry/fastpath/db_spans.py"
TALLIED_HISTOGRAM = "telemetry/fastpath/tallied_histogram.py"
INSTRUMENTATION = "telemetry/pipeline/instrumentation.py"
MIDDLEWARE = "telemetry/pipeline/middleware.py"
PROVIDERS = "telemetry/pipeline/providers.py"
EXPORTERS = "telemetry/pipeline/exporters.py"
SETUP = "telemetry/pipeline/setup.py"
FAST_PATHS = "telemetry/pipeline/fast_paths.py"
SAMPLER = "telemetry/sampling/sampler.py"
EXPORT_SWITCHES = "telemetry/sampling/export_switches.py"
STORE_ROWS = "telemetry/explorer/rows.py"
STORE_WRITER = "telemetry/explorer/writer.py"
SETTINGS = "observability_site/settings.py"
INBOUND_CONTEXT = "telemetry/pipeline/inbound_context.py"
OTLP_TLS = "telemetry/pipeline/otlp_tls.py"

# The fallbacks of the fast paths: with any of their symbols gone, the process runs on these.
STOCK_MIDDLEWARE = "fast paths off: DjangoInstrumentor's own middleware serves every request"
STOCK_EXPORTER = (
    "fast paths off: the SDK's OTLP span and log exporters (gRPC or HTTP) and their encoders"
)
SDK_HISTOGRAMS = "fast paths off: the SDK's MeterProvider and instruments, measured per request"


@dataclass(frozen=True)
class PrivateSymbol:
    """One private symbol of OpenTelemetry that our code relies on."""

    module: str  # where it lives: "opentelemetry.instrumentation._semconv"
    name: str  # in the module, dotted for a class's attribute; "" for a MODULE entry
    distribution: str  # the distribution that ships it
    used_by: tuple[str, ...]  # our files, relative to the repository
    why: str  # what we use it for, and why no public API does
    recheck: str  # what to compare when the distribution is upgraded
    fallback: str  # what runs when it does not resolve
    kind: str = ATTRIBUTE
    constant: str = ""  # CONSTANT: the literal
    # Where our replacement deliberately does not do what the upstream code does.
    differences: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        """The symbol's full dotted path: 'opentelemetry.x._y.Name.attr'."""
        return f"{self.module}.{self.name}" if self.name else self.module

    @property
    def fast_path(self) -> bool:
        """Whether a fast path uses it (then the fast paths need it to resolve)."""
        return any(path.startswith("telemetry/fastpath/") for path in self.used_by)


_DJANGO_MIDDLEWARE_MODULE = "opentelemetry.instrumentation.django.middleware.otel_middleware"
_SEMCONV = "opentelemetry.instrumentation._semconv"
_INSTRUMENTATION = "opentelemetry-instrumentation"
_INSTRUMENTATION_DJANGO = "opentelemetry-instrumentation-django"


def _django_middleware_attribute(name: str, why: str) -> PrivateSymbol:
    """A class attribute of _DjangoMiddleware that DjangoInstrumentor.instrument() sets (or
    the class defines) and the server-span middleware reads."""
    return PrivateSymbol(
        module=_DJANGO_MIDDLEWARE_MODULE,
        name=f"_DjangoMiddleware.{name}",
        distribution=_INSTRUMENTATION_DJANGO,
        used_by=(SERVER_SPAN,),
        why=why,
        recheck="DjangoInstrumentor._instrument() still sets it, and _DjangoMiddleware still "
        "uses it the way ServerSpanMiddleware.__call__ does",
        fallback=STOCK_MIDDLEWARE,
    )


def _semconv_helper(name: str, why: str) -> PrivateSymbol:
    return PrivateSymbol(
        module=_SEMCONV,
        name=name,
        distribution=_INSTRUMENTATION,
        used_by=(SERVER_SPAN,),
        why=why,
        recheck="the same helper is what opentelemetry.instrumentation.wsgi."
        "collect_request_attributes calls for the stable HTTP conventions",
        fallback=STOCK_MIDDLEWARE,
    )


_SERVER_SPAN_MIDDLEWARE = (
    PrivateSymbol(
        module=_DJANGO_MIDDLEWARE_MODULE,
        name="_DjangoMiddleware",
        distribution=_INSTRUMENTATION_DJANGO,
        used_by=(SERVER_SPAN, INSTRUMENTATION, MIDDLEWARE),
        why="ServerSpanMiddleware subclasses it to share the tracer, instruments, hooks and "
        "excluded URLs DjangoInstrumentor sets on it, and serves a WSGI request in one call "
        "instead of its four hooks (an ASGI request through its process_request and "
        "process_response, in one coroutine); telemetry.pipeline.middleware finds and "
        "replaces it in "
        "settings.MIDDLEWARE by its dotted path, the one DjangoInstrumentor inserts",
        recheck="process_request / process_view / process_exception / process_response: "
        "every span attribute, event, status and metric point they produce, against "
        "ServerSpanMiddleware (the side-by-side test, "
        "tests/telemetry/fastpath/test_server_span_side_by_side.py)",
        fallback=STOCK_MIDDLEWARE,
        differences=(
            "exception.stacktrace of a view's exception: the stock middleware throws the "
            "exception into opentelemetry.trace.use_span's context manager, which adds that "
            "frame on top of the exception's own traceback; ours records the traceback as the "
            "view raised it (one frame fewer, the same exception.type and exception.message)",
        ),
    ),
    PrivateSymbol(
        module=_DJANGO_MIDDLEWARE_MODULE,
        name="_is_asgi_request",
        distribution=_INSTRUMENTATION_DJANGO,
        used_by=(SERVER_SPAN,),
        why="ASGI requests go the instrumentation's way; this is how it tells them apart",
        recheck="still the test process_request uses",
        fallback=STOCK_MIDDLEWARE,
    ),
    PrivateSymbol(
        module=_DJANGO_MIDDLEWARE_MODULE,
        name="_DjangoMiddleware.process_request",
        distribution=_INSTRUMENTATION_DJANGO,
        used_by=(SERVER_SPAN,),
        why="a WSGI server may put the request's start time in request.META under this key; "
        "ServerSpanMiddleware starts the span at it as the instrumentation does",
        recheck="process_request still reads the start time from that key",
        fallback=STOCK_MIDDLEWARE,
        kind=CONSTANT,
        constant="opentelemetry-instrumentor-django.starttime_key",
    ),
    PrivateSymbol(
        module="opentelemetry.instrumentation.propagators",
        name="_HTTP_HEADER_ACCESS_CONTROL_EXPOSE_HEADERS",
        distribution=_INSTRUMENTATION,
        used_by=(SERVER_SPAN,),
        why="ServerSpanMiddleware writes the traceresponse header itself (without the "
        "propagator's lookups and setter calls), and with it the CORS header that "
        "TraceResponsePropagator.inject appends the header's name to",
        recheck="inject still writes these two headers, appending to existing values, with "
        "the value 00-<trace id>-<span id>-<flags> (tests/telemetry/pipeline/"
        "test_trace_response.py and the side-by-side test compare them)",
        fallback=STOCK_MIDDLEWARE,
    ),
    PrivateSymbol(
        module="opentelemetry.instrumentation.propagators",
        name="TraceResponsePropagator.inject",
        distribution=_INSTRUMENTATION,
        used_by=(SERVER_SPAN,),
        why="the name of the header inject writes, repeated by ServerSpanMiddleware",
        recheck="inject still names its header traceresponse",
        fallback=STOCK_MIDDLEWARE,
        kind=CONSTANT,
        constant="traceresponse",
    ),
    _django_middleware_attribute("_tracer", "the tracer DjangoInstrumentor made"),
    _django_middleware_attribute(
        "_sem_conv_opt_in_mode",
        "which HTTP conventions are on: ours serves only the stable ones itself",
    ),
    _django_middleware_attribute(
        "_excluded_urls", "OTEL_PYTHON_DJANGO_EXCLUDED_URLS, or the instrumentor's argument"
    ),
    _django_middleware_attribute(
        "_traced_request_attrs", "OTEL_PYTHON_DJANGO_TRACED_REQUEST_ATTRS, read by the class"
    ),
    _django_middleware_attribute(
        "_otel_request_hook", "the request hook telemetry.pipeline.instrumentation passes"
    ),
    _django_middleware_attribute(
        "_otel_response_hook", "the response hook telemetry.pipeline.instrumentation passes"
    ),
    _django_middleware_attribute(
        "_active_request_counter", "http.server.active_requests, from the instrumentor's meter"
    ),
    _django_middleware_attribute(
        "_duration_histogram_new", "http.server.request.duration, from the instrumentor's meter"
    ),
    _django_middleware_attribute(
        "_get_span_name",
        "the span name by Django's route, when a sampling rule by route must see it at start",
    ),
    _django_middleware_attribute(
        "_environ_exception_key",
        "where process_exception leaves the view's exception for the response",
    ),
    PrivateSymbol(
        module=_DJANGO_MIDDLEWARE_MODULE,
        name="_DjangoMiddleware._environ_duration_attr_key",
        distribution=_INSTRUMENTATION_DJANGO,
        used_by=(SERVER_SPAN, INSTRUMENTATION),
        why="where the middleware keeps the duration metric's attributes in request.META; "
        "the request hook keeps a reference so the response hook can add the route template "
        "(the instrumentation pops them before the response hook runs)",
        recheck="process_request still stores them there and process_response still records "
        "http.server.request.duration with that dict after calling the response hook",
        fallback="the server-span middleware: fast paths off (the stock middleware); the "
        "hooks: the duration metric keeps the http.route the instrumentation gives it "
        "(Django's raw route, 'api/users/<int:user_id>')",
    ),
    PrivateSymbol(
        module="opentelemetry.instrumentation.utils",
        name="_start_internal_or_server_span",
        distribution=_INSTRUMENTATION,
        used_by=(SERVER_SPAN,),
        why="starts the server span as every HTTP server instrumentation does (a server "
        "span continuing the propagated context, or an internal one inside a current span)",
        recheck="its arguments, and that process_request still calls it",
        fallback=STOCK_MIDDLEWARE,
    ),
    _semconv_helper("_StabilityMode", "the HTTP conventions mode the middleware compares"),
    _semconv_helper("_set_http_method", "http.request.method (and _original) on the span"),
    _semconv_helper("_set_http_scheme", "url.scheme on the span"),
    _semconv_helper("_set_http_flavor_version", "network.protocol.version on the span"),
    _semconv_helper("_set_http_target", "url.path and url.query on a recorded span"),
    _semconv_helper("_set_http_peer_ip_server", "client.address on a recorded span"),
    _semconv_helper("_set_http_peer_port_server", "client.port on a recorded span"),
    _semconv_helper(
        "_set_http_net_peer_name_server", "the peer's name on a recorded span (REMOTE_HOST)"
    ),
    _semconv_helper(
        "_server_duration_attrs_new", "which attributes go into http.server.request.duration"
    ),
    _semconv_helper(
        "_server_active_requests_count_attrs_new",
        "which attributes go into http.server.active_requests",
    ),
    *(
        PrivateSymbol(
            module="opentelemetry.util.http",
            name=f"ExcludeList.{name}",
            distribution="opentelemetry-util-http",
            used_by=(EXCLUDED_URLS,),
            why=f"{why}: url_disabled searches with re.search(pattern, url), which looks "
            "the compiled pattern up in re's cache on every call (750 ns against 130 ns for "
            "the pattern's own search, twice per request)",
            recheck="url_disabled is still `bool(self._excluded_urls and "
            "search(self._regex, url))`, the pattern compiled once in __init__",
            fallback="excluded_urls.url_check returns url_disabled itself when either is "
            f"gone; {STOCK_MIDDLEWARE}",
            kind=INSTANCE,
        )
        for name, why in (
            ("_excluded_urls", "whether the list is empty (then no URL is excluded)"),
            ("_regex", "the compiled pattern of every excluded URL, searched directly"),
        )
    ),
)

_SPAN_ENCODER = (
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.common._internal",
        name="_encode_attributes",
        distribution="opentelemetry-exporter-otlp-proto-common",
        used_by=(OTLP_WIRE,),
        why="an attribute value the encoder does not expect is encoded (or logged and "
        "dropped) by the official code, so the bytes stay the official ones",
        recheck="tests/telemetry/fastpath/test_span_encoding.py (byte equality with the "
        "official encoder, unusual values included)",
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.common._internal.trace_encoder",
        name="_encode_span",
        distribution="opentelemetry-exporter-otlp-proto-common",
        used_by=(SPAN_ENCODER,),
        why="a span that fails to encode is encoded by the official code instead",
        recheck="encode_spans still builds each Span message with it; the byte-equality test",
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.common._internal._log_encoder",
        name="_encode_log",
        distribution="opentelemetry-exporter-otlp-proto-common",
        used_by=(LOG_ENCODER,),
        why="a log record that fails to encode is encoded by the official code instead",
        recheck="encode_logs still builds each LogRecord message with it; "
        "tests/telemetry/fastpath/test_log_encoding.py (byte equality with the official "
        "encoder)",
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.common._internal",
        name="_encode_value",
        distribution="opentelemetry-exporter-otlp-proto-common",
        used_by=(LOG_ENCODER,),
        why="a log body of a type the encoder does not expect is encoded by the official code",
        recheck="_encode_log still encodes the body with it; the byte-equality test",
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.sdk.trace",
        name="Tracer._is_enabled",
        distribution="opentelemetry-sdk",
        used_by=(SERVER_SPAN,),
        why="the server-span middleware decides sampling before Tracer.start_span (for a "
        "dropped request it never calls it) and must first ask what start_span asks first: "
        "a tracer the TracerProvider's configurator disabled starts no span at all",
        recheck="Tracer.start_span: the steps before the sampler (_is_enabled, the root's "
        "trace id from id_generator, sampler.should_sample with the same arguments) and the "
        "SpanContext of a dropped span (trace flags with RANDOM_TRACE_ID, trace state from "
        "the sampling result), which _start_span repeats; Tracer.sampler and "
        "Tracer.id_generator are set by its constructor",
        fallback=STOCK_MIDDLEWARE,
    ),
    PrivateSymbol(
        module="opentelemetry.sdk.trace",
        name="ReadableSpan._attributes",
        distribution="opentelemetry-sdk",
        used_by=(SPAN_ENCODER, PLAIN_ATTRIBUTES),
        why="the span's BoundedAttributes itself: ReadableSpan.attributes wraps it in a "
        "MappingProxyType whose items() costs a Python call per attribute; the server-span "
        "middleware writes its own string and integer request attributes into it",
        recheck="ReadableSpan.attributes still returns a proxy of self._attributes, and "
        "_Span.set_attributes still only stores them there (BoundedAttributes._set_items)",
        fallback=f"{STOCK_EXPORTER}; {STOCK_MIDDLEWARE}",
        kind=INSTANCE,
    ),
    PrivateSymbol(
        module="opentelemetry.attributes",
        name="BoundedAttributes._dict",
        distribution="opentelemetry-api",
        used_by=(OTLP_WIRE, PLAIN_ATTRIBUTES),
        why="the plain dict inside BoundedAttributes, much cheaper to walk than the mapping, "
        "and to fill: a string or integer within the limits is stored by __setitem__ as is",
        recheck="BoundedAttributes still keeps its items, in order, in self._dict, and "
        "__setitem__ still stores a str (within max_value_len) or int unchanged, deleting a "
        "key before setting it again, with maxlen and max_value_len its public limits",
        fallback=f"{STOCK_EXPORTER}; {STOCK_MIDDLEWARE}",
        kind=INSTANCE,
    ),
)

_DBAPI = "opentelemetry.instrumentation.dbapi"
_INSTRUMENTATION_DBAPI = "opentelemetry-instrumentation-dbapi"
STOCK_DB_SPANS = (
    "fast paths off: CursorTracer.traced_execution as shipped (a span per statement, dropped "
    "traces included, the name parsed and the attributes checked per statement)"
)
_KEPT_DB_SPAN_RECHECK = (
    "CursorTracer.traced_execution and _populate_span: the span's name, kind and attributes "
    "(system, name, statement, then the integration's span_attributes), when the commenter "
    "and capture_parameters change them, and start_as_current_span's exception handling, "
    "which _kept_execution repeats (tests/telemetry/fastpath/test_db_spans.py compares)"
)


def _db_spans_symbol(module: str, name: str, why: str, kind: str = ATTRIBUTE) -> PrivateSymbol:
    distribution = _INSTRUMENTATION if module == _SEMCONV else _INSTRUMENTATION_DBAPI
    return PrivateSymbol(
        module=module,
        name=name,
        distribution=distribution,
        used_by=(DB_SPANS,),
        why=why,
        recheck=_KEPT_DB_SPAN_RECHECK,
        fallback=STOCK_DB_SPANS,
        kind=kind,
    )


_DB_SPANS = (
    _db_spans_symbol(
        _DBAPI,
        "CursorTracer._db_api_integration",
        "the connection's DatabaseApiIntegration, whose database, system and span attributes "
        "describe a kept statement's span (a cursor tracer has no public way to them)",
        INSTANCE,
    ),
    _db_spans_symbol(
        _DBAPI,
        "CursorTracer._commenter_enabled",
        "with the SQL commenter on, the statement and its attribute change per call: the "
        "stock method serves those",
        INSTANCE,
    ),
    _db_spans_symbol(
        _DBAPI,
        "DatabaseApiIntegration._tracer",
        "the tracer the instrumentation starts its spans with",
        INSTANCE,
    ),
    _db_spans_symbol(
        _DBAPI,
        "DatabaseApiIntegration._sem_conv_opt_in_mode_db",
        "the database conventions the attributes are named by (old, stable, both)",
        INSTANCE,
    ),
    *(
        _db_spans_symbol(
            _SEMCONV,
            helper,
            "the helper _populate_span writes the attribute with, in each convention",
        )
        for helper in ("_set_db_system", "_set_db_name", "_set_db_statement")
    ),
)

_COPIED_EXPORT = (
    "the official OTLP/HTTP exporters' export() (OTLPSpanExporter, OTLPLogExporter): ours are "
    "copies with their encoding line changed (tests/telemetry/fastpath/test_http_export_copies.py "
    "holds them equal statement by statement)"
)


def _http_exporter_attribute(name: str, why: str) -> tuple[PrivateSymbol, ...]:
    """The attribute on both official OTLP/HTTP exporters whose export() we copy."""
    return tuple(
        PrivateSymbol(
            module=f"opentelemetry.exporter.otlp.proto.http.{module}",
            name=f"{cls}.{name}",
            distribution="opentelemetry-exporter-otlp-proto-http",
            used_by=(ours,),
            why=f"{why}, in the copied export()",
            recheck=_COPIED_EXPORT,
            fallback=STOCK_EXPORTER,
            kind=INSTANCE,
        )
        for module, cls, ours in (
            ("trace_exporter", "OTLPSpanExporter", SPAN_EXPORTERS),
            ("_log_exporter", "OTLPLogExporter", LOG_EXPORTERS),
        )
    )


def _translate_data(module: str, cls: str, ours: str) -> PrivateSymbol:
    return PrivateSymbol(
        module=f"opentelemetry.exporter.otlp.proto.grpc.{module}",
        name=f"{cls}._translate_data",
        distribution="opentelemetry-exporter-otlp-proto-grpc",
        used_by=(ours,),
        why="our gRPC exporter overrides it to build the request with the faster encoder",
        recheck="OTLPExporterMixin._export still calls self._translate_data(data) for the "
        "request it sends",
        fallback=STOCK_EXPORTER,
    )


_OTLP_EXPORTERS = (
    _translate_data("trace_exporter", "OTLPSpanExporter", SPAN_EXPORTERS),
    _translate_data("_log_exporter", "OTLPLogExporter", LOG_EXPORTERS),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.http._common",
        name="_is_request_too_large",
        distribution="opentelemetry-exporter-otlp-proto-http",
        used_by=(SPAN_EXPORTERS, LOG_EXPORTERS),
        why="the size check of the copied export()",
        recheck=_COPIED_EXPORT,
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.http._common",
        name="RequestPayloadTooLargeError",
        distribution="opentelemetry-exporter-otlp-proto-http",
        used_by=(SPAN_EXPORTERS, LOG_EXPORTERS),
        why="the error the copied export() reports for a batch over max_request_size",
        recheck=_COPIED_EXPORT,
        fallback=STOCK_EXPORTER,
    ),
    *_http_exporter_attribute("_shutdown", "whether the exporter was shut down"),
    *_http_exporter_attribute("_max_request_size", "the size limit of one request"),
    *_http_exporter_attribute("_client", "the HTTP client that sends the bytes"),
    *_http_exporter_attribute("_metrics", "the exporter's self-metrics (otel.sdk.exporter.*)"),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.common.http",
        name="_OTLPHTTPClient.export",
        distribution="opentelemetry-exporter-otlp-common",
        used_by=(SPAN_EXPORTERS, LOG_EXPORTERS),
        why="what the copied export() calls on self._client with the encoded bytes",
        recheck=_COPIED_EXPORT,
        fallback=STOCK_EXPORTER,
    ),
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.common._exporter_metrics",
        name="ExporterMetrics.export_operation",
        distribution="opentelemetry-exporter-otlp-common",
        used_by=(SPAN_EXPORTERS, LOG_EXPORTERS),
        why="what the copied export() times each batch with, on self._metrics",
        recheck=_COPIED_EXPORT,
        fallback=STOCK_EXPORTER,
    ),
)

_TALLY_RECHECK = (
    "MeterProvider.__init__ and add_metric_reader still hand each reader "
    "self._measurement_consumer.collect through reader._set_collect_callback, the reader "
    "still keeps its histogram temporality in _instrument_class_temporality[_Histogram], and "
    "tests/telemetry/fastpath/test_tallied_histogram.py (every reader sees what an SDK "
    "histogram fed the same values gives) passes"
)


def _tally_symbol(module: str, name: str, why: str, kind: str = ATTRIBUTE) -> PrivateSymbol:
    return PrivateSymbol(
        module=module,
        name=name,
        distribution="opentelemetry-sdk",
        used_by=(TALLIED_HISTOGRAM,),
        why=why,
        recheck=_TALLY_RECHECK,
        fallback=SDK_HISTOGRAMS,
        kind=kind,
    )


_TALLIED_HISTOGRAM = (
    _tally_symbol(
        "opentelemetry.sdk.metrics._internal.instrument",
        "_Histogram",
        "the key of the reader's temporality table for histograms",
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics.export",
        "MetricReader._instrument_class_temporality",
        "each reader's temporality for histograms (cumulative or delta), kept only there",
        INSTANCE,
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics.export",
        "MetricReader._set_collect_callback",
        "how a reader collects: TallyReportingMeterProvider gives it a callback that adds "
        "the tallied histograms to what the SDK collected (the Python SDK has no "
        "MetricProducer)",
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics",
        "MeterProvider._measurement_consumer",
        "its collect() is the callback the SDK would have given the reader",
        INSTANCE,
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics._internal.measurement_consumer",
        "SynchronousMeasurementConsumer.collect",
        "what the provider's callback calls first: the SDK's own collection",
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics",
        "MeterProvider._sdk_config",
        "the provider's resource (updated after a fork), for a collection with no SDK metric",
        INSTANCE,
    ),
    _tally_symbol(
        "opentelemetry.sdk.metrics._internal.sdk_configuration",
        "SdkConfiguration.resource",
        "the resource field of the provider's configuration",
    ),
)

_LOGS_RECHECK = (
    "the logs signal's modules are still underscore-named in the Python SDK (in development); "
    "when they become public (opentelemetry.sdk.logs ...), import from there"
)
_LOGS_FALLBACK = (
    "none: the logs signal has no other import path; a move fails the import at start-up "
    "and in every test"
)


def _logs_symbol(module: str, name: str, distribution: str, *used_by: str) -> PrivateSymbol:
    return PrivateSymbol(
        module=module,
        name=name,
        distribution=distribution,
        used_by=used_by,
        why="the logs signal (LoggerProvider, its processors and exporters) is only "
        "importable from underscore-named modules",
        recheck=_LOGS_RECHECK,
        fallback=_LOGS_FALLBACK,
    )


_LOGS = (
    _logs_symbol("opentelemetry._logs", "set_logger_provider", "opentelemetry-api", PROVIDERS),
    _logs_symbol(
        "opentelemetry.sdk._logs", "LoggerProvider", "opentelemetry-sdk", PROVIDERS, SETUP
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs", "LogRecordProcessor", "opentelemetry-sdk", PROVIDERS, SETUP
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs.export", "BatchLogRecordProcessor", "opentelemetry-sdk", PROVIDERS
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs.export",
        "LogRecordExporter",
        "opentelemetry-sdk",
        PROVIDERS,
        EXPORT_SWITCHES,
        STORE_WRITER,
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs.export",
        "LogRecordExportResult",
        "opentelemetry-sdk",
        EXPORT_SWITCHES,
        PROVIDERS,
        STORE_WRITER,
        LOG_EXPORTERS,
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs",
        "ReadableLogRecord",
        "opentelemetry-sdk",
        STORE_ROWS,
        STORE_WRITER,
        LOG_ENCODER,
        LOG_EXPORTERS,
    ),
    _logs_symbol(
        "opentelemetry.sdk._logs.export", "ConsoleLogRecordExporter", "opentelemetry-sdk", EXPORTERS
    ),
    _logs_symbol(
        "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
        "OTLPLogExporter",
        "opentelemetry-exporter-otlp-proto-grpc",
        EXPORTERS,
        LOG_EXPORTERS,
    ),
    _logs_symbol(
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "OTLPLogExporter",
        "opentelemetry-exporter-otlp-proto-http",
        EXPORTERS,
        LOG_EXPORTERS,
    ),
)

_OUTSIDE_THE_FAST_PATHS = (
    PrivateSymbol(
        module="opentelemetry.sdk.trace.sampling",
        name="_get_from_env_or_default",
        distribution="opentelemetry-sdk",
        used_by=(SAMPLER,),
        why="the sampler OTEL_TRACES_SAMPLER / _ARG name, exactly as TracerProvider picks it, "
        "for PolicySampler to use while no policy row exists",
        recheck="TracerProvider.__init__ still defaults its sampler to it, and it knows no "
        "sampler name the fallback does not",
        fallback="the same choice made from the public samplers (ALWAYS_ON, DEFAULT_ON, "
        "TraceIdRatioBased ...) by telemetry.sampling.sampler._sampler_named_by_env",
    ),
    PrivateSymbol(
        module="opentelemetry.sdk.metrics.export",
        name="MetricExporter._preferred_temporality",
        distribution="opentelemetry-sdk",
        used_by=(EXPORT_SWITCHES,),
        why="SwitchableMetricExporter passes the wrapped exporter's temporality on: "
        "PeriodicExportingMetricReader reads it from the exporter it is given",
        recheck="PeriodicExportingMetricReader.__init__ still reads "
        "exporter._preferred_temporality",
        fallback="the reader's default temporality (cumulative): a preference set with "
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE would be lost",
        kind=INSTANCE,
    ),
    PrivateSymbol(
        module="opentelemetry.sdk.metrics.export",
        name="MetricExporter._preferred_aggregation",
        distribution="opentelemetry-sdk",
        used_by=(EXPORT_SWITCHES,),
        why="the same for the wrapped exporter's aggregation per instrument kind",
        recheck="PeriodicExportingMetricReader.__init__ still reads "
        "exporter._preferred_aggregation",
        fallback="the reader's default aggregation: a preference for exponential histograms "
        "(OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION) would be lost",
        kind=INSTANCE,
    ),
    PrivateSymbol(
        module="opentelemetry.propagators.composite",
        name="CompositePropagator._propagators",
        distribution="opentelemetry-api",
        used_by=(INBOUND_CONTEXT,),
        why="the propagators OTEL_PROPAGATORS composed: when they are the W3C ones, a carrier "
        "without traceparent and baggage has nothing to extract, and the inbound filter "
        "answers without running them (no public API lists a composite's members)",
        recheck="CompositePropagator.__init__ still keeps its members there, and "
        "TraceContextTextMapPropagator and W3CBaggagePropagator still return the given "
        "context when their first header is missing or empty",
        fallback="every extraction runs the propagators and the filter",
        kind=INSTANCE,
    ),
    PrivateSymbol(
        module="opentelemetry.instrumentation.logging",
        name="LoggingInstrumentor._logging_handler",
        distribution="opentelemetry-instrumentation-logging",
        used_by=(INSTRUMENTATION,),
        why="the OTLP logging handler the instrumentor added to the root logger, to keep the "
        "SDK's own records (exporter failures) out of the failing pipeline",
        recheck="instrument() still stores its handler there",
        fallback="the handler is found among the root logger's handlers by its class's module "
        "(opentelemetry.*)",
    ),
    PrivateSymbol(
        module="opentelemetry.sdk._shared_internal",
        name="",
        distribution="opentelemetry-sdk",
        used_by=(SETTINGS, FAST_PATHS),
        why="the logger of the batch processors' 'Queue full, dropping' line, silenced by "
        "settings.LOGGING because telemetry.fastpath.tallied_metrics reports the drops once "
        "per 20 s itself; with the fast paths off it is let through again",
        recheck="BatchProcessor still lives there and logs the drops on that logger",
        fallback="a moved logger is simply not silenced: the SDK's own (rate-limited) line",
        kind=MODULE,
    ),
)

_OTLP_TLS = (
    PrivateSymbol(
        module="opentelemetry.exporter.otlp.proto.http._log_exporter",
        name="",
        distribution="opentelemetry-exporter-otlp-proto-http",
        used_by=(OTLP_TLS,),
        why="the logger of the OTLP/HTTP log exporter (its module's name): the once-only "
        "report of a refused TLS handshake filters that exporter's failure lines there, as it "
        "does the trace and metric exporters' (public module names)",
        recheck="the log exporter still logs its export failures on its module's logger",
        fallback="a moved logger is simply not filtered: the log exporter's own failure line "
        "per batch, besides the one report",
        kind=MODULE,
    ),
)

PRIVATE_SYMBOLS: tuple[PrivateSymbol, ...] = (
    *_SERVER_SPAN_MIDDLEWARE,
    *_DB_SPANS,
    *_SPAN_ENCODER,
    *_OTLP_EXPORTERS,
    *_TALLIED_HISTOGRAM,
    *_OUTSIDE_THE_FAST_PATHS,
    *_LOGS,
    *_OTLP_TLS,
)
