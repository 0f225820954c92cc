"""Transports that answer without a network: a handler function, a WSGI app, local files.

`MockTransport` calls a function; it serves `Client` and `AsyncClient` alike.
`WSGITransport` runs a PEP 3333 application in-process. `FileTransport` serves
``file://`` URLs from the local file system. Behaviour follows httpx 0.28 where httpx
has the transport, with these deliberate differences:

- WSGI: ``PATH_INFO`` is the percent-decoded path as latin-1 text (PEP 3333's
  "bytes as latin-1" rule, which frameworks undo), not the UTF-8 decoded path;
  header values are latin-1 too, repeated request headers are joined with "," as
  gunicorn does (httpx kept only the last), data passed to ``write()`` is sent
  before the iterable's (httpx dropped it), HEAD responses carry no body, the
  iterable is closed on every path, the app's reason phrase is kept, and with
  ``raise_app_exceptions=False`` an app that fails before its response starts gives
  a 500 response (as `ASGITransport` does) instead of raising.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

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
from sansio.headers import Headers
from sansio.models import Request, Response
from sansio.streams import SyncByteStream
from sansio.transports import AsyncBaseTransport, BaseTransport

if TYPE_CHECKING:  # pragma: no cover
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = ["FILE_CHUNK_SIZE", "FileTransport", "MockTransport", "WSGITransport"]

SyncHandler = Callable[[Request], Response]
AsyncHandler = Callable[[Request], Awaitable[Response]]


def _not_a_response(result: object) -> TypeError:
    return TypeError(
        f"MockTransport's handler must return a Response, not {type(result).__name__}."
    )


class MockTransport(AsyncBaseTransport, BaseTransport):
    """Answer every request with ``handler(request)``; the request body is read first.

    A plain function serves both clients; an ``async def`` handler only `AsyncClient`.
    """

    def __init__(self, handler: SyncHandler | AsyncHandler) -> None:
        self.handler = handler

    def handle_request(self, request: Request) -> Response:
        request.read()
        response = self.handler(request)
        if isinstance(response, Response):
            return response
        if isinstance(response, Awaitable):
            close = getattr(response, "close", None)
            if close is not None:
                close()  # no "coroutine was never awaited" warning on top of this error
            raise TypeError(
                "MockTransport's handler returned an awaitable in sync code: "
                "use a plain function with Client, or use AsyncClient."
            )
        raise _not_a_response(response)

    async def handle_async_request(self, request: Request) -> Response:
        await request.aread()
        response = self.handler(request)
        if not isinstance(response, Response):
            if isinstance(response, Awaitable):
                response = await response
            if not isinstance(response, Response):
                raise _not_a_response(response)
        return response


# -- WSGI ------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CGI_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _wsgi_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"A WSGI app must produce bytes, not {type(chunk).__name__}.")


class _WSGICall:
    """The state `start_response` and ``write`` share with the transport for one call."""

    __slots__ = ("error", "headers", "reason", "sent", "status", "written")

    def __init__(self) -> None:
        self.status: int | None = None
        self.reason = b""
        self.headers: Headers | None = None
        # The exception an app reported through start_response(..., exc_info).
        self.error: BaseException | None = None
        self.written: list[bytes] = []
        # True once the response has gone out (PEP 3333: after the first non-empty
        # chunk); start_response may replace the status only before that.
        self.sent = False

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        if exc_info is not None and exc_info[1] is not None:
            if self.sent:
                raise exc_info[1].with_traceback(exc_info[2])
            self.error = exc_info[1]
        elif self.status is not None:
            raise RuntimeError("start_response() was called twice without exc_info (PEP 3333).")
        code, _, reason = status.partition(" ")
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"A WSGI app gave an invalid status: {status!r}.")
        self.headers = Headers(
            [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response_headers]
        )
        self.status = int(code)
        self.reason = reason.encode("latin-1")
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise RuntimeError("write() was called before start_response() (PEP 3333).")
        if data:
            self.written.append(data if type(data) is bytes else _wsgi_bytes(data))
            self.sent = True


class WSGIByteStream(SyncByteStream):
    """A WSGI app's response body: data passed to ``write()``, then the iterable's chunks.

    `close` calls the iterable's ``close()``, as PEP 3333 requires of a server.
    """

    __slots__ = ("_closed", "_head", "_iterator", "_result")

    def __init__(self, head: list[bytes], iterator: Iterator[Any], result: Iterable[Any]) -> None:
        self._head = head
        self._iterator = iterator
        self._result = result
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        head, self._head = self._head, []
        yield from head
        for chunk in self._iterator:
            yield chunk if type(chunk) is bytes else _wsgi_bytes(chunk)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _close_result(self._result)


def _close_result(result: Iterable[Any]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class WSGITransport(BaseTransport):
    """Send requests to a WSGI application in this process, streaming its response.

    ``raise_app_exceptions=False`` turns an exception raised before the response
    started into a 500 response, and makes an app's ``start_response(..., exc_info)``
    give its error response instead of raising. An exception raised while the body
    streams always propagates: the status has been given by then.
    """

    def __init__(
        self,
        app: WSGIApplication,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    def _environ(self, request: Request) -> WSGIEnvironment:
        # Imported here: urllib.parse (and its ipaddress) cost ~2 ms of `import conch`.
        from urllib.parse import unquote_to_bytes

        url = request.url
        scheme = url.scheme
        path = url.raw_path.partition(b"?")[0]
        environ: WSGIEnvironment = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(request.read()),
            "wsgi.errors": sys.stderr if self.wsgi_errors is None else self.wsgi_errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            # The whole body is in wsgi.input: reading past CONTENT_LENGTH is safe.
            "wsgi.input_terminated": True,
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": url.query.decode("latin-1"),
            "SERVER_NAME": url.host,
            "SERVER_PORT": str(url.port or _DEFAULT_PORTS.get(scheme, 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
        }
        for _, lower, raw_value in request.headers._list:
            key = lower.decode("latin-1").upper().replace("-", "_")
            if key not in _CGI_UNPREFIXED:
                key = "HTTP_" + key
            value = raw_value.decode("latin-1")
            previous = environ.get(key)
            environ[key] = value if previous is None else f"{previous},{value}"
        return environ

    def handle_request(self, request: Request) -> Response:
        environ = self._environ(request)
        call = _WSGICall()
        result: Iterable[Any] | None = None
        try:
            result = self.app(environ, call.start_response)
            iterator = iter(result)
            # A generator app may call start_response only once iterated, and may
            # replace its status (exc_info) until the first non-empty chunk: pull
            # chunks up to that one before looking at the status.
            if not call.written:
                for chunk in iterator:
                    if chunk:
                        call.written.append(chunk if type(chunk) is bytes else _wsgi_bytes(chunk))
                        break
            if call.status is None:
                raise RuntimeError("The WSGI app returned without calling start_response().")
            call.sent = True
            if call.error is not None and self.raise_app_exceptions:
                raise call.error
        except Exception:
            if result is not None:
                _close_result(result)
            if self.raise_app_exceptions:
                raise
            return Response(500, request=request)
        assert call.headers is not None
        if request.method == "HEAD":
            stream = WSGIByteStream([], iter(()), result)
        else:
            stream = WSGIByteStream(call.written, iterator, result)
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if call.reason:  # else the standard phrase for the status
            extensions["reason_phrase"] = call.reason
        return Response(
            call.status, headers=call.headers, stream=stream, request=request, extensions=extensions
        )


# -- file:// ---------------------------------------------------------------------------


class FileByteStream(SyncByteStream):
    """A file's content in chunks of at most ``chunk_size`` bytes; closes the file at its end.

    With a ``length``, exactly that many bytes are read (the Content-Length promised),
    and a file that shrank meanwhile raises `ReadError`; without one, up to end of file.
    """

    __slots__ = ("_chunk_size", "_file", "_length")

    def __init__(self, file: io.FileIO, length: int | None, chunk_size: int) -> None:
        self._file = file
        self._length = length
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        file, chunk_size, remaining = self._file, self._chunk_size, self._length
        if remaining is None:
            while data := read_chunk(file, chunk_size):
                yield data
        else:
            while remaining > 0:
                data = read_chunk(file, min(chunk_size, remaining))
                if not data:
                    raise short_file_error(remaining)
                remaining -= len(data)
                yield data
        self.close()

    def close(self) -> None:
        self._file.close()


class FileTransport(BaseTransport):
    """Serve ``file://`` URLs (no host, or ``localhost``) from the local file system.

    GET and HEAD only (other methods: 405). A regular file gives 200 with Content-Type
    guessed from its extension and Content-Length, its body streamed in chunks of at
    most ``chunk_size`` bytes from the open file, which is closed with the response.
    A missing path, a directory or a special file gives 404; a file that cannot be
    read for lack of permission, 403. Mount it with ``mounts={"file://": FileTransport()}``.
    """

    def __init__(self, *, chunk_size: int = FILE_CHUNK_SIZE) -> None:
        self.chunk_size = check_chunk_size(chunk_size)

    def handle_request(self, request: Request) -> Response:
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
        stream = FileByteStream(file, size or None, self.chunk_size)
        return Response(200, headers=headers, stream=stream, request=request)
