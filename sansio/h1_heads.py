"""Heads for the HTTP/1.1 machine: the two response-head parsers, and the request-head
writer.

Rules
-----
1. A parser is handed exactly one response head, from its first byte through the empty
   line that ends it: `sansio.h1` finds that end and enforces every limit first. It
   returns a `Head`, or raises `RemoteProtocolError`.
2. Both parsers give h11's answer for every head: the same `Head`, or both refuse.
   ``"h11"`` (`parse_head_h11`) is the reference and the pure-Python fallback: the head
   is replayed through a throwaway h11 connection. ``"llhttp"`` (`parse_head_llhttp`) is
   the fast path, llhttp through httptools in its strict mode (no lenient flag set), and
   conch hands the head to h11 instead, whose verdict stands, wherever the two could
   differ:

   - llhttp refused it. llhttp is stricter than h11 on obs-fold, bare LF line ends,
     control characters in field values, repeated or comma-listed Content-Length,
     HTTP versions other than 0.9, 1.0, 1.1 and 2.0, 101 responses (it pauses there),
     and both framing fields at once: h11 accepts (or refuses) each as before.
   - llhttp accepted what h11 refuses: a protocol other than ``HTTP/`` (llhttp takes
     ``RTSP/`` and ``ICE/``), a status below 100, NUL, VT or FF in the reason phrase,
     a Content-Length of more than 20 digits (leading zeros), a Transfer-Encoding other
     than one ``chunked``.
   - llhttp would parse it differently: whitespace before a line's CRLF (llhttp keeps
     a field value's trailing whitespace, h11 strips it), a Transfer-Encoding spelled
     in capitals (h11 lowercases the value).

   So the fast path takes the heads real servers send (about 5 µs for a typical head,
   where h11 takes about 40) and nothing else; the rest costs what h11 costs, and every
   refusal carries h11's message on both paths. tests/sansio/test_h1_heads.py checks
   the two parsers against each other on random, mutated and hostile heads.
3. Which parser a connection uses is `sansio.h1.DEFAULT_PARSER` unless its constructor
   says otherwise: llhttp when httptools can be imported (CPython), h11 otherwise.
4. Trailer sections are rare and stay with h11 on both paths (`sansio.h1`).
5. `write_request_head` writes the request head, in one join, by h11's rules: the
   method a token, the target visible ASCII, exactly one Host (written first), a valid
   Content-Length (repeats that agree are written once) or ``Transfer-Encoding:
   chunked`` (lowercased), and, unless the caller validated them already, every field
   name a token and every value h11's field-value. The tests check it against the
   bytes h11 writes. One difference on purpose: the refusal of a Content-Length
   request without a body happens here, before anything is queued, where h11 refused
   only when the body ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib.util import find_spec

from ._typing_lite import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import h11

from ._frozen import NamedTuple
from .exceptions import LocalProtocolError, RemoteProtocolError

# httptools is imported with the first head it parses, not with conch: it loads typing
# (~3 ms with itself). `find_spec` looks for it without importing it.
_HTTPTOOLS = find_spec("httptools") is not None

if TYPE_CHECKING:  # pragma: no cover
    from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser
else:

    def HttpResponseParser(sink):  # stands in for httptools' until the first head
        global HttpParserError, HttpParserUpgrade, HttpResponseParser
        from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

        return HttpResponseParser(sink)


__all__ = [
    "PARSERS",
    "Head",
    "RequestFraming",
    "asks_to_close",
    "parse_head_h11",
    "parse_head_llhttp",
    "write_request_head",
]


class Head(NamedTuple):
    """A parsed response head, as h11 would give it."""

    version: bytes  # b"1.1", b"1.0", ...: the digits after "HTTP/"
    status: int
    reason: bytes
    fields: list[tuple[bytes, bytes]]  # h11's normalisation: values stripped, ...
    content_length: bytes | None  # the one Content-Length value (digits), if any
    chunked: bool  # Transfer-Encoding: chunked
    keep_alive: bool  # a final head that asks to close, or HTTP/1.0, says False


HeadParser = Callable[[bytes], Head]

# -- h11: the reference ------------------------------------------------------------


@cache
def h11_probe(host: bytes, *extra: tuple[bytes, bytes]) -> tuple[h11.Request, h11.EndOfMessage]:
    """The request and end of message a throwaway h11 connection is primed with, to make
    h11 parse what follows as a response. h11 is imported here, on first use: with
    llhttp it is needed only for the heads llhttp refers to it, and for trailers."""
    import h11

    headers = [(b"Host", host), *extra]
    return h11.Request(method=b"GET", target=b"/", headers=headers), h11.EndOfMessage()


def parse_head_h11(head: bytes) -> Head:
    """One complete response head, parsed by h11."""
    import h11

    # The probe proposes an upgrade so that h11 parses a 101 (whether this request asked
    # for one is `sansio.h1`'s question), and is a GET so that a 2xx is no tunnel.
    request, end = h11_probe(b"probe", (b"Upgrade", b"probe"))
    probe = h11.Connection(h11.CLIENT)
    probe.send(request)
    probe.send(end)
    probe.receive_data(head)
    try:
        event = probe.next_event()
    except h11.RemoteProtocolError as exc:
        raise RemoteProtocolError(str(exc)) from exc
    assert type(event) is h11.Response or type(event) is h11.InformationalResponse
    length: bytes | None = None
    chunked = False
    fields = event.headers.raw_items()
    for name, value in fields:
        size = len(name)
        if size == 14:
            if name.lower() == b"content-length":
                length = value  # h11 made it one value of digits
        elif size == 17:
            chunked = chunked or name.lower() == b"transfer-encoding"  # only "chunked"
    return Head(
        event.http_version,
        event.status_code,
        event.reason,
        fields,
        length,
        chunked,
        # h11 ends keep-alive on a final head with "Connection: close" or below HTTP/1.1
        # (the probe's state says); it reads no 1xx for that.
        event.status_code < 200 or probe.our_state is h11.DONE,
    )


# -- llhttp: the fast path ----------------------------------------------------------

# h11's bound on Content-Length digits (its CONTENT_LENGTH_MAX_DIGITS).
_MAX_CONTENT_LENGTH_DIGITS = 20

# NUL, VT or FF in a reason phrase: llhttp takes them, h11 refuses. Found by deleting
# them (one call, ~0.1 µs; three ``in`` tests cost more, and a pattern would be compiled
# at import).
_REASON_H11_REFUSES = b"\x00\x0b\x0c"


class LoweredFields(list[tuple[bytes, bytes]]):
    """A head's ``(name, value)`` fields that also carry them as ``(name, lowered name,
    value)`` triples in ``items`` (`sansio.headers.Headers._from_full_items`'s layout), as
    the llhttp path lowers each name once anyway: the response's `Headers` adopts the
    triples instead of lowering every name again. Equal to the plain list; whoever
    changes the pairs must not hand over ``items`` (nothing in conch does)."""

    __slots__ = ("items",)
    items: list[tuple[bytes, bytes, bytes]]


class _Sink:
    """What llhttp's callbacks report for one head."""

    __slots__ = ("complete", "fields", "items", "reason")

    def __init__(self) -> None:
        self.fields = LoweredFields()
        self.items: list[tuple[bytes, bytes, bytes]] = []
        self.fields.items = self.items
        self.reason = b""
        self.complete = False

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value))
        self.items.append((name, name.lower(), value))

    def on_headers_complete(self) -> None:
        self.complete = True


def parse_head_llhttp(head: bytes) -> Head:
    """One complete response head, parsed by llhttp where it agrees with h11, else by h11."""
    sink = _Sink()
    parser = HttpResponseParser(sink)
    try:
        parser.feed_data(head)
    except (HttpParserError, HttpParserUpgrade):
        return parse_head_h11(head)
    status = parser.get_status_code()
    reason = sink.reason
    if (
        not sink.complete
        or status < 100
        or not head.startswith(b"HTTP/")
        or head.find(b" \r\n") >= 0
        or head.find(b"\t\r\n") >= 0
        or (reason and len(reason.translate(None, _REASON_H11_REFUSES)) != len(reason))
    ):
        return parse_head_h11(head)
    length: bytes | None = None
    chunked = False
    keep_alive = True
    for _, name, value in sink.items:  # lowered names
        size = len(name)
        if size == 14:
            if name == b"content-length":
                if len(value) > _MAX_CONTENT_LENGTH_DIGITS:
                    return parse_head_h11(head)
                length = value  # digits: llhttp refuses anything else, and repeats
        elif size == 17:
            if name == b"transfer-encoding":
                if chunked or value != b"chunked":
                    return parse_head_h11(head)
                chunked = True
        elif size == 10 and keep_alive and name == b"connection":
            keep_alive = value == b"keep-alive" or not asks_to_close(value)
    version = head[5:8]  # llhttp took exactly "HTTP/" DIGIT "." DIGIT
    if status < 200:
        keep_alive = True  # h11 reads keep-alive from final heads only
    elif version < b"1.1":
        keep_alive = False
    return Head(version, status, reason, sink.fields, length, chunked, keep_alive)


# The response-head parsers by name: "llhttp" only where httptools can be imported.
PARSERS: dict[str, HeadParser] = (
    {"llhttp": parse_head_llhttp, "h11": parse_head_h11} if _HTTPTOOLS else {"h11": parse_head_h11}
)


def asks_to_close(value: bytes) -> bool:
    """Whether a Connection field value holds the token "close" (h11's reading)."""
    value = value.lower()
    return b"close" in value and any(token.strip() == b"close" for token in value.split(b","))


# -- the request head ---------------------------------------------------------------

# h11's grammar (h11/_abnf.py): a method and a field name are tokens, a target is
# visible ASCII, a field value is field-content (no NUL, no whitespace but inner SP
# and HTAB runs) or empty.
# Checked by deleting the allowed bytes (nothing may be left) rather than with a
# pattern: compiling one costs ~0.1 ms of import time, and translate is as fast.
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VISIBLE = bytes(range(0x21, 0x7F))


@cache
def _field_value() -> Callable[[bytes], re.Match[bytes] | None]:
    # Compiled on first use, not with conch: conch's own requests skip this check (its
    # models validated the fields), only a machine built with validate_headers does it.
    return re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?").fullmatch


class RequestFraming(NamedTuple):
    """What the request head says about the request body and the connection."""

    content_length: int | None  # the body's size, or None
    chunked: bool  # the body is chunked (Transfer-Encoding given, or added for a body)
    close: bool  # "Connection: close": the connection ends after this exchange
    upgrade: bool  # an Upgrade field: a 101 may answer


def _content_length(value: bytes) -> bytes:
    """A request's Content-Length value as h11 checks and normalises it."""
    lengths = {length.strip() for length in value.split(b",")}
    if len(lengths) != 1:
        raise LocalProtocolError("conflicting Content-Length headers")
    value = lengths.pop()
    if not value.isdigit() or len(value) > _MAX_CONTENT_LENGTH_DIGITS:  # ASCII digits
        raise LocalProtocolError("bad Content-Length")
    return value


def write_request_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    has_body: bool,
    validate: bool,
) -> tuple[bytes, RequestFraming]:
    """The bytes of a request head, and its framing; `LocalProtocolError` if invalid.

    Without a framing field, a request with a body gets ``Transfer-Encoding: chunked``.
    With ``validate=False`` field names and values are trusted (conch's models checked
    them); everything else is checked always.
    """
    lines = [method + b" " + target + b" HTTP/1.1", b""]  # [1]: the Host line
    hosts = 0
    length: bytes | None = None
    chunked = close = upgrade = False
    for name, value in headers:
        if validate:
            if not name or name.translate(None, _TCHARS):
                raise LocalProtocolError(f"Illegal header name {name!r}")
            if not _field_value()(value):
                raise LocalProtocolError(f"Illegal header value {value!r}")
        size = len(name)
        if size == 4:
            if name.lower() == b"host":
                # RFC 9110 §7.2: a user agent should send Host first (h11 does).
                hosts += 1
                lines[1] = name + b": " + value
                continue
        elif size == 14:
            if name.lower() == b"content-length":
                value = _content_length(value)
                if length is not None:
                    if value != length:
                        raise LocalProtocolError("conflicting Content-Length headers")
                    continue  # written once
                length = value
        elif size == 17:
            if name.lower() == b"transfer-encoding":
                if chunked:
                    raise LocalProtocolError("multiple Transfer-Encoding headers")
                value = value.lower()
                if value != b"chunked":
                    raise LocalProtocolError("Only Transfer-Encoding: chunked is supported")
                chunked = True
        elif size == 10:
            if name.lower() == b"connection":
                # (conch's own "keep-alive" answered without the call)
                close = close or (value != b"keep-alive" and asks_to_close(value))
        elif size == 7 and name.lower() == b"upgrade":
            upgrade = upgrade or any(token.strip() for token in value.split(b","))
        lines.append(name + b": " + value)
    if length is not None and chunked:
        raise LocalProtocolError(
            "a request must not have both Content-Length and Transfer-Encoding"
        )
    if hosts != 1:
        raise LocalProtocolError(
            "Missing mandatory Host: header" if not hosts else "Found multiple Host: headers"
        )
    if not method or method.translate(None, _TCHARS):
        raise LocalProtocolError("Illegal method characters")
    if not target or target.translate(None, _VISIBLE):
        raise LocalProtocolError("Illegal target characters")
    size_of_body = None if length is None else int(length)
    if has_body:
        if length is None and not chunked:
            lines.append(b"Transfer-Encoding: chunked")
            chunked = True
    elif size_of_body:
        raise LocalProtocolError("Too little data for declared Content-Length")
    lines += (b"", b"")
    return b"\r\n".join(lines), RequestFraming(size_of_body, chunked, close, upgrade)
