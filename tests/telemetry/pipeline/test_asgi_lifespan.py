"""asgi.py's application answers the ASGI lifespan protocol (uvicorn and hypercorn send it):
startup is acknowledged, shutdown flushes the process's telemetry before it is acknowledged,
and every other scope reaches Django. (That the flush really empties the queues at a real
server's shutdown: tests/telemetry/pipeline/test_servers.py.)"""

from __future__ import annotations

import asyncio

from telemetry.pipeline import entrypoints


def run_lifespan(app) -> list[dict]:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_it_flushes_at_shutdown_before_acknowledging_it(monkeypatch):
    events: list[str] = []
    # The flush itself would stop this test process's telemetry: record the call instead.
    monkeypatch.setattr(entrypoints, "shutdown_telemetry", lambda: events.append("flushed"))

    async def django(scope, receive, send):
        raise AssertionError("the lifespan scope must not reach Django")

    sent = run_lifespan(entrypoints.with_telemetry_lifespan(django))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert events == ["flushed"]


def test_other_scopes_reach_the_application():
    seen = []

    async def django(scope, receive, send):
        seen.append(scope["type"])

    app = entrypoints.with_telemetry_lifespan(django)
    asyncio.run(app({"type": "http"}, None, None))

    assert seen == ["http"]
