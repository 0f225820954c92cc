"""Type aliases of the public API (third-party code imports these from httpx._types)."""

from sansio._types import (
    AuthTypes,
    CertTypes,
    CookieTypes,
    FileContent,
    FileTypes,
    HeaderTypes,
    PrimitiveData,
    ProxyTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    ResponseContent,
    ResponseExtensions,
    TimeoutTypes,
    URLTypes,
)
from sansio.streams import AsyncByteStream, SyncByteStream

__all__ = [
    "AsyncByteStream",
    "AuthTypes",
    "CertTypes",
    "CookieTypes",
    "FileContent",
    "FileTypes",
    "HeaderTypes",
    "PrimitiveData",
    "ProxyTypes",
    "QueryParamTypes",
    "RequestContent",
    "RequestData",
    "RequestExtensions",
    "RequestFiles",
    "ResponseContent",
    "ResponseExtensions",
    "SyncByteStream",
    "TimeoutTypes",
    "URLTypes",
]
