"""The HTTP/1.1 machine, driven against a real h11 server and against raw bytes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.exceptions import LocalProtocolError, RemoteProtocolError
from sansio.h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, H1Connection
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
)

HOST = (b"Host", b"example.com")


def head(
    method: bytes = b"GET",
    target: bytes = b"/",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> RequestHead:
    return RequestHead(
        method=method,
        target=target,
        headers=[HOST] if headers is None else headers,
        authority=b"example.com",
        scheme=b"http",
    )


def feeds(data: bytes) -> Iterator[list[bytes]]:
    """``data`` whole, cut in two at every byte, and one byte at a time."""
    yield [data]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


@dataclass
class Result:
    head: ResponseHead
    body: bytes
    trailers: list[tuple[bytes, bytes]]
    sent: bytes


def drive(
    conn: H1Connection, sid: int, pieces: list[bytes], body: list[bytes] | None = None
) -> Result:
    """Play a whole exchange: write what is asked, feed ``pieces`` (then EOF)."""
    incoming = iter(pieces)
    chunks = iter(body or [])
    sent = []
    response: ResponseHead | None = None
    data = []
    eofs = 0
    while True:
        step = conn.next_step(sid)
        if step is SEND:
            sent.append(conn.data_to_send())
        elif step is RECEIVE:
            piece = next(incoming, b"")
            eofs += not piece
            assert eofs < 3, "the machine keeps asking for data after EOF"
            conn.receive_data(piece)
        elif step is NEED_BODY:
            conn.send_body(sid, next(chunks, None))
        elif isinstance(step, ResponseHead):
            assert response is None
            response = step
        elif isinstance(step, BodyChunk):
            assert step.data
            assert type(step.data) is bytes
            data.append(step.data)
        else:
            assert isinstance(step, EndOfBody)
            assert response is not None
            return Result(response, b"".join(data), step.trailers, b"".join(sent))


def fetch(
    raw: bytes,
    pieces: list[bytes] | None = None,
    max_header_bytes: int = MAX_HEADER_BYTES,
    max_header_count: int = MAX_HEADER_COUNT,
) -> tuple[H1Connection, Result]:
    """Send a GET, answer with ``raw`` cut into ``pieces``."""
    conn = H1Connection(max_header_bytes=max_header_bytes, max_header_count=max_header_count)
    sid = conn.start_request(head(), has_body=False)
    result = drive(conn, sid, [raw] if pieces is None else pieces)
    conn.release(sid)
    return conn, result


def fetch_error(
    raw: bytes,
    pieces: list[bytes],
    max_header_bytes: int = MAX_HEADER_BYTES,
    max_header_count: int = MAX_HEADER_COUNT,
) -> str:
    """Send a GET, answer with ``raw`` cut into ``pieces``; return the error message."""
    conn = H1Connection(max_header_bytes=max_header_bytes, max_header_count=max_header_count)
    sid = conn.start_request(head(), has_body=False)
    with pytest.raises(RemoteProtocolError) as info:
        drive(conn, sid, pieces)
    assert not conn.is_reusable
    # A failed stream keeps failing until it is released; then the connection is idle
    # but never offered again.
    with pytest.raises(RuntimeError, match="failed earlier"):
        conn.next_step(sid)
    conn.release(sid)
    assert conn.is_idle
    assert not conn.can_start_request
    return str(info.value)


class Server:
    """A real h11 server on the other end, checking every byte the client sends."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.SERVER)

    def read_request(self, data: bytes) -> tuple[h11.Request, bytes]:
        self.h11.receive_data(data)
        request = self.h11.next_event()
        assert isinstance(request, h11.Request)
        body = b""
        while True:
            event = self.h11.next_event()
            if isinstance(event, h11.Data):
                body += event.data
            else:
                assert isinstance(event, h11.EndOfMessage)
                return request, body

    def respond(
        self, status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> bytes:
        if headers is None:
            headers = [("Content-Length", str(len(body)))]
        out = self.h11.send(h11.Response(status_code=status, headers=headers))
        if body:
            out += self.h11.send(h11.Data(data=body))
        out += self.h11.send(h11.EndOfMessage())
        return out


# -- happy paths against an h11 server --------------------------------------------


def test_get_and_keep_alive_reuse() -> None:
    conn = H1Connection()
    server = Server()
    assert (conn.is_idle, conn.is_reusable, conn.can_start_request) == (True, True, True)
    assert conn.max_streams == 1
    for n in range(3):
        sid = conn.start_request(head(target=b"/%d" % n), has_body=False)
        assert not conn.is_idle
        assert not conn.can_start_request
        assert conn.next_step(sid) is SEND
        request, body = server.read_request(conn.data_to_send())
        assert request.target == b"/%d" % n
        assert body == b""
        assert conn.next_step(sid) is RECEIVE
        assert conn.data_to_send() == b""
        conn.receive_data(server.respond(body=b"hello %d" % n))
        response = conn.next_step(sid)
        assert response == ResponseHead(
            status_code=200,
            reason=b"",
            headers=[(b"Content-Length", b"7")],
            http_version="HTTP/1.1",
        )
        assert conn.next_step(sid) == BodyChunk(b"hello %d" % n)
        assert conn.next_step(sid) == EndOfBody([])
        with pytest.raises(RuntimeError, match="already ended"):
            conn.next_step(sid)
        conn.release(sid)
        server.h11.start_next_cycle()
        assert (conn.is_idle, conn.is_reusable, conn.can_start_request) == (True, True, True)
    assert sid == 3  # stream ids count up


def test_upload_with_content_length() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"POST", headers=[HOST, (b"Content-Length", b"11")]), has_body=True
    )
    assert conn.next_step(sid) is SEND
    sent = conn.data_to_send()
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"hello ")
    conn.send_body(sid, b"")  # an empty chunk is nothing
    assert conn.next_step(sid) is SEND
    sent += conn.data_to_send()
    conn.send_body(sid, b"world")
    conn.send_body(sid, None)
    assert conn.next_step(sid) is SEND
    sent += conn.data_to_send()
    assert conn.next_step(sid) is RECEIVE
    server = Server()
    request, body = server.read_request(sent)
    assert request.method == b"POST"
    assert body == b"hello world"
    assert (b"content-length", b"11") in list(request.headers)
    with pytest.raises(RuntimeError, match="has ended"):
        conn.send_body(sid, b"more")


@pytest.mark.parametrize("explicit", [False, True])
def test_upload_chunked(explicit: bool) -> None:
    headers = [HOST, (b"transfer-encoding", b"chunked")] if explicit else [HOST]
    conn = H1Connection()
    sid = conn.start_request(head(b"PUT", headers=headers), has_body=True)
    server = Server()
    sent = b""
    chunks = iter([b"a", b"bc", b"", b"def", None])
    while (step := conn.next_step(sid)) is not RECEIVE:
        if step is SEND:
            sent += conn.data_to_send()
        else:
            assert step is NEED_BODY
            conn.send_body(sid, next(chunks))
    request, body = server.read_request(sent)
    assert body == b"abcdef"
    assert list(request.headers).count((b"transfer-encoding", b"chunked")) == 1
    conn.receive_data(server.respond(body=b"ok"))
    assert conn.next_step(sid) == ResponseHead(
        status_code=200, reason=b"", headers=[(b"Content-Length", b"2")], http_version="HTTP/1.1"
    )


def test_request_without_body_but_chunked_header_sends_empty_body() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(headers=[HOST, (b"Transfer-Encoding", b"chunked")]), has_body=False
    )
    assert conn.next_step(sid) is SEND
    _request, body = Server().read_request(conn.data_to_send())
    assert body == b""
    assert conn.next_step(sid) is RECEIVE


def test_chunked_response_with_trailers_every_split() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    for pieces in feeds(raw):
        conn, result = fetch(raw, pieces)
        assert result.head.reason == b"OK"
        assert result.body == b"hello world"
        assert result.trailers == [(b"X-Checksum", b"abc")]
        assert conn.is_reusable


def test_content_length_response_every_split() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhello"
    for pieces in feeds(raw):
        conn, result = fetch(raw, pieces)
        assert result.body == b"hello"
        # Names keep the server's casing; repeats and order are preserved.
        assert result.head.headers == [
            (b"Content-Length", b"5"),
            (b"Set-Cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
        ]
        assert conn.is_reusable


def test_close_delimited_body_every_split() -> None:
    raw = b"HTTP/1.1 200 OK\r\n\r\nall of this until EOF"
    for pieces in feeds(raw):
        conn, result = fetch(raw, pieces)
        assert result.body == b"all of this until EOF"
        assert not conn.is_reusable


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ],
)
def test_connection_close_and_http10_are_not_reused(raw: bytes) -> None:
    conn, result = fetch(raw)
    assert result.body == b"ok"
    assert not conn.is_reusable
    assert not conn.can_start_request
    assert result.head.http_version == ("HTTP/1.0" if raw.startswith(b"HTTP/1.0") else "HTTP/1.1")


def test_higher_minor_version_reads_as_http11() -> None:
    conn, result = fetch(b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert result.head.http_version == "HTTP/1.1"
    assert conn.is_reusable


@pytest.mark.parametrize("version", [b"2.0", b"0.9"])
def test_other_major_versions_are_rejected(version: bytes) -> None:
    raw = b"HTTP/" + version + b" 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert "unsupported HTTP version" in fetch_error(raw, [raw])


def test_head_response_has_no_body_despite_content_length() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    for pieces in feeds(raw):
        conn = H1Connection()
        sid = conn.start_request(head(b"HEAD"), has_body=False)
        result = drive(conn, sid, pieces)
        assert result.body == b""
        assert result.head.headers == [(b"Content-Length", b"1000")]
        conn.release(sid)
        assert conn.is_reusable


@pytest.mark.parametrize(("method", "status"), [(b"HEAD", 200), (b"GET", 204), (b"GET", 304)])
def test_a_body_where_none_belongs_is_never_the_next_response(method: bytes, status: int) -> None:
    raw = b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\nhello" % status
    for pieces in ([raw], [raw[:-5], raw[-5:]]):
        conn = H1Connection()
        sid = conn.start_request(head(method), has_body=False)
        conn.data_to_send()
        result = drive(conn, sid, pieces)
        assert result.body == b""
        conn.receive_data(pieces[-1] if len(pieces) > 1 else b"")
        conn.release(sid)
        assert not conn.is_reusable


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    raw = b"HTTP/1.1 %d Whatever\r\nContent-Length: 7\r\n\r\n" % status
    for pieces in feeds(raw):
        conn, result = fetch(raw, pieces)
        assert result.head.status_code == status
        assert result.body == b""
        assert conn.is_reusable


def test_informational_responses_are_skipped_every_split() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    for pieces in feeds(raw):
        conn, result = fetch(raw, pieces)
        assert result.head.status_code == 200
        assert result.body == b"ok"
        assert conn.is_reusable


def upgrade_head() -> RequestHead:
    return head(headers=[HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")])


def test_switching_protocols_ends_http() -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    for pieces in feeds(raw + b"\x81\x02hi"):
        conn = H1Connection()
        sid = conn.start_request(upgrade_head(), has_body=False)
        result = drive(conn, sid, pieces)
        assert result.head.status_code == 101
        assert result.body == b""
        assert result.trailers == []
        assert not conn.is_reusable
        # What followed the head belongs to the new protocol, untouched.
        assert b"\x81\x02hi".startswith(conn.trailing_data())
        conn.release(sid)


def test_unrequested_switching_protocols_is_an_error() -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    fetch_error(raw, [raw])


def test_connect_tunnel() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"CONNECT", b"example.com:443", [(b"Host", b"example.com:443")]), has_body=False
    )
    # Framing fields on a successful CONNECT response are ignored (RFC 9110 §9.3.6).
    raw = (
        b"HTTP/1.1 200 Connection established\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    result = drive(conn, sid, [raw + b"\x16\x03\x01"])
    assert result.head.status_code == 200
    assert result.body == b""
    assert conn.trailing_data() == b"\x16\x03\x01"
    assert not conn.is_reusable


def test_connect_refused_is_an_ordinary_response() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"CONNECT", b"example.com:443", [(b"Host", b"example.com:443")]), has_body=False
    )
    result = drive(
        conn, sid, [b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno"]
    )
    assert result.head.status_code == 407
    assert result.body == b"no"
    conn.release(sid)
    assert conn.is_reusable


# -- framing the machine must refuse --------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        # Both framings: h11 would let chunked win; we refuse (RFC 9112 §6.3).
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n",
        # Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1).
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        # Rejected by h11 itself; pinned so an h11 upgrade cannot loosen them.
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 21 + b"\r\nx\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        # Broken heads.
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b" continuation\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # TLS where HTTP was expected
    ],
)
def test_ambiguous_or_malformed_responses_are_rejected(raw: bytes) -> None:
    for pieces in feeds(raw):
        fetch_error(raw, pieces)


def test_both_framings_error_says_why() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert "both Content-Length and Transfer-Encoding" in fetch_error(raw, [raw])


def test_agreeing_duplicate_content_lengths_are_accepted() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    conn, result = fetch(raw)
    assert result.body == b"hello"
    assert conn.is_reusable


def test_truncated_content_length_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    for pieces in feeds(raw):
        message = fetch_error(raw, pieces)
        assert "peer closed connection without sending complete message body" in message
        assert "received 3 bytes, expected 10" in message


def test_truncated_chunked_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"
    for pieces in feeds(raw):
        assert "complete message body" in fetch_error(raw, pieces)


def test_eof_before_any_response_byte() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.data_to_send()
    with pytest.raises(RemoteProtocolError, match="server disconnected without sending a response"):
        drive(conn, sid, [])
    assert conn.failure_phase(sid) is FailurePhase.AWAITING_RESPONSE


def test_eof_inside_the_head() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    with pytest.raises(RemoteProtocolError) as info:
        drive(conn, sid, [b"HTTP/1.1 200 OK\r\nContent-"])
    assert "without sending a response" not in str(info.value)
    assert conn.failure_phase(sid) is FailurePhase.RECEIVING


# -- bytes that are not part of the response -----------------------------------


def test_bytes_after_a_complete_response_are_never_the_next_response() -> None:
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled
    conn, result = fetch(raw)
    assert result.body == b"ok"
    assert not conn.is_reusable
    assert not conn.can_start_request


@pytest.mark.parametrize("extra", [b"HTTP/1.1 200 OK\r\n", b"\r\n", b""])
def test_anything_while_idle_kills_the_connection(extra: bytes) -> None:
    conn, _ = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert conn.can_start_request
    conn.receive_data(extra)  # b"" is EOF: the server closed the idle connection
    assert not conn.is_reusable
    assert conn.is_idle
    with pytest.raises(RuntimeError, match="busy or closed"):
        conn.start_request(head(), has_body=False)


def test_bytes_after_end_of_body_before_release() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    drive(conn, sid, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    assert conn.is_reusable
    conn.receive_data(b"X")
    conn.release(sid)
    assert not conn.is_reusable


def test_eof_after_complete_response_in_same_feed() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.data_to_send()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    conn.receive_data(b"")
    assert drive(conn, sid, []).body == b"ok"
    conn.release(sid)
    assert not conn.is_reusable


def test_data_after_eof_is_a_shell_bug() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.receive_data(b"")
    with pytest.raises(RuntimeError, match="after EOF"):
        conn.receive_data(b"x")
    with pytest.raises(RemoteProtocolError):
        drive(conn, sid, [])
    conn.receive_data(b"")  # more EOF is harmless, and ignored once failed
    conn.release(sid)


# -- limits -------------------------------------------------------------------


def response_of_size(size: int, status: bytes = b"200 OK") -> bytes:
    """A response head of exactly ``size`` bytes (then a 2-byte body)."""
    base = b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\nX-Pad: \r\n\r\n"
    pad = size - len(base)
    assert pad > 0
    head_bytes = base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * pad)
    assert len(head_bytes) == size
    return head_bytes


@pytest.mark.parametrize("limit", [80, 200])
def test_header_bytes_limit_at_and_past_every_split(limit: int) -> None:
    at = response_of_size(limit) + b"ok"
    for pieces in feeds(at):
        _conn, result = fetch(at, pieces, max_header_bytes=limit)
        assert result.body == b"ok"
    past = response_of_size(limit + 1) + b"ok"
    for pieces in feeds(past):
        assert f"larger than {limit} bytes" in fetch_error(past, pieces, max_header_bytes=limit)


def test_endless_head_is_cut_off_at_the_limit() -> None:
    # A head that never ends: h11 refuses to buffer more than the limit of it.
    raw = b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * 300
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    assert "larger than 100 bytes" in fetch_error(raw, pieces, max_header_bytes=100)


def test_default_header_bytes_limit() -> None:
    at = response_of_size(MAX_HEADER_BYTES) + b"ok"
    past = response_of_size(MAX_HEADER_BYTES + 1) + b"ok"
    cut = MAX_HEADER_BYTES - 10
    for pieces in ([at], [at[:cut], at[cut:]], [at[:100], at[100:]]):
        assert fetch(at, pieces)[1].body == b"ok"
    for pieces in ([past], [past[:cut], past[cut:]], [past[: MAX_HEADER_BYTES + 1], past[-2:]]):
        assert f"larger than {MAX_HEADER_BYTES} bytes" in fetch_error(past, pieces)


def test_header_bytes_limit_counts_each_head_separately() -> None:
    # Two heads that together exceed the limit are fine: each is within it.
    final = response_of_size(100)
    raw = b"HTTP/1.1 100 Continue\r\nX: y\r\n\r\n" + final + b"ok"
    for pieces in feeds(raw):
        assert fetch(raw, pieces, max_header_bytes=100)[1].body == b"ok"


def test_header_bytes_limit_applies_to_informational_heads() -> None:
    raw = response_of_size(101, b"103 Early Hints") + response_of_size(50) + b"ok"
    for pieces in feeds(raw):
        assert "larger than 100 bytes" in fetch_error(raw, pieces, max_header_bytes=100)


def head_with_fields(count: int, status: bytes = b"200 OK") -> bytes:
    fields = b"Content-Length: 2\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count - 1))
    return b"HTTP/1.1 " + status + b"\r\n" + fields + b"\r\n"


def test_default_header_count_limit_at_and_past() -> None:
    at = head_with_fields(MAX_HEADER_COUNT) + b"ok"
    assert len(fetch(at)[1].head.headers) == MAX_HEADER_COUNT
    past = head_with_fields(MAX_HEADER_COUNT + 1) + b"ok"
    assert f"more than {MAX_HEADER_COUNT} header fields" in fetch_error(past, [past])


def test_header_count_limit_at_and_past_every_split() -> None:
    at = head_with_fields(5) + b"ok"
    for pieces in feeds(at):
        assert len(fetch(at, pieces, max_header_count=5)[1].head.headers) == 5
    past = head_with_fields(6) + b"ok"
    for pieces in feeds(past):
        assert "more than 5 header fields" in fetch_error(past, pieces, max_header_count=5)


def test_header_count_limit_applies_to_informational_heads() -> None:
    raw = head_with_fields(6, b"103 Early Hints") + head_with_fields(2) + b"ok"
    assert "more than 5 header fields" in fetch_error(raw, [raw], max_header_count=5)


def test_trailer_count_limit_at_and_past() -> None:
    def raw(count: int) -> bytes:
        trailers = b"".join(b"T-%d: v\r\n" % i for i in range(count))
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers + b"\r\n"

    assert len(fetch(raw(3), max_header_count=3)[1].trailers) == 3
    assert "more than 3 trailer fields" in fetch_error(raw(4), [raw(4)], max_header_count=3)


def test_long_chunk_size_line_is_bounded() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"e" * 200
    message = fetch_error(raw, [raw[:60], raw[60:]], max_header_bytes=100)
    assert "larger than" not in message  # this is not the head


@pytest.mark.parametrize(("size", "count"), [(0, 1), (1, 0)])
def test_limits_must_be_positive(size: int, count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        H1Connection(max_header_bytes=size, max_header_count=count)


# -- requests the machine refuses ------------------------------------------------


def test_request_with_both_framings_is_refused() -> None:
    conn = H1Connection()
    headers = [HOST, (b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")]
    with pytest.raises(LocalProtocolError, match="both Content-Length and Transfer-Encoding"):
        conn.start_request(head(b"POST", headers=headers), has_body=True)
    assert conn.can_start_request  # nothing was queued


@pytest.mark.parametrize(
    "request_head",
    [
        head(headers=[]),  # no Host
        head(headers=[HOST, HOST]),
        head(b"G T"),
        head(target=b"/a b"),
        head(target=b"/\r\nX: injected"),
        head(headers=[HOST, (b"X", b"a\r\nInjected: 1")]),
        head(headers=[HOST, (b"Bad Name", b"v")]),
        head(headers=[HOST, (b"Transfer-Encoding", b"gzip")]),
    ],
)
def test_invalid_requests_are_refused_and_leave_the_connection_usable(
    request_head: RequestHead,
) -> None:
    conn = H1Connection()
    with pytest.raises(LocalProtocolError):
        conn.start_request(request_head, has_body=False)
    assert conn.can_start_request
    assert conn.data_to_send() == b""
    sid = conn.start_request(head(), has_body=False)
    assert conn.next_step(sid) is SEND


def test_trusted_headers_skip_revalidation() -> None:
    # conch's models validate once; the machine then does not check again.
    conn = H1Connection(validate_headers=False)
    sid = conn.start_request(head(headers=[HOST, (b"X-Ok", b"value")]), has_body=False)
    assert b"X-Ok: value\r\n" in conn.data_to_send()
    assert conn.next_step(sid) is RECEIVE
    # Method and target are still checked.
    conn2 = H1Connection(validate_headers=False)
    with pytest.raises(LocalProtocolError):
        conn2.start_request(head(target=b"/\r\n"), has_body=False)


def test_content_length_without_body_breaks_the_connection() -> None:
    conn = H1Connection()
    with pytest.raises(LocalProtocolError, match="Too little data"):
        conn.start_request(head(b"POST", headers=[HOST, (b"Content-Length", b"5")]), has_body=False)
    assert not conn.is_reusable
    assert conn.is_idle
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("chunks", [[b"toolong"], [b"abc", None]])
def test_body_not_matching_content_length(chunks: list[bytes | None]) -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"POST", headers=[HOST, (b"Content-Length", b"5")]), has_body=True
    )
    conn.data_to_send()
    *first, last = chunks
    for chunk in first:
        conn.send_body(sid, chunk)
    with pytest.raises(LocalProtocolError):
        conn.send_body(sid, last)
    assert not conn.is_reusable
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    conn.send_body(sid, b"ignored")  # the body is abandoned
    with pytest.raises(RuntimeError, match="failed earlier"):
        conn.next_step(sid)
    conn.release(sid)
    assert not conn.can_start_request


# -- early responses, failures, release ------------------------------------------


def test_early_response_while_uploading() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"POST", headers=[HOST, (b"Content-Length", b"1000")]), has_body=True
    )
    assert conn.next_step(sid) is SEND
    conn.data_to_send()
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"x" * 100)
    # The shell saw the socket readable before writing: the server answered already.
    conn.receive_data(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")
    response = conn.next_step(sid)
    assert isinstance(response, ResponseHead)
    assert response.status_code == 413
    conn.send_body(sid, b"more")  # ignored: the rest of the body is not wanted
    assert conn.next_step(sid) == BodyChunk(b"too big!")
    assert conn.next_step(sid) == EndOfBody([])
    assert conn.data_to_send() == b""
    assert conn.failure_phase(sid) is FailurePhase.RECEIVING
    conn.release(sid)
    assert not conn.is_reusable


def test_early_response_with_unsent_head() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.receive_data(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    assert drive(conn, sid, []).head.status_code == 400
    conn.release(sid)
    assert not conn.is_reusable


def test_interim_response_while_uploading_keeps_asking_for_body() -> None:
    conn = H1Connection()
    sid = conn.start_request(
        head(b"POST", headers=[HOST, (b"Expect", b"100-continue")]), has_body=True
    )
    conn.data_to_send()
    conn.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, None)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()
    result = drive(conn, sid, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    assert result.head.status_code == 200
    conn.release(sid)
    assert conn.is_reusable


def test_send_failed_then_read_the_response() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(b"PUT", headers=[HOST]), has_body=True)
    conn.data_to_send()
    conn.send_body(sid, b"chunk")
    conn.data_to_send()  # ... and writing it fails
    conn.send_failed(sid)
    assert not conn.is_reusable
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    assert conn.next_step(sid) is RECEIVE
    conn.send_body(sid, b"ignored")
    result = drive(
        conn, sid, [b"HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]
    )
    assert result.head.status_code == 413
    conn.release(sid)
    assert not conn.can_start_request


def test_send_failed_then_eof() -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.data_to_send()
    conn.send_failed(sid)
    with pytest.raises(RemoteProtocolError, match="without sending a response"):
        drive(conn, sid, [])
    assert conn.failure_phase(sid) is FailurePhase.SENDING


@pytest.mark.parametrize("stage", ["queued", "sent", "head", "body", "done"])
def test_io_failed_at_any_stage(stage: str) -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    expected = FailurePhase.AWAITING_RESPONSE
    if stage == "queued":
        expected = FailurePhase.SENDING  # the head never left
    else:
        conn.data_to_send()
    if stage in ("head", "body", "done"):
        conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        expected = FailurePhase.RECEIVING
        assert isinstance(conn.next_step(sid), ResponseHead)
    if stage in ("body", "done"):
        assert conn.next_step(sid) == BodyChunk(b"ab")
    if stage == "done":
        conn.receive_data(b"cd")
        assert conn.next_step(sid) == BodyChunk(b"cd")
        assert conn.next_step(sid) == EndOfBody([])
    conn.io_failed(sid)
    conn.io_failed(sid)  # twice is fine
    assert not conn.is_reusable
    assert conn.failure_phase(sid) is expected
    conn.receive_data(b"late bytes are dropped")
    with pytest.raises(RuntimeError, match=r"failed earlier \(I/O failed\)"):
        conn.next_step(sid)
    conn.release(sid)
    assert conn.is_idle
    assert not conn.can_start_request


@pytest.mark.parametrize("stage", ["head", "body"])
def test_release_before_the_end_closes_instead_of_draining(stage: str) -> None:
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    conn.data_to_send()
    if stage == "body":
        conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nab")
        assert isinstance(conn.next_step(sid), ResponseHead)
    conn.release(sid)
    assert conn.is_idle
    assert not conn.is_reusable
    assert not conn.can_start_request


def test_wrong_stream_ids_are_refused() -> None:
    conn = H1Connection()
    for call in (
        conn.next_step,
        conn.release,
        conn.io_failed,
        conn.send_failed,
        conn.failure_phase,
    ):
        with pytest.raises(ValueError, match="not in flight"):
            call(1)
    with pytest.raises(ValueError, match="not in flight"):
        conn.send_body(1, b"x")
    sid = conn.start_request(head(), has_body=False)
    with pytest.raises(RuntimeError, match="busy"):
        conn.start_request(head(), has_body=False)
    with pytest.raises(ValueError, match="not in flight"):
        conn.next_step(sid + 1)
    with pytest.raises(RuntimeError, match="has ended"):
        conn.send_body(sid, b"x")


# -- properties ----------------------------------------------------------------

bodies = st.lists(st.binary(min_size=1, max_size=40), max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    chunks=bodies,
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    requests=st.integers(min_value=1, max_value=3),
)
def test_round_trips_through_an_h11_server(
    chunks: list[bytes], chunked: bool, cuts: list[int], requests: int
) -> None:
    """Whatever the body, framing and read boundaries, the client gets what the
    server sent, and the connection is reused."""
    conn = H1Connection()
    server = Server()
    for _ in range(requests):
        has_body = bool(chunks)
        sid = conn.start_request(head(b"POST", headers=[HOST]), has_body=has_body)
        sent = b""
        body = iter([*chunks, None])
        while (step := conn.next_step(sid)) is not RECEIVE:
            if step is SEND:
                sent += conn.data_to_send()
            else:
                conn.send_body(sid, next(body))
        _request, received = server.read_request(sent)
        assert received == b"".join(chunks)
        payload = b"".join(chunks)
        headers = [] if chunked else [("Content-Length", str(len(payload)))]
        out = server.h11.send(h11.Response(status_code=200, headers=headers))
        for chunk in chunks:
            out += server.h11.send(h11.Data(data=chunk))
        out += server.h11.send(h11.EndOfMessage())
        server.h11.start_next_cycle()
        points = sorted({c for c in cuts if c < len(out)} | {0, len(out)})
        pieces = [out[a:b] for a, b in itertools.pairwise(points)]
        result = drive(conn, sid, pieces)
        assert result.body == payload
        conn.release(sid)
        assert conn.is_reusable


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=50))
def test_garbage_gives_responses_or_remote_protocol_error_only(data: bytes, step: int) -> None:
    """Like h11's fuzz harness: no other exception type, and no hang."""
    conn = H1Connection(max_header_bytes=100, max_header_count=5)
    sid = conn.start_request(head(), has_body=False)
    pieces = [data[i : i + step] for i in range(0, len(data), step)]
    try:
        drive(conn, sid, pieces)
    except RemoteProtocolError:
        assert not conn.is_reusable
    conn.release(sid)


def test_informational_response_limit_at_and_past() -> None:
    from sansio.h1 import MAX_INFORMATIONAL_RESPONSES

    final = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    at = b"HTTP/1.1 100 Continue\r\n\r\n" * MAX_INFORMATIONAL_RESPONSES + final
    assert fetch(at, [at])[1].body == b"ok"
    past = b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INFORMATIONAL_RESPONSES + 1) + final
    assert "more than 10 informational" in fetch_error(past, [past])
    conn = H1Connection(max_informational=2)
    sid = conn.start_request(head(), has_body=False)
    conn.receive_data(b"HTTP/1.1 103 Early Hints\r\n\r\n" * 3 + final)
    with pytest.raises(RemoteProtocolError, match="more than 2 informational"):
        conn.next_step(sid)
