"""conch's blocking shell: sockets and ssl, `Client`, `HTTPTransport`, top-level functions.

`MockTransport`, `WSGITransport` and `FileTransport` (`sync_io.transports`) are loaded on
first use, through the module's ``__getattr__``: a plain request does not need them.
"""

from __future__ import annotations

from io_common.world import install as _install_world
from sansio._typing_lite import TYPE_CHECKING, Any

from .api import delete, get, head, options, patch, post, put, request, stream
from .client import Client
from .netrc import NetRCAuth
from .tls import create_ssl_context
from .transport import HTTPTransport

if TYPE_CHECKING:  # pragma: no cover - what the lazy names below resolve to
    from .transports import FileTransport, MockTransport, WSGITransport

__all__ = [
    "Client",
    "FileTransport",
    "HTTPTransport",
    "MockTransport",
    "NetRCAuth",
    "WSGITransport",
    "create_ssl_context",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "stream",
]

_LAZY = frozenset({"FileTransport", "MockTransport", "WSGITransport"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import transports

        return getattr(transports, name)
    raise AttributeError(f"module 'sync_io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


_install_world()
del _install_world
