"""The exception tree, shared by the core and every shell.

Names, bases and attributes match httpx 0.28, so ``except httpx.ReadTimeout``
style code keeps working after ``import conch as httpx``::

    HTTPError
    ├── RequestError
    │   ├── TransportError
    │   │   ├── TimeoutException
    │   │   │   ├── ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout
    │   │   ├── NetworkError
    │   │   │   ├── ConnectError, ReadError, WriteError, CloseError
    │   │   ├── ProtocolError
    │   │   │   ├── LocalProtocolError, RemoteProtocolError
    │   │   ├── ProxyError
    │   │   └── UnsupportedProtocol
    │   ├── DecodingError
    │   │   ├── DecompressionLimitExceeded   (conch: a decoded-size limit was hit)
    │   │   └── LineTooLong                  (conch: iter_lines() met a line past its limit)
    │   └── TooManyRedirects
    └── HTTPStatusError
    InvalidURL
    CookieConflict
    StreamError (RuntimeError)
    ├── StreamConsumed, StreamClosed, ResponseNotRead, RequestNotRead

Any other exception escaping the core is a bug.
"""

from __future__ import annotations

from ._typing_lite import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .models import Request, Response

__all__ = [
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "DecodingError",
    "DecompressionLimitExceeded",
    "HTTPError",
    "HTTPStatusError",
    "InvalidURL",
    "LineTooLong",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "RequestNotRead",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]


class HTTPError(Exception):
    """Base class for `RequestError` and `HTTPStatusError`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        if self._request is None:
            raise RuntimeError("The .request property has not been set.")
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request


class RequestError(HTTPError):
    """An error occurred while issuing a request."""

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        # The request is often attached later, by the code that knows it.
        self._request = request


class TransportError(RequestError):
    """An error at the transport level (network, protocol, proxy)."""


class TimeoutException(TransportError):
    """A timeout expired."""


class ConnectTimeout(TimeoutException):
    """Timed out while connecting to the host."""


class ReadTimeout(TimeoutException):
    """Timed out while receiving data from the host."""


class WriteTimeout(TimeoutException):
    """Timed out while sending data to the host."""


class PoolTimeout(TimeoutException):
    """Timed out waiting for a connection from the pool."""


class NetworkError(TransportError):
    """A network error while sending or receiving."""


class ReadError(NetworkError):
    """Failed to receive data from the network."""


class WriteError(NetworkError):
    """Failed to send data through the network."""


class ConnectError(NetworkError):
    """Failed to establish a connection."""


class CloseError(NetworkError):
    """Failed to close a connection."""


class ProxyError(TransportError):
    """An error occurred while establishing a proxy connection."""


class UnsupportedProtocol(TransportError):
    """The URL scheme is missing or not supported."""


class ProtocolError(TransportError):
    """The protocol was violated."""


class LocalProtocolError(ProtocolError):
    """We (the client) were about to violate the protocol; nothing invalid was sent."""


class RemoteProtocolError(ProtocolError):
    """The server violated the protocol."""


class DecodingError(RequestError):
    """Decoding of the response body failed (corrupt, truncated or unsupported)."""


class DecompressionLimitExceeded(DecodingError):
    """A response body decoded to more bytes than the configured limit allows."""


class LineTooLong(DecodingError):
    """`Response.iter_lines` met a line longer than its ``max_line_length``."""


class TooManyRedirects(RequestError):
    """Too many redirects."""


class HTTPStatusError(HTTPError):
    """The response had an error status code (raised by `raise_for_status`)."""

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message)
        self._request = request
        self.response = response


class InvalidURL(Exception):
    """A URL could not be parsed, or a URL component was invalid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class CookieConflict(Exception):
    """More than one cookie matched a lookup by name."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StreamError(RuntimeError):
    """A stream was used in a way that is not allowed (a programming error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StreamConsumed(StreamError):
    """The content was already streamed once and cannot be streamed again."""

    def __init__(self) -> None:
        super().__init__(
            "This content was already streamed and is gone. A request body given "
            "as a generator can be sent only once (a redirect or an auth retry "
            "needs it again), and a response can be streamed only once."
        )


class StreamClosed(StreamError):
    """The stream was closed before its content was read."""

    def __init__(self) -> None:
        super().__init__("The stream is closed; its content can no longer be read.")


class ResponseNotRead(StreamError):
    """`.content` was used on a streaming response before `read()`."""

    def __init__(self) -> None:
        super().__init__(
            "The response body has not been read yet: call read() (or aread()) "
            "before using .content or .text on a streaming response."
        )


class RequestNotRead(StreamError):
    """`.content` was used on a streaming request before `read()`."""

    def __init__(self) -> None:
        super().__init__(
            "The request body has not been read yet: call read() (or aread()) "
            "before using .content on a request with streaming content."
        )
