"""Every use of a private OpenTelemetry name in our code, found by reading the source (ast):
what the list in telemetry.upstream.private_api must hold.

A use is (our file, the OpenTelemetry module or None, the private name):
- `from opentelemetry.x._y import z` or `from opentelemetry.x import _z`: a private module or
  name, with its module;
- `obj._name` and getattr/hasattr/setattr(obj, "_name"), in a file that imports OpenTelemetry,
  where the file itself never defines `_name` (then it is ours): an attribute of an
  OpenTelemetry object, module unknown. (A file that defines `_name` itself and also reads
  an OpenTelemetry object's `_name` would hide the second: keep our private names distinct.)
- a string naming a dotted path with a private part ("opentelemetry...._DjangoMiddleware").
Overrides of private methods are found at run time (tests/telemetry/upstream/
test_private_api_list_is_complete.py), since which names a base class has needs the class.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
# Our code that may touch OpenTelemetry: telemetry itself, and the wiring (settings.LOGGING
# names the SDK's loggers).
SCANNED = ("telemetry", "observability_site")
# Private by name, public by contract: Django's model options, and CPython's documented
# sys._getframe / sys._current_frames (the profilers; listed in docs/profiling.md).
NOT_OPENTELEMETRY = frozenset({"_meta", "_getframe", "_current_frames"})


@dataclass(frozen=True)
class PrivateUse:
    path: str  # relative to the repository: "telemetry/fastpath/server_span.py"
    module: str | None  # the OpenTelemetry module, when the source says which
    name: str
    line: int


def is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def private_uses(root: Path = REPOSITORY) -> list[PrivateUse]:
    uses: list[PrivateUse] = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith("telemetry/upstream/") or "/migrations/" in relative:
                continue
            uses.extend(_uses_in(relative, ast.parse(path.read_text(), relative)))
    return sorted(set(uses), key=lambda use: (use.path, use.line, use.module or "", use.name))


def _uses_in(path: str, tree: ast.Module) -> list[PrivateUse]:
    uses = []
    imports_opentelemetry = False
    defined = _names_defined(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
            imports_opentelemetry = True
            module = node.module or ""
            private_module = any(is_private(part) for part in module.split("."))
            for alias in node.names:
                if private_module or is_private(alias.name):
                    uses.append(PrivateUse(path, module, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("opentelemetry"):
                    imports_opentelemetry = True
                    if any(is_private(part) for part in alias.name.split(".")):
                        uses.append(PrivateUse(path, alias.name, "", node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.startswith("opentelemetry.") and " " not in text:
                module, _, name = text.rpartition(".")
                if any(is_private(part) for part in text.split(".")):
                    uses.append(PrivateUse(path, module, name, node.lineno))
    if not imports_opentelemetry:
        return uses
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and is_private(node.args[1].value)
        ):
            name = node.args[1].value
        if name and name not in defined and name not in NOT_OPENTELEMETRY:
            uses.append(PrivateUse(path, None, name, node.lineno))
    return uses


def _names_defined(tree: ast.Module) -> set[str]:
    """The private names this file gives a value: functions, classes, methods, assigned
    attributes (self._x = ...) and names, and what setattr(obj, "_x", ...) sets."""
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                defined.update(_assigned_names(target))
        elif isinstance(node, ast.ImportFrom) and not (node.module or "").startswith(
            "opentelemetry"
        ):
            defined.update(alias.asname or alias.name for alias in node.names)
    return {name for name in defined if is_private(name)}


def _assigned_names(target: ast.expr) -> list[str]:
    """The names an assignment target gives a value (not those it only reads, as in
    `meta[self._key] = value`)."""
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _assigned_names(element)]
    if isinstance(target, ast.Starred):
        return _assigned_names(target.value)
    return []
