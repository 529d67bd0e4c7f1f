"""A store the console cannot read (no tables yet, an alias that is down) is a message that
says how to fix it, never a server error."""

from __future__ import annotations

import pytest

from tests.telemetry.explorer.support import store_db

pytestmark = store_db


@pytest.mark.parametrize("page", ["traces/", f"traces/{'ab' * 16}/", "logs/", "overview/"])
def test_a_store_without_its_tables_says_how_to_create_them(staff_session, settings, page):
    # The service's own database has no store tables in this set-up.
    settings.TELEMETRY_LOCAL_STORE_DATABASE = "default"

    response = staff_session.get(f"/admin/telemetry/console/{page}")

    assert response.status_code == 503
    content = response.content.decode()
    assert "The local telemetry store cannot be read" in content
    assert "manage.py migrate --database default" in content
