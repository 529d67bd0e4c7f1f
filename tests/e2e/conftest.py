from __future__ import annotations

import pytest

from tests.e2e.servers import Stack, prepared_stack


@pytest.fixture
def stack(tmp_path) -> Stack:
    with prepared_stack(tmp_path) as prepared:
        try:
            yield prepared
        except BaseException:
            print(prepared.logs())  # shown by pytest when the test fails
            raise


@pytest.fixture(autouse=True)
def _e2e_marker(request):
    request.applymarker(pytest.mark.e2e)
