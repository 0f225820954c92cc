"""conch's sans-I/O core: everything about HTTP, and no I/O at all.

Library authors import from here to build their own clients or to drive the
protocol machines from their own event loop. Nothing in this package opens a
socket, reads a clock, a file, the environment or a random source by itself:
those arrive as arguments or through `sansio.env`.

To embed the core, drive an `Engine` (one per transport) from your loop: each
`Exchange` it starts yields the I/O actions of `sansio.engine` (Connect, StartTLS,
Write, Read, ReadReady, Checkpoint, PullBody, Park, Sleep, Effects, Trace when a
request is traced or DEBUG-logged, and Resolve for a SOCKS4 proxy that needs the
target's address) and hands out
the response (`ResponseHead`, `BodyChunk`, `EndOfBody`). `sansio.testing` runs
exchanges without sockets, on a virtual clock (imported on first use, as is `codes`).
"""

from __future__ import annotations

from .auth import Auth, BasicAuth, DigestAuth, FunctionAuth, NetRCAuth
from .config import USE_CLIENT_DEFAULT, Limits, Proxy, Timeout
from .cookies import Cookies
from .engine import (
    Checkpoint,
    Connect,
    Effects,
    Engine,
    Exchange,
    Park,
    PullBody,
    Read,
    ReadReady,
    Resolve,
    Sleep,
    StartTLS,
    Ticket,
    Trace,
    Write,
)
from .exceptions import (
    CloseError,
    ConnectError,
    ConnectTimeout,
    CookieConflict,
    DecodingError,
    DecompressionLimitExceeded,
    HTTPError,
    HTTPStatusError,
    InvalidURL,
    LineTooLong,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
    StreamError,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from .headers import Headers
from .models import Request, Response
from .streams import AsyncByteStream, ByteStream, SyncByteStream
from .transports import AsyncBaseTransport, BaseTransport
from .urls import URL, QueryParams
from .wire import BodyChunk, EndOfBody, ResponseHead

__all__ = [
    "URL",
    "USE_CLIENT_DEFAULT",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "Auth",
    "BaseTransport",
    "BasicAuth",
    "BodyChunk",
    "ByteStream",
    "Checkpoint",
    "CloseError",
    "Connect",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "DecodingError",
    "DecompressionLimitExceeded",
    "DigestAuth",
    "Effects",
    "EndOfBody",
    "Engine",
    "Exchange",
    "FunctionAuth",
    "HTTPError",
    "HTTPStatusError",
    "Headers",
    "InvalidURL",
    "Limits",
    "LineTooLong",
    "LocalProtocolError",
    "NetRCAuth",
    "NetworkError",
    "Park",
    "PoolTimeout",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "PullBody",
    "QueryParams",
    "Read",
    "ReadError",
    "ReadReady",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "RequestNotRead",
    "Resolve",
    "Response",
    "ResponseHead",
    "ResponseNotRead",
    "Sleep",
    "StartTLS",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Ticket",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "Trace",
    "TransportError",
    "UnsupportedProtocol",
    "Write",
    "WriteError",
    "WriteTimeout",
    "codes",
    "testing",
]


def __getattr__(name: str) -> object:
    # Loaded only when used: `sansio.testing` (peers, the reference interpreter), and
    # `codes` (an IntEnum of ~60 members: ~1 ms of import, needed by a response only
    # when the server sent no reason phrase).
    if name == "testing":
        import importlib

        return importlib.import_module(".testing", __name__)
    if name == "codes":
        from .status import codes

        return codes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
