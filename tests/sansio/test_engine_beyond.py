"""The engine's features beyond httpx (issue 13), on the reference interpreter: limits
passed through to the pool and the wire machines, retries, the total deadline, Happy
Eyeballs, 100-continue, interim responses and trailers, record and replay.

Each test runs real exchanges against in-memory peers on a virtual clock, as in
`tests/sansio/test_engine.py`, whose helpers these reuse.
"""

from __future__ import annotations

import pytest

from sansio.config import Limits
from sansio.exceptions import RemoteProtocolError
from sansio.testing import http1_peer

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
