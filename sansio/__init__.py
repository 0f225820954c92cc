"""conch's sans-I/O core: everything about HTTP, and no I/O at all.

Library authors import from here to build their own clients or to drive the
protocol machines from their own event loop. Nothing in this package opens a
socket, reads a clock, a file, the environment or a random source by itself:
those arrive as arguments or through `sansio.env`.
"""

from __future__ import annotations

from .auth import Auth, BasicAuth, DigestAuth, FunctionAuth, NetRCAuth
from .config import USE_CLIENT_DEFAULT, Limits, Proxy, Timeout
from .cookies import Cookies
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
from .status import codes
from .streams import AsyncByteStream, ByteStream, SyncByteStream
from .transports import AsyncBaseTransport, BaseTransport
from .urls import URL, QueryParams

__all__ = [
    "URL",
    "USE_CLIENT_DEFAULT",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "Auth",
    "BaseTransport",
    "BasicAuth",
    "ByteStream",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "DecodingError",
    "DecompressionLimitExceeded",
    "DigestAuth",
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
    "PoolTimeout",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "QueryParams",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "RequestNotRead",
    "Response",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "codes",
]
