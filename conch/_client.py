"""httpx's ``_client`` module, for code written against httpx's private layout.

Frameworks' test clients read ``httpx._client.USE_CLIENT_DEFAULT`` in default arguments,
and mocking libraries patch ``httpx._client.Client._transport_for_url``: the names here
are conch's own objects, so what is patched here is patched everywhere.
"""

from async_io.client import AsyncClient
from sansio.client import BaseClient, ClientState, EventHook
from sansio.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    USE_CLIENT_DEFAULT,
    UseClientDefault,
)
from sync_io.client import Client

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT_CONFIG",
    "USE_CLIENT_DEFAULT",
    "AsyncClient",
    "BaseClient",
    "Client",
    "ClientState",
    "EventHook",
    "UseClientDefault",
]
