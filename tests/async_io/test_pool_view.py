"""``AsyncHTTPTransport._pool`` under asyncio and trio, on loopback servers (the twin of
tests/sync_io/test_pool_view.py): ``_requests`` holds the requests not yet finished and
is empty once every response is closed, after retries and errors too; ``connections``
mirrors the pool. A task cancelled mid-request leaves nothing behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import sniffio
import trio

from async_io import AsyncClient, AsyncHTTPTransport
from sansio.config import Timeout
from sansio.exceptions import ConnectError, ReadTimeout
from sansio.retry import Retry
from tests.servers import Server, http_handler
from tests.servers import default_app as app
from tests.sync_io.test_transport_h2 import H2Server

NO_WAIT = {"backoff_factor": 0.0, "backoff_jitter": 0.0}
Run = Callable[[Callable[[], Awaitable[None]]], None]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    if request.param == "asyncio":
        return lambda main: asyncio.run(main())  # type: ignore[arg-type]
    return lambda main: trio.run(main)


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server(http_handler(app))
    yield server
    server.close()


def client_with(**kwargs: Any) -> tuple[AsyncClient, AsyncHTTPTransport]:
    transport = AsyncHTTPTransport(**kwargs)
    return AsyncClient(transport=transport), transport


def test_a_request_in_flight_then_one_idle_connection(run: Run, server: Server) -> None:
    async def main() -> None:
        client, transport = client_with()
        pool = transport._pool
        async with client:
            async with client.stream("GET", server.url("/bytes/10")) as response:
                assert [r.url for r in pool._requests] == [response.request.url]
                (conn,) = pool.connections
                assert (conn.is_idle(), conn.is_available()) == (False, False)
                await response.aread()
            assert pool._requests == []
            await client.get(server.url("/"))
            (conn,) = pool.connections
            origin = f"http://127.0.0.1:{server.port}"
            assert repr(conn) == f"<HTTPConnection [{origin!r}, HTTP/1.1, IDLE]>"
            assert (conn.is_idle(), conn.is_available(), conn.has_expired()) == (True, True, False)
        assert pool.connections == []

    run(main)


def test_empty_after_retried_status_responses(run: Run, server: Server) -> None:
    async def main() -> None:
        client, transport = client_with(retries=Retry(2, status_forcelist={503}, **NO_WAIT))
        async with client:
            assert (await client.get(server.url("/status/503"))).status_code == 503
            assert transport._pool._requests == []

    run(main)


def test_empty_after_a_retried_read_timeout_and_a_connect_error(run: Run, server: Server) -> None:
    async def main() -> None:
        client, transport = client_with(retries=Retry(1, **NO_WAIT))
        async with client:
            with pytest.raises(ReadTimeout):
                await client.get(server.url("/sleep/2"), timeout=Timeout(0.2))
            assert transport._pool._requests == []
            with pytest.raises(ConnectError):
                await client.get("http://127.0.0.1:1/")
            assert transport._pool._requests == []

    run(main)


def test_a_cancelled_request_leaves(run: Run, server: Server) -> None:
    async def main() -> None:
        client, transport = client_with()
        async with client:
            if sniffio.current_async_library() == "trio":
                with trio.move_on_after(0.2):
                    await client.get(server.url("/sleep/2"))
            else:
                task = asyncio.ensure_future(client.get(server.url("/sleep/2")))
                await asyncio.sleep(0.2)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert transport._pool._requests == []
            await transport._pool.aclose()
            assert transport._pool.connections == []

    run(main)


def test_an_http2_connection(run: Run) -> None:
    server = H2Server()

    async def main() -> None:
        client, transport = client_with(http1=False, http2=True)
        async with client:
            async with client.stream("GET", server.url("/")) as response:
                assert len(transport._pool._requests) == 1
                (conn,) = transport._pool.connections
                assert "HTTP/2, ACTIVE" in conn.info()
                await response.aread()
            assert transport._pool._requests == []
            assert "HTTP/2, IDLE" in transport._pool.connections[0].info()

    try:
        run(main)
    finally:
        server.close()
