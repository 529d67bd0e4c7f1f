"""OTEL_SEMCONV_STABILITY_OPT_IN as the service runs it: the operator's list as it is, with
the stable HTTP conventions added when it names neither `http` nor `http/dup`."""

from __future__ import annotations

import pytest

from telemetry.pipeline.semconv import effective_opt_in


@pytest.mark.parametrize(
    ("operator", "effective"),
    [
        (None, "http"),
        ("", "http"),
        ("http", "http"),
        ("http/dup", "http/dup"),
        ("database", "database,http"),
        ("database/dup", "database/dup,http"),
        (" database , http/dup ", "database,http/dup"),
        (
            "http,database/dup,gen_ai_latest_experimental",
            "http,database/dup,gen_ai_latest_experimental",
        ),
    ],
)
def test_it_keeps_the_operators_list_and_adds_stable_http(operator, effective):
    assert effective_opt_in(operator) == effective
