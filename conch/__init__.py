"""conch: an HTTP client with httpx's API, on a sans-I/O core.

``import conch as httpx`` is meant to be enough for most httpx programs. The
objects live in three packages: `sansio` (the core: models, protocol machines,
client flow), `sync_io` (blocking shell) and `async_io` (asyncio and trio
shell); this package gathers the public names in one namespace. Those a plain sync
request does not need (the async shell, SSE, WebSockets, the httpx alias, the CLI) are
loaded on first use, through the module's ``__getattr__``.
"""

from __future__ import annotations

import importlib
import sys
from types import FunctionType

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
)
from sansio._typing_lite import TYPE_CHECKING, Any
from sansio._version import __description__, __title__, __version__
from sync_io import (
    Client,
    HTTPTransport,
    NetRCAuth,
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

if TYPE_CHECKING:  # pragma: no cover - what the lazy names below resolve to
    from async_io import ASGITransport, AsyncClient, AsyncFileTransport, AsyncHTTPTransport
    from async_io.sse import aconnect_sse
    from async_io.ws import AsyncWebSocketClient, AsyncWebSocketSession, aconnect_ws
    from sansio.retry import Retry
    from sansio.sse import EventSource, ServerSentEvent, SSEError
    from sansio.status import codes
    from sansio.ws import (
        HTTPXWSException,
        JSONMode,
        WebSocketDisconnect,
        WebSocketError,
        WebSocketInvalidTypeReceived,
        WebSocketMessageTooLarge,
        WebSocketNetworkError,
        WebSocketProtocolError,
        WebSocketUpgradeError,
    )
    from sync_io.sse import connect_sse
    from sync_io.transports import FileTransport, MockTransport, WSGITransport
    from sync_io.ws import WebSocketClient, WebSocketSession, connect_ws

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
    "AsyncWebSocketClient",
    "AsyncWebSocketSession",
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
    "HTTPXWSException",
    "Headers",
    "InvalidURL",
    "JSONMode",
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
    "WebSocketClient",
    "WebSocketDisconnect",
    "WebSocketError",
    "WebSocketInvalidTypeReceived",
    "WebSocketMessageTooLarge",
    "WebSocketNetworkError",
    "WebSocketProtocolError",
    "WebSocketSession",
    "WebSocketUpgradeError",
    "WriteError",
    "WriteTimeout",
    "__description__",
    "__title__",
    "__version__",
    "aconnect_sse",
    "aconnect_ws",
    "alias_httpx",
    "codes",
    "connect_sse",
    "connect_ws",
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


# Loaded on first use, not with conch: `import conch` loads what a plain sync request
# needs (the core, the blocking shell, socket and ssl) and nothing else, so neither
# asyncio, trio, sniffio, the async shell, SSE, WebSockets (wsproto, an optional extra),
# the httpx alias (importlib.abc), the CLI, the mock, WSGI and file:// transports nor
# `codes` (a response needs it only when the server sent no reason phrase) costs a
# program that does not use them.
# Name -> module that defines it.
_LAZY = {
    "ASGITransport": "async_io",
    "AsyncClient": "async_io",
    "AsyncFileTransport": "async_io",
    "AsyncHTTPTransport": "async_io",
    "AsyncWebSocketClient": "async_io.ws",
    "AsyncWebSocketSession": "async_io.ws",
    "aconnect_sse": "async_io.sse",
    "aconnect_ws": "async_io.ws",
    "connect_sse": "sync_io.sse",
    "connect_ws": "sync_io.ws",
    "WebSocketClient": "sync_io.ws",
    "WebSocketSession": "sync_io.ws",
    "FileTransport": "sync_io.transports",
    "MockTransport": "sync_io.transports",
    "WSGITransport": "sync_io.transports",
    "EventSource": "sansio.sse",
    "Retry": "sansio.retry",
    "SSEError": "sansio.sse",
    "ServerSentEvent": "sansio.sse",
    "HTTPXWSException": "sansio.ws",
    "JSONMode": "sansio.ws",
    "WebSocketDisconnect": "sansio.ws",
    "WebSocketError": "sansio.ws",
    "WebSocketInvalidTypeReceived": "sansio.ws",
    "WebSocketMessageTooLarge": "sansio.ws",
    "WebSocketNetworkError": "sansio.ws",
    "WebSocketProtocolError": "sansio.ws",
    "WebSocketUpgradeError": "sansio.ws",
    "alias_httpx": "conch._alias",
    "codes": "sansio.status",
    "main": "conch._cli",
}

_OUR_PACKAGES = frozenset({"sansio", "io_common", "sync_io", "async_io", "conch"})


def _as_public(obj: Any) -> Any:
    # Public objects report the namespace users import them from (as httpx and
    # trio do), so reprs, docs and pickles say "conch.Client", not a private path.
    is_ours = getattr(obj, "__module__", "").split(".")[0] in _OUR_PACKAGES
    if is_ours and isinstance(obj, type | FunctionType):
        obj.__module__ = "conch"
    return obj


for _name in __all__:
    if not _name.startswith("__") and _name not in _LAZY:
        _as_public(globals()[_name])
del _name


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


def _adopt_loaded() -> None:
    # Every lazy name whose module is loaded now becomes a plain attribute, and public:
    # loading `conch.connect_sse` loads `sansio.sse`, whose `SSEError` it may raise.
    namespace = globals()
    for name, module in _LAZY.items():
        if name not in namespace and module in sys.modules:
            namespace[name] = _as_public(getattr(sys.modules[module], name))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        importlib.import_module(module)
        _adopt_loaded()
        return globals()[name]
    if name in _HTTPX_MODULES:
        return importlib.import_module(f"conch.{name}")
    raise AttributeError(f"module 'conch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
