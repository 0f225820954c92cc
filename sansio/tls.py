"""TLS settings as plain data.

A `TLSConfig` says how a connection's TLS layer should look: what to trust, which client
certificate to present, which protocols to offer through ALPN and which name to send as SNI.
The shells turn it into an ``ssl.SSLContext`` (see ``sync_io.tls.context_for``); the core
only compares and hashes it. It is part of the pool key, so a connection opened under one
TLS configuration is never handed out for another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ._types import CertTypes

__all__ = ["ALPN_H1", "ALPN_H2", "ALPN_H2_H1", "DEFAULT_TLS_CONFIG", "TLSConfig", "alpn_for"]

# ALPN offers, most preferred first. Shared tuples, so building a config allocates nothing.
ALPN_H1: tuple[str, ...] = ("http/1.1",)
ALPN_H2: tuple[str, ...] = ("h2",)
ALPN_H2_H1: tuple[str, ...] = ("h2", "http/1.1")


def alpn_for(http1: bool, http2: bool) -> tuple[str, ...]:
    """The ALPN list to offer for the enabled HTTP versions (HTTP/2 preferred)."""
    if http2:
        return ALPN_H2_H1 if http1 else ALPN_H2
    if http1:
        return ALPN_H1
    raise ValueError("at least one of http1 and http2 must be enabled")


def _check_cert(cert: object) -> CertTypes | None:
    if cert is None or isinstance(cert, str):
        return cert
    if isinstance(cert, tuple) and len(cert) in (2, 3):
        parts = tuple(os.fspath(p) if isinstance(p, os.PathLike) else p for p in cert)
        if all(isinstance(p, str) for p in parts):
            return parts
    if isinstance(cert, os.PathLike):
        return _check_cert(os.fspath(cert))
    raise TypeError(
        "cert must be a certificate file path, a (certfile, keyfile) tuple "
        f"or a (certfile, keyfile, password) tuple of str, not {cert!r}"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TLSConfig:
    """How to set up TLS for one connection.

    ``verify`` is True (the default trust store, or SSL_CERT_FILE/SSL_CERT_DIR when
    ``trust_env``), False (no verification), a CA bundle file or directory path, or an
    ``ssl.SSLContext`` given by the user, which is used as is and compared by identity.
    """

    verify: bool | str | Any = True
    cert: CertTypes | None = None
    trust_env: bool = True
    alpn: tuple[str, ...] = ALPN_H1
    server_hostname: str | None = None

    def __post_init__(self) -> None:
        verify = self.verify
        if not isinstance(verify, (bool, str)):
            if isinstance(verify, os.PathLike):
                object.__setattr__(self, "verify", os.fspath(verify))
            elif not hasattr(verify, "wrap_socket"):
                # Duck-typed: the core cannot import ssl to check for SSLContext.
                raise TypeError(
                    "verify must be True, False, a CA bundle path or an ssl.SSLContext, "
                    f"not {verify!r}"
                )
        object.__setattr__(self, "cert", _check_cert(self.cert))
        alpn = tuple(self.alpn)  # the same object when already a tuple
        if alpn is not self.alpn:
            object.__setattr__(self, "alpn", alpn)
        if not alpn or not all(isinstance(p, str) and p for p in alpn):
            raise ValueError(f"alpn must be a non-empty sequence of protocol names, not {alpn!r}")
        hostname = self.server_hostname
        if hostname is not None and (not isinstance(hostname, str) or not hostname):
            raise TypeError(f"server_hostname must be a non-empty str or None, not {hostname!r}")

    def _key(self) -> tuple[object, ...]:
        verify = self.verify
        # bool and str compare by value; an SSLContext (or anything else) by identity.
        ident = verify if isinstance(verify, (bool, str)) else (id(verify),)
        return (ident, self.cert, self.trust_env, self.alpn, self.server_hostname)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TLSConfig):
            return NotImplemented
        # Both configs are alive here, so equal ids mean the very same SSLContext.
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


DEFAULT_TLS_CONFIG = TLSConfig()
