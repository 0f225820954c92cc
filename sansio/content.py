"""Request and response bodies: from ``content=``/``data=``/``files=``/``json=`` to bytes.

`encode_request` and `encode_response` return ``(headers, stream)``: the headers
the body implies (Content-Length, or Transfer-Encoding: chunked when the size is
unknown, and Content-Type) and a stream that yields the body. Nothing is read
from a file or generator until the stream is iterated.

Behaviour follows httpx 0.28, with these deliberate differences:

- ``data=`` that is not a mapping (bytes, str, an iterable of bytes) is taken as
  ``content=``, like httpx, but without its DeprecationWarning;
- every chunk a body yields must be bytes (bytearray and memoryview are copied
  to bytes); anything else raises TypeError naming what was given;
- a body that can be iterated only once (a generator or other iterator, a file
  that cannot seek) raises `StreamConsumed` when sent again, instead of quietly
  sending nothing; a seekable file given as ``content=`` is rewound to where it
  stood when the request was built, and its Content-Length counts from there;
- form values must be str, int, float, bool, None or bytes (or lists of them);
  httpx would send ``str()`` of anything else.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping

from . import env
from ._typing_lite import TYPE_CHECKING, Any
from .exceptions import StreamClosed, StreamConsumed
from .streams import (
    CHUNK_SIZE,
    AsyncByteStream,
    ByteStream,
    SyncByteStream,
    as_bytes,
    check_chunk_size,
    read_chunks,
    seekable_span,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._types import RequestContent, RequestData, RequestFiles, ResponseContent

__all__ = [
    "CHUNK_SIZE",
    "ONE_SHOT_KINDS",
    "AsyncIteratorByteStream",
    "ByteStream",
    "IteratorByteStream",
    "UnattachedStream",
    "encode_content",
    "encode_json",
    "encode_request",
    "encode_response",
    "encode_urlencoded_data",
]

# Bodies are immutable, so every request without one can share this stream.
_EMPTY = ByteStream(b"")


class IteratorByteStream(SyncByteStream):
    """A body from an iterable of bytes, or from a binary file object read in chunks."""

    # No __slots__, here and in AsyncIteratorByteStream: a class deriving from both
    # (as a mocking plugin for httpx does) needs instance layouts that combine.

    def __init__(self, stream: Iterable[bytes], *, chunk_size: int = CHUNK_SIZE) -> None:
        self._stream = stream
        self._chunk_size = check_chunk_size(chunk_size)
        read = getattr(stream, "read", None)
        self._read = read if callable(read) else None
        span = None if self._read is None else seekable_span(stream)
        self._start = None if span is None else span[0]
        self._length = None if span is None else span[1] - span[0]
        if self._read is not None:
            self._once = span is None
        else:
            # An iterator (a generator above all) is used up by one pass.
            self._once = isinstance(stream, Iterator)
        self._sent = False

    def get_content_length(self) -> int | None:
        """The number of bytes a seekable file has left to send; None when unknown."""
        return self._length

    @property
    def is_consumed(self) -> bool:
        """True once a one-shot body has been sent: it cannot be sent again."""
        return self._sent and self._once

    def __iter__(self) -> Iterator[bytes]:
        if self._sent and self._once:
            raise StreamConsumed()
        self._sent = True
        if self._read is None:
            for chunk in self._stream:
                yield chunk if isinstance(chunk, bytes) else as_bytes(chunk, "the content iterable")
            return
        if self._start is not None:
            self._stream.seek(self._start)  # type: ignore[attr-defined]
        yield from read_chunks(self._read, self._chunk_size)


class AsyncIteratorByteStream(AsyncByteStream):
    """A body from an async iterable of bytes, or an object with ``aread(n)``."""

    def __init__(self, stream: AsyncIterable[bytes], *, chunk_size: int = CHUNK_SIZE) -> None:
        self._stream = stream
        self._chunk_size = check_chunk_size(chunk_size)
        # An async reader cannot be rewound without awaiting, so it is one-shot too.
        self._once = isinstance(stream, AsyncIterator) or callable(getattr(stream, "aread", None))
        self._sent = False

    @property
    def is_consumed(self) -> bool:
        """True once a one-shot body has been sent: it cannot be sent again."""
        return self._sent and self._once

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._sent and self._once:
            raise StreamConsumed()
        self._sent = True
        aread = getattr(self._stream, "aread", None)
        if callable(aread):
            size = self._chunk_size
            chunk = await aread(size)
            while chunk:
                yield chunk if isinstance(chunk, bytes) else as_bytes(chunk, "aread()")
                chunk = await aread(size)
            return
        iterator = aiter(self._stream)
        try:
            async for chunk in iterator:
                yield chunk if isinstance(chunk, bytes) else as_bytes(chunk, "the content iterable")
        finally:
            # Finish the caller's async generator here, on error or early exit too,
            # rather than leave it to the garbage collector (trio warns about that).
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class UnattachedStream(AsyncByteStream, SyncByteStream):
    """The stream of a response whose body was already read (or that was unpickled).

    Its bytes live on the response; reading the stream again raises `StreamClosed`.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        raise StreamClosed()

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise StreamClosed()


def encode_content(
    content: RequestContent | ResponseContent,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    """Headers and stream for raw ``content=``: bytes, str, or a (async) iterable of bytes."""
    if isinstance(content, bytes):
        return ({"Content-Length": str(len(content))} if content else {}), ByteStream(content)
    if isinstance(content, str):
        body = content.encode()
        return ({"Content-Length": str(len(body))} if body else {}), ByteStream(body)
    # A dict is iterable, but as content it is always a mistake (httpx issue #2491).
    if isinstance(content, Iterable) and not isinstance(content, Mapping):
        stream = IteratorByteStream(content)
        length = stream.get_content_length()
        if length is None:
            return {"Transfer-Encoding": "chunked"}, stream
        return {"Content-Length": str(length)}, stream
    if isinstance(content, AsyncIterable):
        return {"Transfer-Encoding": "chunked"}, AsyncIteratorByteStream(content)
    hint = " (use json= or data= for a dict)" if isinstance(content, Mapping) else ""
    raise TypeError(
        "content must be bytes, str or an iterable (or async iterable) of bytes, "
        f"not {type(content).__name__}{hint}."
    )


# RFC 3986 unreserved characters: what quote_plus leaves alone.
_FORM_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def _form_quote(text: str | bytes) -> str:
    # The output of urlencode's quote_plus; most names and values are plain ASCII
    # words, and those skip the quoting machinery (this halves the cost of a form).
    raw = text.encode() if isinstance(text, str) else text
    if raw.translate(None, _FORM_SAFE):
        # Imported here: urllib.parse (and its ipaddress) cost ~2 ms of `import conch`.
        from urllib.parse import quote_plus

        return quote_plus(raw)
    return raw.decode("ascii")


def _form_value(key: str, value: object) -> str | bytes:
    # JSON-style spellings for True/False/None, as httpx does.
    if isinstance(value, str | bytes):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(
        f"Form field {key!r}: values must be str, int, float, bool, None or bytes "
        f"(or a list of them), not {type(value).__name__}."
    )


def encode_urlencoded_data(data: RequestData) -> tuple[dict[str, str], ByteStream]:
    """Headers and stream for ``data=`` as application/x-www-form-urlencoded."""
    fields: list[str] = []
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"Form field names must be str, not {type(key).__name__}.")
        name = _form_quote(key) + "="
        if isinstance(value, list | tuple):
            fields.extend([name + _form_quote(_form_value(key, item)) for item in value])
        else:
            fields.append(name + _form_quote(_form_value(key, value)))
    body = "&".join(fields).encode("ascii")
    return {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }, ByteStream(body)


def _encode_text(text: str, content_type: str) -> tuple[dict[str, str], ByteStream]:
    body = text.encode()
    return {"Content-Length": str(len(body)), "Content-Type": content_type}, ByteStream(body)


def encode_json(json: Any) -> tuple[dict[str, str], ByteStream]:
    """Headers and stream for ``json=``: compact UTF-8 JSON; NaN and infinities raise ValueError."""
    from json import dumps  # on first use: import time is a feature

    text = dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _encode_text(text, "application/json")


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | RequestContent | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    boundary: bytes | None = None,
    random_bytes: Callable[[int], bytes] | None = None,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    """The headers a request body implies, and the stream that yields it.

    The first of these that is given wins: ``data`` that is not a mapping (taken
    as raw content), ``content``, ``files`` (multipart, with ``data`` as extra
    fields), ``data`` (form-urlencoded), ``json``. With none, there are no
    headers and the body is empty. The multipart boundary is `boundary` if
    given, else 32 hex digits from ``random_bytes`` (a client's, else
    ``sansio.env.current().random_bytes``).
    """
    if data is not None and not isinstance(data, Mapping):
        # requests' spelling of a raw body: accepted, with httpx's deprecation warning.
        warnings.warn(
            "Use 'content=<...>' to upload raw bytes/text content.",
            DeprecationWarning,
            stacklevel=2,
        )
        return encode_content(data)
    if content is not None:
        return encode_content(content)
    if files:
        if boundary is None:
            boundary = (random_bytes or env.current().random_bytes)(16).hex().encode("ascii")
        from .multipart import MultipartStream  # loaded by the first upload, not conch

        stream = MultipartStream(data or {}, files, boundary)
        return stream.get_headers(), stream
    if data:
        return encode_urlencoded_data(data)
    if json is not None:
        return encode_json(json)
    return {}, _EMPTY


def encode_response(
    content: ResponseContent | None = None,
    text: str | None = None,
    html: str | None = None,
    json: Any | None = None,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    """The headers a response body implies, and its stream (the first argument given wins)."""
    if content is not None:
        return encode_content(content)
    if text is not None:
        return _encode_text(text, "text/plain; charset=utf-8")
    if html is not None:
        return _encode_text(html, "text/html; charset=utf-8")
    if json is not None:
        return encode_json(json)
    return {}, _EMPTY


# The streams that may be one-shot: a request body is sent again only when
# ``not (isinstance(stream, ONE_SHOT_KINDS) and stream.is_consumed)`` (`sansio.flow`
# tests it inline, on every request). A tuple, not ``A | B``: that union would be built
# again at every test.
ONE_SHOT_KINDS = (IteratorByteStream, AsyncIteratorByteStream)
