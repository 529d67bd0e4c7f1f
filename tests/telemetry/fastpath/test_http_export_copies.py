"""HttpSpanExporter.export() and HttpLogExporter.export() are copies of the official OTLP/HTTP
exporters' export() with their one encoding line changed (the official ones call a
module-level encoder no subclass can replace). Held against the installed official code
statement by statement, so that an upgrade that changes an official export() fails here
instead of drifting silently."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from telemetry.fastpath.log_exporters import HttpLogExporter
from telemetry.fastpath.span_exporters import HttpSpanExporter

ENCODING = "serialized_data = ENCODED"
# (ours, its encoding line, the official one, its encoding line)
COPIES = [
    pytest.param(
        HttpSpanExporter,
        "serialized_data = encode_spans_to_bytes(spans)",
        OTLPSpanExporter,
        "serialized_data = encode_spans(spans).SerializePartialToString()",
        id="spans",
    ),
    pytest.param(
        HttpLogExporter,
        "serialized_data = encode_logs_to_bytes(batch)",
        OTLPLogExporter,
        "serialized_data = encode_logs(batch).SerializeToString()",
        id="logs",
    ),
]


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


@pytest.mark.parametrize(("ours", "our_line", "official", "official_line"), COPIES)
def test_our_export_is_the_official_one_but_for_the_encoding_line(
    ours, our_line, official, official_line
):
    assert normalized(statements(ours.export), our_line) == normalized(
        statements(official.export), official_line
    )


@pytest.mark.parametrize(("ours", "our_line", "official", "official_line"), COPIES)
def test_the_comparison_sees_a_changed_statement(ours, our_line, official, official_line):
    source = textwrap.dedent(inspect.getsource(official.export))
    assert "Exporter already shutdown" in source
    changed = ast.parse(source.replace("Exporter already shutdown", "Exporter shut down")).body[0]

    assert normalized(changed, official_line) != normalized(
        statements(official.export), official_line
    )


@pytest.mark.parametrize(("ours", "our_line", "official", "official_line"), COPIES)
def test_our_export_logs_where_the_official_one_does(
    ours, our_line, official, official_line, caplog
):
    # An opentelemetry.* logger: the settings quieten it, and the OTLP log handler leaves its
    # records out (telemetry.pipeline.instrumentation._not_from_the_sdk), as the official ones'.
    exporter = ours(endpoint="http://127.0.0.1:9/v1/never")
    exporter.shutdown()
    with caplog.at_level("WARNING", logger=official.__module__):
        assert exporter.export([]).name == "FAILURE"

    (record,) = [r for r in caplog.records if "already shutdown" in r.getMessage()]
    assert record.name == official.__module__
    assert record.name.startswith("opentelemetry.")
