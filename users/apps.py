from django.apps import AppConfig


class UsersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "users"

    def ready(self) -> None:
        # The lockout log receiver (django-axes' user_locked_out signal).
        from users import login  # noqa: F401
