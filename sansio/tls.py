"""TLS settings as plain data.

A `TLSConfig` says how a connection's TLS layer should look: what to trust, which client
certificate to present, which protocols to offer through ALPN and which name to send as SNI.
The shells turn it into an ``ssl.SSLContext`` (see ``sync_io.tls.context_for``); the core
only compares and hashes it. It is part of the pool key, so a connection opened under one
TLS configuration is never handed out for another.
"""

from __future__ import annotations

import os

from ._frozen import Frozen, set_field
from ._typing_lite import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import ssl  # for annotations only: the core never builds a context

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


def _check_verify(verify: object) -> bool | str | ssl.SSLContext:
    if isinstance(verify, str):
        return verify
    if isinstance(verify, os.PathLike):
        return os.fspath(verify)  # type: ignore[no-any-return]
    if hasattr(verify, "wrap_socket"):
        return verify  # type: ignore[return-value]  # duck-typed: no ssl import here
    raise TypeError(
        f"verify must be True, False, a CA bundle path or an ssl.SSLContext, not {verify!r}"
    )


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


class TLSConfig(Frozen, kw_only=True):
    """How to set up TLS for one connection.

    ``verify`` is True (the default trust store, or SSL_CERT_FILE/SSL_CERT_DIR when
    ``trust_env``), False (no verification), a CA bundle file or directory path, or an
    ``ssl.SSLContext`` given by the user, which is used as is and compared by identity.
    A ``cert`` given with such a context is loaded into it by the shell when its
    transport is built, as httpx does (``sync_io.tls.load_client_cert``); it stays part
    of the key, so connections made with and without it are never mixed.
    """

    __slots__ = ("_hash", "_key", "alpn", "cert", "server_hostname", "trust_env", "verify")
    verify: bool | str | ssl.SSLContext
    cert: CertTypes | None
    trust_env: bool
    alpn: tuple[str, ...]
    server_hostname: str | None

    # What equality and hashing use, computed once: a config is built per connection
    # route and hashed on every pool lookup.
    _key: tuple[object, ...]
    _hash: int

    def __init__(
        self,
        *,
        verify: bool | str | ssl.SSLContext = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        alpn: tuple[str, ...] = ALPN_H1,
        server_hostname: str | None = None,
    ) -> None:
        if verify.__class__ is not bool:
            verify = _check_verify(verify)
        if cert is not None:
            cert = _check_cert(cert)
        if alpn is not ALPN_H1 and alpn is not ALPN_H2_H1 and alpn is not ALPN_H2:
            alpn = tuple(alpn)
            if not alpn or not all(isinstance(p, str) and p for p in alpn):
                raise ValueError(
                    f"alpn must be a non-empty sequence of protocol names, not {alpn!r}"
                )
        hostname = server_hostname
        if hostname is not None and (hostname.__class__ is not str or not hostname):
            raise TypeError(f"server_hostname must be a non-empty str or None, not {hostname!r}")
        set_field(self, "verify", verify)
        set_field(self, "cert", cert)
        set_field(self, "trust_env", trust_env)
        set_field(self, "alpn", alpn)
        set_field(self, "server_hostname", hostname)
        # bool and str compare by value; an SSLContext by identity (it defines no equality,
        # and a user's subclass might define a strange one).
        ident = verify if isinstance(verify, (bool, str)) else (id(verify),)
        key = (ident, cert, trust_env, alpn, hostname)
        set_field(self, "_key", key)
        set_field(self, "_hash", hash(key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TLSConfig):
            return NotImplemented
        # Both configs hold their verify object, so equal ids mean the very same context.
        return self is other or (self._hash == other._hash and self._key == other._key)

    def __hash__(self) -> int:
        return self._hash


DEFAULT_TLS_CONFIG = TLSConfig()
