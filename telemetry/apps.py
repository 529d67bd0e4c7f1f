from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telemetry"

    def ready(self) -> None:
        from django.core.signals import got_request_exception

        from telemetry.pipeline import app_errors, setup

        got_request_exception.connect(
            app_errors.on_request_exception, dispatch_uid="telemetry.request_exception"
        )
        # Providers are not built here: ready() also runs in parents that fork afterwards
        # (the Celery main process). It only logs the start-up line deferred by post_fork.
        setup.announce_destination()
        # Profiling captures tasks through Celery's signals; connected here so the main
        # worker process connects them before its pool forks (telemetry.profiling.celery_signals).
        from telemetry.profiling import celery_signals

        celery_signals.connect_signals()
