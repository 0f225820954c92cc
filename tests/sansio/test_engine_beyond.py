"""The engine's features beyond httpx (issue 13), on the reference interpreter: limits
passed through to the pool and the wire machines, retries, the total deadline, Happy
Eyeballs, 100-continue, interim responses and trailers, record and replay.

Each test runs real exchanges against in-memory peers on a virtual clock, as in
`tests/sansio/test_engine.py`, whose helpers these reuse.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sansio.config import Limits, Proxy
from sansio.exceptions import ConnectError, ProxyError, RemoteProtocolError
from sansio.testing import HOLD, READ, Emit, Program, http1_peer

from .test_engine import OK, REQUEST, World, response, scripted

# -- limits ---------------------------------------------------------------------------------


def test_per_host_cap_makes_the_second_request_wait_for_the_first() -> None:
    world = World(limits=Limits(max_connections_per_host=1))
    peer = scripted((REQUEST, OK, REQUEST, response(b"two")))
    world.serve(peer)
    other = scripted((REQUEST, response(b"other")))
    world.serve(other, host="other.org")

    async def both() -> list[tuple[int, bytes]]:
        return await world.loop.gather(
            world.fetch(), world.fetch("http://example.org/2"), world.fetch("http://other.org/")
        )

    assert world.run(both()) == [(200, b"ok"), (200, b"two"), (200, b"other")]
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def fields(count: int) -> bytes:
    return b"".join(b"X-%d: v\r\n" % i for i in range(count))


def test_header_limits_reach_the_wire_machines() -> None:
    world = World(limits=Limits(max_header_count=3))
    two, three = response(headers=fields(2)), response(headers=fields(3))
    world.serve(scripted((REQUEST, two, REQUEST, three)))
    assert world.get() == (200, b"ok")  # with Content-Length: 3 fields, at the limit
    with pytest.raises(RemoteProtocolError, match="more than 3 header fields"):
        world.get()
    world.assert_clean()


def test_default_limits_allow_heads_larger_than_the_machines_own_defaults() -> None:
    world = World()
    big = b"X-Big: " + b"b" * (100 * 1024) + b"\r\n" + fields(200)
    world.serve(http1_peer(lambda m, t, h, b: (200, [], b"ok")))
    world.serve(scripted((REQUEST, response(headers=big))), host="big.org")
    assert world.get("http://big.org/") == (200, b"ok")
    world.assert_clean()


# -- SOCKS4 to a host name: resolved by the interpreter, as the engine asks ---------------


def socks4_proxy() -> Callable[[], Program]:
    """A SOCKS4 proxy that records each CONNECT request and answers ``OK`` behind it."""
    requests: list[bytes] = []

    def program() -> Program:
        data = yield READ
        if not data:  # the client gave up before its handshake
            return
        requests.append(data)
        yield Emit(b"\x00\x5a" + bytes(6))
        yield READ
        yield Emit(OK)
        yield HOLD

    program.requests = requests  # type: ignore[attr-defined]
    return program


def test_socks4_sends_the_first_ipv4_address_the_name_resolves_to() -> None:
    world = World(proxy=Proxy("socks4://alice@socks.example:1080"))
    proxy = socks4_proxy()
    world.serve(proxy, host="socks.example", port=1080)
    world.network.add_name("example.org", "2001:db8::1", "192.0.2.7", "192.0.2.8")
    assert world.get("http://example.org/") == (200, b"ok")
    assert proxy.requests == [b"\x04\x01\x00\x50\xc0\x00\x02\x07alice\x00"]  # type: ignore[attr-defined]
    world.assert_clean()


@pytest.mark.parametrize(
    ("addresses", "error", "match"),
    [
        (None, ConnectError, "Name or service not known"),
        ((), ConnectError, "resolved to no address"),
        (("2001:db8::1",), ProxyError, "not an IPv4 address"),
    ],
)
def test_socks4_to_a_name_without_an_ipv4_address_fails_before_the_handshake(
    addresses: tuple[str, ...] | None, error: type[Exception], match: str
) -> None:
    world = World(proxy=Proxy("socks4://socks.example:1080"))
    proxy = socks4_proxy()
    world.serve(proxy, host="socks.example", port=1080)
    if addresses is not None:
        world.network.add_name("example.org", *addresses)
    with pytest.raises(error, match=match):
        world.get("http://example.org/")
    assert proxy.requests == []  # type: ignore[attr-defined]
    world.assert_clean()
    assert all(c.client_closed for c in world.network.connections)


@pytest.mark.parametrize(
    ("proxy_url", "url", "sent"),
    [
        ("socks4://socks.example:1080", "http://192.0.2.9/", b"\xc0\x00\x02\x09\x00"),
        (
            "socks4a://socks.example:1080",
            "http://example.org/",
            b"\x00\x00\x00\x01\x00example.org\x00",
        ),
    ],
)
def test_socks4_to_an_address_or_through_socks4a_resolves_nothing(
    proxy_url: str, url: str, sent: bytes
) -> None:
    world = World(proxy=Proxy(proxy_url))
    proxy = socks4_proxy()
    world.serve(proxy, host="socks.example", port=1080)
    # No name is known to this network: a lookup would fail.
    assert world.get(url) == (200, b"ok")
    assert proxy.requests == [b"\x04\x01\x00\x50" + sent]  # type: ignore[attr-defined]
    world.assert_clean()
