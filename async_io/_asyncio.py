"""The asyncio backend: a Protocol and its transport, no asyncio streams.

Why a Protocol: received data arrives in ``data_received`` as the bytes object the loop
read from the socket, and `recv` hands that very object back when it fits, so a body
costs one copy (kernel to bytes) instead of two. Reads wait on one future with a
timer rather than under ``asyncio.timeout``, which cancels and un-cancels the task and
allocates a context manager per call.

The read timer is lazy: a connection keeps one timer armed for the deadline of the read
that armed it, and a later read whose deadline is no earlier (the usual case: the same
timeout, later) keeps it and only moves the deadline it is checked against. When it
fires before the read's deadline it re-arms for that deadline; when no read waits, it
lapses. So a request's read arms no timer at all, where a timer per read costs a heap
push and a cancelled entry in the loop's heap (with 100 connections, about one timer a
request and eight Python-level comparisons).

Measured on this machine (Python 3.11, 2 cores, loopback, a blocking server thread; best
of 5, the range over three runs):

    5,000 round trips of 64 KiB    Protocol + timer           0.37 - 0.42 s
                                   Protocol + asyncio.timeout 0.36 - 0.63 s
                                   streams + asyncio.timeout  0.49 - 1.11 s
                                   streams + wait_for         0.60 - 1.06 s
    5,000 round trips of 64 B      Protocol + timer           0.22 - 0.25 s
                                   Protocol + asyncio.timeout 0.26 - 0.29 s
                                   streams + asyncio.timeout  0.32 - 0.75 s
                                   streams + wait_for         0.54 - 0.82 s
    32 MiB in 64 KiB reads         Protocol + timer           19 - 22 ms
                                   Protocol + asyncio.timeout 25 - 54 ms
                                   streams (either)           43 - 76 ms

Connecting and the TLS handshake, once per connection, do run under ``asyncio.timeout``.
Failures map to conch exceptions as in ``sync_io.backend``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import Any

from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import MAX_RECEIVE_SIZE
from sansio.happy_eyeballs import (
    DEFAULT_ATTEMPT_DELAY,
    Connected,
    HappyEyeballs,
    Start,
    Wait,
    order_addresses,
)

from .backend import AsyncStream, SocketOption

__all__ = ["READ_BUFFER_LIMIT", "AsyncioStream", "Event", "Lock", "connect_tcp", "connect_unix"]

# Received bytes held unread before the transport stops reading from the socket, so a
# fast server cannot fill memory while the application is slow. asyncio.StreamReader
# pauses at twice its 64 KiB limit; one selector read is at most 256 KiB, so this keeps
# a full read plus what was left and pauses rarely on a busy connection.
READ_BUFFER_LIMIT = 256 * 1024

# asyncio bounds every TLS handshake by 60 s unless told otherwise; a None timeout means
# no bound at all, so it gets one too long to matter.
_NO_HANDSHAKE_LIMIT = 365 * 24 * 3600.0

_CONNECT = (ConnectTimeout, ConnectError)
_READ = (ReadTimeout, ReadError)
_WRITE = (WriteTimeout, WriteError)

Lock = asyncio.Lock
sleep = asyncio.sleep


def _fail(
    exc: BaseException | None, kinds: tuple[type[TimeoutException], type[NetworkError]]
) -> Exception:
    """The conch exception for a failure; raise it ``from exc``."""
    if exc is None:
        return kinds[1]("connection closed")
    cls = kinds[0] if isinstance(exc, TimeoutError) else kinds[1]
    return cls(str(exc) or type(exc).__name__)


def _wake(waiter: asyncio.Future[bool] | None, result: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(result)


class _Protocol(asyncio.Protocol):
    """Buffers what the transport delivers and wakes the one reader or writer waiting."""

    __slots__ = (
        "_chunks",
        "_eof",
        "_exc",
        "_limit",
        "_loop",
        "_offset",
        "_read_deadline",
        "_read_timer",
        "_read_waiter",
        "_reading_paused",
        "_size",
        "_tls",
        "_transport",
        "_write_waiter",
        "_writing_paused",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, tls: bool = False) -> None:
        self._loop = loop
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of _chunks[0] already handed out
        self._size = 0  # bytes buffered and not yet handed out
        self._limit = READ_BUFFER_LIMIT
        self._eof = False
        self._exc: BaseException | None = None
        self._read_waiter: asyncio.Future[bool] | None = None
        # The lazy read timer (see the module's docstring) and when it is due, and the
        # deadline of the read waiting now (None: it waits without a timeout).
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_deadline: float | None = None
        self._write_waiter: asyncio.Future[bool] | None = None
        self._reading_paused = False
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._limit and not self._reading_paused:
            self._reading_paused = True
            assert self._transport is not None
            self._transport.pause_reading()
        _wake(self._read_waiter, True)

    def eof_received(self) -> bool:
        self._eof = True
        _wake(self._read_waiter, True)
        # Keep a plain TCP transport open for writing after the peer's FIN, as a blocking
        # socket does: the writer then fails only if the peer really stops reading.
        # (asyncio's TLS transport ignores this answer and closes.)
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._exc = exc
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        _wake(self._read_waiter, True)
        _wake(self._write_waiter, True)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._write_waiter, True)

    def read_waiter(self, timeout: float | None) -> asyncio.Future[bool]:
        """A future that gets True at data or EOF, False on timeout. The reader awaits it
        itself (no coroutine here: one frame less to resume at every read) and clears
        ``_read_waiter`` once it is done, whatever happened."""
        loop = self._loop
        waiter: asyncio.Future[bool] = loop.create_future()
        self._read_waiter = waiter
        if timeout is None:
            self._read_deadline = None
        else:
            self._read_deadline = deadline = loop.time() + timeout
            timer = self._read_timer
            if timer is None or timer.when() > deadline:
                if timer is not None:
                    timer.cancel()
                self._read_timer = loop.call_at(deadline, self._read_timer_due)
        return waiter

    async def wait_writable(self, timeout: float | None) -> bool:
        """Wait for room to write; False on timeout."""
        loop = self._loop
        waiter: asyncio.Future[bool] = loop.create_future()
        self._write_waiter = waiter
        timer = None if timeout is None else loop.call_later(timeout, _wake, waiter, False)
        try:
            return await waiter
        finally:
            self._write_waiter = None
            if timer is not None:
                timer.cancel()

    def _read_timer_due(self) -> None:
        timer = self._read_timer
        assert timer is not None
        self._read_timer = None
        waiter = self._read_waiter
        deadline = self._read_deadline
        if waiter is None or waiter.done() or deadline is None:
            return  # no read waits with a deadline: the timer lapses
        if deadline <= timer.when():
            waiter.set_result(False)  # this read's own deadline
        else:
            # Armed by an earlier read; this one may wait longer.
            self._read_timer = self._loop.call_at(deadline, self._read_timer_due)


# The most `AsyncioStream.write_now` writes: a quarter of asyncio's default high-water
# mark for a transport's write buffer (64 KiB), so that writing it into an empty buffer
# never pauses writing (there is nothing to wait for then).
WRITE_NOW_MAX = 16 * 1024


class AsyncioStream(AsyncStream):
    """A stream over an asyncio transport."""

    __slots__ = ("_closed", "_protocol", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False

    # The loop has read the bytes already (at most 256 KiB a read), so a read allocates
    # nothing here, and asking for the most hands each chunk over whole rather than cut
    # into copied slices: the growth and reset of `read_size` do not apply. (A plain
    # function handing back recv's coroutine: no frame of its own on every read.)
    def read(self, timeout: float | None, shared: bool = False) -> Coroutine[Any, Any, bytes]:
        return self.recv(MAX_RECEIVE_SIZE, timeout, shared)

    def write_now(self, data: bytes) -> int:
        """See AsyncStream.write_now: a head or chunk of up to `WRITE_NOW_MAX` bytes into
        an empty transport buffer is written at once, as `send_all` would write it without
        a wait (it cannot pause writing); otherwise `send_all` writes and waits."""
        transport = self._transport
        protocol = self._protocol
        if (
            len(data) > WRITE_NOW_MAX
            or self._closed
            or protocol._writing_paused
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            return 0
        transport.write(data)
        if transport.is_closing():  # a failed send closes the transport at once
            raise _fail(protocol._exc, _WRITE) from protocol._exc
        return len(data)

    async def send_all(
        self, data: bytes | memoryview, timeout: float | None, shared: bool = False
    ) -> None:
        transport = self._transport
        protocol = self._protocol
        if self._closed or transport.is_closing():
            raise _fail(protocol._exc, _WRITE) from protocol._exc
        transport.write(data)
        # A failed send closes the transport at once (and reports the error later).
        if not protocol._writing_paused and not transport.is_closing():
            return
        loop = protocol._loop
        deadline = None if timeout is None else loop.time() + timeout
        while not transport.is_closing():
            if not protocol._writing_paused:
                return
            remaining = None if deadline is None else deadline - loop.time()
            if not await protocol.wait_writable(remaining):
                raise WriteTimeout("timed out")
        raise _fail(protocol._exc, _WRITE) from protocol._exc

    async def recv(self, max_bytes: int, timeout: float | None, shared: bool = False) -> bytes:
        protocol = self._protocol
        if self._closed:
            raise ReadError("stream closed")
        chunks = protocol._chunks
        if not chunks and not protocol._eof:
            try:
                ready = await protocol.read_waiter(timeout)
            finally:
                protocol._read_waiter = None
            if not ready:
                raise ReadTimeout("timed out")
        if not chunks:
            if protocol._exc is not None:
                raise _fail(protocol._exc, _READ) from protocol._exc
            if self._closed:
                raise ReadError("stream closed")
            return b""
        head = chunks[0]
        offset = protocol._offset
        available = len(head) - offset
        if available > max_bytes:
            end = offset + max_bytes
            data = head[offset:end]
            protocol._offset = end
        else:
            chunks.popleft()
            protocol._offset = 0
            data = head[offset:] if offset else head
            if chunks and available + len(chunks[0]) <= max_bytes:
                parts = [data]
                while chunks and available + len(chunks[0]) <= max_bytes:
                    part = chunks.popleft()
                    parts.append(part)
                    available += len(part)
                data = b"".join(parts)
        protocol._size -= len(data)
        if protocol._reading_paused and protocol._size <= protocol._limit:
            protocol._reading_paused = False
            self._transport.resume_reading()
        return data

    async def start_tls(
        self, ctx: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncStream:
        if self._protocol._chunks:
            # Bytes the peer sent before the handshake would be lost under TLS.
            self._abort()
            raise ConnectError("the peer sent data before the TLS handshake")
        loop = asyncio.get_running_loop()
        protocol = _Protocol(loop, tls=True)
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    protocol,
                    ctx,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=_NO_HANDSHAKE_LIMIT if timeout is None else timeout + 1,
                )
        except OSError as exc:
            self._abort()
            raise _fail(exc, _CONNECT) from exc
        except BaseException:
            self._abort()
            raise
        assert isinstance(transport, asyncio.Transport)
        self._closed = True  # the TLS stream owns the connection now
        protocol._transport = transport
        return AsyncioStream(transport, protocol)

    def is_readable(self) -> bool:
        # The loop reads for us: anything waiting has already arrived in the buffer.
        protocol = self._protocol
        return bool(self._closed or protocol._chunks or protocol._eof)

    def _abort(self) -> None:
        self._closed = True
        self._transport.abort()

    async def aclose(self) -> None:
        """Close at once. Not a cancellation point: code after it always runs."""
        if not self._closed:
            self._abort()

    @property
    def alpn_protocol(self) -> str | None:
        ssl_object: ssl.SSLObject | None = self._transport.get_extra_info("ssl_object")
        return None if ssl_object is None else ssl_object.selected_alpn_protocol()

    def get_extra_info(self, name: str) -> Any:
        if name == "client_addr":
            return self._transport.get_extra_info("sockname")
        if name == "server_addr":
            return self._transport.get_extra_info("peername")
        if name == "is_readable":
            return self.is_readable()
        if name in ("ssl_object", "socket"):
            return self._transport.get_extra_info(name)
        return None


def _make_socket(
    family: int, kind: int, proto: int, socket_options: Iterable[SocketOption] | None
) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        for option in socket_options or ():
            sock.setsockopt(*option)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    local_address: str | None = None,
    socket_options: Iterable[SocketOption] | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
) -> AsyncioStream:
    loop = asyncio.get_running_loop()
    family = socket.AF_UNSPEC
    if local_address is not None:
        family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    options = list(socket_options) if socket_options is not None else None
    try:
        async with asyncio.timeout(timeout):
            try:
                infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
            ordered = order_addresses(infos, key=_ip)
            if len(ordered) > 1:
                return await _race(loop, ordered, local_address, options, attempt_delay)
            last: OSError | None = None
            for af, kind, proto, _canon, address in infos:
                try:
                    sock = _make_socket(af, kind, proto, options)
                except OSError as exc:
                    last = exc
                    continue
                try:
                    if local_address is not None:
                        sock.bind((local_address, 0))
                    await loop.sock_connect(sock, address)
                except OSError as exc:
                    sock.close()
                    last = exc
                    continue
                except BaseException:
                    sock.close()
                    raise
                # create_connection sets TCP_NODELAY on TCP sockets.
                return await _wrap(loop, sock, unix=False)
            if last is None:
                raise ConnectError(f"no address found for {host!r}")
            raise _fail(last, _CONNECT) from last
    except TimeoutError as exc:
        raise ConnectTimeout("timed out") from exc


def _ip(info: tuple[Any, ...]) -> str:
    return str(info[4][0])


async def _race(
    loop: asyncio.AbstractEventLoop,
    infos: list[Any],
    local_address: str | None,
    options: list[SocketOption] | None,
    attempt_delay: float,
) -> AsyncioStream:
    """Happy Eyeballs over ``infos`` (getaddrinfo results, in the order to try them):
    each step is the core's `HappyEyeballs`; here, one task per attempt. The caller's
    timeout bounds the race; cancelled, it leaves no task or socket behind."""
    race = HappyEyeballs(infos, attempt_delay=attempt_delay, label=_ip)
    socks: dict[int, socket.socket] = {}
    tasks: dict[asyncio.Future[None], int] = {}
    try:
        while True:
            step = race.next_step(loop.time())
            if isinstance(step, Start):
                af, kind, proto, _canon, address = step.address
                try:
                    sock = socks[step.index] = _make_socket(af, kind, proto, options)
                    if local_address is not None:
                        sock.bind((local_address, 0))
                except OSError as exc:
                    closing = socks.pop(step.index, None)
                    if closing is not None:
                        closing.close()
                    race.failed(step.index, _fail(exc, _CONNECT))
                    continue
                tasks[asyncio.ensure_future(loop.sock_connect(sock, address))] = step.index
            elif isinstance(step, Wait):
                timeout = None if step.until is None else max(step.until - loop.time(), 0)
                done, _ = await asyncio.wait(
                    tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    index = tasks.pop(task)
                    error = task.exception()
                    if error is not None:
                        socks.pop(index).close()
                        race.failed(index, _fail(error, _CONNECT))
                    elif not race.connected(index):
                        socks.pop(index).close()
            elif isinstance(step, Connected):
                return await _wrap(loop, socks.pop(step.index), unix=False)
            else:
                raise step.error
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: asyncio would warn of it otherwise
        for sock in socks.values():  # the losers, and everything after a failure
            sock.close()


async def resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
    except TimeoutError as exc:
        raise ConnectTimeout("timed out") from exc
    return [info[4] for info in infos]


async def connect_unix(
    path: str, *, timeout: float | None, socket_options: Iterable[SocketOption] | None = None
) -> AsyncioStream:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            try:
                sock = _make_socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, socket_options)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
            try:
                await loop.sock_connect(sock, path)
            except OSError as exc:
                sock.close()
                raise _fail(exc, _CONNECT) from exc
            except BaseException:
                sock.close()
                raise
            return await _wrap(loop, sock, unix=True)
    except TimeoutError as exc:
        raise ConnectTimeout("timed out") from exc


async def _wrap(loop: asyncio.AbstractEventLoop, sock: socket.socket, unix: bool) -> AsyncioStream:
    protocol = _Protocol(loop)
    try:
        if unix:
            transport, _ = await loop.create_unix_connection(lambda: protocol, sock=sock)
        else:
            transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
    except OSError as exc:
        sock.close()
        raise _fail(exc, _CONNECT) from exc
    except BaseException:
        sock.close()
        raise
    assert isinstance(transport, asyncio.Transport)
    return AsyncioStream(transport, protocol)


class Event:
    """asyncio.Event with a timeout on wait."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None) -> bool:
        event = self._event
        if not event.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await event.wait()
            except TimeoutError:
                pass
        return event.is_set()
