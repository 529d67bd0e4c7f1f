"""Functions that write users. Views and commands call these, never the ORM directly."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from common.errors import DomainError
from users.models import User, normalize_email

logger = logging.getLogger(__name__)


class EmailAlreadyRegistered(DomainError):
    status_code = 400
    code = "email_taken"


@transaction.atomic
def user_create(*, email: str, name: str, password: str | None = None) -> User:
    email = normalize_email(email)
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
