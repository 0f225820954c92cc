"""Type aliases for the public API, as third-party code imports them from httpx."""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import IO, TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # pragma: no cover
    from .auth import Auth
    from .config import Proxy, Timeout
    from .cookies import Cookies
    from .headers import Headers
    from .models import Request
    from .urls import URL, QueryParams

PrimitiveData = Union[str, int, float, bool, None]

URLTypes = Union["URL", str]

QueryParamTypes = Union[
    "QueryParams",
    Mapping[str, Union[PrimitiveData, Sequence[PrimitiveData]]],
    list[tuple[str, PrimitiveData]],
    tuple[tuple[str, PrimitiveData], ...],
    str,
    bytes,
]

HeaderTypes = Union[
    "Headers",
    Mapping[str, str],
    Mapping[bytes, bytes],
    Sequence[tuple[str, str]],
    Sequence[tuple[bytes, bytes]],
]

# Any object with the http.cookiejar.CookieJar iteration protocol is accepted too
# (duck typed: the core does not import http.cookiejar, which pulls in socket).
CookieTypes = Union["Cookies", dict[str, str], list[tuple[str, str]], Any]

TimeoutTypes = Union[
    float,
    None,
    tuple[Union[float, None], Union[float, None], Union[float, None], Union[float, None]],
    "Timeout",
]
ProxyTypes = Union["URL", str, "Proxy"]
CertTypes = Union[str, tuple[str, str], tuple[str, str, str]]

AuthTypes = Union[
    tuple[Union[str, bytes], Union[str, bytes]],
    Callable[["Request"], "Request"],
    "Auth",
]

RequestContent = Union[str, bytes, Iterable[bytes], AsyncIterable[bytes]]
ResponseContent = Union[str, bytes, Iterable[bytes], AsyncIterable[bytes]]
ResponseExtensions = Mapping[str, Any]
RequestExtensions = Mapping[str, Any]

RequestData = Mapping[str, Any]

FileContent = Union[IO[bytes], bytes, str]
FileTypes = Union[
    FileContent,
    tuple[Union[str, None], FileContent],
    tuple[Union[str, None], FileContent, Union[str, None]],
    tuple[Union[str, None], FileContent, Union[str, None], Mapping[str, str]],
]
RequestFiles = Union[Mapping[str, FileTypes], Sequence[tuple[str, FileTypes]]]
