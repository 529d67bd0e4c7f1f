"""The sampler's decisions, through the real SDK: ratios hold statistically, 0 keeps none
and 1 keeps all, the first matching rule wins, a trace is kept or dropped as a whole across
an HTTP or Celery hop, forced requests are kept, and OTEL_TRACES_SAMPLER applies with no
policy row. Kept spans say which rule kept them."""

from __future__ import annotations

import pytest
from opentelemetry import context, propagate
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind

from telemetry.sampling.policy import ENV_POLICY, FORCED_BY_HEADER
from telemetry.sampling.sampler import PolicySampler, forced_reason, sampler_from_env
from tests.telemetry.sampling.support import memory_tracer, snapshot

USERS_ROUTE = "GET api/users/<int:user_id>"  # the name the Django instrumentation starts with
JOBS_ROUTE = "POST api/jobs"
ROOT_SPANS = 5000


def kept_fraction(tracer, exporter, name: str, kind=SpanKind.SERVER, count=ROOT_SPANS) -> float:
    exporter.clear()
    for _ in range(count):
        tracer.start_span(name, kind=kind).end()
    return len(exporter.get_finished_spans()) / count


def test_a_ten_percent_rule_keeps_between_8_and_12_percent_of_5000_root_spans():
    tracer, exporter = memory_tracer(snapshot(1.0, ("http", r"^GET /api/users/\{user_id\}$", 0.1)))

    fraction = kept_fraction(tracer, exporter, USERS_ROUTE)

    assert 0.08 <= fraction <= 0.12, fraction
    rules = {s.attributes["sampling.rule"] for s in exporter.get_finished_spans()}
    assert rules == {"rule 1"}


def test_a_ten_percent_task_rule_holds_too():
    tracer, exporter = memory_tracer(snapshot(0.0, ("task", r"^processing\.process_job$", 0.1)))

    fraction = kept_fraction(tracer, exporter, "run/processing.process_job", SpanKind.CONSUMER)

    assert 0.08 <= fraction <= 0.12, fraction


def test_ratio_zero_keeps_none_and_one_keeps_all():
    tracer, exporter = memory_tracer(snapshot(0.0))
    assert kept_fraction(tracer, exporter, USERS_ROUTE, count=2000) == 0.0
    tracer, exporter = memory_tracer(snapshot(1.0))
    assert kept_fraction(tracer, exporter, USERS_ROUTE, count=2000) == 1.0
    tracer, exporter = memory_tracer(snapshot(0.5, ("http", "^GET ", 0.0), ("http", "^POST ", 1.0)))
    assert kept_fraction(tracer, exporter, USERS_ROUTE, count=2000) == 0.0
    assert kept_fraction(tracer, exporter, JOBS_ROUTE, count=2000) == 1.0


def test_the_first_matching_rule_decides_and_others_take_the_default():
    tracer, exporter = memory_tracer(
        snapshot(
            0.0,
            ("http", r"^GET /api/users/", 1.0),
            ("http", r"^GET ", 0.0),  # would drop it, but comes second
            ("task", r"process_job", 1.0),
        )
    )

    tracer.start_span(USERS_ROUTE, kind=SpanKind.SERVER).end()
    tracer.start_span("GET api/health", kind=SpanKind.SERVER).end()  # rule 2: dropped
    tracer.start_span("apply_async/processing.process_job", kind=SpanKind.PRODUCER).end()
    tracer.start_span("run/processing.complete_job", kind=SpanKind.CONSUMER).end()  # default
    tracer.start_span("SELECT", kind=SpanKind.CLIENT).end()  # not a route nor a task: default

    kept = {s.name: s.attributes["sampling.rule"] for s in exporter.get_finished_spans()}
    assert kept == {USERS_ROUTE: "rule 1", "apply_async/processing.process_job": "rule 3"}


def test_a_trace_is_kept_or_dropped_as_a_whole_across_a_celery_hop():
    """The web process decides; the worker continues from the message headers."""
    tracer, exporter = memory_tracer(snapshot(0.5))
    roots = []
    for _ in range(1000):
        with tracer.start_as_current_span(JOBS_ROUTE, kind=SpanKind.SERVER) as request_span:
            roots.append(request_span.get_span_context())
            headers: dict[str, str] = {}
            with tracer.start_as_current_span("apply_async/processing.process_job"):
                propagate.inject(headers)
        # The worker: another process would extract the same headers.
        token = context.attach(propagate.extract(headers))
        try:
            tracer.start_span("run/processing.process_job", kind=SpanKind.CONSUMER).end()
        finally:
            context.detach(token)

    spans = exporter.get_finished_spans()
    kept_traces = {s.context.trace_id for s in spans if s.name == JOBS_ROUTE}
    worker_traces = {s.context.trace_id for s in spans if s.name.startswith("run/")}
    sampled_roots = {r.trace_id for r in roots if r.trace_flags.sampled}
    assert 300 < len(kept_traces) < 700
    assert kept_traces == sampled_roots == worker_traces
    consumer = next(s for s in spans if s.name.startswith("run/"))
    assert consumer.attributes["sampling.rule"] == "parent"
    producer = next(s for s in spans if s.name.startswith("apply_async/"))
    assert "sampling.rule" not in producer.attributes  # a local child: its root says why


def test_an_incoming_traceparent_decides_whatever_the_policy():
    tracer, exporter = memory_tracer(snapshot(0.0))
    kept = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    dropped = "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    for header in (kept, dropped):
        tracer.start_span(
            USERS_ROUTE, kind=SpanKind.SERVER, context=propagate.extract({"traceparent": header})
        ).end()
    (span,) = exporter.get_finished_spans()
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.attributes["sampling.rule"] == "parent"


def test_a_forced_request_starts_a_kept_trace():
    tracer, exporter = memory_tracer(
        snapshot(0.0, force_header_key="HTTP_X_FORCE_TRACE", forcing=True)
    )
    token = forced_reason.set(FORCED_BY_HEADER)
    try:
        tracer.start_span(USERS_ROUTE, kind=SpanKind.SERVER).end()
    finally:
        forced_reason.reset(token)
    tracer.start_span(USERS_ROUTE, kind=SpanKind.SERVER).end()

    (span,) = exporter.get_finished_spans()
    assert span.attributes["sampling.rule"] == "forced: header"


def test_with_no_policy_row_otel_traces_sampler_decides(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    tracer, exporter = memory_tracer(ENV_POLICY)  # the sampler reads them when it is built
    fraction = kept_fraction(tracer, exporter, USERS_ROUTE, count=4000)

    assert 0.21 <= fraction <= 0.29, fraction
    span = exporter.get_finished_spans()[0]
    assert span.attributes["sampling.rule"] == "OTEL_TRACES_SAMPLER"


@pytest.mark.parametrize(
    ("sampler", "argument"),
    [
        ("parentbased_traceidratio", "0.25"),
        ("parentbased_traceidratio", "0.01"),
        ("parentbased_traceidratio", "not a number"),
        ("parentbased_always_on", ""),
        ("PARENTBASED_ALWAYS_OFF", ""),
        ("traceidratio", "0.5"),
    ],
)
def test_a_root_decided_from_otel_traces_sampler_is_the_sdk_samplers_decision(
    monkeypatch, sampler, argument
):
    """PolicySampler decides a root span by OTEL_TRACES_SAMPLER without calling the SDK's
    sampler (a bound on the trace id): on the same trace ids it keeps exactly those the SDK's
    own sampler keeps, with or without the shortcut."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", argument)
    ours = PolicySampler(policy=lambda: ENV_POLICY)
    sdk = sampler_from_env()
    ids = RandomIdGenerator()
    disagreements = []
    kept = 0
    for _ in range(3000):
        trace_id = ids.generate_trace_id()
        decided = ours.should_sample(None, trace_id, "GET /", SpanKind.SERVER)
        expected = sdk.should_sample(None, trace_id, "GET /", SpanKind.SERVER)
        kept += decided.decision.is_sampled()
        if decided.decision != expected.decision or decided.trace_state != expected.trace_state:
            disagreements.append(trace_id)
    assert disagreements == []
    if argument == "0.25":  # the bound is the ratio's, not always-on
        assert 600 <= kept <= 900, kept


# The SDK gives a recording span the attributes of the sampler's result, not those it was
# started with (Tracer.start_span: `attributes=sampling_result.attributes`): a sampler hands
# them back, as the SDK's own samplers do. The httpx instrumentation, for one, passes all of
# a client span's attributes at its start.
START_ATTRIBUTES = {"http.request.method": "GET", "server.port": 8000}
REMOTE_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def started_with_attributes(tracer, exporter, *, parent: str | None, local_child: bool, kind):
    exporter.clear()
    carrier = {"traceparent": parent} if parent else {}
    token = context.attach(propagate.extract(carrier))
    try:
        if local_child:
            with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
                tracer.start_span("child", kind=kind, attributes=START_ATTRIBUTES).end()
        else:
            tracer.start_span("GET /", kind=kind, attributes=START_ATTRIBUTES).end()
    finally:
        context.detach(token)
    return next(s for s in exporter.get_finished_spans() if s.name in ("child", "GET /"))


@pytest.mark.parametrize("policy", ["row", "env", "env, traceidratio", "forced"])
@pytest.mark.parametrize(
    ("parent", "local_child"),
    [(None, False), (REMOTE_PARENT, False), (None, True)],
    ids=["root", "remote parent", "local parent"],
)
@pytest.mark.parametrize("kind", [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.CONSUMER])
def test_a_kept_span_keeps_the_attributes_it_started_with(
    monkeypatch, policy, parent, local_child, kind
):
    sampler = "traceidratio" if "traceidratio" in policy else "parentbased_always_on"
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "1.0")
    forcing = policy == "forced"
    chosen = ENV_POLICY if "env" in policy else snapshot(1.0, forcing=forcing)
    tracer, exporter = memory_tracer(chosen)
    token = forced_reason.set(FORCED_BY_HEADER) if forcing else None
    try:
        span = started_with_attributes(
            tracer, exporter, parent=parent, local_child=local_child, kind=kind
        )
    finally:
        if token is not None:
            forced_reason.reset(token)

    assert {k: span.attributes.get(k) for k in START_ATTRIBUTES} == START_ATTRIBUTES
    if parent is None and not local_child:  # a root says which rule kept it, as before
        assert "sampling.rule" in span.attributes
