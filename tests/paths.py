"""Where the repository is, for tests that read its files (deploy/, bench/, docs/) or run
its entry points (manage.py, gunicorn.conf.py) from its root."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
