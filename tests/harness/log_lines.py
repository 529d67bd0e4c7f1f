"""A service process's log output read back: the JSON lines settings.LOGGING writes."""

from __future__ import annotations

import json


def json_records(text: str) -> list[dict]:
    """Every line of `text` that is a JSON object, parsed; anything else (Celery's banner,
    gunicorn's own lines, a line cut short by a kill) left out."""
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
