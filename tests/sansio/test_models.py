"""Tests for `sansio.models`: Request and Response, as httpx users see them."""

from __future__ import annotations

import asyncio
import codecs
import datetime
import gzip
import json
import pickle
import tracemalloc
import types
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

import pytest
import trio  # type: ignore[import-untyped, unused-ignore]

from sansio import models
from sansio.content import UnattachedStream
from sansio.decoders import DEFAULT_MAX_DECODED_SIZE, DEFAULT_MAX_LINE_LENGTH
from sansio.exceptions import (
    DecodingError,
    DecompressionLimitExceeded,
    HTTPStatusError,
    LineTooLong,
    LocalProtocolError,
    ReadError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from sansio.headers import Headers
from sansio.models import DECODE_PIECE_SIZE, Request, Response
from sansio.streams import AsyncByteStream, ByteStream, SyncByteStream
from sansio.urls import URL

T = TypeVar("T")

# -- helpers -----------------------------------------------------------------------------


class Chunks(SyncByteStream):
    """A sync body stream yielding the given chunks, then optionally raising."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.close_error: Exception | None = None
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed += 1
        if self.close_error is not None:
            raise self.close_error


class AChunks(AsyncByteStream):
    """The async twin of `Chunks`; yields to the event loop between chunks."""

    def __init__(self, *chunks: bytes, error: Exception | None = None, sleep: Any = None) -> None:
        self.chunks = chunks
        self.error = error
        self.close_error: Exception | None = None
        self.closed = 0
        self.sleep = sleep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if self.sleep is not None:
                await self.sleep(0)
            yield chunk
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed += 1
        if self.close_error is not None:
            raise self.close_error


Runner = Callable[[Callable[[], Awaitable[Any]]], Any]


def _run_asyncio(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run(main())


def _run_trio(fn: Callable[[], Awaitable[T]]) -> T:
    return trio.run(fn)  # type: ignore[no-any-return, unused-ignore]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Runner:
    return _run_asyncio if request.param == "asyncio" else _run_trio


def _sleep_for(run: Runner) -> Any:
    return asyncio.sleep if run is _run_asyncio else trio.sleep


def astream(run: Runner, *chunks: bytes, error: Exception | None = None) -> AChunks:
    return AChunks(*chunks, error=error, sleep=_sleep_for(run))


async def _alist(iterator: AsyncIterator[T]) -> list[T]:
    return [item async for item in iterator]


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def streamed(*chunks: bytes, headers: Any = None, **kwargs: Any) -> Response:
    return Response(200, headers=headers, stream=Chunks(*chunks), **kwargs)


REQ = Request("GET", "https://example.org/path")
MiB = 1024 * 1024


# == Request ==============================================================================


class TestRequestMethod:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("GET", "GET"),
            ("get", "GET"),
            ("post", "POST"),
            ("Patch", "PATCH"),
            ("purge", "PURGE"),
            ("M-SEARCH", "M-SEARCH"),
            ("x!#$%&'*+-.^_`|~9", "X!#$%&'*+-.^_`|~9"),
            (b"GET", "GET"),
            (b"propfind", "PROPFIND"),
        ],
    )
    def test_normalised(self, given: str | bytes, expected: str) -> None:
        assert Request(given, "https://example.org").method == expected

    @pytest.mark.parametrize(
        "method",
        [
            "",
            "GET /",
            "GE\r\nT",
            "GET\n",
            "G\x00",
            "GET\t",
            "G(T",
            "GÉT",
            "ßet",
            "\u0131t",
            b"G\xc9T",
        ],
    )
    def test_not_a_token(self, method: str | bytes) -> None:
        with pytest.raises(LocalProtocolError, match="Invalid HTTP method"):
            Request(method, "https://example.org")

    def test_not_a_string(self) -> None:
        with pytest.raises(TypeError, match="must be str or bytes"):
            Request(1, "https://example.org")  # type: ignore[arg-type]


class TestRequestURL:
    def test_parsed_from_str(self) -> None:
        request = Request("GET", "https://example.org/a?b=c")
        assert isinstance(request.url, URL)
        assert request.url == URL("https://example.org/a?b=c")

    def test_url_object_is_not_reparsed(self) -> None:
        url = URL("https://example.org/a")
        assert Request("GET", url).url is url

    def test_params_replace_the_query_like_httpx(self) -> None:
        request = Request("GET", "https://example.org/?a=1", params={"b": "2"})
        assert str(request.url) == "https://example.org/?b=2"
        url = URL("https://example.org/")
        assert str(Request("GET", url, params=[("x", "1"), ("x", "2")]).url) == (
            "https://example.org/?x=1&x=2"
        )

    def test_repr(self) -> None:
        assert repr(Request("get", "https://example.org")) == (
            "<Request('GET', 'https://example.org')>"
        )


class TestRequestHeaders:
    def test_host_without_default_port(self) -> None:
        request = Request("GET", "https://example.org:443/")
        assert request.headers.raw == [(b"Host", b"example.org")]

    def test_host_with_other_port(self) -> None:
        request = Request("GET", "http://example.org:8080/")
        assert request.headers["host"] == "example.org:8080"

    def test_host_leaves_out_credentials_and_brackets_ipv6(self) -> None:
        assert Request("GET", "http://u:p@example.org/").headers["host"] == "example.org"
        assert Request("GET", "http://[::1]:8000/").headers["host"] == "[::1]:8000"

    def test_host_comes_first(self) -> None:
        request = Request("POST", "https://example.org", headers={"X-A": "1"}, content=b"abc")
        assert request.headers.raw == [
            (b"Host", b"example.org"),
            (b"X-A", b"1"),
            (b"Content-Length", b"3"),
        ]

    def test_explicit_host_is_kept(self) -> None:
        request = Request("GET", "https://example.org", headers={"Host": "other"})
        assert request.headers.raw == [(b"Host", b"other")]

    def test_no_host_without_one_in_the_url(self) -> None:
        assert Request("GET", "/relative").headers.raw == []

    def test_header_inputs_are_validated(self) -> None:
        with pytest.raises(LocalProtocolError):
            Request("GET", "https://example.org", headers={"X": "a\r\nInjected: 1"})

    def test_headers_are_copied(self) -> None:
        given = Headers({"X-A": "1"})
        request = Request("GET", "https://example.org", headers=given)
        given["X-B"] = "2"
        assert "x-b" not in request.headers

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
    def test_empty_body_methods_get_content_length_zero(self, method: str) -> None:
        request = Request(method, "https://example.org")
        assert request.headers["content-length"] == "0"
        assert request.content == b""

    @pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
    def test_other_methods_get_no_content_length(self, method: str) -> None:
        assert "content-length" not in Request(method, "https://example.org").headers

    def test_explicit_transfer_encoding_keeps_content_length_off(self) -> None:
        request = Request("POST", "https://example.org", headers={"Transfer-Encoding": "chunked"})
        assert "content-length" not in request.headers

    def test_explicit_content_length_beats_chunked(self) -> None:
        request = Request(
            "POST",
            "https://example.org",
            headers={"Content-Length": "3"},
            content=iter([b"a", b"bc"]),
        )
        assert request.headers["content-length"] == "3"
        assert "transfer-encoding" not in request.headers

    def test_stream_gets_no_automatic_headers(self) -> None:
        request = Request("POST", "https://example.org", stream=ByteStream(b"abc"))
        assert request.headers.raw == []
        with pytest.raises(RequestNotRead):
            _ = request.content
        assert request.read() == b"abc"

    def test_cookies_become_a_cookie_header(self) -> None:
        request = Request("GET", "https://example.org", cookies={"a": "1", "b": "2"})
        assert request.headers["cookie"] == "a=1; b=2"

    def test_empty_cookies_add_nothing(self) -> None:
        assert "cookie" not in Request("GET", "https://example.org", cookies={}).headers


class TestRequestBody:
    def test_no_body(self) -> None:
        request = Request("GET", "https://example.org")
        assert request.content == b""
        assert request.read() == b""
        assert isinstance(request.stream, ByteStream)
        assert list(request.stream) == [b""]

    def test_bytes(self) -> None:
        request = Request("PUT", "https://example.org", content=b"hello")
        assert request.headers["content-length"] == "5"
        assert request.content == b"hello"
        assert isinstance(request.stream, ByteStream)

    def test_str(self) -> None:
        assert Request("PUT", "https://example.org", content="hé").content == "hé".encode()

    def test_json(self) -> None:
        request = Request("POST", "https://example.org", json={"a": [1, "é"]})
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == {"a": [1, "é"]}

    def test_form_data(self) -> None:
        request = Request("POST", "https://example.org", data={"a": "1 2"})
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.content == b"a=1+2"

    def test_files_use_a_random_boundary(self) -> None:
        request = Request("POST", "https://example.org", files={"f": ("a.txt", b"xyz")})
        boundary = bytes(range(16)).hex()
        assert request.headers["content-type"] == f"multipart/form-data; boundary={boundary}"
        body = request.read()
        assert body.startswith(f"--{boundary}\r\n".encode())
        assert b"xyz" in body
        assert request.headers["content-length"] == str(len(body))

    @pytest.mark.parametrize("quote", ["", '"'])
    def test_files_take_the_boundary_from_content_type(self, quote: str) -> None:
        request = Request(
            "POST",
            "https://example.org",
            headers={"Content-Type": f"multipart/form-data; boundary={quote}b0und{quote}"},
            files={"f": ("a.txt", b"xyz")},
        )
        assert request.read().startswith(b"--b0und\r\n")
        assert request.headers.get_list("content-type") == [
            f"multipart/form-data; boundary={quote}b0und{quote}"
        ]

    @pytest.mark.parametrize(
        "content_type", ["multipart/form-data", "text/plain; boundary=nope", "MULTIPART/mixed"]
    )
    def test_boundary_only_from_a_multipart_form_content_type(self, content_type: str) -> None:
        request = Request(
            "POST",
            "https://example.org",
            headers={"Content-Type": content_type},
            files={"f": ("a.txt", b"xyz")},
        )
        assert not request.read().startswith(b"--nope")
        assert request.read().startswith(b"--" + bytes(range(16)).hex().encode())

    def test_boundary_case_insensitive_media_type(self) -> None:
        request = Request(
            "POST",
            "https://example.org",
            headers={"Content-Type": "Multipart/Form-Data; boundary=XyZ"},
            files={"f": b"1"},
        )
        assert request.read().startswith(b"--XyZ\r\n")

    def test_streaming_body_must_be_read(self) -> None:
        def gen() -> Iterator[bytes]:
            yield b"ab"
            yield b"c"

        request = Request("POST", "https://example.org", content=gen())
        assert request.headers["transfer-encoding"] == "chunked"
        with pytest.raises(RequestNotRead):
            _ = request.content
        assert request.read() == b"abc"
        assert request.content == b"abc"
        assert request.read() == b"abc"
        # The one-shot generator was replaced by a replayable stream.
        assert isinstance(request.stream, ByteStream)
        assert list(request.stream) == [b"abc"]

    def test_sync_read_of_an_async_body(self) -> None:
        async def agen() -> AsyncIterator[bytes]:
            yield b"x"

        request = Request("POST", "https://example.org", content=agen())
        with pytest.raises(RuntimeError, match="aread"):
            request.read()

    def test_aread(self, run: Runner) -> None:
        async def agen() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        request = Request("POST", "https://example.org", content=agen())
        assert run(request.aread) == b"ab"
        assert request.content == b"ab"
        assert isinstance(request.stream, ByteStream)
        assert run(request.aread) == b"ab"

    def test_aread_of_bytes(self, run: Runner) -> None:
        request = Request("POST", "https://example.org", stream=ByteStream(b"zz"))
        assert run(request.aread) == b"zz"
        assert isinstance(request.stream, ByteStream)

    def test_async_read_of_a_sync_body(self, run: Runner) -> None:
        request = Request("POST", "https://example.org", stream=Chunks(b"a"))
        with pytest.raises(RuntimeError, match=r"request\.read\(\)"):
            run(request.aread)
        assert request.read() == b"a"

    def test_extensions_are_copied(self) -> None:
        given = {"timeout": {"read": 1.0}}
        request = Request("GET", "https://example.org", extensions=given)
        assert request.extensions == given
        assert request.extensions is not given
        assert Request("GET", "https://example.org").extensions == {}


class TestRequestPickle:
    def test_read_request(self) -> None:
        request = Request(
            "POST", "https://example.org", content=b"body", extensions={"x": object()}
        )
        copy = pickle.loads(pickle.dumps(request))
        assert copy.method == "POST"
        assert copy.url == request.url
        assert copy.headers == request.headers
        assert copy.content == b"body"
        assert copy.read() == b"body"
        assert copy.extensions == {}
        assert isinstance(copy.stream, UnattachedStream)
        with pytest.raises(StreamClosed):
            list(copy.stream)

    def test_unread_streaming_request(self) -> None:
        request = Request("POST", "https://example.org", content=iter([b"a"]))
        copy = pickle.loads(pickle.dumps(request))
        with pytest.raises(RequestNotRead):
            _ = copy.content
        with pytest.raises(StreamClosed):
            copy.read()


# == Response: metadata ====================================================================


class TestResponseBasics:
    def test_empty(self) -> None:
        response = Response(200)
        assert response.status_code == 200
        assert response.reason_phrase == "OK"
        assert response.http_version == "HTTP/1.1"
        assert response.headers == Headers()
        assert response.content == b""
        assert response.text == ""
        assert response.is_closed
        assert response.is_stream_consumed
        assert response.num_bytes_downloaded == 0
        assert response.history == []
        assert response.next_request is None
        assert response.extensions == {}
        assert response.default_encoding == "utf-8"
        assert response.max_decoded_size == DEFAULT_MAX_DECODED_SIZE
        assert repr(response) == "<Response [200 OK]>"
        assert list(response.iter_bytes()) == []

    def test_reason_phrase_and_version_from_extensions(self) -> None:
        response = Response(200, extensions={"reason_phrase": b"Fine", "http_version": b"HTTP/2"})
        assert response.reason_phrase == "Fine"
        assert response.http_version == "HTTP/2"
        assert repr(response) == "<Response [200 Fine]>"

    def test_reason_phrase_and_version_as_str(self) -> None:
        response = Response(200, extensions={"reason_phrase": "Yes", "http_version": "HTTP/1.0"})
        assert (response.reason_phrase, response.http_version) == ("Yes", "HTTP/1.0")

    def test_undecodable_extension_bytes_are_dropped(self) -> None:
        response = Response(200, extensions={"reason_phrase": b"\xffOK"})
        assert response.reason_phrase == "OK"

    def test_unknown_status(self) -> None:
        assert Response(599).reason_phrase == ""
        assert repr(Response(299)) == "<Response [299 ]>"

    def test_request_property(self) -> None:
        response = Response(200)
        with pytest.raises(RuntimeError, match="no request"):
            _ = response.request
        with pytest.raises(RuntimeError, match="no request"):
            _ = response.url
        response.request = REQ
        assert response.request is REQ
        assert response.url == URL("https://example.org/path")
        assert Response(200, request=REQ).request is REQ

    def test_elapsed(self) -> None:
        response = Response(200)
        with pytest.raises(RuntimeError, match="elapsed"):
            _ = response.elapsed
        response.elapsed = datetime.timedelta(seconds=1.5)
        assert response.elapsed.total_seconds() == 1.5

    def test_elapsed_set_in_seconds_by_a_shell(self) -> None:
        response = Response(200, stream=Chunks(b"ok"))
        response._time_until_closed(lambda: 1.25, 1.0)
        response.close()
        assert response.elapsed == datetime.timedelta(seconds=0.25)
        assert response.elapsed is response.elapsed  # built once
        read = Response(200, stream=Chunks(b"x"))
        read._time_until_closed(lambda: 3.0, 1.0)
        read.read()  # (elapsed stays in seconds until asked for, and is pickled so)
        assert pickle.loads(pickle.dumps(read)).elapsed == datetime.timedelta(seconds=2)

    def test_elapsed_timed_by_a_shell_clock_until_the_body_closes(self) -> None:
        now = [10.0]
        response = Response(200, stream=Chunks(b"ok"))
        response._time_until_closed(lambda: now[0], 9.5)
        with pytest.raises(RuntimeError, match="elapsed"):
            _ = response.elapsed  # open: not known yet
        assert "_timer" not in pickle.loads(pickle.dumps(response)).__dict__
        assert response.read() == b"ok"  # a complete read closes it
        now[0] = 99.0
        response.close()  # already closed: the clock is not read again
        assert response.elapsed == datetime.timedelta(seconds=0.5)

    def test_async_elapsed_timed_until_the_body_closes(self, run: Runner) -> None:
        response = Response(200, stream=AChunks(b"ok"))
        response._time_until_closed(lambda: 3.0, 1.0)
        assert run(response.aread) == b"ok"
        assert response.elapsed == datetime.timedelta(seconds=2)

    def test_next_request(self) -> None:
        response = Response(302, headers={"Location": "/next"}, request=REQ)
        assert response.next_request is None
        follow = Request("GET", "https://example.org/next")
        response.next_request = follow
        assert response.next_request is follow
        copy = pickle.loads(pickle.dumps(response))
        assert copy.next_request.url == follow.url

    def test_history_is_copied(self) -> None:
        first = Response(301)
        history = [first]
        response = Response(200, history=history)
        history.append(Response(302))
        assert response.history == [first]

    def test_extensions_are_copied(self) -> None:
        given = {"network_stream": object()}
        response = Response(200, extensions=given)
        assert response.extensions == given
        assert response.extensions is not given

    def test_headers(self) -> None:
        response = Response(200, headers=[("X-A", "1"), ("x-a", "2")])
        assert response.headers.get_list("x-a") == ["1", "2"]
        with pytest.raises(LocalProtocolError):
            Response(200, headers={"Bad Name": "1"})

    def test_links(self) -> None:
        assert Response(200).links == {}
        response = Response(
            200,
            headers={
                "Link": '<https://example.org/2>; rel="next", <https://example.org/x>; type=x'
            },
        )
        assert response.links == {
            "next": {"url": "https://example.org/2", "rel": "next"},
            "https://example.org/x": {"url": "https://example.org/x", "type": "x"},
        }

    def test_cookies(self) -> None:
        response = Response(
            200,
            headers=[("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")],
            request=REQ,
        )
        cookies = response.cookies
        assert dict(cookies) == {"a": "1", "b": "2"}
        assert response.cookies is cookies

    def test_no_cookies(self) -> None:
        assert dict(Response(200, request=REQ).cookies) == {}


STATUS_FLAGS = ["is_informational", "is_success", "is_redirect", "is_client_error",
                "is_server_error"]  # fmt: skip


class TestStatus:
    @pytest.mark.parametrize(
        ("status", "flag"),
        [
            (100, "is_informational"),
            (199, "is_informational"),
            (200, "is_success"),
            (299, "is_success"),
            (300, "is_redirect"),
            (399, "is_redirect"),
            (400, "is_client_error"),
            (499, "is_client_error"),
            (500, "is_server_error"),
            (599, "is_server_error"),
            (99, None),
            (600, None),
        ],
    )
    def test_flags(self, status: int, flag: str | None) -> None:
        response = Response(status)
        for name in STATUS_FLAGS:
            assert getattr(response, name) is (name == flag)
        assert response.is_error is (flag in ("is_client_error", "is_server_error"))

    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    def test_has_redirect_location(self, status: int) -> None:
        assert Response(status, headers={"Location": "/x"}).has_redirect_location
        assert not Response(status).has_redirect_location

    @pytest.mark.parametrize("status", [200, 300, 304, 305, 306])
    def test_no_redirect_location(self, status: int) -> None:
        assert not Response(status, headers={"Location": "/x"}).has_redirect_location


class TestRaiseForStatus:
    @pytest.mark.parametrize("status", [200, 204, 299])
    def test_success_returns_self(self, status: int) -> None:
        response = Response(status, request=REQ)
        assert response.raise_for_status() is response

    @pytest.mark.parametrize(
        ("status", "kind", "phrase"),
        [
            (101, "Informational response", "Switching Protocols"),
            (304, "Redirect response", "Not Modified"),
            (404, "Client error", "Not Found"),
            (418, "Client error", "I'm a teapot"),
            (503, "Server error", "Service Unavailable"),
            (600, "Invalid status code", ""),
        ],
    )
    def test_errors(self, status: int, kind: str, phrase: str) -> None:
        response = Response(status, request=REQ)
        with pytest.raises(HTTPStatusError) as info:
            response.raise_for_status()
        error = info.value
        assert error.request is REQ
        assert error.response is response
        assert str(error) == (
            f"{kind} '{status} {phrase}' for url 'https://example.org/path'\n"
            "For more information check: "
            f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}"
        )

    def test_redirect_with_location(self) -> None:
        response = Response(302, headers={"Location": "https://example.org/new"}, request=REQ)
        with pytest.raises(HTTPStatusError) as info:
            response.raise_for_status()
        assert str(info.value) == (
            "Redirect response '302 Found' for url 'https://example.org/path'\n"
            "Redirect location: 'https://example.org/new'\n"
            "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/302"
        )

    def test_reason_phrase_from_the_server(self) -> None:
        response = Response(500, request=REQ, extensions={"reason_phrase": b"Oops"})
        with pytest.raises(HTTPStatusError, match="Server error '500 Oops' for url"):
            response.raise_for_status()

    @pytest.mark.parametrize("status", [200, 404])
    def test_needs_a_request(self, status: int) -> None:
        with pytest.raises(RuntimeError, match="raise_for_status"):
            Response(status).raise_for_status()


# == Response: content given in memory ======================================================


class TestResponseContent:
    def test_bytes(self) -> None:
        response = Response(200, content=b"hello")
        assert response.headers["content-length"] == "5"
        assert response.content == b"hello"
        assert response.read() == b"hello"
        assert response.text == "hello"
        assert response.num_bytes_downloaded == 0  # nothing came over a network

    def test_text_html_json(self) -> None:
        text = Response(200, text="hé")
        assert text.headers["content-type"] == "text/plain; charset=utf-8"
        assert text.text == "hé"
        html = Response(200, html="<p>")
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        assert html.content == b"<p>"
        data = Response(200, json={"a": 1})
        assert data.headers["content-type"] == "application/json"
        assert data.json() == {"a": 1}

    def test_json_kwargs(self) -> None:
        response = Response(200, content=b'{"a": 1.5}')
        assert response.json(parse_float=str) == {"a": "1.5"}
        with pytest.raises(json.JSONDecodeError):
            Response(200, content=b"nope").json()

    def test_encoded_content_is_decoded_at_once(self) -> None:
        response = Response(200, headers={"Content-Encoding": "gzip"}, content=gz(b"x" * 100))
        assert response.content == b"x" * 100

    def test_iterator_content_streams(self) -> None:
        response = Response(200, content=iter([b"a", b"b"]))
        assert response.headers["transfer-encoding"] == "chunked"
        assert not response.is_stream_consumed
        with pytest.raises(ResponseNotRead):
            _ = response.content
        with pytest.raises(ResponseNotRead):
            _ = response.text
        assert response.read() == b"ab"
        assert response.is_closed

    def test_explicit_content_length_beats_chunked(self) -> None:
        response = Response(200, headers={"Content-Length": "2"}, content=iter([b"a", b"b"]))
        assert response.headers.raw == [(b"Content-Length", b"2")]

    @pytest.mark.parametrize(("chunk_size", "expected"), [
        (None, [b"abcdefg"]), (1, list(b"abcdefg")), (3, [b"abc", b"def", b"g"]),
        (7, [b"abcdefg"]), (100, [b"abcdefg"]),
    ])  # fmt: skip
    def test_iter_bytes_after_read_slices(self, chunk_size: int | None, expected: Any) -> None:
        response = Response(200, content=b"abcdefg")
        if chunk_size == 1:
            expected = [bytes([b]) for b in expected]
        assert list(response.iter_bytes(chunk_size)) == expected

    def test_aiter_bytes_after_read_slices(self, run: Runner) -> None:
        response = Response(200, content=b"abcdefg")
        assert run(lambda: _alist(response.aiter_bytes(3))) == [b"abc", b"def", b"g"]
        assert run(lambda: _alist(response.aiter_text())) == ["abcdefg"]
        assert run(lambda: _alist(response.aiter_lines())) == ["abcdefg"]

    def test_raw_after_read_is_consumed(self) -> None:
        response = Response(200, content=b"abc")
        with pytest.raises(StreamConsumed):
            list(response.iter_raw())

    @pytest.mark.parametrize("chunk_size", [0, -1, True, 1.5, "2"])
    def test_bad_chunk_size(self, chunk_size: Any) -> None:
        response = Response(200, content=b"abc")
        with pytest.raises(ValueError, match="chunk_size must be a positive int"):
            list(response.iter_bytes(chunk_size))
        with pytest.raises(ValueError, match="chunk_size"):
            list(response.iter_text(chunk_size))
        with pytest.raises(ValueError, match="chunk_size"):
            list(streamed(b"a").iter_raw(chunk_size))


# == Response: streaming (sync) ==============================================================


class TestSyncStreaming:
    def test_identity_chunks_pass_through_uncopied(self) -> None:
        one, two = b"a" * 10, b"b" * 5
        stream = Chunks(one, b"", two)
        response = Response(200, stream=stream)
        assert (response.is_stream_consumed, response.is_closed) == (False, False)
        pieces = list(response.iter_bytes())
        assert pieces == [one, two]
        assert pieces[0] is one
        assert pieces[1] is two
        assert response.is_stream_consumed
        assert response.is_closed
        assert stream.closed == 1
        assert response.num_bytes_downloaded == 15
        with pytest.raises(ResponseNotRead):
            _ = response.content

    @pytest.mark.parametrize(("chunk_size", "expected"), [
        (1, [b"a", b"b", b"c", b"d", b"e"]),
        (2, [b"ab", b"cd", b"e"]),
        (4, [b"abcd", b"e"]),
        (5, [b"abcde"]),
        (6, [b"abcde"]),
    ])  # fmt: skip
    def test_iter_bytes_chunk_size(self, chunk_size: int, expected: list[bytes]) -> None:
        assert list(streamed(b"ab", b"c", b"", b"de").iter_bytes(chunk_size)) == expected

    def test_iter_raw_chunk_size_counts_bytes_as_they_come(self) -> None:
        response = streamed(b"abc", b"defg")
        raw = response.iter_raw(3)
        assert next(raw) == b"abc"
        assert response.num_bytes_downloaded == 3
        assert list(raw) == [b"def", b"g"]
        assert response.num_bytes_downloaded == 7

    def test_read(self) -> None:
        stream = Chunks(b"ab", b"", b"cd")
        response = Response(200, stream=stream)
        assert response.read() == b"abcd"
        assert response.content == b"abcd"
        assert response.read() == b"abcd"
        assert stream.closed == 1
        assert response.num_bytes_downloaded == 4

    def test_read_single_chunk_is_not_copied(self) -> None:
        body = b"x" * 1000
        assert streamed(body).read() is body

    def test_stream_consumed(self) -> None:
        response = streamed(b"a")
        list(response.iter_bytes())
        with pytest.raises(StreamConsumed):
            list(response.iter_bytes())
        with pytest.raises(StreamConsumed):
            response.read()

    def test_stream_closed(self) -> None:
        stream = Chunks(b"a")
        response = Response(200, stream=stream)
        response.close()
        assert response.is_closed
        response.close()
        assert stream.closed == 1
        with pytest.raises(StreamClosed):
            list(response.iter_raw())
        with pytest.raises(StreamClosed):
            response.read()

    def test_partial_iteration_does_not_close(self) -> None:
        stream = Chunks(b"a", b"b")
        response = Response(200, stream=stream)
        assert next(response.iter_bytes()) == b"a"
        assert not response.is_closed
        response.close()
        assert stream.closed == 1

    def test_async_stream_rejected(self, run: Runner) -> None:
        response = Response(200, stream=astream(run, b"a"))
        for call in (
            response.read,
            lambda: list(response.iter_bytes()),
            lambda: list(response.iter_raw()),
            lambda: list(response.iter_text()),
            lambda: list(response.iter_lines()),
        ):
            with pytest.raises(RuntimeError, match="async stream"):
                call()
            response.is_stream_consumed = False
        with pytest.raises(RuntimeError, match=r"aclose\(\)"):
            response.close()

    def test_stream_errors_carry_the_request(self) -> None:
        response = Response(200, stream=Chunks(b"a", error=ReadError("gone")), request=REQ)
        with pytest.raises(ReadError) as info:
            response.read()
        assert info.value.request is REQ
        assert not response.is_closed

    def test_stream_errors_carry_the_request_with_chunk_size(self) -> None:
        response = Response(200, stream=Chunks(b"a", error=ReadError("gone")), request=REQ)
        with pytest.raises(ReadError) as info:
            list(response.iter_raw(4))
        assert info.value.request is REQ

    def test_stream_errors_without_a_request(self) -> None:
        response = Response(200, stream=Chunks(error=ReadError("gone")))
        with pytest.raises(ReadError) as info:
            response.read()
        with pytest.raises(RuntimeError):
            _ = info.value.request

    def test_close_errors_carry_the_request(self) -> None:
        stream = Chunks(b"a")
        stream.close_error = ReadError("close failed")
        response = Response(200, stream=stream, request=REQ)
        with pytest.raises(ReadError) as info:
            response.read()
        assert info.value.request is REQ
        assert response.is_closed

    def test_other_errors_pass_unchanged(self) -> None:
        response = Response(200, stream=Chunks(error=KeyError("x")), request=REQ)
        with pytest.raises(KeyError):
            response.read()


# == Response: content decoding ==============================================================

BODY = b"".join(b"line %d of the body\n" % i for i in range(300))


def _encoded(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gz(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        import brotli

        return brotli.compress(data)  # type: ignore[no-any-return]
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    raise AssertionError(encoding)


class TestDecoding:
    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
    def test_read(self, encoding: str) -> None:
        raw = _encoded(encoding, BODY)
        response = streamed(*split_every(raw, 100), headers={"Content-Encoding": encoding})
        assert response.read() == BODY
        assert response.num_bytes_downloaded == len(raw)
        assert response.is_closed

    @pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000, len(BODY), len(BODY) + 1])
    @pytest.mark.parametrize("raw_size", [1, 13, 100_000])
    def test_gzip_iter_bytes(self, chunk_size: int | None, raw_size: int) -> None:
        raw = gz(BODY)
        response = streamed(*split_every(raw, raw_size), headers={"Content-Encoding": "gzip"})
        pieces = list(response.iter_bytes(chunk_size))
        assert b"".join(pieces) == BODY
        assert all(pieces)
        if chunk_size is not None:
            assert all(len(p) == chunk_size for p in pieces[:-1])
            assert 0 < len(pieces[-1]) <= chunk_size
        assert response.is_closed
        assert response.num_bytes_downloaded == len(raw)

    def test_gzip_every_split_point(self) -> None:
        body = b"hello, world " * 20
        raw = gz(body)
        for cut in range(len(raw) + 1):
            response = streamed(raw[:cut], raw[cut:], headers={"Content-Encoding": "gzip"})
            assert response.read() == body

    def test_chained_encodings(self) -> None:
        raw = gz(zlib.compress(BODY))
        response = streamed(raw, headers=[("Content-Encoding", "deflate, gzip")])
        assert response.read() == BODY
        response = streamed(
            raw, headers=[("Content-Encoding", "deflate"), ("Content-Encoding", "gzip")]
        )
        assert next(response.iter_bytes(4096)) == BODY[:4096]

    @pytest.mark.parametrize("value", ["identity", "Identity", " identity "])
    def test_identity_is_passed_through(self, value: str) -> None:
        chunk = b"not compressed"
        response = streamed(chunk, headers={"Content-Encoding": value})
        assert next(response.iter_bytes()) is chunk

    def test_bomb_streams_in_bounded_pieces(self) -> None:
        size = 4 * DECODE_PIECE_SIZE + 123
        raw = gz(b"\0" * size)
        response = streamed(raw, headers={"Content-Encoding": "gzip"})
        response.max_decoded_size = 1000  # streaming is not capped in total
        sizes = [len(piece) for piece in response.iter_bytes()]
        assert sum(sizes) == size
        assert max(sizes) <= DECODE_PIECE_SIZE
        assert len(sizes) >= 5

    @pytest.mark.parametrize(("size", "pieces"), [
        (DECODE_PIECE_SIZE - 1, 1), (DECODE_PIECE_SIZE, 1), (DECODE_PIECE_SIZE + 1, 2),
    ])  # fmt: skip
    def test_piece_size_at_the_limit_and_one_past(self, size: int, pieces: int) -> None:
        response = streamed(gz(b"\0" * size), headers={"Content-Encoding": "gzip"})
        assert [len(p) for p in response.iter_bytes()][:2] == [
            min(size, DECODE_PIECE_SIZE),
            size - DECODE_PIECE_SIZE,
        ][:pieces]

    def test_piece_size_is_configurable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(models, "DECODE_PIECE_SIZE", 100)
        response = streamed(gz(b"\0" * 1000), headers={"Content-Encoding": "gzip"})
        assert [len(p) for p in response.iter_bytes()] == [100] * 10

    def test_bomb_with_chunk_size(self) -> None:
        size = 3 * DECODE_PIECE_SIZE
        response = streamed(gz(b"\0" * size), headers={"Content-Encoding": "gzip"})
        sizes = [len(piece) for piece in response.iter_bytes(1000)]
        assert sum(sizes) == size
        assert set(sizes[:-1]) == {1000}

    def test_read_stops_a_bomb(self) -> None:
        raw = gz(b"\0" * 100_000)
        response = streamed(raw, headers={"Content-Encoding": "gzip"}, request=REQ)
        response.max_decoded_size = 10_000
        with pytest.raises(DecompressionLimitExceeded) as info:
            response.read()
        assert info.value.request is REQ
        with pytest.raises(ResponseNotRead):
            _ = response.content

    def test_read_at_the_limit_and_one_past(self) -> None:
        body = b"z" * 5000
        at = streamed(gz(body), headers={"Content-Encoding": "gzip"})
        at.max_decoded_size = 5000
        assert at.read() == body
        past = streamed(gz(body), headers={"Content-Encoding": "gzip"})
        past.max_decoded_size = 4999
        with pytest.raises(DecompressionLimitExceeded):
            past.read()

    def test_limit_none_disables(self) -> None:
        body = b"\0" * 200_000
        response = streamed(gz(body), headers={"Content-Encoding": "gzip"})
        response.max_decoded_size = None
        assert response.read() == body

    @pytest.mark.parametrize("encoding", [None, "identity"])
    def test_limit_bounds_a_body_that_is_not_encoded(self, encoding: str | None) -> None:
        headers = {"Content-Encoding": encoding} if encoding else None
        at = streamed(b"x" * 60, b"y" * 40, headers=headers)
        at.max_decoded_size = 100
        assert at.read() == b"x" * 60 + b"y" * 40
        # Nothing is read past the chunk that crosses the limit.
        stream = Chunks(b"x" * 60, b"y" * 41, error=AssertionError("read past the limit"))
        past = Response(200, headers=headers, stream=stream, request=REQ)
        past.max_decoded_size = 100
        with pytest.raises(DecompressionLimitExceeded, match="larger than max_decoded_size=100"):
            past.read()
        with pytest.raises(ResponseNotRead):
            _ = past.content

    def test_identity_limit_none_disables(self) -> None:
        response = streamed(b"x" * 100)
        response.max_decoded_size = None
        assert response.read() == b"x" * 100

    def test_identity_limit_attaches_the_request(self) -> None:
        response = streamed(b"x" * 11, request=REQ)
        response.max_decoded_size = 10
        with pytest.raises(DecompressionLimitExceeded) as info:
            response.read()
        assert info.value.request is REQ

    def test_identity_limit_ignores_content_already_in_memory(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Response(content=...) is read at construction, before anyone could set a
        # limit: its body is the caller's, already in memory.
        monkeypatch.setattr(models, "DEFAULT_MAX_DECODED_SIZE", 10)
        response = Response(200, content=b"x" * 100)
        assert response.max_decoded_size == 10
        assert response.read() == b"x" * 100

    def test_truncated_gzip(self) -> None:
        raw = gz(BODY)[:-20]
        response = streamed(raw, headers={"Content-Encoding": "gzip"}, request=REQ)
        with pytest.raises(DecodingError) as info:
            response.read()
        assert info.value.request is REQ

    def test_corrupt_gzip_in_iter_bytes(self) -> None:
        response = streamed(b"this is not gzip", headers={"Content-Encoding": "gzip"}, request=REQ)
        with pytest.raises(DecodingError) as info:
            list(response.iter_bytes(5))
        assert info.value.request is REQ

    def test_too_many_chained_encodings(self) -> None:
        raw = BODY
        for _ in range(6):
            raw = gz(raw)
        response = streamed(raw, headers={"Content-Encoding": "gzip, " * 5 + "gzip"}, request=REQ)
        with pytest.raises(DecodingError, match="Too many content encodings") as info:
            response.read()
        assert info.value.request is REQ
        five = streamed(gz(gz(gz(gz(gz(BODY))))), headers={"Content-Encoding": "gzip," * 5})
        assert five.read() == BODY

    def test_abandoned_decoding_closes_the_stream_iterator(self) -> None:
        finished: list[str] = []

        class Tracked(SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                try:
                    yield from split_every(gz(BODY), 10)
                finally:
                    finished.append("done")

        response = Response(200, headers={"Content-Encoding": "gzip"}, stream=Tracked())
        pieces = response.iter_bytes(10)
        assert isinstance(pieces, types.GeneratorType)
        next(pieces)
        assert finished == []
        pieces.close()
        assert finished == ["done"]

    def test_empty_gzip_body(self) -> None:
        response = streamed(headers={"Content-Encoding": "gzip"})
        assert response.read() == b""


# == Response: text ===========================================================================


class TestText:
    def test_charset_from_content_type(self) -> None:
        response = Response(
            200,
            headers={"Content-Type": "text/plain; charset=latin-1"},
            content="é".encode("latin-1"),
        )
        assert response.charset_encoding == "latin-1"
        assert response.encoding == "latin-1"
        assert response.text == "é"

    def test_no_content_type(self) -> None:
        response = Response(200, content="é".encode())
        assert response.charset_encoding is None
        assert response.encoding == "utf-8"
        assert response.text == "é"

    def test_unknown_charset_falls_back_to_default(self) -> None:
        response = Response(
            200,
            headers={"Content-Type": "text/plain; charset=nonsense"},
            content="é".encode("cp1252"),
            default_encoding="cp1252",
        )
        assert response.charset_encoding is None
        assert response.text == "é"

    def test_default_encoding_str(self) -> None:
        response = Response(200, content="é".encode("utf-16"), default_encoding="utf-16")
        assert response.encoding == "utf-16"
        assert response.text == "é"

    def test_default_encoding_callable_sees_the_body(self) -> None:
        seen: list[bytes] = []

        def detect(content: bytes) -> str:
            seen.append(content)
            return "cp1252"

        response = Response(200, content=b"\x80", default_encoding=detect)
        assert response.text == "€"
        assert response.encoding == "cp1252"
        assert seen == [b"\x80"]

    def test_default_encoding_callable_before_read(self) -> None:
        response = streamed(b"\x80", default_encoding=lambda content: "cp1252")
        assert response.encoding == "utf-8"  # a guess until the body is there
        response.read()
        assert response.encoding == "cp1252"
        assert response.text == "€"

    @pytest.mark.parametrize("answer", [None, "", "no-such-codec", "base64", "utf\x008"])
    def test_default_encoding_callable_bad_answers(self, answer: Any) -> None:
        response = Response(200, content="é".encode(), default_encoding=lambda content: answer)
        assert response.encoding == "utf-8"
        assert response.text == "é"

    def test_apparent_encoding_detector(self) -> None:
        def apparent(content: bytes) -> str:
            try:
                content.decode("utf-8")
            except UnicodeDecodeError:
                return "cp1252"
            return "utf-8"

        latin = Response(200, content="café €".encode("cp1252"), default_encoding=apparent)
        assert latin.encoding == "cp1252"
        assert latin.text == "café €"
        utf8 = Response(200, content="café €".encode(), default_encoding=apparent)
        assert utf8.text == "café €"

    def test_charset_beats_default(self) -> None:
        response = Response(
            200,
            headers={"Content-Type": "text/plain; charset=utf-8"},
            content="é".encode(),
            default_encoding=lambda content: "latin-1",
        )
        assert response.text == "é"

    def test_set_encoding(self) -> None:
        response = Response(200, content="é".encode("latin-1"))
        assert response.encoding == "utf-8"
        response.encoding = "latin-1"
        assert response.encoding == "latin-1"
        assert response.text == "é"
        with pytest.raises(ValueError, match=r"once \.text has been accessed"):
            response.encoding = "utf-8"

    @pytest.mark.parametrize("value", ["nonsense", "rot13"])
    def test_set_unknown_encoding(self, value: str) -> None:
        response = Response(200, content=b"abc")
        with pytest.raises(LookupError, match="not a known text encoding"):
            response.encoding = value

    def test_text_is_decoded_once(self) -> None:
        response = Response(200, content=b"abc")
        assert response.text is response.text

    def test_bad_bytes_are_replaced(self) -> None:
        assert Response(200, content=b"a\xffb").text == "a\ufffdb"

    def test_iter_text_multibyte_split_across_chunks(self) -> None:
        data = "héllo wörld €".encode()
        for cut in range(len(data) + 1):
            response = streamed(data[:cut], data[cut:])
            assert "".join(response.iter_text()) == "héllo wörld €"

    def test_iter_text_chunk_size(self) -> None:
        response = streamed("aéb".encode(), "cdé".encode())
        assert list(response.iter_text(2)) == ["aé", "bc", "dé"]
        response = streamed("aéb".encode(), "cdé".encode())
        assert list(response.iter_text(4)) == ["aébc", "dé"]

    def test_iter_text_trailing_partial_character(self) -> None:
        assert list(streamed(b"ab\xe2\x82").iter_text()) == ["ab", "\ufffd"]

    def test_iter_text_uses_the_charset(self) -> None:
        response = streamed(
            "é".encode("latin-1"), headers={"Content-Type": "text/plain; charset=iso-8859-1"}
        )
        assert list(response.iter_text()) == ["é"]

    def test_iter_text_of_decompressed_body(self) -> None:
        text = "ünïcode " * 1000
        response = streamed(gz(text.encode()), headers={"Content-Encoding": "gzip"})
        assert "".join(response.iter_text()) == text

    def test_iter_lines_crlf_split_across_chunks(self) -> None:
        data = b"one\r\ntwo\r\n\r\nthree\nfour\rfive"
        expected = ["one", "two", "", "three", "four", "five"]
        for cut in range(len(data) + 1):
            assert list(streamed(data[:cut], data[cut:]).iter_lines()) == expected
        assert list(streamed(*split_every(data, 1)).iter_lines()) == expected

    def test_iter_lines_trailing_newline(self) -> None:
        assert list(streamed(b"a\r\n", b"b\r", b"\n").iter_lines()) == ["a", "b"]
        assert list(streamed(b"a\r").iter_lines()) == ["a"]
        assert list(streamed().iter_lines()) == []


class TestHostileText:
    """Charsets and lines chosen by a hostile server (issue 9)."""

    # utf-7 would decode "+AGEAYgBj-" to "abc"; idna and undefined raise on any body,
    # punycode on non-ASCII, utf-16 without a BOM in iter_text; the rest are not
    # character sets.
    @pytest.mark.parametrize(
        "charset",
        [
            "utf-7",
            "UTF-7",
            "idna",
            "punycode",
            "undefined",
            "unicode_escape",
            "raw_unicode_escape",
            "iso-2022-jp",
            "iso2022_kr",
            "charmap",
            "rot13",
            "base64",
            "hex",
            "zlib",
        ],
    )
    def test_refused_charset_falls_back_to_the_default(self, charset: str) -> None:
        data = "+AGEAYgBj- é\\x41 ☃\n".encode()
        headers = {"Content-Type": f"text/plain; charset={charset}"}
        response = Response(200, headers=headers, content=data)
        assert response.charset_encoding is None
        assert response.encoding == "utf-8"
        assert response.text == data.decode()
        streaming = streamed(*split_every(data, 3), headers=headers)
        assert "".join(streaming.iter_text()) == data.decode()
        lines = streamed(*split_every(data, 3), headers=headers)
        assert list(lines.iter_lines()) == [data.decode().rstrip("\n")]

    def test_refused_charset_asks_the_detector(self) -> None:
        response = Response(
            200,
            headers={"Content-Type": "text/plain; charset=utf-7"},
            content="é".encode("cp1252"),
            default_encoding=lambda content: "cp1252",
        )
        assert response.text == "é"

    @pytest.mark.parametrize("answer", ["utf-7", "idna", "iso-2022-jp", "punycode"])
    def test_detector_naming_a_refused_codec_gives_utf8(self, answer: str) -> None:
        response = Response(200, content=b"+AGE-", default_encoding=lambda content: answer)
        assert response.encoding == "utf-8"
        assert response.text == "+AGE-"

    def test_utf7_body_of_one_base64_run_streams_as_utf8(self) -> None:
        # Inside one base64 run, utf-7's incremental decoder decodes the whole run again
        # for every piece: quadratic (64 KiB of gzip, 64 MiB of run: minutes of CPU).
        data = b"+" + b"A" * (4 * MiB)
        headers = {"Content-Type": "text/plain; charset=utf-7", "Content-Encoding": "gzip"}
        response = streamed(gz(data), headers=headers)
        assert response.encoding == "utf-8"
        assert "".join(response.iter_text()) == data.decode()

    @pytest.mark.parametrize(
        ("charset", "data", "text"),
        [
            ("utf-16", "hé".encode("utf-16-le"), "hé"),
            ("utf-16", "hé".encode("utf-16"), "hé"),
            ("utf-16", codecs.BOM_UTF16_BE + "hé".encode("utf-16-be"), "hé"),
            ("utf-32", "hé".encode("utf-32-le"), "hé"),
            ("utf-16-be", "hé".encode("utf-16-be"), "hé"),
            ("utf-8-sig", codecs.BOM_UTF8 + b"h\xc3\xa9", "hé"),
        ],
    )
    def test_utf16_and_utf32_with_or_without_a_bom(
        self, charset: str, data: bytes, text: str
    ) -> None:
        headers = {"Content-Type": f"text/plain; charset={charset}"}
        assert Response(200, headers=headers, content=data).text == text
        for size in (1, 2, 3):
            response = streamed(*split_every(data, size), headers=headers)
            assert "".join(response.iter_text()) == text

    def test_set_a_refused_encoding(self) -> None:
        response = Response(200, content=b"+AGE-")
        with pytest.raises(LookupError, match=r"utf-7.*quadratic"):
            response.encoding = "utf-7"
        assert response.text == "+AGE-"

    def test_refused_default_encoding_is_a_lookup_error(self) -> None:
        response = Response(200, content=b"+AGE-", default_encoding="utf-7")
        with pytest.raises(LookupError, match="utf-7"):
            _ = response.text

    def test_a_line_at_the_limit(self) -> None:
        line = b"a" * DEFAULT_MAX_LINE_LENGTH
        response = streamed(gz(line + b"\nb"), headers={"Content-Encoding": "gzip"})
        assert [len(text) for text in response.iter_lines()] == [len(line), 1]
        response = streamed(b"abc\r\n", b"de", b"f\r", b"\n")
        assert list(response.iter_lines(max_line_length=3)) == ["abc", "def"]

    def test_a_line_past_the_limit(self) -> None:
        response = Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=Chunks(gz(b"a" * (DEFAULT_MAX_LINE_LENGTH + 1) + b"\n")),
            request=REQ,
        )
        lines = response.iter_lines()
        with pytest.raises(
            LineTooLong, match=f"max_line_length={DEFAULT_MAX_LINE_LENGTH} "
        ) as info:
            next(lines)
        assert info.value.request is REQ
        response = streamed(b"abc\r\n", b"de", b"fg\n")
        with pytest.raises(LineTooLong, match="max_line_length=3 "):
            list(response.iter_lines(max_line_length=3))

    def test_no_line_limit(self) -> None:
        response = streamed(b"a" * 100, b"b" * 100)
        assert list(response.iter_lines(max_line_length=None)) == ["a" * 100 + "b" * 100]

    def test_bad_line_limit(self) -> None:
        with pytest.raises(ValueError, match="max_line_length"):
            list(streamed(b"a").iter_lines(max_line_length=0))

    def test_endless_line_from_a_small_body_stays_in_bounded_memory(self) -> None:
        # A 32 KiB gzip body inflates to one line of 32 MiB: iter_lines stops at the
        # limit, holding about one limit's worth, not the line.
        body = gz(b"a" * (32 * MiB))
        assert len(body) < 64 * 1024
        response = streamed(body, headers={"Content-Encoding": "gzip"})
        tracemalloc.start()
        try:
            with pytest.raises(LineTooLong):
                list(response.iter_lines(max_line_length=MiB))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * MiB


# == Response: async ===========================================================================


class TestAsync:
    def test_aread(self, run: Runner) -> None:
        stream = astream(run, b"ab", b"", b"cd")
        response = Response(200, stream=stream)
        assert run(response.aread) == b"abcd"
        assert run(response.aread) == b"abcd"
        assert response.content == b"abcd"
        assert response.is_closed
        assert stream.closed == 1
        assert response.num_bytes_downloaded == 4

    def test_aiter_bytes_identity(self, run: Runner) -> None:
        one = b"x" * 10
        response = Response(200, stream=astream(run, one, b"", b"yz"))
        pieces = run(lambda: _alist(response.aiter_bytes()))
        assert pieces == [one, b"yz"]
        assert pieces[0] is one

    def test_aiter_bytes_chunk_size(self, run: Runner) -> None:
        response = Response(200, stream=astream(run, b"ab", b"c", b"de"))
        assert run(lambda: _alist(response.aiter_bytes(2))) == [b"ab", b"cd", b"e"]

    def test_aiter_raw_chunk_size(self, run: Runner) -> None:
        response = Response(200, stream=astream(run, b"abc", b"defg"))
        assert run(lambda: _alist(response.aiter_raw(3))) == [b"abc", b"def", b"g"]
        assert response.num_bytes_downloaded == 7
        assert response.is_closed

    @pytest.mark.parametrize("chunk_size", [None, 1, 1000])
    def test_aiter_bytes_gzip(self, run: Runner, chunk_size: int | None) -> None:
        raw = gz(BODY)
        response = Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=astream(run, *split_every(raw, 500)),
        )
        pieces = run(lambda: _alist(response.aiter_bytes(chunk_size)))
        assert b"".join(pieces) == BODY
        if chunk_size is not None:
            assert all(len(p) == chunk_size for p in pieces[:-1])
        else:
            assert max(len(p) for p in pieces) <= DECODE_PIECE_SIZE
        assert response.num_bytes_downloaded == len(raw)

    def test_aread_gzip(self, run: Runner) -> None:
        response = Response(
            200, headers={"Content-Encoding": "gzip"}, stream=astream(run, gz(BODY))
        )
        assert run(response.aread) == BODY

    def test_aread_bomb(self, run: Runner) -> None:
        response = Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=astream(run, gz(b"\0" * 50_000)),
            request=REQ,
        )
        response.max_decoded_size = 1000
        with pytest.raises(DecompressionLimitExceeded) as info:
            run(response.aread)
        assert info.value.request is REQ

    def test_aread_bounds_a_body_that_is_not_encoded(self, run: Runner) -> None:
        at = Response(200, stream=astream(run, b"x" * 1000))
        at.max_decoded_size = 1000
        assert run(at.aread) == b"x" * 1000
        past = Response(200, stream=astream(run, b"x" * 600, b"x" * 401), request=REQ)
        past.max_decoded_size = 1000
        with pytest.raises(DecompressionLimitExceeded) as info:
            run(past.aread)
        assert info.value.request is REQ
        unbounded = Response(200, stream=astream(run, b"x" * 1001))
        unbounded.max_decoded_size = None
        assert run(unbounded.aread) == b"x" * 1001
        # A body handed over in memory (an ASGI app's) is in memory already: not bounded.
        in_memory = Response(200, stream=ByteStream(b"x" * 1001))
        in_memory.max_decoded_size = 1000
        assert run(in_memory.aread) == b"x" * 1001

    def test_aiter_truncated_gzip(self, run: Runner) -> None:
        response = Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=astream(run, gz(BODY)[:-20]),
            request=REQ,
        )
        with pytest.raises(DecodingError) as info:
            run(response.aread)
        assert info.value.request is REQ

    def test_aiter_text_and_lines(self, run: Runner) -> None:
        data = "één\r\ntwee\r\ndrie".encode()
        response = Response(200, stream=astream(run, *split_every(data, 1)))
        assert run(lambda: _alist(response.aiter_lines())) == ["één", "twee", "drie"]
        response = Response(200, stream=astream(run, *split_every(data, 3)))
        assert "".join(run(lambda: _alist(response.aiter_text()))) == data.decode()
        response = Response(200, stream=astream(run, data))
        assert run(lambda: _alist(response.aiter_text(6))) == ["één\r\nt", "wee\r\nd", "rie"]
        response = Response(200, stream=astream(run, b"ab\xe2\x82"))
        assert run(lambda: _alist(response.aiter_text())) == ["ab", "\ufffd"]

    def test_aiter_lines_limit(self, run: Runner) -> None:
        response = Response(
            200, stream=astream(run, b"abc\n", b"de", b"fg\n", b"never read"), request=REQ
        )
        seen: list[str] = []

        async def collect() -> None:
            async for line in response.aiter_lines(max_line_length=3):
                seen.append(line)  # noqa: PERF401 - keeps the lines before the error

        with pytest.raises(LineTooLong, match="max_line_length=3 ") as info:
            run(collect)
        assert info.value.request is REQ
        assert seen == ["abc"]
        response = Response(200, stream=astream(run, b"abc\r\n", b"def"))
        assert run(lambda: _alist(response.aiter_lines(max_line_length=3))) == ["abc", "def"]
        response = Response(200, stream=astream(run, b"a" * 10))
        assert run(lambda: _alist(response.aiter_lines(max_line_length=None))) == ["a" * 10]

    def test_aiter_text_refused_charset(self, run: Runner) -> None:
        response = Response(
            200,
            headers={"Content-Type": "text/plain; charset=utf-7"},
            stream=astream(run, b"+AGE", b"AYgBj-"),
        )
        assert "".join(run(lambda: _alist(response.aiter_text()))) == "+AGEAYgBj-"

    def test_stream_consumed_and_closed(self, run: Runner) -> None:
        response = Response(200, stream=astream(run, b"a"))
        run(lambda: _alist(response.aiter_raw()))
        with pytest.raises(StreamConsumed):
            run(lambda: _alist(response.aiter_raw()))
        closed = Response(200, stream=astream(run, b"a"))
        run(closed.aclose)
        run(closed.aclose)
        assert closed.stream.closed == 1  # type: ignore[union-attr]
        with pytest.raises(StreamClosed):
            run(closed.aread)

    def test_sync_stream_rejected(self, run: Runner) -> None:
        response = streamed(b"a")
        for call in (
            response.aread,
            lambda: _alist(response.aiter_bytes()),
            lambda: _alist(response.aiter_raw()),
            lambda: _alist(response.aiter_text()),
            lambda: _alist(response.aiter_lines()),
        ):
            with pytest.raises(RuntimeError, match="sync stream"):
                run(call)
            response.is_stream_consumed = False
        with pytest.raises(RuntimeError, match=r"response\.close\(\)"):
            run(response.aclose)

    def test_stream_errors_carry_the_request(self, run: Runner) -> None:
        response = Response(200, stream=astream(run, b"a", error=ReadError("gone")), request=REQ)
        with pytest.raises(ReadError) as info:
            run(response.aread)
        assert info.value.request is REQ
        chunked = Response(200, stream=astream(run, b"a", error=ReadError("gone")), request=REQ)
        with pytest.raises(ReadError) as info:
            run(lambda: _alist(chunked.aiter_raw(2)))
        assert info.value.request is REQ

    def test_close_errors_carry_the_request(self, run: Runner) -> None:
        stream = astream(run, b"a")
        stream.close_error = ReadError("close failed")
        response = Response(200, stream=stream, request=REQ)
        with pytest.raises(ReadError) as info:
            run(response.aread)
        assert info.value.request is REQ
        assert response.is_closed

    def test_stream_iterator_without_aclose(self, run: Runner) -> None:
        class Countdown:
            def __init__(self) -> None:
                self.left = 3

            def __aiter__(self) -> Countdown:
                return self

            async def __anext__(self) -> bytes:
                if not self.left:
                    raise StopAsyncIteration
                self.left -= 1
                return b"x"

        class Plain(AsyncByteStream):
            def __aiter__(self) -> AsyncIterator[bytes]:
                return Countdown()

        response = Response(200, stream=Plain())
        assert run(response.aread) == b"xxx"
        assert response.is_closed
        streamed = Response(200, stream=Plain())
        assert run(lambda: _alist(streamed.aiter_raw())) == [b"x", b"x", b"x"]
        assert streamed.is_closed

    def test_a_stream_that_is_its_own_iterator_is_closed_once(self, run: Runner) -> None:
        # A transport's body stream (conch's own among them) ends its exchange on aclose:
        # a complete read closes it once, not once as the iterator and again as the stream.
        class Own(AsyncByteStream):
            def __init__(self, error: Exception | None = None) -> None:
                self.chunks = [b"a", b"b"]
                self.error = error
                self.closed = 0

            def __aiter__(self) -> Own:
                return self

            async def __anext__(self) -> bytes:
                if self.chunks:
                    return self.chunks.pop(0)
                if self.error is not None:
                    raise self.error
                raise StopAsyncIteration

            async def aclose(self) -> None:
                self.closed += 1

        stream = Own()
        response = Response(200, stream=stream)
        assert run(response.aread) == b"ab"
        assert (stream.closed, response.is_closed) == (1, True)
        failing = Own(ValueError("broken"))
        response = Response(200, stream=failing)
        with pytest.raises(ValueError, match="broken"):
            run(response.aread)
        assert failing.closed == 1  # closed as the iterator: the read did not complete

    @pytest.mark.parametrize("chunk_size", [None, 1])
    def test_streaming_closes_a_stream_that_is_its_own_iterator_once(
        self, run: Runner, chunk_size: int | None
    ) -> None:
        # `aiter_raw` (under every aiter_*) likewise: a complete pass closes the stream
        # once; a pass left early closes its iterator (the stream) and nothing more.
        class Own(AsyncByteStream):
            def __init__(self) -> None:
                self.chunks = [b"a", b"b"]
                self.closed = 0

            def __aiter__(self) -> Own:
                return self

            async def __anext__(self) -> bytes:
                if self.chunks:
                    return self.chunks.pop(0)
                raise StopAsyncIteration

            async def aclose(self) -> None:
                self.closed += 1

        stream = Own()
        response = Response(200, stream=stream)
        assert run(lambda: _alist(response.aiter_raw(chunk_size))) == [b"a", b"b"]
        assert (stream.closed, response.is_closed) == (1, True)

        async def first_only(response: Response) -> bytes:
            parts = cast("AsyncGenerator[bytes, None]", response.aiter_raw(chunk_size))
            first = await anext(parts)
            await parts.aclose()
            return first

        early = Own()
        response = Response(200, stream=early)
        assert run(lambda: first_only(response)) == b"a"
        assert (early.closed, response.is_closed) == (1, False)

    @pytest.mark.parametrize("reader", ["aread", "aiter_raw"])
    def test_failing_stream_iterator_without_aclose(self, run: Runner, reader: str) -> None:
        class Failing:
            def __aiter__(self) -> Failing:
                return self

            async def __anext__(self) -> bytes:
                raise ReadError("gone")

        class Plain(AsyncByteStream):
            def __aiter__(self) -> AsyncIterator[bytes]:
                return Failing()

        response = Response(200, stream=Plain(), request=REQ)
        with pytest.raises(ReadError) as info:
            run(response.aread if reader == "aread" else lambda: _alist(response.aiter_raw()))
        assert info.value.request is REQ

    def test_decoding_error_closes_the_stream_iterator(self, run: Runner) -> None:
        finished: list[str] = []
        sleep = _sleep_for(run)

        class Tracked(AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                try:
                    for chunk in (b"not gzip", b"more"):
                        await sleep(0)
                        yield chunk
                finally:
                    finished.append("done")

        response = Response(200, headers={"Content-Encoding": "gzip"}, stream=Tracked())
        with pytest.raises(DecodingError):
            run(response.aread)
        assert finished == ["done"]
        assert not response.is_closed

    def test_async_content_given_to_response(self, run: Runner) -> None:
        async def agen() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        response = Response(200, content=agen())
        assert response.headers["transfer-encoding"] == "chunked"
        assert run(response.aread) == b"ab"


# == Response: pickling =========================================================================


class TestResponsePickle:
    def test_read_response(self) -> None:
        response = Response(
            404,
            headers={"Content-Type": "text/plain; charset=latin-1"},
            content="é".encode("latin-1"),
            request=REQ,
            extensions={"http_version": b"HTTP/2", "network_stream": object()},
        )
        response.elapsed = datetime.timedelta(seconds=2)
        copy = pickle.loads(pickle.dumps(response))
        assert copy.status_code == 404
        assert copy.headers == response.headers
        assert copy.content == "é".encode("latin-1")
        assert copy.text == "é"
        assert copy.request.url == REQ.url
        assert copy.elapsed == datetime.timedelta(seconds=2)
        assert copy.is_closed
        assert copy.extensions == {}
        assert copy.http_version == "HTTP/1.1"
        assert isinstance(copy.stream, UnattachedStream)
        assert copy.read() == copy.content

    def test_unread_response(self, run: Runner) -> None:
        copy = pickle.loads(pickle.dumps(streamed(b"abc")))
        assert copy.is_closed
        with pytest.raises(ResponseNotRead):
            _ = copy.content
        with pytest.raises(StreamClosed):
            copy.read()
        with pytest.raises(StreamClosed):
            run(copy.aread)

    def test_unattached_stream_itself(self, run: Runner) -> None:
        response = streamed(b"abc")
        response.stream = UnattachedStream()
        with pytest.raises(StreamClosed):
            response.read()
        response = streamed(b"abc")
        response.stream = UnattachedStream()
        with pytest.raises(StreamClosed):
            run(response.aread)


def test_public_names() -> None:
    assert set(models.__all__) == {"DECODE_PIECE_SIZE", "Request", "Response"}
    assert DECODE_PIECE_SIZE == 65536


# == drain (redirect bodies) ==============================================================


class TestDrain:
    def test_small_identity_body_is_read_whole_and_kept(self) -> None:
        stream = Chunks(b"moved ", b"here")
        response = Response(302, stream=stream)
        response.drain(1024)
        assert response.is_closed
        assert stream.closed == 1
        assert response.content == b"moved here"

    def test_body_exactly_at_the_limit_is_complete(self) -> None:
        response = streamed(b"ab", b"cd")
        response.drain(4)
        assert response.content == b"abcd"

    def test_body_past_the_limit_is_cut_off_and_not_kept(self) -> None:
        stream = Chunks(b"ab", b"cde", b"never read")
        response = Response(302, stream=stream)
        response.drain(4)
        assert response.is_closed
        assert stream.closed == 1
        with pytest.raises(ResponseNotRead):
            _ = response.content

    def test_encoded_body_is_never_decoded(self) -> None:
        # Not gzip at all: decoding would fail, draining must not try.
        response = streamed(b"not gzip", headers={"Content-Encoding": "gzip"})
        response.drain(1024)
        assert response.is_closed
        with pytest.raises(ResponseNotRead):
            _ = response.content

    def test_already_read_or_closed_response_is_just_closed(self) -> None:
        read = Response(302, content=b"x")
        read.drain(10)
        assert read.content == b"x"
        closed = streamed(b"abc")
        closed.close()
        closed.drain(10)
        with pytest.raises(ResponseNotRead):
            _ = closed.content

    def test_async_drain_twins(self, run: Runner) -> None:
        async def main() -> tuple[bytes, bool, bool]:
            whole = Response(302, stream=astream(run, b"ab", b"cd"))
            await whole.adrain(4)
            cut = Response(302, stream=astream(run, b"ab", b"cde"))
            await cut.adrain(4)
            done = Response(302, content=b"y")
            await done.adrain(4)
            return whole.content, cut.is_closed, done.is_closed

        content, cut_closed, _ = run(main)
        assert content == b"abcd"
        assert cut_closed


def test_content_attribute_on_the_class_is_the_descriptor() -> None:
    # Tools that inspect classes (mock's autospec, dataclass-style helpers) read it.
    assert type(Request._content) is type(Response._content)  # type: ignore[comparison-overlap]
    assert hasattr(Request._content, "__delete__")


def test_response_trailers_start_empty_and_are_filled_in_place() -> None:
    response = Response(200, content=b"built in memory")
    trailers = response.trailers
    assert isinstance(trailers, Headers)
    assert list(trailers.items()) == []
    response._add_trailers([(b"X-Sum", b"abc")])
    assert response.trailers is trailers
    assert trailers.raw == [(b"X-Sum", b"abc")]
    assert trailers["x-sum"] == "abc"
    assert "x-sum" not in response.headers


def test_a_transports_response_starts_as_one_built_with_a_stream() -> None:
    # `Response._from_transport` (the engine's, per request) skips `__init__`'s copies:
    # it must leave every attribute `__init__` leaves for a response with a stream.
    request = Request("GET", "http://example.org/")
    stream = UnattachedStream()
    headers = Headers({"Content-Type": "text/plain"})
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    built = Response(200, headers=headers, stream=stream, request=request, extensions=extensions)
    adopted = Response._from_transport(200, headers, stream, request, extensions)
    assert vars(adopted).keys() == vars(built).keys()
    for name, value in vars(built).items():
        assert getattr(adopted, name) == value, name
    # Adopted, not copied: the engine made them for this response alone.
    assert adopted.headers is headers
    assert adopted.extensions is extensions
    assert adopted.request is request
