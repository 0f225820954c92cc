"""sansio.exchange: routes, wire heads, timeouts and the retry rules, without sockets."""

from __future__ import annotations

import ssl

import pytest

from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import (
    CONNECT_RETRY_BACKOFF,
    MAX_RECEIVE_SIZE,
    READY_READ_TIMEOUT,
    RECEIVE_GROWTH,
    RECEIVE_SIZE,
    ROUTE_CACHE_SIZE,
    Planner,
    Route,
    Timeouts,
    connect_retry_delays,
    ends_connection,
    is_connect_failure,
    may_retry,
    next_receive_size,
    retry_on_fresh_connection,
)
from sansio.h1 import MAX_HEADER_BYTES, H1Connection
from sansio.h2 import H2Connection
from sansio.models import Request
from sansio.streams import ByteStream
from sansio.tls import ALPN_H1, ALPN_H2, ALPN_H2_H1
from sansio.wire import FailurePhase, RequestHead, RequestNotProcessed, ResponseHead


def plan(
    url: str, planner: Planner | None = None, **kwargs: object
) -> tuple[Route, RequestHead, bool]:
    return (planner or Planner()).plan(Request("GET", url, **kwargs))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- constants


def test_constants() -> None:
    assert RECEIVE_SIZE == 65536
    assert 0 < READY_READ_TIMEOUT < 0.01
    assert CONNECT_RETRY_BACKOFF == 0.5


def test_reads_grow_while_full_up_to_the_cap_and_start_over_when_short() -> None:
    assert (RECEIVE_GROWTH, MAX_RECEIVE_SIZE) == (4, 256 * 1024)
    assert next_receive_size(RECEIVE_SIZE, RECEIVE_SIZE) == RECEIVE_SIZE * RECEIVE_GROWTH
    assert next_receive_size(RECEIVE_SIZE, RECEIVE_SIZE - 1) == RECEIVE_SIZE
    # Short but RECEIVE_SIZE or more (a body streaming in): the large reads go on.
    assert next_receive_size(MAX_RECEIVE_SIZE, RECEIVE_SIZE) == MAX_RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE, MAX_RECEIVE_SIZE - 1) == MAX_RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE + 2, MAX_RECEIVE_SIZE + 1) == MAX_RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE, RECEIVE_SIZE - 1) == RECEIVE_SIZE
    # At the cap it stays there; past it (a size no growth reaches) it comes back down.
    assert next_receive_size(MAX_RECEIVE_SIZE, MAX_RECEIVE_SIZE) == MAX_RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE + 1, MAX_RECEIVE_SIZE + 1) == MAX_RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE, 1) == RECEIVE_SIZE
    assert next_receive_size(MAX_RECEIVE_SIZE, 0) == RECEIVE_SIZE  # end of stream


# --------------------------------------------------------------------------- timeouts


def test_timeouts_from_the_request_extension() -> None:
    request = Request(
        "GET",
        "http://a/",
        extensions={"timeout": {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}},
    )
    assert Timeouts.of(request) == Timeouts(connect=1.0, read=2.0, write=3.0, pool=4.0)


def test_timeouts_missing_or_partial() -> None:
    assert Timeouts.of(Request("GET", "http://a/")) == Timeouts()
    assert Timeouts.of(Request("GET", "http://a/")) is Timeouts.of(Request("GET", "http://b/"))
    partial = Request("GET", "http://a/", extensions={"timeout": {"read": 5.0}})
    assert Timeouts.of(partial) == Timeouts(read=5.0)


def test_timeouts_follow_the_values_of_each_request() -> None:
    # Each request's values count, never the dict the last request had: the same dict
    # changed in place between two requests, or other values, give other timeouts.
    given: dict[str, float | None] = {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}
    first = Timeouts.of(Request("GET", "http://a/", extensions={"timeout": given}))
    again = Timeouts.of(Request("GET", "http://a/", extensions={"timeout": dict(given)}))
    assert first == again == Timeouts(connect=1.0, read=2.0, write=3.0, pool=4.0)
    given["read"] = 9.0
    changed = Timeouts.of(Request("GET", "http://a/", extensions={"timeout": given}))
    assert changed == Timeouts(connect=1.0, read=9.0, write=3.0, pool=4.0)
    given["expect_continue"] = None
    assert Timeouts.of(Request("GET", "http://a/", extensions={"timeout": given})) == Timeouts(
        connect=1.0, read=9.0, write=3.0, pool=4.0, expect_continue=None
    )
    assert first == Timeouts(connect=1.0, read=2.0, write=3.0, pool=4.0)  # not changed


def test_read_timeout_after_a_write_failure() -> None:
    timeouts = Timeouts(read=7.0, write=1.0)
    # The server went away: its answer, if any, is there at once; the usual timeout holds.
    assert timeouts.after_write_failure(WriteError("reset")) == 7.0
    # The server stopped reading: only an answer that has already arrived counts.
    assert timeouts.after_write_failure(WriteTimeout("timed out")) == READY_READ_TIMEOUT
    assert Timeouts().after_write_failure(WriteError("x")) is None


# --------------------------------------------------------------------------- routes


def test_plain_http_route_and_head() -> None:
    route, head, has_body = plan("http://example.com/a/b?c=d")
    assert (route.host, route.port, route.tls, route.uds) == ("example.com", 80, None, None)
    assert head == RequestHead(
        method=b"GET",
        target=b"/a/b?c=d",
        headers=Request("GET", "http://example.com/a/b?c=d").headers.raw,
        authority=b"example.com",
        scheme=b"http",
    )
    assert has_body is False


def test_https_route_carries_tls_settings() -> None:
    context = ssl.create_default_context()
    planner = Planner(verify=context, http2=True)
    route, head, _ = plan("https://Example.COM:8443/", planner)
    assert (route.host, route.port) == ("example.com", 8443)
    assert route.tls is not None
    assert route.tls.verify is context
    assert route.tls.server_hostname == "example.com"
    assert route.tls.alpn == ALPN_H2_H1  # HTTP/2 preferred
    assert route.multiplex is True  # the pool waits for the first connection's answer
    assert head.scheme == b"https"
    assert head.authority == b"example.com:8443"
    assert plan("https://example.com/")[0].port == 443
    default = plan("https://example.com/")[0]
    assert default.tls.alpn == ALPN_H1  # type: ignore[union-attr]
    assert default.multiplex is False


def test_a_protocol_switch_goes_over_an_http11_connection_of_its_own() -> None:
    upgrade = {"headers": {"Upgrade": "websocket", "Connection": "Upgrade"}}
    planner = Planner(http2=True)
    shared = plan("https://a.example/", planner)[0]
    route = plan("https://a.example/ws", planner, **upgrade)[0]
    # No Upgrade over HTTP/2 (RFC 9113 §8.2.2): only HTTP/1.1 is offered for it.
    assert (route.tls.alpn, route.multiplex) == (ALPN_H1, False)  # type: ignore[union-attr]
    assert route.key != shared.key
    assert plan("https://a.example/ws", planner, **upgrade)[0] == route  # the same pool
    assert plan("https://a.example/", planner)[0] is shared  # not remembered for others
    # Plain HTTP/1.1 or HTTP/2 alone: nothing to choose.
    assert plan("https://a.example/ws", Planner(), **upgrade)[0].multiplex is False
    only_h2 = plan("https://a.example/ws", Planner(http1=False, http2=True), **upgrade)[0]
    assert only_h2.multiplex is True


def test_a_websocket_with_the_protocol_extension_may_go_over_http2() -> None:
    # RFC 8441: the shared connection opens a tunnel on a stream if HTTP/2 is negotiated.
    upgrade = {"headers": {"Upgrade": "websocket"}, "extensions": {"protocol": "websocket"}}
    planner = Planner(http2=True)
    shared = plan("https://a.example/", planner)[0]
    assert plan("https://a.example/ws", planner, **upgrade)[0] is shared


def test_route_keys_name_interchangeable_connections() -> None:
    planner = Planner()
    key = plan("https://a.example/x", planner)[0].key
    assert plan("https://a.example/y?z", planner)[0].key == key
    assert hash(plan("https://a.example/", planner)[0].key) == hash(key)
    assert plan("http://a.example/", planner)[0].key != key
    assert plan("https://b.example/", planner)[0].key != key
    assert plan("https://a.example:444/", planner)[0].key != key
    # Different TLS settings never share a connection.
    assert plan("https://a.example/", Planner(verify=False))[0].key != key
    assert plan("https://a.example/", Planner(verify=ssl.create_default_context()))[0].key != key


def test_routes_are_planned_once_per_origin() -> None:
    planner = Planner()
    first = plan("https://a.example/x", planner)[0]
    assert plan("https://a.example/y?z=1", planner)[0] is first
    assert plan("https://a.example:443/", planner)[0] == first  # same key, own entry
    assert plan("http://a.example/", planner)[0] is not first


def test_route_cache_at_and_past_its_limit() -> None:
    planner = Planner(route_cache_size=3)
    routes = [plan(f"http://h{i}.example/", planner)[0] for i in range(3)]
    # At the limit every route is remembered.
    assert [plan(f"http://h{i}.example/", planner)[0] for i in range(3)] == routes
    assert all(plan(f"http://h{i}.example/", planner)[0] is routes[i] for i in range(3))
    # One past it the cache starts over: still correct, still bounded.
    fourth = plan("http://h3.example/", planner)[0]
    assert len(planner._routes) == 1
    again = plan("http://h0.example/", planner)[0]
    assert again == routes[0]
    assert again is not routes[0]
    assert plan("http://h3.example/", planner)[0] is fourth
    assert ROUTE_CACHE_SIZE == 256
    with pytest.raises(ValueError, match="route_cache_size"):
        Planner(route_cache_size=0)


def test_ipv6_host_is_unbracketed_for_connecting() -> None:
    route, head, _ = plan("http://[::1]:8080/")
    assert (route.host, route.port) == ("::1", 8080)
    assert head.authority == b"[::1]:8080"


def test_unix_socket_route() -> None:
    route, _, _ = plan("http://localhost/x", Planner(uds="/tmp/s"))
    assert route.uds == "/tmp/s"
    assert route.key != plan("http://localhost/x")[0].key


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/relative", "missing an 'http://' or 'https://' protocol"),
        ("ftp://example.com/", "unsupported protocol 'ftp://'"),
        ("http:///path", "has no host"),
    ],
)
def test_unsupported_urls(url: str, message: str) -> None:
    request = Request("GET", url)
    with pytest.raises(UnsupportedProtocol, match=message) as info:
        Planner().plan(request)
    assert info.value.request is request
    with pytest.raises(UnsupportedProtocol):  # failures are not remembered
        Planner().plan(request)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, False),
        ({"content": b""}, False),
        ({"content": b"x"}, True),
        ({"content": iter([b"x"])}, True),
        ({"headers": {"Transfer-Encoding": "chunked"}}, True),
    ],
)
def test_has_body(kwargs: dict[str, object], expected: bool) -> None:
    request = Request("POST", "http://a/", **kwargs)  # type: ignore[arg-type]
    assert Planner().plan(request)[2] is expected


# --------------------------------------------------------------------------- connections


def test_new_connection_applies_the_header_limits() -> None:
    wire = Planner(max_header_bytes=64, max_header_count=2).new_connection(None)
    assert isinstance(wire, H1Connection)
    sid = wire.start_request(plan("http://a/")[1], has_body=False)
    wire.data_to_send()
    wire.receive_data(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="more than 2 header fields"):
        wire.next_step(sid)
    assert isinstance(Planner().new_connection("http/1.1"), H1Connection)
    with pytest.raises(ConnectError, match="'h2' through ALPN, never offered"):
        Planner().new_connection("h2")


def test_http_versions() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Planner(http1=False, http2=False)
    assert MAX_HEADER_BYTES == 64 * 1024


@pytest.mark.parametrize(
    ("http1", "http2", "alpn", "https_multiplex", "http_multiplex"),
    [
        (True, False, ALPN_H1, False, False),
        (True, True, ALPN_H2_H1, True, False),  # plain http: HTTP/1.1, as httpx
        (False, True, ALPN_H2, True, True),  # plain http: h2c by prior knowledge
    ],
)
def test_routes_by_http_versions(
    http1: bool, http2: bool, alpn: tuple[str, ...], https_multiplex: bool, http_multiplex: bool
) -> None:
    planner = Planner(http1=http1, http2=http2)
    secure = plan("https://a.example/", planner)[0]
    assert secure.tls is not None
    assert secure.tls.alpn == alpn
    assert secure.multiplex is https_multiplex
    assert plan("http://a.example/", planner)[0].multiplex is http_multiplex


def test_route_keys_tell_protocol_choices_apart() -> None:
    # Pools are per transport, but a key names everything that makes connections differ.
    keys = {
        plan(url, Planner(http1=http1, http2=http2))[0].key
        for url in ("http://a.example/", "https://a.example/")
        for http1, http2 in ((True, False), (True, True), (False, True))
    }
    assert len(keys) == 5  # plain http with HTTP/1.1 enabled is the same either way


def test_new_connection_by_alpn() -> None:
    both = Planner(http2=True)
    assert isinstance(both.new_connection("h2"), H2Connection)
    assert isinstance(both.new_connection("http/1.1"), H1Connection)
    assert isinstance(both.new_connection(None), H1Connection)  # a server without ALPN
    with pytest.raises(ConnectError, match="'spdy/3' through ALPN, never offered"):
        both.new_connection("spdy/3")
    only_h2 = Planner(http1=False, http2=True)
    assert isinstance(only_h2.new_connection("h2"), H2Connection)
    assert isinstance(only_h2.new_connection(None), H2Connection)  # prior knowledge, h2c
    with pytest.raises(ConnectError, match=r"'http/1\.1' through ALPN, never offered"):
        only_h2.new_connection("http/1.1")


def test_http2_machine_trusts_the_models_headers() -> None:
    wire = Planner(http2=True).new_connection("h2")
    assert wire.max_streams > 1
    head = RequestHead(
        method=b"GET", target=b"/", headers=[(b"X", b"\x01")], authority=b"a", scheme=b"https"
    )
    wire.start_request(head, has_body=False)  # a validating machine would refuse \x01
    assert wire.data_to_send()


def test_request_headers_are_not_validated_twice() -> None:
    # The models validated them; the machine must pass them through untouched.
    wire = Planner().new_connection(None)
    head = RequestHead(
        method=b"GET", target=b"/", headers=[(b"Host", b"a"), (b"X", b"\x01")],
        authority=b"a", scheme=b"http",
    )  # fmt: skip
    wire.start_request(head, has_body=False)
    assert b"X: \x01\r\n" in wire.data_to_send()


def test_response_from_a_head() -> None:
    request = Request("GET", "http://a/")
    head = ResponseHead(
        status_code=404,
        reason=b"Not Found",
        headers=[(b"Content-Type", b"text/plain"), (b"X-Two", b"1"), (b"x-two", b"2")],
        http_version="HTTP/1.1",
    )
    stream = ByteStream(b"gone")
    marker = object()
    response = Planner.response(head, request, stream, marker)
    assert response.status_code == 404
    assert response.request is request
    assert response.headers["content-type"] == "text/plain"
    assert response.headers.get_list("x-two") == ["1", "2"]
    assert response.headers.raw[0] == (b"Content-Type", b"text/plain")
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "Not Found"
    assert response.extensions["network_stream"] is marker
    assert "stream_id" not in response.extensions
    assert response.read() == b"gone"


def test_http2_response_has_a_stream_id_and_no_reason_phrase() -> None:
    head = ResponseHead(status_code=404, reason=b"", headers=[], http_version="HTTP/2")
    marker = object()
    response = Planner.response(head, Request("GET", "https://a/"), ByteStream(b""), marker, 7)
    assert response.http_version == "HTTP/2"
    assert response.extensions["stream_id"] == 7
    assert response.extensions["network_stream"] is marker
    assert "reason_phrase" not in response.extensions
    assert response.reason_phrase == "Not Found"  # the standard phrase, as httpx


# --------------------------------------------------------------------------- retries

AWAITING = FailurePhase.AWAITING_RESPONSE


@pytest.mark.parametrize(
    ("error", "phase", "expected"),
    [
        (ReadError("reset"), AWAITING, True),
        (WriteError("broken pipe"), FailurePhase.SENDING, True),
        (RemoteProtocolError("server disconnected"), AWAITING, True),
        (RemoteProtocolError("server disconnected"), FailurePhase.SENDING, True),
        # Part of a response came: the server saw the request.
        (RemoteProtocolError("bad chunk"), FailurePhase.RECEIVING, False),
        (ReadError("reset"), FailurePhase.RECEIVING, False),
        # Timeouts: the server may be busy with the request.
        (ReadTimeout("slow"), AWAITING, False),
        (WriteTimeout("slow"), FailurePhase.SENDING, False),
        (PoolTimeout("busy"), AWAITING, False),
        (LocalProtocolError("ours"), FailurePhase.SENDING, False),
        (KeyboardInterrupt(), AWAITING, False),
    ],
)
def test_may_retry_by_error(error: BaseException, phase: FailurePhase, expected: bool) -> None:
    assert may_retry(Request("GET", "http://a/"), True, phase, error) is expected


def test_may_retry_only_reused_connections() -> None:
    assert may_retry(Request("GET", "http://a/"), False, AWAITING, ReadError("x")) is False


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", True), ("HEAD", True), ("PUT", True), ("DELETE", True), ("OPTIONS", True),
     ("POST", False), ("PATCH", False)],
)  # fmt: skip
def test_may_retry_only_idempotent_methods(method: str, expected: bool) -> None:
    request = Request(method, "http://a/", content=b"body")
    assert may_retry(request, True, AWAITING, ReadError("x")) is expected


def test_may_retry_only_bodies_that_can_be_sent_again() -> None:
    one_shot = Request("PUT", "http://a/", content=iter([b"x"]))
    assert may_retry(one_shot, True, AWAITING, ReadError("x")) is False
    form = Request("PUT", "http://a/", files={"f": b"data"})
    assert may_retry(form, True, AWAITING, ReadError("x")) is True
    assert may_retry(Request("PUT", "http://a/", json=[1]), True, AWAITING, ReadError("x"))


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
@pytest.mark.parametrize("reused", [True, False])
def test_may_retry_a_request_the_server_did_not_process(method: str, reused: bool) -> None:
    # GOAWAY above the stream, or REFUSED_STREAM: any method, any connection (RFC 9113 §8.7).
    refused = RequestNotProcessed("refused")
    for phase in (FailurePhase.SENDING, AWAITING):
        assert may_retry(Request(method, "http://a/", content=b"x"), reused, phase, refused)
    one_shot = Request(method, "http://a/", content=iter([b"x"]))
    assert may_retry(one_shot, reused, AWAITING, refused) is False


def test_retry_on_fresh_connection() -> None:
    # The keep-alive race on HTTP/1.1: other idle connections may be stale too.
    assert retry_on_fresh_connection(ReadError("reset")) is True
    assert retry_on_fresh_connection(RemoteProtocolError("server disconnected")) is True
    # Refused requests, and the streams of a failed multiplexed connection, retry together.
    assert retry_on_fresh_connection(RequestNotProcessed("goaway")) is False
    assert retry_on_fresh_connection(ReadError("reset"), multiplexed=True) is False


def test_ends_connection() -> None:
    # A read that timed out or was cancelled lost no byte: only its stream gives up.
    assert ends_connection(ReadTimeout("slow")) is False
    assert ends_connection(KeyboardInterrupt()) is False
    assert ends_connection(ReadError("reset")) is True
    assert ends_connection(RuntimeError("a backend bug")) is True


def test_connect_retry_delays() -> None:
    assert list(connect_retry_delays(0)) == []
    assert list(connect_retry_delays(1)) == [0.0]
    assert list(connect_retry_delays(5)) == [0.0, 0.5, 1.0, 2.0, 4.0]


def test_is_connect_failure() -> None:
    assert is_connect_failure(ConnectError("refused"))
    assert is_connect_failure(ConnectTimeout("slow"))
    assert not is_connect_failure(ReadError("reset"))
    assert not is_connect_failure(ValueError("bug"))


def test_proxied_routes_and_heads() -> None:
    from sansio.proxy import ProxyMode

    planner = Planner(http2=True, proxy="http://user:pw@proxy.example:3128")
    route, head, _ = planner.plan(Request("GET", "http://origin.example/a?b=1"))
    assert route.proxy is not None
    assert route.proxy.mode is ProxyMode.FORWARD
    assert (route.host, route.port, route.tls, route.multiplex) == (
        "proxy.example",
        3128,
        None,
        False,
    )
    # Forward proxying: absolute-form target and credentials for the proxy.
    assert head.target == b"http://origin.example/a?b=1"
    assert (b"Proxy-Authorization", b"Basic dXNlcjpwdw==") in head.headers
    # A forward proxy is always spoken to in HTTP/1.1, whatever ALPN or http1= say.
    assert isinstance(planner.new_connection(None, route), H1Connection)

    tunnel, inner, _ = planner.plan(Request("GET", "https://origin.example/"))
    assert tunnel.proxy is not None
    assert tunnel.proxy.mode is ProxyMode.TUNNEL
    assert tunnel.multiplex  # the origin may pick h2 inside the tunnel
    assert tunnel.proxy.origin_tls is not None
    assert inner.target == b"/"
    assert not any(name.lower() == b"proxy-authorization" for name, _ in inner.headers)
    assert isinstance(planner.new_connection("h2", tunnel), H2Connection)
