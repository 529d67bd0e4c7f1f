"""The site's URLs plus a view that fails, for the error-handling telemetry tests, and an
async view (the ASGI path of the telemetry middleware)."""

import asyncio

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from opentelemetry import trace

from observability_site.urls import handler400, handler404, handler500, urlpatterns


def fail(request: HttpRequest, attempt: int):
    raise ZeroDivisionError(f"attempt {attempt} failed")


async def async_item(request: HttpRequest, item_id: int) -> JsonResponse:
    """An async view: the span current in it, after an await, is the server span."""
    await asyncio.sleep(0)
    context = trace.get_current_span().get_span_context()
    return JsonResponse({"item": item_id, "trace_id": format(context.trace_id, "032x")})


def sync_query(request: HttpRequest, item_id: int) -> JsonResponse:
    """A synchronous view (run in a thread under ASGI) with a span of its own around a
    database call: a child of the server span."""
    with trace.get_tracer(__name__).start_as_current_span("sync view work"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s", [item_id])
            (value,) = cursor.fetchone()
    return JsonResponse({"item": value})


async def async_fail(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    raise ZeroDivisionError("async view failed")


urlpatterns = [
    path("test/fail/<int:attempt>", fail),
    path("test/async/<int:item_id>", async_item),
    path("test/async-fail", async_fail),
    path("test/sync-query/<int:item_id>", sync_query),
    *urlpatterns,
]
__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
