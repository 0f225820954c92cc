"""URL patterns for `mounts=` and `proxies=`: which transport (or proxy) a URL takes.

Patterns look like ``"all://"``, ``"https://"``, ``"http://example.com"``,
``"all://*.example.com"`` (subdomains only), ``"all://*example.com"`` (the
domain and its subdomains), ``"https://example.com:8443"`` or
``"http://[::1]:8080"``. A path in a pattern is ignored, as in httpx.

The most specific match wins: a pattern with a port, then a longer host, then a
longer scheme; ties keep the order given. Unlike httpx, the ``*`` of a wildcard
does not count towards the host's length, so ``"all://example.com"`` beats
``"all://*example.com"`` for ``example.com`` itself. A port is compared with the
URL's effective port, so ``"https://example.com:443"`` matches
``https://example.com/``.

Beyond httpx (what NO_PROXY users expect, as requests and curl match it):

* An IP address with a prefix length, ``"all://10.0.0.0/8"`` or
  ``"all://[fd00::]/8"``, is a network (CIDR): it matches every address inside it of
  the same family (httpx reads the ``/8`` as an ignored path and matches the one
  address). Host bits are ignored (``10.1.2.3/8`` is ``10.0.0.0/8``), as requests
  does. Networks rank below every pattern naming a host, a longer prefix first.
* A host's trailing dot (the DNS root: ``example.com.`` is ``example.com``) is
  ignored on both sides, as curl ignores it in NO_PROXY.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._typing_lite import TYPE_CHECKING, Generic, TypeAlias, TypeVar
from .exceptions import InvalidURL
from .urls import URL

if TYPE_CHECKING:  # pragma: no cover
    import ipaddress

    _Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["MountTable", "URLPattern"]

T = TypeVar("T")

# Host match modes: exact, "*.d" (strict subdomains of d), "*d" (d or a subdomain), an
# address network, any.
_EXACT, _SUBDOMAIN, _DOMAIN, _NETWORK, _ANY = 0, 1, 2, 3, 4


def _without_root(host: str) -> str:
    return host[:-1] if host.endswith(".") else host


def _network(host: str, path: str) -> _Network | None:
    """The network of ``host`` + ``/<prefix>``, or None if the pattern names no network."""
    if not (path.isascii() and path.isdigit() and len(path) <= 3):
        return None
    import ipaddress  # only for a network pattern: most programs never load it

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    # Host bits are dropped (strict=False); a prefix too long for the family raises.
    return ipaddress.ip_network(f"{address}/{int(path)}", strict=False)


def _effective_port(url: URL) -> int | None:
    # The scheme's default port comes from URL's table (`URL.origin`), the only one.
    return url.port if url.port is not None else (url.origin[2] or None)


class URLPattern:
    """One mount or proxy key, matched against request URLs."""

    __slots__ = ("_mode", "_network", "_suffix", "host", "pattern", "port", "priority", "scheme")

    pattern: str
    scheme: str
    host: str
    port: int | None
    priority: tuple[int, int, int, int, int]

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"URL patterns are str, not {type(pattern).__name__}")
        if pattern and "://" not in pattern:
            raise ValueError(
                f"Mount and proxy keys are URL patterns such as {pattern + '://'!r}, "
                f"not bare scheme names like {pattern!r}"
            )
        scheme, _, rest = pattern.partition("://")
        authority, _, path = rest.partition("/")
        mode = _EXACT
        if authority.startswith("*."):
            mode, authority = _SUBDOMAIN, authority[2:]
        elif authority.startswith("*"):
            mode, authority = _DOMAIN, authority[1:]
        try:
            # The one URL parser checks the scheme, host and port; a wildcard's "*"
            # has been taken off, so internationalised domains work under it too.
            url = URL(f"{scheme}://{authority}")
        except InvalidURL as exc:
            raise ValueError(f"Invalid URL pattern {pattern!r}: {exc}") from None
        if url.scheme != scheme.lower() or (pattern and not scheme):
            # "1http://h" parses as a relative path, not as a scheme and a host.
            raise ValueError(f"Invalid URL pattern {pattern!r}: {scheme!r} is not a scheme")
        host = url.host
        if "*" in host:
            raise ValueError(f"Invalid URL pattern {pattern!r}: '*' only as the host's start")
        network = None
        if mode == _EXACT:
            try:
                network = _network(host, path)
            except ValueError as exc:
                raise ValueError(f"Invalid URL pattern {pattern!r}: {exc}") from None
        if network is not None:
            mode = _NETWORK
        elif not host:
            mode = _ANY
        port = url.port
        if port is None and ":" in authority.rpartition("]")[2]:
            # An explicit default port ("https://h:443") was normalised away by URL.
            port = url.origin[2] or None
        self.pattern = pattern
        self.scheme = "" if url.scheme == "all" else url.scheme
        # Shown as httpx shows it: with the wildcard, and "" for any host.
        if mode == _SUBDOMAIN:
            self.host = "*." + host
        elif mode == _DOMAIN:
            self.host = "*" + host
        elif network is not None:
            self.host = str(network)
        else:
            self.host = host
        self.port = port
        self._mode = mode
        self._network: _Network | None = network
        host = _without_root(host)
        self._suffix = "." + host if mode == _SUBDOMAIN else host
        self.priority = (
            0 if port is not None else 1,
            # A network names no host: it ranks with "any host", just above it.
            0 if network is not None else -len(self._suffix),
            mode,
            0 if network is None else -network.prefixlen,
            -len(self.scheme),
        )

    def matches(self, url: URL) -> bool:
        """Whether `url` falls under this pattern."""
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.port is not None and self.port != _effective_port(url):
            return False
        mode = self._mode
        if mode == _ANY:
            return True
        host = _without_root(url.host)
        suffix = self._suffix
        if mode == _EXACT:
            return host == suffix
        if mode == _SUBDOMAIN:
            return len(host) > len(suffix) and host.endswith(suffix)
        if mode == _DOMAIN:
            return host == suffix or host.endswith("." + suffix)
        import ipaddress  # loaded already: this pattern's network needed it

        network = self._network
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name: no network holds it
        # An address of the other family is in no network (ipaddress checks).
        return network is not None and address in network

    def __lt__(self, other: URLPattern) -> bool:
        return self.priority < other.priority

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLPattern) and self.pattern == other.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"URLPattern({self.pattern!r})"


class MountTable(Generic[T]):
    """Patterns mapped to values (transports, proxies), most specific first."""

    __slots__ = ("_entries",)

    def __init__(self, mounts: Mapping[str, T] | Iterable[tuple[str, T]] = ()) -> None:
        items = mounts.items() if isinstance(mounts, Mapping) else mounts
        self._entries = sorted(
            ((URLPattern(key), value) for key, value in items), key=lambda e: e[0].priority
        )

    def lookup(self, url: URL, default: T) -> T:
        """The value of the most specific pattern matching `url`, else `default`."""
        for pattern, value in self._entries:
            if pattern.matches(url):
                return value
        return default

    def items(self) -> list[tuple[URLPattern, T]]:
        """``(pattern, value)`` pairs, most specific first."""
        return list(self._entries)

    def values(self) -> list[T]:
        """The values, most specific pattern first."""
        return [value for _, value in self._entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
