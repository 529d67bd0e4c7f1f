"""Fixtures that start the real service processes (end-to-end tests)."""

from __future__ import annotations

import pytest

from tests.harness.servers import Stack, prepared_stack


@pytest.fixture
def stack(tmp_path) -> Stack:
    with prepared_stack(tmp_path) as prepared:
        try:
            yield prepared
        except BaseException:
            print(prepared.logs())  # shown by pytest when the test fails
            raise
