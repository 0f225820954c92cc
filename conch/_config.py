"""httpx's ``_config`` module: timeouts, limits, proxies and their defaults."""

from sansio.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    Limits,
    Proxy,
    Timeout,
)
from sync_io.tls import create_ssl_context

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT_CONFIG",
    "Limits",
    "Proxy",
    "Timeout",
    "create_ssl_context",
]
