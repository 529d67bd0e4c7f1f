"""The API's JSON parser: DRF's, with the limits a hostile body meets stated in one place.

- Size: at most API_JSON_MAX_BYTES (1 MiB, nginx's client_max_body_size) is read; more is
  a 413 without parsing. DRF reads the request stream itself, past Django's
  DATA_UPLOAD_MAX_MEMORY_SIZE check, so without this a body was bounded by nothing.
- Depth: at most API_JSON_MAX_DEPTH (64) nested arrays/objects. The json module recurses
  per level: a 2 KB body nested 990 deep ran out of stack inside the request (RecursionError,
  a 500 on every JSON endpoint, anonymously). The depth is counted before parsing, on the
  raw text, so no such body ever reaches the recursive parser.
- Text: no NUL character or lone surrogate in any string, key or value
  (common.text_rules): a 400 with a field error naming where (`labels.<key>`), instead of
  a 500 from the database.

Everything it refuses is a 400 (413 for size) in the one error shape.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from common.text_rules import unstorable_character

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64

# A JSON string literal (with its escapes): removed before counting brackets, so a "[" inside
# a string is not a level. Linear: no nested quantifier can backtrack.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def json_depth(raw: bytes, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar), counted
    without parsing it; the count stops once it is past `stop_above`. Unbalanced brackets
    are the parser's business, not this count's."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub(b"", raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def unstorable_text_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, why) of the first string, key or value, that cannot be stored; None if all
    can. Iterative, so it needs no stack whatever the depth."""
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if reason := unstorable_character(item):
                return where or "(body)", reason
        elif isinstance(item, dict):
            for key, child in item.items():
                if reason := unstorable_character(key):
                    return (f"{where}." if where else "") + repr(key)[1:-1], f"{reason} in a key"
                pending.append(((f"{where}." if where else "") + key, child))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return None


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser with a size and a depth limit, refusing text that cannot be stored."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        max_bytes = getattr(settings, "API_JSON_MAX_BYTES", DEFAULT_MAX_BYTES)
        max_depth = getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)
        raw = stream.read(max_bytes + 1) if stream is not None else b""
        if len(raw) > max_bytes:
            raise RequestTooLarge(f"The request body is larger than {max_bytes} bytes.")
        if json_depth(raw, stop_above=max_depth) > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if found := unstorable_text_path(data):
            where, reason = found
            raise ValidationError({where: [f"Text with a {reason} cannot be stored."]})
        return data
