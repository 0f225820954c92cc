"""Tests for `sansio.multipart`: multipart/form-data bodies, streamed in bounded reads."""

from __future__ import annotations

import asyncio
import io
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sansio.exceptions import LocalProtocolError, StreamConsumed
from sansio.multipart import (
    CHUNK_SIZE,
    MAX_BOUNDARY_LENGTH,
    MultipartStream,
    guess_content_type,
    seekable_span,
)
from sansio.streams import AsyncByteStream, SyncByteStream

BOUNDARY = b"b0undary"


class FakeFile:
    """A binary file of `size` bytes made up on demand; records every read() size.

    It never holds the whole content, so a 10 MiB upload costs no memory here.
    """

    def __init__(self, size: int, *, seekable: bool = True, name: str | None = None) -> None:
        self.size = size
        self.position = 0
        self.reads: list[int] = []
        self._seekable = seekable
        if name is not None:
            self.name = name

    def read(self, n: int = -1) -> bytes:
        self.reads.append(n)
        assert n > 0, "the whole file was asked for in one read"
        count = min(n, self.size - self.position)
        start = self.position
        self.position += count
        return bytes((start + i) % 251 for i in range(count)) if count < 64 else b"x" * count

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("not seekable")
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("not seekable")
        self.position = offset if whence == io.SEEK_SET else self.size + offset
        return self.position


class ReadOnly:
    """A file-like object with read() and nothing else (a socket file, a pipe wrapper)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int) -> Any:
        return self._data.read(n)


def as_file(value: object) -> Any:
    """A fake file object, typed as whatever the API expects."""
    return value


def body_of(stream: MultipartStream) -> bytes:
    return b"".join(stream)


def collect_async(runner: str, stream: AsyncByteStream) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream])

    return asyncio.run(collect()) if runner == "asyncio" else trio.run(collect)


# Exact bytes ---------------------------------------------------------------


def test_fields_and_several_files_exact_bytes() -> None:
    extra = {"X-Trace": "1"}
    stream = MultipartStream(
        data={"name": "conch", "tags": ["a", "b"], "n": 1, "ok": True, "none": None},
        files={
            "readme": ("README.txt", b"hello\r\n"),
            "image": ("pic.PNG", io.BytesIO(b"\x89PNG"), None, extra),
            "raw": (None, b"raw bytes", "application/x-custom"),
        },
        boundary=BOUNDARY,
    )
    expected = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="name"\r\n\r\nconch\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="tags"\r\n\r\na\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="tags"\r\n\r\nb\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="n"\r\n\r\n1\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="ok"\r\n\r\ntrue\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="none"\r\n\r\n\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="readme"; filename="README.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="image"; filename="pic.PNG"\r\n'
        b"X-Trace: 1\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="raw"\r\n'
        b"Content-Type: application/x-custom\r\n\r\nraw bytes\r\n"
        b"--b0undary--\r\n"
    )
    assert body_of(stream) == expected
    assert stream.get_content_length() == len(expected)
    assert stream.get_headers() == {
        "Content-Length": str(len(expected)),
        "Content-Type": "multipart/form-data; boundary=b0undary",
    }
    assert extra == {"X-Trace": "1"}  # the caller's mapping is left alone
    assert stream.boundary == BOUNDARY
    assert repr(stream) == f"<MultipartStream boundary=b'b0undary' length={len(expected)}>"


def test_files_as_a_list_may_repeat_a_name() -> None:
    stream = MultipartStream(
        {}, [("f", ("a.json", b"{}")), ("f", ("b.html", "<p>é"))], boundary=BOUNDARY
    )
    assert body_of(stream) == (
        b'--b0undary\r\nContent-Disposition: form-data; name="f"; filename="a.json"\r\n'
        b"Content-Type: application/json\r\n\r\n{}\r\n"
        b'--b0undary\r\nContent-Disposition: form-data; name="f"; filename="b.html"\r\n'
        b"Content-Type: text/html\r\n\r\n<p>\xc3\xa9\r\n"
        b"--b0undary--\r\n"
    )


def test_field_values_bytes_floats_and_tuples() -> None:
    stream = MultipartStream(
        {"b": b"\x00\xff", "f": 2.5, "t": (False, "é")}, {"x": b""}, boundary=BOUNDARY
    )
    body = body_of(stream)
    assert b'name="b"\r\n\r\n\x00\xff\r\n' in body
    assert b'name="f"\r\n\r\n2.5\r\n' in body
    assert b'name="t"\r\n\r\nfalse\r\n' in body
    assert b'name="t"\r\n\r\n\xc3\xa9\r\n' in body


def test_bare_content_is_named_upload() -> None:
    body = body_of(MultipartStream({}, {"a": b"1", "b": "2"}, boundary=BOUNDARY))
    part = b'filename="upload"\r\nContent-Type: application/octet-stream\r\n\r\n'
    assert body.count(part) == 2


@pytest.mark.parametrize("filename", [None, ""])
def test_no_filename_means_no_filename_and_no_guessed_type(filename: str | None) -> None:
    body = body_of(MultipartStream({}, {"a": (filename, b"1")}, boundary=BOUNDARY))
    assert body == (
        b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b0undary--\r\n'
    )


def test_content_type_header_wins_over_the_tuple() -> None:
    headers = {"content-TYPE": "text/x-mine"}
    body = body_of(MultipartStream({}, {"a": ("a.txt", b"1", "text/plain", headers)}, BOUNDARY))
    assert b"\r\ncontent-TYPE: text/x-mine\r\n\r\n1" in body
    assert b"text/plain" not in body


def test_a_look_alike_header_does_not_suppress_content_type() -> None:
    headers = {"X-Content-Type-Options": "nosniff"}
    body = body_of(MultipartStream({}, {"a": ("a.txt", b"1", None, headers)}, BOUNDARY))
    assert b"X-Content-Type-Options: nosniff\r\nContent-Type: text/plain\r\n\r\n" in body


# Content types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a.txt", "text/plain"),
        ("a.html", "text/html"),
        ("a.htm", "text/html"),
        ("a.json", "application/json"),
        ("a.png", "image/png"),
        ("a.JPG", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.pdf", "application/pdf"),
        ("a.csv", "text/csv"),
        ("a.xml", "application/xml"),
        ("a.zip", "application/zip"),
        ("a.js", "text/javascript"),
        ("a.css", "text/css"),
        ("a.svg", "image/svg+xml"),
        ("a.mp3", "audio/mpeg"),
        ("a.mp4", "video/mp4"),
        ("a.webp", "image/webp"),
        ("a.tar.gz", "application/gzip"),
        ("a.tar", "application/x-tar"),
        ("a.unknown", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
        (".txt", "application/octet-stream"),  # a hidden file, not an extension
        ("dir.d/file", "application/octet-stream"),
    ],
)
def test_guess_content_type(filename: str, expected: str) -> None:
    assert guess_content_type(filename) == expected


# Escaping and validation ---------------------------------------------------


def test_filename_cannot_inject_headers() -> None:
    evil = 'x"\r\nContent-Type: text/html\r\n\r\n<script>'
    stream = MultipartStream({evil: "v"}, {evil: (evil + ".txt", b"1")}, boundary=BOUNDARY)
    body = body_of(stream)
    escaped = b"x%22%0D%0AContent-Type: text/html%0D%0A%0D%0A<script>"
    assert body.count(b'name="' + escaped + b'"') == 2
    assert b'filename="' + escaped + b'.txt"\r\nContent-Type: text/plain\r\n\r\n1' in body
    assert b"\r\nContent-Type: text/html" not in body


def test_backslash_and_controls_are_escaped_as_httpx_does() -> None:
    body = body_of(MultipartStream({"a\\b;\t\x00\x1b\x1f\x7f%é": "v"}, {}, BOUNDARY))
    assert b'name="a\\\\b;%09%00\x1b%1F\x7f%\xc3\xa9"' in body


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Bad": "a\r\nInjected: 1"},
        {"X-Bad": "a\nb"},
        {"X-Bad": "a\x00b"},
        {"Bad Name": "v"},
        {"Bad:Name": "v"},
        {"": "v"},
        {"Bäd": "v"},
    ],
)
def test_invalid_part_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(LocalProtocolError):
        MultipartStream({}, {"a": ("a.txt", b"1", None, headers)}, BOUNDARY)


def test_invalid_content_type_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="CR, LF or NUL"):
        MultipartStream({}, {"a": ("a.txt", b"1", "text/plain\r\nX: 1")}, BOUNDARY)


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        ({1: "v"}, {}, "Invalid type for name. Expected str, got <class 'int'>: "),
        ({"a": {"x": 1}}, {}, "Expected primitive type, got <class 'dict'>"),
        ({"a": [object()]}, {}, "Expected primitive type, got <class 'object'>"),
        ({}, {2: b"x"}, "Invalid type for name. Expected str, got <class 'int'>: "),
        ({}, {"a": ("f",)}, "not 1 items"),
        ({}, {"a": ("f", b"x", None, {}, "extra")}, "not 5 items"),
        ({}, {"a": (b"f", b"x")}, "Invalid type for filename. Expected str, got <class 'bytes'>"),
        ({}, {"a": ("f", b"x", None, [("X", "1")])}, "must be a mapping, not list"),
        ({}, {"a": ("f", b"x", None, {b"X": "1"})}, "str to str, not bytes to str"),
        ({}, {"a": ("f", b"x", None, {"X": 1})}, "str to str, not str to int"),
        ({}, {"a": ("f", b"x", 5)}, "str to str, not str to int"),
        ({}, {"a": 42}, "not int"),
        ({}, {"a": ("f", [b"x"])}, "not list"),
        ({}, {"a": io.StringIO("text")}, "require 'io.BytesIO', not 'io.StringIO'"),
        ({}, {"a": ("f", io.TextIOWrapper(io.BytesIO(b"text")))}, "binary mode"),
    ],
)
def test_bad_input_raises_type_error(data: Any, files: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        MultipartStream(data, files, BOUNDARY)


def test_text_returned_by_read_is_refused_when_sent() -> None:
    class TextReader:
        def read(self, n: int) -> str:
            return "text"

    stream = MultipartStream({}, {"a": as_file(TextReader())}, BOUNDARY)
    with pytest.raises(TypeError, match=r"read\(\) gave str \(encode text, or open files"):
        body_of(stream)


def test_bytearray_and_memoryview_chunks_are_copied_to_bytes() -> None:
    class Reader:
        def __init__(self) -> None:
            self.chunks: list[object] = [bytearray(b"ab"), memoryview(b"cd"), b""]

        def read(self, n: int) -> object:
            return self.chunks.pop(0)

    chunks = list(MultipartStream({}, {"a": ("f", as_file(Reader()))}, BOUNDARY))
    assert b"ab" in chunks
    assert b"cd" in chunks
    assert all(type(chunk) is bytes for chunk in chunks)


def test_a_reader_returning_an_integer_is_refused() -> None:
    class Reader:
        def read(self, n: int) -> int:
            return 7

    with pytest.raises(TypeError, match="gave int"):
        body_of(MultipartStream({}, {"a": ("f", as_file(Reader()))}, BOUNDARY))


# Boundaries ----------------------------------------------------------------


def test_boundary_at_the_length_limit_and_past_it() -> None:
    at_limit = b"a" * MAX_BOUNDARY_LENGTH
    assert MultipartStream({}, {"f": b"x"}, at_limit).boundary == at_limit
    with pytest.raises(ValueError, match="1 to 70"):
        MultipartStream({}, {"f": b"x"}, at_limit + b"a")


@pytest.mark.parametrize("boundary", [b"", b"ab ", b"a\x00b", b"a\r\nb", b"a;b", b'a"b', b"\xff"])
def test_invalid_boundaries(boundary: bytes) -> None:
    with pytest.raises(ValueError, match="Invalid multipart boundary"):
        MultipartStream({}, {"f": b"x"}, boundary)


def test_boundary_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="boundary must be bytes, not str"):
        MultipartStream({}, {"f": b"x"}, "abc")  # type: ignore[arg-type]


def test_boundary_with_separators_is_quoted_in_content_type() -> None:
    boundary = b"a'(b)+_,-./:=? c"
    stream = MultipartStream({}, {"f": b"x"}, boundary)
    assert stream.content_type == 'multipart/form-data; boundary="a\'(b)+_,-./:=? c"'
    assert body_of(stream).startswith(b"--" + boundary + b"\r\n")
    assert body_of(stream).endswith(b"\r\n--" + boundary + b"--\r\n")


# Files: sizes, rewinding, bounded reads ------------------------------------


def test_seekable_file_is_measured_and_rewound_for_each_pass() -> None:
    data = io.BytesIO(b"0123456789")
    data.read(4)  # left part-way: the whole file is still sent, as httpx does
    stream = MultipartStream({}, {"f": ("d.bin", data)}, BOUNDARY)
    assert data.tell() == 4  # measuring it did not move it
    first = body_of(stream)
    assert b"\r\n\r\n0123456789\r\n" in first
    assert stream.get_content_length() == len(first)
    assert body_of(stream) == first  # a redirect can send it again
    assert collect_async("asyncio", stream) == first


def test_real_file_on_disk(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sub" / "report.PDF"
    path.parent.mkdir()
    path.write_bytes(b"%PDF-1.7")
    with path.open("rb") as file:
        stream = MultipartStream({}, {"doc": file}, BOUNDARY)
        body = body_of(stream)
    assert body == (
        b'--b0undary\r\nContent-Disposition: form-data; name="doc"; filename="report.PDF"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--b0undary--\r\n"
    )
    assert stream.get_headers()["Content-Length"] == str(len(body))


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("/var/data/report.csv", b"report.csv"),
        ("C:\\Users\\me\\report.csv", b"report.csv"),
        ("dir/", b"dir"),
        ("plain.txt", b"plain.txt"),
    ],
)
def test_filename_from_a_file_object_drops_directories(name: str, filename: bytes) -> None:
    body = body_of(MultipartStream({}, {"f": as_file(FakeFile(1, name=name))}, BOUNDARY))
    assert b'; filename="' + filename + b'"' in body


def test_a_file_descriptor_name_is_used_as_text() -> None:
    file = FakeFile(1)
    file.name = 7  # type: ignore[assignment]  # what open(fd) gives
    assert b'filename="7"' in body_of(MultipartStream({}, {"f": as_file(file)}, BOUNDARY))


def test_ten_mebibyte_upload_is_read_in_bounded_chunks() -> None:
    size = 10 * 1024 * 1024
    file = FakeFile(size)
    stream = MultipartStream({"note": "big"}, {"f": ("big.bin", as_file(file))}, BOUNDARY)
    assert file.reads == []  # nothing read while building the body
    total = 0
    largest = 0
    for chunk in stream:
        total += len(chunk)
        largest = max(largest, len(chunk))
    assert total == stream.get_content_length()
    assert total > size
    assert max(file.reads) <= CHUNK_SIZE
    assert largest <= CHUNK_SIZE
    assert len(file.reads) == size // CHUNK_SIZE + 1  # the last read finds the end


def test_file_of_exactly_chunk_size_and_one_past() -> None:
    at_limit = FakeFile(CHUNK_SIZE)
    chunks = list(MultipartStream({}, {"f": (None, as_file(at_limit))}, BOUNDARY))
    assert at_limit.reads == [CHUNK_SIZE, CHUNK_SIZE]
    assert [len(chunk) for chunk in chunks].count(CHUNK_SIZE) == 1

    past = FakeFile(CHUNK_SIZE + 1)
    chunks = list(MultipartStream({}, {"f": (None, as_file(past))}, BOUNDARY))
    assert past.reads == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE]
    assert b"x" * CHUNK_SIZE in chunks
    assert bytes([CHUNK_SIZE % 251]) in chunks


def test_chunk_size_is_configurable() -> None:
    file = FakeFile(10)
    body = b"".join(MultipartStream({}, {"f": (None, as_file(file))}, BOUNDARY, chunk_size=4))
    assert file.reads == [4, 4, 4, 4]
    assert bytes(i % 251 for i in range(10)) in body


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5])
def test_chunk_size_must_be_positive(chunk_size: Any) -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        MultipartStream({}, {"f": b"x"}, BOUNDARY, chunk_size=chunk_size)


@pytest.mark.parametrize(
    "file",
    [
        FakeFile(5, seekable=False),  # seekable() says no
        ReadOnly(b"\x00\x01\x02\x03\x04"),  # no seekable/tell/seek at all
    ],
)
def test_non_seekable_file_is_chunked_and_one_shot(file: Any) -> None:
    stream = MultipartStream({}, {"f": ("a.bin", file)}, BOUNDARY)
    assert stream.get_content_length() is None
    assert stream.get_headers() == {
        "Transfer-Encoding": "chunked",
        "Content-Type": "multipart/form-data; boundary=b0undary",
    }
    assert b"\r\n\r\n\x00\x01\x02\x03\x04\r\n" in body_of(stream)
    with pytest.raises(StreamConsumed):
        body_of(stream)


def test_file_whose_tell_fails_is_not_seekable() -> None:
    class NoTell(ReadOnly):
        def tell(self) -> int:
            raise OSError("illegal seek")

    assert seekable_span(NoTell(b"abc")) is None
    assert (
        MultipartStream({}, {"f": as_file(NoTell(b"abc"))}, BOUNDARY).get_content_length() is None
    )


def test_seekable_span_leaves_the_file_where_it_was() -> None:
    file = io.BytesIO(b"abcdef")
    file.seek(2)
    assert seekable_span(file) == (2, 6)
    assert file.tell() == 2


def test_only_in_memory_parts_can_be_sent_again() -> None:
    stream = MultipartStream({"a": "1"}, {"b": b"2"}, BOUNDARY)
    assert body_of(stream) == body_of(stream)


def test_length_is_unknown_when_any_file_is_not_seekable() -> None:
    stream = MultipartStream(
        {}, [("a", as_file(ReadOnly(b"x"))), ("b", io.BytesIO(b"y")), ("c", b"z")], BOUNDARY
    )
    assert stream.get_content_length() is None
    assert body_of(stream).count(b"--b0undary\r\n") == 3


# Chunking of in-memory parts -----------------------------------------------


def test_small_parts_are_joined_into_few_chunks() -> None:
    data = {f"field{i}": "v" * 10 for i in range(1000)}
    stream = MultipartStream(data, {}, BOUNDARY, chunk_size=4096)
    chunks = list(stream)
    assert len(chunks) < 30
    assert all(len(chunk) <= 4096 + 100 for chunk in chunks)
    assert b"".join(chunks).count(b"--b0undary\r\n") == 1000


def test_a_large_value_is_passed_on_without_copying() -> None:
    big = b"z" * 100
    just_under = b"y" * 99
    stream = MultipartStream({}, [("a", big), ("b", just_under)], BOUNDARY, chunk_size=100)
    chunks = list(stream)
    assert any(chunk is big for chunk in chunks)  # at the limit: yielded as it is
    assert just_under not in chunks  # one under: joined with its neighbours
    assert b"".join(chunks).count(just_under) == 1


# Both kinds of iteration -----------------------------------------------------


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_async_iteration_matches_sync(runner: str) -> None:
    stream = MultipartStream({"a": "1"}, {"f": ("f.txt", io.BytesIO(b"file"))}, BOUNDARY)
    assert isinstance(stream, SyncByteStream)
    assert isinstance(stream, AsyncByteStream)
    assert collect_async(runner, stream) == body_of(stream)


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_async_second_pass_of_one_shot_body(runner: str) -> None:
    stream = MultipartStream({}, {"f": as_file(ReadOnly(b"once"))}, BOUNDARY)
    assert b"once" in collect_async(runner, stream)
    with pytest.raises(StreamConsumed):
        collect_async(runner, stream)


# Round trip ------------------------------------------------------------------


def _unescape(value: bytes) -> str:
    # The escapes are %XX for '"' and the C0 controls but ESC, and a doubled backslash.
    text = re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value.decode())
    return text.replace("\\\\", "\\")


def parse_multipart(
    body: bytes, boundary: bytes
) -> list[tuple[str, str | None, dict[str, str], bytes]]:
    """A tiny independent parser: (name, filename, headers, content) for each part."""
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    assert pieces[0] == b""
    assert pieces[-1] == b"--\r\n"
    parts = []
    prefix = b'Content-Disposition: form-data; name="'
    for piece in pieces[1:-1]:
        assert piece.startswith(b"\r\n")
        head, blank, content = piece[2:].partition(b"\r\n\r\n")
        assert blank
        disposition, *lines = head.split(b"\r\n")
        assert disposition.startswith(prefix)
        name, _, rest = disposition[len(prefix) :].partition(b'"')
        filename = None
        if rest:
            assert rest.startswith(b'; filename="')
            assert rest.endswith(b'"')
            filename = _unescape(rest[len(b'; filename="') : -1])
        headers = {}
        for line in lines:
            key, _, value = line.decode().partition(": ")
            headers[key] = value
        parts.append((_unescape(name), filename, headers, content))
    return parts


# Names may hold anything but "%" (the escapes are not reversible when "%" is sent raw),
# and lone surrogates, which have no UTF-8 form.
names = st.text(
    st.one_of(
        st.sampled_from('"\r\n; =\\'),
        st.characters(exclude_characters="%", exclude_categories=["Cs"]),
    ),
    max_size=12,
)
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
content_types = st.sampled_from([None, "text/plain", "application/x-thing; v=1"])
file_contents = st.binary(max_size=300)
file_kinds = st.sampled_from(["bytes", "bytesio", "readonly"])


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(names, st.lists(values, min_size=1, max_size=3), max_size=4),
    files=st.lists(
        st.tuples(names, st.one_of(st.none(), names), file_contents, content_types, file_kinds),
        min_size=1,
        max_size=4,
    ),
    chunk_size=st.integers(min_value=1, max_value=200),
)
def test_round_trip(
    data: dict[str, list[str]],
    files: list[tuple[str, str | None, bytes, str | None, str]],
    chunk_size: int,
) -> None:
    boundary = b"000102030405060708090a0b0c0d0e0f"
    wrap: dict[str, Callable[[bytes], Any]] = {
        "bytes": bytes,
        "bytesio": io.BytesIO,
        "readonly": ReadOnly,
    }
    file_args = [
        (name, (filename, wrap[kind](content), content_type))
        for name, filename, content, content_type, kind in files
    ]
    stream = MultipartStream(data, file_args, boundary, chunk_size=chunk_size)
    body = b"".join(stream)
    assume(body.count(boundary) == len(files) + sum(map(len, data.values())) + 1)

    expected: list[tuple[str, str | None, dict[str, str], bytes]] = [
        (name, None, {}, value.encode()) for name, items in data.items() for value in items
    ]
    for name, filename, content, content_type, _ in files:
        if content_type is None and filename:
            content_type = guess_content_type(filename)
        headers = {} if content_type is None else {"Content-Type": content_type}
        expected.append((name, filename or None, headers, content))
    assert parse_multipart(body, boundary) == expected
    length = stream.get_content_length()
    if any(kind == "readonly" for *_, kind in files):
        assert length is None
    else:
        assert length == len(body)
