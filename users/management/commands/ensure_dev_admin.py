"""Create the development admin once, with a random password, and print its credentials.

The password is kept in DATA_DIR/dev_admin_password (mode 0600, outside git) so that later
runs can print it again; nothing secret is ever in the repository.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.management.base import BaseCommand, CommandError

from users.models import User


class Command(BaseCommand):
    help = "Create a development superuser with a random password and print its credentials."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@localhost.test")

    def handle(self, *args, email: str, **options):
        if settings.DEPLOYMENT_ENVIRONMENT == "production":
            raise CommandError("refusing to create a development admin in production")
        password_file = settings.DATA_DIR / "dev_admin_password"
        user = User.objects.filter(email=email).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            admin = User(email=email, name="Development admin")
            # The configured validators, as on every path that sets a password (a random
            # 16-character one passes; the check is what keeps it so).
            password_validation.validate_password(password, admin)
            User.objects.create_superuser(email=email, name="Development admin", password=password)
            password_file.touch(mode=0o600)
            password_file.write_text(password)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            self.stdout.write(
                f"Admin {email} exists; set its password with: manage.py changepassword {email}"
            )
            return
        self.stdout.write(f"Admin login: {email} / {password}")
