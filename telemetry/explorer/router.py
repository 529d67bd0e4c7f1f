"""The database router of the local telemetry store: its models' rows are read and written
only in the alias TELEMETRY_LOCAL_STORE_DATABASE names, and that alias holds nothing else.

The store's (empty) tables are created in every database migrate runs on, not only in the
store's: an operator who later points TELEMETRY_LOCAL_STORE_DATABASE at a database that was
migrated before (the service's own, say) finds the tables there. Created only in the alias,
they would be missing for good: Django records the migration as applied on a database even
when a router skipped its operations.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

# The models of telemetry.models.explorer (by name: this module is loaded before the apps).
LOCAL_STORE_MODELS = frozenset(
    {"storedprocess", "storedspan", "storedlogrecord", "tracesearch", "logsearch",
     "serviceoverview"}
)  # fmt: skip


def store_alias() -> str:
    """The database alias the store's rows are read from and written to."""
    return getattr(settings, "TELEMETRY_LOCAL_STORE_DATABASE", "default") or "default"


def _is_store_model(app_label: str, model_name: str | None) -> bool:
    return app_label == "telemetry" and model_name in LOCAL_STORE_MODELS


class LocalStoreRouter:
    """Sends the store's rows to their alias; keeps every other model out of it."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _is_store_model(model._meta.app_label, model._meta.model_name):
            return store_alias()
        return None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        alias = store_alias()
        if model_name is None and "model" in hints:
            model_name = hints["model"]._meta.model_name
        if _is_store_model(app_label, model_name):
            return True
        if db == alias and alias != "default":
            return False  # the store's own database holds the store's tables only
        return None
