from django.apps import AppConfig


class ProcessingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "processing"

    def ready(self) -> None:
        # The instruments, the queue-age gauge among them, exist in every process from the
        # start, not from its first request that happens to import them.
        from processing import metrics  # noqa: F401
