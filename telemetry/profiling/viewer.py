"""The console's copy of speedscope (https://github.com/jlfwong/speedscope), served to staff.

The npm package `speedscope` (pinned in package.json, installed by `make install` with
`npm ci --ignore-scripts`) ships its built viewer in dist/release: an index.html, one
script, a stylesheet, fonts and a wasm module, all loaded by relative paths. They are served
here, behind the admin's login, never from a CDN and not as public static files. The viewer
loads a profile from the URL in its hash (`#profileURL=...&title=...`) with fetch(), so the
profile must be same-origin: it is, and the staff session's cookie goes with it.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TYPES = {".wasm": "application/wasm", ".woff2": "font/woff2", ".js": "text/javascript"}
VIEWS = ("time-ordered", "left-heavy", "sandwich")


def viewer_dir() -> Path:
    """Where speedscope's built files are (PROFILING_SPEEDSCOPE_DIR)."""
    return Path(settings.PROFILING_SPEEDSCOPE_DIR)


def viewer_installed() -> bool:
    return (viewer_dir() / "index.html").is_file()


def viewer_link(viewer_base: str, profile_url: str, *, title: str, view: str = "") -> str:
    """The viewer's address opening `profile_url` (a same-origin path) under `title`."""
    fragment = f"profileURL={quote(profile_url, safe='')}&title={quote(title, safe='')}"
    if view in VIEWS:
        fragment += f"&view={view}"
    return f"{viewer_base}index.html#{fragment}"


def serve_viewer_file(request: HttpRequest, name: str) -> HttpResponseBase:
    """One file of speedscope's dist/release; 404 for anything else. Staff-only: the admin
    wraps this view."""
    name = name or "index.html"
    if not _SAFE_NAME.match(name) or ".." in name:
        return HttpResponse("No such file.", status=404, content_type="text/plain")
    path = viewer_dir() / name
    if not path.is_file():
        if name == "index.html":
            return HttpResponse(
                "The speedscope viewer is not installed: run `make install` (npm ci), or set "
                "PROFILING_SPEEDSCOPE_DIR to speedscope's dist/release directory.",
                status=404,
                content_type="text/plain",
            )
        return HttpResponse("No such file.", status=404, content_type="text/plain")
    content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
    response: HttpResponseBase = FileResponse(path.open("rb"), content_type=content_type)
    # The file names carry a content hash, the page does not.
    cache = "no-cache" if name == "index.html" else "private, max-age=86400"
    response["Cache-Control"] = cache
    return response
