"""SSL contexts from TLS settings: `io_common.tls`, where the blocking shell's public
names (`create_ssl_context`, `context_for`, `load_client_cert`) have always been."""

from __future__ import annotations

from io_common.tls import (
    CERT_DEPRECATED,
    CONTEXT_CACHE_SIZE,
    VERIFY_STR_DEPRECATED,
    context_for,
    create_ssl_context,
    load_client_cert,
    warn_deprecated,
)

__all__ = [
    "CERT_DEPRECATED",
    "CONTEXT_CACHE_SIZE",
    "VERIFY_STR_DEPRECATED",
    "context_for",
    "create_ssl_context",
    "load_client_cert",
    "warn_deprecated",
]
