"""The engine's features beyond httpx (issue 13), on the reference interpreter: limits
passed through to the pool and the wire machines, retries, the total deadline, Happy
Eyeballs, 100-continue, interim responses and trailers, record and replay.

Each test runs real exchanges against in-memory peers on a virtual clock, as in
`tests/sansio/test_engine.py`, whose helpers these reuse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from sansio.config import Limits, Proxy
from sansio.engine import EndOfBody, ResponseHead
from sansio.exceptions import ConnectError, ProxyError, RemoteProtocolError
from sansio.models import Request
from sansio.retry import Retry
from sansio.testing import CLOSE, HOLD, READ, Deadlock, Emit, Program, http1_peer, http2_peer

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


# -- the retry policy ------------------------------------------------------------------------

BUSY = response(b"busy", 503, headers=b"Retry-After: 3\r\n")
NO_JITTER = {"backoff_jitter": 0.0}


def test_a_listed_status_is_retried_after_the_wait_retry_after_asks() -> None:
    world = World(retries=Retry(2, **NO_JITTER))
    peer = scripted((REQUEST, BUSY), (REQUEST, OK))
    world.serve(peer)
    start = world.clock.now
    assert world.get() == (200, b"ok")
    assert world.clock.now - start == 3.0
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]  # the 503 was not read
    world.assert_clean()


def test_the_back_off_doubles_and_the_last_response_is_returned() -> None:
    world = World(retries=Retry(2, backoff_factor=1.0, **NO_JITTER))
    status = response(b"down", 502)
    peer = scripted((REQUEST, status), (REQUEST, status), (REQUEST, status), (REQUEST, OK))
    world.serve(peer)
    start = world.clock.now
    assert world.get() == (502, b"down")
    assert world.clock.now - start == 0.0 + 2.0  # none before the first retry, then 2**1
    assert peer.accepted == [0, 1, 2]  # type: ignore[attr-defined]
    world.assert_clean()


@pytest.mark.parametrize(
    ("retry", "method", "reply"),
    [
        (Retry(2), "POST", BUSY),  # not idempotent
        (Retry(2, retry_after_max=2.0), "GET", BUSY),  # asks for longer than the cap
        (Retry(2), "GET", response(b"oops", 500)),  # not in status_forcelist
        (Retry.from_int(3), "GET", BUSY),  # retries=3: connect failures only
    ],
)
def test_a_response_the_policy_does_not_retry_is_returned_at_once(
    retry: Retry, method: str, reply: bytes
) -> None:
    world = World(retries=retry)
    peer = scripted((REQUEST, reply), (REQUEST, OK))
    world.serve(peer)
    start = world.clock.now
    status, _ = world.run(world.fetch(method=method, content=b"x"))
    assert status == int(reply[9:12])
    assert world.clock.now == start
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_failure_before_the_response_is_retried_on_a_new_connection() -> None:
    world = World(retries=Retry(1, **NO_JITTER))
    peer = scripted((REQUEST, CLOSE), (REQUEST, OK))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    world.assert_clean()


def test_without_a_policy_a_failure_on_a_new_connection_is_the_callers() -> None:
    world = World()
    world.serve(scripted((REQUEST, CLOSE), (REQUEST, OK)))
    with pytest.raises(RemoteProtocolError):
        world.get()
    world.assert_clean()


async def _chunks() -> AsyncIterator[bytes]:
    yield b"one"
    yield b"two"


def test_a_body_that_cannot_be_sent_again_is_not_retried_once_it_went_out() -> None:
    world = World(retries=Retry(3, allowed_methods=None, **NO_JITTER))
    peer = scripted((REQUEST, CLOSE), (REQUEST, OK))
    world.serve(peer)
    with pytest.raises(RemoteProtocolError):
        world.run(world.fetch(method="POST", content=_chunks()))
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_connect_failure_is_retried_even_for_a_body_that_cannot_be_sent_again() -> None:
    world = World(retries=Retry(3, **NO_JITTER))
    refused = [True]

    def accept() -> Program:
        if refused:
            refused.pop()
            raise ConnectError("refused once")
        return http1_peer(lambda m, t, h, b: (200, [], b))()

    world.serve(accept)
    assert world.run(world.fetch(method="POST", content=_chunks())) == (200, b"onetwo")
    world.assert_clean()


def test_connect_retries_of_an_int_keep_httpx_schedule() -> None:
    world = World(retries=3)
    refusals = [True, True, True]

    def accept() -> Program:
        if refusals:
            refusals.pop()
            raise ConnectError("refused")
        return scripted((REQUEST, OK))()

    world.serve(accept)
    start = world.clock.now
    assert world.get() == (200, b"ok")
    assert world.clock.now - start == 0.0 + 0.5 + 1.0


def test_an_http2_response_retried_resets_its_stream_only() -> None:
    answers = iter([(503, [(b"retry-after", b"1")], b"busy"), (200, [], b"ok")])
    world = World(http1=False, http2=True, retries=Retry(1, **NO_JITTER))
    world.serve(http2_peer(lambda m, t, h, b: next(answers)))
    assert world.get() == (200, b"ok")
    assert len(world.network.connections) == 1  # the retry went on the same connection
    world.assert_clean()


@pytest.mark.parametrize(
    ("retries", "error"), [(-1, ValueError), (True, TypeError), (1.5, TypeError)]
)
def test_retries_is_an_int_or_a_policy(retries: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        World(retries=retries)


# -- Expect: 100-continue ----------------------------------------------------------------------

EXPECT_HEADERS = {"Expect": "100-continue"}


def continue_peer(answer: bytes | None, received: list[bytes]) -> Callable[[], Program]:
    """Reads the request head, then answers ``answer`` (a 100, a final response, or
    nothing), then reads on; everything it read is in ``received``, per read."""

    def program() -> Program:
        data = yield READ
        received.append(data)
        assert data.endswith(b"\r\n\r\n")  # the head came alone
        if answer is not None:
            yield Emit(answer)
            if not answer.startswith(b"HTTP/1.1 100"):
                yield HOLD
                return
        received.append((yield READ))
        yield Emit(OK)
        yield HOLD

    return program


def test_expect_continue_body_goes_after_the_100() -> None:
    world = World()
    received: list[bytes] = []
    world.serve(continue_peer(b"HTTP/1.1 100 Continue\r\n\r\n", received))
    start = world.clock.now
    result = world.run(world.fetch(method="POST", content=b"hello", headers=EXPECT_HEADERS))
    assert result == (200, b"ok")
    assert received[1] == b"hello"
    assert world.clock.now == start  # no waiting beyond the 100
    world.assert_clean()


def test_expect_continue_final_response_first_and_the_body_is_never_sent() -> None:
    world = World()
    received: list[bytes] = []
    refusal = response(b"no", 417)
    world.serve(continue_peer(refusal, received))
    result = world.run(world.fetch(method="POST", content=b"hello", headers=EXPECT_HEADERS))
    assert result == (417, b"no")
    assert len(received) == 1
    assert b"hello" not in received[0]
    assert [c.client_closed for c in world.network.connections] == [True]  # not reused
    world.assert_clean()


@pytest.mark.parametrize(
    ("timeouts", "waited"),
    [
        ({}, 1.0),  # EXPECT_CONTINUE_TIMEOUT
        ({"read": 5.0, "expect_continue": 0.25}, 0.25),
        ({"read": 0.5}, 0.5),  # never past the read timeout
        ({"read": None, "expect_continue": None}, None),  # a peer that never sends: deadlock
    ],
)
def test_expect_continue_without_an_answer_the_body_goes_after_the_wait(
    timeouts: dict[str, Any], waited: float | None
) -> None:
    world = World()
    received: list[bytes] = []
    world.serve(continue_peer(None, received))
    start = world.clock.now
    fetch = world.fetch(
        method="POST",
        content=b"hello",
        headers=EXPECT_HEADERS,
        extensions={"timeout": timeouts} if timeouts else {},
    )
    if waited is None:
        with pytest.raises(Deadlock):
            world.run(fetch)
        return
    assert world.run(fetch) == (200, b"ok")
    assert received[1] == b"hello"
    assert world.clock.now - start == waited
    world.assert_clean()


def test_a_body_without_expect_goes_with_its_head() -> None:
    world = World()
    peer = scripted((REQUEST, OK))
    world.serve(peer)
    assert world.run(world.fetch(method="POST", content=b"hello")) == (200, b"ok")
    world.assert_clean()


# -- trailers ----------------------------------------------------------------------------------

CHUNKED_WITH_TRAILERS = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
    b"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Sum: def\r\n\r\n"
)


def test_trailers_are_on_the_response_once_its_body_ends() -> None:
    world = World()
    world.serve(scripted((REQUEST, CHUNKED_WITH_TRAILERS)))

    async def main() -> tuple[list[str], list[str], list[str]]:
        request = Request("GET", "http://example.org/")
        response = await world.transport.handle_async_request(request)
        trailers = response.trailers  # the same object, filled when the body ends
        before = trailers.get_list("x-sum")
        await response.aread()
        await response.aclose()
        return before, trailers.get_list("x-sum"), list(response.headers)

    before, after, headers = world.run(main())
    assert (before, after) == ([], ["abc", "def"])
    assert "x-sum" not in headers
    world.assert_clean()


def test_http2_trailers_are_on_the_response() -> None:
    world = World(http1=False, http2=True)

    def program() -> Program:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        server = h2.connection.H2Connection(config=config)
        server.initiate_connection()
        yield Emit(server.data_to_send())
        while True:
            data = yield READ
            if not data:
                return
            for event in server.receive_data(data):
                if isinstance(event, h2.events.StreamEnded):
                    sid = event.stream_id
                    server.send_headers(sid, [(b":status", b"200")])
                    server.send_data(sid, b"ok")
                    server.send_headers(sid, [(b"x-sum", b"abc")], end_stream=True)
            yield Emit(server.data_to_send())

    world.serve(program)

    async def main() -> list[tuple[bytes, bytes]]:
        response = await world.transport.handle_async_request(Request("GET", "http://example.org/"))
        assert await response.aread() == b"ok"
        await response.aclose()
        return response.trailers.raw

    assert world.run(main()) == [(b"x-sum", b"abc")]
    world.assert_clean()


def test_an_embedder_that_makes_no_response_gets_the_trailers_in_end_of_body() -> None:
    world = World()
    world.serve(scripted((REQUEST, CHUNKED_WITH_TRAILERS)))

    async def main() -> tuple[int, EndOfBody]:
        ex = world.engine.exchange(Request("GET", "http://example.org/"))
        head = await world.loop.drive(ex, ex.send(None))
        assert isinstance(head, ResponseHead)
        while not isinstance(event := await world.loop.drive(ex, ex.send(None)), EndOfBody):
            pass
        assert isinstance(ex.close(), EndOfBody)  # HTTP/1.1 ends with no action
        return head.status_code, event

    status, end = world.run(main())
    assert (status, end.trailers) == (200, [(b"X-Sum", b"abc"), (b"X-Sum", b"def")])
    world.assert_clean()


def test_traced_requests_get_their_trailers_and_a_continue_wait_in_the_request_phase() -> None:
    world = World()
    received: list[bytes] = []
    world.serve(continue_peer(b"HTTP/1.1 100 Continue\r\n\r\n", received))
    world.serve(scripted((REQUEST, CHUNKED_WITH_TRAILERS)), host="trailers.org")
    events: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append(name)

    async def main() -> list[str]:
        ext = {"trace": trace}
        headers = EXPECT_HEADERS
        request = Request(
            "POST", "http://example.org/", content=b"hi", headers=headers, extensions=ext
        )
        await (await world.transport.handle_async_request(request)).aclose()
        response = await world.transport.handle_async_request(
            Request("GET", "http://trailers.org/", extensions=ext)
        )
        await response.aread()
        await response.aclose()
        return response.trailers.get_list("x-sum")

    assert world.run(main()) == ["abc", "def"]
    sent = [name for name in events if name.startswith("http11.send_request_body")]
    assert sent == ["http11.send_request_body.started", "http11.send_request_body.complete"] * 2
    world.assert_clean()
