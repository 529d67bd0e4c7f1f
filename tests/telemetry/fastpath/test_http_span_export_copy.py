"""HttpSpanExporter.export() is a copy of the official OTLPSpanExporter.export() with its one
encoding line changed (the official one calls a module-level encode_spans no subclass can
replace). Held against the installed official code statement by statement, so that an
upgrade that changes the official export() fails here instead of drifting silently."""

from __future__ import annotations

import ast
import inspect
import textwrap

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from telemetry.fastpath.span_exporters import HttpSpanExporter

OURS = "serialized_data = encode_spans_to_bytes(spans)"
OFFICIAL = "serialized_data = encode_spans(spans).SerializePartialToString()"
ENCODING = "serialized_data = ENCODED"


def statements(function) -> ast.FunctionDef:
    """The function's syntax tree, as installed (comments and line breaks are not in it)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    (definition,) = tree.body
    assert isinstance(definition, ast.FunctionDef)
    return definition


def normalized(definition: ast.FunctionDef, encoding_line: str) -> str:
    """The tree, dumped, with `encoding_line` (there exactly once) replaced by ENCODING."""
    encoding = ast.parse(encoding_line).body[0]
    replaced = 0

    class ReplaceEncoding(ast.NodeTransformer):
        def visit_Assign(self, node):
            nonlocal replaced
            if ast.dump(node) == ast.dump(encoding):
                replaced += 1
                return ast.parse(ENCODING).body[0]
            return node

    ReplaceEncoding().visit(definition)
    assert replaced == 1, f"{encoding_line!r} is not in {definition.name}() once"
    return ast.dump(definition, include_attributes=False)


def test_our_export_is_the_official_one_but_for_the_encoding_line():
    ours = normalized(statements(HttpSpanExporter.export), OURS)
    official = normalized(statements(OTLPSpanExporter.export), OFFICIAL)

    assert ours == official


def test_the_comparison_sees_a_changed_statement():
    official = statements(OTLPSpanExporter.export)
    changed = ast.parse(
        textwrap.dedent(inspect.getsource(OTLPSpanExporter.export)).replace(
            "Exporter already shutdown", "Exporter shut down"
        )
    ).body[0]

    assert normalized(changed, OFFICIAL) != normalized(official, OFFICIAL)
