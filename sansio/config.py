"""Plain-data configuration values: `Timeout`, `Limits`, `Proxy`.

Nothing here opens a socket or builds an SSL context; the shells turn these
values into behaviour.
"""

from __future__ import annotations

from ._typing_lite import TYPE_CHECKING, Any, TypeAlias
from .headers import SENSITIVE_HEADERS, Headers, HeaderTypes
from .urls import URL

if TYPE_CHECKING:  # pragma: no cover
    import ssl


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT_CONFIG",
    "USE_CLIENT_DEFAULT",
    "Limits",
    "Proxy",
    "Timeout",
    "UseClientDefault",
]


class UseClientDefault:
    """Marks a per-request argument as "use the client's setting".

    Distinct from ``None``, which often means "disable" (``timeout=None``).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<UseClientDefault>"


USE_CLIENT_DEFAULT = UseClientDefault()


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<UNSET>"


_UNSET: Any = _Unset()


class Timeout:
    """Timeouts in seconds for connect, read, write and pool waits; ``None`` disables one.

    ``Timeout(5.0)`` sets all four; ``Timeout(5.0, connect=1.0)`` overrides one;
    ``Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0)`` sets each explicitly.

    ``total`` (conch; keyword-only, None by default) bounds a whole ``send()``: pool
    wait, connect, TLS, proxy handshake, upload, redirects, auth round trips, retries
    and their waits, and the body of a non-streamed response (see `sansio.deadline`).
    It may go with any of the forms above; ``Timeout(other)`` keeps ``other.total``
    unless ``total`` is given. It shows in `as_dict`, ``repr`` and equality only when
    set, so a timeout without it behaves exactly as httpx's.
    """

    __slots__ = ("connect", "pool", "read", "total", "write")

    def __init__(
        self,
        timeout: TimeoutTypes = _UNSET,
        *,
        connect: float | None = _UNSET,
        read: float | None = _UNSET,
        write: float | None = _UNSET,
        pool: float | None = _UNSET,
        total: float | None = _UNSET,
    ) -> None:
        if isinstance(timeout, Timeout):
            if not (connect is read is write is pool is _UNSET):
                raise ValueError("Timeout(Timeout(...)) takes no other arguments but total")
            self.connect: float | None = timeout.connect
            self.read: float | None = timeout.read
            self.write: float | None = timeout.write
            self.pool: float | None = timeout.pool
            if total is _UNSET:
                total = timeout.total
        elif isinstance(timeout, tuple):
            # httpx also takes (connect, read) and (connect, read, write), leaving the
            # missing ones as None (no timeout).
            if not 2 <= len(timeout) <= 4:
                raise ValueError(
                    "a timeout tuple must be (connect, read[, write[, pool]]), "
                    f"got {len(timeout)} values"
                )
            if not (connect is read is write is pool is _UNSET):
                raise ValueError("Timeout((...)) takes no other arguments but total")
            self.connect, self.read, self.write, self.pool = (*timeout, None, None)[:4]
        elif timeout is _UNSET:
            if _UNSET in (connect, read, write, pool):
                raise ValueError(
                    "Timeout needs a default (Timeout(5.0)) or all four of "
                    "connect, read, write and pool set explicitly"
                )
            self.connect, self.read, self.write, self.pool = connect, read, write, pool
        else:
            self.connect = timeout if connect is _UNSET else connect
            self.read = timeout if read is _UNSET else read
            self.write = timeout if write is _UNSET else write
            self.pool = timeout if pool is _UNSET else pool
        self.total: float | None = None if total is _UNSET else total
        for name in ("connect", "read", "write", "pool", "total"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TypeError(f"timeout {name} must be a number or None, got {value!r}")
            # `not value >= 0` also refuses NaN, which no clock comparison could honour.
            if value is not None and not value >= 0:
                raise ValueError(f"timeout {name} must not be negative, got {value!r}")

    def as_dict(self) -> dict[str, float | None]:
        """httpx's four keys (the ``timeout`` request extension), plus ``total`` when set."""
        values = {
            "connect": self.connect,
            "read": self.read,
            "write": self.write,
            "pool": self.pool,
        }
        if self.total is not None:
            values["total"] = self.total
        return values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.write, self.pool, self.total))

    def __repr__(self) -> str:
        total = "" if self.total is None else f", total={self.total}"
        if self.connect == self.read == self.write == self.pool:
            return f"Timeout(timeout={self.connect}{total})"
        return (
            f"Timeout(connect={self.connect}, read={self.read}, "
            f"write={self.write}, pool={self.pool}{total})"
        )


# Response head limits (HTTP/1.1 and HTTP/2), the defaults of `Limits`. httpx (through
# httpcore) lets h11 hold up to 100 KiB of an incomplete head and then parses whatever
# a 64 KiB read completes, so it accepts heads of 100 KiB always and up to ~164 KiB
# sometimes, with no count limit; real sites send a few hundred Set-Cookie fields. curl
# caps a response's headers at 300 KiB. 256 KiB covers all of httpx's cases and bounds
# what one connection can make us hold. The count bounds per-field work that the byte
# limit would not (hundreds of thousands of empty fields); aiohttp allows 32768 too.
DEFAULT_MAX_HEADER_BYTES = 256 * 1024
DEFAULT_MAX_HEADER_COUNT = 32768


def _count(name: str, value: object, least: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < least
    ):
        kind = "a non-negative int" if least == 0 else f"an int of at least {least}"
        raise ValueError(f"{name} must be {kind} or None, got {value!r}")


class Limits:
    """Pool limits: total connections, idle keep-alive connections, idle expiry (seconds).

    ``None`` means "no limit" (or, for ``keepalive_expiry``, "never expire").

    conch adds, keyword-only: ``max_connections_per_host`` (connections to one
    scheme, host and port, as aiohttp's ``limit_per_host``; None: no limit),
    ``max_header_bytes`` and ``max_header_count`` (the largest response head and
    trailer section, and the most fields in one, for HTTP/1.1 and HTTP/2). They show
    in ``repr`` only when changed, so default limits print as httpx's.
    """

    __slots__ = (
        "keepalive_expiry",
        "max_connections",
        "max_connections_per_host",
        "max_header_bytes",
        "max_header_count",
        "max_keepalive_connections",
    )

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
        max_connections_per_host: int | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
    ) -> None:
        _count("max_connections", max_connections, 0)
        _count("max_keepalive_connections", max_keepalive_connections, 0)
        if max_connections == 0:
            raise ValueError("max_connections must be at least 1 (or None for no limit)")
        if keepalive_expiry is not None and (
            isinstance(keepalive_expiry, bool) or not isinstance(keepalive_expiry, int | float)
        ):
            raise TypeError(f"keepalive_expiry must be a number or None, got {keepalive_expiry!r}")
        if keepalive_expiry is not None and keepalive_expiry < 0:
            raise ValueError(f"keepalive_expiry must not be negative, got {keepalive_expiry!r}")
        _count("max_connections_per_host", max_connections_per_host, 1)
        for name, value in (
            ("max_header_bytes", max_header_bytes),
            ("max_header_count", max_header_count),
        ):
            # No None here: an unbounded head would let a server fill our memory.
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
        self.max_connections = max_connections
        self.max_keepalive_connections = max_keepalive_connections
        self.keepalive_expiry = keepalive_expiry
        self.max_connections_per_host = max_connections_per_host
        self.max_header_bytes = max_header_bytes
        self.max_header_count = max_header_count

    def _key(self) -> tuple[object, ...]:
        return (
            self.max_connections,
            self.max_keepalive_connections,
            self.keepalive_expiry,
            self.max_connections_per_host,
            self.max_header_bytes,
            self.max_header_count,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        extras = ""
        if self.max_connections_per_host is not None:
            extras += f", max_connections_per_host={self.max_connections_per_host}"
        if self.max_header_bytes != DEFAULT_MAX_HEADER_BYTES:
            extras += f", max_header_bytes={self.max_header_bytes}"
        if self.max_header_count != DEFAULT_MAX_HEADER_COUNT:
            extras += f", max_header_count={self.max_header_count}"
        return (
            f"Limits(max_connections={self.max_connections}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, "
            f"keepalive_expiry={self.keepalive_expiry}{extras})"
        )


_PROXY_SCHEMES = frozenset({"http", "https", "socks4", "socks4a", "socks5", "socks5h"})


class Proxy:
    """A proxy to route requests through: its URL, optional auth, headers, SSL context."""

    def __init__(
        self,
        url: URL | str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        auth: tuple[str, str] | None = None,
        headers: HeaderTypes | None = None,
    ) -> None:
        url = URL(url)
        headers = Headers(headers)
        if url.scheme not in _PROXY_SCHEMES:
            raise ValueError(f"Unknown scheme for proxy URL {url!r}")
        if url.username or url.password:
            # Credentials in the URL become auth, and are kept out of the URL itself
            # so they cannot leak into logs or a request target.
            auth = (url.username, url.password)
            url = url.copy_with(username=None, password=None)
        self.url = url
        self.auth = auth
        self.headers = headers
        self.ssl_context = ssl_context

    @property
    def raw_auth(self) -> tuple[bytes, bytes] | None:
        if self.auth is None:
            return None
        return (self.auth[0].encode("utf-8"), self.auth[1].encode("utf-8"))

    def __repr__(self) -> str:
        # Passwords and credential headers never appear; other headers do, as in httpx.
        auth = f", auth=({self.auth[0]!r}, '********')" if self.auth else ""
        shown = {
            name: "[secure]" if name in SENSITIVE_HEADERS else value
            for name, value in self.headers.items()
        }
        headers = f", headers={shown!r}" if shown else ""
        return f"Proxy({str(self.url)!r}{auth}{headers})"


# httpx's ``TimeoutTypes`` and ``ProxyTypes`` (re-exported by `conch._types`), beside
# their classes.
TimeoutTypes: TypeAlias = (
    float | tuple[float | None, float | None, float | None, float | None] | Timeout | None
)
ProxyTypes: TypeAlias = URL | str | Proxy


DEFAULT_TIMEOUT_CONFIG = Timeout(timeout=5.0)
DEFAULT_LIMITS = Limits(max_connections=100, max_keepalive_connections=20)
DEFAULT_MAX_REDIRECTS = 20
