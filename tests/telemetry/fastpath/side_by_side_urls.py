"""The site's URLs plus a few views that answer each way a server span can end, for the
side-by-side test of the server-span middleware against the instrumentation's."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from observability_site.urls import handler400, handler404, handler500, urlpatterns

# Called inside every view (the test reads the in-flight count from there).
while_serving: list[Callable[[], None]] = []


def _serving() -> None:
    for probe in while_serving:
        probe()


def ok(request: HttpRequest) -> HttpResponse:
    _serving()
    return HttpResponse("ok")


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    _serving()
    return JsonResponse({"item": item_id, "q": request.GET.get("q")})


@csrf_exempt
def echo(request: HttpRequest) -> HttpResponse:
    _serving()
    if request.method != "POST":
        return HttpResponse(status=405)
    return HttpResponse(request.body, status=201, content_type="text/plain")


def unavailable(request: HttpRequest) -> HttpResponse:
    _serving()
    return HttpResponse("later", status=503)


def fail(request: HttpRequest, attempt: int) -> HttpResponse:
    _serving()
    raise ZeroDivisionError(f"attempt {attempt} failed")


urlpatterns = [
    path("side/ok", ok),
    path("side/items/<int:item_id>", item, name="side-item"),
    path("side/echo", echo),
    path("side/unavailable", unavailable),
    path("side/fail/<int:attempt>", fail),
    *urlpatterns,
]
__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
