"""multipart/form-data request bodies (RFC 7578), streamed in bounded reads.

`MultipartStream` renders every part's headers and every in-memory value once,
when it is built; only file objects are read while the body is sent, and never
more than `CHUNK_SIZE` bytes at a time. A seekable file is rewound before each
pass, so the same body can be sent again (a 307/308 redirect, an auth retry);
a body holding a file that cannot seek can be sent once.

Behaviour follows httpx 0.28, with these deliberate differences:

- (the same as httpx) field names and filenames are escaped as httpx's "HTML5 form
  encoding" does: ``"`` -> ``%22``, ``\\`` doubled, and every C0 control but ESC as
  ``%XX`` (browsers escape only ``"``, CR and LF), so no name can end the quoted
  parameter, start a new header line or carry a NUL;
- a part's extra headers and content type are checked (a CR, LF or NUL raises
  `LocalProtocolError`), and the caller's header mapping is not modified;
- the content type of a file is guessed from a small built-in table, not from
  `mimetypes` (which reads system files when first used);
- the filename taken from a file object's ``name`` drops the directories written
  with ``/`` or ``\\`` alike, so a Windows path never leaks;
- a non-seekable file is sent with ``Transfer-Encoding: chunked`` and makes the
  body one-shot: sending it again raises `StreamConsumed` instead of sending an
  empty file.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import LocalProtocolError, StreamConsumed
from .streams import (
    CHUNK_SIZE,
    AsyncByteStream,
    SyncByteStream,
    check_chunk_size,
    read_chunks,
    seekable_span,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._types import RequestData, RequestFiles

__all__ = ["CHUNK_SIZE", "MAX_BOUNDARY_LENGTH", "MultipartStream", "guess_content_type"]


# RFC 2046 section 5.1.1: a boundary has 1 to 70 characters. This is a rule of
# the format rather than a resource policy, so it is not adjustable per call.
MAX_BOUNDARY_LENGTH = 70

_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 2046 `bchars`; a space is allowed, but not as the last character.
_BOUNDARY_CHARS = _ALNUM + b"'()+_,-./:=? "
# The boundary characters that are not RFC 9110 `tchar`s need the Content-Type
# parameter quoted.
_BOUNDARY_NEEDS_QUOTES = b"(),/:=? "
# RFC 9110 `tchar`: what a header name may be made of.
_TCHARS = frozenset((_ALNUM + b"!#$%&'*+-.^_`|~").decode("ascii"))

# Names and filenames inside the quoted Content-Disposition parameters: httpx's
# table (WHATWG HTML's ``"``, CR and LF, plus the backslash and the other C0 controls;
# ESC stays as it is, as in httpx).
_PARAM_ESCAPES = str.maketrans(
    {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
)

# Content types by lower-cased filename extension, as the common system tables
# (/etc/mime.types, IANA) give them. A filename with no known extension gets
# application/octet-stream.
CONTENT_TYPES: Mapping[str, str] = {
    "css": "text/css",
    "csv": "text/csv",
    "gif": "image/gif",
    "gz": "application/gzip",
    "htm": "text/html",
    "html": "text/html",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "js": "text/javascript",
    "json": "application/json",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "pdf": "application/pdf",
    "png": "image/png",
    "svg": "image/svg+xml",
    "tar": "application/x-tar",
    "txt": "text/plain",
    "webp": "image/webp",
    "xml": "application/xml",
    "zip": "application/zip",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def guess_content_type(filename: str) -> str:
    """The content type for `filename`, judged by its extension alone."""
    stem, dot, extension = filename.rpartition(".")
    if not dot or not stem:
        return DEFAULT_CONTENT_TYPE
    return CONTENT_TYPES.get(extension.lower(), DEFAULT_CONTENT_TYPE)


class _FileSource:
    """A file object in the body: its size if it can seek, and how to read it again."""

    __slots__ = ("file", "length")

    def __init__(self, file: Any) -> None:
        self.file = file
        span = seekable_span(file)
        # httpx sends the whole file from its start, wherever it was left.
        self.length = None if span is None else span[1]

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        if self.length is not None:
            self.file.seek(0)
        return read_chunks(self.file.read, chunk_size)


def _param(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"Invalid type for {name}. Expected str, got {type(value)}: {value!r}")
    return b'; %s="%s"' % (name.encode("ascii"), value.translate(_PARAM_ESCAPES).encode())


def _header_line(name: object, value: object) -> bytes:
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(
            "Multipart part headers must map str to str, not "
            f"{type(name).__name__} to {type(value).__name__}."
        )
    if not name or not _TCHARS.issuperset(name):
        raise LocalProtocolError(f"Invalid header name in a multipart part: {name!r}")
    if "\r" in value or "\n" in value or "\0" in value:
        raise LocalProtocolError(
            f"Header value for {name!r} in a multipart part contains CR, LF or NUL: {value!r}"
        )
    return b"\r\n%s: %s" % (name.encode("ascii"), value.encode())


def _field_value(value: object) -> bytes:
    # JSON-style spellings for True/False/None, as httpx does for form data.
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if value is None:
        return b""
    if isinstance(value, int | float):
        return str(value).encode("ascii")
    raise TypeError(
        f"Invalid type for value. Expected primitive type, got {type(value)}: {value!r}"
    )


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rpartition("/")[2]


def _file_part(name: str, value: object) -> tuple[bytes, bytes | _FileSource]:
    """The rendered part head (up to the blank line) and the part's content."""
    filename: object
    content: object
    content_type: object = None
    headers: object = None
    if isinstance(value, tuple):
        if not 2 <= len(value) <= 4:
            raise TypeError(
                "A file tuple is (filename, file), (filename, file, content_type) or "
                f"(filename, file, content_type, headers), not {len(value)} items."
            )
        filename, content, *rest = value
        if rest:
            content_type = rest[0]
        if len(rest) == 2:
            headers = rest[1]
    else:
        filename, content = _basename(str(getattr(value, "name", "upload"))), value

    head = [b"Content-Disposition: form-data", _param("name", name)]
    if filename is not None and filename != "":
        head.append(_param("filename", filename))
        if content_type is None:
            content_type = guess_content_type(str(filename))
    has_content_type = False
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise TypeError(f"File part headers must be a mapping, not {type(headers).__name__}.")
        for key, header_value in headers.items():
            head.append(_header_line(key, header_value))
            has_content_type = has_content_type or key.lower() == "content-type"
    # As in httpx, a Content-Type in the headers wins over the tuple's content type.
    if content_type is not None and not has_content_type:
        head.append(_header_line("Content-Type", content_type))
    head.append(b"\r\n\r\n")

    body: bytes | _FileSource
    if isinstance(content, bytes):
        body = content
    elif isinstance(content, str):
        body = content.encode()
    elif isinstance(content, io.StringIO):  # httpx's two messages
        raise TypeError("Multipart file uploads require 'io.BytesIO', not 'io.StringIO'.")
    elif isinstance(content, io.TextIOBase):
        raise TypeError("Multipart file uploads must be opened in binary mode, not text mode.")
    elif callable(getattr(content, "read", None)):
        body = _FileSource(content)
    else:
        raise TypeError(
            "A multipart file must be bytes, str or a file object opened in binary mode, "
            f"not {type(content).__name__}."
        )
    return b"".join(head), body


def _check_boundary(boundary: object) -> bytes:
    if not isinstance(boundary, bytes):
        raise TypeError(f"The multipart boundary must be bytes, not {type(boundary).__name__}.")
    if (
        not 0 < len(boundary) <= MAX_BOUNDARY_LENGTH
        or boundary.translate(None, _BOUNDARY_CHARS)
        or boundary.endswith(b" ")
    ):
        raise ValueError(
            f"Invalid multipart boundary {boundary!r}: RFC 2046 allows 1 to "
            f"{MAX_BOUNDARY_LENGTH} letters, digits and '()+_,-./:=? characters, "
            "not ending in a space."
        )
    return boundary


class MultipartStream(SyncByteStream, AsyncByteStream):
    """A multipart/form-data body from form fields and files; iterable sync and async."""

    __slots__ = (
        "_chunk_size",
        "_length",
        "_rewindable",
        "_segments",
        "_sent",
        "boundary",
        "content_type",
    )

    def __init__(
        self,
        data: RequestData,
        files: RequestFiles,
        boundary: bytes,
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.boundary = _check_boundary(boundary)
        text = boundary.decode("ascii")
        if boundary.translate(None, _BOUNDARY_NEEDS_QUOTES) != boundary:
            text = f'"{text}"'
        self.content_type = f"multipart/form-data; boundary={text}"
        self._chunk_size = check_chunk_size(chunk_size)

        pieces: list[bytes | _FileSource] = []
        part_start = b"--%s\r\n" % boundary
        for name, value in data.items():
            name_param = _param("name", name)
            values = value if isinstance(value, list | tuple) else (value,)
            for item in values:
                pieces += (
                    part_start,
                    b"Content-Disposition: form-data%s\r\n\r\n" % name_param,
                    _field_value(item),
                    b"\r\n",
                )
        file_items = files.items() if isinstance(files, Mapping) else files
        for name, value in file_items:
            head, content = _file_part(name, value)
            pieces += (part_start, head, content, b"\r\n")
        pieces.append(b"--%s--\r\n" % boundary)

        self._segments = self._coalesce(pieces, self._chunk_size)
        length: int | None = 0
        rewindable = True
        for segment in self._segments:
            if isinstance(segment, bytes):
                length = None if length is None else length + len(segment)
            elif segment.length is None:
                length, rewindable = None, False
            elif length is not None:
                length += segment.length
        self._length = length
        self._rewindable = rewindable
        self._sent = False

    @staticmethod
    def _coalesce(pieces: list[bytes | _FileSource], limit: int) -> list[bytes | _FileSource]:
        """Join runs of small in-memory pieces into chunks of about `limit` bytes.

        Fewer, larger chunks mean fewer writes; a large value is passed on as it
        is rather than copied.
        """
        segments: list[bytes | _FileSource] = []
        run: list[bytes] = []
        run_size = 0
        for piece in pieces:
            if isinstance(piece, bytes) and len(piece) < limit:
                run.append(piece)
                run_size += len(piece)
                if run_size < limit:
                    continue
                piece = b""  # the run is full: flush it below, add nothing
            if run:
                segments.append(b"".join(run))
                run, run_size = [], 0
            if piece:
                segments.append(piece)
        if run:
            segments.append(b"".join(run))
        return segments

    def get_content_length(self) -> int | None:
        """The body's size, or None when a file's size cannot be known without reading it."""
        return self._length

    def get_headers(self) -> dict[str, str]:
        """Content-Length (or Transfer-Encoding: chunked) and Content-Type for this body."""
        if self._length is None:
            return {"Transfer-Encoding": "chunked", "Content-Type": self.content_type}
        return {"Content-Length": str(self._length), "Content-Type": self.content_type}

    def __iter__(self) -> Iterator[bytes]:
        if self._sent and not self._rewindable:
            raise StreamConsumed()
        self._sent = True
        chunk_size = self._chunk_size
        for segment in self._segments:
            if isinstance(segment, bytes):
                yield segment
            else:
                yield from segment.chunks(chunk_size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Files are plain blocking objects here too, read in bounded chunks (as httpx does).
        for chunk in self:
            yield chunk

    def __repr__(self) -> str:
        return f"<MultipartStream boundary={self.boundary!r} length={self._length}>"
