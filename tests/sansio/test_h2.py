"""The HTTP/2 machine, driven against a real h2 server in memory (and raw frames where a
well-behaved server cannot misbehave)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import hpack
import hyperframe.frame as hf
import pytest
from h2.errors import ErrorCodes
from hpack import Encoder, NeverIndexedHeaderTuple
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sansio.exceptions import LocalProtocolError, RemoteProtocolError
from sansio.h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_INFORMATIONAL_RESPONSES
from sansio.h2 import (
    CONNECTION_WINDOW_SIZE,
    HEADER_BLOCK_CACHE_BYTES,
    HEADER_BLOCK_CACHE_SIZE,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_PENDING_CONTROL_REPLIES,
    STREAM_WINDOW_SIZE,
    H2Connection,
)
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    RequestNotProcessed,
    ResponseHead,
    Signal,
    WireConnection,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
Codes = h2.settings.SettingCodes


def request(
    method: bytes = b"GET",
    target: bytes = b"/",
    headers: Iterable[tuple[bytes, bytes]] = (),
    authority: bytes = b"example.com",
    scheme: bytes = b"https",
) -> RequestHead:
    return RequestHead(
        method=method, target=target, headers=list(headers), authority=authority, scheme=scheme
    )


# -- the in-memory server -----------------------------------------------------------


@dataclass
class Received:
    headers: list[tuple[bytes, bytes]]
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: ErrorCodes | int | None = None


class Server:
    """An h2 server connection: the independent peer that checks every frame we send.

    ``handler(server, stream_id)`` runs when a request has ended; ``ack`` gives received
    body bytes back to the client's windows as they arrive.
    """

    def __init__(
        self,
        settings: dict[int, int] | None = None,
        *,
        ack: bool = True,
        handler: Callable[[Server, int], None] | None = None,
    ) -> None:
        self.h2 = h2.connection.H2Connection(
            # No inbound normalisation: the tests see the fields exactly as we sent them.
            h2.config.H2Configuration(
                client_side=False, header_encoding=None, normalize_inbound_headers=False
            )
        )
        self.h2.initiate_connection()
        if settings:
            self.h2.update_settings(settings)
        self.ack = ack
        self.handler = handler
        self.requests: dict[int, Received] = {}
        self.events: list[h2.events.Event] = []
        self.outgoing: dict[int, list[Any]] = {}

    def receive(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            self.events.append(event)
            if isinstance(event, h2.events.RequestReceived):
                assert event.stream_id is not None
                self.requests[event.stream_id] = Received(list(event.headers))
            elif isinstance(event, h2.events.DataReceived):
                assert event.stream_id is not None
                self.requests[event.stream_id].body += event.data
                if self.ack:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.requests[event.stream_id].reset = event.error_code
                self.outgoing.pop(event.stream_id, None)
            if isinstance(event, h2.events.StreamEnded):
                self.requests[event.stream_id].ended = True
                if self.handler is not None:
                    self.handler(self, event.stream_id)
        self.flush()

    def respond(
        self,
        sid: int,
        status: bytes = b"200",
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        ends = not body and trailers is None
        self.h2.send_headers(sid, [(b":status", status), *headers], end_stream=ends)
        if not ends:
            self.outgoing[sid] = [memoryview(body), trailers]
        self.flush()

    def flush(self) -> None:
        """Send what the client's windows allow of every pending response body."""
        for sid, item in list(self.outgoing.items()):
            data, trailers = item
            while data:
                size = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
                if size <= 0:
                    break
                piece, data = data[:size], data[size:]
                self.h2.send_data(sid, piece, end_stream=not data and trailers is None)
            item[0] = data
            if not data:
                if trailers is not None:
                    self.h2.send_headers(sid, trailers, end_stream=True)
                del self.outgoing[sid]

    def data_to_send(self) -> bytes:
        return self.h2.data_to_send()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def echo(server: Server, sid: int) -> None:
    got = server.requests[sid]
    path = dict(got.headers)[b":path"]
    server.respond(sid, headers=[(b"x-path", path)], body=bytes(got.body) or b"hello " + path)


def frames(data: bytes) -> list[hf.Frame]:
    """The frames in bytes the client sent (after the preface, if there)."""
    data = data.removeprefix(PREFACE)
    found = []
    while data:
        frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        found.append(frame)
        data = data[9 + length :]
    return found


def header_block(sid: int, headers: list[tuple[bytes, bytes]], *, end_stream: bool) -> bytes:
    """HEADERS and CONTINUATION frames from a fresh encoder, without Huffman coding (hpack's
    pure-Python Huffman coder is slow for 64 KiB)."""
    block = Encoder().encode(headers, huffman=False)
    pieces = [block[i : i + MAX_FRAME_SIZE] for i in range(0, len(block), MAX_FRAME_SIZE)]
    flags = ["END_STREAM"] if end_stream else []
    if len(pieces) == 1:
        flags.append("END_HEADERS")
    data = hf.HeadersFrame(sid, data=pieces[0], flags=flags).serialize()
    for i, piece in enumerate(pieces[1:], 2):
        last = ["END_HEADERS"] if i == len(pieces) else []
        data += hf.ContinuationFrame(sid, data=piece, flags=last).serialize()
    return data


def raw_headers(encoder: Encoder, sid: int, headers: list[tuple[bytes, bytes]], **kw: Any) -> bytes:
    flags = ["END_HEADERS", *kw.pop("flags", [])]
    return hf.HeadersFrame(sid, data=encoder.encode(headers), flags=flags, **kw).serialize()


# -- a shell in miniature -----------------------------------------------------------


@dataclass
class Result:
    head: ResponseHead | None = None
    body: bytearray = field(default_factory=bytearray)
    trailers: list[tuple[bytes, bytes]] | None = None
    error: Exception | None = None
    phase: FailurePhase | None = None
    steps: list[Signal] = field(default_factory=list)


def feed(conn: H2Connection, data: bytes, split: int | None) -> None:
    if split is None:
        conn.receive_data(data)
    else:
        for i in range(0, len(data), split):
            conn.receive_data(data[i : i + split])


def drive(
    conn: H2Connection,
    server: Server,
    bodies: dict[int, Iterator[bytes] | None],
    *,
    split: int | None = None,
) -> dict[int, Result]:
    """Run every stream to its end, round robin, as a shell with one reader would."""
    results = {sid: Result() for sid in bodies}
    active = dict(bodies)

    def finish(sid: int) -> None:
        del active[sid]
        conn.release(sid)
        server.receive(conn.data_to_send())

    while active:
        progressed = False
        for sid in list(active):
            result = results[sid]
            while True:
                try:
                    step = conn.next_step(sid)
                except RemoteProtocolError as exc:
                    result.error = exc
                    result.phase = conn.failure_phase(sid)
                    finish(sid)
                    break
                if isinstance(step, Signal):
                    result.steps.append(step)
                if step is SEND:
                    server.receive(conn.data_to_send())
                elif step is NEED_BODY:
                    body = active[sid]
                    assert body is not None
                    conn.send_body(sid, next(body, None))
                elif step is RECEIVE:
                    break
                elif isinstance(step, ResponseHead):
                    result.head = step
                elif isinstance(step, BodyChunk):
                    result.body += step.data
                else:
                    assert isinstance(step, EndOfBody)
                    result.trailers = step.trailers
                    finish(sid)
                    break
                progressed = True
        if not active:
            break
        data = server.data_to_send()
        if data:
            feed(conn, data, split)
        else:
            assert progressed, "deadlock: every stream waits and the server has nothing to send"
    return results


def connected(**kw: Any) -> tuple[H2Connection, Server]:
    """A client whose preface the server has seen, and which has seen the server's."""
    server = Server(kw.pop("server_settings", None), handler=kw.pop("handler", echo))
    conn = H2Connection(**kw)
    server.receive(conn.data_to_send())
    conn.receive_data(server.data_to_send())
    server.receive(conn.data_to_send())  # our SETTINGS ACK
    return conn, server


def chunks(*parts: bytes) -> Iterator[bytes]:
    return iter(parts)


# mypy keeps what an assert said about a property even after calls that change it:
# these read the state afresh.
def reusable(conn: H2Connection) -> bool:
    return conn.is_reusable


def idle(conn: H2Connection) -> bool:
    return conn.is_idle


def can_start(conn: H2Connection) -> bool:
    return conn.can_start_request


# -- construction -------------------------------------------------------------------


def test_preface_settings_and_connection_window_are_queued_at_construction() -> None:
    conn = H2Connection()
    data = conn.data_to_send()
    assert data.startswith(PREFACE)
    settings_frame, window = frames(data)
    assert isinstance(settings_frame, hf.SettingsFrame)
    assert settings_frame.settings == {
        Codes.HEADER_TABLE_SIZE: 4096,
        Codes.ENABLE_PUSH: 0,
        Codes.INITIAL_WINDOW_SIZE: STREAM_WINDOW_SIZE,
        Codes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
        Codes.MAX_HEADER_LIST_SIZE: MAX_HEADER_BYTES,
    }
    assert isinstance(window, hf.WindowUpdateFrame)
    assert window.stream_id == 0
    assert window.window_increment == CONNECTION_WINDOW_SIZE - 65535
    assert conn.data_to_send() == b""
    assert idle(conn)
    assert reusable(conn)
    assert can_start(conn)
    assert conn.max_streams == MAX_CONCURRENT_STREAMS == 100


def test_the_server_accepts_the_preface_and_sees_our_windows() -> None:
    _conn, server = connected()
    assert server.h2.remote_settings.initial_window_size == 1024 * 1024
    assert server.h2.outbound_flow_control_window == 16 * 1024 * 1024
    assert server.h2.remote_settings.enable_push == 0


def test_smallest_connection_window_sends_no_window_update() -> None:
    conn = H2Connection(connection_window_size=65535)
    assert [type(f) for f in frames(conn.data_to_send())] == [hf.SettingsFrame]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_header_bytes": 0},
        {"max_header_count": 0},
        {"max_informational": -1},
        {"max_concurrent_streams": 0},
        {"max_control_replies": 0},
        {"stream_window_size": 0},
        {"stream_window_size": 2**31},
        {"connection_window_size": 65534},
        {"connection_window_size": 2**31},
        {"max_frame_size": 16383},
        {"max_frame_size": 2**24},
    ],
)
def test_limits_out_of_range_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        H2Connection(**kwargs)


def test_implements_the_wire_protocol() -> None:
    conn: WireConnection = H2Connection()  # checked by mypy
    assert conn.max_streams == 100


# -- one exchange -------------------------------------------------------------------


@pytest.mark.parametrize("split", [None, 1, 7])
def test_single_request_and_response(split: int | None) -> None:
    conn, server = connected()
    sid = conn.start_request(request(target=b"/a?b=c"), has_body=False)
    assert sid == 1
    assert not idle(conn)
    result = drive(conn, server, {sid: None}, split=split)[sid]
    assert result.head == ResponseHead(
        status_code=200, reason=b"", headers=[(b"x-path", b"/a?b=c")], http_version="HTTP/2"
    )
    assert result.body == b"hello /a?b=c"
    assert result.trailers == []
    assert idle(conn)
    assert reusable(conn)
    assert can_start(conn)
    got = server.requests[1]
    assert got.headers == [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/a?b=c"),
    ]
    assert got.ended
    assert got.reset is None


def test_request_headers_are_converted_for_http2() -> None:
    conn, server = connected(handler=None)
    headers = [
        (b"Host", b"ignored.example"),
        (b"Accept", b"*/*"),
        (b"Connection", b"keep-alive, TE"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"h2c"),
        (b"TE", b"gzip;q=0.5, Trailers"),
        (b"Authorization", b"Basic dTpw"),
        (b"Proxy-Authorization", b"Basic cDpx"),
        (b"Cookie", b"a=1"),
        (b"Cookie", b"session=0123456789abcdefghij"),
        (b"X-Custom", b"Value"),
    ]
    conn.start_request(request(headers=headers), has_body=False)
    server.receive(conn.data_to_send())
    got = server.requests[1].headers
    assert got == [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/"),
        (b"accept", b"*/*"),
        (b"te", b"trailers"),
        (b"authorization", b"Basic dTpw"),
        (b"proxy-authorization", b"Basic cDpx"),
        (b"cookie", b"a=1"),
        (b"cookie", b"session=0123456789abcdefghij"),
        (b"x-custom", b"Value"),
    ]
    # Credentials and short cookies stay out of the HPACK table (never indexed).
    secret = [h[0] for h in got if isinstance(h, NeverIndexedHeaderTuple)]
    assert secret == [b"authorization", b"proxy-authorization", b"cookie"]


def test_te_without_trailers_is_dropped_and_host_fills_a_missing_authority() -> None:
    conn, server = connected(handler=None)
    headers = [(b"TE", b"gzip"), (b"Host", b"h.example:8443"), (b"Host", b"second.example")]
    conn.start_request(request(headers=headers, authority=b""), has_body=False)
    server.receive(conn.data_to_send())
    assert server.requests[1].headers[2:] == [
        (b":authority", b"h.example:8443"),
        (b":path", b"/"),
    ]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (request(method=b"G T"), "invalid request method"),
        (request(method=b""), "invalid request method"),
        (request(method=b"CONNECT"), "CONNECT is not supported"),
        (request(target=b"/a b"), "invalid request target"),
        (request(target=b""), "invalid request target"),
        (request(target=b"/\r\nx"), "invalid request target"),
        (request(scheme=b"ht tp"), "invalid request scheme"),
        (request(authority=b""), "needs a valid authority"),
        (request(authority=b"a\nb"), "needs a valid authority"),
        (request(authority=b"", headers=[(b"Host", b"a b")]), "needs a valid authority"),
        (request(headers=[(b"Bad Name", b"x")]), "invalid header name"),
        (request(headers=[(b"", b"x")]), "invalid header name"),
        (request(headers=[(b"x", b"a\r\nb: c")]), "invalid value"),
        (request(headers=[(b"x", b"a\x00")]), "invalid value"),
        (request(headers=[(b"x", b" a")]), "invalid value"),
        (request(headers=[(b"x", b"a\t")]), "invalid value"),
    ],
)
def test_invalid_requests_are_refused_before_anything_is_sent(
    head: RequestHead, message: str
) -> None:
    conn, server = connected()
    with pytest.raises(LocalProtocolError, match=message):
        conn.start_request(head, has_body=False)
    assert conn.data_to_send() == b""
    assert idle(conn)
    assert reusable(conn)
    # The connection is untouched: the next request goes out as stream 1.
    sid = conn.start_request(request(), has_body=False)
    assert sid == 1
    assert drive(conn, server, {sid: None})[sid].body == b"hello /"


def test_header_fields_are_trusted_without_validation() -> None:
    conn, _server = connected(validate_headers=False, handler=None)
    conn.start_request(request(headers=[(b"X-Odd", b" spaced ")]), has_body=False)
    assert frames(conn.data_to_send())
    # The method, target, scheme and authority are checked all the same.
    with pytest.raises(LocalProtocolError):
        conn.start_request(request(target=b"/\n"), has_body=False)


def test_empty_values_and_obs_text_are_valid() -> None:
    conn, server = connected(handler=None)
    conn.start_request(
        request(headers=[(b"x-empty", b""), (b"x-text", b"caf\xe9")]), has_body=False
    )
    server.receive(conn.data_to_send())
    assert server.requests[1].headers[4:] == [(b"x-empty", b""), (b"x-text", b"caf\xe9")]


# -- request bodies and send-side flow control ----------------------------------------


def test_request_body_in_chunks() -> None:
    conn, server = connected()
    sid = conn.start_request(request(b"POST", b"/up"), has_body=True)
    result = drive(conn, server, {sid: chunks(b"abc", b"", b"def")})[sid]
    assert result.body == b"abcdef"
    assert server.requests[sid].body == b"abcdef"
    assert server.requests[sid].ended
    assert result.steps.count(NEED_BODY) == 4


def test_an_empty_body_ends_with_an_empty_data_frame() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, None)
    data = conn.data_to_send()
    (frame,) = frames(data)
    assert isinstance(frame, hf.DataFrame)
    assert frame.data == b""
    assert "END_STREAM" in frame.flags
    server.receive(data)
    assert server.requests[sid].ended
    assert conn.next_step(sid) is RECEIVE
    with pytest.raises(RuntimeError, match="has ended"):
        conn.send_body(sid, b"more")


def test_send_body_without_a_body_is_a_caller_bug() -> None:
    conn = H2Connection()
    sid = conn.start_request(request(), has_body=False)
    with pytest.raises(RuntimeError, match="has ended"):
        conn.send_body(sid, b"x")


@pytest.mark.parametrize("pieces", [1, 10])
def test_ten_mebibyte_upload_under_small_server_windows(pieces: int) -> None:
    # The server grants 32 KiB per stream and keeps its 64 KiB connection window,
    # handing windows back as it reads: 10 MiB go out in window-sized steps.
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 32 * 1024})
    payload = bytes(range(256)) * (40 * 1024)
    assert len(payload) == 10 * 1024 * 1024
    size = len(payload) // pieces
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    sid = conn.start_request(request(b"PUT", b"/big"), has_body=True)
    result = drive(conn, server, {sid: iter(parts)})[sid]
    assert server.requests[sid].body == payload
    assert result.body == payload
    # One NEED_BODY per chunk and one for the end: never again while data waited.
    assert result.steps.count(NEED_BODY) == pieces + 1
    assert result.steps.count(RECEIVE) > 100  # waiting for WINDOW_UPDATEs
    assert len(server.of(h2.events.DataReceived)) >= len(payload) // MAX_FRAME_SIZE


def test_data_frames_respect_the_servers_max_frame_size() -> None:
    conn, server = connected(server_settings={Codes.MAX_FRAME_SIZE: 20000}, handler=None)
    assert server.h2.max_outbound_frame_size == 16384  # the server's own, not ours
    sid = conn.start_request(request(b"POST"), has_body=True)
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, b"x" * 50000)
    sizes = [len(f.data) for f in frames(conn.data_to_send()) if isinstance(f, hf.DataFrame)]
    assert sizes == [20000, 20000, 10000]


def test_a_stream_blocked_on_its_window_does_not_hold_up_others() -> None:
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 1000})
    server.ack = False  # the server reads nothing yet: the upload stays blocked
    up = conn.start_request(request(b"POST", b"/up"), has_body=True)
    assert conn.next_step(up) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(up) is NEED_BODY
    conn.send_body(up, b"y" * 3000)
    assert conn.next_step(up) is SEND
    server.receive(conn.data_to_send())
    assert server.requests[up].body == b"y" * 1000
    assert conn.next_step(up) is RECEIVE  # waiting for a WINDOW_UPDATE
    with pytest.raises(RuntimeError, match="still waiting"):
        conn.send_body(up, b"more")

    get = conn.start_request(request(target=b"/other"), has_body=False)
    result = drive(conn, server, {get: None})[get]
    assert result.body == b"hello /other"
    assert conn.next_step(up) is RECEIVE
    assert conn.take_ready() == []  # a released stream is not reported

    # The server reads and grants more: the upload goes on, and ends.
    server.h2.acknowledge_received_data(1000, up)
    server.ack = True
    conn.receive_data(server.data_to_send())
    assert conn.take_ready() == [up]
    result = drive(conn, server, {up: iter([])})[up]
    assert server.requests[up].body == b"y" * 3000
    assert result.body == b"y" * 3000


def test_connection_window_updates_wake_every_sender() -> None:
    # Large stream windows: only the server's 64 KiB connection window limits us.
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 2**20}, handler=None)
    server.ack = False
    a = conn.start_request(request(b"POST"), has_body=True)
    b = conn.start_request(request(b"POST"), has_body=True)
    c = conn.start_request(request(), has_body=False)
    conn.send_body(a, b"a" * 65535)  # the whole connection window
    assert conn.next_step(b) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(b) is RECEIVE  # no connection window left
    assert conn.next_step(a) is RECEIVE  # all sent; window closed: no NEED_BODY
    server.h2.increment_flow_control_window(100)
    conn.receive_data(server.data_to_send())
    assert sorted(conn.take_ready()) == [a, b]
    assert conn.next_step(a) is NEED_BODY
    assert conn.next_step(c) is RECEIVE


def test_a_stream_window_update_wakes_only_a_sender() -> None:
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 10}, handler=None)
    server.ack = False
    up = conn.start_request(request(b"POST"), has_body=True)
    get = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    conn.take_ready()
    server.h2.increment_flow_control_window(5, up)
    server.h2.increment_flow_control_window(5, get)
    conn.receive_data(server.data_to_send())
    assert conn.take_ready() == [up]


def test_settings_initial_window_change_wakes_senders_and_resumes_the_upload() -> None:
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 0}, handler=None)
    up = conn.start_request(request(b"POST"), has_body=True)
    get = conn.start_request(request(), has_body=False)
    assert conn.next_step(up) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(up) is RECEIVE  # a zero window: no NEED_BODY
    server.h2.update_settings({Codes.INITIAL_WINDOW_SIZE: 100})
    conn.receive_data(server.data_to_send())
    assert conn.take_ready() == [up]
    assert get not in conn.take_ready()
    assert conn.next_step(up) is SEND  # the SETTINGS ACK
    conn.data_to_send()
    assert conn.next_step(up) is NEED_BODY


def test_end_of_body_waits_for_the_data_before_it() -> None:
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 100}, handler=None)
    server.ack = False
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    conn.send_body(sid, b"z" * 150)
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(sid) is RECEIVE
    with pytest.raises(RuntimeError, match="still waiting"):
        conn.send_body(sid, None)
    server.h2.acknowledge_received_data(100, sid)
    server.h2.increment_flow_control_window(100, sid)
    conn.receive_data(server.data_to_send())
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, None)
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    assert server.requests[sid].body == b"z" * 150
    assert server.requests[sid].ended


def test_the_last_piece_carries_end_stream_once_the_window_opens() -> None:
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 10}, handler=None)
    server.ack = False
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    conn.send_body(sid, b"0123456789abcdef")
    server.receive(conn.data_to_send())
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    server.h2.increment_flow_control_window(10, sid)
    conn.receive_data(server.data_to_send())
    assert conn.next_step(sid) is SEND
    data = conn.data_to_send()
    sent = [(f.data, "END_STREAM" in f.flags) for f in frames(data) if isinstance(f, hf.DataFrame)]
    assert sent == [(b"abcdef", False)]
    server.receive(data)
    assert conn.next_step(sid) is NEED_BODY
    conn.send_body(sid, None)
    assert conn.failure_phase(sid) is FailurePhase.SENDING  # END_STREAM not yet taken
    server.receive(conn.data_to_send())
    assert conn.failure_phase(sid) is FailurePhase.AWAITING_RESPONSE
    assert server.requests[sid].ended


# -- many streams -------------------------------------------------------------------


@pytest.mark.parametrize("split", [None, 1])
def test_one_hundred_concurrent_streams_interleaved(split: int | None) -> None:
    conn, server = connected(handler=None)
    sids = [
        conn.start_request(request(target=f"/{i}".encode()), has_body=False) for i in range(100)
    ]
    assert sids == list(range(1, 200, 2))
    assert not can_start(conn)  # our cap of 100
    with pytest.raises(RuntimeError, match="cannot start"):
        conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    # Heads in reverse order, then bodies in three rounds across all streams.
    for sid in reversed(sids):
        server.h2.send_headers(sid, [(b":status", b"200"), (b"x-sid", str(sid).encode())])
    for part in range(3):
        for sid in sids:
            server.h2.send_data(sid, f"{sid}:{part};".encode(), end_stream=part == 2)
    results = drive(conn, server, dict.fromkeys(sids), split=split)
    for sid in sids:
        result = results[sid]
        assert result.head is not None
        assert result.head.headers == [(b"x-sid", str(sid).encode())]
        assert result.body == f"{sid}:0;{sid}:1;{sid}:2;".encode()
    assert idle(conn)
    assert can_start(conn)


def test_events_are_buffered_per_stream() -> None:
    conn, server = connected(handler=None)
    a = conn.start_request(request(), has_body=False)
    b = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(b, body=b"for b")
    conn.receive_data(server.data_to_send())
    assert conn.take_ready() == [b]
    assert conn.take_ready() == []
    assert not conn.has_pending_events(a)
    assert conn.has_pending_events(b)
    assert conn.next_step(a) is RECEIVE
    assert isinstance(conn.next_step(b), ResponseHead)
    assert conn.next_step(b) == BodyChunk(b"for b")
    assert conn.next_step(b) == EndOfBody([])
    assert not conn.has_pending_events(b)
    with pytest.raises(RuntimeError, match="already ended"):
        conn.next_step(b)
    with pytest.raises(ValueError, match="not in flight"):
        conn.has_pending_events(99)


def test_max_concurrent_streams_lowered_mid_connection() -> None:
    conn, server = connected(handler=None)
    sids = [conn.start_request(request(), has_body=False) for _ in range(3)]
    server.receive(conn.data_to_send())
    server.h2.update_settings({Codes.MAX_CONCURRENT_STREAMS: 2})
    conn.receive_data(server.data_to_send())
    assert conn.max_streams == 2
    assert not can_start(conn)
    for sid in sids[:2]:
        server.respond(sid)
    conn.receive_data(server.data_to_send())
    conn.release(sids[0])
    assert not can_start(conn)  # 2 running, 2 allowed
    conn.release(sids[1])
    assert can_start(conn)
    assert reusable(conn)
    sid = conn.start_request(request(target=b"/next"), has_body=False)
    server.handler = echo
    server.respond(sids[2])
    results = drive(conn, server, {sids[2]: None, sid: None})
    assert results[sid].body == b"hello /next"


def test_the_server_cannot_raise_our_cap() -> None:
    conn, _server = connected(
        max_concurrent_streams=5, server_settings={Codes.MAX_CONCURRENT_STREAMS: 50}
    )
    assert conn.max_streams == 5
    for _ in range(5):
        conn.start_request(request(), has_body=False)
    assert not can_start(conn)


def test_settings_that_change_neither_limit_nor_window() -> None:
    conn, server = connected(handler=None)
    server.h2.update_settings({Codes.HEADER_TABLE_SIZE: 100})
    conn.receive_data(server.data_to_send())
    assert conn.max_streams == 100
    assert conn.take_ready() == []


# -- receiving ----------------------------------------------------------------------


def test_large_download_reopens_windows_as_the_user_reads() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    payload = bytes(range(251)) * 20000  # ~4.8 MiB, over four stream windows
    server.respond(sid, body=payload)
    result = drive(conn, server, {sid: None})[sid]
    assert result.body == payload
    updates = server.of(h2.events.WindowUpdated)
    assert [u for u in updates if u.stream_id == sid]  # the stream window reopened
    assert result.steps.count(SEND) >= 4  # WINDOW_UPDATEs went out as chunks were taken


def test_unread_data_is_bounded_by_the_stream_window() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, body=b"q" * (3 * STREAM_WINDOW_SIZE))
    conn.receive_data(server.data_to_send())
    # The server has used the whole stream window and waits: nothing was granted back.
    assert server.h2.local_flow_control_window(sid) == 0
    buffered = 0
    step = conn.next_step(sid)
    assert isinstance(step, ResponseHead)
    while conn.has_pending_events(sid):
        step = conn.next_step(sid)
        assert isinstance(step, BodyChunk)
        buffered += len(step.data)
    assert buffered == STREAM_WINDOW_SIZE


def test_unread_data_across_streams_is_bounded_by_the_connection_window() -> None:
    conn, server = connected(handler=None, stream_window_size=50_000, connection_window_size=65_535)
    a = conn.start_request(request(), has_body=False)
    b = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(a, body=b"a" * 60_000)
    server.respond(b, body=b"b" * 60_000)
    conn.receive_data(server.data_to_send())
    assert server.h2.outbound_flow_control_window == 0
    assert server.h2.local_flow_control_window(a) == 0
    assert server.h2.local_flow_control_window(b) == 0


def test_data_beyond_the_stream_window_is_a_connection_error() -> None:
    # At the window's size the data is accepted; one byte more fails the connection.
    for size, fails in ((1000, False), (1001, True)):
        conn, server = connected(handler=None, stream_window_size=1000)
        sid = conn.start_request(request(), has_body=False)
        server.receive(conn.data_to_send())
        data = raw_headers(Encoder(), sid, [(b":status", b"200")])
        data += hf.DataFrame(sid, data=b"d" * size, flags=["END_STREAM"]).serialize()
        conn.receive_data(data)
        if fails:
            assert conn.next_step(sid) is SEND  # the GOAWAY first
            (goaway,) = frames(conn.data_to_send())
            assert isinstance(goaway, hf.GoAwayFrame)
            assert goaway.error_code == ErrorCodes.FLOW_CONTROL_ERROR
            with pytest.raises(RemoteProtocolError, match="HTTP/2 protocol error"):
                conn.next_step(sid)
            assert not reusable(conn)
        else:
            assert isinstance(conn.next_step(sid), ResponseHead)
            assert conn.next_step(sid) == BodyChunk(b"d" * size)
            assert conn.next_step(sid) == EndOfBody([])


def test_trailers_come_with_the_end_of_the_body() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(headers=[(b"TE", b"trailers")]), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, body=b"body", trailers=[(b"grpc-status", b"0"), (b"x-sum", b"abc")])
    result = drive(conn, server, {sid: None})[sid]
    assert result.body == b"body"
    assert result.trailers == [(b"grpc-status", b"0"), (b"x-sum", b"abc")]


def test_informational_responses_are_skipped() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"103"), (b"link", b"</a.css>")])
    server.h2.send_headers(sid, [(b":status", b"100")])
    server.respond(sid, status=b"204")
    result = drive(conn, server, {sid: None})[sid]
    assert result.head is not None
    assert result.head.status_code == 204
    assert result.head.headers == []
    assert result.head.informational == ((103, [(b"link", b"</a.css>")]), (100, []))


@pytest.mark.parametrize("status", [b"1000", b"1ab", b"10"])
def test_a_malformed_informational_status_fails_that_stream_only(status: bytes) -> None:
    conn, server = connected(handler=None)
    bad = conn.start_request(request(), has_body=False)
    good = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(bad, [(b":status", status)])
    server.respond(good, body=b"fine")
    results = drive(conn, server, {bad: None, good: None})
    assert isinstance(results[bad].error, RemoteProtocolError)
    assert "malformed :status" in str(results[bad].error)
    assert results[good].body == b"fine"


def test_a_101_response_is_malformed_in_http2() -> None:
    conn, server = connected(handler=None)
    bad = conn.start_request(request(), has_body=False)
    good = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(bad, [(b":status", b"101")])
    server.respond(good, body=b"fine")
    results = drive(conn, server, {bad: None, good: None})
    assert isinstance(results[bad].error, RemoteProtocolError)
    assert "101 response" in str(results[bad].error)
    assert results[bad].phase is FailurePhase.RECEIVING
    assert server.requests[bad].reset == ErrorCodes.PROTOCOL_ERROR
    assert results[good].body == b"fine"
    assert reusable(conn)


# -- the limits of the HTTP/1.1 machine: 1xx heads, header fields ------------------------


def fields(count: int, prefix: bytes = b"x-f") -> list[tuple[bytes, bytes]]:
    return [(prefix + b"%d" % i, b"v") for i in range(count)]


@pytest.mark.parametrize("limit", [MAX_INFORMATIONAL_RESPONSES, 2, 0])
def test_informational_responses_at_and_past_the_limit(limit: int) -> None:
    kwargs = {} if limit == MAX_INFORMATIONAL_RESPONSES else {"max_informational": limit}
    conn, server = connected(handler=None, **kwargs)
    at = conn.start_request(request(), has_body=False)
    past = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    for _ in range(limit):
        server.h2.send_headers(at, [(b":status", b"103")])
    server.respond(at, body=b"fine")
    for _ in range(limit + 1):  # and no final response: the stream stays open
        server.h2.send_headers(past, [(b":status", b"100")])
    results = drive(conn, server, {at: None, past: None})
    assert results[at].body == b"fine"
    error = results[past].error
    assert isinstance(error, RemoteProtocolError)
    assert str(error) == (
        f"more than {limit} informational (1xx) responses before the final response"
    )
    assert results[past].phase is FailurePhase.RECEIVING
    assert server.requests[past].reset == ErrorCodes.CANCEL
    assert reusable(conn)  # one stream failed, the connection goes on
    assert can_start(conn)


@pytest.mark.parametrize("where", ["head", "informational", "trailers"])
@pytest.mark.parametrize("limit", [MAX_HEADER_COUNT, 3])
def test_header_fields_at_and_past_the_limit(where: str, limit: int) -> None:
    kwargs = {} if limit == MAX_HEADER_COUNT else {"max_header_count": limit}
    conn, server = connected(handler=None, **kwargs)
    sids = {}
    for count in (limit, limit + 1):
        sids[count] = sid = conn.start_request(request(), has_body=False)
        server.receive(conn.data_to_send())
        many = fields(count)
        if where == "trailers":
            server.respond(sid, body=b"body", trailers=many)
        elif where == "informational":
            server.h2.send_headers(sid, [(b":status", b"103"), *many])
        if where == "head" or (where == "informational" and count == limit):
            # Past the limit the stream stays open: the reset is seen.
            server.h2.send_headers(sid, [(b":status", b"200"), *many])
            if count == limit:
                server.h2.send_data(sid, b"body", end_stream=True)
        server.flush()
    results = drive(conn, server, dict.fromkeys(sids.values()))
    fine, failed = results[sids[limit]], results[sids[limit + 1]]
    assert fine.error is None
    assert fine.body == b"body"
    if where == "trailers":
        assert fine.trailers == many[:-1]
    elif where == "head":
        assert fine.head is not None
        assert fine.head.headers == many[:-1]
    kind = "trailer" if where == "trailers" else "header"
    assert isinstance(failed.error, RemoteProtocolError)
    assert str(failed.error) == f"response has more than {limit} {kind} fields"
    assert reusable(conn)
    if where == "trailers":
        # The whole body came before the trailers that failed it.
        assert failed.body == b"body"
        assert server.requests[sids[limit + 1]].reset is None  # the stream had ended
    else:
        assert failed.body == b""
        assert server.requests[sids[limit + 1]].reset == ErrorCodes.CANCEL


def test_the_planner_gives_both_machines_the_same_limits() -> None:
    from sansio.exchange import Planner

    planner = Planner(http1=False, http2=True, max_header_bytes=5000, max_header_count=7)
    conn = planner.new_connection(None)
    assert isinstance(conn, H2Connection)
    server = Server(handler=None)
    server.receive(conn.data_to_send())
    assert server.h2.remote_settings.max_header_list_size == 5000
    conn.receive_data(server.data_to_send())
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, headers=fields(8))
    conn.receive_data(server.data_to_send())
    with pytest.raises(RemoteProtocolError, match="more than 7 header fields"):
        drive_until_error(conn, sid)


def drive_until_error(conn: H2Connection, sid: int) -> None:
    while conn.next_step(sid) is SEND:
        conn.data_to_send()


@pytest.mark.parametrize("status", [b"2000", b"20", b"abc", b"099", b"0xx"])
def test_a_malformed_status_fails_that_stream_only(status: bytes) -> None:
    conn, server = connected(handler=None)
    bad = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(bad, [(b":status", status)], end_stream=True)
    conn.receive_data(server.data_to_send())
    assert conn.data_to_send() == b""  # the stream is closed: no RST_STREAM
    with pytest.raises(RemoteProtocolError, match="malformed :status"):
        conn.next_step(bad)
    with pytest.raises(RuntimeError, match="failed earlier"):
        conn.next_step(bad)
    conn.release(bad)
    assert reusable(conn)
    assert can_start(conn)


def test_padding_is_given_back_at_once() -> None:
    conn, server = connected(handler=None, stream_window_size=100, connection_window_size=65535)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"200")])
    server.h2.send_data(sid, b"abc", pad_length=50)
    server.h2.send_data(sid, b"", pad_length=40)
    conn.receive_data(server.data_to_send())
    updates = [f for f in frames(conn.data_to_send()) if isinstance(f, hf.WindowUpdateFrame)]
    # 51 + 41 flow-controlled padding bytes were acknowledged without a read: more than
    # half the 100-byte window, so h2 reopened it.
    assert updates
    assert updates[-1].stream_id == sid
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == BodyChunk(b"abc")
    assert not conn.has_pending_events(sid)


def test_an_empty_data_frame_is_not_a_chunk() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"200")])
    server.h2.send_data(sid, b"")
    server.h2.send_data(sid, b"x", end_stream=True)
    result = drive(conn, server, {sid: None})[sid]
    assert result.body == b"x"


def test_ping_is_answered() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.ping(b"12345678")
    conn.receive_data(server.data_to_send())
    assert conn.next_step(sid) is SEND
    server.receive(conn.data_to_send())
    (ack,) = server.of(h2.events.PingAckReceived)
    assert ack.ping_data == b"12345678"
    assert conn.next_step(sid) is RECEIVE


def test_ping_while_idle_is_answered_and_the_connection_stays_reusable() -> None:
    conn, server = connected(handler=None)
    server.h2.ping(b"abcdefgh")
    conn.receive_data(server.data_to_send())
    assert reusable(conn)
    assert idle(conn)
    server.receive(conn.data_to_send())
    assert len(server.of(h2.events.PingAckReceived)) == 1


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_control_frame_flood_fails_the_connection(kind: str) -> None:
    limit = MAX_PENDING_CONTROL_REPLIES

    def flood(count: int) -> bytes:
        if kind == "ping":
            frame: hf.Frame = hf.PingFrame(0, opaque_data=b"\x00" * 8)
        else:
            frame = hf.SettingsFrame(0, settings={Codes.HEADER_TABLE_SIZE: 4096})
        return frame.serialize() * count

    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    conn.receive_data(flood(limit))  # at the limit: fine
    assert reusable(conn)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()  # written: the count starts again
    conn.receive_data(flood(limit // 2))
    conn.receive_data(flood(limit // 2))
    assert reusable(conn)
    conn.receive_data(flood(1))  # one past
    assert not reusable(conn)
    assert conn.data_to_send() == b""  # the pile is dropped
    with pytest.raises(RemoteProtocolError, match=f"more than {limit} PING/SETTINGS"):
        conn.next_step(sid)


def test_control_reply_limit_is_configurable() -> None:
    conn, _server = connected(handler=None, max_control_replies=3)
    conn.receive_data(hf.PingFrame(0, opaque_data=b"\x00" * 8).serialize() * 3)
    assert reusable(conn)
    conn.receive_data(hf.PingFrame(0, opaque_data=b"\x00" * 8).serialize())
    assert not reusable(conn)


# -- header limits and hostile frames -------------------------------------------------


def big_head(value_size: int) -> list[tuple[bytes, bytes]]:
    return [(b":status", b"200"), (b"x-big", b"v" * value_size)]


@pytest.mark.parametrize("limit", [MAX_HEADER_BYTES, 1000])
def test_header_list_size_limit(limit: int) -> None:
    # RFC 9113 §6.5.2: name + value + 32 per field, :status included (7 + 3 + 32).
    at_limit = limit - (7 + 3 + 32) - (5 + 32)
    for size, fails in ((at_limit, False), (at_limit + 1, True)):
        conn, server = connected(handler=None, max_header_bytes=limit)
        assert server.h2.remote_settings.max_header_list_size == limit
        sid = conn.start_request(request(), has_body=False)
        server.receive(conn.data_to_send())
        conn.receive_data(header_block(sid, big_head(size), end_stream=True))
        if fails:
            assert conn.next_step(sid) is SEND  # GOAWAY
            conn.data_to_send()
            with pytest.raises(RemoteProtocolError, match=f"response head larger than {limit} b"):
                conn.next_step(sid)
            assert not reusable(conn)
        else:
            head = conn.next_step(sid)
            assert isinstance(head, ResponseHead)
            assert len(head.headers[0][1]) == size


def test_continuation_flood_fails_the_connection() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    data = hf.HeadersFrame(sid, data=b"").serialize()
    data += hf.ContinuationFrame(sid, data=b"").serialize() * 100
    conn.receive_data(data)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()
    with pytest.raises(RemoteProtocolError, match="continuation"):
        conn.next_step(sid)


def test_a_large_header_block_in_continuation_frames_is_fine() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    data = header_block(sid, big_head(60_000), end_stream=True)
    assert len([f for f in frames(data) if isinstance(f, hf.ContinuationFrame)]) >= 3
    conn.receive_data(data)
    assert isinstance(conn.next_step(sid), ResponseHead)


def test_an_oversized_frame_fails_before_it_is_buffered_whole() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    header = (20_000).to_bytes(3, "big") + b"\x00\x00" + sid.to_bytes(4, "big")
    conn.receive_data(header + b"x" * MAX_FRAME_SIZE)  # at the limit: still waiting
    assert reusable(conn)
    assert conn.next_step(sid) is RECEIVE
    conn.receive_data(b"x")  # one byte past
    assert not reusable(conn)
    with pytest.raises(RemoteProtocolError, match=f"frame larger than {MAX_FRAME_SIZE}"):
        conn.next_step(sid)


def test_a_complete_oversized_frame_is_refused() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    frame = hf.DataFrame(sid, data=b"x" * (MAX_FRAME_SIZE + 1)).serialize()
    conn.receive_data(frame)
    assert conn.next_step(sid) is SEND
    conn.data_to_send()
    with pytest.raises(RemoteProtocolError, match=f"frame larger than {MAX_FRAME_SIZE}"):
        conn.next_step(sid)


def test_a_larger_max_frame_size_is_announced_and_accepted() -> None:
    conn, server = connected(handler=None, max_frame_size=32768)
    assert server.h2.max_outbound_frame_size == 32768
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, body=b"x" * 40000)
    data = server.data_to_send()
    assert max(len(f.data) for f in frames(data) if isinstance(f, hf.DataFrame)) == 32768
    conn.receive_data(data)
    assert isinstance(conn.next_step(sid), ResponseHead)


MALFORMED = {
    "ping with 7 bytes": b"\x00\x00\x07\x06\x00\x00\x00\x00\x00" + b"\x00" * 7,
    "data on stream 0": hf.DataFrame(1, data=b"x").serialize()[:5] + b"\x00" * 4 + b"x",
    "window increment 0": b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + b"\x00" * 4,
    "initial window too large": hf.SettingsFrame(
        0, settings={Codes.INITIAL_WINDOW_SIZE: 2**31}
    ).serialize(),
    "naked continuation": hf.ContinuationFrame(1, data=b"").serialize(),
    "headers on a stream we never opened": raw_headers(Encoder(), 5, [(b":status", b"200")]),
    "push promise": hf.PushPromiseFrame(
        1, promised_stream_id=2, data=b"", flags=["END_HEADERS"]
    ).serialize(),
    "garbage hpack": hf.HeadersFrame(
        1, data=b"\xff\xff\xff\xff", flags=["END_HEADERS"]
    ).serialize(),
    "uppercase header": raw_headers(Encoder(), 1, [(b":status", b"200"), (b"X-Up", b"1")]),
    "no status": raw_headers(Encoder(), 1, [(b"x", b"1")]),
    "content-length mismatch": raw_headers(
        Encoder(), 1, [(b":status", b"200"), (b"content-length", b"5")]
    )
    + hf.DataFrame(1, data=b"abc", flags=["END_STREAM"]).serialize(),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frames_fail_the_connection_with_a_goaway(data: bytes) -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    other = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    conn.receive_data(data)  # never raises: the streams learn of it
    assert not reusable(conn)
    assert not can_start(conn)
    assert conn.next_step(sid) is SEND
    goaway = frames(conn.data_to_send())[-1]
    assert isinstance(goaway, hf.GoAwayFrame)
    for stream in (sid, other):
        with pytest.raises(RemoteProtocolError, match="HTTP/2 protocol error from the server"):
            conn.next_step(stream)
    conn.send_body(sid, b"ignored")  # the upload was abandoned
    conn.receive_data(b"more bytes are not parsed")
    conn.release(sid)
    conn.release(other)
    assert conn.data_to_send() == b""
    assert idle(conn)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(min_size=1, max_size=300))
def test_any_bytes_give_events_or_remote_protocol_errors(garbage: bytes) -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, body=b"x")
    conn.receive_data(server.data_to_send()[:20] + garbage)
    conn.receive_data(b"")
    for _ in range(10):
        try:
            step = conn.next_step(sid)
        except RemoteProtocolError:
            break
        if step is SEND:
            conn.data_to_send()
        elif isinstance(step, EndOfBody):
            break
    conn.release(sid)


# -- GOAWAY ---------------------------------------------------------------------------


def goaway(last: int, code: int = 0, debug: bytes = b"") -> bytes:
    return hf.GoAwayFrame(
        0, last_stream_id=last, error_code=code, additional_data=debug
    ).serialize()


def test_goaway_fails_the_unprocessed_streams_and_lets_the_others_finish() -> None:
    conn, server = connected(handler=None)
    sids = [conn.start_request(request(target=f"/{i}".encode()), has_body=False) for i in range(3)]
    up = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    # The server answers 1 and 3 after announcing that it stops at 3.
    server.respond(1, body=b"one")
    server.respond(3, body=b"three", trailers=[(b"t", b"1")])
    responses = server.data_to_send()
    conn.receive_data(goaway(3, ErrorCodes.NO_ERROR, b"restarting") + responses)
    assert not reusable(conn)
    assert not can_start(conn)
    with pytest.raises(RuntimeError, match="cannot start"):
        conn.start_request(request(), has_body=False)
    assert sorted(conn.take_ready()) == [1, 3, 5, 7]
    results = drive(conn, server, {1: None, 3: None, 5: None, up: None})
    assert results[1].body == b"one"
    assert results[3].body == b"three"
    assert results[3].trailers == [(b"t", b"1")]
    for sid in (5, up):
        error = results[sid].error
        assert isinstance(error, RequestNotProcessed)
        assert isinstance(error, RemoteProtocolError)
        assert "without processing the request (NO_ERROR: b'restarting')" in str(error)
        assert results[sid].phase is not FailurePhase.RECEIVING
    assert results[5].phase is FailurePhase.AWAITING_RESPONSE
    assert results[up].phase is FailurePhase.SENDING
    assert idle(conn)
    assert not reusable(conn)
    assert sids == [1, 3, 5]


def test_goaway_while_idle_ends_reuse() -> None:
    conn, _server = connected(handler=None)
    conn.receive_data(goaway(0))
    assert idle(conn)
    assert not reusable(conn)
    assert not can_start(conn)


def test_frames_after_goaway_are_still_processed() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.ping(b"pingpong")
    server.h2.update_settings({Codes.MAX_CONCURRENT_STREAMS: 10})
    server.respond(sid, body=b"ok")
    conn.receive_data(goaway(sid, ErrorCodes.ENHANCE_YOUR_CALM) + server.data_to_send())
    assert conn.max_streams == 10
    result = drive(conn, server, {sid: None})[sid]
    assert result.body == b"ok"
    assert len(server.of(h2.events.PingAckReceived)) == 1


def test_replies_queued_before_a_goaway_in_the_same_read_still_go_out() -> None:
    conn, _server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    conn.data_to_send()
    conn.receive_data(hf.PingFrame(0, opaque_data=b"before!!").serialize() + goaway(sid))
    (ack,) = frames(conn.data_to_send())
    assert isinstance(ack, hf.PingFrame)
    assert "ACK" in ack.flags


def test_a_second_goaway_can_lower_the_last_stream() -> None:
    conn, _server = connected(handler=None)
    a = conn.start_request(request(), has_body=False)
    b = conn.start_request(request(), has_body=False)
    conn.receive_data(goaway(b, ErrorCodes.PROTOCOL_ERROR))
    assert not conn.has_pending_events(a)
    assert not conn.has_pending_events(b)
    conn.receive_data(goaway(a, 0xBEEF))
    assert conn.has_pending_events(b)
    assert conn.next_step(b) is SEND  # our HEADERS: a refusal does not unsend them
    conn.data_to_send()
    with pytest.raises(RequestNotProcessed, match="error code 48879"):
        conn.next_step(b)


def test_goaway_for_a_stream_that_already_answered_is_not_a_refusal() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"200")])
    conn.receive_data(server.data_to_send() + goaway(0))
    assert isinstance(conn.next_step(sid), ResponseHead)
    with pytest.raises(RemoteProtocolError, match="closed the stream with GOAWAY") as info:
        conn.next_step(sid)
    assert not isinstance(info.value, RequestNotProcessed)
    assert conn.failure_phase(sid) is FailurePhase.RECEIVING


def test_frames_for_a_refused_stream_in_the_same_read_are_dropped() -> None:
    conn, server = connected(handler=None, connection_window_size=65535)
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"103")])
    server.h2.send_headers(sid, [(b":status", b"200")])
    for _ in range(4):
        server.h2.send_data(sid, b"x" * 15_000)
    server.h2.send_headers(sid, [(b"trailer", b"1")], end_stream=True)
    server.h2.reset_stream(sid, ErrorCodes.NO_ERROR)
    conn.receive_data(goaway(0) + server.data_to_send())
    # The dropped data went back to the connection window at once.
    assert conn.next_step(sid) is SEND
    data = conn.data_to_send()
    assert any(isinstance(f, hf.WindowUpdateFrame) and f.stream_id == 0 for f in frames(data))
    with pytest.raises(RequestNotProcessed):
        conn.next_step(sid)
    conn.release(sid)


# -- RST_STREAM ---------------------------------------------------------------------


def test_rst_stream_fails_that_stream_while_the_others_complete() -> None:
    conn, server = connected(handler=None)
    sids = [conn.start_request(request(), has_body=False) for _ in range(3)]
    server.receive(conn.data_to_send())
    server.respond(1, body=b"one")
    server.h2.send_headers(3, [(b":status", b"200")])
    server.h2.send_data(3, b"partial")
    server.h2.reset_stream(3, ErrorCodes.INTERNAL_ERROR)
    server.respond(5, body=b"five")
    results = drive(conn, server, dict.fromkeys(sids))
    assert results[1].body == b"one"
    assert results[5].body == b"five"
    error = results[3].error
    assert isinstance(error, RemoteProtocolError)
    assert not isinstance(error, RequestNotProcessed)
    assert str(error) == "the server reset the stream (INTERNAL_ERROR)"
    assert results[3].body == b"partial"  # what came before the reset was delivered
    assert results[3].phase is FailurePhase.RECEIVING
    assert reusable(conn)
    assert can_start(conn)


def test_refused_stream_is_safe_to_retry() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    server.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
    conn.receive_data(server.data_to_send())
    with pytest.raises(RequestNotProcessed, match="refused the stream before processing"):
        conn.next_step(sid)
    assert conn.failure_phase(sid) is FailurePhase.SENDING
    conn.send_body(sid, b"dropped")
    assert conn.data_to_send() == b""
    conn.release(sid)
    assert conn.data_to_send() == b""  # the stream is closed: no RST_STREAM
    assert reusable(conn)


def test_a_reset_with_an_unknown_code() -> None:
    conn, _server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    conn.data_to_send()
    conn.receive_data(hf.RstStreamFrame(sid, error_code=0x77).serialize())
    with pytest.raises(RemoteProtocolError, match=r"reset the stream \(error code 119\)"):
        conn.next_step(sid)


def test_a_window_overflow_resets_that_stream_only() -> None:
    conn, _server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    other = conn.start_request(request(), has_body=False)
    conn.data_to_send()
    conn.receive_data(hf.WindowUpdateFrame(sid, window_increment=2**31 - 1).serialize())
    assert conn.next_step(sid) is SEND
    (rst,) = frames(conn.data_to_send())
    assert isinstance(rst, hf.RstStreamFrame)
    assert rst.error_code == ErrorCodes.FLOW_CONTROL_ERROR
    with pytest.raises(RemoteProtocolError, match=r"flow-control or protocol error \(FLOW_CONTROL"):
        conn.next_step(sid)
    assert reusable(conn)
    assert conn.next_step(other) is RECEIVE


def test_a_reset_with_no_error_before_the_response_ended_is_an_error() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"200")])
    server.h2.reset_stream(sid, ErrorCodes.NO_ERROR)
    results = drive(conn, server, {sid: None})
    assert "reset the stream (NO_ERROR)" in str(results[sid].error)


def test_early_response_stops_the_upload_and_a_reset_after_it_is_not_an_error() -> None:
    # RFC 9113 §8.1: a complete response, then RST_STREAM(NO_ERROR) to stop the upload.
    conn, server = connected(server_settings={Codes.INITIAL_WINDOW_SIZE: 10}, handler=None)
    server.ack = False
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    conn.send_body(sid, b"0123456789" * 3)  # 20 bytes wait for the window
    server.receive(conn.data_to_send())
    server.respond(sid, status=b"413", body=b"too big")
    server.h2.reset_stream(sid, ErrorCodes.NO_ERROR)
    conn.receive_data(server.data_to_send())
    head = conn.next_step(sid)
    assert isinstance(head, ResponseHead)
    assert head.status_code == 413
    conn.send_body(sid, b"ignored")  # the rest of the body is dropped
    assert conn.next_step(sid) == BodyChunk(b"too big")
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    assert conn.data_to_send() == b""  # closed by the server's reset
    assert server.requests[sid].body == b"0123456789"
    assert reusable(conn)


def test_early_response_without_a_reset_is_reset_at_release() -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    server.respond(sid, status=b"401")
    conn.receive_data(server.data_to_send())
    head = conn.next_step(sid)
    assert isinstance(head, ResponseHead)
    assert head.status_code == 401
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    (rst,) = [f for f in frames(conn.data_to_send()) if isinstance(f, hf.RstStreamFrame)]
    assert rst.stream_id == sid
    assert rst.error_code == ErrorCodes.CANCEL
    assert reusable(conn)


# -- release, failures, EOF -----------------------------------------------------------


def test_release_before_the_end_cancels_only_that_stream() -> None:
    conn, server = connected(handler=None)
    a = conn.start_request(request(), has_body=False)
    b = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(a, body=b"a" * (2 * STREAM_WINDOW_SIZE))  # more than the window: still open
    server.respond(b, body=b"b")
    conn.receive_data(server.data_to_send())
    assert isinstance(conn.next_step(a), ResponseHead)
    assert isinstance(conn.next_step(a), BodyChunk)
    conn.release(a)
    assert reusable(conn)
    data = conn.data_to_send()
    rst = [f for f in frames(data) if isinstance(f, hf.RstStreamFrame)]
    assert [(f.stream_id, f.error_code) for f in rst] == [(a, ErrorCodes.CANCEL)]
    server.receive(data)
    assert server.requests[a].reset == ErrorCodes.CANCEL
    with pytest.raises(ValueError, match="not in flight"):
        conn.next_step(a)
    with pytest.raises(ValueError, match="not in flight"):
        conn.release(a)
    assert drive(conn, server, {b: None})[b].body == b"b"
    # Late frames for the cancelled stream are ignored by h2.
    conn.receive_data(hf.DataFrame(a, data=b"late").serialize())
    assert reusable(conn)


def test_release_gives_unread_bytes_back_to_the_connection_window() -> None:
    conn, server = connected(handler=None, connection_window_size=65535)
    sid = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(sid, body=b"u" * 60_000)
    conn.receive_data(server.data_to_send())
    assert server.h2.outbound_flow_control_window == 65535 - 60_000
    conn.release(sid)
    server.receive(conn.data_to_send())
    assert server.h2.outbound_flow_control_window == 65535


def test_release_of_a_stream_h2_has_already_forgotten() -> None:
    conn, server = connected(handler=None)
    a = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(a, body=b"")
    conn.receive_data(server.data_to_send())
    b = conn.start_request(request(), has_body=False)  # h2 drops closed stream 1 here
    conn.release(a)
    conn.release(b)
    # Only stream 3 needed a reset; h2 had already dropped the closed stream 1.
    assert [type(f) for f in frames(conn.data_to_send())] == [hf.HeadersFrame, hf.RstStreamFrame]


def test_io_failed_fails_every_stream() -> None:
    conn, server = connected(handler=None)
    a = conn.start_request(request(), has_body=False)
    b = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    server.respond(a, body=b"kept")
    conn.receive_data(server.data_to_send())
    conn.io_failed(a)
    assert not reusable(conn)
    assert conn.data_to_send() == b""
    assert sorted(conn.take_ready()) == [a, b]
    # What had arrived is still served; no WINDOW_UPDATE is queued for it.
    assert isinstance(conn.next_step(a), ResponseHead)
    assert conn.next_step(a) == BodyChunk(b"kept")
    assert conn.next_step(a) == EndOfBody([])
    with pytest.raises(RemoteProtocolError, match="connection failed"):
        conn.next_step(b)
    conn.send_body(b, b"dropped")
    conn.release(a)
    conn.release(b)
    conn.io_failed(b)  # already released: still accepted
    assert conn.data_to_send() == b""


def test_send_failed_stops_writing_but_reading_goes_on() -> None:
    conn, server = connected(handler=None)
    a = conn.start_request(request(b"POST"), has_body=True)
    b = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    conn.send_body(a, b"part")
    conn.send_failed(a)
    assert conn.data_to_send() == b""
    assert not reusable(conn)
    assert conn.failure_phase(a) is FailurePhase.SENDING
    conn.send_body(a, b"ignored")
    server.respond(a, status=b"413", body=b"no")
    server.respond(b, body=b"yes")
    server.h2.ping(b"unheard!")
    conn.receive_data(server.data_to_send())
    for sid, body in ((a, b"no"), (b, b"yes")):
        assert isinstance(conn.next_step(sid), ResponseHead)
        assert conn.next_step(sid) == BodyChunk(body)
        assert conn.next_step(sid) == EndOfBody([])
        conn.release(sid)
    assert conn.data_to_send() == b""
    with pytest.raises(ValueError, match="not in flight"):
        conn.send_failed(a)


@pytest.mark.parametrize("split", [None, 1])
def test_eof_fails_the_streams_that_had_not_ended(split: int | None) -> None:
    conn, server = connected(handler=None)
    done = conn.start_request(request(), has_body=False)
    partial = conn.start_request(request(), has_body=False)
    silent = conn.start_request(request(), has_body=False)
    server.receive(conn.data_to_send())
    server.respond(done, body=b"all")
    server.h2.send_headers(partial, [(b":status", b"200")])
    server.h2.send_data(partial, b"some")
    feed(conn, server.data_to_send(), split)
    conn.receive_data(b"")
    conn.receive_data(b"")  # EOF twice is fine
    assert not reusable(conn)
    assert not can_start(conn)
    assert conn.data_to_send() == b""
    with pytest.raises(RuntimeError, match="after EOF"):
        conn.receive_data(b"late")
    results = drive(conn, server, dict.fromkeys([done, partial, silent]))
    assert results[done].body == b"all"
    assert results[done].error is None
    assert results[partial].body == b"some"
    assert str(results[partial].error) == "server disconnected before the response was complete"
    assert results[partial].phase is FailurePhase.RECEIVING
    assert str(results[silent].error) == "server disconnected without sending a response"
    assert results[silent].phase is FailurePhase.AWAITING_RESPONSE


def test_eof_while_idle() -> None:
    conn = H2Connection()
    conn.receive_data(b"")
    assert not reusable(conn)
    assert idle(conn)


# -- failure phases, misuse, stream ids -----------------------------------------------


def test_failure_phases() -> None:
    conn, server = connected(handler=None)
    get = conn.start_request(request(), has_body=False)
    post = conn.start_request(request(b"POST"), has_body=True)
    assert conn.failure_phase(get) is FailurePhase.SENDING  # HEADERS not yet taken
    server.receive(conn.data_to_send())
    assert conn.failure_phase(get) is FailurePhase.AWAITING_RESPONSE
    assert conn.failure_phase(post) is FailurePhase.SENDING
    server.h2.send_headers(get, [(b":status", b"200")])
    conn.receive_data(server.data_to_send())
    assert conn.failure_phase(get) is FailurePhase.RECEIVING
    with pytest.raises(ValueError, match="not in flight"):
        conn.failure_phase(99)


def test_misuse_is_reported() -> None:
    conn = H2Connection()
    with pytest.raises(ValueError, match="not in flight"):
        conn.next_step(1)
    with pytest.raises(ValueError, match="not in flight"):
        conn.send_body(1, b"x")
    assert conn.take_ready() == []


def test_stream_ids_running_out_end_reuse() -> None:
    conn, server = connected(handler=None)
    conn._next_id = 2**31 - 3  # two ids left; reaching them for real takes a billion requests
    first = conn.start_request(request(), has_body=False)
    assert reusable(conn)
    last = conn.start_request(request(), has_body=False)
    assert (first, last) == (2**31 - 3, 2**31 - 1)
    assert not reusable(conn)
    assert not can_start(conn)
    server.receive(conn.data_to_send())
    assert server.requests[last].ended


# -- h2 refusing what we ask never leaks h2's exceptions ------------------------------


def _refuse(*args: object, **kwargs: object) -> None:
    raise h2.exceptions.ProtocolError("refused by h2")


@pytest.mark.parametrize("method", ["send_headers", "send_data", "reset_stream"])
def test_h2_errors_on_our_side_become_local_protocol_errors(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, server = connected(handler=None)
    sid = conn.start_request(request(b"POST"), has_body=True)
    server.receive(conn.data_to_send())
    calls: dict[str, Callable[[], object]] = {
        "send_headers": lambda: conn.start_request(request(), has_body=False),
        "send_data": lambda: conn.send_body(sid, b"data"),
        "reset_stream": lambda: conn.release(sid),
    }
    monkeypatch.setattr(conn._h2, method, _refuse)
    with pytest.raises(LocalProtocolError, match="HTTP/2 error on our side: refused by h2"):
        calls[method]()
    assert not reusable(conn)
    assert conn.data_to_send() == b""


# -- splitting ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=30))
def test_server_bytes_split_anywhere_give_the_same_responses(cuts: list[int]) -> None:
    conn, server = connected(handler=None)
    sids = [conn.start_request(request(target=f"/{i}".encode()), has_body=False) for i in range(4)]
    server.receive(conn.data_to_send())
    for sid in sids:
        server.h2.send_headers(sid, [(b":status", b"200"), (b"x-sid", str(sid).encode())])
    server.h2.ping(b"\x00" * 8)
    for sid in sids:
        server.h2.send_data(sid, str(sid).encode() * 50)
        server.h2.send_headers(sid, [(b"t", str(sid).encode())], end_stream=True)
    data = server.data_to_send()
    pos = 0
    for cut in cuts:
        conn.receive_data(data[pos : pos + cut])
        pos += cut
    conn.receive_data(data[pos:])
    for sid in sids:
        head = conn.next_step(sid)
        while head is SEND:
            server.receive(conn.data_to_send())
            head = conn.next_step(sid)
        assert isinstance(head, ResponseHead)
        assert head.headers == [(b"x-sid", str(sid).encode())]
        body = b""
        while isinstance(step := conn.next_step(sid), BodyChunk | Signal):
            assert step is not RECEIVE
            assert step is not NEED_BODY
            if step is SEND:
                conn.data_to_send()
            else:
                assert isinstance(step, BodyChunk)
                body += step.data
        assert body == str(sid).encode() * 50
        assert step == EndOfBody([(b"t", str(sid).encode())])


# -- header block caches ------------------------------------------------------------


def count_calls(
    monkeypatch: pytest.MonkeyPatch, cls: type[Any], name: str, peer: Any
) -> list[None]:
    """Calls of hpack's ``cls.name`` made for the client (not for ``peer``, the server's)."""
    calls: list[None] = []
    original = getattr(cls, name)

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self is not peer:
            calls.append(None)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counting)
    return calls


def test_a_repeated_response_head_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, server = connected(
        handler=lambda server, sid: server.respond(sid, headers=[(b"x-a", b"1")], body=b"ok")
    )
    decoded = count_calls(monkeypatch, hpack.Decoder, "decode", server.h2.decoder)
    for _ in range(4):
        sid = conn.start_request(request(), has_body=False)
        result = drive(conn, server, {sid: None})[sid]
        assert result.head == ResponseHead(
            status_code=200, reason=b"", headers=[(b"x-a", b"1")], http_version="HTTP/2"
        )
        assert result.body == b"ok"
    # The first block puts x-a in the table; the second names it by index and leaves the
    # table as it was, so the same bytes are answered from the cache from then on.
    assert len(decoded) == 2


def response_frames(
    conn: H2Connection,
    encoder: Encoder,
    fields: list[list[tuple[bytes, bytes]]],
    huffman: bool = True,
) -> tuple[list[int], list[bytes]]:
    """Start a request per field list and answer each with a HEADERS frame from ``encoder``."""
    sids = [conn.start_request(request(), has_body=False) for _ in fields]
    blocks = [encoder.encode([(b":status", b"200"), *each], huffman) for each in fields]
    conn.receive_data(
        b"".join(
            hf.HeadersFrame(sid, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize()
            for sid, block in zip(sids, blocks, strict=True)
        )
    )
    return sids, blocks


def head_fields(conn: H2Connection, sid: int) -> list[tuple[bytes, bytes]]:
    head = conn.next_step(sid)
    assert isinstance(head, ResponseHead)
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    return head.headers


def test_the_same_block_decodes_afresh_once_the_table_changed() -> None:
    conn, _ = connected(handler=None)
    fields = [[(b"x-a", b"1")], [(b"x-a", b"1")], [(b"x-b", b"2")], [(b"x-b", b"2")]]
    sids, blocks = response_frames(conn, Encoder(), fields)
    assert blocks[1] == blocks[3]  # the newest entry's index: x-a, then x-b
    assert [head_fields(conn, sid) for sid in sids] == fields


def test_the_decoded_block_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, server = connected(handler=None)
    encoder = Encoder()
    encoder.header_table_size = 0  # as nginx: nothing is indexed, so every block is kept
    # The first block carries the size update, which changes the table: it is not kept.
    sids, _ = response_frames(conn, encoder, [[]])
    head_fields(conn, sids[0])
    decoded = count_calls(monkeypatch, hpack.Decoder, "decode", server.h2.decoder)
    distinct = [[(b"x-n", str(n).encode())] for n in range(HEADER_BLOCK_CACHE_SIZE + 1)]
    kept = distinct[:HEADER_BLOCK_CACHE_SIZE]
    for batch, decodes in (
        (kept, HEADER_BLOCK_CACHE_SIZE),  # all decoded, all kept
        (kept, HEADER_BLOCK_CACHE_SIZE),  # all from the cache
        (distinct[-1:], HEADER_BLOCK_CACHE_SIZE + 1),  # one more: the oldest goes
        (distinct[:1], HEADER_BLOCK_CACHE_SIZE + 2),  # so it is decoded again
        (distinct[2:3], HEADER_BLOCK_CACHE_SIZE + 2),  # the others stay
    ):
        sids, _ = response_frames(conn, encoder, batch)
        assert [head_fields(conn, sid) for sid in sids] == batch
        assert len(decoded) == decodes

    probe = Encoder()
    probe.header_table_size = 0
    probe.encode([])  # the size update, once

    def block_of(size: int) -> list[tuple[bytes, bytes]]:
        for n in range(size - 20, size):
            fields = [(b"x", b"v" * n)]
            if len(probe.encode([(b":status", b"200"), *fields], huffman=False)) == size:
                return fields
        raise AssertionError(size)  # pragma: no cover

    # A block of HEADER_BLOCK_CACHE_BYTES is kept, one a byte longer is not.
    for size, decodes in ((HEADER_BLOCK_CACHE_BYTES, 1), (HEADER_BLOCK_CACHE_BYTES + 1, 2)):
        fields = block_of(size)
        before = len(decoded)
        for _ in range(2):
            sids, blocks = response_frames(conn, encoder, [fields], huffman=False)
            assert len(blocks[0]) == size
            assert head_fields(conn, sids[0]) == fields
        assert len(decoded) - before == decodes


def test_a_repeated_request_head_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, server = connected()
    encoded = count_calls(monkeypatch, hpack.Encoder, "encode", server.h2.encoder)

    def fetch(target: bytes) -> None:
        head = request(target=target, headers=[(b"user-agent", b"t")])
        sid = conn.start_request(head, has_body=False)
        assert drive(conn, server, {sid: None})[sid].body == b"hello " + target
        assert server.requests[sid].headers == [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", target),
            (b"user-agent", b"t"),
        ]

    # /a is encoded twice: putting its fields in the table, then naming them by index
    # without changing it, which is kept; /b adds its path and moves every index, so /a
    # is encoded afresh, and kept again.
    for target, encodes in ((b"/a", 1), (b"/a", 2), (b"/a", 2), (b"/b", 3), (b"/a", 4), (b"/a", 4)):
        fetch(target)
        assert len(encoded) == encodes
    # A new table size from the server goes out at the start of the next block (the
    # server refuses a block without it).
    server.h2.update_settings({Codes.HEADER_TABLE_SIZE: 0})
    conn.receive_data(server.data_to_send())
    server.receive(conn.data_to_send())
    fetch(b"/a")
    fetch(b"/a")
    assert len(encoded) == 6


def test_starting_a_stream_does_not_walk_the_streams_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, server = connected(handler=echo)
    finished = conn.start_request(request(), has_body=False)
    assert drive(conn, server, {finished: None})[finished].body == b"hello /"
    for _ in range(MAX_CONCURRENT_STREAMS - 1):
        conn.start_request(request(), has_body=False)
    checked: list[int] = []
    is_open = h2.stream.H2Stream.open

    def counting(stream: h2.stream.H2Stream) -> bool:
        checked.append(stream.stream_id)
        return is_open.fget(stream)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(h2.stream.H2Stream, "open", property(counting))
    last = conn.start_request(request(), has_body=False)
    assert checked == []
    assert not can_start(conn)
    server.receive(conn.data_to_send())
    assert server.requests[last].ended


# -- extended CONNECT (RFC 8441): WebSockets over HTTP/2 ------------------------------

WS_HEAD = request(
    b"GET",
    b"/chat",
    [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"Sec-WebSocket-Version", b"13"),
        (b"Sec-WebSocket-Protocol", b"chat"),
    ],
)
ALLOW = {Codes.ENABLE_CONNECT_PROTOCOL: 1}


def tunnel(**kw: Any) -> tuple[H2Connection, Server, int]:
    """A connection to a server that allows extended CONNECT, with a tunnel open (200);
    the server answers no stream by itself unless a ``handler`` is given."""
    conn, server = connected(server_settings=ALLOW, handler=kw.pop("handler", None), **kw)
    sid = conn.start_tunnel(WS_HEAD)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"200")])
    conn.receive_data(server.data_to_send())
    head = conn.next_step(sid)
    assert isinstance(head, ResponseHead)
    assert head.status_code == 200
    return conn, server, sid


def write(conn: H2Connection, server: Server, sid: int, data: bytes | None) -> None:
    """Write through the tunnel as a writer task would, the server acknowledging."""
    assert conn.send_step(sid) is NEED_BODY
    conn.send_body(sid, data)
    if data is None:  # END_STREAM is queued; the tunnel has no writing side any more
        server.receive(conn.data_to_send())
        return
    while (step := conn.send_step(sid)) is not NEED_BODY:
        if step is SEND:
            server.receive(conn.data_to_send())
        else:
            assert step is RECEIVE
            conn.receive_data(server.data_to_send())


def read_all(conn: H2Connection, server: Server, sid: int) -> tuple[bytes, bool]:
    """What the tunnel gives until it would wait; whether the server ended its side."""
    got = bytearray()
    while True:
        step = conn.next_step(sid)
        if isinstance(step, BodyChunk):
            got += step.data
        elif isinstance(step, EndOfBody):
            return bytes(got), True
        elif step is SEND:
            server.receive(conn.data_to_send())
        else:
            assert step is RECEIVE
            data = server.data_to_send()
            if not data:
                return bytes(got), False
            conn.receive_data(data)


def test_the_server_setting_is_recorded() -> None:
    conn = H2Connection()
    assert not conn.settings_received
    assert not conn.allows_extended_connect
    plain, _ = connected()
    assert plain.settings_received
    assert not plain.allows_extended_connect
    allowed, _ = connected(server_settings=ALLOW)
    assert allowed.settings_received
    assert allowed.allows_extended_connect


def test_no_tunnel_unless_the_server_allows_it() -> None:
    conn, _ = connected()
    with pytest.raises(LocalProtocolError, match="SETTINGS_ENABLE_CONNECT_PROTOCOL"):
        conn.start_tunnel(WS_HEAD)
    assert conn.is_idle


def test_the_extended_connect_request_follows_rfc_8441() -> None:
    conn, server = connected(server_settings=ALLOW)
    sid = conn.start_tunnel(WS_HEAD)
    server.receive(conn.data_to_send())
    got = server.requests[sid]
    assert got.headers == [
        (b":method", b"CONNECT"),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/chat"),
        (b":protocol", b"websocket"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-protocol", b"chat"),
    ]
    assert not got.ended  # the stream stays open for the tunnel
    # Another protocol keeps every header but the connection-specific ones.
    other = conn.start_tunnel(request(b"CONNECT", b"/x", [(b"Sec-WebSocket-Key", b"k")]), b"other")
    server.receive(conn.data_to_send())
    assert server.requests[other].headers[4:] == [
        (b":protocol", b"other"),
        (b"sec-websocket-key", b"k"),
    ]
    # CONNECT without :protocol stays refused.
    with pytest.raises(LocalProtocolError, match="CONNECT is not supported"):
        conn.start_request(request(b"CONNECT", b"/"), has_body=False)


@pytest.mark.parametrize("protocol", [b"", b"web socket", b"ws\r\n"])
def test_an_invalid_protocol_is_refused(protocol: bytes) -> None:
    conn, _ = connected(server_settings=ALLOW)
    with pytest.raises(LocalProtocolError, match="invalid :protocol"):
        conn.start_tunnel(WS_HEAD, protocol)


def test_no_tunnel_on_a_full_connection() -> None:
    conn, _ = connected(server_settings=ALLOW, max_concurrent_streams=1)
    conn.start_tunnel(WS_HEAD)
    with pytest.raises(RuntimeError, match="cannot start"):
        conn.start_tunnel(WS_HEAD)


def test_a_tunnel_carries_bytes_both_ways_and_closes_cleanly() -> None:
    conn, server, sid = tunnel()
    assert conn.failure_phase(sid) is FailurePhase.RECEIVING
    write(conn, server, sid, b"hello")
    assert server.requests[sid].body == b"hello"
    server.h2.send_data(sid, b"world")
    conn.receive_data(server.data_to_send())
    assert read_all(conn, server, sid) == (b"world", False)
    # We end our side; the server ends its own: closed both ways, no reset at release.
    write(conn, server, sid, None)
    assert server.requests[sid].ended
    server.h2.send_data(sid, b"!", end_stream=True)
    conn.receive_data(server.data_to_send())
    assert read_all(conn, server, sid) == (b"!", True)
    with pytest.raises(RuntimeError, match="not an open tunnel"):
        conn.send_step(sid)
    conn.release(sid)
    server.receive(conn.data_to_send())
    assert server.requests[sid].reset is None
    assert conn.is_idle
    assert conn.is_reusable


def test_the_server_may_end_its_side_first_and_we_write_on() -> None:
    conn, server, sid = tunnel()
    server.h2.send_data(sid, b"bye", end_stream=True)
    conn.receive_data(server.data_to_send())
    assert read_all(conn, server, sid) == (b"bye", True)
    write(conn, server, sid, b"still here")
    write(conn, server, sid, None)
    assert server.requests[sid].body == b"still here"
    assert server.requests[sid].ended


def test_a_big_write_waits_for_the_server_windows() -> None:
    # The server's windows are h2's default 64 KiB; a write of 1 MiB goes in turns, the
    # writer waiting (RECEIVE) for each WINDOW_UPDATE, which names its stream.
    conn, server, sid = tunnel()
    server.ack = False
    data = bytes(range(256)) * 4096
    assert conn.send_step(sid) is NEED_BODY
    conn.send_body(sid, data)
    turns = acked = 0
    while (step := conn.send_step(sid)) is not NEED_BODY:
        if step is SEND:
            server.receive(conn.data_to_send())
        else:
            assert step is RECEIVE
            turns += 1
            received = len(server.requests[sid].body)
            server.h2.acknowledge_received_data(received - acked, sid)
            acked = received
            conn.receive_data(server.data_to_send())
            assert sid in conn.take_ready()
    assert bytes(server.requests[sid].body) == data
    assert turns > 10


def test_a_big_download_reopens_the_window_as_the_reader_takes_it() -> None:
    conn, server, sid = tunnel(stream_window_size=65535, connection_window_size=65535)
    data = bytes(range(256)) * 2048  # 512 KiB: eight windows
    server.outgoing[sid] = [memoryview(data), None]
    server.flush()
    conn.receive_data(server.data_to_send())
    # Taking the bytes gives them back to the windows (the server flushes on each update).
    assert read_all(conn, server, sid) == (data, True)
    updates = [e for e in server.of(h2.events.WindowUpdated) if e.stream_id == sid]
    assert len(updates) >= 7


def test_another_stream_runs_beside_the_tunnel() -> None:
    conn, server, sid = tunnel(handler=echo)
    results = drive(conn, server, {conn.start_request(request(), has_body=False): None})
    assert [r.body for r in results.values()] == [b"hello /"]
    write(conn, server, sid, b"after")
    assert server.requests[sid].body == b"after"


def test_a_refusal_is_an_ordinary_response() -> None:
    conn, server = connected(server_settings=ALLOW)
    sid = conn.start_tunnel(WS_HEAD)
    server.receive(conn.data_to_send())
    server.respond(sid, b"403", body=b"no")
    result = drive(conn, server, {sid: None})[sid]
    assert result.head is not None
    assert result.head.status_code == 403
    assert result.body == b"no"


def test_a_refusal_leaves_no_tunnel_to_write() -> None:
    conn, server = connected(server_settings=ALLOW)
    sid = conn.start_tunnel(WS_HEAD)
    server.receive(conn.data_to_send())
    server.h2.send_headers(sid, [(b":status", b"404")], end_stream=True)
    conn.receive_data(server.data_to_send())
    assert isinstance(conn.next_step(sid), ResponseHead)
    with pytest.raises(RuntimeError, match="not an open tunnel"):
        conn.send_step(sid)


def test_abandoning_a_tunnel_resets_it() -> None:
    conn, server, sid = tunnel()
    conn.release(sid)
    server.receive(conn.data_to_send())
    assert server.requests[sid].reset == ErrorCodes.CANCEL
    assert conn.is_reusable


def test_a_reset_fails_the_reader_and_the_writer() -> None:
    conn, server, sid = tunnel()
    server.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
    conn.receive_data(server.data_to_send())
    with pytest.raises(RemoteProtocolError, match="reset the stream"):
        conn.send_step(sid)
    with pytest.raises(RemoteProtocolError, match="reset the stream"):
        conn.next_step(sid)
    with pytest.raises(RemoteProtocolError, match="INTERNAL_ERROR"):
        conn.send_step(sid)  # still, after the reader raised


def test_a_reset_after_the_server_ended_its_side_stops_our_writes() -> None:
    conn, server, sid = tunnel()
    server.h2.end_stream(sid)
    server.h2.reset_stream(sid, ErrorCodes.NO_ERROR)
    conn.receive_data(server.data_to_send())
    assert sid in conn.take_ready()
    assert read_all(conn, server, sid) == (b"", True)  # the reader saw a clean end
    with pytest.raises(RemoteProtocolError, match=r"reset the stream \(NO_ERROR\)"):
        conn.send_step(sid)
    assert conn.is_reusable


def test_the_connection_failing_fails_a_half_closed_tunnel_writer() -> None:
    conn, server, sid = tunnel()
    server.h2.end_stream(sid)
    conn.receive_data(server.data_to_send())
    assert read_all(conn, server, sid) == (b"", True)
    conn.receive_data(b"")  # EOF
    with pytest.raises(RemoteProtocolError, match="server disconnected"):
        conn.send_step(sid)


def test_a_failed_write_fails_the_tunnel_writer() -> None:
    conn, _, sid = tunnel()
    conn.send_failed(sid)
    with pytest.raises(RemoteProtocolError, match="a write on the connection failed"):
        conn.send_step(sid)
    conn.io_failed(sid)  # later failures keep the first reason
    with pytest.raises(RemoteProtocolError, match="a write on the connection failed"):
        conn.send_step(sid)
