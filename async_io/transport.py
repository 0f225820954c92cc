"""`AsyncHTTPTransport`: asyncio or trio connections, driven by the core's pool and wire machines.

Every decision comes from `sansio`: `Planner` (route, wire head, retry rule),
`PoolMachine` (which connection, when to wait, what to close) and the wire machine
(what to send, what a response is). This module only moves bytes and waits.
It mirrors `sync_io.transport` line for line. The pool machine needs no lock here: every
pool call runs between two awaits, so the event loop makes it atomic; `_NoLock` keeps
the ``with self._lock:`` lines of the twin. A cancellation at any await leaves the pool
consistent: every path that can be cancelled reports to the pool in a ``finally`` or
``except BaseException`` before re-raising.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

from sansio.config import DEFAULT_LIMITS, Limits
from sansio.exceptions import PoolTimeout, ReadTimeout, WriteError, WriteTimeout
from sansio.exchange import (
    READY_READ_TIMEOUT,
    RECEIVE_SIZE,
    Planner,
    Route,
    Timeouts,
    connect_retry_delays,
    is_connect_failure,
    may_retry,
)
from sansio.models import Request, Response
from sansio.pool import Changes, Open, PoolMachine, Reuse, Wait
from sansio.streams import AsyncByteStream
from sansio.transports import AsyncBaseTransport
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    ResponseHead,
    WireConnection,
)
from sync_io.tls import context_for

from .backend import (
    AsyncEvent,
    AsyncStream,
    SocketOption,
    connect_tcp,
    connect_unix,
    create_event,
    sleep,
)

__all__ = ["AsyncHTTPTransport"]


class _NoLock:
    """Stands in for the sync twin's lock: the event loop already serialises pool calls."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class AsyncHTTPTransport(AsyncBaseTransport):
    """A pooling HTTP/1.1 transport on asyncio or trio (as `httpx.AsyncHTTPTransport`)."""

    def __init__(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> None:
        if proxy is not None:
            raise NotImplementedError("conch does not support proxies yet (proxy=...)")
        self._planner = Planner(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, uds=uds
        )
        self._pool = PoolMachine(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._lock = _NoLock()
        self._streams: dict[int, AsyncStream] = {}
        self._waiting: dict[int, AsyncEvent] = {}
        self._local_address = local_address
        self._retries = retries
        self._socket_options = list(socket_options) if socket_options is not None else None
        self._closed = False

    async def handle_async_request(self, request: Request) -> Response:
        route, head, has_body = self._planner.plan(request)
        timeouts = Timeouts.of(request)
        fresh = False
        while True:
            conn_id, wire, stream, reused = await self._checkout(route, timeouts, fresh)
            sid: int | None = None
            try:
                sid = wire.start_request(head, has_body=has_body)
                response_head = await self._send(wire, sid, stream, request, timeouts)
            except BaseException as exc:
                phase = wire.failure_phase(sid) if sid is not None else FailurePhase.SENDING
                await self._abandon(conn_id, wire, sid)
                if not fresh and may_retry(request, reused, phase, exc):
                    fresh = True  # the keep-alive race: once more, on a new connection
                    continue
                raise
            body = _ResponseStream(self, conn_id, wire, sid, stream, timeouts)
            return self._planner.response(response_head, request, body, stream)

    async def _send(
        self,
        wire: WireConnection,
        sid: int,
        stream: AsyncStream,
        request: Request,
        timeouts: Timeouts,
    ) -> ResponseHead:
        body: AsyncIterator[bytes] | None = None
        write_error: WriteError | WriteTimeout | None = None
        read_timeout = timeouts.read
        try:
            while True:
                step = wire.next_step(sid)
                if step is SEND:
                    try:
                        await stream.send_all(wire.data_to_send(), timeouts.write)
                    except (WriteError, WriteTimeout) as exc:
                        # The server may have answered (413, 401) and closed or stopped
                        # reading: read on. After a timeout, only what has arrived already.
                        wire.send_failed(sid)
                        write_error = exc
                        read_timeout = timeouts.after_write_failure(exc)
                elif step is RECEIVE:
                    wire.receive_data(await stream.recv(RECEIVE_SIZE, read_timeout))
                elif step is NEED_BODY:
                    if body is None:
                        body = aiter(request.stream)  # type: ignore[arg-type]
                        chunk = await anext(body, None)
                    # Between chunks, the server may have answered already (an early 413
                    # or 401): the machine sees it and drops the rest (RFC 9112 §9.5).
                    elif (
                        (chunk := await anext(body, None)) is not None
                        and stream.is_readable()
                        and (data := await self._read_ready(stream)) is not None
                    ):
                        wire.receive_data(data)
                    wire.send_body(sid, chunk)
                else:
                    assert isinstance(step, ResponseHead)
                    return step
        except Exception as exc:
            if write_error is not None and exc is not write_error:
                raise write_error from exc
            raise
        finally:
            if body is not None:
                # An upload cut short (early response, error, cancellation) leaves the
                # body's generator suspended: finish it now, not at garbage collection.
                await _close_body(body)

    @staticmethod
    async def _read_ready(stream: AsyncStream) -> bytes | None:
        """What a stream that `is_readable` holds: bytes, or ``b""`` at EOF; None when
        only TLS records without data (session tickets) had arrived."""
        try:
            return await stream.recv(RECEIVE_SIZE, READY_READ_TIMEOUT)
        except ReadTimeout:
            return None

    # -- the pool ---------------------------------------------------------------------

    async def _checkout(
        self, route: Route, timeouts: Timeouts, fresh: bool
    ) -> tuple[int, WireConnection, AsyncStream, bool]:
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("Cannot send a request: the transport has been closed.")
                decision = self._pool.checkout(route.key, time.monotonic(), fresh=fresh)
                closing = self._take_streams(decision.close)
                if isinstance(decision, Wait):
                    event = self._waiting[decision.ticket] = create_event()
            await self._close_streams(closing)
            if isinstance(decision, Wait):
                decision = await self._wait(decision.ticket, event, timeouts.pool)
            if isinstance(decision, Open):
                return await self._open(decision.conn_id, route, timeouts)
            stream = self._streams[decision.conn_id]
            wire = decision.connection
            if stream.is_readable():
                # Data or EOF on an idle connection (RFC 9112 §9.3): the machine decides.
                try:
                    data = await self._read_ready(stream)
                except Exception:
                    data = b""  # a failed read ends the stream
                except BaseException:
                    wire.receive_data(b"")  # cancelled mid-read: never reuse it
                    await self._checkin(decision.conn_id)
                    raise
                if data is not None:
                    wire.receive_data(data)
            if wire.is_reusable:
                return decision.conn_id, wire, stream, True
            await self._checkin(decision.conn_id)

    async def _wait(self, ticket: int, event: AsyncEvent, timeout: float | None) -> Reuse | Open:
        try:
            await event.wait(timeout)
        except BaseException:
            # Cancelled: whatever was granted meanwhile passes to the next waiter.
            with self._lock:
                del self._waiting[ticket]
                closing = self._apply(self._pool.cancel_wait(ticket, time.monotonic()))
            await self._close_streams(closing)
            raise
        with self._lock:
            del self._waiting[ticket]
            closed = self._closed
            grant = None if closed else self._pool.claim(ticket)
            if grant is None:
                closing = self._apply(self._pool.cancel_wait(ticket, time.monotonic()))
        if grant is None:
            await self._close_streams(closing)
            if closed:
                raise RuntimeError("Cannot send a request: the transport has been closed.")
            raise PoolTimeout("Timed out waiting for a connection from the pool")
        return grant

    async def _open(
        self, conn_id: int, route: Route, timeouts: Timeouts
    ) -> tuple[int, WireConnection, AsyncStream, bool]:
        stream: AsyncStream | None = None
        try:
            stream = await self._connect(route, timeouts.connect)
            wire = self._planner.new_connection(stream.alpn_protocol)
        except BaseException:
            with self._lock:
                closing = self._apply(self._pool.open_failed(conn_id))
            if stream is not None:
                closing.append(stream)
            await self._close_streams(closing)
            raise
        with self._lock:
            closed = self._closed
            if not closed:
                self._streams[conn_id] = stream
                closing = self._apply(self._pool.opened(conn_id, wire, time.monotonic()))
        if closed:
            await self._close_streams([stream])
            raise RuntimeError("Cannot send a request: the transport has been closed.")
        await self._close_streams(closing)
        return conn_id, wire, stream, False

    async def _connect(self, route: Route, timeout: float | None) -> AsyncStream:
        delays = connect_retry_delays(self._retries)
        while True:
            try:
                if route.uds is not None:
                    stream = await connect_unix(
                        route.uds, timeout=timeout, socket_options=self._socket_options
                    )
                else:
                    stream = await connect_tcp(
                        route.host,
                        route.port,
                        timeout=timeout,
                        local_address=self._local_address,
                        socket_options=self._socket_options,
                    )
                break
            except Exception as exc:
                delay = next(delays, None)
                if delay is None or not is_connect_failure(exc):
                    raise
                await sleep(delay)
        if route.tls is None:
            return stream
        ctx = context_for(route.tls, os.environ)
        return await stream.start_tls(ctx, route.tls.server_hostname, timeout)

    async def _abandon(self, conn_id: int, wire: WireConnection, sid: int | None) -> None:
        if sid is not None:
            wire.io_failed(sid)
            wire.release(sid)
        await self._checkin(conn_id)

    async def _checkin(self, conn_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            closing = self._apply(self._pool.checkin(conn_id, time.monotonic()))
        await self._close_streams(closing)

    def _apply(self, changes: Changes) -> list[AsyncStream]:
        # Called with the lock held: wake the waiters the pool granted something to,
        # and take the streams to close (closed after the lock is released).
        for ticket in changes.wake:
            self._waiting[ticket].set()
        return self._take_streams(changes.close)

    def _take_streams(self, conn_ids: tuple[int, ...]) -> list[AsyncStream]:
        return [self._streams.pop(conn_id) for conn_id in conn_ids if conn_id in self._streams]

    @staticmethod
    async def _close_streams(streams: list[AsyncStream]) -> None:
        # Closing never waits (the async backends promise it), so no cancellation can
        # land between a pool call and the closes it asked for.
        for stream in streams:
            await stream.aclose()

    async def aclose(self) -> None:
        """Close every connection; requests in flight fail, new ones are refused."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            self._streams.clear()
            for event in self._waiting.values():
                event.set()
        await self._close_streams(streams)


async def _close_body(body: AsyncIterator[bytes]) -> None:
    close = getattr(body, "aclose", None)
    if close is not None:
        await close()


class _ResponseStream(AsyncByteStream):
    """A response body read from its connection; closing it returns the connection."""

    __slots__ = (
        "_closed",
        "_conn_id",
        "_ended",
        "_sid",
        "_stream",
        "_timeouts",
        "_transport",
        "_wire",
    )

    def __init__(
        self,
        transport: AsyncHTTPTransport,
        conn_id: int,
        wire: WireConnection,
        sid: int,
        stream: AsyncStream,
        timeouts: Timeouts,
    ) -> None:
        self._transport = transport
        self._conn_id = conn_id
        self._wire = wire
        self._sid = sid
        self._stream = stream
        self._timeouts = timeouts
        self._closed = False
        self._ended = False

    def __aiter__(self) -> _ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        # A plain iterator, not a generator: nothing is left suspended when a reader
        # stops early (trio warns about such generators).
        if self._ended:
            raise StopAsyncIteration
        wire, sid, stream = self._wire, self._sid, self._stream
        try:
            while True:
                step = wire.next_step(sid)
                if type(step) is BodyChunk:
                    return step.data
                if step is RECEIVE:
                    wire.receive_data(await stream.recv(RECEIVE_SIZE, self._timeouts.read))
                elif type(step) is EndOfBody:
                    break
                else:
                    assert step is SEND  # HTTP/2 control frames while reading
                    await stream.send_all(wire.data_to_send(), self._timeouts.write)
        except Exception:
            if not self._closed:
                wire.io_failed(sid)
            raise
        self._ended = True
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wire.release(self._sid)
        await self._transport._checkin(self._conn_id)
