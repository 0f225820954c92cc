"""httpx's ``_transports.default`` module: the pooling HTTP transports."""

from async_io.transport import AsyncHTTPTransport
from sync_io.transport import HTTPTransport

__all__ = ["AsyncHTTPTransport", "HTTPTransport"]
