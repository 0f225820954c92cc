"""What each shell must do, tested the same way in both: the test_shell_twin.py files
of tests/sync_io and tests/async_io mirror each other line for line (tests/test_twins.py
keeps them in step), so a behaviour tested on one shell is tested on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import h11
import pytest
import trio

from async_io import AsyncClient, AsyncHTTPTransport
from sansio.exceptions import ReadError
from sansio.pool import PoolStatistics
from tests.servers import Server, default_app, http_handler

Run = Callable[[Callable[[], Awaitable[Any]]], Any]


class Interrupted(BaseException):
    """Stands for a cancellation: a cancelled task, Ctrl-C in a thread."""


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    if request.param == "asyncio":
        return lambda main: asyncio.run(main())  # type: ignore[arg-type]
    return lambda main: trio.run(main)


def hangs_up_too(server: Server, conn: socket.socket, index: int) -> None:
    """The default server, for clients that may hang up in the middle of a request."""
    with contextlib.suppress(h11.RemoteProtocolError):
        http_handler(default_app)(server, conn, index)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(hangs_up_too) as server:
        yield server


def pool_of(client: AsyncClient) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, AsyncHTTPTransport)
    return transport._engine.statistics()


async def interrupted_upload() -> AsyncIterator[bytes]:
    yield b"a" * 10
    raise Interrupted


def test_a_cancelled_upload_leaves_nothing_behind(run: Run, server: Server) -> None:
    async def main() -> None:
        async with AsyncClient() as client:
            with pytest.raises(Interrupted):
                await client.post(server.url("/echo"), content=interrupted_upload())
            stats = pool_of(client)
            assert (stats.connecting, stats.active, stats.idle) == (0, 0, 0)
            response = await client.get(server.url("/"))
            assert response.text == "Hello, world!"
            assert server.accepted == 2  # the cut connection was not reused

    run(main)


def test_a_response_outliving_its_client_fails_cleanly(run: Run, server: Server) -> None:
    async def main() -> None:
        client = AsyncClient()
        async with client.stream("GET", server.url("/bytes/1000000")) as response:
            await client.aclose()  # its connections close under the open response
            with pytest.raises(ReadError):
                await response.aread()

    run(main)
