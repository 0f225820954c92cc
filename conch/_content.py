"""httpx's ``_content`` module: the request and response body streams and encoders.

`IteratorByteStream` and `AsyncIteratorByteStream` can be derived from together (a
mocking plugin does), as in httpx.
"""

from sansio.content import (
    AsyncIteratorByteStream,
    IteratorByteStream,
    UnattachedStream,
    encode_content,
    encode_json,
    encode_request,
    encode_response,
    encode_urlencoded_data,
)
from sansio.multipart import MultipartStream
from sansio.streams import AsyncByteStream, ByteStream, SyncByteStream

__all__ = [
    "AsyncByteStream",
    "AsyncIteratorByteStream",
    "ByteStream",
    "IteratorByteStream",
    "MultipartStream",
    "SyncByteStream",
    "UnattachedStream",
    "encode_content",
    "encode_json",
    "encode_request",
    "encode_response",
    "encode_urlencoded_data",
]
