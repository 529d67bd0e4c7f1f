"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length), read as sent.

gunicorn de-chunks such a body and says so with `wsgi.input_terminated` (the WSGI
extension for input that ends by itself), but Django takes a missing CONTENT_LENGTH as 0
and DRF then sees no body at all: a chunked `POST /api/jobs` was read as empty (issue 15).
This middleware, first in MIDDLEWARE (before anything reads the body), reads such a body
whole, up to DATA_UPLOAD_MAX_MEMORY_SIZE (a 413 past it), and gives the request its length.
Behind nginx this never triggers: nginx buffers the body and sends a Content-Length.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.api_errors import error_body


def _is_unsized_terminated_body(meta: dict) -> bool:
    return (
        not meta.get("CONTENT_LENGTH")
        and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(meta.get("wsgi.input_terminated"))
    )


class ChunkedBodyMiddleware:
    # Async-capable, so that an ASGI request is not pushed through sync_to_async for it: an
    # ASGI handler has read the whole body already (there is no wsgi.input to de-chunk).
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        meta = request.META
        if _is_unsized_terminated_body(meta) and "wsgi.input" in meta:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
            body = meta["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return JsonResponse(
                    error_body("too_large", f"The request body is larger than {limit} bytes."),
                    status=413,
                )
            meta["CONTENT_LENGTH"] = str(len(body))
            # Django's own attribute for the body stream (WSGIRequest.__init__ sets it so).
            request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return await self.get_response(request)
