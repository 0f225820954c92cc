"""WebSockets (RFC 6455, and permessage-deflate from RFC 7692): the opening handshake and
the message machine, with no I/O. Needs wsproto (``pip install 'conch[ws]'``).

The API is httpx-ws's (`WebSocketDisconnect`, `WebSocketUpgradeError`, ...), so code written
for it ports by changing an import; the shells add ``connect_ws`` / ``aconnect_ws`` and the
sessions. The rules:

1. The opening handshake is an ordinary HTTP request through the client (redirects, auth,
   cookies and proxies apply as to any request): `Handshake` gives its headers and checks
   the response; nothing else here knows HTTP. After it the machine takes and gives bytes,
   whatever carries them: an HTTP/1.1 connection after a 101 today, an HTTP/2 stream's DATA
   frames (RFC 8441) later, an ASGI app in this process.
2. Nothing is random or timed by itself: the key, every frame's masking key and ping
   payloads come from ``random_bytes`` (default `sansio.env.current().random_bytes`), and
   keepalive takes ``now`` as an argument. The same calls give the same bytes.
3. Memory is bounded. A message may not pass ``max_message_size`` bytes after inflation
   (`DEFAULT_MAX_MESSAGE_SIZE`): an uncompressed frame is refused by its header, before its
   payload is read; a compressed one is inflated at most one byte past what the message may
   still hold, so a small frame cannot inflate without bound. Either way the connection
   fails with 1009 (`WebSocketMessageTooLarge`). Complete messages wait in a queue of at
   most ``queue_size`` (`DEFAULT_QUEUE_SIZE`); the machine wants no bytes while it is full.
4. Whatever the server sends ends in a message or a conch exception (the `WebSocketError`
   tree). The Close frame RFC 6455 asks for (the reply to the server's, or 1002/1007/1009
   when failing the connection) is queued *before* the error is raised, so the shell sends
   `data_to_send()`, then closes the connection (h2's rule). Once a session has ended,
   every call that needs it raises the same error again.
5. Pings are answered at once. A Pong acknowledges its Ping and every earlier one (RFC 6455
   5.5.3 lets a peer answer only the latest); a Pong nobody asked for is ignored.

Theory of operation. `WebSocketConnection` wraps wsproto's frame layer
(`wsproto.connection.Connection` in the client role) as conch wraps h11 and h2: bytes in
with `receive_data` (``b""`` is the end of the stream), one whole message out of
`next_message` (None: more bytes are needed), bytes to write from `data_to_send`. wsproto
hands out each frame's payload as it arrives; `_Assembler` joins the pieces of a fragmented
message. Two extensions ride in wsproto's extension hooks: `_SizeLimit`, always on, which
counts each message's payload bytes, and `_Deflate`, conch's own permessage-deflate
(wsproto's `PerMessageDeflate` has no size bound: it inflates a frame in one unbounded
call, and accepts parameters RFC 7692 says must fail the handshake). wsproto masks client
frames with ``os.urandom``; to keep rule 2, each outgoing frame is masked again with a key
from ``random_bytes`` (one more XOR pass over the payload, about 1 ms per MiB).

Keepalive (httpx-ws's, and websockets'): every ``keepalive_interval`` seconds a ping goes
out; with no pong ``keepalive_timeout`` seconds later the connection is failed with 1011
and `WebSocketNetworkError`. The shell asks `next_wait` how long it may read before
calling `timer_expired`; only the shell waits.

`ASGIWebSocket` is the server's half for an ASGI app in this process (`ASGITransport`):
the client's bytes in, ASGI messages out, and back.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from zlib import DEFLATED, Z_DEFAULT_COMPRESSION, Z_SYNC_FLUSH, compressobj, decompressobj
from zlib import error as ZlibError

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.frame_protocol import (
    CloseReason,
    FrameDecoder,
    FrameProtocol,
    Opcode,
    RsvBits,
    XorMaskerSimple,
)

from . import env
from .exceptions import NetworkError, RemoteProtocolError, TransportError
from .headers import Headers, HeaderTypes
from .models import Request, Response
from .urls import URL

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_KEEPALIVE_PING_INTERVAL",
    "DEFAULT_KEEPALIVE_PING_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_QUEUE_SIZE",
    "ASGIWebSocket",
    "Accepted",
    "DeflateParams",
    "Event",
    "HTTPXWSException",
    "Handshake",
    "JSONMode",
    "Received",
    "WebSocketConnection",
    "WebSocketDisconnect",
    "WebSocketError",
    "WebSocketInvalidTypeReceived",
    "WebSocketMessageTooLarge",
    "WebSocketNetworkError",
    "WebSocketProtocolError",
    "WebSocketUpgradeError",
    "accept_value",
    "as_bytes",
    "as_json",
    "as_text",
    "check_close",
    "check_json_mode",
    "http_url",
    "timeout_of",
]

# The largest message accepted, in payload bytes after inflation. websockets uses 1 MiB
# (``max_size=2**20``), aiohttp 4 MiB; httpx-ws's 64 KiB is its read size, not a limit.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024

# Whole messages held for `receive` while the session reads for another reason (waiting
# for a pong, answering pings before a send): httpx-ws's queue_size. Worst case, the
# queue holds ``queue_size * max_message_size`` bytes.
DEFAULT_QUEUE_SIZE = 512

# Seconds between keepalive pings, and seconds to wait for each pong: httpx-ws's and
# websockets' 20 s (uvicorn and hypercorn ping their clients on the same schedule).
DEFAULT_KEEPALIVE_PING_INTERVAL = 20.0
DEFAULT_KEEPALIVE_PING_TIMEOUT = 20.0

# Seconds `close()` waits for the server's Close frame before closing the connection
# anyway: websockets' ``close_timeout``.
DEFAULT_CLOSE_TIMEOUT = 10.0

# Bytes of a ping's payload when the caller gives none (keepalive, ``ping()``): enough to
# tell concurrent pings apart.
PING_PAYLOAD_SIZE = 8

# RFC 6455 1.3: the digest's fixed suffix.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# RFC 9110 5.6.2: a token (subprotocol names and extension parameters are tokens).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7692 7.1.2: window bits are 8 to 15, without leading zeros.
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")
# Control frames carry at most 125 bytes (RFC 6455 5.5); a Close frame's reason 123.
_MAX_CONTROL_PAYLOAD = 125
_MAX_CLOSE_REASON = 123
_OPEN = ConnectionState.OPEN
_LOCAL_CLOSING = ConnectionState.LOCAL_CLOSING
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING
_CLOSED = ConnectionState.CLOSED
_NO_RSV = RsvBits(False, False, False)
_RSV1 = RsvBits(True, False, False)
_EMPTY_BLOCK = b"\x00\x00\xff\xff"  # RFC 7692 7.2.1: what a sync flush ends with

JSONMode = Literal["text", "binary"]
# What `receive` gives: a whole message, as a wsproto event (as httpx-ws gives it).
Received = TextMessage | BytesMessage


# -- errors ------------------------------------------------------------------------------


class WebSocketError(TransportError):
    """Base class of conch's WebSocket errors (httpx-ws's ``HTTPXWSException``)."""


HTTPXWSException = WebSocketError  # httpx-ws's name, for code ported from it


class WebSocketUpgradeError(WebSocketError):
    """The server did not open a WebSocket: it refused, or its answer broke RFC 6455."""

    def __init__(self, response: Response, message: str | None = None) -> None:
        super().__init__(
            message
            or f"The server refused the WebSocket: {response.status_code} {response.reason_phrase}",
            request=response._request,
        )
        self.response = response


class WebSocketDisconnect(WebSocketError):
    """The WebSocket is closed: by the server (its close ``code`` and ``reason``), or by us."""

    _what = "The WebSocket is closed"

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        super().__init__(f"{self._what} (code {code}{': ' + reason if reason else ''}).")
        self.code = code
        self.reason = reason or ""


class WebSocketProtocolError(WebSocketDisconnect, RemoteProtocolError):
    """The server broke RFC 6455; conch failed the connection with close ``code``."""

    _what = "The server broke the WebSocket protocol; conch closed the connection"


class WebSocketMessageTooLarge(WebSocketProtocolError):
    """The server sent a message larger than ``max_message_size``; conch closed with 1009."""

    _what = "The server sent a message larger than the limit; conch closed the connection"


class WebSocketNetworkError(WebSocketError, NetworkError):
    """The connection failed, or ended without a Close frame, or keepalive got no pong."""

    def __init__(self, message: str = "The WebSocket connection failed.") -> None:
        super().__init__(message)


class WebSocketInvalidTypeReceived(WebSocketError):
    """A message was not of the type asked for (text where bytes were expected, ...)."""

    def __init__(self, event: Event, expected: str = "another") -> None:
        super().__init__(f"Expected a {expected} message, received {type(event).__name__}.")
        self.event = event


# -- the opening handshake ----------------------------------------------------------------


def accept_value(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455 4.2.2)."""
    # hashlib only here, as the rest of the core does (wsproto happens to load it too).
    import hashlib

    digest = hashlib.sha1(key.encode("ascii") + _GUID, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def http_url(url: URL | str) -> URL:
    """The handshake's URL: ``ws://`` is sent as ``http://``, ``wss://`` as ``https://``."""
    url = URL(url)
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme)
    return url if scheme is None else url.copy_with(scheme=scheme)


def timeout_of(sent: Request | Response | None, kind: str) -> float | None:
    """The client's ``kind`` timeout ("read", "write") that a request was sent with."""
    request = sent._request if isinstance(sent, Response) else sent
    if request is None:
        return None
    timeout: float | None = request.extensions.get("timeout", {}).get(kind)
    return timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class DeflateParams:
    """permessage-deflate as the server agreed to it (RFC 7692 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    client_max_window_bits: int = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """What the server's 101 agreed to: a subprotocol, and compression."""

    subprotocol: str | None = None
    deflate: DeflateParams | None = None


class Handshake:
    """The client's side of the opening handshake (RFC 6455 4.1 and 4.2.2).

    ``subprotocols`` are offered in order; ``compression`` offers permessage-deflate. The
    key is 16 bytes from ``random_bytes``, base64-encoded, unless one is given.
    """

    __slots__ = ("compression", "key", "subprotocols")

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] | None = None,
        compression: bool = False,
        key: str | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        offered = tuple(subprotocols or ())
        for name in offered:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"A subprotocol must be a token, not {name!r}.")
        if len(set(offered)) != len(offered):
            raise ValueError(f"Subprotocols offered twice: {offered!r}.")
        self.subprotocols = offered
        self.compression = compression
        if key is None:
            key = base64.b64encode((random_bytes or env.current().random_bytes)(16)).decode()
        self.key = key

    def headers(self, headers: HeaderTypes | None = None) -> Headers:
        """``headers`` (the caller's) with the handshake's own set, replacing any given."""
        merged = Headers(headers)
        merged["Upgrade"] = "websocket"
        merged["Connection"] = "Upgrade"
        merged["Sec-WebSocket-Key"] = self.key
        merged["Sec-WebSocket-Version"] = "13"
        if self.subprotocols:
            merged["Sec-WebSocket-Protocol"] = ", ".join(self.subprotocols)
        if self.compression:
            # No value: the server may choose our window size (RFC 7692 7.1.2.2).
            merged["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
        return merged

    def accept(self, response: Response) -> Accepted:
        """Check the server's answer; what it agreed to, or `WebSocketUpgradeError`.

        Over HTTP/2 (RFC 8441 §5) a 2xx to the extended CONNECT opens the WebSocket, with
        no Upgrade, Connection or Sec-WebSocket-Accept (no key was sent).
        """
        headers = response.headers

        def fail(problem: str) -> WebSocketUpgradeError:
            return WebSocketUpgradeError(response, f"Invalid WebSocket handshake: {problem}.")

        if response.extensions.get("http_version") == b"HTTP/2":
            if not 200 <= response.status_code < 300:
                raise WebSocketUpgradeError(response)
        elif response.status_code != 101:
            raise WebSocketUpgradeError(response)
        else:
            if headers.get("upgrade", "").strip().lower() != "websocket":
                raise fail("the response's Upgrade header is not 'websocket'")
            tokens = {t.lower() for t in headers.get_list("connection", split_commas=True)}
            if "upgrade" not in tokens:
                raise fail("the response's Connection header does not say 'upgrade'")
            if headers.get("sec-websocket-accept", "").strip() != accept_value(self.key):
                raise fail("Sec-WebSocket-Accept does not match the key sent")
        subprotocol = headers.get("sec-websocket-protocol")
        if subprotocol is not None and subprotocol.strip() not in self.subprotocols:
            raise fail(f"the server chose subprotocol {subprotocol!r}, which was not offered")
        try:
            deflate = self._deflate(headers.get_list("sec-websocket-extensions", True))
        except ValueError as exc:
            raise fail(str(exc)) from None
        return Accepted(subprotocol=subprotocol and subprotocol.strip(), deflate=deflate)

    def _deflate(self, extensions: list[str]) -> DeflateParams | None:
        """The server's ``Sec-WebSocket-Extensions``, checked against what was offered."""
        agreed: DeflateParams | None = None
        for extension in extensions:
            name, *params = (part.strip() for part in extension.split(";"))
            if name == "" and not params:
                continue  # an empty list element (RFC 9110 5.6.1)
            if name != "permessage-deflate" or not self.compression:
                raise ValueError(f"the server chose extension {name!r}, which was not offered")
            if agreed is not None:
                raise ValueError("the server chose permessage-deflate twice")
            agreed = _deflate_params(params)
        return agreed


def _deflate_params(params: list[str]) -> DeflateParams:
    """RFC 7692 7.1: the parameters a server may answer with, each at most once."""
    seen: dict[str, str | None] = {}
    for param in params:
        key, equals, value = (part.strip() for part in param.partition("="))
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # a quoted-string whose content is a token (RFC 6455 9.1)
        if key in seen:
            raise ValueError(f"permessage-deflate parameter {key} given twice")
        seen[key] = value if equals else None
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if equals:
                raise ValueError(f"permessage-deflate parameter {key} takes no value")
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            if not _WINDOW_BITS.fullmatch(value):
                raise ValueError(f"permessage-deflate parameter {key}={value!r} is invalid")
        else:
            raise ValueError(f"unknown permessage-deflate parameter {param!r}")
    client_bits = int(seen.get("client_max_window_bits") or 15)
    if client_bits == 8:
        # zlib's raw deflate cannot use a 256-byte window (it silently widens it to 512,
        # which the server's inflater may not accept).
        raise ValueError("client_max_window_bits=8 is not supported")
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in seen,
        client_no_context_takeover="client_no_context_takeover" in seen,
        client_max_window_bits=client_bits,
    )


# -- extensions: the size bound, and permessage-deflate -----------------------------------


class _Inbound:
    """What the extensions share about the message being received."""

    __slots__ = ("failure", "max_size", "used")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.used = 0  # payload bytes of the current message so far, after inflation
        self.failure = ""  # why an extension failed the connection, for the error

    def fail(self, code: CloseReason, why: str) -> CloseReason:
        self.failure = why
        return code

    def too_big(self) -> CloseReason:
        return self.fail(
            CloseReason.MESSAGE_TOO_BIG,
            f"a message passed max_message_size ({self.max_size} bytes)",
        )


_Proto = FrameDecoder | FrameProtocol


class _SizeLimit(Extension):
    """Counts each message's payload bytes; refuses an uncompressed frame by its header."""

    name = "conch-size-limit"  # never negotiated: it uses no reserved bit

    def __init__(self, inbound: _Inbound) -> None:
        self._inbound = inbound
        self._control = False
        self._compressed = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self, proto: _Proto, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self._control = opcode.iscontrol()
        if not self._control:
            if opcode is not Opcode.CONTINUATION:
                self._compressed = rsv.rsv1
            inbound = self._inbound
            # A compressed frame's length says nothing of what it inflates to: _Deflate
            # bounds that as it inflates.
            if not self._compressed and inbound.used + payload_length > inbound.max_size:
                return inbound.too_big()
        return _NO_RSV

    def frame_inbound_payload_data(self, proto: _Proto, data: bytes) -> bytes | CloseReason:
        if not self._control:
            self._inbound.used += len(data)
        return data

    def frame_inbound_complete(self, proto: _Proto, fin: bool) -> bytes | CloseReason | None:
        if fin and not self._control:
            self._inbound.used = 0
        return None


class _Deflate(Extension):
    """permessage-deflate (RFC 7692) as agreed, inflating no further than the size bound."""

    name = "permessage-deflate"

    def __init__(self, params: DeflateParams, inbound: _Inbound) -> None:
        self._params = params
        self._inbound = inbound
        self._compressor: Any = None
        self._inflater: Any = None
        self._control = False
        self._message_compressed = False  # the message being received has RSV1
        self._tail_pending = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> str:
        return "client_max_window_bits"

    def frame_inbound_header(
        self, proto: _Proto, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self._control = opcode.iscontrol()
        if rsv.rsv1 and (self._control or opcode is Opcode.CONTINUATION):
            return self._inbound.fail(
                CloseReason.PROTOCOL_ERROR, "RSV1 set on a control or continuation frame"
            )
        if not self._control and opcode is not Opcode.CONTINUATION:
            self._message_compressed = rsv.rsv1
        return _RSV1

    def frame_inbound_payload_data(self, proto: _Proto, data: bytes) -> bytes | CloseReason:
        if self._control or not self._message_compressed:
            return data
        if self._inflater is None:
            # The widest window inflates whatever window the server compressed with.
            self._inflater = decompressobj(-15)
        return self._inflate(data)

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        inbound = self._inbound
        room = inbound.max_size - inbound.used
        inflater = self._inflater
        try:
            # One byte past the room: getting it means the message is too big, without
            # inflating the rest (max_length stops zlib there).
            out: bytes = inflater.decompress(data, room + 1)
        except ZlibError:
            return self._invalid()
        if len(out) > room:
            return inbound.too_big()
        if inflater.unused_data:
            return self._invalid()  # bytes after the deflate stream's final block
        return out

    def _invalid(self) -> CloseReason:
        return self._inbound.fail(
            CloseReason.INVALID_FRAME_PAYLOAD_DATA, "a compressed message does not inflate"
        )

    def frame_inbound_complete(self, proto: _Proto, fin: bool) -> bytes | CloseReason | None:
        if self._control or not fin or not self._message_compressed:
            return None
        self._message_compressed = False
        inflater = self._inflater
        if inflater.eof:  # the server ended its deflate stream: the next message starts afresh
            self._inflater = None
            return None
        tail = self._inflate(_EMPTY_BLOCK)
        if self._params.server_no_context_takeover:
            self._inflater = None
        return tail

    def frame_outbound(
        self, proto: _Proto, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        if opcode.iscontrol():
            return rsv, data
        if self._compressor is None:
            bits = self._params.client_max_window_bits
            self._compressor = compressobj(Z_DEFAULT_COMPRESSION, DEFLATED, -bits)
        if opcode is not Opcode.CONTINUATION:
            rsv = RsvBits(True, rsv.rsv2, rsv.rsv3)
        out: bytes = self._compressor.compress(data)
        if fin:
            out = (out + self._compressor.flush(Z_SYNC_FLUSH))[:-4]
            if self._params.client_no_context_takeover:
                self._compressor = None
        return rsv, out


# -- messages ------------------------------------------------------------------------------


class _Assembler:
    """Joins the pieces wsproto hands out into whole messages."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[Any] = []

    def add(self, piece: TextMessage | BytesMessage) -> TextMessage | BytesMessage | None:
        parts = self._parts
        if not piece.message_finished:
            parts.append(piece.data)
            return None
        if not parts:
            return piece  # the whole message came in one piece
        parts.append(piece.data)
        self._parts = []
        if isinstance(piece, TextMessage):
            return TextMessage("".join(parts))
        return BytesMessage(b"".join(parts))


def _remask(frame: bytes, key: bytes) -> bytes:
    """``frame`` (one masked client frame from wsproto) masked with ``key`` instead."""
    length = frame[1] & 0x7F
    start = 2 + (2 if length == 126 else 8 if length == 127 else 0)
    old = frame[start : start + 4]
    both = bytes(a ^ b for a, b in zip(old, key, strict=True))
    payload = XorMaskerSimple(both).process(bytearray(frame[start + 4 :]))
    return b"".join((frame[:start], key, payload))


def check_close(code: int, reason: str | None) -> None:
    """ValueError unless ``code`` and ``reason`` may go in a Close frame (RFC 6455 7.4)."""
    if (
        not isinstance(code, int)
        or isinstance(code, bool)
        or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999)
    ):
        raise ValueError(f"{code!r} is not a close code an endpoint may send.")
    if reason is not None and len(reason.encode("utf-8")) > _MAX_CLOSE_REASON:
        raise ValueError(f"A close reason holds at most {_MAX_CLOSE_REASON} bytes of UTF-8.")


def check_json_mode(mode: str) -> None:
    if mode not in ("text", "binary"):
        raise ValueError(f"mode must be 'text' or 'binary', not {mode!r}")


def as_text(message: Event) -> str:
    """A text message's text, or `WebSocketInvalidTypeReceived`."""
    if type(message) is TextMessage:
        return message.data
    raise WebSocketInvalidTypeReceived(message, "text")


def as_bytes(message: Event) -> bytes:
    """A binary message's bytes, or `WebSocketInvalidTypeReceived`."""
    if type(message) is BytesMessage:
        return bytes(message.data)
    raise WebSocketInvalidTypeReceived(message, "binary")


def as_json(message: Event, mode: str) -> Any:
    """The JSON in a text (``mode="text"``) or binary (``"binary"``) message."""
    check_json_mode(mode)
    return json.loads(as_text(message) if mode == "text" else as_bytes(message))


class Waiter(Protocol):
    """What waits for a pong: the shell's object, handed back by `take_pongs`."""

    def set(self) -> None: ...


class WebSocketConnection:
    """The client's side of an open WebSocket: bytes in, whole messages out (see the module
    docstring for the rules). ``accepted`` is what the handshake agreed to."""

    __slots__ = (
        "_assembler",
        "_conn",
        "_dead",
        "_ended",
        "_inbound",
        "_interval",
        "_keepalive_sent",
        "_messages",
        "_out",
        "_ping_due",
        "_pings",
        "_pong_due",
        "_pongs",
        "_queue_size",
        "_random",
        "_timeout",
        "_unprocessed",
        "subprotocol",
    )

    def __init__(
        self,
        accepted: Accepted | None = None,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keepalive_interval: float | None = DEFAULT_KEEPALIVE_PING_INTERVAL,
        keepalive_timeout: float | None = DEFAULT_KEEPALIVE_PING_TIMEOUT,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        if type(max_message_size) is not int or max_message_size < 0:
            raise ValueError(f"max_message_size must be an int >= 0, not {max_message_size!r}")
        if type(queue_size) is not int or queue_size < 1:
            raise ValueError(f"queue_size must be an int >= 1, not {queue_size!r}")
        for name, seconds in (("interval", keepalive_interval), ("timeout", keepalive_timeout)):
            if seconds is not None and not seconds > 0:
                raise ValueError(f"keepalive {name} must be > 0 seconds or None, not {seconds!r}")
        accepted = accepted or Accepted()
        self.subprotocol = accepted.subprotocol
        self._inbound = inbound = _Inbound(max_message_size)
        extensions: list[Extension] = [_SizeLimit(inbound)]
        if accepted.deflate is not None:
            # Inflate first, so the size bound sees what the message inflates to.
            extensions.insert(0, _Deflate(accepted.deflate, inbound))
        self._conn = Connection(ConnectionType.CLIENT, extensions=extensions)
        self._random = random_bytes or env.current().random_bytes
        self._queue_size = queue_size
        self._assembler = _Assembler()
        self._messages: deque[Received] = deque()
        self._unprocessed = False  # bytes were left in wsproto when the queue filled
        self._out: list[bytes] = []
        self._pings: list[tuple[bytes, Waiter | None]] = []  # None: a keepalive ping
        self._pongs: list[Waiter] = []
        self._dead = False  # nothing more will be read: the connection failed or ended
        self._ended: tuple[type[WebSocketError], tuple[Any, ...]] | None = None
        self._interval = keepalive_interval
        self._timeout = keepalive_timeout
        self._keepalive_sent = False
        self._ping_due: float | None = None
        self._pong_due = 0.0

    # -- state ----------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """We sent a Close frame and wait for the server's."""
        return not self._dead and self._conn.state is _LOCAL_CLOSING

    @property
    def closed(self) -> bool:
        """The connection is done with: the shell closes it once `data_to_send` is sent."""
        return self._dead or self._conn.state is _CLOSED

    @property
    def wants_data(self) -> bool:
        """Reading is useful now: the connection is open and the queue has room."""
        return not self.closed and len(self._messages) < self._queue_size

    def check(self) -> None:
        """Raise the error that ended the session, if it has ended."""
        if self._ended is not None:
            cls, args = self._ended
            raise cls(*args)

    def _end(self, cls: type[WebSocketError], *args: Any) -> None:
        if self._ended is None:  # the first reason stays
            self._ended = (cls, args)

    # -- sending --------------------------------------------------------------------------

    def _frame(self, event: Event) -> None:
        self._out.append(_remask(self._conn.send(event), self._random(4)))

    def data_to_send(self) -> bytes:
        """The bytes to write, in order; each call takes them."""
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

    def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes str, not {type(data).__name__}")
        self.check()
        self._frame(TextMessage(data))

    def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}")
        self.check()
        self._frame(BytesMessage(bytes(data)))

    def send_json(self, data: Any, mode: str = "text") -> None:
        check_json_mode(mode)
        text = json.dumps(data)
        if mode == "text":
            self.send_text(text)
        else:
            self.send_bytes(text.encode("utf-8"))

    def send(self, event: Event) -> None:
        """Send a wsproto event: a (possibly unfinished) message, Ping, Pong or Close."""
        if type(event) is CloseConnection:
            self.close(event.code, event.reason)
            return
        if type(event) not in (TextMessage, BytesMessage, Ping, Pong):
            raise TypeError(f"cannot send {type(event).__name__}")
        self.check()
        self._frame(event)

    def ping(self, payload: bytes = b"", waiter: Waiter | None = None) -> bytes:
        """Send a Ping (``payload``, else random bytes); ``waiter`` comes back from
        `take_pongs` once its Pong arrives. Returns the payload."""
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise ValueError(f"A ping's payload holds at most {_MAX_CONTROL_PAYLOAD} bytes.")
        self.check()
        payload = bytes(payload) or self._random(PING_PAYLOAD_SIZE)
        if waiter is not None:
            self._pings.append((payload, waiter))
        self._frame(Ping(payload))
        return payload

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the close handshake; a no-op once the session has ended."""
        check_close(code, reason)
        if self._dead or self._conn.state is not _OPEN:
            return
        self._frame(CloseConnection(code, reason))
        self._messages.clear()  # nobody will receive them now
        self._end(WebSocketDisconnect, code, reason)

    # -- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server (``b""``: the connection ended); ignored once closed."""
        if self.closed:
            return
        if data:
            self._conn.receive_data(data)
            self._process()
            return
        self._dead = True
        self._end(
            WebSocketNetworkError,
            "The server closed the connection without a Close frame (close code 1006).",
        )

    def next_message(self) -> Received | None:
        """The next whole message; None if more bytes are needed; the session's error once
        it has ended (after the messages that came before the end)."""
        if not self._messages and self._unprocessed:
            self._process()
        if self._messages:
            return self._messages.popleft()
        self.check()
        return None

    def take_pongs(self) -> list[Waiter]:
        """The waiters of every ping whose pong has arrived since the last call."""
        pongs, self._pongs = self._pongs, []
        return pongs

    def network_failed(self, exc: BaseException) -> WebSocketError:
        """The shell could not read or write (``exc``): the session is over. Returns the
        error to raise (the one that ended the session, if it had ended already)."""
        self._dead = True
        self._end(WebSocketNetworkError, f"The WebSocket connection failed: {exc!r}.")
        assert self._ended is not None
        cls, args = self._ended
        return cls(*args)

    def _process(self) -> None:
        # Turn buffered bytes into events, until more are needed or the queue is full.
        conn = self._conn
        for event in conn.events():
            if isinstance(event, TextMessage | BytesMessage):
                message = self._assembler.add(event)
                if message is not None and conn.state is _OPEN:
                    self._messages.append(message)
                    if len(self._messages) >= self._queue_size:
                        self._unprocessed = True
                        return
            elif isinstance(event, Ping):
                if conn.state is _OPEN:
                    self._frame(event.response())
            elif isinstance(event, Pong):
                self._acknowledge(bytes(event.payload))
            else:
                assert isinstance(event, CloseConnection)  # wsproto's only other event here
                self._on_close(event)
                return
        self._unprocessed = False

    def _on_close(self, event: CloseConnection) -> None:
        state = self._conn.state
        if state is _REMOTE_CLOSING:  # the server closes: answer, and the session is over
            self._frame(CloseConnection(event.code))
            self._end(WebSocketDisconnect, event.code, event.reason)
        elif state is not _CLOSED:  # wsproto could not parse what came: fail the connection
            reason = self._inbound.failure or event.reason
            if state is _OPEN:
                self._frame(CloseConnection(event.code, reason))
            self._dead = True
            cls = (
                WebSocketMessageTooLarge
                if event.code == CloseReason.MESSAGE_TOO_BIG
                else WebSocketProtocolError
            )
            self._end(cls, int(event.code), reason)
        # else: the server's answer to our Close; the session ended when we sent it

    def _acknowledge(self, payload: bytes) -> None:
        pings = self._pings
        for index, (sent, _) in enumerate(pings):
            if sent == payload:
                for _, waiter in pings[: index + 1]:
                    if waiter is None:
                        self._keepalive_sent = False
                        self._ping_due = None
                    else:
                        self._pongs.append(waiter)
                del pings[: index + 1]
                return

    # -- keepalive ------------------------------------------------------------------------

    def next_wait(self, now: float, deadline: float | None) -> tuple[float | None, bool]:
        """How long the shell may wait for bytes: until the caller's ``deadline`` (then
        False), or until keepalive needs `timer_expired` (then True). None: no limit."""
        remaining = None if deadline is None else max(0.0, deadline - now)
        due = self._due(now)
        if due is not None and (remaining is None or due - now < remaining):
            return max(0.0, due - now), True
        return remaining, False

    def _due(self, now: float) -> float | None:
        if self._interval is None or self._dead or self._conn.state is not _OPEN:
            return None
        if self._keepalive_sent:
            return None if self._timeout is None else self._pong_due
        if self._ping_due is None:
            self._ping_due = now + self._interval
        return self._ping_due

    def timer_expired(self, now: float) -> None:
        """The wait `next_wait` allowed has passed: send a keepalive ping, or, if the last
        one got no pong in time, fail the connection (1011)."""
        if self._due(now) is None:
            return  # the session ended meanwhile
        if not self._keepalive_sent:
            self._keepalive_sent = True
            self._pong_due = now + (self._timeout or 0.0)
            self._pings.append((self.ping(), None))
            return
        self._frame(CloseConnection(CloseReason.INTERNAL_ERROR, "keepalive ping timeout"))
        self._dead = True
        self._end(
            WebSocketNetworkError,
            f"The server did not answer a keepalive ping within {self._timeout} seconds.",
        )


# -- the server's half, for an ASGI app in this process ------------------------------------


class ASGIWebSocket:
    """The server's side of a WebSocket answered by an ASGI app in this process.

    `ASGITransport` hands it the app's messages (`app_sent`), the client's bytes
    (`receive_data`) and the end of the app (`app_finished`) or of the client
    (`client_gone`); it hands back the app's next message (`next_app_message`), the
    client's next bytes (`data_to_send`), and the handshake's answer (`status`, `headers`,
    `body` once `answered`). The client's compression offer is declined; the client's
    messages are bounded by `DEFAULT_MAX_MESSAGE_SIZE`, as a server's would be.
    """

    def __init__(self, request: Request) -> None:
        headers = request.headers
        self._key = headers.get("sec-websocket-key", "").strip()
        self.subprotocols = [
            name for name in headers.get_list("sec-websocket-protocol", split_commas=True) if name
        ]
        self.status: int | None = None
        self.headers: list[tuple[Any, Any]] = []
        self.body: list[bytes] = []
        self.answered = False  # the handshake's answer is complete: 101, or a refusal
        self._inbound = _Inbound(DEFAULT_MAX_MESSAGE_SIZE)
        self._conn = Connection(ConnectionType.SERVER, extensions=[_SizeLimit(self._inbound)])
        self._assembler = _Assembler()
        self._to_app: deque[dict[str, Any]] = deque([{"type": "websocket.connect"}])
        self._disconnect: dict[str, Any] | None = None
        self._out: list[bytes] = []
        self._app_done = False
        if not self._key or headers.get("sec-websocket-version", "").strip() != "13":
            self.status, self.answered = 400, True  # not a handshake a server would take

    def scope(self, http_scope: Mapping[str, Any]) -> dict[str, Any]:
        """The app's ``websocket`` scope, from the transport's ``http`` one."""
        scope = {key: value for key, value in http_scope.items() if key != "method"}
        scope["type"] = "websocket"
        scope["scheme"] = {"http": "ws", "https": "wss"}.get(scope["scheme"], scope["scheme"])
        scope["subprotocols"] = list(self.subprotocols)
        scope["extensions"] = {"websocket.http.response": {}}
        return scope

    @property
    def finished(self) -> bool:
        """No more bytes will come for the client once `data_to_send` is empty."""
        return self._app_done or self._conn.state is _CLOSED

    @property
    def has_data(self) -> bool:
        """`data_to_send` has bytes."""
        return bool(self._out)

    def data_to_send(self) -> bytes:
        out, self._out = self._out, []
        return b"".join(out)

    def next_app_message(self) -> dict[str, Any] | None:
        """The app's next ``receive()``; None: it must wait. The disconnect repeats."""
        if self._to_app:
            return self._to_app.popleft()
        return None if self._disconnect is None else dict(self._disconnect)

    def app_sent(self, message: Mapping[str, Any]) -> None:
        """The app called ``send(message)``; RuntimeError for what no server would take."""
        kind = message["type"]
        if self.status is None:
            self._before_answer(kind, message)
        elif self.status != 101:
            if kind != "websocket.http.response.body" or self.answered:
                raise RuntimeError(f"The ASGI app sent {kind!r} after refusing the WebSocket.")
            self.body.append(bytes(message.get("body", b"")))
            self.answered = not message.get("more_body", False)
        elif self._disconnect is not None:
            # ASGI: a send on a closed connection raises an OSError (starlette turns it
            # into its WebSocketDisconnect).
            raise OSError(f"The ASGI app sent {kind!r}, but the client has disconnected.")
        elif self._conn.state is not _OPEN:
            raise RuntimeError(f"The ASGI app sent {kind!r} after closing the WebSocket.")
        elif kind == "websocket.send":
            text, data = message.get("text"), message.get("bytes")
            if text is not None and data is None:
                event: Event = TextMessage(text)
            elif data is not None and text is None:
                event = BytesMessage(bytes(data))
            else:
                raise RuntimeError("'websocket.send' needs exactly one of 'text' and 'bytes'.")
            self._out.append(self._conn.send(event))
        elif kind == "websocket.close":
            code = message.get("code", 1000)
            self._out.append(self._conn.send(CloseConnection(code, message.get("reason") or None)))
        else:
            raise RuntimeError(f"The ASGI app sent an unexpected message: {kind!r}.")

    def _before_answer(self, kind: str, message: Mapping[str, Any]) -> None:
        if kind == "websocket.accept":
            self.headers = [
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"sec-websocket-accept", accept_value(self._key).encode("ascii")),
            ]
            subprotocol = message.get("subprotocol")
            if subprotocol is not None:
                self.headers.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
            self.headers += [(name, value) for name, value in message.get("headers", ())]
            self.status, self.answered = 101, True
        elif kind == "websocket.close":
            self.status, self.answered = 403, True  # refused before accepting (as uvicorn)
        elif kind == "websocket.http.response.start":
            self.status = message["status"]
            self.headers = [(name, value) for name, value in message.get("headers", ())]
        else:
            raise RuntimeError(f"The ASGI app sent {kind!r} before accepting the WebSocket.")

    def receive_data(self, data: bytes) -> None:
        """Bytes the client wrote; ignored once the close handshake is over."""
        conn = self._conn
        if self._disconnect is not None or not data:
            return
        conn.receive_data(data)
        for event in conn.events():
            if isinstance(event, TextMessage | BytesMessage):
                message = self._assembler.add(event)
                if message is not None and conn.state is _OPEN:
                    key = "text" if isinstance(message, TextMessage) else "bytes"
                    self._to_app.append({"type": "websocket.receive", key: message.data})
            elif isinstance(event, Ping):
                if conn.state is _OPEN:
                    self._out.append(conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if conn.state in (_OPEN, _REMOTE_CLOSING):  # answer, or fail (1002, 1009)
                    self._out.append(conn.send(CloseConnection(event.code)))
                self._disconnected(event.code, event.reason or "")
                return

    def _disconnected(self, code: int, reason: str) -> None:
        self._disconnect = {"type": "websocket.disconnect", "code": int(code), "reason": reason}
        self._to_app.append(dict(self._disconnect))

    def client_gone(self) -> None:
        """The client closed the connection; the app hears of it if it has not yet."""
        if self._disconnect is None:
            self._disconnected(CloseReason.ABNORMAL_CLOSURE, "")

    def app_finished(self, failed: bool) -> None:
        """The app returned (or raised, ``failed``): close an open WebSocket for it,
        1000 or 1011, as a server does."""
        self._app_done = True
        if self.status == 101 and self._conn.state is _OPEN:
            code = CloseReason.INTERNAL_ERROR if failed else CloseReason.NORMAL_CLOSURE
            self._out.append(self._conn.send(CloseConnection(code)))
