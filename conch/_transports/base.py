"""httpx's ``_transports.base`` module."""

from sansio.transports import AsyncBaseTransport, BaseTransport

__all__ = ["AsyncBaseTransport", "BaseTransport"]
