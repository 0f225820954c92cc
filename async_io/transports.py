"""Async transports that answer without a network: an ASGI app, local files.

(`MockTransport` serves both clients; it lives in ``sync_io.transports``.)

`ASGITransport` runs an ASGI 3 application in-process, on asyncio or trio alike: it
uses nothing but ``await`` on the app and on `async_io.backend`'s event. As in httpx
0.28, the app runs to completion before the response is returned, so its body is
buffered. Differences from httpx, on purpose: the scope's ``server`` port is the
scheme's default when the URL has none (httpx gave None); the last request body
chunk carries ``more_body: False`` itself; unknown, repeated or out-of-order response
messages raise RuntimeError (not AssertionError); and an app that returns without a
complete response is an app error (RuntimeError, or with ``raise_app_exceptions=False``
a 500 response, or the partial response if it had started).

A WebSocket handshake (a GET with ``Upgrade: websocket``) goes to the app as a
``websocket`` scope, with the ASGI WebSocket messages and the denial-response extension;
the 101 it answers carries an `ASGIWebSocketStream` as its ``network_stream``, which
``aconnect_ws`` talks through as through a socket. The app runs as a task of its own
while the session lasts, started without a nursery (a trio system task, an asyncio task)
so that no task group wraps the caller's exceptions. Its exceptions surface from the
stream's next read when ``raise_app_exceptions`` is true; otherwise the WebSocket closes
with 1011, as a server closes it. `sansio.ws` (and wsproto) is loaded only then.

`AsyncFileTransport` is the twin of ``sync_io.transports.FileTransport``; what is not
about waiting (paths, headers, the chunk size) is shared from ``io_common.files``. It reads the
file in the event loop's thread, one chunk at a time with a checkpoint between
chunks, rather than in a worker thread. Measured on the project's machine (10 MiB
file in page cache, 64 KiB chunks): a worker-thread hop costs 160 us (asyncio
``run_in_executor``) to 230 us (``trio.to_thread.run_sync``) per chunk, against 6 us
for the read itself: 27-37 ms against 1-2 ms for the file, and 0.6-0.8 ms against
0.01 ms for a 4 KiB file. Each read blocks the loop for about as long as decoding
that chunk would, so local files are served inline; a file on a network file system
that may hang is better served over HTTP.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any

import sniffio

from io_common.files import (
    FILE_CHUNK_SIZE,
    FILE_METHODS,
    check_chunk_size,
    file_headers,
    file_path,
    open_file,
    read_chunk,
    short_file_error,
)
from sansio.exceptions import ReadTimeout, WriteError
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream
from sansio.transports import AsyncBaseTransport

from .backend import create_event

if TYPE_CHECKING:  # pragma: no cover
    from sansio.ws import ASGIWebSocket

__all__ = ["FILE_CHUNK_SIZE", "ASGITransport", "AsyncFileTransport"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_NOT_READ = object()


def _asgi_bytes(body: object) -> bytes:
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"An ASGI app must send bytes as its body, not {type(body).__name__}.")


def _asgi_text(item: object) -> str | bytes:
    if isinstance(item, str | bytes):
        return item
    if isinstance(item, bytearray | memoryview):
        return bytes(item)
    raise TypeError(f"An ASGI header must be bytes or str, not {type(item).__name__}.")


class ASGIResponseStream(AsyncByteStream):
    """The body an ASGI app sent, one chunk per ``http.response.body`` message."""

    __slots__ = ("_parts",)

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part


class _ASGICall:
    """One request's exchange with the app: ``receive`` and ``send`` share this state."""

    __slots__ = (
        "chunks",
        "complete",
        "head",
        "headers",
        "parts",
        "pending",
        "request_done",
        "status",
    )

    def __init__(self, chunks: AsyncIterator[bytes], head: bool) -> None:
        self.chunks = chunks
        self.pending: object = _NOT_READ
        self.request_done = False
        self.head = head
        self.status: int | None = None
        self.headers: list[tuple[Any, Any]] = []  # str or bytes, as the app gave them
        self.parts: list[bytes] = []
        self.complete = create_event()

    async def receive(self) -> Message:
        if self.request_done:
            # Nothing more to read: as a server would, report the client gone once
            # the response is complete (an app listening for disconnects waits here).
            await self.complete.wait()
            return dict(_DISCONNECT)
        chunk = self.pending
        if chunk is _NOT_READ:
            chunk = await anext(self.chunks, None)
        if chunk is None:
            self.request_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Read one chunk ahead, so the last chunk says it is the last.
        self.pending = following = await anext(self.chunks, None)
        self.request_done = following is None
        return {"type": "http.request", "body": chunk, "more_body": following is not None}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("The ASGI app sent a body before 'http.response.start'.")
            if self.complete.is_set():
                raise RuntimeError("The ASGI app sent a body after its response was complete.")
            body = message.get("body", b"")
            if body and not self.head:
                self.parts.append(body if type(body) is bytes else _asgi_bytes(body))
            if not message.get("more_body", False):
                self.complete.set()
        elif kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("The ASGI app sent 'http.response.start' twice.")
            status = message["status"]
            if type(status) is not int:
                raise TypeError(f"An ASGI status must be an int, not {type(status).__name__}.")
            # Apps give bytes as the spec says, but httpx takes str too (and the
            # Headers model validates either): only bytes-likes need converting.
            self.headers = [
                (_asgi_text(name), _asgi_text(value)) for name, value in message.get("headers", ())
            ]
            self.status = status
        else:
            raise RuntimeError(f"The ASGI app sent an unexpected message: {kind!r}.")


class ASGITransport(AsyncBaseTransport):
    """Send requests to an ASGI 3 application in this process (asyncio or trio).

    ``raise_app_exceptions=False`` turns an app's exception into a 500 response if it
    came before ``http.response.start``, and into the response sent so far after it.
    ``root_path`` is the scope's mount point; ``client`` its client ``(host, port)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client

    def _scope(self, request: Request) -> Scope:
        url = request.url
        scheme = url.scheme
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(lower, value) for _, lower, value in request.headers._list],
            "scheme": scheme,
            "path": url.path,
            "raw_path": url.raw_path.partition(b"?")[0],
            "query_string": url.query,
            "server": (url.host, url.port or _DEFAULT_PORTS.get(scheme, 80)),
            "client": self.client,
            "root_path": self.root_path,
        }

    async def handle_async_request(self, request: Request) -> Response:
        """Run the app on ``request`` to completion. On cancellation the app is cancelled
        with the caller and the request body's iterator is closed. A WebSocket handshake
        runs the app until it answers (see the module docstring)."""
        if request.headers.get("upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        stream = request.stream
        if not isinstance(stream, AsyncByteStream):
            raise RuntimeError(
                "This request's body is a sync stream: ASGITransport needs an async one."
            )
        chunks = aiter(stream)
        call = _ASGICall(chunks, request.method == "HEAD")
        try:
            await self.app(self._scope(request), call.receive, call.send)
            if not call.complete.is_set():
                raise RuntimeError("The ASGI app returned without completing its response.")
        except Exception:
            if self.raise_app_exceptions:
                raise
            if call.status is None:
                call.status = 500
                call.headers = []
        finally:
            # Wake any receive() still waiting (a stray task), and finish the body.
            call.complete.set()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        assert call.status is not None  # set by the app, or to 500 above
        return Response(
            call.status,
            headers=call.headers,
            stream=ASGIResponseStream(call.parts),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _websocket(self, request: Request) -> Response:
        from sansio.ws import ASGIWebSocket, timeout_of

        bridge = ASGIWebSocket(request)
        scope = bridge.scope(self._scope(request))
        stream = ASGIWebSocketStream(self.app, scope, bridge, self.raise_app_exceptions)
        if not bridge.answered:
            try:
                await stream.open(timeout_of(request, "read"))
            except BaseException as exc:
                await stream.aclose()
                # Only the app's own failure may become a 500: not a timeout or a cancel.
                app_failed = isinstance(exc, Exception) and not isinstance(exc, ReadTimeout)
                if self.raise_app_exceptions or not app_failed:
                    raise
                if bridge.status is None:
                    bridge.status, bridge.headers = 500, []
        headers: list[tuple[Any, Any]] = [
            (_asgi_text(name), _asgi_text(value)) for name, value in bridge.headers
        ]
        return Response(
            bridge.status or 500,
            headers=headers,
            stream=ASGIResponseStream(bridge.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "network_stream": stream},
        )


class ASGIWebSocketStream:
    """The ``network_stream`` of a WebSocket answered by an ASGI app in this process.

    What the client writes goes to the app as ASGI messages; what the app sends comes back
    as bytes to read (`sansio.ws.ASGIWebSocket` translates both ways). Reads and writes
    are httpcore's (``read(max_bytes, timeout)``, ``b""`` at the end); a read raises the
    app's exception, once, if it failed and ``raise_app_exceptions`` is true.
    """

    def __init__(
        self, app: ASGIApp, scope: Scope, bridge: ASGIWebSocket, raise_app_exceptions: bool
    ) -> None:
        self._app = app
        self._scope = scope
        self._bridge = bridge
        self._raise = raise_app_exceptions
        self._pending = b""  # bytes for the client, not read yet
        self._changed = create_event()  # set, and replaced, whenever anything happens
        self._task: object = None  # keeps an asyncio task alive
        self._checkpoint = _checkpoint()
        self._done = False
        self._closed = False
        self.error: BaseException | None = None  # what the app raised, until surfaced

    def _notify(self) -> None:
        changed, self._changed = self._changed, create_event()
        changed.set()

    async def _receive(self) -> Message:
        while (message := self._bridge.next_app_message()) is None:
            await self._changed.wait()
        return message

    async def _send(self, message: Message) -> None:
        self._bridge.app_sent(message)
        self._notify()

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        except Exception as exc:
            self.error = exc
        finally:
            self._done = True
            if self.error is None or not self._raise:
                self._bridge.app_finished(failed=self.error is not None)
            self._notify()

    async def open(self, timeout: float | None) -> None:
        """Start the app and wait for its answer to the handshake: ReadTimeout after
        ``timeout`` seconds without one; the app's exception if it raised first;
        RuntimeError if it returned without answering."""
        if sniffio.current_async_library() == "trio":
            import trio

            trio.lowlevel.spawn_system_task(self._run)
        else:
            import asyncio

            self._task = asyncio.get_running_loop().create_task(self._run())
        while not self._bridge.answered:
            if self.error is not None:
                raise self.error
            if self._done:
                raise RuntimeError(
                    "The ASGI app returned without accepting or refusing the WebSocket."
                )
            if not await self._changed.wait(timeout):
                raise ReadTimeout("The ASGI app did not answer the WebSocket handshake.")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        while True:
            if not self._pending:
                self._pending = self._bridge.data_to_send()
            if self._pending:
                data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
                return data
            if self.error is not None and self._raise:
                error, self.error = self.error, None
                raise error
            if self._closed or self._done or self._bridge.finished:
                return b""
            if not await self._changed.wait(timeout):
                raise ReadTimeout("timed out")

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        if self._closed:
            raise WriteError("The WebSocket stream is closed.")
        self._bridge.receive_data(data)
        self._notify()
        await self._checkpoint()  # let the app run

    async def aclose(self) -> None:
        """Close; the app hears of it (a disconnect message) and may finish."""
        if not self._closed:
            self._closed = True
            self._bridge.client_gone()
            self._notify()

    def get_extra_info(self, name: str) -> Any:
        if name == "is_readable":
            return bool(self._pending) or self._bridge.has_data or self._done or self._closed
        return None


# -- file:// (mirrors sync_io.transports) ----------------------------------------------


def _checkpoint() -> Callable[[], Awaitable[None]]:
    """The running library's cheapest "let other tasks run" call."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.checkpoint
    import asyncio

    return partial(asyncio.sleep, 0)  # a zero delay only yields to the loop


class AsyncFileByteStream(AsyncByteStream):
    """A file's content in chunks of at most ``chunk_size`` bytes; closes the file at its end.

    With a ``length``, exactly that many bytes are read (the Content-Length promised),
    and a file that shrank meanwhile raises `ReadError`; without one, up to end of file.
    Each read is preceded by a checkpoint. On cancellation the file stays open until
    the response is closed.
    """

    __slots__ = ("_chunk_size", "_file", "_length")

    def __init__(self, file: io.FileIO, length: int | None, chunk_size: int) -> None:
        self._file = file
        self._length = length
        self._chunk_size = chunk_size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        file, chunk_size, remaining = self._file, self._chunk_size, self._length
        checkpoint = _checkpoint()
        if remaining is None:
            while True:
                await checkpoint()
                data = read_chunk(file, chunk_size)
                if not data:
                    break
                yield data
        else:
            while remaining > 0:
                await checkpoint()
                data = read_chunk(file, min(chunk_size, remaining))
                if not data:
                    raise short_file_error(remaining)
                remaining -= len(data)
                yield data
        await self.aclose()

    async def aclose(self) -> None:
        self._file.close()


class AsyncFileTransport(AsyncBaseTransport):
    """Serve ``file://`` URLs (no host, or ``localhost``) from the local file system.

    The async twin of ``sync_io.transports.FileTransport``: GET and HEAD only (other
    methods: 405); 200 with Content-Type and Content-Length for a regular file, its
    body streamed in chunks of at most ``chunk_size`` bytes; 404 for a missing path,
    a directory or a special file; 403 for a file that may not be read.
    """

    def __init__(self, *, chunk_size: int = FILE_CHUNK_SIZE) -> None:
        self.chunk_size = check_chunk_size(chunk_size)

    async def handle_async_request(self, request: Request) -> Response:
        """Open the file (in the loop's thread) and return its response, body unread."""
        path = file_path(request)
        if request.method not in FILE_METHODS:
            return Response(405, headers=[(b"Allow", b"GET, HEAD")], request=request)
        status, file, size = open_file(path)
        if file is None:
            return Response(status, request=request)
        headers = file_headers(path, size)
        if request.method == "HEAD":
            file.close()
            return Response(200, headers=headers, request=request)
        stream = AsyncFileByteStream(file, size or None, self.chunk_size)
        return Response(200, headers=headers, stream=stream, request=request)
