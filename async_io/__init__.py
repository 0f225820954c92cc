"""conch's async shell: asyncio and trio (chosen per call with sniffio), `AsyncClient`,
`AsyncHTTPTransport` and `ASGITransport`."""

from __future__ import annotations

from io_common.world import install as _install_world

from .client import AsyncClient
from .transport import AsyncHTTPTransport
from .transports import ASGITransport, AsyncFileTransport

__all__ = ["ASGITransport", "AsyncClient", "AsyncFileTransport", "AsyncHTTPTransport"]

_install_world()
del _install_world
