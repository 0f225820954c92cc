"""`Request` and `Response`, with the API and behaviour of httpx 0.28.

Both are plain objects over a body stream that a shell (or the content encoders)
hands in; nothing here performs I/O. ``Response.iter_*`` iterate a `SyncByteStream`,
``Response.aiter_*`` an `AsyncByteStream`; whatever waiting that involves happens
inside the stream.

Differences from httpx, all on purpose:

- The method is checked at construction: it must be an RFC 9110 token, so CR, LF,
  spaces and NUL can never reach the request line (`LocalProtocolError`).
- Response bodies are decoded through `BodyDecoder` in bounded pieces:
  `Response.read` stops with `DecompressionLimitExceeded` once the decoded body passes
  `Response.max_decoded_size`, and streaming never holds more than one piece
  (`DECODE_PIECE_SIZE`, or the caller's ``chunk_size``) of decoded output at a time.
- ``chunk_size`` must be a positive integer or None (httpx quietly misbehaves on 0).
- A ``default_encoding`` callable is asked again once the body is read, instead of
  ``encoding`` staying "utf-8" forever after an early look.
- Text is decoded only with the codecs in `sansio.decoders.TEXT_ENCODINGS` (see there):
  a charset, or a detector's answer, naming another codec (utf-7, idna, rot13...) counts
  as unknown, and setting `Response.encoding` to one is a `LookupError`. utf-16 and
  utf-32 without a BOM decode as little-endian (httpx raises `UnicodeError`). `text` is
  decoded exactly as `iter_text` decodes, so the two always agree.
- ``iter_lines(max_line_length=...)`` raises `LineTooLong` past a line of
  `DEFAULT_MAX_LINE_LENGTH` characters (httpx holds a line of any length).
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from contextlib import aclosing

from ._typing_lite import TYPE_CHECKING, Any, TypeVar, cast
from .content import UnattachedStream, encode_request, encode_response
from .cookies import Cookies, CookieTypes
from .decoders import (
    DEFAULT_MAX_DECODED_SIZE,
    DEFAULT_MAX_LINE_LENGTH,
    BodyDecoder,
    ByteChunker,
    LineDecoder,
    TextChunker,
    TextDecoder,
    require_text_codec,
    text_codec,
)
from .exceptions import (
    DecompressionLimitExceeded,
    HTTPStatusError,
    LineTooLong,
    LocalProtocolError,
    RequestError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from .headers import (
    Headers,
    HeaderTypes,
    _validate,
    get_charset,
    parse_header_links,
    parse_header_params,
)
from .streams import AsyncByteStream, ByteStream, SyncByteStream
from .urls import URL, QueryParamTypes

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from ._types import (
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
        ResponseContent,
        ResponseExtensions,
    )
    from .env import Env

__all__ = ["DECODE_PIECE_SIZE", "Request", "Response"]

# Most decoded bytes handed out at once while streaming a compressed body (unless the
# caller asks for a chunk_size). 64 KiB matches httpx's and urllib3's read sizes: large
# enough that per-piece overhead vanishes next to decompression, small enough that a
# decompression bomb streams in harmless pieces. Read at call time, so assigning
# ``sansio.models.DECODE_PIECE_SIZE`` changes it; ``iter_bytes(chunk_size)`` overrides it.
DECODE_PIECE_SIZE = 64 * 1024

# RFC 9110 section 5.6.2: a method is a token (1*tchar).
_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Methods seen on nearly every request skip the character check.
_KNOWN_METHODS = {
    spelling: name
    for name in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
    for spelling in (name, name.lower())
}
# Methods that carry a body by convention get "Content-Length: 0" when they have none,
# as httpx does (some servers answer 411 Length Required otherwise).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Status codes whose Location header redirects (RFC 9110 section 15.4).
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_STATUS_KINDS = {
    1: "Informational response",
    3: "Redirect response",
    4: "Client error",
    5: "Server error",
}

# Bodies with no content share one stream: ByteStream is immutable and replayable.
_EMPTY_STREAM = ByteStream(b"")

_Stream = TypeVar("_Stream", SyncByteStream, AsyncByteStream)
_ASYNC_STREAM_READ_SYNC = (
    "This response has an async stream: use 'async for' with aiter_*() "
    "(or 'await response.aread()') instead."
)
_SYNC_STREAM_READ_ASYNC = (
    "This response has a sync stream: use iter_*() (or response.read()) instead."
)


def _method(method: str | bytes) -> str:
    """Upper-case and check an HTTP method."""
    known = _KNOWN_METHODS.get(method) if isinstance(method, str) else None
    if known is not None:
        return known
    if isinstance(method, bytes):
        method = method.decode("latin-1")
    elif not isinstance(method, str):
        raise TypeError(f"The method must be str or bytes, not {type(method).__name__}")
    # Check before upper-casing: str.upper() turns some non-ASCII letters into ASCII ones.
    if not method or not _TCHARS.issuperset(method):
        raise LocalProtocolError(
            f"Invalid HTTP method {method!r}: a method is one or more letters, digits or "
            "any of !#$%&'*+-.^_`|~ (RFC 9110 token), with no spaces or control characters"
        )
    return method.upper()


def _body_entries(
    headers: Headers, content_headers: dict[str, str], present: set[bytes]
) -> list[tuple[bytes, bytes, bytes]]:
    """The headers a body implies that `headers` (whose lower-cased names are
    ``present``, updated here) lacks, validated: caller-given headers win."""
    added: dict[str, str] = {}
    for name, value in content_headers.items():
        lower = name.lower().encode("ascii")
        # An explicit Content-Length wins over chunked framing.
        if lower in present or (lower == b"transfer-encoding" and b"content-length" in present):
            continue
        present.add(lower)
        added[name] = value
    return _validate(added.items(), headers._encoding) if added else []


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")


def _slices(content: bytes, chunk_size: int | None) -> Iterator[bytes]:
    if chunk_size is None or chunk_size >= len(content):
        if content:
            yield content
        return
    for start in range(0, len(content), chunk_size):
        yield content[start : start + chunk_size]


class _ContentAttribute:
    """httpx's ``_content``: the body once read, absent (AttributeError) before.

    Libraries built on httpx test for it with hasattr(), or delete it to make a body
    readable again from its stream (a mocking plugin does). conch keeps the body in
    ``_body`` (None until read); this descriptor shows it under httpx's name.
    """

    def __get__(self, owner: Request | Response | None, kind: type | None = None) -> Any:
        if owner is None:
            return self
        if owner._body is None:
            raise AttributeError("_content")
        return owner._body

    def __set__(self, owner: Request | Response, value: bytes) -> None:
        owner._body = value

    def __delete__(self, owner: Request | Response) -> None:
        owner._body = None


class Request:
    """An HTTP request: method, URL, headers, body stream and extensions."""

    method: str
    url: URL
    headers: Headers
    extensions: dict[str, Any]
    stream: SyncByteStream | AsyncByteStream
    _body: bytes | None  # the body, once read (httpx's `_content`)

    _content = _ContentAttribute()

    def __init__(
        self,
        method: str | bytes,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        extensions: RequestExtensions | None = None,
        env: Env | None = None,
    ) -> None:
        # ``env``: the world of the client building it (the cookies' clock, the multipart
        # boundary's randomness); None: `sansio.env.current()`.
        self.method = _method(method)
        if params is not None:
            self.url = URL(url, params=params)
        elif isinstance(url, URL):
            self.url = url  # URLs are immutable: no need to copy, let alone re-parse
        else:
            self.url = URL(url)
        self.headers = Headers(headers)
        self.extensions = {} if extensions is None else dict(extensions)
        self._body = None

        if cookies:
            now = None if env is None else env.wall_clock()
            Cookies(cookies).set_cookie_header(self, now=now)

        if stream is not None:
            # A stream given as is (a copy for a redirect, or a server-side request)
            # gets no automatic headers at all, as in httpx.
            self.stream = stream
            return
        if content is None and data is None and files is None and json is None:
            self._prepare({})
            self.stream = _EMPTY_STREAM
            self._body = b""
            return
        content_headers, body = encode_request(
            content=content,
            data=data,
            files=files,
            json=json,
            boundary=self._boundary() if files else None,
            random_bytes=None if env is None else env.random_bytes,
        )
        self._prepare(content_headers)
        self.stream = body
        if isinstance(body, ByteStream):
            # Bodies already in memory are loaded now; streaming ones wait for read().
            self.read()

    @classmethod
    def _without_body(
        cls, method: str, url: URL, headers: Headers, extensions: dict[str, Any]
    ) -> Request:
        """A request with no body whose ``headers`` are complete (those `_prepare` adds
        included): a client's request built again from the same headers. ``method`` is
        upper-case and checked, and ``headers`` and ``extensions`` are made for it
        (adopted, not copied). The state is `__init__`'s (a test compares the two)."""
        self = cls.__new__(cls)
        self.method = method
        self.url = url
        self.headers = headers
        self.extensions = extensions
        self._body = b""
        self.stream = _EMPTY_STREAM
        return self

    def _boundary(self) -> bytes | None:
        """The multipart boundary the caller chose in a Content-Type header, if any."""
        content_type = self.headers.get("content-type")
        if not content_type:
            return None
        main, params = parse_header_params(content_type)
        if main.lower() != "multipart/form-data":
            return None
        boundary = params.get("boundary")
        return boundary.encode("latin-1") if boundary else None

    def _prepare(self, content_headers: dict[str, str]) -> None:
        """Add the headers the body implies, then Host and Content-Length: 0 in front.

        Caller-given headers win. `self.headers` is this request's own (`__init__` built
        it), so the entries, validated here or already, are added to it in one go rather
        than by repeated `Headers.setdefault` calls.
        """
        headers = self.headers
        present = {lower for _, lower, _ in headers._list}
        added = _body_entries(headers, content_headers, present) if content_headers else []
        auto: list[tuple[bytes, bytes, bytes]] = []
        url = self.url
        if b"host" not in present and url._uhost:
            # The URL parser has already checked every byte of the netloc.
            auto.append((b"Host", b"host", url._netloc().encode("ascii")))
        if (
            self.method in _BODY_METHODS
            and b"content-length" not in present
            and b"transfer-encoding" not in present
        ):
            auto.append((b"Content-Length", b"content-length", b"0"))
        if auto or added:
            # Automatic headers go first, as httpx (and browsers) send them.
            headers._add_validated(auto, added)

    @property
    def content(self) -> bytes:
        """The request body; `RequestNotRead` for streaming content not yet read."""
        if self._body is None:
            raise RequestNotRead()
        return self._body

    def read(self) -> bytes:
        """Read the whole body into memory (from a sync stream) and return it."""
        if self._body is None:
            stream = self.stream
            if not isinstance(stream, Iterable):
                raise RuntimeError(
                    "This request's body is an async stream: use 'await request.aread()'."
                )
            self._body = b"".join(stream)
            if not isinstance(stream, ByteStream):
                # Keep the body replayable (redirects, auth retries), even when the
                # original stream was a one-shot generator.
                self.stream = ByteStream(self._body)
        return self._body

    async def aread(self) -> bytes:
        """Read the whole body into memory (from an async stream) and return it.

        On cancellation, the part read so far is dropped and the stream is left as is.
        """
        if self._body is None:
            stream = self.stream
            if not isinstance(stream, AsyncIterable):
                raise RuntimeError("This request's body is a sync stream: use 'request.read()'.")
            self._body = b"".join([part async for part in stream])
            if not isinstance(stream, ByteStream):
                self.stream = ByteStream(self._body)
        return self._body

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.method!r}, {str(self.url)!r})>"

    def __getstate__(self) -> dict[str, Any]:
        # Streams and extensions hold live resources (sockets, callbacks): not pickled.
        return {k: v for k, v in self.__dict__.items() if k not in ("extensions", "stream")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.extensions = {}
        self.stream = UnattachedStream()


class Response:
    """An HTTP response: status, headers, a body stream, and the request it answers."""

    status_code: int
    headers: Headers
    extensions: dict[str, Any]
    history: list[Response]
    is_closed: bool
    is_stream_consumed: bool
    default_encoding: str | Callable[[bytes], str]
    max_decoded_size: int | None
    stream: SyncByteStream | AsyncByteStream
    _body: bytes | None  # the body, once read (httpx's `_content`)

    # What a new response has not worked out yet, as class attributes: a response is
    # built for every request, and these are set on it only once known.
    next_request: Request | None = None  # set by the client when it does not follow a redirect
    _text: str | None = None
    _encoding: str | None = None
    _cookies: Cookies | None = None
    _elapsed: datetime.timedelta | float | None = None
    _timer: tuple[Callable[[], float], float] | None = None  # see `_time_until_closed`
    _trailers: Headers | None = None
    _informational: list[Response] | None = None
    _informational_delivered = 0  # how many of those the engine handed out as they came

    _content = _ContentAttribute()

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes | None = None,
        content: ResponseContent | None = None,
        text: str | None = None,
        html: str | None = None,
        json: Any = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        request: Request | None = None,
        extensions: ResponseExtensions | None = None,
        history: list[Response] | None = None,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self._request = request
        self.extensions = {} if extensions is None else dict(extensions)
        self.history = [] if history is None else list(history)
        self.is_closed = False
        self.is_stream_consumed = False
        self.default_encoding = default_encoding
        # Cap on the decoded size of a body read into memory; None disables it.
        self.max_decoded_size = DEFAULT_MAX_DECODED_SIZE
        self._body = None
        self._num_bytes_downloaded = 0

        if stream is not None:
            # A stream from a transport: its headers are the server's, untouched.
            self.stream = stream
            return
        if content is None and text is None and html is None and json is None:
            # No body: the state reading an empty in-memory stream would leave.
            self.stream = _EMPTY_STREAM
            self._body = b""
            self.is_stream_consumed = True
            self.is_closed = True
            return
        content_headers, body = encode_response(content, text, html, json)
        if content_headers:
            headers = self.headers
            present = {lower for _, lower, _ in headers._list}
            added = _body_entries(headers, content_headers, present)
            if added:
                headers._add_validated([], added)
        self.stream = body
        if isinstance(body, ByteStream):
            # In-memory content is loaded (and decoded) now; only bytes that came over a
            # network count as downloaded, as in httpx.
            self.read()
            self._num_bytes_downloaded = 0

    @classmethod
    def _from_transport(
        cls,
        status_code: int,
        headers: Headers,
        stream: SyncByteStream | AsyncByteStream,
        request: Request,
        extensions: dict[str, Any],
    ) -> Response:
        """A response a transport built for one request: ``headers`` and ``extensions``
        are made for it, so they are adopted, not copied; its body comes from ``stream``.
        The state is `__init__`'s with a ``stream`` (a test compares the two)."""
        self = cls.__new__(cls)
        self.status_code = status_code
        self.headers = headers
        self._request = request
        self.extensions = extensions
        self.history = []
        self.is_closed = False
        self.is_stream_consumed = False
        self.default_encoding = "utf-8"
        self.max_decoded_size = DEFAULT_MAX_DECODED_SIZE
        self._body = None
        self._num_bytes_downloaded = 0
        self.stream = stream
        return self

    # -- metadata ----------------------------------------------------------------------

    @property
    def trailers(self) -> Headers:
        """The trailer fields that ended the body (HTTP/1.1 chunked, HTTP/2): empty until
        the body has been read to its end, or when the server sent none."""
        trailers = self._trailers
        if trailers is None:
            trailers = self._trailers = Headers()
        return trailers

    @property
    def informational(self) -> list[Response]:
        """The 1xx informational responses (100 Continue, 103 Early Hints...) that came
        before this one, in order: each a body-less `Response` with its headers."""
        informational = self._informational
        if informational is None:
            informational = self._informational = []
        return informational

    def _add_trailers(self, fields: list[tuple[bytes, bytes]]) -> None:
        """The body ended with these trailer fields (already validated by the wire
        machine); for the transport."""
        self.trailers._list += Headers._from_validated(fields)._list

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request to closing the response (set by the shell)."""
        elapsed = self._elapsed
        if elapsed is None:
            raise RuntimeError(
                "response.elapsed is only known once the response has been read or closed."
            )
        if isinstance(elapsed, float):
            # Kept in seconds until asked for: most programs never look, and then
            # `datetime` is neither imported nor called.
            import datetime

            elapsed = self._elapsed = datetime.timedelta(seconds=elapsed)
        return elapsed

    @elapsed.setter
    def elapsed(self, elapsed: datetime.timedelta) -> None:
        # The core has no clock: the shell measures and sets this when it closes.
        self._elapsed = elapsed

    def _time_until_closed(self, clock: Callable[[], float], start: float) -> None:
        """For the shells: `elapsed` becomes ``clock() - start`` when the body is closed.

        The shell's clock, kept here instead of in a stream wrapped around the body: no
        layer on every read, and no reference cycle through the response.
        """
        self._timer = (clock, start)

    @property
    def request(self) -> Request:
        """The request this response answers (RuntimeError if none was attached)."""
        if self._request is None:
            raise RuntimeError("This response has no request attached (set response.request).")
        return self._request

    @request.setter
    def request(self, value: Request) -> None:
        self._request = value

    @property
    def http_version(self) -> str:
        """``"HTTP/1.1"``, ``"HTTP/2"``... from the transport (default ``"HTTP/1.1"``)."""
        version = self.extensions.get("http_version")
        if version is None:
            return "HTTP/1.1"
        if isinstance(version, bytes):
            return version.decode("ascii", errors="ignore")
        return str(version)

    @property
    def reason_phrase(self) -> str:
        """The reason phrase the server sent, else the standard one for the status code."""
        phrase = self.extensions.get("reason_phrase")
        if phrase is None:
            from .status import codes  # loaded on first use: see `sansio.__getattr__`

            return codes.get_reason_phrase(self.status_code)
        if isinstance(phrase, bytes):
            return phrase.decode("ascii", errors="ignore")
        return str(phrase)

    @property
    def url(self) -> URL:
        """The URL of the request this response answers."""
        return self.request.url

    @property
    def num_bytes_downloaded(self) -> int:
        """Raw (still encoded) body bytes received from the stream so far."""
        return self._num_bytes_downloaded

    # -- body and text -----------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The decoded body; `ResponseNotRead` for a streaming response not yet read."""
        if self._body is None:
            raise ResponseNotRead()
        return self._body

    @property
    def text(self) -> str:
        """The body decoded to text with `encoding` (undecodable bytes become U+FFFD)."""
        if self._text is None:
            content = self.content
            # The same decoder as iter_text(): the same answer for any codec.
            self._text = TextDecoder(self.encoding).decode(content, final=True) if content else ""
        return self._text

    @property
    def encoding(self) -> str:
        """The codec for `text`: set explicitly, else the Content-Type charset, else
        ``default_encoding`` (a codec name, or a callable given the body once read)."""
        if self._encoding is not None:
            return self._encoding
        encoding = self.charset_encoding
        if encoding is not None:
            self._encoding = encoding
            return encoding
        default = self.default_encoding
        if isinstance(default, str):
            encoding = default
        elif self._body is None:
            # A detector needs the body; until it is read, guess without caching.
            return "utf-8"
        else:
            # A detector reads the server's bytes: its answer is the server's choice,
            # and it may be None or something that is not a text codec.
            detected = default(self._body)
            encoding = detected if text_codec(detected) else "utf-8"
        self._encoding = encoding
        return encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        if self._text is not None:
            raise ValueError("The encoding cannot change once .text has been accessed.")
        require_text_codec(value)
        self._encoding = value

    @property
    def charset_encoding(self) -> str | None:
        """The charset named by the Content-Type header, if conch decodes text with it."""
        charset = get_charset(self.headers.get("content-type"))
        return charset if text_codec(charset) else None

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (``kwargs`` go to `json.loads`)."""
        import json  # on first use: import time is a feature

        return json.loads(self.content, **kwargs)

    @property
    def cookies(self) -> Cookies:
        """The cookies this response sets."""
        if self._cookies is None:
            cookies = Cookies()
            cookies.extract_cookies(self)
            self._cookies = cookies
        return self._cookies

    @property
    def links(self) -> dict[str | None, dict[str, str]]:
        """The Link header, keyed by each link's ``rel`` (or its URL when it has none)."""
        header = self.headers.get("link")
        if header is None:
            return {}
        return {(link.get("rel") or link.get("url")): link for link in parse_header_links(header)}

    # -- status ------------------------------------------------------------------------

    @property
    def is_informational(self) -> bool:
        """True for 1xx."""
        return 100 <= self.status_code <= 199

    @property
    def is_success(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status_code <= 299

    @property
    def is_redirect(self) -> bool:
        """True for 3xx (see `has_redirect_location` for a followable redirect)."""
        return 300 <= self.status_code <= 399

    @property
    def is_client_error(self) -> bool:
        """True for 4xx."""
        return 400 <= self.status_code <= 499

    @property
    def is_server_error(self) -> bool:
        """True for 5xx."""
        return 500 <= self.status_code <= 599

    @property
    def is_error(self) -> bool:
        """True for 4xx and 5xx."""
        return 400 <= self.status_code <= 599

    @property
    def has_redirect_location(self) -> bool:
        """True for a 301, 302, 303, 307 or 308 that carries a Location header."""
        return self.status_code in _REDIRECT_CODES and "location" in self.headers

    def raise_for_status(self) -> Response:
        """Return this response if it is a 2xx; raise `HTTPStatusError` otherwise.

        The message is httpx's, word for word: programs and tests match on it.
        """
        request = self._request
        if request is None:
            raise RuntimeError(
                "Cannot call `raise_for_status` as the request "
                "instance has not been set on this response."
            )
        status = self.status_code
        if 200 <= status <= 299:
            return self
        kind = _STATUS_KINDS.get(status // 100, "Invalid status code")
        message = f"{kind} '{status} {self.reason_phrase}' for url '{request.url}'\n"
        if self.has_redirect_location:
            message += f"Redirect location: '{self.headers['location']}'\n"
        message += (
            "For more information check: "
            f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}"
        )
        raise HTTPStatusError(message, request=request, response=self)

    # -- decoding ----------------------------------------------------------------------

    def _decoder(
        self, max_decoded_size: int | None, values: list[bytes] | None = None
    ) -> BodyDecoder | None:
        """A decoder for the Content-Encoding, or None when the body is sent as is.

        ``values``: the Content-Encoding values when the caller has read them already.
        """
        if values is None:
            values = self.headers._raw_values(b"content-encoding")
        if not values:
            return None
        try:
            decoder = BodyDecoder(
                [value.decode("latin-1") for value in values], max_decoded_size=max_decoded_size
            )
        except RequestError as exc:  # too many chained encodings
            self._attach(exc)
            raise
        return None if decoder.is_identity else decoder

    def _attach(self, exc: RequestError) -> None:
        if self._request is not None:
            exc.request = self._request

    def _claim_stream(self, kind: type[_Stream], wrong_kind: str) -> _Stream:
        """The body stream, taken for the one read it allows (see `iter_raw`)."""
        if self.is_stream_consumed:
            raise StreamConsumed()
        if self.is_closed:
            raise StreamClosed()
        stream = self.stream
        if not isinstance(stream, kind):
            raise RuntimeError(wrong_kind)
        self.is_stream_consumed = True
        self._num_bytes_downloaded = 0
        return stream

    # -- sync body ---------------------------------------------------------------------

    def read(self) -> bytes:
        """Read and decode the whole body, close the stream, and return the body.

        Raises `DecompressionLimitExceeded` once the decoded body (or a body that is
        not content-encoded) passes `max_decoded_size`.
        """
        if self._body is not None:
            return self._body
        limit = self.max_decoded_size
        # (Most bodies are sent as is: no decoder to ask for.)
        encoded = self.headers._raw_values(b"content-encoding")
        decoder = self._decoder(limit, encoded) if encoded else None
        if decoder is not None:
            self._body = b"".join(self._iter_decoded(decoder, None))
            return self._body
        # A body sent as is: ``b"".join(self.iter_raw())`` without a generator, stopping
        # once it passes ``limit`` (a body built in memory is not limited: it is in memory
        # already). Nothing is read past the chunk that crosses the limit.
        if isinstance(self.stream, ByteStream):
            limit = None
        stream = self._claim_stream(SyncByteStream, _ASYNC_STREAM_READ_SYNC)
        parts: list[bytes] = []
        size = 0
        try:
            for raw in stream:
                if raw:
                    size += len(raw)
                    self._num_bytes_downloaded = size
                    if limit is not None and size > limit:
                        raise self._past_limit(limit)
                    parts.append(raw)
        except RequestError as exc:
            self._attach(exc)
            raise
        self.close()
        body = self._body = b"".join(parts)
        return body

    def _past_limit(self, limit: int) -> DecompressionLimitExceeded:
        exc = DecompressionLimitExceeded(
            f"The response body is larger than max_decoded_size={limit} bytes. Raise "
            "max_decoded_size, or set it to None to remove the limit, if this response "
            "is trusted."
        )
        self._attach(exc)
        return exc

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The decoded body, in pieces of ``chunk_size`` bytes (the last may be shorter).

        Without ``chunk_size``, pieces come as they arrive (decoded ones at most
        `DECODE_PIECE_SIZE` bytes each).
        """
        _check_chunk_size(chunk_size)
        if self._body is not None:
            yield from _slices(self._body, chunk_size)
            return
        decoder = self._decoder(None)
        if decoder is None:
            yield from self.iter_raw(chunk_size)
        else:
            yield from self._iter_decoded(decoder, chunk_size)

    def _iter_decoded(self, decoder: BodyDecoder, chunk_size: int | None) -> Iterator[bytes]:
        piece = chunk_size or DECODE_PIECE_SIZE
        chunker = None if chunk_size is None else ByteChunker(chunk_size)
        raw_chunks = cast("Generator[bytes, None, None]", self.iter_raw())
        try:
            while True:
                # None marks the end of the body; it goes through the same drain loop.
                raw = next(raw_chunks, None)
                if raw is None:
                    decoder.feed_eof()
                else:
                    decoder.feed(raw)
                # Drain in bounded pieces: one raw chunk may inflate enormously.
                while out := decoder.read(piece):
                    if chunker is None:
                        yield out
                    else:
                        yield from chunker.decode(out)
                if raw is None:
                    break
        except RequestError as exc:
            self._attach(exc)
            raise
        finally:
            # On an error or an abandoned iteration, finish the stream's iterator now
            # rather than whenever it is garbage collected.
            raw_chunks.close()
        if chunker is not None:
            yield from chunker.flush()

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body as text decoded with `encoding`, in pieces of ``chunk_size`` characters."""
        _check_chunk_size(chunk_size)
        decoder = TextDecoder(self.encoding)
        chunker = TextChunker(chunk_size)
        for data in self.iter_bytes():
            yield from chunker.decode(decoder.decode(data))
        yield from chunker.decode(decoder.flush())
        yield from chunker.flush()

    def iter_lines(self, *, max_line_length: int | None = DEFAULT_MAX_LINE_LENGTH) -> Iterator[str]:
        """The body as text, one line at a time, without line endings.

        A line longer than ``max_line_length`` characters raises `LineTooLong`
        (None: no limit).
        """
        decoder = LineDecoder(max_line_length)
        try:
            for text in self.iter_text():
                yield from decoder.decode(text)
        except LineTooLong as exc:
            self._attach(exc)
            raise
        yield from decoder.flush()

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body exactly as received (still content-encoded); closes the stream at its end."""
        _check_chunk_size(chunk_size)
        stream = self._claim_stream(SyncByteStream, _ASYNC_STREAM_READ_SYNC)
        try:
            if chunk_size is None:
                for raw in stream:
                    if raw:
                        self._num_bytes_downloaded += len(raw)
                        yield raw
            else:
                chunker = ByteChunker(chunk_size)
                for raw in stream:
                    self._num_bytes_downloaded += len(raw)
                    yield from chunker.decode(raw)
                yield from chunker.flush()
        except RequestError as exc:
            self._attach(exc)
            raise
        self.close()

    def close(self) -> None:
        """Close the stream, releasing the connection. Called by a complete read."""
        stream = self.stream
        if not isinstance(stream, SyncByteStream):
            raise RuntimeError("This response has an async stream: use 'await response.aclose()'.")
        if not self.is_closed:
            self.is_closed = True
            timer = self._timer
            if timer is not None:
                self._timer = None
                self._elapsed = timer[0]() - timer[1]
            try:
                stream.close()
            except RequestError as exc:
                self._attach(exc)
                raise

    def drain(self, limit: int) -> None:
        """Throw the body away unread: at most `limit` raw bytes, never decoded; then close.

        Used for redirect bodies. A body within `limit` is read to its end so the
        connection can be reused; a longer one is cut off (its connection is then
        closed, not reused). An unencoded body read in full stays available as `content`.
        """
        parts: list[bytes] = []
        complete = self._drainable()
        if complete:
            raw_chunks = cast("Generator[bytes, None, None]", self.iter_raw())
            try:
                complete = _collect(raw_chunks, parts, limit)
            finally:
                raw_chunks.close()
        self.close()
        self._keep_drained(parts, complete)

    def _drainable(self) -> bool:
        return self._body is None and not self.is_stream_consumed and not self.is_closed

    def _keep_drained(self, parts: list[bytes], complete: bool) -> None:
        if complete and not self.headers._raw_values(b"content-encoding"):
            self._body = b"".join(parts)

    # -- async body --------------------------------------------------------------------

    async def aread(self) -> bytes:
        """Read and decode the whole body, close the stream, and return the body.

        Raises `DecompressionLimitExceeded` once the decoded body passes
        `max_decoded_size`. On cancellation the part read so far is dropped and the
        stream is left open (close it with `aclose`).
        """
        if self._body is not None:
            return self._body
        limit = self.max_decoded_size
        # (Most bodies are sent as is: no decoder to ask for.)
        encoded = self.headers._raw_values(b"content-encoding")
        decoder = self._decoder(limit, encoded) if encoded else None
        if decoder is not None:
            parts = [part async for part in self._aiter_decoded(decoder, None)]
            self._body = b"".join(parts)
            return self._body
        # A body sent as is: `read`'s loop, awaiting. Here rather than in a coroutine of
        # its own, and with no async generator or comprehension: each cost more than the
        # rest of reading a small body.
        if isinstance(self.stream, ByteStream):
            limit = None
        stream = self._claim_stream(AsyncByteStream, _SYNC_STREAM_READ_ASYNC)
        parts = []
        size = 0
        iterator = aiter(stream)
        try:
            async for raw in iterator:
                if raw:
                    size += len(raw)
                    self._num_bytes_downloaded = size
                    if limit is not None and size > limit:
                        raise self._past_limit(limit)
                    parts.append(raw)
        except BaseException as exc:
            if isinstance(exc, RequestError):
                self._attach(exc)
            # As in `aiter_raw`: the stream's own iterator is closed now. Only here: run
            # to its end it holds nothing, and `aclose` below closes the stream (closing
            # both would end a conch response's exchange twice).
            await _aclose_iterator(iterator)
            raise
        await self.aclose()
        body = self._body = b"".join(parts)
        return body

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The decoded body, in pieces of ``chunk_size`` bytes (the last may be shorter).

        Without ``chunk_size``, pieces come as they arrive (decoded ones at most
        `DECODE_PIECE_SIZE` bytes each).
        """
        _check_chunk_size(chunk_size)
        if self._body is not None:
            for part in _slices(self._body, chunk_size):
                yield part
            return
        decoder = self._decoder(None)
        inner = cast(
            "AsyncGenerator[bytes, None]",
            self.aiter_raw(chunk_size)
            if decoder is None
            else self._aiter_decoded(decoder, chunk_size),
        )
        # Closed explicitly when the caller stops early: an async generator left to the
        # garbage collector warns under trio and holds the connection until then.
        async with aclosing(inner) as parts:
            async for part in parts:
                yield part

    async def _aiter_decoded(
        self, decoder: BodyDecoder, chunk_size: int | None
    ) -> AsyncIterator[bytes]:
        piece = chunk_size or DECODE_PIECE_SIZE
        chunker = None if chunk_size is None else ByteChunker(chunk_size)
        raw_chunks = cast("AsyncGenerator[bytes, None]", self.aiter_raw())
        try:
            while True:
                raw = await anext(raw_chunks, None)
                if raw is None:
                    decoder.feed_eof()
                else:
                    decoder.feed(raw)
                while out := decoder.read(piece):
                    if chunker is None:
                        yield out
                    else:
                        for part in chunker.decode(out):
                            yield part
                if raw is None:
                    break
        except RequestError as exc:
            self._attach(exc)
            raise
        finally:
            # Async generators left open are finalized at the event loop's leisure
            # (trio warns about them): close this one now.
            await raw_chunks.aclose()
        if chunker is not None:
            for part in chunker.flush():
                yield part

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """The body as text decoded with `encoding`, in pieces of ``chunk_size`` characters."""
        _check_chunk_size(chunk_size)
        decoder = TextDecoder(self.encoding)
        chunker = TextChunker(chunk_size)
        async with aclosing(cast("AsyncGenerator[bytes, None]", self.aiter_bytes())) as pieces:
            async for data in pieces:
                for text in chunker.decode(decoder.decode(data)):
                    yield text
        for text in chunker.decode(decoder.flush()):
            yield text
        for text in chunker.flush():
            yield text

    async def aiter_lines(
        self, *, max_line_length: int | None = DEFAULT_MAX_LINE_LENGTH
    ) -> AsyncIterator[str]:
        """The body as text, one line at a time, without line endings.

        A line longer than ``max_line_length`` characters raises `LineTooLong`
        (None: no limit).
        """
        decoder = LineDecoder(max_line_length)
        async with aclosing(cast("AsyncGenerator[str, None]", self.aiter_text())) as texts:
            try:
                async for text in texts:
                    for line in decoder.decode(text):
                        yield line
            except LineTooLong as exc:
                self._attach(exc)
                raise
        for line in decoder.flush():
            yield line

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body exactly as received (still content-encoded); closes the stream at its end.

        On cancellation the stream is left open (close it with `aclose`).
        """
        _check_chunk_size(chunk_size)
        stream = self._claim_stream(AsyncByteStream, _SYNC_STREAM_READ_ASYNC)
        iterator = aiter(stream)
        ended = False  # the stream's iterator ran to its end
        try:
            if chunk_size is None:
                async for raw in iterator:
                    if raw:
                        self._num_bytes_downloaded += len(raw)
                        yield raw
                ended = True
            else:
                chunker = ByteChunker(chunk_size)
                async for raw in iterator:
                    self._num_bytes_downloaded += len(raw)
                    for part in chunker.decode(raw):
                        yield part
                ended = True
                for part in chunker.flush():
                    yield part
        except RequestError as exc:
            self._attach(exc)
            raise
        finally:
            # If this generator is closed early (or fails), close the stream's own
            # iterator now too, instead of leaving it to the event loop's garbage
            # collection hooks. Only then: run to its end it holds nothing, and `aclose`
            # below closes the stream (both would end a conch response's exchange twice).
            if not ended:
                await _aclose_iterator(iterator)
        await self.aclose()

    async def aclose(self) -> None:
        """Close the stream, releasing the connection. Called by a complete read.

        On cancellation the response counts as closed; the stream's own `aclose`
        decides what is left behind.
        """
        stream = self.stream
        if not isinstance(stream, AsyncByteStream):
            raise RuntimeError("This response has a sync stream: use 'response.close()'.")
        if not self.is_closed:
            self.is_closed = True
            timer = self._timer
            if timer is not None:
                self._timer = None
                self._elapsed = timer[0]() - timer[1]
            try:
                await stream.aclose()
            except RequestError as exc:
                self._attach(exc)
                raise

    async def adrain(self, limit: int) -> None:
        """Throw the body away unread: at most `limit` raw bytes, never decoded; then close.

        The async twin of `drain`.
        """
        parts: list[bytes] = []
        complete = self._drainable()
        if complete:
            raw_chunks = cast("AsyncGenerator[bytes, None]", self.aiter_raw())
            try:
                complete = False
                total = 0
                async for raw in raw_chunks:
                    total += len(raw)
                    if total > limit:
                        break
                    parts.append(raw)
                else:
                    complete = True
            finally:
                await raw_chunks.aclose()
        await self.aclose()
        self._keep_drained(parts, complete)

    # -- display and pickling ----------------------------------------------------------

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code} {self.reason_phrase}]>"

    def __getstate__(self) -> dict[str, Any]:
        # Streams and extensions hold live resources; a restored response is closed.
        return {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("extensions", "stream", "is_closed", "_timer")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.is_closed = True
        self.extensions = {}
        self.stream = UnattachedStream()


async def _aclose_iterator(iterator: AsyncIterator[bytes]) -> None:
    """Close an async iterator that can be closed (an async generator, a transport's body)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _collect(chunks: Iterator[bytes], parts: list[bytes], limit: int) -> bool:
    """Append chunks to `parts` until more than `limit` bytes; False if cut off."""
    total = 0
    for raw in chunks:
        total += len(raw)
        if total > limit:
            return False
        parts.append(raw)
    return True
