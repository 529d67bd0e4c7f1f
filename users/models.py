from __future__ import annotations

import unicodedata

from confusable_homoglyphs import confusables
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def normalize_email(email: str) -> str:
    """The one form an address is stored, looked up and logged in with: NFKC (a fullwidth
    "admin", U+FF41..., is "admin", as most mail systems would deliver it) and case-folded, so
    "Admin@Example.COM", "admin@example.com" and their look-alike widths are one account."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def validate_email_not_confusable(email: str) -> None:
    """Refuse an address whose domain mixes scripts with look-alike letters ("example.com"
    with a Cyrillic U+0430 for its "a"): it would register as another user than the one it
    looks like. Each domain label is checked alone, so an all-Cyrillic domain is fine; the
    local part is ASCII already (Django's EmailValidator)."""
    _, _, domain = email.rpartition("@")
    for label in domain.split("."):
        if label and confusables.is_dangerous(label):
            raise ValidationError(
                "This address mixes alphabets with look-alike letters (for example a Cyrillic "
                "letter among Latin ones); type it in one alphabet.",
                code="confusable",
            )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Every login (admin form, API token, axes) finds the account in any case or width.
        return self.get(**{self.model.USERNAME_FIELD: normalize_email(username or "")})

    def create_user(self, email: str, name: str, password: str | None = None, **extra) -> User:
        user = self.model(email=normalize_email(email), name=name, **extra)
        user.set_password(password)  # None leaves an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, name: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, name, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """An account, identified by its email address."""

    email = models.EmailField(unique=True, validators=[validate_email_not_confusable])
    name = models.CharField("display name", max_length=150)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        # Runs in every ModelForm (the admin's too) before the unique check.
        super().clean()
        self.email = normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name
