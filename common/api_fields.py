"""Serializer fields that take JSON as it was sent: DRF's CharField turns a number into a
string (`{"data": 42}` would be processed as "42"), which hides a client's mistake."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.text_rules import unstorable_character


class _StringsOnly:
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]  # DRF's "Not a valid string."
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(_StringsOnly, serializers.CharField):
    """A CharField that accepts only JSON strings (and rejects NUL and lone surrogates, as
    DRF's CharField does)."""


class StrictEmailField(_StringsOnly, serializers.EmailField):
    """An EmailField that accepts only JSON strings."""


class StorableKeysDictField(serializers.DictField):
    """A DictField whose keys, too, must be storable text (common.text_rules): DRF checks a
    DictField's values through its child field, never its keys. The JSON parser refuses such
    keys already (common.json_parser); this keeps the rule for data from other parsers."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and (reason := unstorable_character(key)):
                    raise serializers.ValidationError(f"A key with a {reason} cannot be stored.")
        return super().to_internal_value(data)
