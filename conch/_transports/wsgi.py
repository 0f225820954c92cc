"""httpx's ``_transports.wsgi`` module."""

from sync_io.transports import WSGITransport

__all__ = ["WSGITransport"]
