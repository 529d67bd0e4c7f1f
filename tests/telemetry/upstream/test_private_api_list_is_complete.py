"""The list of private OpenTelemetry symbols (telemetry.upstream.private_api) cannot drift
from the code: every private import, attribute, dotted path and override our code has is
in it, naming the file that uses it, and every file an entry names still uses it."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from telemetry.upstream.private_api import CONSTANT, MODULE, PRIVATE_SYMBOLS, PrivateSymbol
from tests.telemetry.upstream.private_uses import (
    REPOSITORY,
    PrivateUse,
    _uses_in,
    is_private,
    private_uses,
)


def covers(symbol: PrivateSymbol, use: PrivateUse) -> bool:
    if use.path not in symbol.used_by:
        return False
    if use.module is None:  # an attribute: its name is the entry's last part
        return symbol.name.rpartition(".")[2] == use.name
    if symbol.kind == MODULE:
        return symbol.module in (use.module, f"{use.module}.{use.name}")
    return symbol.module == use.module and symbol.name.partition(".")[0] == use.name


def test_it_lists_every_private_use_in_our_code():
    unlisted = [
        f"{use.path}:{use.line} {use.module + '.' if use.module else '.'}{use.name}"
        for use in private_uses()
        if not any(covers(symbol, use) for symbol in PRIVATE_SYMBOLS)
    ]
    assert unlisted == [], "add these to telemetry/upstream/private_api.py"


def test_every_listed_use_is_still_made():
    uses = private_uses()
    stale = []
    for symbol in PRIVATE_SYMBOLS:
        for path in symbol.used_by:
            text = (REPOSITORY / path).read_text()
            if symbol.kind == CONSTANT:
                used = repr(symbol.constant)[1:-1] in text
            else:
                # Found by the scan, or named in the file (an override we define, a public
                # name from a private module, a method called on a private attribute).
                last = (symbol.name or symbol.module).rpartition(".")[2]
                used = any(covers(symbol, use) for use in uses if use.path == path) or bool(
                    re.search(rf"\b{re.escape(last)}\b", text)
                )
            if not used:
                stale.append(f"{symbol.dotted} in {path}")
    assert stale == [], "remove these from telemetry/upstream/private_api.py"


def test_the_scan_finds_each_kind_of_private_use():
    """The scan is what keeps the list honest: it sees imports, attributes, getattr names and
    dotted paths, and leaves alone what a file defines itself."""
    source = """
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.instrumentation.utils import _start_internal_or_server_span, unwrap
import opentelemetry.sdk._shared_internal

class Ours:
    def __init__(self, exporter):
        self._mine = exporter._max_request_size
        getattr(exporter, "_preferred_temporality", None)

PATH = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
"""
    found = {(use.module, use.name) for use in _uses_in("x.py", ast.parse(source))}
    assert found == {
        ("opentelemetry.sdk._logs", "LoggerProvider"),
        ("opentelemetry.instrumentation.utils", "_start_internal_or_server_span"),
        ("opentelemetry.sdk._shared_internal", ""),
        ("opentelemetry.instrumentation.django.middleware.otel_middleware", "_DjangoMiddleware"),
        (None, "_max_request_size"),
        (None, "_preferred_temporality"),
    }


def _our_classes_on_opentelemetry_bases():
    for path in sorted((REPOSITORY / "telemetry").rglob("*.py")):
        relative = path.relative_to(REPOSITORY)
        if relative.parts[1] in {"upstream", "migrations"} or "opentelemetry" not in (
            path.read_text()
        ):
            continue
        module = importlib.import_module(".".join(relative.with_suffix("").parts))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("opentelemetry")]
            if bases:
                yield relative.as_posix(), cls, bases


def _assigned_on_self(cls: type) -> set[str]:
    tree = ast.parse(inspect.getsource(cls))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _base_has(base: type, name: str) -> bool:
    init = vars(base).get("__init__")
    names = getattr(getattr(init, "__code__", None), "co_names", ())
    return name in vars(base) or name in names


@pytest.mark.django_db
def test_it_lists_every_private_name_we_override_or_share_with_an_opentelemetry_base():
    """A private method we override, or a private attribute we set that the OpenTelemetry
    base class also has, couples us to it as much as a call does."""
    unlisted = []
    for path, cls, bases in _our_classes_on_opentelemetry_bases():
        ours = {n for n in vars(cls) if is_private(n) and n != "_abc_impl"}
        ours |= {n for n in _assigned_on_self(cls) if is_private(n)}
        for name in sorted(ours):
            owners = [b for b in bases if _base_has(b, name)]
            if not owners:
                continue
            listed = any(
                path in s.used_by and s.name in {f"{b.__qualname__}.{name}" for b in owners}
                for s in PRIVATE_SYMBOLS
            )
            if not listed:
                unlisted.append(f"{path} {cls.__qualname__}.{name} ({owners[0].__qualname__})")
    assert unlisted == [], "add these to telemetry/upstream/private_api.py"


def test_the_override_check_sees_an_override():
    from telemetry.fastpath.span_exporters import GrpcSpanExporter

    found = [
        (cls, name)
        for path, cls, bases in _our_classes_on_opentelemetry_bases()
        for name in vars(cls)
        if is_private(name) and any(_base_has(b, name) for b in bases) and name != "_abc_impl"
    ]
    assert (GrpcSpanExporter, "_translate_data") in found


def test_it_scans_our_whole_tree():
    scanned = {use.path for use in private_uses()}
    assert "telemetry/fastpath/server_span.py" in scanned
    assert "observability_site/settings.py" in scanned
    assert not any(Path(p).parts[1:2] == ("upstream",) for p in scanned)
