"""What text the service can store: no NUL character (PostgreSQL's text types refuse it) and
no lone surrogate (not a character; UTF-8 cannot encode it, so neither the database driver
nor a log exporter can). DRF's CharField refuses both; JSON objects' keys, the values inside
JSONField/DictField data and form fields outside DRF are not CharFields, so the same rule is
here for every path (the JSON parser applies it to the whole document)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# U+0000, or a surrogate code point (U+D800-U+DFFF): in a Python str decoded from JSON a
# surrogate is always alone (json turns a valid \ud83d\ude00 pair into one character).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """Why `text` cannot be stored ("NUL character", "lone surrogate"), or None."""
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    return "NUL character" if match.group() == "\x00" else "lone surrogate"


def validate_storable_text(text: str) -> None:
    """A Django validator (forms, models, DRF fields): refuse NUL and lone surrogates."""
    reason = unstorable_character(text)
    if reason is not None:
        raise ValidationError(f"Text with a {reason} cannot be stored.", code="unstorable")
