"""Tests for `sansio.content`: request and response body encoding."""

from __future__ import annotations

import asyncio
import io
import json as jsonlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from sansio import env
from sansio.content import (
    CHUNK_SIZE,
    AsyncIteratorByteStream,
    IteratorByteStream,
    UnattachedStream,
    encode_content,
    encode_json,
    encode_request,
    encode_response,
    encode_urlencoded_data,
)
from sansio.exceptions import StreamClosed, StreamConsumed
from sansio.multipart import MultipartStream
from sansio.streams import AsyncByteStream, ByteStream, SyncByteStream

RUNNERS = ["asyncio", "trio"]


def sync_chunks(stream: SyncByteStream | AsyncByteStream) -> Iterator[bytes]:
    assert isinstance(stream, SyncByteStream)
    return iter(stream)


def sync_body(stream: SyncByteStream | AsyncByteStream) -> bytes:
    return b"".join(sync_chunks(stream))


def async_body(stream: SyncByteStream | AsyncByteStream, runner: str = "asyncio") -> bytes:
    assert isinstance(stream, AsyncByteStream)

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream])

    return asyncio.run(collect()) if runner == "asyncio" else trio.run(collect)


def as_file(value: object) -> Any:
    """A fake file object, typed as whatever the API expects."""
    return value


class Recorder:
    """A binary reader that records each read size (a file that may or may not seek)."""

    def __init__(self, data: bytes, *, seekable: bool) -> None:
        self._file = io.BytesIO(data)
        self._seekable = seekable
        self.reads: list[int] = []

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._file)

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "the whole file was asked for in one read"
        self.reads.append(n)
        return self._file.read(n)

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)


# content= ------------------------------------------------------------------


def test_bytes_content() -> None:
    headers, stream = encode_request(content=b"hello")
    assert headers == {"Content-Length": "5"}
    assert isinstance(stream, ByteStream)
    assert sync_body(stream) == b"hello"
    assert async_body(stream) == b"hello"


def test_str_content_is_utf8() -> None:
    headers, stream = encode_request(content="héllo")
    assert headers == {"Content-Length": "6"}
    assert sync_body(stream) == "héllo".encode()


@pytest.mark.parametrize("content", [b"", ""])
def test_empty_content_has_no_headers(content: bytes | str) -> None:
    headers, stream = encode_request(content=content)
    assert headers == {}
    assert sync_body(stream) == b""


def test_list_content_is_chunked_and_can_be_sent_again() -> None:
    headers, stream = encode_request(content=[b"a", b"bc"])
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, IteratorByteStream)
    assert list(stream) == [b"a", b"bc"]
    assert list(stream) == [b"a", b"bc"]
    assert stream.get_content_length() is None


def test_generator_content_can_be_sent_once() -> None:
    def gen() -> Iterator[bytes]:
        yield b"one"
        yield b"two"

    headers, stream = encode_request(content=gen())
    assert headers == {"Transfer-Encoding": "chunked"}
    assert sync_body(stream) == b"onetwo"
    with pytest.raises(StreamConsumed):
        sync_body(stream)


def test_any_iterator_is_one_shot() -> None:
    _, stream = encode_request(content=iter([b"x"]))
    assert sync_body(stream) == b"x"
    with pytest.raises(StreamConsumed):
        sync_body(stream)


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        ("text", r"gave str \(encode text"),
        (1, "gave int"),
        (None, "gave NoneType"),
    ],
)
def test_non_bytes_chunk_is_refused(chunk: Any, message: str) -> None:
    _, stream = encode_request(content=[b"ok", chunk])
    with pytest.raises(TypeError, match="the content iterable " + message):
        sync_body(stream)


def test_bytes_like_chunks_are_copied_to_bytes() -> None:
    chunks_in: Any = [bytearray(b"ab"), memoryview(b"cd")]
    _, stream = encode_request(content=chunks_in)
    assert isinstance(stream, SyncByteStream)
    chunks = list(stream)
    assert chunks == [b"ab", b"cd"]
    assert all(type(chunk) is bytes for chunk in chunks)


def test_seekable_file_content_has_a_length_and_is_rewound() -> None:
    file = Recorder(b"0123456789", seekable=True)
    file.read(3)  # content= sends what is left from here
    headers, stream = encode_request(content=file)
    assert headers == {"Content-Length": "7"}
    assert sync_body(stream) == b"3456789"
    assert sync_body(stream) == b"3456789"  # rewound to where it stood, not to 0


def test_real_file_content(tmp_path: Any) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"on disk")
    with path.open("rb") as file:
        headers, stream = encode_request(content=file)
        assert headers == {"Content-Length": "7"}
        assert sync_body(stream) == b"on disk"


def test_non_seekable_file_content_is_chunked_and_one_shot() -> None:
    file = Recorder(b"abc", seekable=False)
    headers, stream = encode_request(content=file)
    assert headers == {"Transfer-Encoding": "chunked"}
    assert sync_body(stream) == b"abc"
    with pytest.raises(StreamConsumed):
        sync_body(stream)


def test_file_content_read_in_bounded_chunks_at_the_limit_and_past_it() -> None:
    at_limit = Recorder(b"a" * CHUNK_SIZE, seekable=True)
    _, stream = encode_request(content=at_limit)
    assert [len(chunk) for chunk in sync_chunks(stream)] == [CHUNK_SIZE]
    assert at_limit.reads == [CHUNK_SIZE, CHUNK_SIZE]

    past = Recorder(b"a" * (CHUNK_SIZE + 1), seekable=True)
    _, stream = encode_request(content=past)
    assert [len(chunk) for chunk in sync_chunks(stream)] == [CHUNK_SIZE, 1]
    assert past.reads == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE]


def test_ten_mebibyte_file_content_never_read_whole() -> None:
    file = Recorder(b"\x00" * (10 * 1024 * 1024), seekable=False)
    _, stream = encode_request(content=file)
    total = sum(len(chunk) for chunk in sync_chunks(stream))
    assert total == 10 * 1024 * 1024
    assert max(file.reads) == CHUNK_SIZE


def test_chunk_size_is_configurable() -> None:
    file = Recorder(b"abcdefg", seekable=True)
    assert list(IteratorByteStream(file, chunk_size=3)) == [b"abc", b"def", b"g"]
    with pytest.raises(ValueError, match="chunk_size"):
        IteratorByteStream(file, chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        AsyncIteratorByteStream(AsyncChunks([]), chunk_size=-1)


def test_text_file_content_is_refused_when_sent() -> None:
    _, stream = encode_request(content=io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"a file's read\(\) gave str"):
        sync_body(stream)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"a": 1}, r"not dict \(use json= or data= for a dict\)"),
        (42, "not int"),
        (None, "not NoneType"),
    ],
)
def test_content_of_the_wrong_type(content: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_content(content)


# Async content ---------------------------------------------------------------


class AsyncChunks:
    """An async iterable (not an iterator): every `async for` starts over."""

    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class AsyncReader:
    """An async file-like object with ``aread(n)``."""

    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = chunks
        self.reads: list[int] = []

    async def aread(self, n: int) -> Any:
        self.reads.append(n)
        return self._chunks.pop(0) if self._chunks else b""

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise AssertionError("aread() is preferred over async iteration")


@pytest.mark.parametrize("runner", RUNNERS)
def test_async_generator_content_is_chunked_and_one_shot(runner: str) -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    headers, stream = encode_request(content=agen())
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, AsyncIteratorByteStream)
    assert async_body(stream, runner) == b"ab"
    with pytest.raises(StreamConsumed):
        async_body(stream, runner)


@pytest.mark.parametrize("runner", RUNNERS)
def test_async_iterable_can_be_sent_again(runner: str) -> None:
    _, stream = encode_request(content=AsyncChunks([b"x", bytearray(b"y")]))
    assert async_body(stream, runner) == b"xy"
    assert async_body(stream, runner) == b"xy"


@pytest.mark.parametrize("runner", RUNNERS)
def test_async_non_bytes_chunk_is_refused(runner: str) -> None:
    _, stream = encode_request(content=AsyncChunks([b"ok", "text"]))
    with pytest.raises(TypeError, match="the content iterable gave str"):
        async_body(stream, runner)


class AsyncCountdown:
    """A class-based async iterator (no aclose): one-shot, like a generator."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __aiter__(self) -> AsyncCountdown:
        return self

    async def __anext__(self) -> bytes:
        if self.n == 0:
            raise StopAsyncIteration
        self.n -= 1
        return b"%d" % self.n


@pytest.mark.parametrize("runner", RUNNERS)
def test_async_iterator_without_aclose(runner: str) -> None:
    _, stream = encode_request(content=AsyncCountdown(3))
    assert async_body(stream, runner) == b"210"
    with pytest.raises(StreamConsumed):
        async_body(stream, runner)


@pytest.mark.parametrize("runner", RUNNERS)
def test_caller_generator_is_closed_when_a_bad_chunk_stops_the_body(runner: str) -> None:
    closed = []

    async def agen() -> AsyncIterator[Any]:
        try:
            yield b"ok"
            yield 3
            yield b"never"
        finally:
            closed.append(True)

    _, stream = encode_request(content=agen())
    with pytest.raises(TypeError, match="gave int"):
        async_body(stream, runner)
    assert closed == [True]


@pytest.mark.parametrize("runner", RUNNERS)
def test_async_reader_is_read_in_bounded_chunks_once(runner: str) -> None:
    reader = AsyncReader([b"ab", memoryview(b"cd")])
    headers, stream = encode_request(content=reader)
    assert headers == {"Transfer-Encoding": "chunked"}
    assert async_body(stream, runner) == b"abcd"
    assert reader.reads == [CHUNK_SIZE] * 3
    with pytest.raises(StreamConsumed):
        async_body(stream, runner)


def test_async_reader_giving_text_is_refused() -> None:
    _, stream = encode_request(content=AsyncReader(["text"]))
    with pytest.raises(TypeError, match=r"aread\(\) gave str"):
        async_body(stream)


# data= -----------------------------------------------------------------------


def test_form_data_exact_bytes() -> None:
    headers, stream = encode_request(
        data={
            "name": "a b&c=d/é",
            "many": ["1", 2, 3.5],
            "yes": True,
            "no": False,
            "none": None,
            "raw": b"\xff ",
            "tuple": ("x", None),
        }
    )
    body = (
        b"name=a+b%26c%3Dd%2F%C3%A9&many=1&many=2&many=3.5&yes=true&no=false&none="
        b"&raw=%FF+&tuple=x&tuple="
    )
    assert sync_body(stream) == body
    assert headers == {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }


form_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)


@given(
    st.dictionaries(
        form_text, st.one_of(form_text, st.binary(max_size=5), st.lists(form_text, max_size=3))
    )
)
def test_form_encoding_matches_the_standard_library(data: dict[str, Any]) -> None:
    _, stream = encode_urlencoded_data(data)
    assert sync_body(stream) == urlencode(data, doseq=True).encode("ascii")


def test_empty_list_sends_no_field() -> None:
    _, stream = encode_urlencoded_data({"a": [], "b": "1"})
    assert sync_body(stream) == b"b=1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": {"nested": 1}}, "Form field 'a': .* not dict"),
        ({"a": [["nested"]]}, "Form field 'a': .* not list"),
        ({"a": object()}, "not object"),
        ({1: "v"}, "Form field names must be str, not int"),
    ],
)
def test_bad_form_data(data: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_request(data=data)


@pytest.mark.parametrize(
    ("data", "headers", "body"),
    [
        (b"raw", {"Content-Length": "3"}, b"raw"),
        ("text", {"Content-Length": "4"}, b"text"),
        ([b"a", b"b"], {"Transfer-Encoding": "chunked"}, b"ab"),
    ],
)
def test_non_mapping_data_is_content_with_httpxs_warning(
    data: Any, headers: dict[str, str], body: bytes
) -> None:
    with pytest.warns(DeprecationWarning, match=r"^Use 'content=<...>' to upload raw bytes/text"):
        got_headers, stream = encode_request(data=data, content=b"ignored")
    assert got_headers == headers
    assert sync_body(stream) == body


def test_generator_as_data_is_content() -> None:
    with pytest.warns(DeprecationWarning, match="content="):
        _, stream = encode_request(data=(chunk for chunk in [b"g"]))
    assert sync_body(stream) == b"g"


# json= -----------------------------------------------------------------------


def test_json_is_compact_utf8() -> None:
    value = {"a": [1, 2.5, None, True], "é": "ü\u2028", "n": {}}
    headers, stream = encode_request(json=value)
    body = '{"a":[1,2.5,null,true],"é":"ü\u2028","n":{}}'.encode()
    assert sync_body(stream) == body
    assert headers == {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    assert jsonlib.loads(body) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")]])
def test_json_refuses_nan_and_infinity(value: Any) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        encode_json(value)


def test_json_refuses_unserialisable_values() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_request(json={"a": object()})


@pytest.mark.parametrize("value", [0, False, "", [], {}])
def test_falsy_json_is_still_sent(value: Any) -> None:
    headers, stream = encode_request(json=value)
    assert headers["Content-Type"] == "application/json"
    assert sync_body(stream) == jsonlib.dumps(value).encode()


# files= ----------------------------------------------------------------------


def test_files_use_a_boundary_from_the_injected_random_source() -> None:
    headers, stream = encode_request(data={"a": "1"}, files={"f": ("f.txt", b"x")})
    boundary = "000102030405060708090a0b0c0d0e0f"  # conftest's predictable random bytes
    assert isinstance(stream, MultipartStream)
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="f"; filename="f.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nx\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    assert sync_body(stream) == body
    assert async_body(stream) == body
    assert headers == {
        "Content-Length": str(len(body)),
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }


def test_random_source_is_asked_for_sixteen_bytes() -> None:
    asked: list[int] = []

    def random_bytes(n: int) -> bytes:
        asked.append(n)
        return b"\xab" * n

    previous = env.install(random_bytes=random_bytes)
    try:
        headers, _ = encode_request(files={"f": b"x"})
    finally:
        env.install(previous)
    assert asked == [16]
    assert headers["Content-Type"] == "multipart/form-data; boundary=" + "ab" * 16


def test_given_boundary_is_used() -> None:
    headers, stream = encode_request(files={"f": b"x"}, boundary=b"given")
    assert headers["Content-Type"] == "multipart/form-data; boundary=given"
    assert sync_body(stream).startswith(b"--given\r\n")


def test_invalid_given_boundary() -> None:
    with pytest.raises(ValueError, match="Invalid multipart boundary"):
        encode_request(files={"f": b"x"}, boundary=b"bad\r\nboundary")


def test_non_seekable_file_upload_is_chunked() -> None:
    headers, _ = encode_request(files={"f": as_file(Recorder(b"x", seekable=False))})
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers


# Precedence and the empty body ---------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"data": {}}, {"files": {}}, {"json": None}, {"content": None, "data": None}],
)
def test_nothing_to_send(kwargs: dict[str, Any]) -> None:
    headers, stream = encode_request(**kwargs)
    assert headers == {}
    assert sync_body(stream) == b""
    assert async_body(stream) == b""


def test_content_wins_over_everything_else() -> None:
    headers, stream = encode_request(
        content=b"c", data={"d": "1"}, files={"f": b"x"}, json={"j": 1}
    )
    assert headers == {"Content-Length": "1"}
    assert sync_body(stream) == b"c"


def test_files_win_over_form_data_and_json() -> None:
    headers, _ = encode_request(data={"d": "1"}, files={"f": b"x"}, json={"j": 1})
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")


def test_form_data_wins_over_json() -> None:
    headers, _ = encode_request(data={"d": "1"}, json={"j": 1})
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


# Responses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "headers", "body"),
    [
        ({"content": b"raw"}, {"Content-Length": "3"}, b"raw"),
        (
            {"text": "héllo"},
            {"Content-Length": "6", "Content-Type": "text/plain; charset=utf-8"},
            "héllo".encode(),
        ),
        (
            {"html": "<p>é</p>"},
            {"Content-Length": "9", "Content-Type": "text/html; charset=utf-8"},
            "<p>é</p>".encode(),
        ),
        (
            {"json": {"a": 1}},
            {"Content-Length": "7", "Content-Type": "application/json"},
            b'{"a":1}',
        ),
        ({}, {}, b""),
        ({"text": ""}, {"Content-Length": "0", "Content-Type": "text/plain; charset=utf-8"}, b""),
        ({"content": b"c", "text": "t", "html": "h", "json": 1}, {"Content-Length": "1"}, b"c"),
        (
            {"text": "t", "html": "h"},
            {"Content-Length": "1", "Content-Type": "text/plain; charset=utf-8"},
            b"t",
        ),
        (
            {"html": "h", "json": 1},
            {"Content-Length": "1", "Content-Type": "text/html; charset=utf-8"},
            b"h",
        ),
    ],
)
def test_encode_response(kwargs: dict[str, Any], headers: dict[str, str], body: bytes) -> None:
    got_headers, stream = encode_response(**kwargs)
    assert got_headers == headers
    assert sync_body(stream) == body


def test_response_with_streaming_content() -> None:
    headers, stream = encode_response(content=iter([b"a", b"b"]))
    assert headers == {"Transfer-Encoding": "chunked"}
    assert sync_body(stream) == b"ab"


def test_headers_are_fresh_each_call() -> None:
    first, _ = encode_request()
    first["X"] = "1"
    second, _ = encode_request()
    assert second == {}


# UnattachedStream ------------------------------------------------------------


def test_unattached_stream_is_closed() -> None:
    stream = UnattachedStream()
    assert isinstance(stream, SyncByteStream)
    assert isinstance(stream, AsyncByteStream)
    with pytest.raises(StreamClosed):
        iter(stream)
    with pytest.raises(StreamClosed):
        sync_body(stream)


@pytest.mark.parametrize("runner", RUNNERS)
def test_unattached_stream_is_closed_async(runner: str) -> None:
    with pytest.raises(StreamClosed):
        async_body(UnattachedStream(), runner)
