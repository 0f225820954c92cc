"""The transport interfaces: context managers that close, and a method to implement."""

from __future__ import annotations

import asyncio

import pytest

from sansio.models import Request, Response
from sansio.transports import AsyncBaseTransport, BaseTransport


class Echo(BaseTransport):
    def __init__(self) -> None:
        self.closed = 0

    def handle_request(self, request: Request) -> Response:
        return Response(200, content=request.url.host.encode(), request=request)

    def close(self) -> None:
        self.closed += 1


class AsyncEcho(AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = 0

    async def handle_async_request(self, request: Request) -> Response:
        return Response(200, content=request.url.host.encode(), request=request)

    async def aclose(self) -> None:
        self.closed += 1


def test_a_transport_closes_when_its_block_ends() -> None:
    transport = Echo()
    with transport as entered:
        assert entered is transport
        response = transport.handle_request(Request("GET", "https://example.com/"))
        assert response.content == b"example.com"
    assert transport.closed == 1


def test_a_transport_closes_when_its_block_fails() -> None:
    transport = Echo()
    with pytest.raises(KeyError), transport:
        raise KeyError("boom")
    assert transport.closed == 1


def test_the_base_transport_must_be_implemented() -> None:
    with pytest.raises(NotImplementedError, match="handle_request"):
        BaseTransport().handle_request(Request("GET", "https://example.com/"))
    BaseTransport().close()  # nothing to release
    with BaseTransport():
        pass


def test_an_async_transport_closes_when_its_block_ends() -> None:
    async def main() -> None:
        transport = AsyncEcho()
        async with transport as entered:
            assert entered is transport
            response = await transport.handle_async_request(Request("GET", "https://a.example/"))
            assert response.content == b"a.example"
        assert transport.closed == 1
        with pytest.raises(KeyError):
            async with transport:
                raise KeyError("boom")
        assert transport.closed == 2

    asyncio.run(main())


def test_the_async_base_transport_must_be_implemented() -> None:
    async def main() -> None:
        with pytest.raises(NotImplementedError, match="handle_async_request"):
            await AsyncBaseTransport().handle_async_request(Request("GET", "https://a.example/"))
        async with AsyncBaseTransport():
            pass

    asyncio.run(main())
