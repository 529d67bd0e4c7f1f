"""Functions that read users."""

from __future__ import annotations

from django.db.models import QuerySet

from users.models import User, normalize_email


def user_list(*, email: str | None = None) -> QuerySet[User]:
    users = User.objects.order_by("id")
    if email:
        users = users.filter(email=normalize_email(email))
    return users
