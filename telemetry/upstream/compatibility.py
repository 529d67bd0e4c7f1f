"""Whether the installed OpenTelemetry is the one the fast paths were tested with: the exact
versions of telemetry.upstream.versions, and every symbol of telemetry.upstream.private_api
resolving. Pure checks, no side effect: telemetry.pipeline.fast_paths decides and logs.

Checking costs the imports the fast paths make anyway, and no instance is built: an
attribute a constructor sets is looked for among the names the constructor's code stores.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable
from dataclasses import dataclass, field

from telemetry.upstream.private_api import (
    CONSTANT,
    INSTANCE,
    MODULE,
    PRIVATE_SYMBOLS,
    PrivateSymbol,
)
from telemetry.upstream.versions import VersionMismatch, version_mismatches


@dataclass(frozen=True)
class Compatibility:
    """What differs from the tested OpenTelemetry (nothing: the fast paths may run)."""

    mismatches: list[VersionMismatch] = field(default_factory=list)
    unresolved: list[PrivateSymbol] = field(default_factory=list)

    @property
    def tested(self) -> bool:
        return not self.mismatches and not self.unresolved

    def describe(self) -> str:
        """What differs, in one line: 'opentelemetry-sdk 1.46.0 installed, tested with
        1.45.1; opentelemetry.attributes.BoundedAttributes._dict not found'."""
        parts = [mismatch.describe() for mismatch in self.mismatches]
        parts.extend(f"{symbol.dotted} not found" for symbol in self.unresolved)
        return "; ".join(parts) if parts else "the tested versions"


def check_compatibility(symbols: Iterable[PrivateSymbol] | None = None) -> Compatibility:
    """The installed versions against the tested ones, and `symbols` (default: the ones the
    fast paths use) against the installed packages. The symbols are resolved only when the
    versions match: at another version they are not trusted anyway."""
    mismatches = version_mismatches()
    if mismatches:
        return Compatibility(mismatches=mismatches)
    chosen = [s for s in PRIVATE_SYMBOLS if s.fast_path] if symbols is None else list(symbols)
    return Compatibility(unresolved=unresolved_symbols(chosen))


def unresolved_symbols(symbols: Iterable[PrivateSymbol] = PRIVATE_SYMBOLS) -> list[PrivateSymbol]:
    """The symbols that do not resolve in the installed packages, in the order given."""
    return [symbol for symbol in symbols if not resolves(symbol)]


def resolves(symbol: PrivateSymbol) -> bool:
    """Whether `symbol` is where the list says, as the list's kind of entry checks it."""
    try:
        module = importlib.import_module(symbol.module)
    except ImportError:
        return False
    if symbol.kind == MODULE:
        return True
    owner_path, _, last = symbol.name.rpartition(".")
    if symbol.kind == INSTANCE:
        owner = _attribute(module, owner_path)
        return isinstance(owner, type) and _constructor_sets(owner, last)
    found = _attribute(module, symbol.name)
    if found is _MISSING:
        # A field of a dataclass without a default is no class attribute.
        owner = _attribute(module, owner_path) if owner_path else _MISSING
        return last in getattr(owner, "__dataclass_fields__", {})
    if symbol.kind == CONSTANT:
        code = getattr(found, "__code__", None)
        return code is not None and symbol.constant in _constants(code)
    return True


_MISSING = object()


def _attribute(start: object, dotted: str) -> object:
    found = start
    for part in dotted.split(".") if dotted else ():
        found = getattr(found, part, _MISSING)
        if found is _MISSING:
            return _MISSING
    return found


def _constructor_sets(cls: type, name: str) -> bool:
    """Whether the __init__ of `cls` or of a class it inherits from names `name` (what
    `self.name = ...` compiles to), or the class has it."""
    for klass in cls.__mro__:
        if name in vars(klass) and not callable(vars(klass)[name]):
            return True
        init = vars(klass).get("__init__")
        code = getattr(init, "__code__", None)
        if code is not None and name in code.co_names:
            return True
    return False


def _constants(code: types.CodeType) -> set[object]:
    """The constants of `code` and of the functions nested in it."""
    found: set[object] = set()
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found |= _constants(constant)
        elif isinstance(constant, str):
            found.add(constant)
    return found
