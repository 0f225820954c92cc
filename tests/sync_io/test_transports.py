"""MockTransport, WSGITransport and FileTransport, driven through sansio.models."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import sys
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import trio

from sansio.exceptions import ConnectError, ReadError, UnsupportedProtocol
from sansio.models import Request, Response
from sansio.streams import SyncByteStream
from sansio.transports import AsyncBaseTransport, BaseTransport
from sync_io import transports
from sync_io.client import Client
from sync_io.transports import (
    FILE_CHUNK_SIZE,
    FileByteStream,
    FileTransport,
    MockTransport,
    WSGITransport,
)

T = TypeVar("T")
StartResponse = Callable[..., Callable[[bytes], object]]
Environ = dict[str, Any]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Callable[[Callable[[], Coroutine[Any, Any, T]]], T]:
    """Run an async function to completion on asyncio or trio."""

    def runner(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if request.param == "trio":
            return trio.run(fn)
        return asyncio.run(fn())

    return runner


# -- MockTransport ---------------------------------------------------------------------


def test_mock_is_both_kinds_of_transport() -> None:
    transport = MockTransport(lambda request: Response(204))
    assert isinstance(transport, BaseTransport)
    assert isinstance(transport, AsyncBaseTransport)
    with transport as entered:
        assert entered is transport


def test_mock_sync_handler_sees_the_body_already_read() -> None:
    seen: list[bytes] = []

    def handler(request: Request) -> Response:
        seen.append(request.content)
        return Response(200, json={"method": request.method, "url": str(request.url)})

    body = (part for part in [b"hello, ", b"world"])
    request = Request("POST", "https://example.org/echo", content=body)
    response = MockTransport(handler).handle_request(request)
    assert seen == [b"hello, world"]
    assert response.status_code == 200
    assert response.json() == {"method": "POST", "url": "https://example.org/echo"}


def test_mock_async_handler_in_sync_code_is_a_type_error() -> None:
    async def handler(request: Request) -> Response:
        return Response(200)

    transport = MockTransport(handler)
    # The coroutine is closed: no "never awaited" RuntimeWarning (warnings are errors).
    with pytest.raises(TypeError, match="use a plain function with Client"):
        transport.handle_request(Request("GET", "https://example.org/"))


class BareAwaitable:
    """An awaitable that is not a coroutine (nothing to close)."""

    def __await__(self) -> Generator[Any, None, Response]:
        return self.respond().__await__()

    async def respond(self) -> Response:
        return Response(200)


def test_mock_awaitable_handler_in_sync_code_is_a_type_error(run: Callable[..., Any]) -> None:
    transport = MockTransport(lambda request: cast(Response, BareAwaitable()))
    with pytest.raises(TypeError, match="returned an awaitable in sync code"):
        transport.handle_request(Request("GET", "https://example.org/"))

    async def main() -> int:
        response = await transport.handle_async_request(Request("GET", "https://example.org/"))
        return response.status_code

    assert run(main) == 200


def test_mock_handler_returning_something_else_is_a_type_error() -> None:
    transport = MockTransport(lambda request: cast(Response, "nope"))
    with pytest.raises(TypeError, match="must return a Response, not str"):
        transport.handle_request(Request("GET", "https://example.org/"))


def test_mock_async_with_sync_and_async_handlers(run: Callable[..., Any]) -> None:
    async def agen() -> Any:
        yield b"a"
        yield b"b"

    async def async_handler(request: Request) -> Response:
        return Response(201, content=request.content)

    def sync_handler(request: Request) -> Response:
        return Response(202, content=request.content)

    async def main() -> list[tuple[int, bytes]]:
        results = []
        for handler in (async_handler, sync_handler):
            async with MockTransport(handler) as transport:
                request = Request("PUT", "https://example.org/", content=agen())
                response = await transport.handle_async_request(request)
                results.append((response.status_code, await response.aread()))
        return results

    assert run(main) == [(201, b"ab"), (202, b"ab")]


def test_mock_async_handler_returning_something_else(run: Callable[..., Any]) -> None:
    async def handler(request: Request) -> Response:
        return cast(Response, 42)

    async def main() -> None:
        with pytest.raises(TypeError, match="not int"):
            await MockTransport(handler).handle_async_request(Request("GET", "http://a/"))
        with pytest.raises(TypeError, match="not NoneType"):
            await MockTransport(lambda r: cast(Response, None)).handle_async_request(
                Request("GET", "http://a/")
            )

    run(main)


# -- WSGITransport ---------------------------------------------------------------------


def environ_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Answers with the CGI/WSGI variables it was given, as JSON."""
    shown = {
        key: value
        for key, value in environ.items()
        if isinstance(value, str | bool | int | tuple) and key != "wsgi.errors"
    }
    shown["body"] = environ["wsgi.input"].read().decode()
    shown["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(shown).encode()]


def call_wsgi(app: Any, request: Request, **kwargs: Any) -> Response:
    return WSGITransport(app, **kwargs).handle_request(request)


def test_wsgi_environ() -> None:
    request = Request(
        "POST",
        "https://example.org/caf%C3%A9/a%20b?x=1&y=%20",
        headers=[("X-Thing", "one"), ("x-thing", "two"), ("Content-Type", "text/plain")],
        content=b"payload",
    )
    response = call_wsgi(environ_app, request, script_name="/mount", remote_addr="10.1.2.3")
    response.read()
    environ = response.json()
    assert environ["wsgi.version"] == [1, 0]
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/mount"
    # PEP 3333: the decoded path's bytes as latin-1 text (frameworks re-decode as UTF-8).
    assert environ["PATH_INFO"] == "/caf\xc3\xa9/a b"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/a b"
    assert environ["QUERY_STRING"] == "x=1&y=%20"
    assert environ["SERVER_NAME"] == "example.org"
    assert environ["SERVER_PORT"] == "443"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "10.1.2.3"
    assert environ["HTTP_HOST"] == "example.org"
    assert environ["HTTP_X_THING"] == "one,two"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "7"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["body"] == "payload"
    assert environ["errors_is_stderr"] is True


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://example.org/", "80"), ("https://example.org/", "443"), ("http://h:8080/", "8080")],
)
def test_wsgi_server_port(url: str, port: str) -> None:
    response = call_wsgi(environ_app, Request("GET", url))
    response.read()
    environ = response.json()
    assert environ["SERVER_PORT"] == port
    assert environ["body"] == ""
    assert "CONTENT_LENGTH" not in environ


def test_wsgi_errors_stream_and_latin1_header_values() -> None:
    errors = io.StringIO()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["wsgi.errors"].write("logged")
        start_response("200 OK", [("X-Echo", environ["HTTP_X_NAME"])])
        return []

    request = Request("GET", "http://a/", headers={b"X-Name": "Zoë".encode("latin-1")})
    response = call_wsgi(app, request, wsgi_errors=errors)
    assert errors.getvalue() == "logged"
    assert response.headers.raw == [(b"X-Echo", "Zoë".encode("latin-1"))]


def test_wsgi_response_status_headers_and_reason() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("418 Short And Stout", [("X-A", "1"), ("X-A", "2")])
        return [b"tea"]

    response = call_wsgi(app, Request("GET", "http://a/"))
    assert response.status_code == 418
    assert response.reason_phrase == "Short And Stout"
    assert response.http_version == "HTTP/1.1"
    assert response.headers.get_list("x-a") == ["1", "2"]
    assert response.read() == b"tea"
    assert response.request.url == "http://a/"


class Tracked:
    """A WSGI result iterable that records how far it was read and whether it was closed."""

    def __init__(self, chunks: Iterable[Any], before: Callable[[], None] | None = None) -> None:
        self.chunks = chunks
        self.before = before
        self.pulled = 0
        self.closed = 0

    def __iter__(self) -> Iterator[Any]:
        if self.before is not None:
            self.before()
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk

    def close(self) -> None:
        self.closed += 1


def test_wsgi_streams_a_generator_lazily_and_closes_it() -> None:
    state: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        def begin() -> None:
            # Called only once the result is iterated: start_response may come late.
            start_response("200 OK", [("Content-Type", "text/plain")])

        result = Tracked([b"", b"", b"one", b"", b"two", b"three"], before=begin)
        state["result"] = result
        return result

    response = call_wsgi(app, Request("GET", "http://a/"))
    result: Tracked = state["result"]
    # The leading empty chunks and the first real one were pulled to get the status.
    assert response.status_code == 200
    assert result.pulled == 3
    chunks = response.iter_raw()
    assert next(chunks) == b"one"
    assert result.pulled == 3
    assert next(chunks) == b"two"
    assert result.pulled == 5
    assert list(chunks) == [b"three"]
    assert result.closed == 1
    response.close()
    assert result.closed == 1
    cast(
        SyncByteStream, response.stream
    ).close()  # SyncByteStream.close may be called again: no second close()
    assert result.closed == 1


def test_wsgi_close_before_reading_closes_the_iterable() -> None:
    result = Tracked([b"a", b"b"])

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", [])
        return result

    response = call_wsgi(app, Request("GET", "http://a/"))
    response.close()
    assert result.closed == 1
    assert result.pulled == 1


def test_wsgi_empty_body_and_bytes_like_chunks() -> None:
    def empty(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("204 No Content", [])
        return [b"", b""]

    assert call_wsgi(empty, Request("GET", "http://a/")).read() == b""

    def bytes_like(environ: Environ, start_response: StartResponse) -> list[Any]:
        start_response("200 OK", [])
        return [bytearray(b"ab"), memoryview(b"cd")]

    assert call_wsgi(bytes_like, Request("GET", "http://a/")).read() == b"abcd"


@pytest.mark.parametrize("chunks", [["text"], [b"ok", "text"]])
def test_wsgi_text_chunks_are_a_type_error(chunks: list[Any]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[Any]:
        start_response("200 OK", [])
        return chunks

    with pytest.raises(TypeError, match="must produce bytes, not str"):
        call_wsgi(app, Request("GET", "http://a/")).read()


def test_wsgi_write_callable_comes_first() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"legacy ")
        write(b"")
        write(cast(bytes, bytearray(b"write, ")))
        return [b"then iterable"]

    response = call_wsgi(app, Request("GET", "http://a/"))
    assert response.read() == b"legacy write, then iterable"


def test_wsgi_write_before_start_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = cast(Any, start_response).__self__.write
        write(b"early")
        return []

    with pytest.raises(RuntimeError, match="before start_response"):
        call_wsgi(app, Request("GET", "http://a/"))


def test_wsgi_head_has_no_body_but_closes_the_iterable() -> None:
    result = Tracked([b"body"])

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", [("Content-Length", "4")])
        return result

    response = call_wsgi(app, Request("HEAD", "http://a/"))
    assert response.headers["content-length"] == "4"
    assert response.read() == b""
    assert result.closed == 1


class Boom(Exception):
    pass


def raising_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise Boom("app failed")


def test_wsgi_app_exception_propagates() -> None:
    with pytest.raises(Boom, match="app failed"):
        call_wsgi(raising_app, Request("GET", "http://a/"))


def test_wsgi_app_exception_as_500_when_asked() -> None:
    response = call_wsgi(raising_app, Request("GET", "http://a/"), raise_app_exceptions=False)
    assert response.status_code == 500
    assert response.read() == b""


@pytest.mark.parametrize("raise_app_exceptions", [True, False])
def test_wsgi_generator_failing_before_its_first_chunk(raise_app_exceptions: bool) -> None:
    def fail() -> None:
        raise Boom("late failure")

    result = Tracked([b"never"], before=fail)

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", [])
        return result

    transport = WSGITransport(app, raise_app_exceptions=raise_app_exceptions)
    if raise_app_exceptions:
        with pytest.raises(Boom):
            transport.handle_request(Request("GET", "http://a/"))
    else:
        assert transport.handle_request(Request("GET", "http://a/")).status_code == 500
    assert result.closed == 1


def exc_info_app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    """Starts a 200, fails before its first byte, and reports the failure (PEP 3333)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b""
    try:
        raise Boom("reported")
    except Boom:
        start_response("500 Internal Server Error", [("X-Error", "1")], sys.exc_info())
    yield b"error page"


def test_wsgi_exc_info_raises_by_default() -> None:
    with pytest.raises(Boom, match="reported"):
        call_wsgi(exc_info_app, Request("GET", "http://a/"))


def test_wsgi_exc_info_gives_the_error_response_when_asked() -> None:
    response = call_wsgi(exc_info_app, Request("GET", "http://a/"), raise_app_exceptions=False)
    assert response.status_code == 500
    assert response.headers["x-error"] == "1"
    assert "content-type" not in response.headers
    assert response.read() == b"error page"


def test_wsgi_exc_info_after_the_body_started_reraises() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise Boom("too late")
        except Boom:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"unreachable"

    response = call_wsgi(app, Request("GET", "http://a/"), raise_app_exceptions=False)
    assert response.status_code == 200
    chunks = response.iter_raw()
    assert next(chunks) == b"partial"
    with pytest.raises(Boom, match="too late"):
        next(chunks)
    response.close()


def test_wsgi_exc_info_without_an_exception_is_a_plain_call() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [], (None, None, None))
        return [b"ok"]

    assert call_wsgi(app, Request("GET", "http://a/")).read() == b"ok"


def test_wsgi_start_response_twice_without_exc_info() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return []

    with pytest.raises(RuntimeError, match="twice without exc_info"):
        call_wsgi(app, Request("GET", "http://a/"))


def test_wsgi_no_start_response() -> None:
    result = Tracked([])

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        return result

    with pytest.raises(RuntimeError, match="without calling start_response"):
        call_wsgi(app, Request("GET", "http://a/"))
    assert result.closed == 1


@pytest.mark.parametrize("status", ["OK 200", "2000 Big", "", "20x OK", " 200 OK"])
def test_wsgi_invalid_status(status: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, [])
        return []

    with pytest.raises(ValueError, match="invalid status"):
        call_wsgi(app, Request("GET", "http://a/"))


@pytest.mark.parametrize("status", ["299", "299 "])
def test_wsgi_status_without_reason(status: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, [])
        return []

    response = call_wsgi(app, Request("GET", "http://a/"))
    assert response.status_code == 299
    assert "reason_phrase" not in response.extensions
    assert response.reason_phrase == ""  # the standard phrase, none for 299

    def ok(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200", [])
        return []

    assert call_wsgi(ok, Request("GET", "http://a/")).reason_phrase == "OK"


# -- FileTransport ---------------------------------------------------------------------


def file_url(path: Path, host: str = "") -> str:
    return f"file://{host}{path.as_posix()}"


def fetch(path: Path | str, method: str = "GET", **kwargs: Any) -> Response:
    url = path if isinstance(path, str) else file_url(path)
    return FileTransport(**kwargs).handle_request(Request(method, url))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@needs_proc
def test_file_large_file_streams_in_bounded_chunks(tmp_path: Path) -> None:
    data = os.urandom(10 * 1024 * 1024 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    before = open_fds()
    response = fetch(path)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-type"] == "application/octet-stream"
    assert open_fds() == before + 1
    sizes = []
    received = bytearray()
    for chunk in response.iter_raw():
        sizes.append(len(chunk))
        received += chunk
    assert received == data
    assert max(sizes) == FILE_CHUNK_SIZE
    assert len(sizes) == -(-len(data) // FILE_CHUNK_SIZE)
    assert response.is_closed
    assert open_fds() == before


@pytest.mark.parametrize(
    ("size", "chunks"),
    [
        (FILE_CHUNK_SIZE - 1, [FILE_CHUNK_SIZE - 1]),
        (FILE_CHUNK_SIZE, [FILE_CHUNK_SIZE]),
        (FILE_CHUNK_SIZE + 1, [FILE_CHUNK_SIZE, 1]),
    ],
)
def test_file_chunk_size_limit(tmp_path: Path, size: int, chunks: list[int]) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)
    assert [len(c) for c in fetch(path).iter_raw()] == chunks


@pytest.mark.parametrize(("size", "chunks"), [(10, [10]), (11, [10, 1])])
def test_file_chunk_size_is_configurable(tmp_path: Path, size: int, chunks: list[int]) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)
    assert [len(c) for c in fetch(path, chunk_size=10).iter_raw()] == chunks


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, "64"])
def test_file_chunk_size_must_be_positive(chunk_size: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        FileTransport(chunk_size=chunk_size)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain"),
        ("data.JSON", "application/json"),
        ("page.html", "text/html"),
        ("README.md", "text/markdown"),
        ("image.webp", "image/webp"),
        ("archive.tar.gz", "application/gzip"),
        ("logs.xz", "application/x-xz"),
        ("unknown.zzz-none", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
        (".txt", "application/octet-stream"),
    ],
)
def test_file_content_type(tmp_path: Path, name: str, content_type: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"1")
    response = fetch(path)
    assert response.headers["content-type"] == content_type
    assert response.read() == b"1"


def test_file_localhost_and_percent_encoded_names(tmp_path: Path) -> None:
    path = tmp_path / "a b é.txt"
    path.write_text("hi")
    encoded = file_url(tmp_path) + "/a%20b%20%C3%A9.txt?ignored=1#fragment"
    assert fetch(encoded).read() == b"hi"
    assert fetch(file_url(path, "localhost")).read() == b"hi"
    assert fetch(file_url(path, "LocalHost")).read() == b"hi"


def test_file_missing_directory_and_special_files_are_404(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    assert fetch(tmp_path / "missing").status_code == 404
    assert fetch(tmp_path).status_code == 404
    assert fetch(tmp_path / "file" / "below").status_code == 404
    assert fetch(file_url(tmp_path) + "/x%00y").status_code == 404
    assert fetch(file_url(tmp_path) + "/" + "n" * 5000).status_code == 404
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        # Opening a FIFO must not wait for a writer.
        assert fetch(tmp_path / "fifo").status_code == 404
    response = fetch(tmp_path / "missing")
    assert response.read() == b""
    assert response.request.url == file_url(tmp_path / "missing")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_file_unreadable_is_403(tmp_path: Path) -> None:  # pragma: no cover (not as root)
    path = tmp_path / "secret"
    path.write_bytes(b"s")
    path.chmod(0)
    assert fetch(path).status_code == 403


def test_file_permission_error_is_403(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"s")

    def denied(*args: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    assert fetch(path).status_code == 403
    # As Windows answers for a directory: still 404.
    assert fetch(tmp_path).status_code == 404


def test_file_other_open_errors_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: Any) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "open", exhausted)
    with pytest.raises(ConnectError, match="Too many open files"):
        fetch(tmp_path / "x")


@needs_proc
def test_file_fstat_failure_closes_the_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x")

    real_fstat = os.fstat

    def broken(fd: int) -> os.stat_result:
        # Fail only the file transport's call: other code (coverage, server threads of
        # other tests) may call os.fstat meanwhile.
        if sys._getframe(1).f_code.co_filename.endswith(os.path.join("io_common", "files.py")):
            raise OSError(errno.EIO, "I/O error")
        return real_fstat(fd)

    before = open_fds()
    monkeypatch.setattr(os, "fstat", broken)
    with pytest.raises(OSError, match="I/O error"):
        fetch(path)
    assert open_fds() == before


def test_file_methods(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"hello")
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        response = fetch(path, method)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"


@needs_proc
def test_file_head(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"hello")
    before = open_fds()
    response = fetch(path, "HEAD")
    assert open_fds() == before
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.headers["content-type"] == "text/plain"
    assert response.read() == b""


@needs_proc
def test_file_closing_early_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x" * 100)
    before = open_fds()
    response = fetch(path, chunk_size=10)
    chunks = cast(Generator[bytes, None, None], response.iter_raw())
    assert next(chunks) == b"x" * 10
    chunks.close()
    response.close()
    assert open_fds() == before


@pytest.mark.parametrize(
    "url",
    [
        "file://example.org/etc/passwd",
        "file://localhost:8000/x",
        "http://example.org/x",
        "file:relative/path",
    ],
)
def test_file_rejects_non_local_urls(url: str) -> None:
    with pytest.raises(UnsupportedProtocol) as info:
        fetch(url)
    assert info.value.request.url == url


def test_file_that_shrinks_while_read(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x" * 100)
    response = fetch(path, chunk_size=40)
    chunks = response.iter_raw()
    assert next(chunks) == b"x" * 40
    with path.open("r+b") as f:
        f.truncate(50)
    assert next(chunks) == b"x" * 10
    with pytest.raises(ReadError, match="50 bytes early"):
        next(chunks)
    response.close()


def test_file_that_grows_is_cut_at_its_content_length(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"a" * 10)
    response = fetch(path)
    with path.open("ab") as f:
        f.write(b"b" * 10)
    assert response.read() == b"a" * 10


def test_file_of_size_zero_is_read_to_its_end(tmp_path: Path) -> None:
    # Like /proc files: a reported size of 0 says nothing, so there is no Content-Length.
    path = tmp_path / "x"
    path.write_bytes(b"")
    response = fetch(path, chunk_size=4)
    assert "content-length" not in response.headers
    with path.open("ab") as f:
        f.write(b"late data")
    assert list(response.iter_raw()) == [b"late", b" dat", b"a"]


def test_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"")
    assert fetch(path).read() == b""


class FailingFile:
    name = "/failing"

    def read(self, size: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("length", [None, 10])
def test_file_read_errors_are_read_errors(length: int | None) -> None:
    stream = FileByteStream(cast(io.FileIO, FailingFile()), length, 4)
    with pytest.raises(ReadError, match="Cannot read '/failing': Input/output error"):
        list(stream)


def test_module_exports() -> None:
    assert set(transports.__all__) == {
        "FILE_CHUNK_SIZE",
        "FileTransport",
        "MockTransport",
        "WSGITransport",
    }


# -- through the Client ----------------------------------------------------------------


def test_client_with_mock_transport() -> None:
    def handler(request: Request) -> Response:
        return Response(200, json={"path": request.url.path, "body": request.content.decode()})

    with Client(transport=MockTransport(handler)) as client:
        response = client.post("https://example.org/items", content=b"new")
    assert response.json() == {"path": "/items", "body": "new"}
    assert response.request.method == "POST"


def test_client_with_wsgi_transport_streams() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield environ["PATH_INFO"].encode()
        yield b"|"
        yield environ["QUERY_STRING"].encode()

    with Client(transport=WSGITransport(app), base_url="http://testserver") as client:
        assert client.get("/a", params={"q": "1"}).text == "/a|q=1"
        with client.stream("GET", "/b") as response:
            assert list(response.iter_bytes()) == [b"/b", b"|"]


def test_client_with_file_transport(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<p>hi</p>")

    def redirect_to_file(request: Request) -> Response:
        return Response(302, headers={"Location": file_url(path, "localhost")})

    mounts = {"file://": FileTransport(), "all://": MockTransport(redirect_to_file)}
    with Client(mounts=mounts) as client:
        response = client.get(file_url(path, "localhost"))
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html"
        assert response.text == "<p>hi</p>"
        assert client.get(file_url(tmp_path / "missing", "localhost")).status_code == 404
        # A server cannot make the client read local files through a redirect.
        with pytest.raises(UnsupportedProtocol, match="Refusing to follow a redirect"):
            client.get("https://example.org/", follow_redirects=True)
