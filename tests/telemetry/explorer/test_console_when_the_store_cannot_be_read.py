"""A store the console cannot read (its tables gone, a database that is down) is a message
that says how to fix it, never a server error."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.telemetry.explorer.support import STORE, store_db

pytestmark = store_db


@pytest.mark.parametrize("page", ["traces/", f"traces/{'ab' * 16}/", "logs/", "overview/"])
def test_a_store_without_its_tables_says_how_to_create_them(staff_session, page):
    with connections[STORE].cursor() as cursor:  # undone with the test's transaction
        for table in (
            "telemetry_storedspan",
            "telemetry_storedlogrecord",
            "telemetry_storedprocess",
        ):
            cursor.execute(f"DROP TABLE {table}")

    response = staff_session.get(f"/admin/telemetry/console/{page}")

    assert response.status_code == 503
    content = response.content.decode()
    assert "The local telemetry store cannot be read" in content
    assert f"manage.py migrate --database {STORE}" in content
