"""The HTTP/1.1 machine, driven against a real h11 server and against raw bytes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.exceptions import LocalProtocolError, RemoteProtocolError
from sansio.h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_JOINED_CHUNK_BYTES, H1Connection
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

# Every test runs on both response-head parsers.
pytestmark = pytest.mark.usefixtures("every_parser")

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
    # The head waits for the first body chunk, so that both leave in one write.
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"")  # an empty chunk is nothing: still waiting
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"hello ")
    assert conn.next_step(sid) is SEND
    sent = conn.data_to_send()
    assert sent.startswith(b"POST / HTTP/1.1\r\n")
    assert sent.endswith(b"\r\n\r\nhello ")
    assert conn.next_step(sid) is NEED_BODY
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


EXPECT = [HOST, (b"Content-Length", b"5"), (b"Expect", b"100-continue")]
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


def expecting() -> tuple[H1Connection, int]:
    """A POST with Expect: 100-continue whose head has gone out alone."""
    conn = H1Connection()
    sid = conn.start_request(head(b"POST", headers=EXPECT), has_body=True, expect_continue=True)
    assert conn.next_step(sid) is SEND  # the head alone, not joined to the body
    assert conn.data_to_send().endswith(b"100-continue\r\n\r\n")
    assert conn.awaiting_continue
    assert conn.next_step(sid) is RECEIVE  # the body waits
    return conn, sid


@pytest.mark.parametrize("pieces", list(feeds(CONTINUE)))
def test_expect_continue_sends_the_body_after_a_100(pieces: list[bytes]) -> None:
    conn, sid = expecting()
    for piece in pieces:
        assert conn.next_step(sid) is RECEIVE
        conn.receive_data(piece)
    assert conn.next_step(sid) is NEED_BODY
    assert not conn.awaiting_continue
    result = drive(conn, sid, [CREATED], [b"hello"])
    assert (result.head.status_code, result.sent) == (201, b"hello")
    conn.release(sid)
    assert conn.is_reusable


def test_expect_continue_other_1xx_do_not_release_the_body() -> None:
    conn, sid = expecting()
    conn.receive_data(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
    assert conn.next_step(sid) is RECEIVE
    assert conn.awaiting_continue


def test_expect_continue_a_final_response_first_means_no_body() -> None:
    conn, sid = expecting()
    result = drive(conn, sid, [b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"])
    assert (result.head.status_code, result.sent) == (417, b"")
    conn.release(sid)
    assert not conn.is_reusable  # the server still expects a body, or will close


def test_expect_continue_gives_up_waiting_when_told() -> None:
    conn, sid = expecting()
    conn.continue_body(sid)
    assert conn.next_step(sid) is NEED_BODY
    result = drive(conn, sid, [CREATED], [b"hello"])
    assert (result.head.status_code, result.sent) == (201, b"hello")
    with pytest.raises(ValueError, match="not in flight"):
        conn.continue_body(sid + 1)


@pytest.mark.parametrize("end", ["send_failed", "release"])
def test_expect_continue_ends_with_its_request(end: str) -> None:
    conn, sid = expecting()
    getattr(conn, end)(sid)
    assert not conn.awaiting_continue


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
        assert result.head.informational == (
            (100, []),
            (103, [(b"Link", b"</style.css>; rel=preload")]),
        )
    # The next request starts with none.
    sid = conn.start_request(head(), has_body=False)
    again = drive(conn, sid, [b"HTTP/1.1 204 No Content\r\n\r\n"])
    assert again.head.informational == ()


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


def test_an_upgrade_field_without_a_protocol_asks_for_no_upgrade() -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    conn = H1Connection()
    sid = conn.start_request(head(headers=[HOST, (b"Upgrade", b",")]), has_body=False)
    with pytest.raises(RemoteProtocolError, match="asked for no upgrade"):
        drive(conn, sid, [raw])


def test_the_parser_in_use(every_parser: str) -> None:
    assert H1Connection().parser == every_parser
    assert H1Connection(parser="h11").parser == "h11"


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


def test_content_length_without_body_is_refused_before_anything_is_queued() -> None:
    # h11 refused only once the (missing) body ended, leaving its connection broken;
    # the head is checked whole before a byte is queued, so nothing is lost.
    conn = H1Connection()
    with pytest.raises(LocalProtocolError, match="Too little data"):
        conn.start_request(head(b"POST", headers=[HOST, (b"Content-Length", b"5")]), has_body=False)
    assert conn.is_idle
    assert conn.data_to_send() == b""
    assert conn.can_start_request


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
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"x" * 100)
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


# -- one write for the head and the first body chunk ------------------------------


def post(length: int | None = None) -> RequestHead:
    framing = [] if length is None else [(b"Content-Length", b"%d" % length)]
    return head(b"POST", headers=[HOST, *framing])


def writes(conn: H1Connection, sid: int, chunks: list[bytes]) -> list[bytes]:
    """Upload ``chunks``; return each write the machine asked for."""
    body = iter([*chunks, None])
    out = []
    while (step := conn.next_step(sid)) is not RECEIVE:
        if step is SEND:
            out.append(conn.data_to_send())
        else:
            assert step is NEED_BODY
            conn.send_body(sid, next(body))
    return out


@pytest.mark.parametrize("limit", [10, MAX_JOINED_CHUNK_BYTES])
def test_first_chunk_joins_the_head_at_the_limit_and_not_past_it(limit: int) -> None:
    at = b"a" * limit
    conn = H1Connection(max_joined_chunk_bytes=limit)
    sid = conn.start_request(post(limit), has_body=True)
    (sent,) = writes(conn, sid, [at])
    assert sent.endswith(b"\r\n\r\n" + at)
    assert Server().read_request(sent)[1] == at

    past = b"a" * (limit + 1)
    conn = H1Connection(max_joined_chunk_bytes=limit)
    sid = conn.start_request(post(limit + 1), has_body=True)
    head_only, chunk = writes(conn, sid, [past])
    assert head_only.endswith(b"\r\n\r\n")
    assert chunk is past  # not joined, so not copied either
    assert Server().read_request(head_only + chunk)[1] == past


def test_joining_can_be_turned_off() -> None:
    conn = H1Connection(max_joined_chunk_bytes=0)
    sid = conn.start_request(post(1), has_body=True)
    assert writes(conn, sid, [b"x"])[1] == b"x"
    with pytest.raises(ValueError, match="must not be negative"):
        H1Connection(max_joined_chunk_bytes=-1)


def test_chunked_upload_joins_head_chunk_and_end() -> None:
    conn = H1Connection()
    sid = conn.start_request(post(), has_body=True)
    first, *rest = writes(conn, sid, [b"abc", b"def"])
    assert first.endswith(b"\r\n\r\n3\r\nabc\r\n")
    assert rest == [b"3\r\ndef\r\n", b"0\r\n\r\n"]
    # A body that ends at once: the head and the last-chunk in one write.
    conn = H1Connection()
    sid = conn.start_request(post(), has_body=True)
    (sent,) = writes(conn, sid, [])
    assert sent.endswith(b"\r\n\r\n0\r\n\r\n")
    assert Server().read_request(sent)[1] == b""


@pytest.mark.parametrize("held", ["head", "chunk"])
def test_early_response_drops_what_was_held_back(held: str) -> None:
    conn = H1Connection(max_joined_chunk_bytes=4)
    sid = conn.start_request(post(100), has_body=True)
    assert conn.next_step(sid) is NEED_BODY  # the head waits for the first chunk
    if held == "chunk":
        conn.send_body(sid, b"x" * 10)  # too large to join: the head goes first
        assert conn.next_step(sid) is SEND
        conn.data_to_send()
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    conn.receive_data(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.data_to_send() == b""  # nothing more goes out
    conn.send_body(sid, b"ignored")
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    assert not conn.is_reusable


def test_send_failed_drops_a_held_chunk() -> None:
    conn = H1Connection(max_joined_chunk_bytes=4)
    sid = conn.start_request(post(10), has_body=True)
    conn.send_body(sid, b"x" * 10)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()  # the head; writing it fails
    conn.send_failed(sid)
    assert conn.next_step(sid) is RECEIVE


def test_a_held_chunk_counts_as_unsent() -> None:
    conn = H1Connection(max_joined_chunk_bytes=4)
    sid = conn.start_request(post(10), has_body=True)
    conn.send_body(sid, b"x" * 5)
    conn.send_body(sid, b"y" * 5)
    conn.send_body(sid, None)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()  # the head alone
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    assert conn.next_step(sid) is SEND
    assert conn.data_to_send() == b"x" * 5 + b"y" * 5
    assert conn.failure_phase(sid) is FailurePhase.AWAITING_RESPONSE


# -- the body framer ------------------------------------------------------------


def started() -> tuple[H1Connection, int]:
    """A connection whose GET went out; the response is next."""
    conn = H1Connection()
    sid = conn.start_request(head(), has_body=False)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()
    return conn, sid


def test_body_reads_are_handed_on_uncopied() -> None:
    for framing in (b"Content-Length: 15\r\n", b"Transfer-Encoding: chunked\r\n", b""):
        conn, sid = started()
        conn.receive_data(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n")
        assert isinstance(conn.next_step(sid), ResponseHead)
        chunked = framing.startswith(b"Transfer")
        if chunked:
            conn.receive_data(b"f\r\n")
            assert conn.next_step(sid) is RECEIVE
        pieces = [b"hello", b" big ", b"world"]
        for piece in pieces:
            assert conn.next_step(sid) is RECEIVE
            conn.receive_data(piece)
            step = conn.next_step(sid)
            assert isinstance(step, BodyChunk)
            assert step.data is piece
        if chunked:
            conn.receive_data(b"\r\n0\r\n\r\n")
        elif not framing:
            conn.receive_data(b"")  # EOF ends a close-delimited body
        assert conn.next_step(sid) == EndOfBody([])


def test_only_the_read_that_ends_the_body_is_sliced() -> None:
    conn, sid = started()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabc")
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == BodyChunk(b"abc")  # what h11 had buffered after the head
    assert conn.next_step(sid) is RECEIVE
    conn.receive_data(b"defghXYZ")
    assert conn.next_step(sid) == BodyChunk(b"defgh")
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    assert not conn.is_reusable  # XYZ followed the response


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_views_of_a_reused_buffer_are_copied(kind: type) -> None:
    buffer = bytearray(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
    conn, sid = started()
    conn.receive_data(kind(buffer))
    buffer[:] = b"X" * len(buffer)  # the shell reuses its buffer
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == BodyChunk(b"hello")
    buffer[:5] = b"world"
    assert conn.next_step(sid) is RECEIVE
    conn.receive_data(kind(buffer)[:5])
    buffer[:5] = b"XXXXX"
    step = conn.next_step(sid)
    assert step == BodyChunk(b"world")
    assert type(step.data) is bytes


@pytest.mark.parametrize(
    ("framing", "body", "reusable"),
    [
        (b"Content-Length: 9\r\n", [b"abc", b"def", b"ghi"], True),
        (b"Content-Length: 9\r\n", [b"abc", b"def", b"ghiX"], False),
        (b"Content-Length: 3\r\n", [b"abc", b"def"], False),
        (b"Transfer-Encoding: chunked\r\n", [b"3\r\nab", b"c\r\n0\r", b"\n\r\n"], True),
        (b"Transfer-Encoding: chunked\r\n", [b"3\r\nabc\r\n0\r\n\r\n", b"X"], False),
        (b"Transfer-Encoding: chunked\r\n", [b"3\r\nabc\r\n0\r\nT: 1\r\n", b"\r\nX"], False),
        (b"Transfer-Encoding: chunked\r\n", [b"3\r\nabc\r\n0\r\nT: 1\r\n", b"\r\n", b"X"], False),
    ],
)
def test_reads_fed_before_next_step_asks(framing: bytes, body: list[bytes], reusable: bool) -> None:
    conn, sid = started()
    conn.receive_data(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n")
    assert isinstance(conn.next_step(sid), ResponseHead)
    for piece in body:  # a shell may feed more than one read before asking again
        conn.receive_data(piece)
    received = b""
    while isinstance(step := conn.next_step(sid), BodyChunk):
        received += step.data
    assert isinstance(step, EndOfBody)
    assert received in (b"abc", b"abcdefghi")
    conn.release(sid)
    assert conn.is_reusable is reusable


def test_close_delimited_body_with_reads_queued_then_eof() -> None:
    conn, sid = started()
    conn.receive_data(b"HTTP/1.1 200 OK\r\n\r\nab")
    conn.receive_data(b"cd")
    conn.receive_data(b"")
    assert drive(conn, sid, []).body == b"abcd"


@pytest.mark.parametrize(
    "raw",
    [
        b"5 \t\r\nhello\r\n0\r\n\r\n",  # whitespace after a size, as h11 allows
        b"5;a=b;c\r\nhello\r\n0;last\r\n\r\n",
        b'5; name = "quoted value"\r\nhello\r\n0\r\n\r\n',
        # BWS around ";" and "=" (RFC 9112 §7.1.1), which h11 refused before the ";".
        b"5 ;a = b\r\nhello\r\n0\r\n\r\n",
        b"5\t; a\t=\tb ;c ; d=e \t\r\nhello\r\n0 ; end\r\n\r\n",
        # Quoted-string values: ";", "=", escaped quotes and backslashes, HTAB, obs-text.
        b'5;a="x;y=z";b\r\nhello\r\n0\r\n\r\n',
        b'5;a="say \\"hi\\" \\\\ \t\xe9"\r\nhello\r\n0\r\n\r\n',
        b'5;a=""\r\nhello\r\n0\r\n\r\n',
        b"00000000000000000005\r\nhello\r\n0\r\n\r\n",  # 20 digits
        b"5\r\nhello\r\n0\r\n\n",  # the empty line ending the trailers may be a bare LF
        b"2\r\nhe\r\n3\r\nllo\r\n000\r\n\r\n",
    ],
)
def test_chunked_forms_accepted(raw: bytes) -> None:
    full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + raw
    for pieces in feeds(full):
        conn, result = fetch(full, pieces)
        assert result.body == b"hello"
        assert result.trailers == []
        assert conn.is_reusable


@pytest.mark.parametrize(
    ("raw", "trailers"),
    [
        (b"X: y\nZ: 1\n\n", [(b"X", b"y"), (b"Z", b"1")]),
        (b"X: y\r\n\n", [(b"X", b"y")]),
        (b"X: one\r\n two\r\n\r\n", [(b"X", b"one two")]),  # obs-fold, as in heads
    ],
)
def test_trailer_forms_accepted(raw: bytes, trailers: list[tuple[bytes, bytes]]) -> None:
    full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + raw
    for pieces in feeds(full):
        conn, result = fetch(full, pieces)
        assert result.trailers == trailers
        assert conn.is_reusable


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"5;a\nb\r\nhello\r\n0\r\n\r\n", "not ended by CRLF"),
        (b"5;a\rb\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a\x00\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b'5;a="x\x00"\r\nhello\r\n0\r\n\r\n', "illegal chunk extension"),
        (b'5;a="x\ny"\r\nhello\r\n0\r\n\r\n', "not ended by CRLF"),  # LF ends the line
        (b'5;a="\x01"\r\nhello\r\n0\r\n\r\n', "illegal chunk extension"),
        (b'5;a="\\\x01"\r\nhello\r\n0\r\n\r\n', "illegal chunk extension"),
        (b'5;a="open\r\nhello\r\n0\r\n\r\n', "illegal chunk extension"),
        (b'5;a="x"y\r\nhello\r\n0\r\n\r\n', "illegal chunk extension"),
        (b"5;\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a;\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;;a\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;=b\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a=\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a=b=c\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a b\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a:b\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5;a=\xe9\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),  # obs-text only quoted
        (b"5;a\x0bb\r\nhello\r\n0\r\n\r\n", "illegal chunk extension"),
        (b"5 \r;a\r\nhello\r\n0\r\n\r\n", "illegal chunk size line"),
        (b"5\x00;a\r\nhello\r\n0\r\n\r\n", "illegal chunk size line"),
        (b"5 5;a\r\nhello\r\n0\r\n\r\n", "illegal chunk size line"),
        (b"\r\nhello\r\n0\r\n\r\n", "illegal chunk size line"),
        (b";a\r\nhello\r\n0\r\n\r\n", "illegal chunk size line"),
        (b"5\r\nhello\rX0\r\n\r\n", "malformed chunk footer"),
        (b"5\r\nhello\r\n0\r\n X: y\r\n\r\n", "malformed trailer section"),
        (b"5\r\nhello\r\n0\r\nBad Line\r\n\r\n", "malformed trailer section"),
        (b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n", "malformed trailer section"),
        (b"5\r\nhello\r\n0\r\nX: y\r\n", "incomplete chunked read"),
        (b"5\r\nhello\r\n0\r\n", "incomplete chunked read"),
        (b"5\r\nhello\r", "incomplete chunked read"),
        (b"5;ext", "incomplete chunked read"),
    ],
)
def test_chunked_forms_refused(raw: bytes, message: str) -> None:
    full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + raw
    for pieces in feeds(full):
        assert message in fetch_error(full, pieces)


def test_chunk_error_messages_are_bounded() -> None:
    full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz" + b"z" * 1000 + b"\r\n"
    message = fetch_error(full, [full])
    assert message.endswith("...")
    assert len(message) < 100


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def size_line(size: int) -> bytes:
    """A chunk-size line for a 2-byte chunk, ``size`` bytes long with its CRLF."""
    return b"2;" + b"e" * (size - 4) + b"\r\n"


@pytest.mark.parametrize("limit", [80, 200])
def test_chunk_size_line_limit_at_and_past_every_split(limit: int) -> None:
    at = CHUNKED_HEAD + size_line(limit) + b"ok\r\n0\r\n\r\n"
    for pieces in feeds(at):
        assert fetch(at, pieces, max_header_bytes=limit)[1].body == b"ok"
    past = CHUNKED_HEAD + size_line(limit + 1) + b"ok\r\n0\r\n\r\n"
    for pieces in feeds(past):
        message = fetch_error(past, pieces, max_header_bytes=limit)
        assert f"chunk size line longer than {limit} bytes" in message


def test_default_chunk_size_line_limit() -> None:
    at = CHUNKED_HEAD + size_line(MAX_HEADER_BYTES) + b"ok\r\n0\r\n\r\n"
    cut = len(CHUNKED_HEAD) + 100
    for pieces in ([at], [at[:cut], at[cut:]]):
        assert fetch(at, pieces)[1].body == b"ok"
    past = CHUNKED_HEAD + size_line(MAX_HEADER_BYTES + 1) + b"ok\r\n0\r\n\r\n"
    for pieces in ([past], [past[:cut], past[cut:]]):
        assert "longer than" in fetch_error(past, pieces)


def trailer_section(size: int) -> bytes:
    """A trailer section of exactly ``size`` bytes, its empty line included."""
    section = b"T: " + b"v" * (size - 7) + b"\r\n\r\n"
    assert len(section) == size
    return section


@pytest.mark.parametrize("limit", [80, 200])
def test_trailer_section_limit_at_and_past_every_split(limit: int) -> None:
    at = CHUNKED_HEAD + b"0\r\n" + trailer_section(limit)
    for pieces in feeds(at):
        assert fetch(at, pieces, max_header_bytes=limit)[1].trailers[0][0] == b"T"
    past = CHUNKED_HEAD + b"0\r\n" + trailer_section(limit + 1)
    for pieces in feeds(past):
        message = fetch_error(past, pieces, max_header_bytes=limit)
        assert f"trailer section larger than {limit} bytes" in message


def test_endless_trailer_section_is_cut_off_at_the_limit() -> None:
    raw = CHUNKED_HEAD + b"0\r\nX-Endless: " + b"a" * 300
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    assert "trailer section larger than 100 bytes" in fetch_error(raw, pieces, max_header_bytes=100)


def test_fields_named_like_framing_fields_are_not_framing() -> None:
    # Same lengths as Content-Length and Transfer-Encoding, other names.
    raw = b"HTTP/1.1 200 OK\r\nAccept-Charset: x\r\nX-Seventeen-Chars: y\r\n\r\nuntil EOF"
    conn, result = fetch(raw)
    assert result.body == b"until EOF"
    assert not conn.is_reusable


def test_default_trailer_section_limit() -> None:
    at = CHUNKED_HEAD + b"0\r\n" + trailer_section(MAX_HEADER_BYTES)
    assert fetch(at)[1].trailers[0][0] == b"T"
    past = CHUNKED_HEAD + b"0\r\n" + trailer_section(MAX_HEADER_BYTES + 1)
    assert "trailer section larger than" in fetch_error(past, [past])


def test_every_framing_leaves_the_connection_ready_for_the_next_request() -> None:
    # h11 saw only the heads; the machine starts it afresh after each clean cycle.
    conn = H1Connection()
    server = Server()
    exchanges: list[tuple[bytes, int, list[tuple[str, str]], bytes]] = [
        (b"GET", 200, [("Transfer-Encoding", "chunked")], b"chunked"),
        (b"HEAD", 200, [("Content-Length", "100")], b""),
        (b"GET", 204, [], b""),
        (b"GET", 304, [("Content-Length", "100")], b""),
        (b"GET", 200, [("Content-Length", "6")], b"length"),
        (b"GET", 200, [("Content-Length", "0")], b""),
    ]
    for method, status, headers, body in exchanges:
        sid = conn.start_request(head(method), has_body=False)
        assert conn.next_step(sid) is SEND
        server.read_request(conn.data_to_send())
        out = server.h11.send(h11.Response(status_code=status, headers=headers))
        if body:
            out += server.h11.send(h11.Data(data=body))
        out += server.h11.send(h11.EndOfMessage(headers=[("T", "1")] if body == b"chunked" else []))
        result = drive(conn, sid, [out])
        assert result.body == body
        conn.release(sid)
        server.h11.start_next_cycle()
        assert conn.can_start_request


@pytest.mark.parametrize(
    ("request_headers", "reusable"),
    [
        ([HOST, (b"Connection", b"close")], False),
        ([HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")], True),  # declined
    ],
)
def test_reuse_follows_what_the_request_asked(
    request_headers: list[tuple[bytes, bytes]], reusable: bool
) -> None:
    conn = H1Connection()
    sid = conn.start_request(head(headers=request_headers), has_body=False)
    drive(conn, sid, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    conn.release(sid)
    assert conn.is_reusable is reusable


# -- the body framer against h11's own readers ----------------------------------


def reference(method: bytes, pieces: list[bytes]) -> tuple[object, ...]:
    """What h11 alone makes of a response: the old path, kept here as an oracle."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
    conn.send(h11.Request(method=method, target=b"/", headers=[HOST]))
    conn.send(h11.EndOfMessage())
    incoming = iter(pieces)
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(next(incoming, b""))
            elif type(event) is h11.Data:
                body += event.data
            elif type(event) is h11.EndOfMessage:
                reusable = (
                    conn.our_state is conn.their_state is h11.DONE
                    and conn.next_event() is h11.NEED_DATA
                )
                return ("ok", body, event.headers.raw_items(), reusable)
    except h11.RemoteProtocolError:
        return ("error",)


def ours(method: bytes, pieces: list[bytes]) -> tuple[object, ...]:
    conn = H1Connection()
    sid = conn.start_request(head(method), has_body=False)
    try:
        result = drive(conn, sid, pieces)
    except RemoteProtocolError:
        return ("error",)
    conn.release(sid)
    return ("ok", result.body, result.trailers, conn.is_reusable)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    """Chunked bodies in every form h11 accepts, some followed by stray bytes."""
    out = b""
    for chunk in draw(st.lists(st.binary(min_size=1, max_size=20), max_size=4)):
        size = draw(st.sampled_from([b"%x", b"%X", b"%04x"])) % len(chunk)
        extension = draw(st.sampled_from([b"", b";a", b";a=b", b';q="x y"', b"; x", b" ", b" \t"]))
        out += size + extension + b"\r\n" + chunk + b"\r\n"
    out += draw(st.sampled_from([b"0", b"000", b"0;end"])) + b"\r\n"
    out += draw(
        st.sampled_from(
            [
                b"\r\n",
                b"\n",
                b"X: y\r\n\r\n",
                b"X: y\nZ: 1\n\n",
                b"A: 1\r\n  2\r\n\r\n",
                b"X: y\n\r\n",
            ]
        )
    )
    return out + draw(st.sampled_from([b"", b"", b"", b"x", b"\r\n"]))


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(request method, response bytes) over every framing and keep-alive signal."""
    method = draw(st.sampled_from([b"GET", b"GET", b"HEAD"]))
    status = draw(st.sampled_from([200, 200, 204, 304, 404]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    payload = draw(st.binary(max_size=30))
    framing = draw(st.sampled_from(["length", "chunked", "eof"]))
    fields = b""
    if framing == "length":
        length = max(len(payload) + draw(st.sampled_from([0, 0, -1, 2])), 0)
        fields += b"Content-Length: %d\r\n" % length
    elif framing == "chunked" and version == b"1.1":
        fields += b"Transfer-Encoding: chunked\r\n"
        payload = draw(chunked_bodies())
    fields += draw(st.sampled_from([b"", b"", b"Connection: close\r\n", b"Connection: x\r\n"]))
    raw = b"HTTP/" + version + b" %d X\r\n" % status + fields + b"\r\n" + payload
    if draw(st.booleans()):
        raw = b"HTTP/1.1 100 Continue\r\n\r\n" + raw
    return method, raw + draw(st.sampled_from([b"", b"", b"X", b"HTTP/1.1 200 OK\r\n\r\n"]))


@settings(max_examples=250, deadline=None)
@given(responses(), st.lists(st.integers(min_value=0), max_size=6))
def test_framing_matches_h11(response: tuple[bytes, bytes], cuts: list[int]) -> None:
    """Body, trailers, errors and reuse are what h11's own readers made of them."""
    method, raw = response
    pieces = cut(raw, cuts)
    assert ours(method, pieces) == reference(method, pieces)


_MUTATIONS = [b"\r\n", b"\r", b"\n", b"\x00", b";", b" ", b"0", b"a", b"Z", b":", b"\t", b"=", b'"']
_STRICTER = re.compile(rb"\x00|\r(?!\n)")
_SIZE_WITH_EXTENSIONS = re.compile(rb"[0-9A-Fa-f]+[ \t]*;(.*)", re.DOTALL)
_BWS_BEFORE_EXTENSION = re.compile(rb"[0-9A-Fa-f][ \t]+;")
_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _qdtext_or_pair_byte(c: int) -> bool:
    return c == 9 or 0x20 <= c <= 0x7E or c >= 0x80


def extensions_follow_the_grammar(rest: bytes) -> bool:
    """RFC 9112 §7.1.1 for what follows a size line's first ";", by hand (an oracle
    written apart from the parser's regular expression)."""
    end = len(rest)

    def skip(at: int, allowed: frozenset[int] | bytes) -> int:
        while at < end and rest[at] in allowed:
            at += 1
        return at

    at = 0
    while True:
        at = skip(at, b" \t")
        name_end = skip(at, _TCHAR)
        if name_end == at:
            return False
        at = skip(name_end, b" \t")
        if at < end and rest[at] == ord("="):
            at = skip(at + 1, b" \t")
            if at < end and rest[at] == ord('"'):
                at += 1
                while True:
                    if at >= end:
                        return False
                    char = rest[at]
                    if char == ord('"'):
                        at += 1
                        break
                    if char == ord("\\"):
                        if at + 1 >= end or not _qdtext_or_pair_byte(rest[at + 1]):
                            return False
                        at += 2
                    elif _qdtext_or_pair_byte(char):
                        at += 1
                    else:
                        return False
            else:
                value_end = skip(at, _TCHAR)
                if value_end == at:
                    return False
                at = value_end
            at = skip(at, b" \t")
        if at == end:
            return True
        if rest[at] != ord(";"):
            return False
        at += 1


def has_invalid_extension(data: bytes) -> bool:
    """Whether some CRLF-ended line looks like a size line with invalid extensions."""
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            match = _SIZE_WITH_EXTENSIONS.fullmatch(line[:-1])
            if match and not extensions_follow_the_grammar(match[1]):
                return True
    return False


@pytest.mark.parametrize(
    ("rest", "valid"),
    [
        (b"a", True),
        (b' a = "b\\"" ; c ', True),
        (b"a=b;c=d", True),
        (b"", False),
        (b"a;", False),
        (b"a=", False),
        (b'a="b', False),
        (b'a="\\\x01"', False),
        (b"a b", False),
    ],
)
def test_the_extension_oracle(rest: bytes, valid: bool) -> None:
    assert extensions_follow_the_grammar(rest) is valid


@settings(max_examples=250, deadline=None)
@given(
    chunked_bodies(),
    st.lists(st.tuples(st.integers(min_value=0), st.sampled_from([*_MUTATIONS, b""])), max_size=3),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_chunked_parser_is_at_least_as_strict_as_h11(
    body: bytes, mutations: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    """Whatever h11 refused is refused, unless it is whitespace before an extension's
    ";" (RFC 9112 allows it); what it accepted comes out the same, unless it holds one
    of the bytes refused on purpose (NUL, a lone CR) or an extension that does not
    follow RFC 9112's grammar."""
    data = bytearray(body)
    for at, token in mutations:
        at %= len(data) + 1
        data[at : at + (0 if token else 1)] = token  # insert a token, or delete a byte
    raw = CHUNKED_HEAD + bytes(data)
    pieces = cut(raw, cuts)
    expected, got = reference(b"GET", pieces), ours(b"GET", pieces)
    if expected == ("error",) and got != ("error",):
        assert _BWS_BEFORE_EXTENSION.search(bytes(data))
    elif expected != ("error",) and got == ("error",):
        assert _STRICTER.search(bytes(data)) or has_invalid_extension(bytes(data))
    else:
        assert got == expected


def test_a_repeated_request_head_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a keep-alive connection the same request (method, target, fields, body or
    not) reuses the bytes of the last head; any difference, or the caller changing the
    list of fields it passed, writes the head anew. The bytes sent are the same."""
    import sansio.h1

    written: list[bytes] = []
    write = sansio.h1.write_request_head

    def counted(*args: object, **kwargs: bool) -> object:
        written.append(args[1])  # type: ignore[arg-type]
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sansio.h1, "write_request_head", counted)
    conn = H1Connection(validate_headers=False)
    fields = [HOST, (b"Accept", b"*/*")]
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def send(request: RequestHead) -> bytes:
        sid = conn.start_request(request, has_body=False)
        result = drive(conn, sid, [ok])
        conn.release(sid)
        assert result.body == b"ok"
        return result.sent

    first = send(head(headers=fields))
    assert send(head(headers=list(fields))) == first
    assert written == [b"/"]
    fields.append((b"X-Later", b"1"))  # the caller's list changes: a new head
    assert send(head(headers=fields)).endswith(b"X-Later: 1\r\n\r\n")
    assert send(head(target=b"/other", headers=fields)).startswith(b"GET /other ")
    assert written == [b"/", b"/", b"/other"]
