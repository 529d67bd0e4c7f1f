"""The site's URLs plus a view that fails, for the error-handling telemetry tests."""

from django.http import HttpRequest
from django.urls import path

from observability_site.urls import handler400, handler404, handler500, urlpatterns


def fail(request: HttpRequest, attempt: int):
    raise ZeroDivisionError(f"attempt {attempt} failed")


urlpatterns = [path("test/fail/<int:attempt>", fail), *urlpatterns]
__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
