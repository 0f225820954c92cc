"""The HTTP/1.1 client connection machine: its own request writer, head finder and body
framing; response heads parsed by llhttp (httptools) or h11.

Rules
-----
1. The machine writes every request itself (`sansio.h1_heads.write_request_head`, by
   h11's rules) and finds where each response head ends; the head is then parsed by
   one of two parsers that give the same answer (`sansio.h1_heads`): llhttp, the fast
   path (`DEFAULT_PARSER` wherever httptools is installed), or h11, the pure-Python
   fallback and the reference. Trailer sections are parsed by h11 on both paths. This
   module refuses what h11 lets through and should not (below), and frames the
   response *body* itself by the rule of RFC 9112 §6.3 that h11 applies too. There is
   no lenient second path: the body framer is at least as strict as h11's readers, and
   stricter where noted; its one leniency is the whitespace RFC 9112 §7.1.1 allows
   before a chunk extension's ";", which h11 refused.
2. No h11 or httptools exception leaves this module: their errors become conch's
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
then for the next body chunk (NEED_BODY), and only then to RECEIVE. One exception:
with a request body, the head waits for the first body chunk (NEED_BODY before SEND)
so that both leave in one write, unless that chunk is larger than
`MAX_JOINED_CHUNK_BYTES` (copying it would cost more than the write it saves).

**The request** is one join of its head (validated as h11 would, Host first; a request
identical to the connection's previous one reuses that head's bytes), then the body as
given: chunked (a size line, the data, CRLF; ``0`` CRLF CRLF at the end) or
counted against its Content-Length (too much or too little is a
`LocalProtocolError`, and the connection is not reused).

**Finding the head.** Received bytes wait in the read they came in (``_buf``); a head
that spans reads is collected in one bytearray, so a head cut into many pieces is
copied once and searched once: the search for its end (the first empty line, LF or
CRLF line ends, as h11 finds it) goes on from where the last one stopped, and never
past ``max_header_bytes`` from the head's start, which is the limit itself (a head
that cannot end within it is refused at once). A first byte that cannot start a
status line is refused when it arrives. The parser then gets exactly one head; the
bytes after it stay where they are, for the next head (after a 1xx) or the body.
Whether the cycle *can* end cleanly is h11's rule: the request was sent whole and
neither message asked to close (``Connection: close``, an HTTP/1.0 peer).

**Why the body is framed here.** h11 copies every received byte into its buffer, copies
it out again as a bytearray inside a `Data` event, and that had to be copied once more
into the `bytes` the wire interface promises: three copies and a stack of Python calls
per read, more than half of the time of a download. So the machine frames the body
itself: a Content-Length or close-delimited body hands each received `bytes` object
on unchanged (only the last one is sliced, at the body's end, and the first where the
head ended), and chunked bodies go through a small incremental parser that slices each
chunk's data out of the read it arrived in.

The framing, from the parsed head (its Content-Length is a validated, single value;
its Transfer-Encoding can only be ``chunked``): no body after HEAD, 204 and 304;
chunked with Transfer-Encoding; else Content-Length bytes; else up to EOF. EOF before a
Content-Length or chunked body is complete is a `RemoteProtocolError`. Any byte past
the end of the body, and EOF after it, makes the connection unusable (rule 3).

**The chunked parser** accepts what h11 accepted and the whitespace RFC 9112 allows
before an extension's ";" (which h11 refused); it is stricter in three ways: chunk
extensions must follow RFC 9112 §7.1.1's grammar (h11 let any byte but LF through, CR
and NUL included; parsers that disagree on such bytes are how chunked smuggling works),
and a chunk-size line (extensions included) and a trailer section are each bounded by
``max_header_bytes`` however they arrive (h11 bounded only what was still incomplete).
The grammar: ``*( BWS ";" BWS name [ BWS "=" BWS value ] )``, a name being a token and a
value a token or a quoted-string (with ``\\`` escapes), BWS being spaces and tabs;
extensions are read, never used. A chunk-size line ends at its first LF, which must
follow a CR (h11 refused a bare LF too, but only once some later CRLF arrived). Sizes
are 1 to 20 hex digits (h11's bound: 16**20 is beyond any real body), optional
whitespace may follow a size or the extensions before the CRLF (h11 allows it for
servers in the wild), and each chunk's data must be followed by exactly CRLF. The
trailer section ends at the first empty line as h11 finds it (LF or CRLF line ends); a
non-empty one is replayed through a throwaway h11 connection, so its fields are checked
by the same parser as before, then counted against ``max_header_count``. The tests check
all of this against h11's own readers, and against hostile input
(tests/sansio/test_hostile_h1.py).

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
limits *incomplete* events). Both parsers reject conflicting Content-Length values
(repeats that agree are one), repeated or non-chunked Transfer-Encoding; this module
rejects a 101 nobody asked for. The tests pin each of these, on both parsers.

**1xx.** Informational responses (100, 103, ...) are not returned as steps, within the
same limits: each is listed on the final head (`ResponseHead.informational`), and in
`informational` as soon as it is parsed.
A request sent with ``expect_continue`` holds its body until a 100 arrives, a final
response comes first (the body is then never sent, and the connection closes), or the
caller gives up waiting (`continue_body`).
A 101 (after an ``Upgrade`` request) or a 2xx to CONNECT ends HTTP on this
connection: the head is returned, then `EndOfBody`, and `trailing_data` holds the
bytes that followed the head, for whatever protocol comes next.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from .exceptions import LocalProtocolError, RemoteProtocolError
from .h1_heads import PARSERS, Head, RequestFraming, h11_probe, write_request_head
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

__all__ = [
    "DEFAULT_PARSER",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_COUNT",
    "MAX_INFORMATIONAL_RESPONSES",
    "MAX_JOINED_CHUNK_BYTES",
    "H1Connection",
]

# Largest response head accepted (status line, header lines and the blank line), in
# bytes. http.client allows 64 KiB per header line (_MAXLINE) and curl 100 KiB per
# response header, while h11 defaults to 16 KiB, which real sites with large cookies
# and policy headers can exceed. 64 KiB for the whole head keeps such sites working
# and bounds the memory one connection can make us hold. The same bound applies to a
# chunk-size line (with its extensions) and to a trailer section.
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

# Largest first request-body chunk joined to the request head in one write. Joining
# saves a write (a system call, and a TLS record) per request with a body, at the
# price of copying the chunk: up to 64 KiB the copy is the cheaper of the two (and a
# typical form or JSON body is far smaller); a larger chunk goes in its own write,
# uncopied, as every later chunk does. 0 sends the head alone.
MAX_JOINED_CHUNK_BYTES = 64 * 1024

# Which response-head parser a connection uses unless its constructor names one:
# llhttp (through httptools, a C extension: about 2 µs a head where h11 takes about 40)
# wherever httptools can be imported, else h11 (pure Python, and the reference both
# must agree with; see `sansio.h1_heads`). Tests and the conformance drivers set it to
# run everything through either parser.
DEFAULT_PARSER = "llhttp" if "llhttp" in PARSERS else "h11"

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

# Response body framings (RFC 9112 §6.3).
_LENGTH = 0  # Content-Length, or no body at all (HEAD, 204, 304): _remaining counts down
_CHUNKED = 1
_UNTIL_EOF = 2  # close-delimited

# Where the chunked parser is.
_SIZE_LINE = 0  # in a chunk-size line (its start is kept in _line)
_DATA = 1  # _remaining bytes of chunk data to come
_DATA_END = 2  # the CRLF after chunk data: _crlf holds what is still expected
_TRAILERS = 3  # after the last-chunk, up to the empty line (kept in _line)

_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_MAX_CHUNK_SIZE_DIGITS = 20  # h11's bound; 16**20 bytes is far beyond any real body

# RFC 9112 §7.1.1, what follows the first ";" of a chunk-size line (up to its CRLF):
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), names
# tokens, values tokens or quoted-strings (RFC 9110 §5.6.4: qdtext and quoted-pair,
# so no control but HTAB), then optional whitespace as after a bare size. What each
# part may take never begins what follows it, so every quantifier is possessive: the
# match never backtracks, and a hostile line of `max_header_bytes` costs one pass.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]++"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*+"'
_EXTENSION = _TOKEN + rb"(?:[ \t]*+=[ \t]*+(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?+"
_EXTENSIONS = rb"[ \t]*+" + _EXTENSION + rb"(?:[ \t]*+;[ \t]*+" + _EXTENSION + rb")*+[ \t]*+"


@cache
def _extensions() -> Callable[[bytes | bytearray], re.Match[bytes] | None]:
    # Compiled by the first chunk extension, not with conch: they are rare, and this
    # pattern takes ~0.4 ms to compile.
    return re.compile(_EXTENSIONS).fullmatch


# A non-empty trailer section is replayed through a throwaway h11 connection after a
# probe request and this head, so that h11's field parser checks it.
_PROBE_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"


def _show(line: bytes | bytearray) -> str:
    """A bounded repr of a line for an error message."""
    return repr(bytes(line[:40])) + ("..." if len(line) > 40 else "")


class H1Connection:
    """An HTTP/1.1 client connection machine (see `sansio.wire.WireConnection`).

    ``max_header_bytes`` bounds each response head, whole or split, each chunk-size line
    and each trailer section; ``max_header_count`` bounds the fields of each head and
    trailer section. With ``validate_headers=False`` request header names and values
    are trusted as already validated (conch's models check them once); method and
    target are always checked. ``max_joined_chunk_bytes``: see `MAX_JOINED_CHUNK_BYTES`.
    ``parser`` names the response-head parser, "llhttp" or "h11" (`DEFAULT_PARSER` if
    None).
    """

    __slots__ = (
        "_body",
        "_buf",
        "_chunk",
        "_continue",
        "_crlf",
        "_eof",
        "_failure",
        "_framing",
        "_held",
        "_informational",
        "_interim",
        "_join",
        "_keep_alive",
        "_last_id",
        "_last_request",
        "_last_written",
        "_length",
        "_line",
        "_max_header_bytes",
        "_max_header_count",
        "_max_informational",
        "_max_joined",
        "_method",
        "_more",
        "_out",
        "_parse",
        "_parser",
        "_phase",
        "_pos",
        "_received",
        "_remaining",
        "_searched",
        "_send_chunked",
        "_send_left",
        "_sid",
        "_unparsed",
        "_upgrade",
        "_validate",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_count: int = MAX_HEADER_COUNT,
        validate_headers: bool = True,
        max_informational: int = MAX_INFORMATIONAL_RESPONSES,
        max_joined_chunk_bytes: int = MAX_JOINED_CHUNK_BYTES,
        parser: str | None = None,
    ) -> None:
        if max_header_bytes < 1 or max_header_count < 1:
            raise ValueError("max_header_bytes and max_header_count must be at least 1")
        if max_joined_chunk_bytes < 0:
            raise ValueError("max_joined_chunk_bytes must not be negative")
        parser = DEFAULT_PARSER if parser is None else parser
        if parser not in PARSERS:
            raise ValueError(f"no response-head parser {parser!r} here (there are {list(PARSERS)})")
        self._parser = parser
        self._parse = PARSERS[parser]
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._max_joined = max_joined_chunk_bytes
        self._validate = validate_headers
        self._out: list[bytes] = []
        self._held: list[bytes] = []  # a first body chunk too large to join the head
        self._join = False  # the queued head waits for the first body chunk
        self._continue = False  # the body waits for a 100 (Expect: 100-continue)
        self._last_id = 0
        # The last request head written, and what it was written from: the next request
        # on a keep-alive connection usually has the very same method, target and fields.
        self._last_request: tuple[bytes, bytes, list[tuple[bytes, bytes]], bool] | None = None
        self._last_written = (b"", RequestFraming(None, False, False, False))
        self._sid: int | None = None
        self._method = b""
        self._phase = _IDLE
        self._body = _NO_BODY
        self._keep_alive = True
        self._eof = False
        self._unparsed = False  # bytes (or EOF) arrived that next_step has not parsed
        self._received = False  # a byte of this stream's response has arrived
        self._upgrade = False  # the request proposed an upgrade: a 101 may answer
        self._send_chunked = False  # the request body goes out chunked
        self._send_left = 0  # else: how much of its Content-Length is still to come
        self._max_informational = max_informational
        self._informational = 0  # 1xx heads skipped for the current request
        self._interim: list[tuple[int, list[tuple[bytes, bytes]]]] = []  # and what they were
        self._failure = ""
        # Received bytes not yet parsed (phase HEAD) or framed (phase BODY) are _buf
        # from _pos on, then the reads queued in _more (BODY only: a shell normally
        # feeds one read per RECEIVE, so _more stays empty). A head that is still
        # incomplete is collected in _line instead.
        self._framing = _LENGTH
        self._length = 0  # a Content-Length body's size
        self._remaining = 0
        self._buf = b""
        self._pos = 0
        self._more: list[bytes] = []
        self._chunk = _SIZE_LINE
        self._crlf = b""
        self._line = bytearray()  # an unfinished head, chunk-size line, or trailer section
        self._searched = 0  # how much of an unfinished head or trailer section has no end

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

    @property
    def parser(self) -> str:
        """The response-head parser in use: "llhttp" or "h11"."""
        return self._parser

    # -- sending ------------------------------------------------------------------

    def start_request(
        self, head: RequestHead, *, has_body: bool, expect_continue: bool = False
    ) -> int:
        """Queue the request head; return the stream id.

        Framing follows the caller's headers: Content-Length, or
        ``Transfer-Encoding: chunked``; with neither and a body, chunked is added. An
        invalid head raises `LocalProtocolError` and leaves the connection as it was.
        ``expect_continue`` (the head carries ``Expect: 100-continue``): the head goes
        alone, and the body waits (RECEIVE, `awaiting_continue`) for a 100, a final
        response (the body is then never sent) or `continue_body`.
        """
        if self._sid is not None or not self._keep_alive:
            raise RuntimeError("this connection cannot start a request now (busy or closed)")
        request = (head.method, head.target, head.headers, has_body)
        if request == self._last_request:
            data, framing = self._last_written  # the same head as last time, bytes and all
        else:
            data, framing = write_request_head(
                head.method, head.target, head.headers, has_body=has_body, validate=self._validate
            )
            # (A copy of the fields: the caller may change its list afterwards.)
            self._last_request = (head.method, head.target, list(head.headers), has_body)
            self._last_written = (data, framing)
        out = self._out
        out.append(data)
        self._send_chunked = framing.chunked
        if has_body:
            self._body = _BODY_OPEN
            self._continue = expect_continue
            self._join = not expect_continue
            self._send_left = framing.content_length or 0
        else:
            if framing.chunked:
                out.append(b"0\r\n\r\n")  # an empty chunked body
            self._body = _NO_BODY
        if framing.close:
            self._keep_alive = False
        self._upgrade = framing.upgrade
        self._method = head.method
        self._last_id = sid = self._last_id + 1
        self._sid = sid
        self._phase = _HEAD
        self._unparsed = self._received = False
        self._searched = 0
        self._informational = 0
        if self._interim:
            self._interim = []
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
        if data is not None and not data:
            return  # nothing to send; an empty chunk must not end a chunked body
        if data is None:
            self._body = _NO_BODY
            if self._send_chunked:
                chunk = [b"0\r\n\r\n"]
            elif self._send_left:
                raise self._broken("Too little data for declared Content-Length")
            else:
                chunk = []
        elif self._send_chunked:
            chunk = [b"%x\r\n" % len(data), data, b"\r\n"]
        else:
            self._send_left -= len(data)
            if self._send_left < 0:
                raise self._broken("Too much data for declared Content-Length")
            chunk = [data]
        held = self._held
        if self._join:
            self._join = False
            if data is not None and len(data) > self._max_joined:
                held += chunk  # goes after the head, alone
                return
        if held:
            held += chunk  # queued behind the held chunk
        else:
            self._out += chunk

    def _broken(self, message: str) -> LocalProtocolError:
        """The body does not match its Content-Length: the request is broken."""
        self._keep_alive = False
        self._body = _BODY_ABANDONED
        self._phase = _FAILED
        self._failure = message
        return LocalProtocolError(message)

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

        In a response body, a ``bytes`` read is kept as it is and handed on in
        `BodyChunk` objects without a copy; any other bytes-like object (a view of a
        buffer the shell reuses) is copied first. Bytes or EOF while no response is
        expected (idle, or after the response ended) make the connection unusable;
        they are never parsed.
        """
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
        else:
            self._eof = True
        phase = self._phase
        if phase == _BODY:
            if data:
                if type(data) is not bytes:
                    data = bytes(data)  # a view of the shell's buffer: keep a copy
                if self._buf:
                    self._more.append(data)
                else:
                    self._buf = data
        elif phase == _HEAD:
            self._unparsed = True
            if data:
                self._received = True
                if self._line or self._pos < len(self._buf):
                    self._collect(data)  # bytes wait already: one head must be contiguous
                else:
                    self._buf = data if type(data) is bytes else bytes(data)
                    self._pos = 0
        elif phase != _FAILED:
            self._keep_alive = False

    def next_step(self, stream_id: int) -> Step:
        """The next thing to do for this stream, or the next piece of its response.

        While the request is going out: SEND and NEED_BODY (a request with a body asks
        for its first chunk before the head is sent, so that both go in one write),
        then RECEIVE until the final `ResponseHead`; then `BodyChunk` or RECEIVE until
        `EndOfBody`.
        """
        if stream_id != self._sid:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")
        phase = self._phase
        if phase == _BODY:
            if self._framing == _CHUNKED:
                return self._read_chunked()
            return self._read_body()
        if phase == _HEAD:
            if self._unparsed:
                head = self._read_head()
                if head is not None:
                    return head
            if self._out:
                return NEED_BODY if self._join else SEND
            if self._held:
                self._out += self._held
                self._held.clear()
                return SEND
            if self._body == _BODY_OPEN and not self._continue:
                return NEED_BODY
            return RECEIVE
        if phase == _SWITCHED:
            self._phase = _DONE
            return EndOfBody([])
        if phase == _DONE:
            raise RuntimeError("the response has already ended")
        raise RuntimeError(f"this stream failed earlier ({self._failure}); release it")

    def _collect(self, data: bytes) -> None:
        """Keep what is left of the current read, and ``data``, in _line (a head that
        spans reads is collected there, copied once, however it is cut)."""
        line = self._line
        buf = self._buf
        if self._pos < len(buf):
            line += memoryview(buf)[self._pos :]
        self._buf = b""
        self._pos = 0
        line += data

    def _read_head(self) -> ResponseHead | None:
        """Parse the heads that have arrived: skip 1xx, return the final head (or the
        101 / CONNECT 2xx that ends HTTP), or None until more bytes come."""
        while True:
            line = self._line
            data: bytes | bytearray = line if line else self._buf
            start = 0 if line else self._pos
            pending = len(data) - start
            if not pending:
                if self._eof:
                    raise self._fail(
                        "peer closed connection without sending complete response head"
                        if self._received
                        else "server disconnected without sending a response"
                    )
                self._unparsed = False
                return None
            if data[start] < 0x21:
                # Every head starts with "HTTP/": a control, a space or an empty line
                # is refused as soon as it arrives (h11 does so too), not after a
                # whole head of garbage (a TLS record where HTTP was expected).
                raise self._fail(f"illegal status line: {_show(data[start : start + 41])}")
            # Where the head ends, found as h11 finds it (the first empty line, LF or
            # CRLF line ends), never searching a byte twice nor past the limit.
            limit = start + self._max_header_bytes
            at = start + max(self._searched - 2, 0)
            crlf = data.find(b"\n\r\n", at, limit)
            lf = data.find(b"\n\n", at, limit if crlf < 0 else crlf + 1)
            if lf >= 0:
                end = lf + 2
            elif crlf >= 0:
                end = crlf + 3
            else:
                if pending >= self._max_header_bytes:
                    raise self._fail(f"response head larger than {self._max_header_bytes} bytes")
                if self._eof:
                    raise self._fail(
                        "peer closed connection without sending complete response head"
                    )
                if not line:
                    self._collect(b"")
                self._searched = pending
                self._unparsed = False
                return None
            self._searched = 0
            try:
                head = self._parse(bytes(data[start:end]))
            except RemoteProtocolError as exc:
                raise self._fail(str(exc)) from exc
            if line:
                self._buf = bytes(line[end:])
                self._pos = 0
                line.clear()
            elif end == len(data):
                self._buf = b""
                self._pos = 0
            else:
                self._pos = end
            if len(head.fields) > self._max_header_count:
                raise self._fail(f"response has more than {self._max_header_count} header fields")
            status = head.status
            if status == 101:
                if not self._upgrade:
                    raise self._fail(
                        "received a 101 response to a request that asked for no upgrade"
                    )
                return self._on_head(head)
            if status >= 200:
                return self._on_head(head)
            if status == 100:
                self._continue = False  # RFC 9110 §10.1.1: the body may go now
            self._informational += 1
            if self._informational > self._max_informational:
                raise self._fail(
                    f"more than {self._max_informational} informational (1xx) "
                    "responses before the final response"
                )
            self._interim.append((status, head.fields))

    def _on_head(self, head: Head) -> ResponseHead:
        version = _VERSIONS.get(head.version)
        if version is None:
            if not head.version.startswith(b"1."):
                raise self._fail(
                    f"unsupported HTTP version {head.version.decode('ascii')} in response"
                )
            version = "HTTP/1.1"  # RFC 9112 §2.3: a higher minor version reads as ours
        status = head.status
        if status == 101 or (200 <= status < 300 and self._method == b"CONNECT"):
            # HTTP ends here: framing headers mean nothing (RFC 9110 §9.3.6).
            self._phase = _SWITCHED
            self._keep_alive = False
        else:
            length = head.content_length
            if head.chunked:
                if length is not None:
                    raise self._fail(
                        "response has both Content-Length and Transfer-Encoding (ambiguous framing)"
                    )
                if version == "HTTP/1.0":
                    raise self._fail("HTTP/1.0 response with Transfer-Encoding")
            if status == 204 or status == 304 or self._method == b"HEAD":
                self._framing = _LENGTH
                self._remaining = 0
            elif head.chunked:
                self._framing = _CHUNKED
                self._chunk = _SIZE_LINE
            elif length is not None:
                self._framing = _LENGTH
                self._length = self._remaining = int(length)
            else:
                self._framing = _UNTIL_EOF
            # Reused only if the request went out whole and neither side asked to
            # close (an HTTP/1.0 response does): h11's rule for keep-alive.
            if not head.keep_alive or self._body != _NO_BODY:
                self._keep_alive = False
            self._phase = _BODY
        if self._body == _BODY_OPEN or self._out or self._held:
            # A final response before our request ended: stop uploading, and close
            # afterwards since the request was never completed on the wire.
            self._body = _BODY_ABANDONED
            self._join = self._continue = False
            self._out.clear()
            self._held.clear()
            self._keep_alive = False
        # (positional: see ResponseHead)
        return ResponseHead(status, head.reason, head.fields, version, tuple(self._interim))

    # -- the body framer ----------------------------------------------------------

    def _shift(self) -> None:
        """The current read is used up: go on to the next queued one."""
        more = self._more
        self._buf = more.pop(0) if more else b""
        self._pos = 0

    def _read_body(self) -> Step:
        """A Content-Length or close-delimited body (or none at all)."""
        buf = self._buf
        if buf:
            pos = self._pos
            if self._framing == _UNTIL_EOF:
                self._shift()
                return BodyChunk(buf[pos:] if pos else buf)
            remaining = self._remaining
            if remaining:
                end = pos + remaining
                if end >= len(buf):
                    self._remaining = end - len(buf)
                    self._shift()
                    return BodyChunk(buf[pos:] if pos else buf)
                self._remaining = 0
                self._pos = end
                return BodyChunk(buf[pos:end])
            return self._end([])  # bytes follow the body: _end sees them
        if self._framing == _LENGTH:
            if not self._remaining:
                return self._end([])
            if self._eof:
                raise self._fail(
                    "peer closed connection without sending complete message body "
                    f"(received {self._length - self._remaining} bytes, expected {self._length})"
                )
            return RECEIVE
        if self._eof:
            return self._end([])
        return RECEIVE

    def _read_chunked(self) -> Step:
        """The next piece of a chunked body: RFC 9112 §7.1, strictly."""
        while True:
            buf = self._buf
            if not buf:
                if self._eof:
                    raise self._fail(
                        "peer closed connection without sending complete message body "
                        "(incomplete chunked read)"
                    )
                return RECEIVE
            pos = self._pos
            state = self._chunk
            if state == _DATA:
                end = pos + self._remaining
                if end >= len(buf):
                    self._remaining = end - len(buf)
                    if not self._remaining:
                        self._chunk = _DATA_END
                        self._crlf = b"\r\n"
                    self._shift()
                    return BodyChunk(buf[pos:] if pos else buf)
                self._remaining = 0
                self._chunk = _DATA_END
                self._crlf = b"\r\n"
                self._pos = end
                return BodyChunk(buf[pos:end])
            if state == _DATA_END:
                expected = self._crlf
                if buf.startswith(expected, pos):
                    state = self._chunk = _SIZE_LINE
                    pos += len(expected)
                    if pos == len(buf):
                        self._shift()
                        continue
                    self._pos = pos  # and on to the size line, in this same read
                else:
                    got = buf[pos : pos + len(expected)]
                    if len(got) == len(expected) or not expected.startswith(got):
                        raise self._fail(f"malformed chunk footer: {got!r} (expected {expected!r})")
                    self._crlf = expected[len(got) :]  # the rest comes in the next read
                    self._shift()
                    continue
            if state == _SIZE_LINE:
                self._read_size_line(buf, pos)
            else:
                trailers = self._read_trailers(buf, pos)
                if trailers is not None:
                    return self._end(trailers)

    def _consume(self, pos: int) -> None:
        """Framing used the current read up to ``pos``."""
        if pos >= len(self._buf):
            self._shift()
        else:
            self._pos = pos

    def _read_size_line(self, buf: bytes, pos: int) -> None:
        limit = self._max_header_bytes
        line = self._line
        newline = buf.find(b"\n", pos)
        if newline < 0:
            line += memoryview(buf)[pos:]
            if len(line) > limit:
                raise self._fail(f"chunk size line longer than {limit} bytes")
            self._shift()
            return
        if line:
            line += memoryview(buf)[pos : newline + 1]
            text: bytes | bytearray = line
        else:
            text = buf[pos : newline + 1]
        if len(text) > limit:
            raise self._fail(f"chunk size line longer than {limit} bytes")
        self._consume(newline + 1)
        if len(text) < 2 or text[-2] != 13:  # CR
            raise self._fail(f"chunk size line not ended by CRLF: {_show(text)}")
        size, semicolon, extensions = text[:-2].partition(b";")
        if semicolon and _extensions()(extensions) is None:
            raise self._fail(f"illegal chunk extension: {_show(text)}")
        # BWS before the ";", or padding after a bare size (h11 allows it too).
        size = size.rstrip(b" \t")
        if not 0 < len(size) <= _MAX_CHUNK_SIZE_DIGITS or size.strip(_HEX_DIGITS):
            raise self._fail(f"illegal chunk size line: {_show(text)}")
        if line:
            line.clear()
        self._remaining = int(size, 16)
        if self._remaining:
            self._chunk = _DATA
        else:
            self._chunk = _TRAILERS
            self._searched = 0

    def _read_trailers(self, buf: bytes, pos: int) -> list[tuple[bytes, bytes]] | None:
        """The trailer section once it is complete (up to its empty line), else None."""
        section = self._line
        section += memoryview(buf)[pos:]
        self._shift()
        # Where the section ends, found as h11 finds it (LF or CRLF line ends).
        if section[:1] == b"\n":
            end = 1
        elif section[:2] == b"\r\n":
            end = 2
        else:
            start = max(self._searched - 2, 0)
            lf = section.find(b"\n\n", start)
            crlf = section.find(b"\n\r\n", start)
            if lf < 0 and crlf < 0:
                if len(section) > self._max_header_bytes:
                    raise self._fail(f"trailer section larger than {self._max_header_bytes} bytes")
                self._searched = len(section)
                return None
            end = lf + 2 if crlf < 0 or 0 <= lf < crlf else crlf + 3
        if end > self._max_header_bytes:
            raise self._fail(f"trailer section larger than {self._max_header_bytes} bytes")
        if end < len(section):
            self._keep_alive = False  # bytes after the response: never parsed
        trailers = [] if end <= 2 else self._parse_trailers(bytes(section[:end]))
        section.clear()
        return trailers

    def _parse_trailers(self, section: bytes) -> list[tuple[bytes, bytes]]:
        import h11  # only for trailers (or heads llhttp leaves to it): not at import

        request, end = h11_probe(b"trailers")
        probe = h11.Connection(h11.CLIENT)
        probe.send(request)
        probe.send(end)
        probe.receive_data(_PROBE_HEAD + section)
        try:
            probe.next_event()  # the probe's own head
            event = probe.next_event()
        except h11.RemoteProtocolError as exc:
            raise self._fail(f"malformed trailer section: {exc}") from exc
        assert type(event) is h11.EndOfMessage  # the section is complete
        trailers = event.headers
        if len(trailers) > self._max_header_count:
            raise self._fail(f"response has more than {self._max_header_count} trailer fields")
        return trailers.raw_items()

    def _end(self, trailers: list[tuple[bytes, bytes]]) -> EndOfBody:
        if self._buf or self._eof:
            # A byte after the body, or EOF (a close-delimited body, or the server
            # hanging up right after): the connection ends with this response.
            self._keep_alive = False
            self._buf = b""
            self._more.clear()
        self._phase = _DONE
        return EndOfBody(trailers)

    # -- failures and the end of a stream -----------------------------------------

    def informational(self, stream_id: int) -> list[tuple[int, list[tuple[bytes, bytes]]]]:
        """The 1xx heads parsed so far for the current request (the caller's to read,
        not to change)."""
        return self._interim

    @property
    def awaiting_continue(self) -> bool:
        """The request body waits for a 100 Continue (see `start_request`)."""
        return self._continue

    def continue_body(self, stream_id: int) -> None:
        """Send the body without a 100: the client waited long enough (RFC 9110
        §10.1.1 says not to wait for ever, since a server may never send one)."""
        self._check(stream_id)
        self._continue = False

    def send_failed(self, stream_id: int) -> None:
        """A write failed. Queued bytes and the rest of the body are dropped; the
        connection will close, but reading goes on: `next_step` returns RECEIVE until
        the response (which the server may have sent before closing) or an error.
        """
        self._check(stream_id)
        self._keep_alive = False
        self._out.clear()
        self._held.clear()
        self._join = self._continue = False
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
        if self._body != _NO_BODY or self._out or self._held:
            return FailurePhase.SENDING
        return FailurePhase.AWAITING_RESPONSE

    def release(self, stream_id: int) -> None:
        """End the stream. A response not read to its end closes the connection
        (it is not drained: that could take forever)."""
        self._check(stream_id)
        if self._phase != _DONE:
            self._keep_alive = False
        self._sid = None
        self._phase = _IDLE
        self._body = _NO_BODY
        self._join = self._continue = False
        self._out.clear()
        self._held.clear()
        self._buf = b""
        self._more.clear()
        self._line.clear()

    def trailing_data(self) -> bytes:
        """Bytes received after a 101 or CONNECT 2xx head: they belong to the new protocol."""
        return self._buf[self._pos :]

    # -- helpers ------------------------------------------------------------------

    def _check(self, stream_id: int) -> None:
        if stream_id != self._sid:
            raise ValueError(f"stream {stream_id} is not in flight on this connection")

    def _fail(self, message: str) -> RemoteProtocolError:
        self._phase = _FAILED
        self._failure = message
        self._keep_alive = False
        return RemoteProtocolError(message)
