"""`AsyncClient` through real proxies on loopback, under asyncio and trio: forward,
CONNECT tunnels, SOCKS5, the environment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

from async_io import AsyncClient
from sansio import env
from sansio.exceptions import ConnectError, InvalidURL, ProxyError
from tests.proxy_servers import http_proxy, socks4_proxy, socks5_proxy
from tests.servers import TLS, Server, default_app, http_handler, tls_contexts

PROXY_AUTH = b"Basic dXNlcjpzZWNyZXQ="  # user:secret

Run = Callable[[Callable[[], Awaitable[Any]]], Any]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    if request.param == "asyncio":
        return lambda main: asyncio.run(main())  # type: ignore[arg-type]
    return lambda main: trio.run(main)


@pytest.fixture(scope="module")
def tls() -> TLS:
    return tls_contexts()


@pytest.fixture
def origin() -> Iterator[Server]:
    with Server(http_handler(default_app)) as server:
        yield server


@pytest.fixture
def tls_origin(tls: TLS) -> Iterator[Server]:
    with Server(http_handler(default_app), tls=tls.server) as server:
        yield server


def test_forward_proxy_for_http(run: Run, origin: Server) -> None:
    with Server(http_proxy(require=PROXY_AUTH)) as proxy:

        async def main() -> int:
            async with AsyncClient(proxy=f"http://user:secret@127.0.0.1:{proxy.port}") as client:
                return (await client.get(origin.url("/echo"))).status_code

        assert run(main) == 200
    assert proxy.requests[0].startswith(f"GET {origin.url('/echo')} HTTP/1.1".encode())
    assert b"Proxy-Authorization: " + PROXY_AUTH in proxy.requests[0]


def test_tunnel_for_https(run: Run, tls: TLS, tls_origin: Server) -> None:
    url = tls_origin.url("/echo", scheme="https", host="localhost")
    with Server(http_proxy(require=PROXY_AUTH)) as proxy:

        async def main() -> list[int]:
            async with AsyncClient(
                proxy=f"http://user:secret@127.0.0.1:{proxy.port}", verify=tls.client
            ) as client:
                first = await client.get(url, headers={"Proxy-Authorization": "Basic eDp5"})
                return [first.status_code, (await client.get(url)).status_code]

        assert run(main) == [200, 200]
    assert proxy.requests[0].startswith(f"CONNECT localhost:{tls_origin.port} HTTP/1.1".encode())
    assert len(proxy.requests) == 1  # one tunnel, reused


def test_tunnel_refused_with_407(run: Run, tls: TLS, tls_origin: Server) -> None:
    with Server(http_proxy(require=PROXY_AUTH)) as proxy:

        async def main() -> None:
            async with AsyncClient(
                proxy=f"http://127.0.0.1:{proxy.port}", verify=tls.client
            ) as client:
                await client.get(tls_origin.url("/", scheme="https", host="localhost"))

        with pytest.raises(ProxyError, match="407"):
            run(main)


def test_socks5(run: Run, origin: Server) -> None:
    with Server(socks5_proxy(credentials=(b"user", b"secret"))) as proxy:

        async def main() -> int:
            async with AsyncClient(proxy=f"socks5://user:secret@127.0.0.1:{proxy.port}") as client:
                return (await client.get(origin.url("/"))).status_code

        assert run(main) == 200
    assert proxy.requests == [f"127.0.0.1:{origin.port}".encode()]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_socks5_host_too_long_is_refused_before_connecting(run: Run, scheme: str) -> None:
    # 305 bytes: more than DNS (253) or a SOCKS5 request (255) can carry. The URL
    # parser refuses it first; `sansio.proxy` would refuse it too (see test_proxy).
    host = ".".join(["a" * 50] * 6)
    with Server(socks5_proxy()) as proxy:

        async def main() -> None:
            async with AsyncClient(proxy=f"socks5://127.0.0.1:{proxy.port}") as client:
                await client.get(f"{scheme}://{host}/")

        with pytest.raises(InvalidURL, match="longer than 253"):
            run(main)
        assert proxy.accepted == 0  # refused before connecting to the proxy


def test_environment_proxies(run: Run, origin: Server) -> None:
    with Server(http_proxy()) as proxy:
        previous = env.install(environ={"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
        try:

            async def main() -> int:
                async with AsyncClient() as client:
                    return (await client.get(origin.url("/"))).status_code

            assert run(main) == 200
        finally:
            env.install(previous)
    assert len(proxy.requests) == 1


def test_no_proxy_range(run: Run, origin: Server) -> None:
    with Server(http_proxy()) as proxy:
        environ = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "127.0.0.0/8"}
        previous = env.install(environ=environ)
        try:

            async def main() -> int:
                async with AsyncClient() as client:
                    return (await client.get(origin.url("/"))).status_code

            assert run(main) == 200
            assert proxy.requests == []  # 127.0.0.1 is in 127.0.0.0/8: direct
        finally:
            env.install(previous)


def test_socks4a_sends_the_name_and_the_user_id(run: Run, origin: Server) -> None:
    with Server(socks4_proxy()) as proxy:

        async def main() -> list[int]:
            async with AsyncClient(proxy=f"socks4a://alice@127.0.0.1:{proxy.port}") as client:
                first = await client.get(origin.url("/", host="localhost"))
                second = await client.get(origin.url("/"))
                return [first.status_code, second.status_code]

        assert run(main) == [200, 200]
    assert proxy.requests == [
        f"alice@localhost:{origin.port}".encode(),
        f"alice@127.0.0.1:{origin.port}".encode(),
    ]


def test_socks4_to_an_address_or_to_a_name_the_client_resolves(run: Run, origin: Server) -> None:
    with Server(socks4_proxy()) as proxy:

        async def main() -> list[int]:
            async with AsyncClient(proxy=f"socks4://127.0.0.1:{proxy.port}") as client:
                first = await client.get(origin.url("/"))
                # SOCKS4 carries an IPv4 address: the client resolves the name first.
                second = await client.get(origin.url("/", host="localhost"))
                with pytest.raises(ConnectError):
                    await client.get("http://unresolvable.invalid/")
                return [first.status_code, second.status_code]

        assert run(main) == [200, 200]
    assert proxy.requests == [f"@127.0.0.1:{origin.port}".encode()] * 2


def test_socks4_refused(run: Run) -> None:
    with Server(socks4_proxy()) as proxy:

        async def main() -> None:
            async with AsyncClient(proxy=f"socks4a://127.0.0.1:{proxy.port}") as client:
                await client.get("http://unresolvable.invalid/")

        with pytest.raises(ProxyError, match="request rejected or failed"):
            run(main)
