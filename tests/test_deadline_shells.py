"""The total deadline, ``Timeout(total=...)``, through the blocking client and the async
one on asyncio and on trio, against real loopback servers (tests/servers.py).

Each case would succeed, or wait far longer, without the total: a body that drips one
byte just inside the read timeout, redirects each in time that add up, a wait for the
pool, a server that does not accept. Each ends with the phase's `TimeoutException`
naming the total, and the pool is usable at once.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

from async_io import AsyncClient, AsyncHTTPTransport
from sansio import env
from sansio.config import Limits, Timeout
from sansio.exceptions import ConnectTimeout, PoolTimeout, ReadTimeout, TimeoutException
from sansio.models import Request
from sync_io import Client, HTTPTransport
from tests.servers import READ, Got, Reply, Server, http_handler, response, scripted

TOTAL = 0.3
EXPECTED = "the total timeout of 0.3 s for the request passed (while in the {} phase)"
# Each wait of these servers is well inside this: only the total can end them.
PHASE = 5.0
DRIP = 0.05  # seconds between two bytes of a dripping body
OK = response(b"ok")


@pytest.fixture(autouse=True)
def real_clock() -> Iterator[None]:
    """The flow starts a deadline on `Env.clock`, and it is measured there: the shells
    install `time.monotonic` (tests/conftest.py fixes `Env.clock`; see the last test)."""
    previous = env.install(clock=time.monotonic)
    yield
    env.install(previous)


@pytest.fixture(params=["sync", "asyncio", "trio"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handler: Any, **kwargs: Any) -> Server:
        server = Server(handler, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def run(kind: str, main: Callable[[Any], Awaitable[Any] | Any], **settings: Any) -> Any:
    """``main(client)`` with a client of ``kind`` made with ``settings``; its result."""
    if kind == "sync":
        with Client(**settings) as client:
            return main(client)

    async def amain() -> Any:
        async with AsyncClient(**settings) as client:
            return await main(client)

    return asyncio.run(amain()) if kind == "asyncio" else trio.run(amain)


def outcome(kind: str, make: Callable[[Any], Any], **settings: Any) -> Any:
    """What ``make(client)`` gives (awaited if async), or the TimeoutException it
    raised; and whether the client's pool holds nothing then."""

    def main(client: Any) -> Any:
        if kind == "sync":
            try:
                result: Any = make(client)
            except TimeoutException as exc:
                result = exc
            return result, _idle(client)

        async def amain() -> Any:
            try:
                result: Any = await make(client)
            except TimeoutException as exc:
                result = exc
            return result, _idle(client)

        return amain()

    return run(kind, main, **settings)


def _idle(client: Any) -> bool:
    """Nothing checked out, connecting or waiting in the client's pool."""
    transport = client._transport
    assert isinstance(transport, HTTPTransport | AsyncHTTPTransport)
    stats = transport._engine.statistics()
    return (stats.connecting, stats.active, stats.waiters) == (0, 0, 0)


def assert_total(error: Any, kind: type[TimeoutException], phase: str) -> None:
    assert isinstance(error, kind), error
    assert str(error) == EXPECTED.format(phase)


# -- a body that drips ---------------------------------------------------------------------


def dripping(size: int) -> list[Any]:
    """One request; a head promising ``size`` bytes, then one byte every DRIP seconds."""
    steps: list[Any] = [READ, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size]
    for _ in range(size):
        steps += [DRIP, b"x"]
    return steps


def test_a_body_dripping_inside_the_read_timeout_is_stopped(kind: str, serve: Any) -> None:
    server = serve(scripted(dripping(100), [READ, OK]))
    timeout = Timeout(PHASE, total=TOTAL)

    def make(client: Any) -> Any:
        return client.get(server.url("/drip"))

    error, idle = outcome(kind, make, timeout=timeout)
    assert_total(error, ReadTimeout, "read")
    assert idle


def test_a_streamed_body_is_bounded_until_it_is_closed(kind: str, serve: Any) -> None:
    server = serve(scripted(dripping(100)))

    def make(client: Any) -> Any:
        if kind == "sync":
            with client.stream("GET", server.url("/drip")) as response:
                return b"".join(response.iter_bytes())

        async def read() -> bytes:
            async with client.stream("GET", server.url("/drip")) as response:
                return b"".join([chunk async for chunk in response.aiter_bytes()])

        return read()

    error, idle = outcome(kind, make, timeout=Timeout(PHASE, total=TOTAL))
    assert_total(error, ReadTimeout, "read")
    assert idle


def test_the_pool_is_usable_at_once_after_the_total(kind: str, serve: Any) -> None:
    server = serve(scripted(dripping(100), [READ, OK]))

    def make(client: Any) -> Any:
        if kind == "sync":
            with pytest.raises(ReadTimeout, match="total"):
                client.get(server.url("/drip"), timeout=Timeout(PHASE, total=TOTAL))
            return client.get(server.url("/next")).content

        async def both() -> bytes:
            with pytest.raises(ReadTimeout, match="total"):
                await client.get(server.url("/drip"), timeout=Timeout(PHASE, total=TOTAL))
            return (await client.get(server.url("/next"))).content

        return both()

    assert outcome(kind, make, limits=Limits(max_connections=1)) == (b"ok", True)
    assert server.accepted == 2  # the connection cut short was closed, not reused


# -- redirects that add up -------------------------------------------------------------------


def redirecting(pause: float) -> Any:
    """Every request answered after ``pause`` seconds: /0 -> /1 -> /2 -> /3 (200)."""

    def app(server: Server, got: Got) -> Reply:
        server.sleep(pause)
        hop = int(got.target.strip("/"))
        if hop == 3:
            return Reply(body=b"landed")
        return Reply(302, [("Location", f"/{hop + 1}")])

    return http_handler(app)


def test_redirects_each_in_time_add_up(kind: str, serve: Any) -> None:
    server = serve(redirecting(0.12))  # four answers: 0.48 s in all

    def make(client: Any) -> Any:
        return client.get(server.url("/0"))

    settings = {"follow_redirects": True, "timeout": Timeout(PHASE, total=TOTAL)}
    error, idle = outcome(kind, make, **settings)
    assert_total(error, ReadTimeout, "read")
    assert idle
    # With time enough, the same chain lands.
    settings["timeout"] = Timeout(PHASE, total=10.0)
    response, idle = outcome(kind, make, **settings)
    assert (response.content, len(response.history), idle) == (b"landed", 3, True)


# -- waiting for a connection -----------------------------------------------------------------


def test_the_wait_for_the_pool_is_bounded(kind: str, serve: Any) -> None:
    server = serve(scripted(dripping(100), [READ, OK]))
    timeout = Timeout(PHASE, total=TOTAL)

    def make(client: Any) -> Any:
        # The only connection is held by a streamed response, still open.
        if kind == "sync":
            with client.stream("GET", server.url("/drip")), pytest.raises(PoolTimeout) as info:
                client.get(server.url("/waits"), timeout=timeout)
            return info.value

        async def held() -> Any:
            async with client.stream("GET", server.url("/drip")):
                with pytest.raises(PoolTimeout) as info:
                    await client.get(server.url("/waits"), timeout=timeout)
            return info.value

        return held()

    error, idle = outcome(kind, make, limits=Limits(max_connections=1), timeout=PHASE)
    assert_total(error, PoolTimeout, "pool")
    assert idle


def test_a_server_that_does_not_accept_is_the_connect_phase(kind: str) -> None:
    # A backlog of one, taken: the next handshake is not answered (SYN dropped).
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

        def make(client: Any) -> Any:
            return client.get(url)

        error, idle = outcome(kind, make, timeout=Timeout(PHASE, total=TOTAL))
    finally:
        filler.close()
        listener.close()
    assert_total(error, ConnectTimeout, "connect")
    assert idle


# -- a transport without a client ---------------------------------------------------------------


def test_a_transport_alone_honours_the_timeout_extensions_total(kind: str, serve: Any) -> None:
    server = serve(scripted(dripping(100)))
    request = Request(
        "GET", server.url("/drip"), extensions={"timeout": {"read": PHASE, "total": TOTAL}}
    )
    with pytest.raises(ReadTimeout) as info:
        read_alone(kind, request)
    assert str(info.value) == EXPECTED.format("read")


def read_alone(kind: str, request: Request) -> None:
    """Send ``request`` through a transport of ``kind`` and read its body."""
    if kind == "sync":
        with HTTPTransport() as transport:
            transport.handle_request(request).read()
        return

    async def main() -> None:
        async with AsyncHTTPTransport() as transport:
            await (await transport.handle_async_request(request)).aread()

    asyncio.run(main()) if kind == "asyncio" else trio.run(main)


# -- on the client's clock ----------------------------------------------------------------


def test_a_deadline_is_measured_on_the_clock_it_was_started_on(kind: str, serve: Any) -> None:
    # A client made in a world whose clock stands still (a test's, or an embedder's
    # virtual one): its deadline never passes, though the transport's engine keeps
    # time.monotonic for its own waits. Measured on the engine's clock instead, the
    # deadline started at 1000.0 would read as long past: a PoolTimeout at once.
    server = serve(scripted([READ, OK]))
    env.install(clock=lambda: 1000.0)  # (the fixture puts the previous world back)

    def make(client: Any) -> Any:
        return client.get(server.url("/"))

    response, idle = outcome(kind, make, timeout=Timeout(PHASE, total=TOTAL))
    assert response.status_code == 200
    assert idle
