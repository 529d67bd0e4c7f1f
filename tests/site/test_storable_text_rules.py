"""The storable-text rule (common.text_rules) on its own and in the shared DictField."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework import serializers

from common.api_fields import StorableKeysDictField
from common.text_rules import validate_storable_text


@pytest.mark.parametrize("text", ["a\x00b", "x\ud800", "\udfff"])
def test_nul_and_lone_surrogates_are_refused(text):
    with pytest.raises(ValidationError):
        validate_storable_text(text)


def test_ordinary_text_with_astral_characters_passes():
    validate_storable_text("caf\u00e9 \U0001f600 \u4e2d")


def test_a_dict_field_refuses_an_unstorable_key():
    field = StorableKeysDictField(child=serializers.CharField())
    with pytest.raises(serializers.ValidationError):
        field.run_validation({"team\x00": "payments"})
    assert field.run_validation({"team": "payments"}) == {"team": "payments"}
