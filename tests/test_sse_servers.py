"""Server-sent events against real servers on loopback: uvicorn and hypercorn over
HTTP/1.1, and hypercorn over HTTP/2 (TLS, ALPN), from the sync client, asyncio and trio.

Each event is delivered as it arrives (the server holds the second until the client has
the first), and ``reconnect=True`` opens the stream again with ``Last-Event-ID`` after
the server's ``retry`` delay, stopping at the server's 204. The app is
tests/ws_servers.py's ``/sse``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio

import conch
from sansio import env

from .ws_servers import WSServer, running

MODES = ["sync", "asyncio", "trio"]
SERVERS = [("uvicorn-wsproto", False), ("hypercorn", False), ("hypercorn", True)]


@pytest.fixture(autouse=True)
def deterministic_env() -> Iterator[env.Env]:
    """Real time: the reconnection delay is slept for real."""
    previous = env.install(env.current(), clock=time.monotonic)
    try:
        yield env.current()
    finally:
        env.install(previous)


@pytest.fixture(
    scope="module",
    params=SERVERS,
    ids=["uvicorn-http1", "hypercorn-http1", "hypercorn-http2"],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSServer]:
    kind, tls = request.param
    with running(kind, tls=tls, directory=tmp_path_factory.mktemp("sse")) as server:
        yield server


@pytest.mark.parametrize("mode", MODES)
def test_events_as_they_arrive_then_reconnect_until_204(server: WSServer, mode: str) -> None:
    server.sse_gate.clear()
    server.sse_released.clear()
    server.last_event_ids.clear()
    url = server.url("/sse", ws=False)
    kwargs: dict[str, Any] = (
        {"verify": server.client_context(), "http2": True} if server.tls else {}
    )
    seen: list[Any] = []

    def take(event: conch.ServerSentEvent) -> None:
        seen.append((event.id, event.data))
        server.sse_gate.set()  # the server sends "two" only now

    if mode == "sync":
        with conch.Client(**kwargs) as client, conch.connect_sse(client, "GET", url) as source:
            seen.append(source.response.http_version)
            for event in source.iter_sse(reconnect=True):
                take(event)
    else:

        async def main() -> None:
            async with (
                conch.AsyncClient(**kwargs) as client,
                conch.aconnect_sse(client, "GET", url) as source,
            ):
                seen.append(source.response.http_version)
                async for event in source.aiter_sse(reconnect=True):
                    take(event)

        if mode == "trio":
            trio.run(main)
        else:
            asyncio.run(main())
    assert seen == ["HTTP/2" if server.tls else "HTTP/1.1", ("1", "one"), ("2", "two")]
    assert server.sse_released == [True]
    assert server.last_event_ids == ["", "2"]
