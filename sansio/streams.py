"""Byte-stream interfaces for request and response bodies.

A shell hands the core an object implementing one of these; the core only
iterates it. `ByteStream` wraps bytes already in memory and serves both kinds.
The helpers that read a file object in chunks live here too, for `sansio.content` and
`sansio.multipart` alike (multipart is loaded by the first upload, not with conch).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator

from ._typing_lite import Any

__all__ = ["CHUNK_SIZE", "AsyncByteStream", "ByteStream", "SyncByteStream"]

# The most a file object is asked for in one read(). 64 KiB is httpx's and
# requests' choice: big enough that per-chunk costs vanish next to the copy,
# small enough that a large upload never sits in memory. Per stream it can be
# changed with the `chunk_size` argument.
CHUNK_SIZE = 64 * 1024


def seekable_span(file: Any) -> tuple[int, int] | None:
    """``(position, end)`` of a seekable file, left where it was; None if it cannot seek.

    Uses tell/seek only: the file object was handed in by the caller, and asking
    where it ends reads nothing from it.
    """
    seekable = getattr(file, "seekable", None)
    if seekable is not None and not seekable():
        return None
    try:
        position: int = file.tell()
        file.seek(0, io.SEEK_END)
        end: int = file.tell()
        file.seek(position)
    except (AttributeError, OSError):
        return None
    return position, end


def read_chunks(read: Callable[[int], Any], chunk_size: int) -> Iterator[bytes]:
    """Call ``read(chunk_size)`` until it returns nothing; every chunk must be bytes."""
    chunk = read(chunk_size)
    while chunk:
        yield chunk if isinstance(chunk, bytes) else as_bytes(chunk, "a file's read()")
        chunk = read(chunk_size)


def as_bytes(chunk: object, source: str) -> bytes:
    """`chunk` as bytes if it is bytes-like; otherwise a TypeError naming `source`."""
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    hint = " (encode text, or open files in binary mode)" if isinstance(chunk, str) else ""
    raise TypeError(
        f"Request body chunks must be bytes, but {source} gave {type(chunk).__name__}{hint}."
    )


def check_chunk_size(chunk_size: int) -> int:
    """`chunk_size` if it is a positive int; ValueError otherwise."""
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, not {chunk_size!r}")
    return chunk_size


class SyncByteStream:
    """A body read with a plain ``for`` loop; `close` releases its resources."""

    # Empty slots keep `ByteStream` (one per request) free of an instance dict;
    # subclasses that declare no slots still get one, as usual.
    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("SyncByteStream subclasses must implement __iter__")

    def close(self) -> None:
        """Release any resources held by the stream (a connection, a file)."""


class AsyncByteStream:
    """A body read with ``async for``; `aclose` releases its resources."""

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError("AsyncByteStream subclasses must implement __aiter__")

    async def aclose(self) -> None:
        """Release any resources held by the stream (a connection, a file)."""


class ByteStream(AsyncByteStream, SyncByteStream):
    """A body that is already in memory; usable from sync and async code alike."""

    __slots__ = ("_stream",)

    def __init__(self, stream: bytes) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield self._stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._stream

    def __repr__(self) -> str:
        return f"<ByteStream [{len(self._stream)} bytes]>"
