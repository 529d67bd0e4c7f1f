"""Runbooks: one Markdown page per alert in docs/runbooks (ALERT_RUNBOOKS_DIR), named in a
rule's runbook field, linked from its runbook_url annotation and shown beside its events."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from telemetry.prometheus.validation import RUNBOOK_PAGE_RE


def runbook_path(name: str) -> Path | None:
    """The page NAME (e.g. HighErrorRate) of the runbooks directory, None if it has none."""
    if not name or not RUNBOOK_PAGE_RE.match(name):
        return None  # a page name only: never a path outside the directory
    path = Path(settings.ALERT_RUNBOOKS_DIR) / f"{name}.md"
    return path if path.is_file() else None


def page_name_of_url(url: str) -> str | None:
    """The runbook page a runbook_url annotation points at, when it is one of ours."""
    base = settings.ALERT_RUNBOOK_BASE_URL.rstrip("/") + "/"
    if url and url.startswith(base):
        return url[len(base) :].strip("/") or None
    return None


def render_runbook(path: Path) -> SafeString:
    """The page as HTML: Markdown rendered with raw HTML disabled (escaped), or the text
    itself, preformatted, where markdown-it-py is not installed."""
    text = path.read_text(encoding="utf-8")
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return mark_safe(f'<pre class="runbook">{escape(text)}</pre>')
    # "js-default": CommonMark with raw HTML off and only safe link schemes.
    html = MarkdownIt("js-default").render(text)
    return mark_safe(f'<div class="runbook">{html}</div>')
