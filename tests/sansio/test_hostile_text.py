"""Text decoding against a hostile server (issue 9): any charset name, any bytes, any cuts.

The server names the charset, so it picks the codec. Whatever it names, `.text`,
``iter_text()`` and ``iter_lines()`` (and their async twins) never raise anything but
conch's exceptions, agree with each other, and take time linear in the body: every
codec conch accepts holds back at most a few bytes between chunks, which is what keeps
a decode step proportional to its chunk. The end-to-end tests run a `Client` and an
`AsyncClient` (asyncio and trio) over MockTransport and real loopback sockets.
"""

from __future__ import annotations

import asyncio
import codecs
import encodings
import encodings.aliases
import gzip
import itertools
import pkgutil
import random
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from async_io import AsyncClient
from sansio.decoders import (
    _REFUSED_TEXT_CODECS,
    DEFAULT_MAX_LINE_LENGTH,
    TEXT_ENCODINGS,
    TextDecoder,
    text_codec,
)
from sansio.exceptions import LineTooLong
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream, SyncByteStream
from sync_io import Client, MockTransport
from tests.servers import CLOSE, READ, Server, response, scripted

T = TypeVar("T")
KiB = 1024
MiB = 1024 * KiB

# Every codec name Python knows: the aliases, their targets and the encodings modules.
CODEC_NAMES = sorted(
    set(encodings.aliases.aliases)
    | set(encodings.aliases.aliases.values())
    | {module.name for module in pkgutil.iter_modules(encodings.__path__)}
)


def _canonical(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:  # "aliases", or a Windows-only codec
        return None


STDLIB_TEXT_CODECS = {
    codec
    for name in CODEC_NAMES
    if (codec := _canonical(name)) is not None and codecs.lookup(codec)._is_text_encoding
}


# -- which codecs, and why ----------------------------------------------------------------


def test_every_text_codec_of_the_stdlib_is_accepted_or_refused_with_a_reason() -> None:
    # A new Python with a new codec fails here, so someone looks at it before a server can.
    assert set(TEXT_ENCODINGS).isdisjoint(_REFUSED_TEXT_CODECS)
    assert set(TEXT_ENCODINGS) | set(_REFUSED_TEXT_CODECS) == STDLIB_TEXT_CODECS
    for codec in TEXT_ENCODINGS:
        assert codecs.lookup(codec).name == codec


def test_a_codec_a_package_registers_is_refused() -> None:
    info = codecs.lookup("latin-1")

    def search(name: str) -> codecs.CodecInfo | None:
        if name != "conch_test_codec":
            return None
        return codecs.CodecInfo(
            info.encode, info.decode, incrementaldecoder=info.incrementaldecoder, name=name
        )

    codecs.register(search)
    try:
        assert codecs.lookup("conch_test_codec").name == "conch_test_codec"
        assert text_codec("conch_test_codec") is None
        headers = {"Content-Type": "text/plain; charset=conch_test_codec"}
        assert Response(200, headers=headers, content=b"\xe9").text == "\ufffd"
    finally:
        codecs.unregister(search)


# Why the refused codecs are refused, shown on Python's own decoders: if one of these
# stops failing, its refusal can be reconsidered.


def test_utf7_holds_back_a_whole_base64_run() -> None:
    decoder = codecs.getincrementaldecoder("utf-7")(errors="replace")
    decoder.decode(b"+")
    for _ in range(100):
        decoder.decode(b"AAAAAAAA")
    held, _ = decoder.getstate()
    assert len(held) > 800  # and decodes all of it again on the next chunk: quadratic


def test_python_raises_on_these_with_errors_replace() -> None:
    with pytest.raises(UnicodeError):
        b"a.b".decode("idna", "replace")
    with pytest.raises(UnicodeError):
        b"\xff".decode("punycode", "replace")
    with pytest.raises(UnicodeError):
        b"a".decode("undefined", "replace")
    iso2022 = codecs.getincrementaldecoder("iso2022_jp")(errors="replace")
    with pytest.raises(UnicodeError, match="pending buffer overflow"):
        iso2022.decode(b"\x1b&\xef\xfd\x89\xde~\xa2\xe5")
    utf16 = codecs.getincrementaldecoder("utf-16")(errors="replace")
    with pytest.raises(UnicodeError, match="BOM"):
        utf16.decode(b"a\x00")  # conch reads the byte order itself: see TextDecoder


# -- linear time: every accepted codec holds back a few bytes at most --------------------

# Inputs that make decoders wait: open escape sequences and base64 runs, lead bytes of
# multibyte characters, BOM starts, bytes every table leaves undefined.
_rng = random.Random(9)
HOSTILE_PATTERNS = [
    _rng.randbytes(25 * KiB),
    b"+" + b"A" * (25 * KiB),
    b"\x1b$B" + b"\x1b" * (25 * KiB),
    b"~{" + b"\xa1" * (25 * KiB),
    b"\x81\x30" * (12 * KiB),
    b"\x8e" * (25 * KiB),
    b"\xff\xfe" * (12 * KiB),
    b"\xef\xbb" * (12 * KiB),
]
HOSTILE = b"".join(HOSTILE_PATTERNS)
MOST_HELD = 8  # bytes: CPython's multibyte codecs never keep more (MAXDECPENDING)


@pytest.mark.parametrize("codec", sorted(TEXT_ENCODINGS))
def test_every_accepted_codec_holds_back_a_few_bytes_at_most(codec: str) -> None:
    assert len(HOSTILE) > 195 * KiB
    decoder = TextDecoder(codec)
    most = 0
    out = 0
    for start in range(0, len(HOSTILE), 509):  # an odd size: cuts inside characters
        out += len(decoder.decode(HOSTILE[start : start + 509]))
        most = max(most, decoder._held())
    out += len(decoder.flush())
    assert most <= MOST_HELD
    assert out > 0


# -- any name, any bytes, any cuts ----------------------------------------------------------

PIECES = [
    b"\x1b", b"$B", b"(J", b"&@", b"~{", b"~}", b"+", b"-", b"AGE", b"\\", b"u00e9",
    b"\r", b"\n", b"\r\n", b"\xff", b"\xfe", b"\x00", b"\xef\xbb\xbf", b"\x8e", b"\x81\x30",
    b"\xe4", b"\xa4\xa2", b"xn--", b".", b"\xc3\xa9", b"\xe2\x80\xa8", b"\x85", b"a",
]  # fmt: skip

names = st.one_of(
    st.sampled_from(CODEC_NAMES),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12),
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join),
)
cut_points = st.lists(st.integers(0, 400), max_size=8)
line_limits = st.one_of(st.none(), st.integers(1, 30), st.just(DEFAULT_MAX_LINE_LENGTH))


class Chunks(SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


class AChunks(AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def drive(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine that never waits on anything (in-memory streams), without a loop."""
    coroutine = make()
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the coroutine waited")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def lines_or_error(lines: Callable[[], list[str]]) -> list[str] | type[LineTooLong]:
    try:
        return lines()
    except LineTooLong:
        return LineTooLong


def expected_lines(text: str, limit: int | None) -> list[str] | type[LineTooLong]:
    lines = text.splitlines()
    if limit is not None and any(len(line) > limit for line in lines):
        return LineTooLong
    return lines


@settings(max_examples=300, deadline=None)
@given(name=names, data=bodies, cuts=cut_points, limit=line_limits)
def test_any_charset_any_bytes_any_cuts(
    name: str, data: bytes, cuts: list[int], limit: int | None
) -> None:
    headers = {"Content-Type": f"text/plain; charset={name}"}
    whole = Response(200, headers=headers, content=data)
    text = whole.text
    assert text_codec(whole.encoding) in TEXT_ENCODINGS
    chunks = split(data, cuts)

    def streamed() -> Response:
        return Response(200, headers=headers, stream=Chunks(chunks))

    def astreamed() -> Response:
        return Response(200, headers=headers, stream=AChunks(chunks))

    async def atext() -> str:
        return "".join([piece async for piece in astreamed().aiter_text()])

    async def alines() -> list[str]:
        return [line async for line in astreamed().aiter_lines(max_line_length=limit)]

    assert "".join(streamed().iter_text()) == text
    assert "".join(streamed().iter_text(3)) == text
    assert drive(atext) == text
    expected = expected_lines(text, limit)
    assert lines_or_error(lambda: list(streamed().iter_lines(max_line_length=limit))) == expected
    assert lines_or_error(lambda: drive(alines)) == expected


@settings(max_examples=100, deadline=None)
@given(name=names, data=bodies)
def test_any_detector_answer(name: str, data: bytes) -> None:
    response = Response(200, content=data, default_encoding=lambda content: name)
    assert text_codec(response.encoding) in TEXT_ENCODINGS
    assert isinstance(response.text, str)


@settings(max_examples=100, deadline=None)
@given(name=names)
def test_any_encoding_a_user_sets(name: str) -> None:
    response = Response(200, content=b"abc")
    try:
        response.encoding = name
    except LookupError:
        assert text_codec(name) is None
    else:
        assert isinstance(response.text, str)


# -- through a client ------------------------------------------------------------------------

UTF7_BODY = b"+AGEAYgBj-\n"  # "abc" in utf-7
HUGE_LINE = gzip.compress(b"a" * (DEFAULT_MAX_LINE_LENGTH + 1) + b"\nnext\n", mtime=0)


def _reply(charset: str, body: bytes, gzipped: bool = False) -> list[bytes]:
    # One request a connection, so the scripts never race the pool.
    headers = [f"Content-Type: text/plain; charset={charset}".encode(), b"Connection: close"]
    if gzipped:
        headers.append(b"Content-Encoding: gzip")
    return [response(body, headers=headers)]


def _mock(request: Request) -> Response:
    charset = request.url.path.strip("/")
    if charset == "huge":
        return Response(200, headers={"Content-Encoding": "gzip"}, content=HUGE_LINE)
    return Response(
        200, headers={"Content-Type": f"text/plain; charset={charset}"}, content=UTF7_BODY
    )


@pytest.mark.parametrize("charset", ["utf-7", "idna", "undefined"])
def test_client_with_mock_transport(charset: str) -> None:
    with Client(transport=MockTransport(_mock)) as client:
        got = client.get(f"http://example.org/{charset}")
        assert got.encoding == "utf-8"
        assert got.text == UTF7_BODY.decode()
        with client.stream("GET", f"http://example.org/{charset}") as streamed:
            assert list(streamed.iter_lines()) == [UTF7_BODY.decode().rstrip("\n")]
        with client.stream("GET", "http://example.org/huge") as streamed:
            lines = streamed.iter_lines()
            with pytest.raises(LineTooLong) as info:
                next(lines)
            assert info.value.request.url == "http://example.org/huge"


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(
        scripted(
            [READ, *_reply("utf-7", UTF7_BODY), CLOSE],
            [READ, *_reply("idna", UTF7_BODY), CLOSE],
            [READ, *_reply("utf-8", HUGE_LINE, gzipped=True), CLOSE],
            [READ, *_reply("utf-8", b"fine\n"), CLOSE],
        )
    ) as running:
        yield running


def test_client_over_loopback(server: Server) -> None:
    with Client() as client:
        assert client.get(server.url("/a")).text == UTF7_BODY.decode()
        with client.stream("GET", server.url("/b")) as streamed:
            assert list(streamed.iter_lines()) == [UTF7_BODY.decode().rstrip("\n")]
        with client.stream("GET", server.url("/c")) as streamed, pytest.raises(LineTooLong):
            list(streamed.iter_lines())
        assert client.get(server.url("/d")).text == "fine\n"
    assert server.accepted == 4


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_async_client_over_loopback(server: Server, library: str) -> None:
    async def main() -> None:
        async with AsyncClient() as client:
            got = await client.get(server.url("/a"))
            assert got.text == UTF7_BODY.decode()
            async with client.stream("GET", server.url("/b")) as streamed:
                texts = [text async for text in streamed.aiter_text()]
                assert "".join(texts) == UTF7_BODY.decode()
            async with client.stream("GET", server.url("/c")) as streamed:
                with pytest.raises(LineTooLong):
                    _ = [line async for line in streamed.aiter_lines()]
            assert (await client.get(server.url("/d"))).text == "fine\n"

    if library == "asyncio":
        asyncio.run(main())
    else:
        trio.run(main)
    assert server.accepted == 4
