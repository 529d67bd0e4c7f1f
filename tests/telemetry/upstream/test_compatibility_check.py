"""The start-up check sees what an upgrade changes: another version of a tested
distribution, or a listed symbol that moved, of every kind the list has (a module attribute,
a class attribute, an attribute the constructor sets, a private module, a literal of
upstream code), and says what differs in one line."""

from __future__ import annotations

import dataclasses

import pytest

from telemetry.upstream import compatibility, versions
from telemetry.upstream.compatibility import check_compatibility, resolves
from telemetry.upstream.private_api import (
    ATTRIBUTE,
    CONSTANT,
    INSTANCE,
    MODULE,
    PRIVATE_SYMBOLS,
    PrivateSymbol,
)


def listed(dotted: str) -> PrivateSymbol:
    (symbol,) = [s for s in PRIVATE_SYMBOLS if s.dotted == dotted]
    return symbol


MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware"
KINDS = {
    ATTRIBUTE: f"{MIDDLEWARE}._DjangoMiddleware._otel_request_hook",
    INSTANCE: "opentelemetry.attributes.BoundedAttributes._dict",
    MODULE: "opentelemetry.sdk._shared_internal",
    CONSTANT: f"{MIDDLEWARE}._DjangoMiddleware.process_request",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_it_resolves_a_listed_symbol_of_each_kind(kind):
    symbol = listed(KINDS[kind])
    assert symbol.kind == kind
    assert resolves(symbol)


@pytest.mark.parametrize(
    "moved",
    [
        {"name": "_DjangoMiddleware._otel_request_hook_v2"},  # a class attribute renamed
        {"name": "_NoSuchFunction"},  # a module attribute gone
        {"module": "opentelemetry.instrumentation._semconv_v2"},  # the module moved
    ],
)
def test_it_reports_a_moved_attribute(moved):
    assert not resolves(dataclasses.replace(listed(KINDS[ATTRIBUTE]), **moved))


def test_it_reports_an_attribute_the_constructor_no_longer_sets():
    symbol = listed(KINDS[INSTANCE])
    assert not resolves(dataclasses.replace(symbol, name="BoundedAttributes._items"))


def test_it_reports_a_private_module_that_moved():
    symbol = listed(KINDS[MODULE])
    assert not resolves(dataclasses.replace(symbol, module="opentelemetry.sdk._shared"))


def test_it_reports_a_literal_the_upstream_code_no_longer_has():
    symbol = listed(KINDS[CONSTANT])
    assert not resolves(dataclasses.replace(symbol, constant="opentelemetry-django.start"))


def test_it_reads_a_dataclass_field_as_an_attribute():
    field = listed(
        "opentelemetry.sdk.metrics._internal.sdk_configuration.SdkConfiguration.resource"
    )
    assert resolves(field)
    assert not resolves(dataclasses.replace(field, name="SdkConfiguration.resources"))


def test_it_names_each_version_that_differs(monkeypatch):
    installed = {"opentelemetry-sdk": "1.46.0", "opentelemetry-proto": None}
    real = versions.installed_version
    monkeypatch.setattr(
        versions, "installed_version", lambda d: installed[d] if d in installed else real(d)
    )

    result = check_compatibility()

    assert not result.tested
    assert result.describe() == (
        "opentelemetry-sdk 1.46.0 installed, tested with 1.45.1; "
        "opentelemetry-proto not installed, tested with 1.45.1"
    )


def test_it_names_the_symbols_that_do_not_resolve():
    gone = dataclasses.replace(listed(KINDS[ATTRIBUTE]), name="_DjangoMiddleware._gone")

    result = check_compatibility([listed(KINDS[INSTANCE]), gone])

    assert result.unresolved == [gone]
    assert result.describe() == f"{MIDDLEWARE}._DjangoMiddleware._gone not found"


def test_it_checks_only_the_fast_paths_symbols_by_default(monkeypatch):
    checked = []
    monkeypatch.setattr(compatibility, "resolves", lambda s: checked.append(s) or True)

    assert check_compatibility().tested
    assert checked == [s for s in PRIVATE_SYMBOLS if s.fast_path]
    assert listed("opentelemetry.sdk.trace.sampling._get_from_env_or_default") not in checked
