"""The HTTP/1.1 client connection machine, over h11.

Rules
-----
1. h11 makes every framing decision; this module only refuses what h11 lets through
   and should not (below). There is no second, lenient parser.
2. No h11 exception leaves this module: h11's errors become conch's
   `LocalProtocolError` / `RemoteProtocolError`, and after a remote error the
   connection is never reused.
3. A connection is reused only after a clean cycle: the request and the response both
   ended, neither side asked to close, the peer speaks HTTP/1.1, no EOF arrived, and not
   one byte followed the response (RFC 9112 §6.3: bytes after a complete response are
   never served as the next response).

Theory of operation
-------------------
One stream runs at a time; stream ids count up from 1. The stream moves through
phases::

    IDLE --start_request--> HEAD --final head--> BODY --end--> DONE --release--> IDLE
                             |                                   ^
                             +--101 / CONNECT 2xx--> SWITCHED ---+ (EndOfBody, no reuse)
    any phase --error / io_failed--> FAILED --release--> IDLE (not reusable)

In HEAD, `next_step` first parses bytes that arrived (so a response that comes while
the body is still being uploaded is seen at once), then asks to SEND queued bytes,
then for the next body chunk (NEED_BODY), and only then to RECEIVE.

**Early responses.** RFC 9112 §9.5: a client should watch for a response while it
uploads, and stop sending once a final response says the server will not read on.
The shell feeds bytes whenever the socket is readable during an upload (the sync
shell polls between chunks; the async shell reads under the connection's lock) and
calls `next_step` again. When a final response head arrives before the body is
done, the machine drops the rest of the body, returns the head, and marks the
connection for closing. If a write fails instead (the server may already have closed
after answering 413), the shell calls `send_failed` and keeps reading: the response
may still be in the socket's receive buffer.

**What h11 0.16 lets through**, and this module rejects as `RemoteProtocolError`:
a final response with both Content-Length and Transfer-Encoding (RFC 9112 §6.3 says
this "ought to be handled as an error"; it is the classic smuggling shape, and h11
simply lets Transfer-Encoding win); Transfer-Encoding in an HTTP/1.0 response (§6.1:
faulty framing); an HTTP major version other than 1; more than `MAX_HEADER_COUNT`
fields; and a head larger than `MAX_HEADER_BYTES` that arrived in one read (h11 only
limits *incomplete* events). h11 itself rejects conflicting Content-Length values
(it accepts repeats that agree), repeated or non-chunked Transfer-Encoding,
malformed chunk sizes and chunk terminators, a 101 nobody asked for, and a body cut
short by EOF. The tests pin each of these.

**1xx.** Informational responses (100, 103, ...) are skipped, within the same limits.
A 101 (after an ``Upgrade`` request) or a 2xx to CONNECT ends HTTP on this
connection: the head is returned, then `EndOfBody`, and `trailing_data` holds the
bytes that followed the head, for whatever protocol comes next.
"""

from __future__ import annotations

import h11

from .exceptions import LocalProtocolError, RemoteProtocolError
from .wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
    Step,
)

__all__ = ["MAX_HEADER_BYTES", "MAX_HEADER_COUNT", "MAX_INFORMATIONAL_RESPONSES", "H1Connection"]

# Largest response head accepted (status line, header lines and the blank line), in
# bytes. http.client allows 64 KiB per header line (_MAXLINE) and curl 100 KiB per
# response header, while h11 defaults to 16 KiB, which real sites with large cookies
# and policy headers can exceed. 64 KiB for the whole head keeps such sites working
# and bounds the memory one connection can make us hold.
MAX_HEADER_BYTES = 64 * 1024

# Most header fields accepted in one response head, and in one trailer section: the
# limit of http.client (_MAXHEADERS = 100). It bounds per-response work that the byte
# limit alone would not (thousands of tiny fields).
MAX_HEADER_COUNT = 100

# Most 1xx informational responses accepted before the final one. A request sees one
# 100 Continue and perhaps a 103 Early Hints or two; without a cap, a server could
# keep a request waiting forever with a stream of 1xx heads, each within every
# read timeout.
MAX_INFORMATIONAL_RESPONSES = 10

# Stream phases (plain ints: compared on every step).
_IDLE = 0
_HEAD = 1
_BODY = 2
_DONE = 3
_SWITCHED = 4
_FAILED = 5

# Request body states.
_NO_BODY = 0  # none, or already ended
_BODY_OPEN = 1  # NEED_BODY until send_body(sid, None)
_BODY_ABANDONED = 2  # an early response or a failed write: the rest is dropped

_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}

_EOM = h11.EndOfMessage()


class H1Connection:
    """An HTTP/1.1 client connection machine (see `sansio.wire.WireConnection`).

    ``max_header_bytes`` bounds each response head, whole or split (and, through h11's
    buffer limit, chunk-size lines and trailers); ``max_header_count`` bounds the fields
    of each head and trailer section. With ``validate_headers=False`` request header
    names and values are trusted as already validated (conch's models check them once);
    method and target are always checked.
    """

    __slots__ = (
        "_body",
        "_eof",
        "_failure",
        "_h11",
        "_head_bytes",
        "_informational",
        "_keep_alive",
        "_last_id",
        "_max_header_bytes",
        "_max_header_count",
        "_max_informational",
        "_out",
        "_parsed",
        "_phase",
        "_received",
        "_sid",
        "_unparsed",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_count: int = MAX_HEADER_COUNT,
        validate_headers: bool = True,
        max_informational: int = MAX_INFORMATIONAL_RESPONSES,
    ) -> None:
        if max_header_bytes < 1 or max_header_count < 1:
            raise ValueError("max_header_bytes and max_header_count must be at least 1")
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._parsed = not validate_headers
        # h11 refuses to buffer more than this of an incomplete event: with the exact
        # check in _check_head this bounds heads whole or split, and chunk-size lines.
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self._out: list[bytes] = []
        self._last_id = 0
        self._sid: int | None = None
        self._phase = _IDLE
        self._body = _NO_BODY
        self._keep_alive = True
        self._eof = False
        self._unparsed = False  # h11 may hold bytes that next_step has not parsed
        self._received = False  # a byte of this stream's response has arrived
        self._head_bytes = 0  # bytes fed since the head being parsed began
        self._max_informational = max_informational
        self._informational = 0  # 1xx heads skipped for the current request
        self._failure = ""

    # -- state --------------------------------------------------------------------

    @property
    def is_idle(self) -> bool:
        return self._sid is None

    @property
    def is_reusable(self) -> bool:
        return self._keep_alive

    @property
    def can_start_request(self) -> bool:
        return self._sid is None and self._keep_alive

    @property
    def max_streams(self) -> int:
        return 1

    # -- sending ------------------------------------------------------------------

    def start_request(self, head: RequestHead, *, has_body: bool) -> int:
        """Queue the request head; return the stream id.

        Framing follows the caller's headers: Content-Length, or
        ``Transfer-Encoding: chunked``; with neither and a body, chunked is added.
        """
        if self._sid is not None or not self._keep_alive:
            raise RuntimeError("this connection cannot start a request now (busy or closed)")
        headers = head.headers
        has_length = has_chunked = False
        for name, _ in headers:
            size = len(name)
            if size == 14:
                has_length = has_length or name.lower() == b"content-length"
            elif size == 17:
                has_chunked = has_chunked or name.lower() == b"transfer-encoding"
        if has_length and has_chunked:
            raise LocalProtocolError(
                "a request must not have both Content-Length and Transfer-Encoding"
            )
        if has_body and not (has_length or has_chunked):
            headers = [*headers, (b"Transfer-Encoding", b"chunked")]
        conn = self._h11
        try:
            request = h11.Request(
                method=head.method, target=head.target, headers=headers, _parsed=self._parsed
            )
            data = conn.send_with_data_passthrough(request)
            if not has_body:
                end = conn.send_with_data_passthrough(_EOM)
        except h11.LocalProtocolError as exc:
            # A request h11 refused to build leaves the connection untouched; one it
            # refused to finish (Content-Length without a body) leaves h11 in ERROR.
            self._keep_alive = conn.our_state is h11.IDLE
            raise LocalProtocolError(str(exc)) from exc
        out = self._out
        out += data  # type: ignore[arg-type]  # send() of a Request always returns a list
        if has_body:
            self._body = _BODY_OPEN
        else:
            out += end  # type: ignore[arg-type]
            self._body = _NO_BODY
        self._last_id = sid = self._last_id + 1
        self._sid = sid
        self._phase = _HEAD
        self._unparsed = self._received = False
        self._head_bytes = 0
        self._informational = 0
        return sid

    def send_body(self, stream_id: int, data: bytes | None) -> None:
        """Queue a request body chunk, or end the body with ``None``.

        After an early final response or `send_failed` the rest of the body is not
        wanted; such calls are ignored.
        """
        self._check(stream_id)
        if self._body != _BODY_OPEN:
            if self._body == _BODY_ABANDONED:
                return
            raise RuntimeError("this stream's request body has ended (or it has none)")
        try:
            if data is None:
                self._body = _NO_BODY
                chunk = self._h11.send_with_data_passthrough(_EOM)
            else:
                chunk = self._h11.send_with_data_passthrough(h11.Data(data=data))
        except h11.LocalProtocolError as exc:
            # The body does not match its Content-Length: the request is broken.
            self._keep_alive = False
            self._body = _BODY_ABANDONED
            self._phase = _FAILED
            self._failure = str(exc)
            raise LocalProtocolError(str(exc)) from exc
        self._out += chunk  # type: ignore[arg-type]  # never None for Data/EndOfMessage

    def data_to_send(self) -> bytes:
        """Take all queued bytes, joined once."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # -- receiving ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the socket (``b""`` = EOF).

        Bytes or EOF while no response is expected (idle, or after the response
        ended) make the connection unusable; they are never parsed.
        """
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
        else:
            self._eof = True
        phase = self._phase
        if phase == _BODY:
            self._h11.receive_data(data)
        elif phase == _HEAD:
            self._h11.receive_data(data)
            self._unparsed = True
            if data:
                self._received = True
                self._head_bytes += len(data)
        elif phase != _FAILED:
            self._keep_alive = False

    def next_step(self, stream_id: int) -> Step:
        """The next thing to do for this stream, or the next piece of its response.

        While the request is going out: SEND, NEED_BODY, then RECEIVE until the final
        `ResponseHead`; then `BodyChunk` or RECEIVE until `EndOfBody`.
        """
        if stream_id != self._sid:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")
        phase = self._phase
        if phase == _BODY:
            return self._read_body()
        if phase == _HEAD:
            if self._unparsed:
                head = self._read_head()
                if head is not None:
                    return head
            if self._out:
                return SEND
            if self._body == _BODY_OPEN:
                return NEED_BODY
            return RECEIVE
        if phase == _SWITCHED:
            self._phase = _DONE
            return EndOfBody([])
        if phase == _DONE:
            raise RuntimeError("the response has already ended")
        raise RuntimeError(f"this stream failed earlier ({self._failure}); release it")

    def _read_head(self) -> ResponseHead | None:
        conn = self._h11
        try:
            while True:
                event = conn.next_event()
                if type(event) is h11.Response:
                    return self._on_head(event)
                if type(event) is h11.InformationalResponse:
                    if event.status_code == 101:
                        return self._on_head(event)
                    self._check_head(event, informational=True)
                    self._informational += 1
                    if self._informational > self._max_informational:
                        raise self._fail(
                            f"more than {self._max_informational} informational (1xx) "
                            "responses before the final response"
                        )
                    continue
                # NEED_DATA: before the final head h11 returns nothing else (EOF
                # before a complete head is an error).
                self._unparsed = False
                return None
        except h11.RemoteProtocolError as exc:
            if self._eof and not self._received:
                message = "server disconnected without sending a response"
            elif str(exc) == "Receive buffer too long":
                message = f"response head larger than {self._max_header_bytes} bytes"
            else:
                message = str(exc)
            raise self._fail(message) from exc

    def _check_head(
        self, event: h11.Response | h11.InformationalResponse, *, informational: bool
    ) -> None:
        fed = self._head_bytes
        if informational or fed > self._max_header_bytes:
            # Exact size only when it could matter (or to start counting the next
            # head after a 1xx): trailing_data copies what is still buffered.
            left = len(self._h11.trailing_data[0])
            if fed - left > self._max_header_bytes:
                raise self._fail(f"response head larger than {self._max_header_bytes} bytes")
            self._head_bytes = left
        if len(event.headers) > self._max_header_count:
            raise self._fail(f"response has more than {self._max_header_count} header fields")

    def _on_head(self, event: h11.Response | h11.InformationalResponse) -> ResponseHead:
        self._check_head(event, informational=False)
        raw = event.headers.raw_items()
        version = _VERSIONS.get(event.http_version)
        if version is None:
            if not event.http_version.startswith(b"1."):
                raise self._fail(
                    f"unsupported HTTP version {event.http_version.decode('ascii')} in response"
                )
            version = "HTTP/1.1"  # RFC 9112 §2.3: a higher minor version reads as ours
        if self._h11.their_state is h11.SWITCHED_PROTOCOL:
            # 101, or 2xx to CONNECT: framing headers mean nothing (RFC 9110 §9.3.6).
            self._phase = _SWITCHED
            self._keep_alive = False
        else:
            has_length = has_chunked = False
            for name, _ in raw:
                size = len(name)
                if size == 14:
                    has_length = has_length or name.lower() == b"content-length"
                elif size == 17:
                    has_chunked = has_chunked or name.lower() == b"transfer-encoding"
            if has_chunked:
                if has_length:
                    raise self._fail(
                        "response has both Content-Length and Transfer-Encoding (ambiguous framing)"
                    )
                if version == "HTTP/1.0":
                    raise self._fail("HTTP/1.0 response with Transfer-Encoding")
            self._phase = _BODY
        if self._body == _BODY_OPEN or self._out:
            # A final response before our request ended: stop uploading, and close
            # afterwards since the request was never completed on the wire.
            self._body = _BODY_ABANDONED
            self._out.clear()
            self._keep_alive = False
        return ResponseHead(
            status_code=event.status_code,
            reason=event.reason,
            headers=raw,
            http_version=version,
        )

    def _read_body(self) -> Step:
        conn = self._h11
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise self._fail(str(exc)) from exc
        if type(event) is h11.Data:
            return BodyChunk(bytes(event.data))
        if type(event) is h11.EndOfMessage:
            return self._finish(event)
        # NEED_DATA: in a body h11 returns nothing else (EOF ends a close-delimited
        # body with EndOfMessage and is an error for the other framings).
        return RECEIVE

    def _finish(self, event: h11.EndOfMessage) -> EndOfBody:
        trailers = event.headers
        if len(trailers) > self._max_header_count:
            raise self._fail(f"response has more than {self._max_header_count} trailer fields")
        if self._keep_alive:
            conn = self._h11
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                # NEED_DATA means nothing is buffered; PAUSED means bytes follow the
                # response, ConnectionClosed that EOF arrived. Either way: no reuse.
                self._keep_alive = conn.next_event() is h11.NEED_DATA
            else:
                self._keep_alive = False  # Connection: close, or an HTTP/1.0 peer
        self._phase = _DONE
        return EndOfBody(trailers.raw_items())

    # -- failures and the end of a stream -----------------------------------------

    def send_failed(self, stream_id: int) -> None:
        """A write failed. Queued bytes and the rest of the body are dropped; the
        connection will close, but reading goes on: `next_step` returns RECEIVE until
        the response (which the server may have sent before closing) or an error.
        """
        self._check(stream_id)
        self._keep_alive = False
        self._out.clear()
        self._body = _BODY_ABANDONED

    def io_failed(self, stream_id: int) -> None:
        """A read or write failed or was cancelled; the connection is never reused."""
        self._check(stream_id)
        self._keep_alive = False
        if self._phase != _FAILED:
            self._phase = _FAILED
            self._failure = "I/O failed"

    def failure_phase(self, stream_id: int) -> FailurePhase:
        """How far the stream had got (see `sansio.pool.retry_safe`); ask before `release`."""
        self._check(stream_id)
        if self._received:
            return FailurePhase.RECEIVING
        if self._body != _NO_BODY or self._out:
            return FailurePhase.SENDING
        return FailurePhase.AWAITING_RESPONSE

    def release(self, stream_id: int) -> None:
        """End the stream. A response not read to its end closes the connection
        (it is not drained: that could take forever)."""
        self._check(stream_id)
        if self._phase == _DONE and self._keep_alive:
            self._h11.start_next_cycle()
        else:
            self._keep_alive = False
        self._sid = None
        self._phase = _IDLE
        self._body = _NO_BODY
        self._out.clear()

    def trailing_data(self) -> bytes:
        """Bytes received after a 101 or CONNECT 2xx head: they belong to the new protocol."""
        return self._h11.trailing_data[0]

    # -- helpers ------------------------------------------------------------------

    def _check(self, stream_id: int) -> None:
        if stream_id != self._sid:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")

    def _fail(self, message: str) -> RemoteProtocolError:
        self._phase = _FAILED
        self._failure = message
        self._keep_alive = False
        return RemoteProtocolError(message)
