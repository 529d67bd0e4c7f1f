from __future__ import annotations

from rest_framework import serializers

from common.api_fields import StrictCharField, StrictEmailField
from users.models import User, normalize_email
from users.services import account_errors


class NormalizedEmailField(StrictEmailField):
    """An email normalised (users.models.normalize_email) before it is validated: a
    fullwidth "\uff24ana@example.com" is the account "dana@example.com", not an invalid or a
    new address."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = normalize_email(data)
        return super().to_internal_value(data)


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name", "is_staff", "date_joined"]
        read_only_fields = fields


class UserCreateInputSerializer(serializers.Serializer):
    email = NormalizedEmailField(max_length=254)
    name = StrictCharField(max_length=150)
    password = StrictCharField(
        required=False, write_only=True, min_length=8, max_length=128, trim_whitespace=False
    )

    def validate(self, attrs: dict) -> dict:
        # Refuse what we do not take (is_staff, is_superuser ...): silently dropping it would
        # let a caller believe an account got privileges it did not.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        # The account rules (look-alike email, AUTH_PASSWORD_VALIDATORS), as the service
        # applies them, reported here with the other field errors of the same request.
        errors = account_errors(
            email=attrs["email"], name=attrs["name"], password=attrs.get("password")
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def validate_email(self, value: str) -> str:
        # Checked here too (the service re-checks under the transaction), so a duplicate
        # shows as a field error next to the other field errors of the same request.
        value = normalize_email(value)
        if User.objects.filter(email=value).exists():
            raise serializers.ValidationError("A user with this email already exists.")
        return value


class UserFilterSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, max_length=254)


class AuthTokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
