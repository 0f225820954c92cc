"""The wire interface: one protocol for the HTTP/1.1 and HTTP/2 connection machines.

A wire connection is a pull-style machine in the manner of h11. It owns no socket and
reads no clock; its caller ("the shell" below; in conch, the exchange engine of
`sansio.engine`) asks it what to do next and carries out the answer::

    sid = conn.start_request(head, has_body=body is not None)
    while True:
        step = conn.next_step(sid)
        if step is SEND:            # bytes are queued
            sock.sendall(conn.data_to_send())
        elif step is RECEIVE:       # the machine needs more bytes
            conn.receive_data(sock.recv(65536))      # b"" means EOF
        elif step is NEED_BODY:     # hand over the next request body chunk
            conn.send_body(sid, next(body, None))    # None ends the body
        elif isinstance(step, ResponseHead):
            break                   # body chunks follow: BodyChunk ..., then EndOfBody
    ...
    conn.release(sid)               # always, also after errors and early closes

Rules every implementation keeps:

- Bytes are the only currency: a request head is method, target and header bytes that
  the caller has already validated (the models do it once); responses come back as bytes.
- ``receive_data(b"")`` means EOF, as in h11. Bytes (or EOF) that arrive while the
  connection has no response to read are never parsed as a later response (RFC 9112
  §6.3, "bytes after a complete response"): for HTTP/1.1 they make the connection
  unusable. Before a shell reuses an idle connection it checks that one socket for
  readability and feeds whatever is there (a read that fails counts as EOF, ``b""``);
  afterwards `is_reusable` has the answer.
- Streams are named by ``int`` ids so that HTTP/2 fits the same calls. HTTP/1.1 runs
  one stream at a time (`max_streams` is 1).
- Every failure the shell sees (a write or read that failed, a timeout, a
  cancellation) is reported with `io_failed` before the shell re-raises, and every
  stream ends with `release`, so a connection in an unknown state is never reused.
- Machines raise only conch's `LocalProtocolError` / `RemoteProtocolError` for protocol
  problems, and ``RuntimeError``/``ValueError`` for calls out of order (a shell bug).
  Any other exception is a bug in the machine.
"""

from __future__ import annotations

import enum

from ._frozen import Frozen, slot_setters
from ._typing_lite import Protocol, TypeAlias
from .exceptions import RemoteProtocolError

__all__ = [
    "INFORMATIONAL_EXTENSION",
    "NEED_BODY",
    "RECEIVE",
    "SEND",
    "BodyChunk",
    "EndOfBody",
    "FailurePhase",
    "RequestHead",
    "RequestNotProcessed",
    "ResponseHead",
    "Signal",
    "Step",
    "WireConnection",
]


# The request extension whose callback, ``callback(name, info)`` (awaited in async), an
# engine calls with each 1xx response as soon as it is parsed, before the final head is
# read: name ``"informational"``, info ``{"response": <the 1xx Response>}``. The client
# flow sets it for the ``"informational"`` event hooks (`sansio.flow`).
INFORMATIONAL_EXTENSION = "informational"


class Signal(enum.Enum):
    """What a shell must do before asking `WireConnection.next_step` again."""

    SEND = "send"
    """Bytes are queued: call `data_to_send` and write all of them."""
    RECEIVE = "receive"
    """More bytes are needed: read from the socket and call `receive_data`."""
    NEED_BODY = "need_body"
    """Give the next request body chunk with `send_body` (``None`` ends the body)."""


SEND = Signal.SEND
RECEIVE = Signal.RECEIVE
NEED_BODY = Signal.NEED_BODY


class RequestHead(Frozen, kw_only=True):
    """A request head as bytes. Header names and values must already be validated.

    ``authority`` and ``scheme`` feed HTTP/2's ``:authority``/``:scheme``
    pseudo-headers; HTTP/1.1 ignores them and sends the ``Host`` header the caller
    put in ``headers``.
    """

    __slots__ = ("authority", "headers", "method", "scheme", "target")
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    authority: bytes
    scheme: bytes

    def __init__(
        self,
        *,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        authority: bytes,
        scheme: bytes,
    ) -> None:
        _set_method(self, method)
        _set_target(self, target)
        _set_request_headers(self, headers)
        _set_authority(self, authority)
        _set_scheme(self, scheme)


# (Made for every request: fields set through their slots, see `slot_setters`.)
_set_method, _set_target, _set_request_headers, _set_authority, _set_scheme = slot_setters(
    RequestHead, "method", "target", "headers", "authority", "scheme"
)


def planned_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    authority: bytes,
    scheme: bytes,
) -> RequestHead:
    """`RequestHead` from its fields in order, for the planner's head of every request
    (~0.2 µs less than the keyword-only constructor, which guards other callers
    against swapping two of its bytes fields)."""
    head = _new_object(RequestHead)
    _set_method(head, method)
    _set_target(head, target)
    _set_request_headers(head, headers)
    _set_authority(head, authority)
    _set_scheme(head, scheme)
    return head


_new_object = object.__new__


class ResponseHead(Frozen):
    """The final response head (or a 101). The 1xx informational heads that came
    before it, (status, fields) in order of arrival, are in ``informational``.

    The wire machines build one per response with positional arguments (~0.2 µs less
    than keywords); fields keep their order.
    """

    __slots__ = ("headers", "http_version", "informational", "reason", "status_code")
    status_code: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]  # names in the casing the server sent
    http_version: str  # "HTTP/1.1", "HTTP/1.0" (and "HTTP/2" from the HTTP/2 machine)
    informational: tuple[tuple[int, list[tuple[bytes, bytes]]], ...]

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: str,
        informational: tuple[tuple[int, list[tuple[bytes, bytes]]], ...] = (),
    ) -> None:
        _set_status_code(self, status_code)
        _set_reason(self, reason)
        _set_response_headers(self, headers)
        _set_http_version(self, http_version)
        _set_informational(self, informational)


_set_status_code, _set_reason, _set_response_headers, _set_http_version, _set_informational = (
    slot_setters(ResponseHead, "status_code", "reason", "headers", "http_version", "informational")
)


class BodyChunk(Frozen):
    """A piece of the response body, never empty."""

    __slots__ = ("data",)
    data: bytes

    def __init__(self, data: bytes) -> None:
        _set_data(self, data)


(_set_data,) = slot_setters(BodyChunk, "data")


class EndOfBody(Frozen):
    """The response is complete; ``trailers`` holds trailer fields, if any."""

    __slots__ = ("trailers",)
    trailers: list[tuple[bytes, bytes]]

    def __init__(self, trailers: list[tuple[bytes, bytes]]) -> None:
        _set_trailers(self, trailers)


(_set_trailers,) = slot_setters(EndOfBody, "trailers")


Step: TypeAlias = Signal | ResponseHead | BodyChunk | EndOfBody


class FailurePhase(enum.Enum):
    """How far an exchange had got when it failed (see `pool.retry_safe`)."""

    SENDING = "sending"
    """The request was not completely handed over; no response byte had arrived."""
    AWAITING_RESPONSE = "awaiting_response"
    """The request was sent and not a single byte of a response had arrived."""
    RECEIVING = "receiving"
    """Some of the response had arrived: the server saw the request. Never replay."""


class RequestNotProcessed(RemoteProtocolError):
    """The server closed the stream and promised it had not processed the request
    (HTTP/2 GOAWAY above the stream, or RST_STREAM with REFUSED_STREAM; RFC 9113 §8.7).

    Safe to send again on another connection, whatever the method. `failure_phase` is
    never RECEIVING for such a stream.
    """


class WireConnection(Protocol):
    """What the pool and the shells need from a connection machine (HTTP/1.1 or HTTP/2)."""

    @property
    def is_idle(self) -> bool:
        """No stream is in flight (every stream has been released)."""
        ...

    @property
    def is_reusable(self) -> bool:
        """The connection may carry more requests once its current streams end.

        False for good after EOF, a protocol error or `io_failed`; for HTTP/1.1 also
        after ``Connection: close``, an HTTP/1.0 peer, bytes while idle, or a stream
        released early; for HTTP/2 after a GOAWAY (an early release only resets its
        stream).
        """
        ...

    @property
    def can_start_request(self) -> bool:
        """`start_request` may be called now (reusable and below `max_streams`)."""
        ...

    @property
    def max_streams(self) -> int:
        """How many streams may run at once: 1 for HTTP/1.1."""
        ...

    def start_request(self, head: RequestHead, *, has_body: bool) -> int:
        """Queue a request head and return its stream id.

        With ``has_body`` the machine asks for the body with `NEED_BODY`; without it
        the request ends with the head.
        """
        ...

    def send_body(self, stream_id: int, data: bytes | None) -> None:
        """Queue the next request body chunk; ``None`` ends the body."""
        ...

    def data_to_send(self) -> bytes:
        """Take every queued byte (possibly ``b""``); the shell writes all of it."""
        ...

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the socket; ``b""`` means EOF. Parsing waits for `next_step`.

        The bytes are copied, so a shell may pass a view of a buffer it reuses.
        """
        ...

    def next_step(self, stream_id: int) -> Step:
        """What the shell must do next for this stream, or the next piece of its response."""
        ...

    def informational(self, stream_id: int) -> list[tuple[int, list[tuple[bytes, bytes]]]]:
        """The 1xx heads (status, fields) of the stream's response parsed so far, in
        order of arrival: ask after `next_step` to see each one before the final head."""
        ...

    def send_failed(self, stream_id: int) -> None:
        """A write failed: stop sending, but keep reading (the server may have answered)."""
        ...

    def io_failed(self, stream_id: int) -> None:
        """A read or write failed or was cancelled: the connection is never reused."""
        ...

    def failure_phase(self, stream_id: int) -> FailurePhase:
        """How far the stream had got; ask after a failure and before `release`."""
        ...

    def release(self, stream_id: int) -> None:
        """The caller is done with the stream, perhaps before its response ended."""
        ...


class HandshakeStep(enum.Enum):
    """What a shell does before asking a proxy handshake (`sansio.socks.Socks5Handshake`,
    `sansio.proxy.ProxyConnector`) for its next step again."""

    SEND = "send"
    """Bytes are queued: write all of the handshake's ``data_to_send``."""
    RECEIVE = "receive"
    """A reply is incomplete: read and call the handshake's ``receive_data``."""
    DONE = "done"
    """The proxy has connected to the target; the stream now carries its bytes."""
