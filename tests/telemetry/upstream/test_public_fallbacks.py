"""The private symbols used outside the fast paths each have a public way round, used when
the symbol is gone, so that an upgrade that moves one never stops a process: the sampler
named by OTEL_TRACES_SAMPLER, the metric export switch's temporality and aggregation, the
OTLP logging handler's filter, and the duration metric's attributes in request.META."""

from __future__ import annotations

import logging
import math

import pytest
from django.test import RequestFactory
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import Counter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import sampling

from telemetry.pipeline import instrumentation
from telemetry.sampling.export_switches import SwitchableMetricExporter
from telemetry.sampling.sampler import PolicySampler, sampler_from_env


@pytest.mark.parametrize(
    ("sampler", "argument"),
    [
        ("always_on", ""),
        ("always_off", ""),
        ("parentbased_always_on", ""),
        ("parentbased_always_off", ""),
        ("traceidratio", "0.25"),
        ("parentbased_traceidratio", "0.1"),
        ("TraceIdRatio", "not a number"),
        ("parentbased_traceidratio", "2"),
        ("no_such_sampler", ""),
        (None, None),
    ],
)
def test_the_sampler_from_the_environment_is_the_same_without_the_private_reader(
    monkeypatch, sampler, argument
):
    for name, value in (("OTEL_TRACES_SAMPLER", sampler), ("OTEL_TRACES_SAMPLER_ARG", argument)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with_private = sampler_from_env().get_description()

    monkeypatch.delattr(sampling, "_get_from_env_or_default")

    assert sampler_from_env().get_description() == with_private
    assert PolicySampler().get_description() == f"PolicySampler{{env={with_private}}}"


class _BareExporter(MetricExporter):
    """An exporter of a future SDK that keeps its preferences elsewhere."""

    def __init__(self) -> None:  # no super().__init__(): no _preferred_* attributes
        pass

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
        raise NotImplementedError

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def test_the_metric_export_switch_passes_the_preferences_on():
    exporter = ConsoleMetricExporter(preferred_temporality={Counter: AggregationTemporality.DELTA})
    switch = SwitchableMetricExporter(exporter)
    assert switch._preferred_temporality[Counter] is AggregationTemporality.DELTA


def test_the_metric_export_switch_takes_the_defaults_without_them():
    switch = SwitchableMetricExporter(_BareExporter())
    reader = PeriodicExportingMetricReader(switch, export_interval_millis=math.inf)
    try:
        temporalities = set(reader._instrument_class_temporality.values())
        assert temporalities == {AggregationTemporality.CUMULATIVE}
    finally:
        reader.shutdown()


def test_the_otlp_logging_handler_is_found_without_the_instrumentors_attribute():
    class InstrumentorWithoutIt:
        pass

    handler = LoggingHandler(logger_provider=LoggerProvider(shutdown_on_exit=False))
    root = logging.getLogger()
    others = [h for h in root.handlers if type(h).__module__.startswith("opentelemetry.")]
    for other in others:
        root.removeHandler(other)
    root.addHandler(handler)
    try:
        assert instrumentation._otlp_logging_handler(InstrumentorWithoutIt) is handler
    finally:
        root.removeHandler(handler)
        for other in others:
            root.addHandler(other)


def test_the_duration_attributes_key_is_optional(monkeypatch):
    assert instrumentation._duration_attrs_meta_key() == (
        _DjangoMiddleware._environ_duration_attr_key
    )
    monkeypatch.delattr(_DjangoMiddleware, "_environ_duration_attr_key")
    assert instrumentation._duration_attrs_meta_key() is None

    # Then the hooks still name the span, and leave the metric's route alone.
    monkeypatch.setattr(instrumentation, "DURATION_ATTRS_META_KEY", None)
    request = RequestFactory().get("/")
    instrumentation.keep_duration_attributes(None, request)  # type: ignore[arg-type]
    assert getattr(request, instrumentation._DURATION_ATTRS, None) is None
