"""A finished request leaves no reference cycle: its objects are freed when the last
reference goes, not by the cyclic garbage collector.

Why it matters: a cycle per request (the response, its body stream and the exchange
behind it: about 30 objects) makes the collector run every few dozen requests, and with
many requests in flight each run walks all of them; with 100 concurrent requests that
cost more CPU than anything else on the connection side. The collector is switched off
around each request here, so only reference counting can free what it leaves.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import trio  # type: ignore[import-untyped, unused-ignore]

import conch
from sansio.models import Request
from sansio.testing import READ, Emit, Loop, MemoryNetwork, MemoryTransport, VirtualClock
from tests.servers import Server, default_app, http_handler


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(http_handler(default_app)) as running:
        yield running


def _freed(ref: weakref.ref[Any]) -> bool:
    return ref() is None


def test_sync_client(server: Server, no_gc: None) -> None:
    with conch.Client() as client:
        url = f"http://{server.host}:{server.port}/"
        client.get(url)  # the connection is open and idle from here on
        response = client.get(url)
        assert response.content == b"Hello, world!"
        ref = weakref.ref(response)
        del response
        assert _freed(ref)


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_async_client(server: Server, no_gc: None, library: str) -> None:
    url = f"http://{server.host}:{server.port}/"

    async def main() -> bool:
        async with conch.AsyncClient() as client:
            await client.get(url)
            response = await client.get(url)
            assert response.content == b"Hello, world!"
            ref = weakref.ref(response)
            del response
            return _freed(ref)

    freed = asyncio.run(main()) if library == "asyncio" else trio.run(main)
    assert freed


def test_transport_response_closed(no_gc: None) -> None:
    """Below the client: a response read and closed through the engine (the exchange
    keeps it for its trailers until then)."""
    clock = VirtualClock()
    network = MemoryNetwork(clock)
    loop = Loop(network)
    transport = MemoryTransport(loop)

    def peer() -> Any:
        while True:
            yield READ
            yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    network.listen("example.org", 80, peer)

    async def fetch() -> weakref.ref[Any]:
        response = await transport.handle_async_request(Request("GET", "http://example.org/"))
        assert await response.aread() == b"ok"
        await response.aclose()
        return weakref.ref(response)

    loop.run(fetch())
    ref = loop.run(fetch())  # on the connection the first left idle
    assert _freed(ref)
