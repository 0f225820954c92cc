"""`connect_ws`: WebSockets over the `Client`, with httpx-ws's API (``pip install 'conch[ws]'``).

The core (`sansio.ws`) checks the handshake and runs the protocol: frames, fragments, ping
and pong, the close handshake, the size bounds, keepalive timing. This module sends the
handshake with ``client.stream()``, then moves bytes through the response's
``network_stream`` and waits. Nothing runs in the background: the session reads when it is
called (`receive`, a `Pong`'s `wait`, `close`, and once before each send if bytes are
waiting), and answers the server's pings then. Callers may share a session: one reads at a
time while the others wait for its progress, and frames are written whole and in order.
`sync_io.ws` and `async_io.ws` mirror each other line for line (tests/test_twins.py).

The network stream is httpcore's interface: ``read(max_bytes, timeout)`` (``b""`` at the
end), ``write(data, timeout)``, ``close()``, ``get_extra_info("is_readable")``, failing
with conch's `ReadTimeout` and other `TransportError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractContextManager,
    ExitStack,
    contextmanager,
    suppress,
)
from functools import partial
from types import TracebackType
from typing import Any, Protocol

from sansio import env
from sansio.exceptions import ReadTimeout, TransportError
from sansio.models import Response
from sansio.urls import URL
from sansio.ws import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_KEEPALIVE_PING_INTERVAL,
    DEFAULT_KEEPALIVE_PING_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_QUEUE_SIZE,
    Accepted,
    Event,
    Handshake,
    JSONMode,
    Received,
    WebSocketConnection,
    WebSocketError,
    as_bytes,
    as_json,
    as_text,
    check_close,
    check_json_mode,
    http_url,
    timeout_of,
)

from .client import Client

__all__ = [
    "READ_SIZE",
    "NetworkStream",
    "Pong",
    "WebSocketClient",
    "WebSocketSession",
    "connect_ws",
]

# Bytes asked of the stream per read: what one read may add to the core's buffer.
READ_SIZE = 64 * 1024


class NetworkStream(Protocol):
    """The connection a 101 hands over (httpcore's ``NetworkStream``)."""

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...
    def write(self, data: bytes, timeout: float | None = None) -> None: ...
    def close(self) -> None: ...
    def get_extra_info(self, name: str) -> Any: ...


class Pong:
    """What `WebSocketSession.ping` returns: `wait` for the server's pong."""

    __slots__ = ("_session", "_set")

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """Read, answering the server, until the pong arrives (True) or ``timeout`` seconds
        pass (False). Messages arriving meanwhile wait for `receive`, at most
        ``queue_size``; past that, only another caller's `receive` lets the wait go on."""
        return self._session._wait_for(self, timeout)


class WebSocketSession:
    """An open WebSocket, as httpx-ws's; closed (close handshake included) on exit.

    ``subprotocol`` is the one the server chose, ``response`` the handshake's 101.
    """

    def __init__(
        self,
        stream: NetworkStream,
        *,
        max_message_size_bytes: int = DEFAULT_MAX_MESSAGE_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keepalive_ping_interval_seconds: float | None = DEFAULT_KEEPALIVE_PING_INTERVAL,
        keepalive_ping_timeout_seconds: float | None = DEFAULT_KEEPALIVE_PING_TIMEOUT,
        response: Response | None = None,
        accepted: Accepted | None = None,
        close_timeout_seconds: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self.stream = stream
        self.response = response
        self._core = WebSocketConnection(
            accepted,
            max_message_size=max_message_size_bytes,
            queue_size=queue_size,
            keepalive_interval=keepalive_ping_interval_seconds,
            keepalive_timeout=keepalive_ping_timeout_seconds,
        )
        self.subprotocol = self._core.subprotocol
        self._write_timeout = timeout_of(response, "write")
        self._close_timeout = close_timeout_seconds
        self._clock = env.current().clock
        self._lock = threading.Lock()  # the core's state; never held during I/O
        self._write_lock = threading.Lock()  # frames go out whole and in order
        self._reading = False  # a caller is reading: the others wait for its progress
        self._progress = threading.Event()  # set, and replaced, after each read
        self._stream_closed = False

    def __enter__(self) -> WebSocketSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(1000 if exc is None else 1011)

    # -- sending --------------------------------------------------------------------------

    def send(self, event: Event) -> None:
        """Send a wsproto event: a (possibly unfinished) message, Ping, Pong or Close."""
        self._send(partial(self._core.send, event))

    def send_text(self, data: str) -> None:
        self._send(partial(self._core.send_text, data))

    def send_bytes(self, data: bytes) -> None:
        self._send(partial(self._core.send_bytes, data))

    def send_json(self, data: Any, mode: JSONMode = "text") -> None:
        """Send ``data`` as JSON in a text (``mode="text"``) or binary message."""
        self._send(partial(self._core.send_json, data, mode))

    def ping(self, payload: bytes = b"") -> Pong:
        """Send a Ping (``payload``, else 8 random bytes); `Pong.wait` for its answer."""
        pong = Pong(self)
        self._send(partial(self._core.ping, payload, pong))
        return pong

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close: send a Close frame, wait (``close_timeout_seconds`` at most) for the
        server's, then close the connection. Network errors are not raised here."""
        check_close(code, reason)
        try:
            self._send(partial(self._core.close, code, reason))
            deadline = self._deadline(self._close_timeout)
            while self._core.closing:
                self._wait(deadline)
        except (WebSocketError, TimeoutError):
            pass  # the session had ended, or the server did not answer in time
        finally:
            self._close_stream()

    # -- receiving ------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> Received:
        """The next whole message (a wsproto TextMessage or BytesMessage), answering pings
        while waiting. TimeoutError after ``timeout`` seconds without one; once the session
        has ended, its error (`WebSocketDisconnect`, ...)."""
        deadline = self._deadline(timeout)
        while True:
            with self._lock:
                message = self._core.next_message()
            if message is not None:
                return message
            self._wait(deadline)

    def receive_text(self, timeout: float | None = None) -> str:
        return as_text(self.receive(timeout))

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        return as_bytes(self.receive(timeout))

    def receive_json(self, timeout: float | None = None, mode: JSONMode = "text") -> Any:
        """The JSON in the next message, a text (``mode="text"``) or binary one."""
        check_json_mode(mode)
        return as_json(self.receive(timeout), mode)

    # -- moving bytes ---------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else self._clock() + timeout

    def _remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.0, deadline - self._clock())

    def _send(self, produce: Callable[[], object]) -> None:
        self._take_waiting()
        with self._write_lock:
            with self._lock:
                produce()
                data = self._core.data_to_send()
            self._write(data)

    def _take_waiting(self) -> None:
        """Before a send, take (once) what has already arrived, answering pings in it."""
        with self._lock:
            idle = not self._reading and self._core.wants_data
        if idle and self.stream.get_extra_info("is_readable"):
            with suppress(TimeoutError):
                self._wait(self._clock())

    def _wait_for(self, pong: Pong, timeout: float | None) -> bool:
        deadline = self._deadline(timeout)
        while True:
            with self._lock:
                if pong.is_set():
                    return True
                self._core.check()
            try:
                self._wait(deadline)
            except TimeoutError:
                return pong.is_set()

    def _wait(self, deadline: float | None) -> None:
        """Read once and process it; or, while another caller reads (or the queue is full),
        wait for its progress. TimeoutError once ``deadline`` has passed."""
        with self._lock:
            busy = self._reading or not self._core.wants_data
            progress = self._progress
            if not busy:
                self._reading = True
        if busy:
            if not progress.wait(self._remaining(deadline)):
                raise TimeoutError
            return
        try:
            self._read(deadline)
        finally:
            with self._lock:
                self._reading = False
                self._progress = threading.Event()
            progress.set()

    def _read(self, deadline: float | None) -> None:
        with self._lock:
            timeout, timer = self._core.next_wait(self._clock(), deadline)
        try:
            data = self.stream.read(READ_SIZE, timeout)
        except ReadTimeout:
            if not timer:
                raise TimeoutError from None
            with self._lock:
                self._core.timer_expired(self._clock())
        except TransportError as exc:
            with self._lock:
                error = self._core.network_failed(exc)
            raise error from exc
        else:
            with self._lock:
                self._core.receive_data(data)
                pongs = self._core.take_pongs()
            for pong in pongs:
                pong.set()
        self._flush()
        if self._core.closed:
            self._close_stream()

    def _flush(self) -> None:
        with self._write_lock:
            with self._lock:
                data = self._core.data_to_send()
            self._write(data)

    def _write(self, data: bytes) -> None:
        # Called with the write lock held.
        if not data:
            return
        try:
            self.stream.write(data, self._write_timeout)
        except TransportError as exc:
            with self._lock:
                error = self._core.network_failed(exc)
            raise error from exc
        except BaseException as exc:  # interrupted mid-frame: the connection is unusable
            with self._lock:
                self._core.network_failed(exc)
            raise

    def _close_stream(self) -> None:
        with self._lock:
            closed, self._stream_closed = self._stream_closed, True
        if not closed:
            self.stream.close()


@contextmanager
def connect_ws(
    url: URL | str,
    client: Client | None = None,
    *,
    max_message_size_bytes: int = DEFAULT_MAX_MESSAGE_SIZE,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    keepalive_ping_interval_seconds: float | None = DEFAULT_KEEPALIVE_PING_INTERVAL,
    keepalive_ping_timeout_seconds: float | None = DEFAULT_KEEPALIVE_PING_TIMEOUT,
    subprotocols: list[str] | None = None,
    session_class: type[WebSocketSession] = WebSocketSession,
    compression: bool = False,
    close_timeout_seconds: float = DEFAULT_CLOSE_TIMEOUT,
    **kwargs: Any,
) -> Iterator[WebSocketSession]:
    """Open a WebSocket with a GET through ``client`` (a new `Client` if None); yield its
    session, and close it on exit.

    ``url`` is ``ws://``, ``wss://``, ``http://`` or ``https://``. ``subprotocols`` are
    offered in order; ``compression`` offers permessage-deflate. Other keyword arguments
    go to ``client.stream()``. `WebSocketUpgradeError` if the server opens none.
    """
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(Client())
        handshake = Handshake(subprotocols=subprotocols, compression=compression)
        headers = handshake.headers(kwargs.pop("headers", None))
        # Over HTTP/2, where the server allows it, an extended CONNECT on a stream of the
        # shared connection (RFC 8441); otherwise the Upgrade, on HTTP/1.1.
        extensions = {"protocol": "websocket", **kwargs.pop("extensions", {})}
        response = stack.enter_context(
            client.stream("GET", http_url(url), headers=headers, extensions=extensions, **kwargs)
        )
        accepted = handshake.accept(response)
        session = session_class(
            response.extensions["network_stream"],
            max_message_size_bytes=max_message_size_bytes,
            queue_size=queue_size,
            keepalive_ping_interval_seconds=keepalive_ping_interval_seconds,
            keepalive_ping_timeout_seconds=keepalive_ping_timeout_seconds,
            response=response,
            accepted=accepted,
            close_timeout_seconds=close_timeout_seconds,
        )
        yield stack.enter_context(session)


class WebSocketClient:
    """httpx-ws's class-based API: the client and the session options, for `connect`."""

    def __init__(
        self,
        client: Client,
        *,
        max_message_size_bytes: int = DEFAULT_MAX_MESSAGE_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keepalive_ping_interval_seconds: float | None = DEFAULT_KEEPALIVE_PING_INTERVAL,
        keepalive_ping_timeout_seconds: float | None = DEFAULT_KEEPALIVE_PING_TIMEOUT,
        session_class: type[WebSocketSession] = WebSocketSession,
        compression: bool = False,
        close_timeout_seconds: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self.client = client
        self.max_message_size_bytes = max_message_size_bytes
        self.queue_size = queue_size
        self.keepalive_ping_interval_seconds = keepalive_ping_interval_seconds
        self.keepalive_ping_timeout_seconds = keepalive_ping_timeout_seconds
        self.session_class = session_class
        self.compression = compression
        self.close_timeout_seconds = close_timeout_seconds

    def connect(
        self, url: URL | str, subprotocols: list[str] | None = None, **kwargs: Any
    ) -> AbstractContextManager[WebSocketSession]:
        """`connect_ws` through this client with its options; other keyword arguments go
        to ``client.stream()``."""
        return connect_ws(
            url,
            self.client,
            max_message_size_bytes=self.max_message_size_bytes,
            queue_size=self.queue_size,
            keepalive_ping_interval_seconds=self.keepalive_ping_interval_seconds,
            keepalive_ping_timeout_seconds=self.keepalive_ping_timeout_seconds,
            subprotocols=subprotocols,
            session_class=self.session_class,
            compression=self.compression,
            close_timeout_seconds=self.close_timeout_seconds,
            **kwargs,
        )
