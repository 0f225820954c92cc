"""URL patterns for `mounts=` and `proxies=`: which transport (or proxy) a URL takes.

Patterns look like ``"all://"``, ``"https://"``, ``"http://example.com"``,
``"all://*.example.com"`` (subdomains only), ``"all://*example.com"`` (the
domain and its subdomains) or ``"https://example.com:8443"``. The most specific
match wins: a pattern with a port, then a longer host, then a longer scheme.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from .urls import URL

__all__ = ["MountTable", "URLPattern"]

T = TypeVar("T")


class URLPattern:
    """One mount or proxy key, matched against request URLs."""

    __slots__ = ("_host_mode", "_suffix", "host", "pattern", "port", "scheme")

    def __init__(self, pattern: str) -> None:
        if pattern and "://" not in pattern:
            raise ValueError(
                f"Mount and proxy keys are URL patterns such as {pattern + '://'!r}, "
                f"not bare scheme names like {pattern!r}"
            )
        scheme, _, rest = pattern.partition("://")
        authority = rest.split("/", 1)[0]
        host, port = authority, None
        if authority.startswith("["):
            end = authority.find("]")
            host = authority[: end + 1]
            port_text = authority[end + 2 :] if authority[end + 1 : end + 2] == ":" else ""
        elif ":" in authority:
            host, port_text = authority.rsplit(":", 1)
        else:
            port_text = ""
        if port_text:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise ValueError(f"Invalid port in URL pattern {pattern!r}")
            port = int(port_text)
        self.pattern = pattern
        self.scheme = "" if scheme == "all" else scheme.lower()
        host = host.lower()
        self.host = "" if host == "*" else host
        self.port = port
        # Host matching without regular expressions: exact, "*.d" (strict
        # subdomains) or "*d" (d itself or any subdomain).
        if not self.host:
            self._host_mode, self._suffix = "any", ""
        elif self.host.startswith("*."):
            self._host_mode, self._suffix = "sub", self.host[1:]
        elif self.host.startswith("*"):
            self._host_mode, self._suffix = "domain", self.host[1:]
        else:
            self._host_mode, self._suffix = "exact", self.host

    def matches(self, url: URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.port is not None and self.port != url.port:
            return False
        host = url.host
        mode = self._host_mode
        if mode == "exact":
            return host == self._suffix
        if mode == "sub":
            return host.endswith(self._suffix) and len(host) > len(self._suffix)
        if mode == "domain":
            return host == self._suffix or host.endswith("." + self._suffix)
        return True

    @property
    def priority(self) -> tuple[int, int, int]:
        """Sort key: most specific first."""
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))

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

    def values(self) -> list[T]:
        return [value for _, value in self._entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
