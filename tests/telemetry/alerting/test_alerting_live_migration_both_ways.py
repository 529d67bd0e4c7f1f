"""Migration telemetry/0007 with the real `migrate`, back to 0005 and forward again, on a
database of its own (the test database is left as it is)."""

from __future__ import annotations

import importlib

import pytest

from tests.harness.servers import manage, prepared_stack

pytestmark = pytest.mark.e2e

m0007 = importlib.import_module("telemetry.migrations.0007_alerting_live")
SEEDED = {rule["name"] for rule in m0007.META_RULES}


def test_it_migrates_back_to_0005_and_forward_again(tmp_path):
    # On a database of its own (SQLite, or a fresh PostgreSQL one in the PostgreSQL pass),
    # with the real `migrate`, so the test database is left as it is.
    with prepared_stack(tmp_path) as stack:
        manage(stack.env, "migrate", "telemetry", "0005", "--noinput")
        tables = manage(stack.env, "shell", "-c", TABLES)
        assert "telemetry_rulepublication" not in tables
        assert "telemetry_alertingauditentry" not in tables
        assert "'runbook'" not in manage(stack.env, "shell", "-c", ALERT_RULE_COLUMNS)
        manage(stack.env, "migrate", "--noinput")
        assert manage(stack.env, "shell", "-c", META_COUNT).split()[-1] == str(len(SEEDED))


TABLES = "from django.db import connection; print(connection.introspection.table_names())"
ALERT_RULE_COLUMNS = (
    "from django.db import connection; "
    "print([c.name for c in connection.introspection.get_table_description("
    "connection.cursor(), 'telemetry_alertrule')])"
)
META_COUNT = (
    "from telemetry.models import AlertRule; "
    "print(AlertRule.objects.filter(group='meta_monitoring').count())"
)
