"""httpx's ``_transports.mock`` module."""

from sync_io.transports import MockTransport

__all__ = ["MockTransport"]
