"""Type aliases of the public API (third-party code imports these from httpx._types)."""

from sansio._types import (
    CertTypes,
    FileContent,
    FileTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    ResponseContent,
    ResponseExtensions,
)
from sansio.auth import AuthTypes
from sansio.config import ProxyTypes, TimeoutTypes
from sansio.cookies import CookieTypes
from sansio.headers import HeaderTypes
from sansio.streams import AsyncByteStream, SyncByteStream
from sansio.urls import PrimitiveData, QueryParamTypes, URLTypes

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
