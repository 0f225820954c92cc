"""httpx's ``_transports.asgi`` module."""

from async_io.transports import ASGITransport

__all__ = ["ASGITransport"]
