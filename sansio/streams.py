"""Byte-stream interfaces for request and response bodies.

A shell hands the core an object implementing one of these; the core only
iterates it. `ByteStream` wraps bytes already in memory and serves both kinds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

__all__ = ["AsyncByteStream", "ByteStream", "SyncByteStream"]


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
