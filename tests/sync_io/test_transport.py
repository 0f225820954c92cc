"""`HTTPTransport` and `Client` against real loopback servers (tests/servers.py).

Plain HTTP and TLS, malformed and adversarial responses played byte for byte,
timeouts, connection reuse counted by the server, threads sharing one client,
bounded memory while streaming, uploads, IPv6 and Unix sockets.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sansio.config import Limits, Timeout
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import MAX_RECEIVE_SIZE, RECEIVE_SIZE
from sansio.models import Request
from sansio.pool import PoolStatistics
from sync_io import Client, HTTPTransport
from sync_io.backend import SyncStream
from tests.servers import (
    CLIENT_NAME,
    CLOSE,
    HOLD,
    MALFORMED,
    READ,
    READ_HEAD,
    RESET,
    SHUT_WR,
    STALL,
    TLS,
    Server,
    client_cert_handler,
    default_app,
    http_handler,
    mutual_tls,
    needs_ipv6,
    response,
    scripted,
    short_tempdir,
    tls_contexts,
)

SHORT = 0.2  # seconds: every timeout these tests wait for

Serve = Callable[..., Server]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start servers (``serve(handler, **kwargs)``); all are stopped after the test."""
    servers: list[Server] = []

    def start(handler: Any = None, **kwargs: Any) -> Server:
        server = Server(handler or http_handler(default_app), **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def tls() -> TLS:
    return tls_contexts()


def pool_of(client: Client) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, HTTPTransport)
    return transport._engine.statistics()


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.005)


def assert_no_leaks(client: Client) -> None:
    stats = pool_of(client)
    assert (stats.connecting, stats.active, stats.waiters) == (0, 0, 0), stats


# --------------------------------------------------------------------------- the basics


def test_get_and_post(serve: Serve) -> None:
    server = serve()
    with Client() as client:
        r = client.get(server.url("/"))
        assert r.status_code == 200
        assert r.text == "Hello, world!"
        assert r.http_version == "HTTP/1.1"
        assert r.reason_phrase == "OK"
        assert r.extensions["network_stream"].get_extra_info("server_addr")[1] == server.port
        r = client.post(server.url("/echo"), content=b"payload")
        assert (r.content, r.headers["x-method"], r.headers["x-chunked"]) == (
            b"payload",
            "POST",
            "no",
        )
        r = client.put(server.url("/echo"), json={"a": 1})
        assert r.json() == {"a": 1}
    assert server.accepted == 1


def test_connection_reuse_is_counted_by_the_server(serve: Serve) -> None:
    server = serve()
    with Client() as client:
        bodies = [client.get(server.url("/conn")).text for _ in range(5)]
        assert bodies == ["0"] * 5
        assert pool_of(client).idle == 1
    assert server.accepted == 1


def test_tls(serve: Serve, tls: TLS) -> None:
    server = serve(tls=tls.server)
    with Client(verify=tls.client) as client:
        for host in ("127.0.0.1", "localhost"):
            r = client.get(server.url("/conn", scheme="https", host=host))
            assert r.status_code == 200
            assert r.extensions["network_stream"].get_extra_info("ssl_object") is not None
        r = client.get(server.url("/conn", scheme="https"))
        assert r.text == "0"  # reused: same host, same TLS settings
    # One connection per server name: SNI and certificate checks differ.
    assert server.accepted == 2


def test_tls_fails_closed_without_the_ca(serve: Serve) -> None:
    server = serve(tls=tls_contexts().server)
    with Client() as client, pytest.raises(ConnectError):
        client.get(server.url(scheme="https"))
    with Client() as client:
        assert_no_leaks(client)


@pytest.mark.filterwarnings("ignore:`cert=...` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("form", ["file", "pair"])
def test_client_certificate_with_a_given_context(serve: Serve, tmp_path: Path, form: str) -> None:
    # httpx 0.28 loads cert= into a verify=<SSLContext>: it must never be dropped.
    mtls = mutual_tls(str(tmp_path))
    server = serve(client_cert_handler(), tls=mtls.server)
    url = server.url(scheme="https", host="localhost")
    cert = mtls.cert_file if form == "file" else mtls.cert_pair
    with Client(verify=mtls.client, cert=cert) as client:
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 200
    assert server.requests == [CLIENT_NAME.encode()]  # one connection, with the certificate


def test_a_server_requiring_a_client_certificate_refuses_one_without(
    serve: Serve, tmp_path: Path
) -> None:
    mtls = mutual_tls(str(tmp_path))
    server = serve(client_cert_handler(), tls=mtls.server)
    # Under TLS 1.3 the server's refusal arrives after the client's handshake: on the
    # first read, so a ReadError rather than a ConnectError.
    with Client(verify=mtls.client) as client, pytest.raises(TransportError):
        client.get(server.url(scheme="https", host="localhost"))
    assert server.requests == []


@pytest.mark.filterwarnings("ignore:`cert=...` is deprecated:DeprecationWarning")
def test_a_given_context_gets_the_certificate_when_the_client_is_built(
    serve: Serve, tmp_path: Path
) -> None:
    # As in httpx 0.28: a bad certificate fails at once, and the caller's context is
    # changed in place (it then presents the certificate wherever it is used).
    mtls = mutual_tls(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        Client(verify=mtls.client, cert=str(tmp_path / "missing.pem"))
    with pytest.raises(ssl.SSLError):
        Client(verify=mtls.client, cert=mtls.cert_pair[1])  # a key, no certificate
    server = serve(client_cert_handler(), tls=mtls.server)
    Client(verify=mtls.client, cert=mtls.cert_file).close()
    with Client(verify=mtls.client) as client:
        assert client.get(server.url(scheme="https", host="localhost")).status_code == 200
    assert server.requests == [CLIENT_NAME.encode()]


def test_unsupported_urls_fail_before_any_io() -> None:
    with Client() as client:
        with pytest.raises(UnsupportedProtocol):
            client.get("ftp://example.com/")
        transport = HTTPTransport()
        with pytest.raises(UnsupportedProtocol):
            transport.handle_request(Request("GET", "http:///nohost"))


def test_connect_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Client() as client:
        with pytest.raises(ConnectError):
            client.get(f"http://127.0.0.1:{port}/")
        assert pool_of(client).connections == 0


def test_connect_retries(serve: Serve) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = HTTPTransport(retries=1)
    with Client(transport=transport) as client, pytest.raises(ConnectError):
        client.get(f"http://127.0.0.1:{port}/")


# --------------------------------------------------------------------------- framing


@pytest.mark.parametrize("reply", MALFORMED)
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_malformed_responses_are_errors(serve: Serve, reply: bytes, split: bool) -> None:
    steps: list[Any] = [READ]
    if split and len(reply) > 4:
        third = len(reply) // 3
        steps += [reply[:third], 0.01, reply[third : 2 * third], 0.01, reply[2 * third :]]
    else:
        steps.append(reply)
    server = serve(scripted([*steps, CLOSE]))
    with Client() as client:
        with pytest.raises(RemoteProtocolError):
            # A short body must never come back as if it were the whole body.
            client.get(server.url())
        assert_no_leaks(client)
        assert pool_of(client).idle == 0


def test_truncated_body_while_streaming(serve: Serve) -> None:
    server = serve(scripted([READ, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", CLOSE]))
    with Client() as client:
        with client.stream("GET", server.url()) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            assert next(chunks) == b"12345"
            with pytest.raises(RemoteProtocolError):
                next(chunks)
        assert_no_leaks(client)
        assert pool_of(client).connections == 0


def test_header_limit_at_and_past_the_limit(serve: Serve) -> None:
    def head_of(size: int) -> bytes:
        base = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: \r\n\r\n"
        return base.replace(b"X-Pad: ", b"X-Pad: " + b"a" * (size - len(base)))

    for limits in (Limits(), Limits(max_header_bytes=1000)):  # the default, and one set
        limit = limits.max_header_bytes
        at, past = head_of(limit), head_of(limit + 1)
        assert (len(at), len(past)) == (limit, limit + 1)
        server = serve(scripted([READ, at, READ, past, HOLD]))
        with Client(limits=limits) as client:
            assert client.get(server.url()).status_code == 200
            with pytest.raises(RemoteProtocolError, match="larger than"):
                client.get(server.url())
    assert Limits().max_header_bytes == 256 * 1024


def test_informational_responses_are_skipped(serve: Serve) -> None:
    server = serve(
        scripted(
            [
                READ,
                b"HTTP/1.1 100 Continue\r\n\r\n",
                0.01,
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                response(b"final"),
                READ,
                response(b"again"),
                HOLD,
            ]
        )
    )
    with Client() as client:
        r = client.get(server.url())
        assert (r.status_code, r.content) == (200, b"final")
        assert client.get(server.url()).content == b"again"
    assert server.accepted == 1


def test_head_204_and_304_have_no_body_and_keep_the_connection(serve: Serve) -> None:
    server = serve(
        scripted(
            [
                READ,
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
                READ,
                b"HTTP/1.1 204 No Content\r\n\r\n",
                READ,
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
                READ,
                response(b"after"),
                HOLD,
            ]
        )
    )
    with Client() as client:
        r = client.head(server.url())
        assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "1000")
        r = client.get(server.url())
        assert (r.status_code, r.content) == (204, b"")
        r = client.get(server.url())
        assert (r.status_code, r.content) == (304, b"")
        assert client.get(server.url()).content == b"after"
    assert server.accepted == 1


def test_close_delimited_body(serve: Serve) -> None:
    server = serve(scripted([READ, b"HTTP/1.1 200 OK\r\n\r\nall of ", 0.01, b"it", CLOSE]))
    with Client() as client:
        assert client.get(server.url()).content == b"all of it"
        assert client.get(server.url()).content == b"all of it"
        assert pool_of(client).connections == 0
    assert server.accepted == 2


def test_http_1_0_response_is_not_reused(serve: Serve) -> None:
    reply = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = serve(scripted([READ, reply, HOLD]))
    with Client() as client:
        r = client.get(server.url())
        assert (r.http_version, r.content) == ("HTTP/1.0", b"ok")
        assert client.get(server.url()).content == b"ok"
    assert server.accepted == 2


def test_connection_close_is_honoured(serve: Serve) -> None:
    server = serve()
    with Client() as client:
        assert [client.get(server.url("/close")).text for _ in range(3)] == ["bye"] * 3
        assert pool_of(client).connections == 0
    assert server.accepted == 3


def split_or_not(data: bytes, pause: float) -> list[Any]:
    """The smuggled response in the same write, or after a pause (the connection idle).
    Bytes that come only after the next request went out cannot be told from its
    response by any client; the test waits until they have arrived."""
    if not pause:
        return [data]
    cut = data.index(b"HTTP/1.1", 1)
    return [data[:cut], pause, data[cut:]]


@pytest.mark.parametrize("pause", [0.0, 0.05], ids=["same-write", "while-idle"])
def test_bytes_after_a_response_are_never_the_next_response(serve: Serve, pause: float) -> None:
    smuggled = response(b"evil")
    server = serve(
        scripted(
            [READ, *split_or_not(response(b"one") + smuggled, pause), HOLD],
            [READ, response(b"two"), HOLD],
        )
    )
    with Client() as client:
        assert client.get(server.url()).content == b"one"
        if pause:
            server.sleep(pause * 2)
        assert client.get(server.url()).content == b"two"
    assert server.accepted == 2


def test_idle_connection_closed_by_the_server(serve: Serve) -> None:
    # The server closes each connection soon after answering; the client sees the FIN
    # before reusing the connection and opens a new one.
    server = serve(scripted([READ, response(b"hi"), CLOSE]))
    with Client() as client:
        assert client.get(server.url()).content == b"hi"
        server.sleep(0.05)
        assert client.post(server.url(), content=b"x").content == b"hi"
        assert_no_leaks(client)
    assert server.accepted == 2


@pytest.mark.parametrize("ending", [CLOSE, RESET], ids=["fin", "rst"])
def test_keepalive_race_retries_a_get_once(serve: Serve, ending: Any) -> None:
    # The server keeps the connection open, then drops it when the next request arrives:
    # the client cannot tell before sending. A GET is sent again on a new connection.
    server = serve(
        scripted(
            [READ, response(b"first"), READ, ending],
            [READ, response(b"second"), HOLD],
        )
    )
    with Client() as client:
        assert client.get(server.url()).content == b"first"
        assert client.get(server.url()).content == b"second"
        assert_no_leaks(client)
    assert server.accepted == 2
    assert len(server.requests) == 3


@pytest.mark.parametrize("ending", [CLOSE, RESET], ids=["fin", "rst"])
def test_keepalive_race_never_replays_a_post(serve: Serve, ending: Any) -> None:
    server = serve(
        scripted(
            [READ, response(b"first"), READ, ending],
            [READ, response(b"second"), HOLD],
        )
    )
    with Client() as client:
        assert client.get(server.url()).content == b"first"
        with pytest.raises((RemoteProtocolError, ReadError)):
            client.post(server.url(), content=b"once")
        assert_no_leaks(client)
        server.sleep(0.05)
        assert server.accepted == 1  # never sent again
        assert client.get(server.url()).content == b"second"


def test_retry_happens_only_once(serve: Serve) -> None:
    server = serve(scripted([READ, response(b"first"), READ, CLOSE], [READ, CLOSE]))
    with Client() as client:
        assert client.get(server.url()).content == b"first"
        with pytest.raises(RemoteProtocolError):
            client.get(server.url())
        assert_no_leaks(client)
    assert server.accepted == 2


# --------------------------------------------------------------------------- timeouts


def test_read_timeout(serve: Serve) -> None:
    server = serve(scripted([READ, HOLD]))
    with Client(timeout=Timeout(5.0, read=SHORT)) as client:
        with pytest.raises(ReadTimeout):
            client.get(server.url())
        assert_no_leaks(client)
        assert pool_of(client).connections == 0


def test_read_timeout_in_the_body(serve: Serve) -> None:
    server = serve(scripted([READ, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", HOLD]))
    with Client(timeout=Timeout(5.0, read=SHORT)) as client:
        with pytest.raises(ReadTimeout):
            client.get(server.url())
        assert_no_leaks(client)


def test_write_timeout(serve: Serve) -> None:
    # Small buffers on both ends and a server that never reads: sendall must block.
    server = serve(scripted([STALL]), rcvbuf=4096)
    transport = HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)])
    with Client(transport=transport, timeout=Timeout(5.0, write=SHORT)) as client:
        with pytest.raises(WriteTimeout):
            client.post(server.url(), content=b"x" * (4 << 20))
        assert_no_leaks(client)


def test_connect_timeout_on_a_tls_handshake(serve: Serve, tls: TLS) -> None:
    server = serve(scripted([STALL]))  # accepts, never answers the ClientHello
    with Client(verify=tls.client, timeout=Timeout(5.0, connect=SHORT)) as client:
        with pytest.raises(ConnectTimeout):
            client.get(server.url(scheme="https"))
        assert pool_of(client).connections == 0


def test_pool_timeout(serve: Serve) -> None:
    server = serve()
    limits = Limits(max_connections=1)
    with Client(limits=limits, timeout=Timeout(5.0, pool=SHORT)) as client:
        with client.stream("GET", server.url("/chunks/100")) as held:
            assert held.status_code == 200
            with pytest.raises(PoolTimeout):
                client.get(server.url())
            assert pool_of(client).waiters == 0
            assert held.read() == bytes(range(100))
        assert client.get(server.url()).status_code == 200
        assert_no_leaks(client)
    assert server.accepted == 1


def test_waiter_gets_the_connection_when_it_frees_up(serve: Serve) -> None:
    server = serve()
    with Client(limits=Limits(max_connections=1)) as client:
        held = client.send(client.build_request("GET", server.url("/bytes/10")), stream=True)
        result: list[bytes] = []
        waiter = threading.Thread(target=lambda: result.append(client.get(server.url()).content))
        waiter.start()
        eventually(lambda: pool_of(client).waiters == 1)
        held.read()
        held.close()
        waiter.join(5)
        assert result == [b"Hello, world!"]
        assert_no_leaks(client)
    assert server.accepted == 1


def test_closing_the_transport_wakes_waiters(serve: Serve) -> None:
    server = serve()
    transport = HTTPTransport(limits=Limits(max_connections=1))
    client = Client(transport=transport)
    held = client.send(client.build_request("GET", server.url("/bytes/10")), stream=True)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            client.get(server.url())
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    eventually(lambda: pool_of(client).waiters == 1)
    transport.close()
    waiter.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "closed" in str(errors[0])
    held.close()


# --------------------------------------------------------------------------- streaming


def test_partly_read_response_closes_its_connection(serve: Serve) -> None:
    server = serve()
    with Client() as client:
        with client.stream("GET", server.url("/bytes/300000")) as r:
            next(r.iter_raw())
        assert pool_of(client).connections == 0
        assert client.get(server.url("/conn")).text == "1"


def test_streaming_32_mib_keeps_memory_flat(serve: Serve) -> None:
    size = 32 << 20
    server = serve()
    with Client() as client:
        seen = 0
        tracemalloc.start()
        try:
            with client.stream("GET", server.url(f"/bytes/{size}")) as r:
                for chunk in r.iter_bytes():
                    seen += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert seen == size
        assert peak < 2 << 20, f"peak {peak} bytes while streaming {size}"


def test_reads_grow_while_the_body_arrives_faster_than_it_is_read(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read that comes back full asks RECEIVE_GROWTH times more, up to
    MAX_RECEIVE_SIZE, so a fast body streams in fewer, larger chunks. A short read that
    still brought RECEIVE_SIZE bytes or more keeps the large reads (the 1 MiB body's
    last one: the next response is read with them too); a shorter one (the small
    response's) starts the connection's next read over at RECEIVE_SIZE."""
    body = bytes(range(256)) * 4096  # 1 MiB
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    small = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall"
    replies = [reply, small, reply, reply]
    server = serve(scripted([step for r in replies for step in (READ, r)] + [HOLD]))
    asked: list[int] = []
    unread = [0]  # bytes of the reply not read yet
    recv = SyncStream.recv

    def recv_full(
        self: SyncStream, max_bytes: int, timeout: float | None, shared: bool = False
    ) -> bytes:
        # A network that always has the bytes ready: each read fills up while the reply lasts.
        asked.append(max_bytes)
        want = min(max_bytes, unread[0])
        data = recv(self, max_bytes, timeout, shared)
        while data and len(data) < want:
            data += recv(self, want - len(data), timeout, shared)
        unread[0] -= len(data)
        return data

    monkeypatch.setattr(SyncStream, "recv", recv_full)
    last = len(reply) - RECEIVE_SIZE - 3 * MAX_RECEIVE_SIZE  # the 1 MiB reply's last read
    assert RECEIVE_SIZE <= last < MAX_RECEIVE_SIZE
    seen = []
    with Client() as client:
        for sent in replies:
            asked.clear()
            unread[0] = len(sent)
            with client.stream("GET", server.url()) as r:
                chunks = list(r.iter_bytes())
            assert b"".join(chunks) == (body if sent is reply else b"small")
            seen.append(list(asked))
            if sent is reply and asked[0] == RECEIVE_SIZE:
                assert [len(c) for c in chunks][1:] == [MAX_RECEIVE_SIZE] * 3 + [last]
    fresh = [RECEIVE_SIZE] + [MAX_RECEIVE_SIZE] * 4
    assert seen == [fresh, [MAX_RECEIVE_SIZE], fresh, [MAX_RECEIVE_SIZE] * 5]
    assert server.accepted == 1


# --------------------------------------------------------------------------- uploads


def test_generator_upload_is_chunked(serve: Serve) -> None:
    server = serve()

    def pieces() -> Iterator[bytes]:
        yield b"hello, "
        yield b""
        yield b"world"

    with Client() as client:
        r = client.post(server.url("/echo"), content=pieces())
        assert (r.content, r.headers["x-chunked"]) == (b"hello, world", "yes")


def test_large_upload(serve: Serve) -> None:
    import hashlib

    body = os.urandom(5 << 20)
    server = serve()
    with Client() as client:
        r = client.post(server.url("/digest"), content=body)
        assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


REJECT = response(b"too big", "413 Content Too Large", [b"Connection: close"])


def test_early_413_then_half_close_returns_the_response(serve: Serve) -> None:
    # The server answers before reading the body, sends FIN, and discards what follows.
    server = serve(scripted([READ_HEAD, REJECT, SHUT_WR]))
    with Client() as client:
        r = client.post(server.url(), content=b"x" * (5 << 20))
        assert (r.status_code, r.content) == (413, b"too big")
        assert_no_leaks(client)


def test_early_413_on_a_stalled_upload_returns_the_response(serve: Serve) -> None:
    # The server answers and stops reading; the upload cannot go on. The client sees
    # the response instead of a write timeout.
    server = serve(scripted([READ_HEAD, REJECT, STALL]), rcvbuf=4096)
    transport = HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)])
    with Client(transport=transport, timeout=Timeout(5.0, write=SHORT)) as client:
        r = client.post(server.url(), content=b"x" * (5 << 20))
        assert (r.status_code, r.content) == (413, b"too big")
        assert_no_leaks(client)


def test_early_413_stops_a_chunked_upload(serve: Serve) -> None:
    # The server answers after the head and reads nothing more. Between chunks the
    # client sees the answer and stops: no write blocks, no timeout is needed.
    server = serve(scripted([READ_HEAD, REJECT, STALL]), rcvbuf=4096)
    transport = HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)])
    sent = 0

    def pieces() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(10_000):
            sent += 1
            time.sleep(0.001)
            yield b"x" * 256

    with Client(transport=transport, timeout=Timeout(5.0, write=2.0)) as client:
        start = time.monotonic()
        r = client.post(server.url(), content=pieces())
        assert (r.status_code, r.content) == (413, b"too big")
        assert time.monotonic() - start < 1.5
        assert sent < 1000
        assert_no_leaks(client)


def test_early_413_then_abrupt_close(serve: Serve) -> None:
    # Closing with unread data makes the server's kernel send an RST. The write fails;
    # the client reads on and finds the 413, which arrived before the RST. Linux keeps
    # received data readable after an RST; a platform that drops it gives a
    # WriteError/ReadError instead. Never a hang, never a leak.
    server = serve(scripted([READ_HEAD, REJECT, 0.05, CLOSE]))
    with Client() as client:
        try:
            r = client.post(server.url(), content=b"x" * (5 << 20))
        except (WriteError, ReadError):
            assert not sys.platform.startswith("linux")
        else:
            assert r.status_code == 413
        assert_no_leaks(client)


# --------------------------------------------------------------------------- concurrency


def test_threads_share_one_client(serve: Serve) -> None:
    server = serve()
    errors: list[BaseException] = []
    with Client(limits=Limits(max_connections=4)) as client:

        def worker(n: int) -> None:
            try:
                for i in range(25):
                    r = client.post(server.url("/echo"), content=f"{n}:{i}".encode())
                    assert r.text == f"{n}:{i}"
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        assert_no_leaks(client)
    assert server.peak <= 4
    assert server.accepted <= 4


# --------------------------------------------------------------------------- addresses


@needs_ipv6
def test_ipv6_loopback(serve: Serve) -> None:
    server = serve(family=socket.AF_INET6)
    with Client() as client:
        r = client.get(server.url("/conn"))
        assert (r.status_code, r.text) == (200, "0")
        assert client.get(server.url("/conn")).text == "0"


def test_unix_socket(serve: Serve) -> None:
    with short_tempdir() as directory:
        path = os.path.join(directory, "s")
        server = serve(family=socket.AF_UNIX, path=path)
        with Client(transport=HTTPTransport(uds=path)) as client:
            assert client.get("http://localhost/conn").text == "0"
            assert client.post("http://localhost/echo", content=b"u").content == b"u"
        server.close()
        assert server.accepted == 1


def test_local_address(serve: Serve) -> None:
    server = serve()
    with Client(transport=HTTPTransport(local_address="127.0.0.1")) as client:
        r = client.get(server.url("/"))
        assert r.extensions["network_stream"].get_extra_info("client_addr")[0] == "127.0.0.1"


def test_closed_transport_refuses_requests(serve: Serve) -> None:
    server = serve()
    transport = HTTPTransport()
    with Client(transport=transport) as client:
        assert client.get(server.url()).status_code == 200
    with pytest.raises(RuntimeError):
        transport.handle_request(Request("GET", server.url()))
