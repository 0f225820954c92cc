"""Tests for `sansio.streams`: the body stream interfaces."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Iterator

import pytest
import trio  # type: ignore[import-untyped, unused-ignore]

from sansio.streams import AsyncByteStream, ByteStream, SyncByteStream


def test_sync_base_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(SyncByteStream())
    SyncByteStream().close()  # the default close has nothing to release


def test_async_base_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError, match="__aiter__"):
        AsyncByteStream().__aiter__()
    asyncio.run(AsyncByteStream().aclose())


def test_subclasses_may_keep_attributes() -> None:
    class Chunks(SyncByteStream):
        def __init__(self) -> None:
            self.closed = False

        def __iter__(self) -> Iterator[bytes]:
            yield b"a"
            yield b"b"

        def close(self) -> None:
            self.closed = True

    stream = Chunks()
    assert list(stream) == [b"a", b"b"]
    stream.close()
    assert stream.closed


def test_async_subclass() -> None:
    class Chunks(AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"x"
            yield b"y"

    async def collect() -> list[bytes]:
        return [part async for part in Chunks()]

    assert asyncio.run(collect()) == [b"x", b"y"]
    assert trio.run(collect) == [b"x", b"y"]


def test_byte_stream_is_both_kinds() -> None:
    stream = ByteStream(b"hello")
    assert isinstance(stream, SyncByteStream)
    assert isinstance(stream, AsyncByteStream)


def test_byte_stream_sync_replays() -> None:
    stream = ByteStream(b"hello")
    assert list(stream) == [b"hello"]
    assert list(stream) == [b"hello"]
    stream.close()
    assert list(stream) == [b"hello"]


def test_byte_stream_empty_yields_one_empty_chunk() -> None:
    assert list(ByteStream(b"")) == [b""]


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_byte_stream_async(runner: str) -> None:
    stream = ByteStream(b"hello")

    async def collect() -> list[bytes]:
        first = [part async for part in stream]
        second = [part async for part in stream]
        await stream.aclose()
        return first + second

    result = asyncio.run(collect()) if runner == "asyncio" else trio.run(collect)
    assert result == [b"hello", b"hello"]


def test_byte_stream_repr_and_no_instance_dict() -> None:
    stream = ByteStream(b"abc")
    assert repr(stream) == "<ByteStream [3 bytes]>"
    assert not hasattr(stream, "__dict__")


def test_byte_stream_pickles() -> None:
    copy = pickle.loads(pickle.dumps(ByteStream(b"abc")))
    assert list(copy) == [b"abc"]
