"""SSL contexts from TLS settings; shared by the blocking and the async shells.

`create_ssl_context` is httpx 0.28's public function, with the same arguments and results.
`context_for` is what the transports call: it turns a `sansio.tls.TLSConfig` into a context
with ALPN set, and keeps the contexts it builds in a small cache. Loading a CA bundle takes
milliseconds, and httpx pays it for every client it builds; here it is paid once per trust
setting, on the first connection that needs it, never at import.

``verify=<SSLContext>`` with ``cert=``: the transports call `load_client_cert` when they are
built, which loads the certificate into the caller's context, as httpx 0.28 does. The
context is changed in place (it then presents the certificate wherever it is used): an
``SSLContext`` cannot be copied faithfully (callbacks, session state and settings Python
does not expose would be lost), and refusing the pair, or ignoring ``cert=`` as conch once
did, would break code written for httpx. The pool key holds both the context and ``cert``.
"""

from __future__ import annotations

import os
import ssl
import warnings
from collections.abc import Mapping

from sansio._typing_lite import TYPE_CHECKING
from sansio.tls import TLSConfig

if TYPE_CHECKING:  # pragma: no cover
    from sansio._types import CertTypes

__all__ = [
    "CERT_DEPRECATED",
    "CONTEXT_CACHE_SIZE",
    "VERIFY_STR_DEPRECATED",
    "context_for",
    "create_ssl_context",
    "load_client_cert",
    "warn_deprecated",
]

# How many shared contexts to keep. A process sees one or two trust settings times one or
# two ALPN lists; the bound matters only to a program that keeps changing its CA files.
# Past it the cache starts over (contexts in use stay valid: they are plain objects).
CONTEXT_CACHE_SIZE = 16

_cache: dict[tuple[object, ...], ssl.SSLContext] = {}


def _harden(ctx: ssl.SSLContext) -> ssl.SSLContext:
    # Python's own defaults today, set explicitly so an older OpenSSL policy cannot lower them.
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION  # CRIME
    return ctx


def _verifying_context(
    environ: Mapping[str, str], trust_env: bool, cafile: str | None = None
) -> ssl.SSLContext:
    if cafile is not None:
        if os.path.isdir(cafile):
            return _harden(ssl.create_default_context(capath=cafile))
        return _harden(ssl.create_default_context(cafile=cafile))
    if trust_env and environ.get("SSL_CERT_FILE"):
        return _harden(ssl.create_default_context(cafile=environ["SSL_CERT_FILE"]))
    if trust_env and environ.get("SSL_CERT_DIR"):
        return _harden(ssl.create_default_context(capath=environ["SSL_CERT_DIR"]))
    # certifi is imported here, not with conch: it loads importlib.resources, which loads
    # tempfile, shutil, random, bz2 and lzma (about 4 ms), and only https needs it.
    import certifi

    return _harden(ssl.create_default_context(cafile=certifi.where()))


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return _harden(ctx)


def _load_cert(ctx: ssl.SSLContext, cert: CertTypes | os.PathLike[str]) -> None:
    if isinstance(cert, tuple):
        ctx.load_cert_chain(*cert)
    else:
        ctx.load_cert_chain(cert)


# httpx 0.28's words, word for word (httpx._config.create_ssl_context).
VERIFY_STR_DEPRECATED = (
    "`verify=<str>` is deprecated. "
    "Use `verify=ssl.create_default_context(cafile=...)` "
    "or `verify=ssl.create_default_context(capath=...)` instead."
)
CERT_DEPRECATED = (
    "`cert=...` is deprecated. Use `verify=<ssl_context>` instead,"
    "with `.load_cert_chain()` to configure the certificate chain."
)


def warn_deprecated(verify: object, cert: object) -> None:
    """httpx's DeprecationWarnings for ``verify=<str>`` and ``cert=``, where httpx gives
    them: when an SSL context is made from them (a transport being built included).
    As in httpx, ``verify=<str>`` with ``cert=`` gives the first warning only (httpx
    returns before it looks at ``cert``; conch still loads the certificate)."""
    if isinstance(verify, str):
        warnings.warn(VERIFY_STR_DEPRECATED, DeprecationWarning, stacklevel=3)
    elif cert:
        warnings.warn(CERT_DEPRECATED, DeprecationWarning, stacklevel=3)


def load_client_cert(verify: object, cert: CertTypes | os.PathLike[str] | None) -> None:
    """When a transport is built: httpx's deprecation warnings (`warn_deprecated`), and
    with ``verify=<SSLContext>`` and ``cert=``, the certificate loaded into that context.

    What httpx 0.28 does when a transport is built, so a missing file or a wrong
    password fails there too. Nothing is loaded for any other ``verify`` (`context_for`
    builds those contexts with the certificate) or without ``cert``.
    """
    warn_deprecated(verify, cert)
    if cert and isinstance(verify, ssl.SSLContext):
        _load_cert(verify, cert)


def _build(
    verify: object, cert: CertTypes | None, trust_env: bool, environ: Mapping[str, str]
) -> ssl.SSLContext:
    if verify is True:
        ctx = _verifying_context(environ, trust_env)
    elif verify is False:
        ctx = _unverified_context()
    elif isinstance(verify, str):
        # A missing path raises FileNotFoundError, as in httpx.
        ctx = _verifying_context(environ, trust_env, cafile=verify)
    elif isinstance(verify, ssl.SSLContext):
        ctx = verify
    else:
        raise TypeError(
            f"verify must be True, False, a CA bundle path or an ssl.SSLContext, not {verify!r}"
        )
    if cert:
        _load_cert(ctx, cert)
    return ctx


def create_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
) -> ssl.SSLContext:
    """An SSL context as httpx 0.28 builds it.

    ``verify=True`` trusts certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR from the
    environment when ``trust_env``; ``False`` checks nothing; a path names a CA file or
    directory; an ``ssl.SSLContext`` is returned as given. ``cert`` adds a client
    certificate. As in httpx, ``verify=<str>`` and ``cert=`` are deprecated.
    """
    warn_deprecated(verify, cert)
    return _build(verify, cert, trust_env, os.environ)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None  # building the context reports it
    return (info.st_mtime_ns, info.st_size)


def context_for(config: TLSConfig, environ: Mapping[str, str]) -> ssl.SSLContext:
    """The SSL context for a connection made under ``config``, with its ALPN list set.

    A user's SSLContext is used as given, with the ALPN list set on it (as httpcore does);
    a ``cert`` was loaded into it when the transport was built (`load_client_cert`).
    Any other context is built once and shared by every connection and client with the
    same settings; one built from a user's files (a CA path, a client certificate) is
    built again when one of those files changes.
    """
    verify = config.verify
    if not isinstance(verify, (bool, str)):
        verify.set_alpn_protocols(config.alpn)
        return verify
    cert = config.cert
    key: tuple[object, ...]
    if verify is True and config.trust_env:
        ca_file = environ.get("SSL_CERT_FILE") or None
        ca_dir = None if ca_file else environ.get("SSL_CERT_DIR") or None
        key = (True, ca_file, ca_dir, config.alpn, cert)
    else:
        key = (verify, config.alpn, cert)
    if verify.__class__ is str or cert is not None:
        paths = [verify] if isinstance(verify, str) else []
        if cert is not None:
            paths += [cert] if isinstance(cert, str) else cert[:2]
        key += tuple(_stamp(path) for path in paths)
    ctx = _cache.get(key)
    if ctx is None:
        ctx = _build(verify, cert, config.trust_env, environ)
        ctx.set_alpn_protocols(config.alpn)
        if len(_cache) >= CONTEXT_CACHE_SIZE:
            _cache.clear()
        _cache[key] = ctx
    return ctx
