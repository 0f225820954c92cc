"""conch: an HTTP client with httpx's API, on a sans-I/O core.

``import conch as httpx`` is meant to be enough for most httpx programs. The
objects live in three packages: `sansio` (the core: models, protocol machines,
client flow), `sync_io` (blocking shell) and `async_io` (asyncio and trio
shell); this package gathers the public names in one namespace.
"""

from __future__ import annotations

import importlib
from types import FunctionType, ModuleType

from async_io import ASGITransport, AsyncClient, AsyncFileTransport, AsyncHTTPTransport
from async_io.sse import aconnect_sse
from sansio import (
    URL,
    USE_CLIENT_DEFAULT,
    AsyncBaseTransport,
    AsyncByteStream,
    Auth,
    BaseTransport,
    BasicAuth,
    ByteStream,
    CloseError,
    ConnectError,
    ConnectTimeout,
    CookieConflict,
    Cookies,
    DecodingError,
    DecompressionLimitExceeded,
    DigestAuth,
    FunctionAuth,
    Headers,
    HTTPError,
    HTTPStatusError,
    InvalidURL,
    Limits,
    LineTooLong,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    Proxy,
    ProxyError,
    QueryParams,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    RequestError,
    RequestNotRead,
    Response,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
    StreamError,
    SyncByteStream,
    Timeout,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
    codes,
)
from sansio._version import __description__, __title__, __version__
from sansio.retry import Retry
from sansio.sse import EventSource, ServerSentEvent, SSEError
from sync_io import (
    Client,
    FileTransport,
    HTTPTransport,
    MockTransport,
    NetRCAuth,
    WSGITransport,
    create_ssl_context,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    request,
    stream,
)
from sync_io.sse import connect_sse

from ._alias import alias_httpx
from ._cli import main

__all__ = [
    "URL",
    "USE_CLIENT_DEFAULT",
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "AsyncClient",
    "AsyncFileTransport",
    "AsyncHTTPTransport",
    "Auth",
    "BaseTransport",
    "BasicAuth",
    "ByteStream",
    "Client",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "DecodingError",
    "DecompressionLimitExceeded",
    "DigestAuth",
    "EventSource",
    "FileTransport",
    "FunctionAuth",
    "HTTPError",
    "HTTPStatusError",
    "HTTPTransport",
    "Headers",
    "InvalidURL",
    "Limits",
    "LineTooLong",
    "LocalProtocolError",
    "MockTransport",
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
    "Retry",
    "SSEError",
    "ServerSentEvent",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WSGITransport",
    "WriteError",
    "WriteTimeout",
    "__description__",
    "__title__",
    "__version__",
    "aconnect_sse",
    "alias_httpx",
    "codes",
    "connect_sse",
    "create_ssl_context",
    "delete",
    "get",
    "head",
    "main",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "stream",
]


def _fix_module_metadata() -> None:
    # Public objects report the namespace users import them from (as httpx and
    # trio do), so reprs, docs and pickles say "conch.Client", not a private path.
    namespace = globals()
    for name in __all__:
        if name.startswith("__"):
            continue
        obj = namespace[name]
        is_ours = getattr(obj, "__module__", "").split(".")[0] in {
            "sansio",
            "sync_io",
            "async_io",
            "conch",
        }
        if is_ours and isinstance(obj, type | FunctionType):
            obj.__module__ = "conch"


_fix_module_metadata()
del _fix_module_metadata


# httpx's private modules under their httpx names (conch._client, conch._content, ...),
# for code that reaches into httpx's layout; loaded when first asked for, as attributes
# too (frameworks read `httpx._client.USE_CLIENT_DEFAULT` without importing it).
_HTTPX_MODULES = frozenset(
    {
        "_api",
        "_auth",
        "_client",
        "_config",
        "_content",
        "_exceptions",
        "_main",
        "_models",
        "_multipart",
        "_status_codes",
        "_transports",
        "_types",
        "_urls",
        "_utils",
    }
)


def __getattr__(name: str) -> ModuleType:
    if name in _HTTPX_MODULES:
        return importlib.import_module(f"conch.{name}")
    raise AttributeError(f"module 'conch' has no attribute {name!r}")
