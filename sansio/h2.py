"""The HTTP/2 client connection machine, over h2.

Rules
-----
1. h2 frames, compresses (HPACK), tracks stream states and counts flow-control windows;
   this module adds the policy: what goes out when, what is buffered, and which streams
   a failure takes down. No h2 or hpack exception leaves it: the server's mistakes
   become `RemoteProtocolError`, ours `LocalProtocolError`.
2. One connection carries many streams and any caller may feed it: `receive_data` parses
   at once and sorts every event into the queue of its stream, so whichever task reads
   the socket serves all the others.
3. Memory is bounded by what we grant, never by what the server sends: response bytes go
   back into the server's window only once the user has taken them from `next_step`,
   and frames, header lists and unsent control replies have named limits.

Theory of operation
-------------------
**Streams.** `start_request` sends HEADERS on the next odd stream id and returns it; the
id names the stream in every other call. Each stream has a queue of response events
(`ResponseHead`, `BodyChunk` ..., `EndOfBody`), perhaps followed by a failure.
`next_step(sid)` answers, in this order:

1. the stream's next queued event;
2. its failure, raised (after SEND, if bytes are queued: a GOAWAY or RST_STREAM that
   tells the server why goes out first);
3. SEND when the connection has bytes queued: any stream's frames, SETTINGS and PING
   ACKs, WINDOW_UPDATEs, RST_STREAMs;
4. NEED_BODY when the stream's request body is open, none of it is waiting, and its
   send window is open;
5. RECEIVE.

**Sending a body.** `send_body` queues DATA frames within the stream window, the
connection window and the server's SETTINGS_MAX_FRAME_SIZE. What does not fit waits in
the stream (one chunk at most, as a view: never copied again), and the stream answers
RECEIVE, waiting for a WINDOW_UPDATE, while other streams go on; `send_body` is called
only after NEED_BODY, so nothing waits when ``None`` ends the body (an empty DATA frame
with END_STREAM, which needs no window). A final response that arrives during the
upload ends it, as in `sansio.h1`: the rest of the body is dropped, and `release`
resets the stream if the server has not closed it.

**Receiving.** The stream window starts at `STREAM_WINDOW_SIZE` (our
SETTINGS_INITIAL_WINDOW_SIZE) and the connection window is raised to
`CONNECTION_WINDOW_SIZE` right after the preface. Bytes are acknowledged to h2 only when
`next_step` hands them over as a `BodyChunk` (and on `release`, for unread ones), so one
stream never buffers more than its window, nor all streams together more than the
connection window; h2 decides when acknowledged bytes are worth a WINDOW_UPDATE (half a
window). Padding and DATA for streams nobody reads any more are acknowledged at once.
1xx responses are listed on the final head, `ResponseHead.informational`, and in
`informational` as soon as they arrive (a 101 is malformed in HTTP/2, RFC 9113 §8.6); trailers
come with `EndOfBody`; `ResponseHead.reason` is empty (HTTP/2 has no reason phrase).

**Tunnels (extended CONNECT, RFC 8441).** Once the server's SETTINGS announced
SETTINGS_ENABLE_CONNECT_PROTOCOL (`allows_extended_connect`), `start_tunnel` opens a
stream with ``:method CONNECT`` and ``:protocol`` (WebSockets over HTTP/2). A 2xx head
opens the tunnel; any other is an ordinary response. In a tunnel the reader and the
writer are two callers: `next_step` gives the server's bytes as `BodyChunk`s (their
window re-opened as they are taken, as any body) and `EndOfBody` when the server ends
its side; `send_step` paces the writer as NEED_BODY paces an upload (SEND, NEED_BODY, or
RECEIVE while a chunk waits for the windows), `send_body(sid, None)` ends our side
(END_STREAM), and `release` resets a tunnel not closed both ways (CANCEL). Other streams
go on beside it; the tunnel counts as one of them.

**Header blocks.** A client sends the same few requests again and again, and a server
answers with the same few heads: the encoder and the decoder (hpack's, subclassed) keep
the last `HEADER_BLOCK_CACHE_SIZE` blocks of each connection, header list to block and
block to header list, and hand a block's answer back without HPACK (Huffman coding,
table searches) when making it left the dynamic table as it was and the table and the
limits are the same again: then HPACK would give the same answer. A server that indexes
nothing (nginx) repeats its blocks but for the Date, once a second.

**Limits on what a response may hold** are those of the HTTP/1.1 machine, one
definition in `sansio.h1`, with the same errors: a header block (head, 1xx head or
trailers) decodes to at most ``max_header_bytes`` (announced as
SETTINGS_MAX_HEADER_LIST_SIZE and counted as RFC 9113 §6.5.2 does: name + value + 32
bytes per field; its 64 KiB default is also h2's own, adopted against HPACK bombs,
CVE-2016-6581); a head or trailer section holds at most ``max_header_count`` fields
(pseudo-headers not counted); at most ``max_informational`` 1xx heads come before the
final one. Past the byte limit HPACK's state is lost, so the connection fails; past the
others only the stream does (reset with CANCEL: the response is not malformed, we
just do not want it).

**Failures, and what they take down.**

- One stream: RST_STREAM from the server (the message names the error code), or a
  malformed response, which we reset with PROTOCOL_ERROR. A RST_STREAM after the whole
  response arrived only stops our upload (RFC 9113 §8.1).
- GOAWAY: no new streams and `is_reusable` is False; the streams above its
  last_stream_id fail with `RequestNotProcessed` (the server promises it did not act on
  them, RFC 9113 §8.7), as does a stream refused with RST_STREAM(REFUSED_STREAM) before
  any response. The other streams run to their end. (h2 closes its connection state
  machine on any GOAWAY, python-hyper/h2#1181; we give it one that stays open.)
- The connection: an h2 protocol error (its GOAWAY is queued), EOF, `io_failed`, more
  than `MAX_PENDING_CONTROL_REPLIES` unsent PING/SETTINGS ACKs. Every stream whose
  response had not ended fails once its queued events are read.

`send_failed` (a write failed) stops all sending, but reading goes on. `release` before
the end of a response sends RST_STREAM(CANCEL) for that stream only: the connection
stays reusable. `failure_phase` never says RECEIVING for a refused stream.

Driving several streams
-----------------------
The machine does not wait and is not thread-safe: every call on one connection is made
by one caller at a time, and I/O happens outside. Who reads for every stream, who
writes (frames leave in the order they were made), who waits and who is woken, and what
a timeout, a failure or a cancellation takes down, is decided once, in
`sansio.engine.mux`, for every interpreter. `take_ready` names the streams a read
concerned (whom to wake); `has_pending_events` tells, without touching a stream,
whether its next answer is already buffered; `has_data_to_send` whether a writer is
needed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import h2.config
import h2.connection
import h2.exceptions
import h2.settings
import hpack
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    InformationalResponseReceived,
    PingReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from hpack import NeverIndexedHeaderTuple

from .exceptions import LocalProtocolError, RemoteProtocolError
from .h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_INFORMATIONAL_RESPONSES
from .wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    RequestNotProcessed,
    ResponseHead,
    Step,
)

__all__ = [
    "CONNECTION_WINDOW_SIZE",
    "HEADER_BLOCK_CACHE_BYTES",
    "HEADER_BLOCK_CACHE_SIZE",
    "MAX_CONCURRENT_STREAMS",
    "MAX_FRAME_SIZE",
    "MAX_PENDING_CONTROL_REPLIES",
    "STREAM_WINDOW_SIZE",
    "H2Connection",
]

# Most streams run at once on one connection, whatever the server allows; the server's
# SETTINGS_MAX_CONCURRENT_STREAMS lowers it. RFC 9113 §6.5.2 asks servers to allow at
# least 100, and h2 and httpcore use 100 too.
MAX_CONCURRENT_STREAMS = 100

# Receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE). The RFC's 64 KiB allows
# one window per round trip: 3 MB/s at 20 ms. 1 MiB allows 50 MB/s per stream at that
# latency (Go uses 4 MiB, Chrome 6 MiB), and bounds what one unread stream makes us hold.
STREAM_WINDOW_SIZE = 1024 * 1024

# Receive window of the connection, raised by a WINDOW_UPDATE after the preface: the most
# response data all streams together can make us buffer. httpcore raises it by 16 MiB
# too; Chrome uses 15 MiB.
CONNECTION_WINDOW_SIZE = 16 * 1024 * 1024

# Largest frame accepted (SETTINGS_MAX_FRAME_SIZE): the RFC's default and minimum, also
# what nghttp2 and browsers announce. With h2's cap of 64 CONTINUATION frames it bounds a
# header block waiting to be decoded to 1 MiB.
MAX_FRAME_SIZE = 16 * 1024

# PING and SETTINGS frames each need an ACK. A peer that sends them faster than we write
# makes replies pile up (CVE-2019-9512 "ping flood", CVE-2019-9515 "settings flood");
# like nghttp2 (max_outbound_ack, 1000), we fail a connection with more unsent.
MAX_PENDING_CONTROL_REPLIES = 1000

# Header blocks remembered per connection, each way (see "Header blocks" above): a client
# repeats a few requests and a server a few response heads, so a handful covers them; the
# oldest goes first. Blocks longer than HEADER_BLOCK_CACHE_BYTES are not kept (a typical
# head encodes to 100 to 300 bytes), so the caches hold at most 2 x 32 KiB of blocks.
HEADER_BLOCK_CACHE_SIZE = 32
HEADER_BLOCK_CACHE_BYTES = 1024

# Protocol bounds, not policy: RFC 9113 §5.1.1 (stream ids) and §6.9.1 (windows).
_MAX_STREAM_ID = 2**31 - 1
_MAX_WINDOW = 2**31 - 1
_DEFAULT_WINDOW = 65535
_MIN_FRAME_LIMIT = 2**14  # §6.5.2: SETTINGS_MAX_FRAME_SIZE lies between these
_MAX_FRAME_LIMIT = 2**24 - 1

# Stream phases, in order (plain ints: compared on every step).
_HEAD = 0  # no final response head returned yet
_BODY = 1  # head returned, body events follow
_DONE = 2  # EndOfBody returned
_FAILED = 3  # the failure was raised

# Request body states.
_NO_BODY = 0  # none, or END_STREAM queued
_BODY_OPEN = 1  # NEED_BODY until send_body(sid, None)
_BODY_ENDING = 2  # None given; END_STREAM follows the waiting data
_TUNNEL = 3  # an extended CONNECT's tunnel (after its 2xx): `send_step` paces the writer
_BODY_ABANDONED = 4  # an early response, a failure or a failed write: the rest is dropped

# Connection-specific fields (RFC 9113 §8.2.2) are never sent; Host becomes :authority.
_DROP = 0
_HOST = 1
_TE = 2
_SECRET = 3
_COOKIE = 4
_SPECIAL = {
    b"connection": _DROP,
    b"keep-alive": _DROP,
    b"proxy-connection": _DROP,
    b"transfer-encoding": _DROP,
    b"upgrade": _DROP,
    b"host": _HOST,
    b"te": _TE,
    # Credentials stay out of the HPACK table, so a compression oracle cannot guess them
    # (what h2 does when it normalises, after Firefox and nghttp2).
    b"authorization": _SECRET,
    b"proxy-authorization": _SECRET,
    b"cookie": _COOKIE,
}
_SHORT_COOKIE = 20  # cookies shorter than this are guessable, so never indexed

_TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHAR = bytes(range(0x21, 0x7F))
_FIELD_CHARS = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))


class _StateMachine(h2.connection.H2ConnectionStateMachine):
    """h2's connection state machine, except that a GOAWAY from the server leaves it open:
    the streams the server still serves must be read to their end (RFC 9113 §6.8;
    python-hyper/h2#1181). This module starts no stream after a GOAWAY."""

    _transitions = {
        **h2.connection.H2ConnectionStateMachine._transitions,
        (
            h2.connection.ConnectionState.IDLE,
            h2.connection.ConnectionInputs.RECV_GOAWAY,
        ): (None, h2.connection.ConnectionState.IDLE),
        (
            h2.connection.ConnectionState.CLIENT_OPEN,
            h2.connection.ConnectionInputs.RECV_GOAWAY,
        ): (None, h2.connection.ConnectionState.CLIENT_OPEN),
    }


class _H2(h2.connection.H2Connection):
    def clear_outbound_data_buffer(self) -> None:
        # h2 calls this when a GOAWAY arrives; the SETTINGS and PING ACKs queued before it
        # in the same read, and everything for the streams that go on, must still go out.
        pass

    def _open_streams(self, remainder: int) -> int:
        # h2 counts open streams against the server's limit on every new stream by walking
        # all the streams it holds (pruning the closed ones): with 100 streams at once, a
        # tenth of a request's cost. `H2Connection.can_start_request` holds that limit
        # first, over its own streams, and every stream h2 holds is one of them (`forget`
        # prunes each as it is released), so their number is an upper bound that never
        # trips h2's check (and the only count h2 asks a client for).
        return len(self.streams)

    def forget(self, stream_id: int) -> None:
        """Prune a stream `H2Connection.release` closed, as h2's walk would: how it closed
        stays known to h2 (only that walk removes streams, and it no longer runs)."""
        stream = self.streams.pop(stream_id)
        self._closed_streams[stream_id] = stream.closed_by


_TableState = tuple[object, tuple[int, ...]]


def _table_state(table: Any, limits: tuple[int, ...] = ()) -> _TableState:
    """The table's front entry, entry count and size limit, and the ``limits`` a block was
    checked against. Every insertion puts a new tuple at the front and entries only move
    back, so while the front entry is the same object and the rest is equal, the table
    holds the same entries and a block decodes (or encodes) as it did."""
    entries = table.dynamic_entries
    return (entries[0] if entries else None, (len(entries), table.maxsize, *limits))


def _same_table(a: _TableState, b: _TableState) -> bool:
    return a[0] is b[0] and a[1] == b[1]


def _remember(cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    if size <= HEADER_BLOCK_CACHE_BYTES:
        if len(cache) >= HEADER_BLOCK_CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = value


class _Encoder(hpack.Encoder):
    """hpack's encoder, handing back the block it made for the same header list when making
    it left the dynamic table as it was and the table has not changed since."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[tuple[bool, tuple[Any, ...]], tuple[bytes, _TableState]] = {}

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        # Whether a field is indexed depends only on its name and value here (see
        # `_request_headers`), so a list equal to a cached one is encoded alike. A pending
        # size update (`resized`) is part of the state: the block that carries it is new.
        table = self.header_table
        key = (huffman, tuple(headers))
        state = _table_state(table, (table.resized,))
        hit = self._blocks.get(key)
        if hit is not None and _same_table(hit[1], state):
            return hit[0]
        block = super().encode(key[1], huffman)
        if _same_table(state, _table_state(table, (table.resized,))):
            _remember(self._blocks, key, (block, state), len(block))
        return block


class _Decoder(hpack.Decoder):
    """hpack's decoder, handing back the fields it decoded from the same block when decoding
    it left the dynamic table as it was and neither the table nor the limits have changed
    since (a server that indexes nothing, as nginx, repeats its blocks but for the Date)."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[tuple[bool, bytes], tuple[list[hpack.HeaderTuple], _TableState]] = {}

    def decode(self, data: bytes, raw: bool = False) -> list[hpack.HeaderTuple]:
        table = self.header_table
        limits = (self.max_header_list_size, self.max_allowed_table_size)
        state = _table_state(table, limits)
        key = (raw, bytes(data))
        hit = self._blocks.get(key)
        if hit is not None and _same_table(hit[1], state):
            return hit[0].copy()
        headers = list(super().decode(data, raw))
        if _same_table(state, _table_state(table, limits)):
            _remember(self._blocks, key, (headers.copy(), state), len(data))
        return headers


class _Stream:
    __slots__ = (
        "body",
        "closed",
        "end_gen",
        "error",
        "events",
        "informational",
        "interim",
        "pending",
        "phase",
        "received",
        "refused",
        "remote_ended",
        "trailers",
        "tunnel",
    )

    def __init__(self, body: int, end_gen: int, tunnel: bool = False) -> None:
        self.events: deque[Step] = deque()
        self.phase = _HEAD
        self.body = body
        self.pending: bytes | memoryview = b""  # body bytes waiting for the send window
        self.end_gen = end_gen  # our last frame leaves with this data_to_send() call
        self.received = False  # a frame of the response has arrived
        self.remote_ended = False  # the server ended its side (the response is complete)
        self.trailers: list[tuple[bytes, bytes]] = []
        self.error: str | None = None  # to raise once the queue is empty
        self.refused = False  # the server did not process the request
        self.informational = 0  # 1xx heads skipped
        self.interim: list[tuple[int, list[tuple[bytes, bytes]]]] = []  # (status, fields)
        self.tunnel = tunnel  # an extended CONNECT: a 2xx head opens a tunnel
        self.closed = ""  # why a tunnel's writing side was abandoned


class H2Connection:
    """An HTTP/2 client connection machine (see `sansio.wire.WireConnection`).

    The connection preface and our SETTINGS are queued at construction. Limits:
    ``max_header_bytes``, ``max_header_count`` and ``max_informational`` (what a
    response may hold, as in `sansio.h1.H1Connection`; see "Limits" above),
    ``max_concurrent_streams`` (our cap on streams at once, below the server's),
    ``stream_window_size`` / ``connection_window_size`` (receive windows: the most
    response data buffered per stream / in all), ``max_frame_size`` (largest frame
    accepted) and ``max_control_replies`` (unsent PING/SETTINGS ACKs before the
    connection is failed). With ``validate_headers=False`` request header names and
    values are trusted as already validated (conch's models check them once); the
    method, target, authority and scheme are always checked.
    """

    __slots__ = (
        "_eof",
        "_failure",
        "_h2",
        "_live",
        "_max_concurrent",
        "_max_control_replies",
        "_max_frame_size",
        "_max_header_bytes",
        "_max_header_count",
        "_max_informational",
        "_max_streams",
        "_next_id",
        "_out",
        "_ready",
        "_replies",
        "_reusable",
        "_sent_gen",
        "_settings_seen",
        "_streams",
        "_validate",
        "_writable",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_count: int = MAX_HEADER_COUNT,
        max_informational: int = MAX_INFORMATIONAL_RESPONSES,
        max_concurrent_streams: int = MAX_CONCURRENT_STREAMS,
        stream_window_size: int = STREAM_WINDOW_SIZE,
        connection_window_size: int = CONNECTION_WINDOW_SIZE,
        max_frame_size: int = MAX_FRAME_SIZE,
        max_control_replies: int = MAX_PENDING_CONTROL_REPLIES,
        validate_headers: bool = True,
    ) -> None:
        if min(max_header_bytes, max_header_count, max_concurrent_streams, max_control_replies) < 1:
            raise ValueError(
                "max_header_bytes, max_header_count, max_concurrent_streams and "
                "max_control_replies must be at least 1"
            )
        if max_informational < 0:
            raise ValueError("max_informational must be 0 or more")
        if not 1 <= stream_window_size <= _MAX_WINDOW:
            raise ValueError(f"stream_window_size must be between 1 and {_MAX_WINDOW}")
        if not _DEFAULT_WINDOW <= connection_window_size <= _MAX_WINDOW:
            # The connection window starts at 65535 and can only grow (RFC 9113 §6.9.2).
            raise ValueError(
                f"connection_window_size must be between {_DEFAULT_WINDOW} and {_MAX_WINDOW}"
            )
        if not _MIN_FRAME_LIMIT <= max_frame_size <= _MAX_FRAME_LIMIT:
            raise ValueError(
                f"max_frame_size must be between {_MIN_FRAME_LIMIT} and {_MAX_FRAME_LIMIT}"
            )
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._max_informational = max_informational
        self._max_concurrent = max_concurrent_streams
        self._max_frame_size = max_frame_size
        self._max_control_replies = max_control_replies
        self._validate = validate_headers
        conn = self._h2 = _H2(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                # Request headers are filtered, lower-cased and checked here, once.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
                validate_inbound_headers=True,
                # Inbound normalisation only joins Cookie fields, which responses do not
                # carry: skipping it saves a pass over every header list.
                normalize_inbound_headers=False,
            )
        )
        conn.state_machine = _StateMachine()
        conn.encoder = _Encoder()
        conn.decoder = _Decoder()
        codes = h2.settings.SettingCodes
        settings = h2.settings.Settings(
            client=True,
            initial_values={
                codes.ENABLE_PUSH: 0,
                codes.INITIAL_WINDOW_SIZE: stream_window_size,
                codes.MAX_FRAME_SIZE: max_frame_size,
                codes.MAX_HEADER_LIST_SIZE: max_header_bytes,
            },
        )
        # Some servers refuse a SETTINGS frame that names ENABLE_CONNECT_PROTOCOL (httpcore
        # found one); we never use it.
        del settings[codes.ENABLE_CONNECT_PROTOCOL]
        conn.local_settings = settings
        conn.max_inbound_frame_size = max_frame_size
        conn.decoder.max_header_list_size = max_header_bytes
        conn.initiate_connection()
        if connection_window_size > _DEFAULT_WINDOW:
            conn.increment_flow_control_window(connection_window_size - _DEFAULT_WINDOW)
        self._out: list[bytes] = [conn.data_to_send()]
        self._sent_gen = 0  # data_to_send() calls that returned bytes
        self._streams: dict[int, _Stream] = {}
        self._ready: set[int] = set()
        self._next_id = 1
        self._max_streams = max_concurrent_streams
        self._replies = 0  # PING/SETTINGS ACKs queued since the last data_to_send()
        self._failure: str | None = None  # why the connection failed
        self._eof = False
        self._writable = True
        self._live = True  # not failed, no EOF, writes possible
        self._reusable = True
        self._settings_seen = False  # the server's first SETTINGS frame has arrived

    # -- state --------------------------------------------------------------------

    @property
    def is_idle(self) -> bool:
        return not self._streams

    @property
    def is_reusable(self) -> bool:
        """More streams may start once there is room: False for good after a GOAWAY, EOF,
        a protocol error, `io_failed`, `send_failed` or when stream ids run out."""
        return self._reusable

    @property
    def can_start_request(self) -> bool:
        return self._reusable and len(self._streams) < self._max_streams

    @property
    def max_streams(self) -> int:
        """Streams at once: our cap, lowered by the server's SETTINGS_MAX_CONCURRENT_STREAMS
        (also mid-connection; streams already running go on)."""
        return self._max_streams

    @property
    def settings_received(self) -> bool:
        """Whether the server's SETTINGS have arrived (`allows_extended_connect` is known)."""
        return self._settings_seen

    @property
    def allows_extended_connect(self) -> bool:
        """Whether the server announced SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3):
        `start_tunnel` may open tunnels. False until its SETTINGS arrive."""
        return bool(self._h2.remote_settings.enable_connect_protocol)

    @property
    def has_data_to_send(self) -> bool:
        """Whether `data_to_send` would return bytes (a writer is needed)."""
        return bool(self._out)

    def has_pending_events(self, stream_id: int) -> bool:
        """Whether `next_step` will answer from the stream's queue (a response event or its
        failure) without more bytes."""
        stream = self._stream(stream_id)
        return bool(stream.events) or stream.error is not None

    def is_tunnel(self, stream_id: int) -> bool:
        """Whether the stream is an extended CONNECT whose response (once its head has
        arrived) opened a tunnel: the stream then carries the protocol's bytes."""
        return self._stream(stream_id).tunnel

    def take_ready(self) -> list[int]:
        """Stream ids whose `next_step` may no longer be RECEIVE since the last call (events
        or a failure arrived, or the send window opened): whom a reader wakes."""
        ready = list(self._ready)
        self._ready.clear()
        return ready

    # -- sending ------------------------------------------------------------------

    def start_request(self, head: RequestHead, *, has_body: bool) -> int:
        """Queue HEADERS (with END_STREAM when there is no body); return the stream id."""
        if not self.can_start_request:
            raise RuntimeError(
                "this connection cannot start a request now (closed, going away or full)"
            )
        return self._start(self._request_headers(head), has_body, False)

    def start_tunnel(self, head: RequestHead, protocol: bytes = b"websocket") -> int:
        """Queue an extended CONNECT (RFC 8441 §4) for ``protocol`` to ``head``'s target;
        return the stream id. The head's method is replaced by CONNECT and ``:protocol``
        added; for WebSocket, Sec-WebSocket-Key is not sent (RFC 8441 §5).

        A 2xx response head opens the tunnel: `next_step` gives the server's bytes as
        `BodyChunk`s (`EndOfBody` when it ends its side), and `send_step` paces our
        writes (`send_body`; ``None`` ends our side). Any other head is an ordinary
        response. `release` resets a tunnel not closed on both sides.
        """
        if not self.can_start_request:
            raise RuntimeError(
                "this connection cannot start a request now (closed, going away or full)"
            )
        if not self.allows_extended_connect:
            raise LocalProtocolError(
                "the server does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)"
            )
        if _invalid(protocol, _TCHAR):
            raise LocalProtocolError(f"invalid :protocol {protocol!r}")
        headers = self._request_headers(head, tunnel=True)
        headers[0] = (b":method", b"CONNECT")
        headers.insert(4, (b":protocol", protocol))
        if protocol == b"websocket":
            headers = [field for field in headers if field[0] != b"sec-websocket-key"]
        return self._start(headers, False, True)

    def _start(self, headers: list[tuple[bytes, bytes]], has_body: bool, tunnel: bool) -> int:
        sid = self._next_id
        try:
            self._h2.send_headers(sid, headers, end_stream=not has_body and not tunnel)
        except h2.exceptions.H2Error as exc:
            raise self._local_error(exc) from exc
        self._next_id = sid + 2
        if self._next_id > _MAX_STREAM_ID:
            self._reusable = False
        self._streams[sid] = _Stream(
            _BODY_OPEN if has_body else _NO_BODY, self._sent_gen + (not has_body), tunnel
        )
        self._pull()
        return sid

    def _request_headers(
        self, head: RequestHead, *, tunnel: bool = False
    ) -> list[tuple[bytes, bytes]]:
        method = head.method
        if _invalid(method, _TCHAR):
            raise LocalProtocolError(f"invalid request method {method!r}")
        if method == b"CONNECT" and not tunnel:
            raise LocalProtocolError("CONNECT is not supported over HTTP/2")
        if _invalid(head.target, _VCHAR):
            raise LocalProtocolError(f"invalid request target {head.target!r}")
        if _invalid(head.scheme, _TCHAR):
            raise LocalProtocolError(f"invalid request scheme {head.scheme!r}")
        authority = head.authority
        headers: list[tuple[bytes, bytes]] = [
            (b":method", method),
            (b":scheme", head.scheme),
            (b":authority", authority),
            (b":path", head.target),
        ]
        append = headers.append
        validate = self._validate
        special = _SPECIAL.get
        host = b""
        for raw_name, value in head.headers:
            name = raw_name.lower()
            if validate:
                _check_field(name, value)
            kind = special(name)
            if kind is None:
                append((name, value))
            elif kind == _SECRET or (kind == _COOKIE and len(value) < _SHORT_COOKIE):
                append(NeverIndexedHeaderTuple(name, value))
            elif kind == _COOKIE:
                append((name, value))
            elif kind == _HOST:
                host = host or value
            elif kind == _TE and _names_trailers(value):
                # TE may only say "trailers" in HTTP/2 (RFC 9113 §8.2.2).
                append((b"te", b"trailers"))
        if not authority:
            authority = host
            headers[2] = (b":authority", authority)
        if _invalid(authority, _VCHAR):
            raise LocalProtocolError(
                f"an HTTP/2 request needs a valid authority (or Host header), not {authority!r}"
            )
        return headers

    def send_body(self, stream_id: int, data: bytes | None) -> None:
        """Queue a request body chunk, or end the body with ``None``.

        Call it only after NEED_BODY. Once the body is abandoned (an early response, a
        failure, `send_failed`) calls are ignored.
        """
        stream = self._stream(stream_id)
        body = stream.body
        if body != _BODY_OPEN and body != _TUNNEL:
            if body == _BODY_ABANDONED:
                return
            raise RuntimeError("this stream's request body has ended (or it has none)")
        if stream.pending:
            raise RuntimeError("send_body before NEED_BODY: the last chunk is still waiting")
        if data is None:
            stream.body = _BODY_ENDING
        elif not data:
            return
        else:
            stream.pending = data
        self._flush(stream_id, stream)
        self._pull()

    def _flush(self, sid: int, stream: _Stream) -> None:
        """Send what the windows allow of the waiting data, or END_STREAM if it is due.

        The end of the body never waits for data (`send_body` takes ``None`` only after
        NEED_BODY), and an empty DATA frame with END_STREAM needs no window.
        """
        conn = self._h2
        data = stream.pending
        try:
            if stream.body == _BODY_ENDING:
                conn.end_stream(sid)
                stream.body = _NO_BODY
                stream.end_gen = self._sent_gen + 1
                return
            while data:
                size = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if size <= 0:
                    break
                if size < len(data) and not isinstance(data, memoryview):
                    data = memoryview(data)  # slice the rest without copying it
                conn.send_data(sid, data[:size])
                data = data[size:]
            stream.pending = data
        except h2.exceptions.H2Error as exc:
            raise self._local_error(exc) from exc

    def data_to_send(self) -> bytes:
        """Take all queued bytes, joined once."""
        out = self._out
        self._replies = 0
        if not out:
            return b""
        self._sent_gen += 1
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    def _pull(self) -> None:
        data = self._h2.data_to_send()
        if data and self._writable:
            self._out.append(data)

    # -- receiving ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Parse bytes from the socket at once (``b""`` = EOF) into per-stream queues.

        Never raises for what the server sent: a failure reaches each stream it concerns
        through `next_step`.
        """
        if self._eof:
            if data:
                raise RuntimeError("received data after EOF")
            return
        if not data:
            self._eof = True
            self._stop_writing()
            self._die("server disconnected", eof=True)
            return
        if self._failure is not None:
            return  # a failed connection parses nothing more
        conn = self._h2
        try:
            events = conn.receive_data(data)
        except h2.exceptions.H2Error as exc:
            self._pull()  # the GOAWAY h2 queued: sent before the streams' errors are raised
            self._die(self._describe(exc))
            return
        if len(conn.incoming_buffer._data) > self._max_frame_size + 9:
            # h2 buffers a frame whole (up to 16 MiB) before checking its length; what
            # it holds after parsing is one incomplete frame, so this stops it early.
            self._die(f"the server sent a frame larger than {self._max_frame_size} bytes")
            return
        streams = self._streams
        ready = self._ready
        for event in events:
            if type(event) is DataReceived:
                sid = event.stream_id
                stream = streams.get(sid)
                size = event.flow_controlled_length
                chunk = event.data
                if stream is None or stream.error is not None or stream.phase == _FAILED:
                    conn.acknowledge_received_data(size, sid)  # nobody will read it
                    continue
                if chunk:
                    stream.events.append(BodyChunk(chunk))
                    ready.add(sid)
                    size -= len(chunk)
                if size:
                    conn.acknowledge_received_data(size, sid)  # padding holds no memory
            elif type(event) is ResponseReceived:
                self._on_response(event.stream_id, event.headers)
            elif type(event) is StreamEnded:
                self._on_end(event.stream_id)
            elif type(event) is WindowUpdated:
                sid = event.stream_id
                if not sid:
                    self._wake_senders()
                elif (stream := streams.get(sid)) is not None and (
                    _BODY_OPEN <= stream.body <= _TUNNEL
                ):
                    ready.add(sid)
            elif type(event) is TrailersReceived:
                self._on_trailers(event.stream_id, event.headers)
            elif type(event) is StreamReset:
                self._on_reset(event)
            elif type(event) is InformationalResponseReceived:
                self._on_informational(event.stream_id, event.headers)
            elif type(event) is PingReceived:
                self._replies += 1  # h2 queued the ACK
            elif type(event) is RemoteSettingsChanged:
                self._replies += 1  # h2 queued the ACK and applied the settings
                self._settings_seen = True
                self._on_settings(event)
            elif type(event) is ConnectionTerminated:
                self._on_goaway(event)
            # PING and SETTINGS ACKs, PRIORITY, ALTSVC and unknown frames need nothing.
        self._pull()
        if self._replies > self._max_control_replies:
            self._stop_writing()
            self._die(
                f"the server sent more than {self._max_control_replies} PING/SETTINGS frames "
                "without reading our replies"
            )

    def _on_response(self, sid: int, headers: list[tuple[bytes, bytes]]) -> None:
        stream = self._streams.get(sid)
        if stream is None or stream.error is not None or stream.phase == _FAILED:
            return
        stream.received = True
        # h2 has checked that the pseudo-headers come first and that a response has just
        # one, :status.
        status = headers[0][1]
        if len(status) != 3 or not status.isdigit() or status[0] == 0x30:
            self._stream_error(sid, stream, f"malformed :status {status!r} in response")
            return
        if len(headers) > self._max_header_count + 1:  # :status is not counted
            self._too_much(sid, stream, self._too_many_fields("header"))
            return
        if stream.body != _NO_BODY:
            # A final response before our request ended: stop uploading (see h1.py).
            stream.body = _BODY_ABANDONED
            stream.pending = b""
        elif stream.tunnel:
            if status[0] == 0x32:
                stream.body = _TUNNEL  # a 2xx to extended CONNECT: the tunnel is open
            else:
                stream.tunnel = False  # an ordinary response: no tunnel
        stream.events.append(
            ResponseHead(  # (positional: see ResponseHead)
                int(status),
                b"",
                [(name, value) for name, value in headers[1:]],
                "HTTP/2",
                tuple(stream.interim),
            )
        )
        self._ready.add(sid)

    def _on_informational(self, sid: int, headers: list[tuple[bytes, bytes]]) -> None:
        stream = self._streams.get(sid)
        if stream is None or stream.error is not None or stream.phase == _FAILED:
            return
        stream.received = True
        if headers[0][1] == b"101":
            self._stream_error(sid, stream, "101 response over HTTP/2 (RFC 9113 §8.6)")
            return
        stream.informational += 1
        if stream.informational > self._max_informational:
            # Each within every read timeout, a stream of them would hold us forever.
            self._too_much(
                sid,
                stream,
                f"more than {self._max_informational} informational (1xx) responses "
                "before the final response",
            )
        elif len(headers) > self._max_header_count + 1:
            self._too_much(sid, stream, self._too_many_fields("header"))
        elif len(status := headers[0][1]) != 3 or not status.isdigit():
            self._stream_error(sid, stream, f"malformed :status {status!r} in response")
        else:
            stream.interim.append((int(status), [(n, v) for n, v in headers[1:]]))

    def _on_trailers(self, sid: int, headers: list[tuple[bytes, bytes]]) -> None:
        stream = self._streams.get(sid)
        if stream is None or stream.error is not None or stream.phase == _FAILED:
            return
        if len(headers) > self._max_header_count:
            self._too_much(sid, stream, self._too_many_fields("trailer"))
            return
        stream.trailers = [(name, value) for name, value in headers]

    def _on_end(self, sid: int) -> None:
        stream = self._streams.get(sid)
        if stream is None or stream.error is not None or stream.phase == _FAILED:
            return
        stream.remote_ended = True
        stream.events.append(EndOfBody(stream.trailers))
        self._ready.add(sid)

    def _on_reset(self, event: StreamReset) -> None:
        sid = event.stream_id
        stream = self._streams.get(sid)
        if stream is None or stream.error is not None or stream.phase == _FAILED:
            return
        if stream.remote_ended:
            # The response is complete: the server only asks us to stop sending, and the
            # upload already stopped when the head arrived (a tunnel's stops now).
            if stream.body == _TUNNEL:
                self._abandon(
                    stream, f"the server reset the stream ({_code_name(event.error_code)})"
                )
                self._ready.add(sid)
            return
        code = _code_name(event.error_code)
        if event.remote_reset:
            message = f"the server reset the stream ({code})"
        else:
            message = f"the stream was reset after a flow-control or protocol error ({code})"
        refused = event.error_code == ErrorCodes.REFUSED_STREAM and not stream.received
        if refused:
            message = f"the server refused the stream before processing it ({code})"
        else:
            # The server answered this stream, with a reset: it saw the request, so
            # `failure_phase` says RECEIVING and no retry replays it.
            stream.received = True
        self._fail(sid, stream, message, refused=refused)

    def _on_settings(self, event: RemoteSettingsChanged) -> None:
        changed = event.changed_settings
        codes = h2.settings.SettingCodes
        if codes.MAX_CONCURRENT_STREAMS in changed:
            limit = changed[codes.MAX_CONCURRENT_STREAMS].new_value
            self._max_streams = min(self._max_concurrent, limit)
        if codes.INITIAL_WINDOW_SIZE in changed:
            self._wake_senders()

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        self._reusable = False
        last = event.last_stream_id or 0
        detail = _code_name(event.error_code)
        if event.additional_data:
            detail += f": {event.additional_data[:200]!r}"
        for sid, stream in self._streams.items():
            if sid > last and stream.error is None and stream.phase < _DONE:
                if stream.received:
                    # The server contradicts itself; it did act on this one.
                    message = f"the server closed the stream with GOAWAY ({detail})"
                else:
                    message = f"the server went away without processing the request ({detail})"
                self._fail(sid, stream, message, refused=not stream.received)

    def _wake_senders(self) -> None:
        ready = self._ready
        for sid, stream in self._streams.items():
            if _BODY_OPEN <= stream.body <= _TUNNEL:
                ready.add(sid)

    def next_step(self, stream_id: int) -> Step:
        """The stream's next response event, else SEND, NEED_BODY or RECEIVE (see above).

        Returning a `BodyChunk` gives its bytes back to the server's windows.
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")
        events = stream.events
        if events:
            event = events.popleft()
            if type(event) is BodyChunk:
                if self._live:
                    self._h2.acknowledge_received_data(len(event.data), stream_id)
                    self._pull()
            elif type(event) is EndOfBody:
                stream.phase = _DONE
            else:
                stream.phase = _BODY
            return event
        error = stream.error
        if error is not None:
            if self._out:
                return SEND
            stream.phase = _FAILED
            stream.error = None
            if stream.refused:
                raise RequestNotProcessed(error)
            raise RemoteProtocolError(error)
        phase = stream.phase
        if phase >= _DONE:
            if phase == _DONE:
                raise RuntimeError("the response has already ended")
            raise RuntimeError("this stream failed earlier; release it")
        if stream.pending:
            self._flush(stream_id, stream)
            self._pull()
        if self._out:
            return SEND
        if (
            stream.body == _BODY_OPEN
            and not stream.pending
            and self._h2.local_flow_control_window(stream_id) > 0
        ):
            return NEED_BODY
        return RECEIVE

    def send_step(self, stream_id: int) -> Step:
        """A tunnel writer's next step (the reader keeps to `next_step`): SEND when the
        connection has bytes queued, NEED_BODY when `send_body` may take a chunk (or
        ``None``, to end our side), RECEIVE while a chunk waits for the server's windows
        (a read brings the WINDOW_UPDATE; `take_ready` then names the stream).

        Raises `RemoteProtocolError` once the tunnel cannot be written (the server reset
        it, the connection failed), RuntimeError if the stream is no open tunnel.
        """
        stream = self._stream(stream_id)
        body = stream.body
        if body == _TUNNEL:
            if not self._live:
                self._abandon(stream, self._failure or "the connection is closed")
            else:
                if stream.pending:
                    self._flush(stream_id, stream)
                    self._pull()
                if self._out:
                    return SEND
                if stream.pending or self._h2.local_flow_control_window(stream_id) <= 0:
                    return RECEIVE
                return NEED_BODY
        if stream.closed:
            raise RemoteProtocolError(stream.closed)
        raise RuntimeError("this stream is not an open tunnel (or its side has ended)")

    # -- failures and the end of a stream -----------------------------------------

    def send_failed(self, stream_id: int) -> None:
        """A write failed: nothing more is sent on this connection (queued bytes and the
        rest of every body are dropped) and it is not reused, but reading goes on."""
        self._stream(stream_id)
        self._stop_writing()
        for stream in self._streams.values():
            if stream.body != _NO_BODY:
                self._abandon(stream, "a write on the connection failed")

    def io_failed(self, stream_id: int) -> None:
        """A read or write failed or was cut off: every stream on the connection fails.

        ``stream_id`` may be one already released (the write of its RST_STREAM failed).
        """
        self._stop_writing()
        self._die("the connection failed (an I/O error or a cancelled write)")

    def informational(self, stream_id: int) -> list[tuple[int, list[tuple[bytes, bytes]]]]:
        """The 1xx heads received so far on the stream (the caller's to read, not to change)."""
        return self._stream(stream_id).interim

    def failure_phase(self, stream_id: int) -> FailurePhase:
        """How far the stream had got (see `sansio.pool.retry_safe`); ask before `release`.

        A stream refused by the server (`RequestNotProcessed`) never says RECEIVING; one it
        reset otherwise always does (the server saw the request).
        """
        stream = self._stream(stream_id)
        if stream.received:
            return FailurePhase.RECEIVING
        if stream.body != _NO_BODY or stream.end_gen > self._sent_gen:
            return FailurePhase.SENDING
        return FailurePhase.AWAITING_RESPONSE

    def release(self, stream_id: int) -> None:
        """End the stream. If the server has not closed it, it is reset with CANCEL
        (write `data_to_send()` afterwards); the connection stays usable."""
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")
        self._ready.discard(stream_id)
        if not self._live:
            return
        unread = 0
        for event in stream.events:
            if type(event) is BodyChunk:
                unread += len(event.data)
        try:
            self._reset(stream_id, ErrorCodes.CANCEL)
            if unread:
                # Only the connection window matters now: the stream is closed.
                self._h2.acknowledge_received_data(unread, stream_id)
        except h2.exceptions.H2Error as exc:
            raise self._local_error(exc) from exc
        self._h2.forget(stream_id)  # closed now, by the server or by the reset
        self._pull()

    # -- helpers ------------------------------------------------------------------

    def _stream(self, stream_id: int) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")
        return stream

    def _reset(self, sid: int, code: ErrorCodes) -> None:
        state = self._h2.streams.get(sid)
        if state is not None and not state.closed:
            self._h2.reset_stream(sid, code)

    def _fail(self, sid: int, stream: _Stream, message: str, *, refused: bool = False) -> None:
        stream.error = message
        stream.refused = refused
        if stream.body != _NO_BODY:
            self._abandon(stream, message)
        stream.pending = b""
        self._ready.add(sid)

    @staticmethod
    def _abandon(stream: _Stream, why: str) -> None:
        """Drop the rest of the stream's body; a tunnel's writer learns ``why``."""
        if stream.body != _BODY_ABANDONED:
            stream.body = _BODY_ABANDONED
            stream.closed = why
        stream.pending = b""

    def _stream_error(self, sid: int, stream: _Stream, message: str) -> None:
        """A malformed response on one stream: fail it and tell the server."""
        self._fail(sid, stream, message)
        self._reset(sid, ErrorCodes.PROTOCOL_ERROR)

    def _too_much(self, sid: int, stream: _Stream, message: str) -> None:
        """A response past one of our limits: fail that stream and cancel it."""
        self._fail(sid, stream, message)
        self._reset(sid, ErrorCodes.CANCEL)

    def _too_many_fields(self, kind: str) -> str:
        return f"response has more than {self._max_header_count} {kind} fields"

    def _die(self, message: str, *, eof: bool = False) -> None:
        """The connection failed: every stream whose response has not ended fails."""
        if self._failure is None:
            self._failure = message
        self._live = False
        self._reusable = False
        for sid, stream in self._streams.items():
            if stream.error is None and stream.phase < _DONE and not stream.remote_ended:
                if eof:
                    if stream.received:
                        reason = "server disconnected before the response was complete"
                    else:
                        reason = "server disconnected without sending a response"
                else:
                    reason = message
                self._fail(sid, stream, reason)

    def _stop_writing(self) -> None:
        self._writable = False
        self._live = False
        self._reusable = False
        self._out.clear()

    def _local_error(self, exc: h2.exceptions.H2Error) -> LocalProtocolError:
        # h2 refused what we asked: our bookkeeping and h2's disagree, so the
        # connection is not trusted again.
        self._stop_writing()
        self._die(f"HTTP/2 error on our side: {exc}")
        return LocalProtocolError(f"HTTP/2 error on our side: {exc}")

    def _describe(self, exc: h2.exceptions.H2Error) -> str:
        if isinstance(exc, h2.exceptions.DenialOfServiceError):
            return f"response head larger than {self._max_header_bytes} bytes"
        if isinstance(exc, h2.exceptions.FrameTooLargeError):
            return f"the server sent a frame larger than {self._max_frame_size} bytes"
        return f"HTTP/2 protocol error from the server: {exc}"


def _invalid(value: bytes, allowed: bytes) -> bool:
    return not value or bool(value.translate(None, allowed))


def _check_field(name: bytes, value: bytes) -> None:
    if _invalid(name, _TCHAR):
        raise LocalProtocolError(f"invalid header name {name!r}")
    if value and (
        value.translate(None, _FIELD_CHARS) or value[0] in (0x20, 0x09) or value[-1] in (0x20, 0x09)
    ):
        raise LocalProtocolError(f"invalid value for header {name!r}")


def _names_trailers(value: bytes) -> bool:
    for part in value.split(b","):
        if part.split(b";", 1)[0].strip(b" \t").lower() == b"trailers":
            return True
    return False


def _code_name(code: ErrorCodes | int | None) -> str:
    if isinstance(code, ErrorCodes):
        return code.name
    return f"error code {code}"
