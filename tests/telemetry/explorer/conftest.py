"""Fixtures of the local store's tests."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation


@pytest.fixture
def untraced_test_process():
    """The end-to-end tests send their own traceparent: the test process may be instrumented
    (the in-process telemetry tests set it up once per run), and its httpx client would
    replace the header with a trace of its own."""
    with suppress_instrumentation():
        yield
