"""ASGITransport and AsyncFileTransport on asyncio and trio, driven through sansio.models."""

from __future__ import annotations

import asyncio
import errno
import io
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import trio

from async_io import transports
from async_io.client import AsyncClient
from async_io.transports import (
    FILE_CHUNK_SIZE,
    ASGITransport,
    AsyncFileByteStream,
    AsyncFileTransport,
    Message,
    Receive,
    Scope,
    Send,
)
from sansio.content import IteratorByteStream
from sansio.exceptions import ConnectError, ReadError, UnsupportedProtocol
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream
from sync_io.transports import MockTransport

T = TypeVar("T")
Run = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


@pytest.fixture(params=["asyncio", "trio"])
def library(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(library: str) -> Run:
    """Run an async function to completion on asyncio or trio."""

    def runner(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if library == "trio":
            return trio.run(fn)
        return asyncio.run(fn())

    return runner


async def sleep_forever(library: str) -> None:
    if library == "trio":
        await trio.sleep_forever()
    else:
        await asyncio.Event().wait()


async def checkpoint(library: str) -> None:
    if library == "trio":
        await trio.lowlevel.checkpoint()
    else:
        await asyncio.sleep(0)


# -- ASGITransport ---------------------------------------------------------------------


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the body it received, and what it saw in headers."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if not message["more_body"]:
            break
    shown = {k: v for k, v in scope.items() if k != "headers"}
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [[b"content-type", b"text/plain"], (b"x-scope", repr(shown).encode())],
        }
    )
    for message in messages:
        await send({"type": "http.response.body", "body": message["body"], "more_body": True})
    await send({"type": "http.response.body"})
    scope["seen"] = messages


async def call(app: Any, request: Request, **kwargs: Any) -> Response:
    return await ASGITransport(app, **kwargs).handle_async_request(request)


def test_asgi_scope(run: Run) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    async def main() -> None:
        request = Request(
            "GET",
            "https://example.org/caf%C3%A9/a%2Fb?x=1&y=%20",
            headers={"X-Thing": "One"},
        )
        response = await call(app, request, root_path="/mount", client=("1.2.3.4", 5678))
        assert response.status_code == 204
        response = await call(app, Request("GET", "http://h:8080/"))
        response = await call(app, Request("GET", "http://h/"))

    run(main)
    scope = scopes[0]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["headers"] == [(b"host", b"example.org"), (b"x-thing", b"One")]
    assert scope["scheme"] == "https"
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%2Fb"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["server"] == ("example.org", 443)
    assert scope["client"] == ("1.2.3.4", 5678)
    assert scope["root_path"] == "/mount"
    assert scopes[1]["server"] == ("h", 8080)
    assert scopes[1]["client"] == ("127.0.0.1", 123)
    assert scopes[1]["root_path"] == ""
    assert scopes[2]["server"] == ("h", 80)


def test_asgi_request_body_messages(run: Run) -> None:
    seen: list[list[Message]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await echo_app(scope, receive, send)
        seen.append(scope["seen"])

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"
        yield b"three"

    async def nothing() -> AsyncIterator[bytes]:
        empty: list[bytes] = []
        for part in empty:
            yield part

    async def main() -> list[bytes]:
        bodies = []
        for request in (
            Request("POST", "http://a/", content=chunks()),
            Request("POST", "http://a/", content=b"whole"),
            Request("GET", "http://a/"),
            Request("POST", "http://a/", content=nothing()),
        ):
            response = await call(app, request)
            assert response.headers["content-type"] == "text/plain"
            bodies.append(await response.aread())
        return bodies

    assert run(main) == [b"onetwothree", b"whole", b"", b""]
    assert seen[0] == [
        {"type": "http.request", "body": b"one", "more_body": True},
        {"type": "http.request", "body": b"two", "more_body": True},
        {"type": "http.request", "body": b"three", "more_body": False},
    ]
    assert seen[1] == [{"type": "http.request", "body": b"whole", "more_body": False}]
    assert seen[2] == [{"type": "http.request", "body": b"", "more_body": False}]
    assert seen[3] == [{"type": "http.request", "body": b"", "more_body": False}]


def test_asgi_response_body_parts(run: Run) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": bytearray(b"b"), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"c")})

    async def main() -> tuple[int, list[bytes], str]:
        response = await call(app, Request("GET", "http://a/"))
        parts = [part async for part in response.aiter_raw()]
        return response.status_code, parts, response.http_version

    assert run(main) == (201, [b"a", b"b", b"c"], "HTTP/1.1")


def test_asgi_head_has_no_body(run: Run) -> None:
    async def main() -> bytes:
        response = await call(echo_app, Request("HEAD", "http://a/"))
        return await response.aread()

    assert run(main) == b""


def test_asgi_disconnect_once_the_response_is_complete(run: Run, library: str) -> None:
    events: list[str] = []

    async def listen(receive: Receive) -> None:
        message = await receive()
        events.append(message["type"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def respond() -> None:
            await send({"type": "http.response.start", "status": 200})
            await checkpoint(library)
            events.append("responding")
            await send({"type": "http.response.body", "body": b"done"})

        # A listener waiting for the client to go away, beside the response.
        if library == "trio":
            async with trio.open_nursery() as nursery:
                nursery.start_soon(listen, receive)
                nursery.start_soon(respond)
        else:
            await asyncio.gather(listen(receive), respond())
        events.append((await receive())["type"])

    async def main() -> bytes:
        response = await call(app, Request("GET", "http://a/"))
        return await response.aread()

    assert run(main) == b"done"
    assert events == ["responding", "http.disconnect", "http.disconnect"]


class Boom(Exception):
    pass


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise Boom("app failed")


async def failing_after_start(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise Boom("app failed late")


@pytest.mark.parametrize("app", [failing_app, failing_after_start])
def test_asgi_app_exceptions_propagate(run: Run, app: Any) -> None:
    async def main() -> None:
        with pytest.raises(Boom):
            await call(app, Request("GET", "http://a/"))

    run(main)


def test_asgi_app_exceptions_as_responses_when_asked(run: Run) -> None:
    async def main() -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
        results = []
        for app in (failing_app, failing_after_start):
            response = await call(app, Request("GET", "http://a/"), raise_app_exceptions=False)
            results.append((response.status_code, response.headers.raw, await response.aread()))
        return results

    assert run(main) == [(500, [], b""), (200, [(b"x-a", b"1")], b"partial")]


async def no_response(scope: Scope, receive: Receive, send: Send) -> None:
    pass


async def unfinished(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 202})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})


@pytest.mark.parametrize("app", [no_response, unfinished])
def test_asgi_incomplete_response(run: Run, app: Any) -> None:
    async def main() -> tuple[int, bytes]:
        with pytest.raises(RuntimeError, match="without completing its response"):
            await call(app, Request("GET", "http://a/"))
        response = await call(app, Request("GET", "http://a/"), raise_app_exceptions=False)
        return response.status_code, await response.aread()

    expected = (500, b"") if app is no_response else (202, b"half")
    assert run(main) == expected


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        ([{"type": "http.response.body"}], RuntimeError, "before 'http.response.start'"),
        (
            [{"type": "http.response.start", "status": 200}] * 2,
            RuntimeError,
            "'http.response.start' twice",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            RuntimeError,
            "after its response was complete",
        ),
        ([{"type": "http.response.trailers"}], RuntimeError, "unexpected message"),
        ([{"type": "http.response.start", "status": "200"}], TypeError, "must be an int"),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": "text"},
            ],
            TypeError,
            "bytes as its body, not str",
        ),
    ],
)
def test_asgi_bad_messages(
    run: Run, messages: list[Message], error: type[Exception], match: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    async def main() -> None:
        with pytest.raises(error, match=match):
            await call(app, Request("GET", "http://a/"))

    run(main)


def test_asgi_needs_an_async_request_body(run: Run) -> None:
    request = Request("POST", "http://a/", stream=IteratorByteStream(iter([b"x"])))

    async def main() -> None:
        with pytest.raises(RuntimeError, match="sync stream"):
            await call(echo_app, request)

    run(main)


class PlainIterator:
    """An async iterator with no aclose()."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    def __aiter__(self) -> PlainIterator:
        return self

    async def __anext__(self) -> bytes:
        if not self.parts:
            raise StopAsyncIteration
        return self.parts.pop(0)


class CountingStream(AsyncByteStream):
    """A request body whose iterator is a plain object."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    def __aiter__(self) -> AsyncIterator[bytes]:
        return PlainIterator(self.parts)


def test_asgi_request_body_from_any_async_iterator(run: Run) -> None:
    async def main() -> bytes:
        request = Request("POST", "http://a/", stream=CountingStream([b"x", b"y"]))
        response = await call(echo_app, request)
        return await response.aread()

    assert run(main) == b"xy"


def test_asgi_cancellation_closes_the_request_body(run: Run, library: str) -> None:
    state = {"closed": False}

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            state["closed"] = True

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await sleep_forever(library)

    async def main() -> None:
        request = Request("POST", "http://a/", content=body())
        if library == "trio":
            with trio.move_on_after(0.01):
                await call(app, request)
        else:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await call(app, request)

    run(main)
    assert state["closed"]


# -- AsyncFileTransport ----------------------------------------------------------------


def file_url(path: Path, host: str = "") -> str:
    return f"file://{host}{path.as_posix()}"


async def fetch(path: Path | str, method: str = "GET", **kwargs: Any) -> Response:
    url = path if isinstance(path, str) else file_url(path)
    return await AsyncFileTransport(**kwargs).handle_async_request(Request(method, url))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@needs_proc
def test_file_large_file_streams_in_bounded_chunks(run: Run, library: str, tmp_path: Path) -> None:
    data = os.urandom(10 * 1024 * 1024 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    async def main() -> tuple[list[int], bytes, int]:
        before = open_fds()
        ticks = 0
        sizes: list[int] = []
        received = bytearray()

        async def reader() -> None:
            response = await fetch(path)
            assert response.headers["content-length"] == str(len(data))
            assert response.headers["content-type"] == "application/octet-stream"
            async for chunk in response.aiter_raw():
                sizes.append(len(chunk))
                received.extend(chunk)
            assert response.is_closed

        async def ticker() -> None:
            nonlocal ticks
            while not received or len(received) < len(data):
                ticks += 1
                await checkpoint(library)

        # Reading checkpoints between chunks: another task gets to run meanwhile.
        if library == "trio":
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                nursery.start_soon(ticker)
        else:
            await asyncio.gather(reader(), ticker())
        assert open_fds() == before
        return sizes, bytes(received), ticks

    sizes, received, ticks = run(main)
    assert received == data
    assert max(sizes) == FILE_CHUNK_SIZE
    assert len(sizes) == -(-len(data) // FILE_CHUNK_SIZE)
    assert ticks >= len(sizes)


@pytest.mark.parametrize(
    ("size", "chunks"),
    [
        (FILE_CHUNK_SIZE - 1, [FILE_CHUNK_SIZE - 1]),
        (FILE_CHUNK_SIZE, [FILE_CHUNK_SIZE]),
        (FILE_CHUNK_SIZE + 1, [FILE_CHUNK_SIZE, 1]),
    ],
)
def test_file_chunk_size_limit(run: Run, tmp_path: Path, size: int, chunks: list[int]) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)

    async def main() -> list[int]:
        response = await fetch(path)
        return [len(c) async for c in response.aiter_raw()]

    assert run(main) == chunks


@pytest.mark.parametrize(("size", "chunks"), [(10, [10]), (11, [10, 1])])
def test_file_chunk_size_is_configurable(
    run: Run, tmp_path: Path, size: int, chunks: list[int]
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)

    async def main() -> list[int]:
        response = await fetch(path, chunk_size=10)
        return [len(c) async for c in response.aiter_raw()]

    assert run(main) == chunks


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, "64"])
def test_file_chunk_size_must_be_positive(chunk_size: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        AsyncFileTransport(chunk_size=chunk_size)


def test_file_statuses(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "a b.json"
    path.write_bytes(b'{"a": 1}')

    async def main() -> None:
        response = await fetch(file_url(tmp_path, "localhost") + "/a%20b.json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert await response.aread() == b'{"a": 1}'
        assert (await fetch(tmp_path / "missing")).status_code == 404
        assert (await fetch(tmp_path)).status_code == 404
        response = await fetch(path, "POST")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"
        response = await fetch(path, "HEAD")
        assert response.status_code == 200
        assert response.headers["content-length"] == "8"
        assert await response.aread() == b""

    run(main)


@needs_proc
def test_file_closing_early_closes_the_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x" * 100)

    async def main() -> None:
        before = open_fds()
        response = await fetch(path, chunk_size=10)
        assert open_fds() == before + 1
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"x" * 10
        await chunks.aclose()  # type: ignore[attr-defined]
        await response.aclose()
        assert open_fds() == before

    run(main)


def test_file_that_shrinks_or_grows(run: Run, tmp_path: Path) -> None:
    shrinking = tmp_path / "shrinking"
    shrinking.write_bytes(b"x" * 100)
    growing = tmp_path / "growing"
    growing.write_bytes(b"a" * 10)
    unsized = tmp_path / "unsized"
    unsized.write_bytes(b"")

    async def main() -> None:
        response = await fetch(shrinking, chunk_size=40)
        with shrinking.open("r+b") as f:
            f.truncate(50)
        with pytest.raises(ReadError, match="50 bytes early"):
            await response.aread()
        await response.aclose()

        response = await fetch(growing)
        with growing.open("ab") as f:
            f.write(b"b" * 10)
        assert await response.aread() == b"a" * 10

        response = await fetch(unsized, chunk_size=4)
        assert "content-length" not in response.headers
        with unsized.open("ab") as f:
            f.write(b"late data")
        assert [c async for c in response.aiter_raw()] == [b"late", b" dat", b"a"]

    run(main)


def test_file_not_found_cases(run: Run, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")

    async def main() -> list[int]:
        urls = [
            file_url(tmp_path / "file" / "below"),
            file_url(tmp_path) + "/x%00y",
            file_url(tmp_path) + "/" + "n" * 5000,
            file_url(tmp_path / "fifo"),
        ]
        return [(await fetch(url)).status_code for url in urls]

    assert run(main) == [404] * 4


def test_file_open_errors(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x")
    failure: list[OSError] = []

    def failing_open(*args: Any) -> int:
        raise failure[0]

    def failing_fstat(fd: int) -> os.stat_result:
        raise OSError(errno.EIO, "I/O error")

    async def main() -> None:
        with monkeypatch.context() as patch:
            patch.setattr(os, "open", failing_open)
            failure.append(PermissionError(errno.EACCES, "Permission denied"))
            assert (await fetch(path)).status_code == 403
            assert (await fetch(tmp_path)).status_code == 404
            failure[0] = OSError(errno.EMFILE, "Too many open files")
            with pytest.raises(ConnectError, match="Too many open files"):
                await fetch(path)
        before = open_fds()
        with monkeypatch.context() as patch:
            patch.setattr(os, "fstat", failing_fstat)
            with pytest.raises(OSError, match="I/O error"):
                await fetch(path)
        assert open_fds() == before

    run(main)


class FailingFile:
    name = "/failing"

    def read(self, size: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("length", [None, 10])
def test_file_read_errors_are_read_errors(run: Run, length: int | None) -> None:
    stream = AsyncFileByteStream(cast(io.FileIO, FailingFile()), length, 4)

    async def main() -> None:
        with pytest.raises(ReadError, match="Cannot read '/failing': Input/output error"):
            async for _ in stream:
                pass  # pragma: no cover

    run(main)


@pytest.mark.parametrize(
    "url", ["file://example.org/etc/passwd", "https://example.org/", "file:relative"]
)
def test_file_rejects_non_local_urls(run: Run, url: str) -> None:
    async def main() -> None:
        with pytest.raises(UnsupportedProtocol):
            await fetch(url)

    run(main)


def test_module_exports() -> None:
    assert set(transports.__all__) == {"FILE_CHUNK_SIZE", "ASGITransport", "AsyncFileTransport"}


# -- through the AsyncClient -----------------------------------------------------------


def test_async_client_with_asgi_and_mock_transports(run: Run) -> None:
    async def handler(request: Request) -> Response:
        return Response(201, text=f"mock {request.content.decode()}")

    async def main() -> None:
        async with AsyncClient(transport=ASGITransport(echo_app), base_url="http://t") as client:
            response = await client.post("/echo", content=b"ping")
            assert response.status_code == 200
            assert response.text == "ping"
            async with client.stream("POST", "/echo", content=b"streamed") as streamed:
                assert [part async for part in streamed.aiter_raw()] == [b"streamed"]
        async with AsyncClient(transport=MockTransport(handler)) as client:
            response = await client.put("https://example.org/", content=b"body")
            assert (response.status_code, response.text) == (201, "mock body")

    run(main)


def test_async_client_with_file_transport(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x" * 100)

    async def main() -> None:
        mounts = {"file://": AsyncFileTransport(chunk_size=30)}
        async with AsyncClient(mounts=mounts) as client:
            response = await client.get(file_url(path, "localhost"))
            assert response.headers["content-type"] == "text/plain"
            assert response.text == "x" * 100
            async with client.stream("GET", file_url(path, "localhost")) as streamed:
                sizes = [len(part) async for part in streamed.aiter_raw()]
            assert sizes == [30, 30, 30, 10]
            response = await client.delete(file_url(path, "localhost"))
            assert response.status_code == 405

    run(main)
