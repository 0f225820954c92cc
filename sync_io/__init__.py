"""conch's blocking shell: sockets and ssl, `Client`, `HTTPTransport`, top-level functions."""

from __future__ import annotations

from io_common.world import install as _install_world

from .api import delete, get, head, options, patch, post, put, request, stream
from .client import Client
from .netrc import NetRCAuth
from .tls import create_ssl_context
from .transport import HTTPTransport
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

_install_world()
del _install_world
