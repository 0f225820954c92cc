"""The helpers of httpx's ``_utils`` module that libraries built on httpx import.

Small and self-contained, as in httpx; `get_environment_proxies` reads this process's
environment (conch's core takes the environment as an argument instead).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, TypeVar

from sansio.mounts import URLPattern
from sansio.proxy import proxies_from_environ
from sansio.urls import _primitive

__all__ = [
    "URLPattern",
    "get_environment_proxies",
    "is_ipv4_hostname",
    "is_ipv6_hostname",
    "peek_filelike_length",
    "primitive_value_to_str",
    "to_bytes",
    "to_bytes_or_str",
    "to_str",
    "unquote",
]

T = TypeVar("T", str, bytes)


# A form or query value as text: JSON's spellings for True, False and None.
primitive_value_to_str = _primitive


def get_environment_proxies() -> dict[str, str | None]:
    """Proxy mount patterns from HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY."""
    return proxies_from_environ(os.environ)


def to_bytes(value: str | bytes, encoding: str = "utf-8") -> bytes:
    return value.encode(encoding) if isinstance(value, str) else value


def to_str(value: str | bytes, encoding: str = "utf-8") -> str:
    return value if isinstance(value, str) else value.decode(encoding)


def to_bytes_or_str(value: str, match_type_of: T) -> T:
    """``value`` as the type of ``match_type_of``."""
    return value if isinstance(match_type_of, str) else value.encode()


def unquote(value: str) -> str:
    """``value`` without the double quotes around it, if it has them."""
    return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value


def peek_filelike_length(stream: Any) -> int | None:
    """The length of a file-like object, from its descriptor or by seeking; None if
    neither tells."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError):
        pass
    try:
        offset = stream.tell()
        length: int = stream.seek(0, os.SEEK_END)
        stream.seek(offset)
    except (AttributeError, OSError):
        return None
    return length


def is_ipv4_hostname(hostname: str) -> bool:
    try:
        ipaddress.IPv4Address(hostname.split("/")[0])
    except ValueError:
        return False
    return True


def is_ipv6_hostname(hostname: str) -> bool:
    try:
        ipaddress.IPv6Address(hostname.split("/")[0])
    except ValueError:
        return False
    return True
