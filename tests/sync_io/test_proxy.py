"""`Client` through real proxies on loopback: forward, CONNECT tunnels, SOCKS5, the
environment. Credentials for the proxy reach the proxy and never the origin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sansio import env
from sansio.exceptions import ConnectError, InvalidURL, ProxyError
from sync_io import Client
from tests.proxy_servers import http_proxy, socks4_proxy, socks5_proxy
from tests.servers import TLS, Server, default_app, http_handler, tls_contexts

# Basic credentials "user:secret", as the proxy expects them.
PROXY_AUTH = b"Basic dXNlcjpzZWNyZXQ="


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


def test_forward_proxy_for_http(origin: Server) -> None:
    with (
        Server(http_proxy(require=PROXY_AUTH)) as proxy,
        Client(proxy=f"http://user:secret@127.0.0.1:{proxy.port}") as client,
    ):
        response = client.get(origin.url("/echo"), headers={"X-Test": "1"})
        assert response.status_code == 200
    head = proxy.requests[0]
    assert head.startswith(f"GET {origin.url('/echo')} HTTP/1.1".encode())
    assert b"Proxy-Authorization: " + PROXY_AUTH in head


def test_tunnel_for_https_keeps_proxy_credentials_out(tls: TLS, tls_origin: Server) -> None:
    with (
        Server(http_proxy(require=PROXY_AUTH)) as proxy,
        Client(proxy=f"http://user:secret@127.0.0.1:{proxy.port}", verify=tls.client) as client,
    ):
        url = tls_origin.url("/echo", scheme="https", host="localhost")
        # A Proxy-Authorization of the caller's own must not go through the tunnel either.
        response = client.get(url, headers={"Proxy-Authorization": "Basic c3B5OnNweQ=="})
        assert response.status_code == 200
        assert client.get(url).status_code == 200
    assert proxy.requests[0].startswith(f"CONNECT localhost:{tls_origin.port} HTTP/1.1".encode())
    assert b"Proxy-Authorization: " + PROXY_AUTH in proxy.requests[0]
    assert len(proxy.requests) == 1  # the tunnel was reused for the second request


def test_tunnel_refused_with_407_is_a_proxy_error(tls: TLS, tls_origin: Server) -> None:
    with (
        Server(http_proxy(require=PROXY_AUTH)) as proxy,
        Client(proxy=f"http://127.0.0.1:{proxy.port}", verify=tls.client) as client,
        pytest.raises(ProxyError, match="407"),
    ):
        client.get(tls_origin.url("/", scheme="https", host="localhost"))


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks5(origin: Server, scheme: str) -> None:
    with (
        Server(socks5_proxy(credentials=(b"user", b"secret"))) as proxy,
        Client(proxy=f"{scheme}://user:secret@127.0.0.1:{proxy.port}") as client,
    ):
        assert client.get(origin.url("/")).status_code == 200
    assert proxy.requests == [f"127.0.0.1:{origin.port}".encode()]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_socks5_host_too_long_is_refused_before_connecting(scheme: str) -> None:
    # 305 bytes: more than DNS (253) or a SOCKS5 request (255) can carry. The URL
    # parser refuses it first; `sansio.proxy` would refuse it too (see test_proxy).
    host = ".".join(["a" * 50] * 6)
    with (
        Server(socks5_proxy()) as proxy,
        Client(proxy=f"socks5://127.0.0.1:{proxy.port}") as client,
    ):
        with pytest.raises(InvalidURL, match="longer than 253"):
            client.get(f"{scheme}://{host}/")
        assert proxy.accepted == 0  # refused before connecting to the proxy


def test_environment_proxies_and_no_proxy(origin: Server) -> None:
    with Server(http_proxy()) as proxy:
        previous = env.install(environ={"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
        try:
            with Client() as client:
                assert client.get(origin.url("/")).status_code == 200
            assert len(proxy.requests) == 1
            with Client(trust_env=False) as client:
                assert client.get(origin.url("/")).status_code == 200
            env.install(environ={"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}",
                                 "NO_PROXY": "127.0.0.1"})  # fmt: skip
            with Client() as client:
                assert client.get(origin.url("/")).status_code == 200
            assert len(proxy.requests) == 1  # neither of the last two went through it
        finally:
            env.install(previous)


def test_proxies_mapping_routes_by_pattern(origin: Server) -> None:
    with (
        Server(http_proxy()) as proxy,
        Client(
            proxies={"http://": f"http://127.0.0.1:{proxy.port}", "all://127.0.0.1": None}
        ) as client,
    ):
        assert client.get(origin.url("/")).status_code == 200
        assert proxy.requests == []  # the more specific pattern said: go direct


def test_no_proxy_range(origin: Server) -> None:
    with Server(http_proxy()) as proxy:
        environ = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "127.0.0.0/8"}
        previous = env.install(environ=environ)
        try:
            with Client() as client:
                assert client.get(origin.url("/")).status_code == 200
            assert proxy.requests == []  # 127.0.0.1 is in 127.0.0.0/8: direct
        finally:
            env.install(previous)


def test_socks4a_sends_the_name_and_the_user_id(origin: Server) -> None:
    with (
        Server(socks4_proxy()) as proxy,
        Client(proxy=f"socks4a://alice@127.0.0.1:{proxy.port}") as client,
    ):
        assert client.get(origin.url("/", host="localhost")).status_code == 200
        assert client.get(origin.url("/")).status_code == 200  # an address goes as one
    assert proxy.requests == [
        f"alice@localhost:{origin.port}".encode(),
        f"alice@127.0.0.1:{origin.port}".encode(),
    ]


def test_socks4_to_an_address_or_to_a_name_the_client_resolves(origin: Server) -> None:
    with (
        Server(socks4_proxy()) as proxy,
        Client(proxy=f"socks4://127.0.0.1:{proxy.port}") as client,
    ):
        assert client.get(origin.url("/")).status_code == 200
        # SOCKS4 carries an IPv4 address: the client resolves the name (its IPv4 one).
        assert client.get(origin.url("/", host="localhost")).status_code == 200
        with pytest.raises(ConnectError):
            client.get("http://unresolvable.invalid/")
    assert proxy.requests == [f"@127.0.0.1:{origin.port}".encode()] * 2


def test_socks4_refused(origin: Server) -> None:
    with (
        Server(socks4_proxy()) as proxy,
        Client(proxy=f"socks4a://127.0.0.1:{proxy.port}") as client,
        pytest.raises(ProxyError, match="request rejected or failed"),
    ):
        client.get("http://unresolvable.invalid/")
