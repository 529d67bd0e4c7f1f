"""Functions that write users. Views and commands call these, never the ORM directly."""

from __future__ import annotations

import logging

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from common.errors import DomainError
from users.models import User, normalize_email, validate_email_not_confusable

logger = logging.getLogger(__name__)


class EmailAlreadyRegistered(DomainError):
    status_code = 400
    code = "email_taken"


class AccountRejected(DomainError):
    """An email or password the account rules refuse; `fields` says which and why."""

    status_code = 400
    code = "invalid"

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("Invalid input.")
        self.fields = fields


def account_errors(*, email: str, name: str, password: str | None) -> dict[str, list[str]]:
    """The field errors of a new account: a look-alike email, a password the configured
    validators (AUTH_PASSWORD_VALIDATORS) refuse. Empty when it may be created."""
    errors: dict[str, list[str]] = {}
    try:
        validate_email_not_confusable(email)
    except ValidationError as exc:
        errors["email"] = list(exc.messages)
    if password is not None:
        try:
            password_validation.validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    return errors


@transaction.atomic
def user_create(*, email: str, name: str, password: str | None = None) -> User:
    email = normalize_email(email)
    if errors := account_errors(email=email, name=name, password=password):
        raise AccountRejected(errors)
    if User.objects.filter(email=email).exists():
        raise EmailAlreadyRegistered("A user with this email already exists.")
    try:
        # A savepoint, so a race on the unique index leaves the outer transaction usable.
        with transaction.atomic():
            user = User.objects.create_user(email=email, name=name.strip(), password=password)
    except IntegrityError:
        raise EmailAlreadyRegistered("A user with this email already exists.") from None
    logger.info("user created", extra={"user_id": user.pk})
    return user
