"""`AsyncHTTPTransport`: asyncio or trio connections, driven by the core's pool and wire machines.

Every decision comes from `sansio`: `Planner` (route, wire head, retry rule),
`PoolMachine` (which connection, when to wait, what to close) and the wire machine
(what to send, what a response is). This module only moves bytes and waits.
It mirrors `sync_io.transport` line for line. The pool machine needs no lock here: every
pool call runs between two awaits, so the event loop makes it atomic; `_NoLock` keeps
the ``with self._lock:`` lines of the twin, and those of an HTTP/2 connection's machine
calls (`_Mux`). A cancellation at any await leaves the pool consistent: every path that
can be cancelled reports to the pool in a ``finally`` or ``except BaseException`` before
re-raising.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from sansio import socks
from sansio.config import DEFAULT_LIMITS, Limits
from sansio.exceptions import PoolTimeout, ReadTimeout, WriteError, WriteTimeout
from sansio.exchange import (
    READY_READ_TIMEOUT,
    RECEIVE_SIZE,
    Planner,
    Route,
    Timeouts,
    connect_retry_delays,
    ends_connection,
    is_connect_failure,
    may_retry,
    retry_on_fresh_connection,
)
from sansio.models import Request, Response
from sansio.pool import Changes, Open, PoolMachine, Reuse, Wait
from sansio.proxy import ProxyConnector
from sansio.streams import AsyncByteStream
from sansio.transports import AsyncBaseTransport
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
    Step,
    WireConnection,
)
from sync_io.tls import context_for, load_client_cert

if TYPE_CHECKING:  # pragma: no cover
    from sansio.h2 import H2Connection  # imported lazily by the planner

from .backend import (
    AsyncEvent,
    AsyncStream,
    SocketOption,
    connect_tcp,
    connect_unix,
    create_event,
    create_lock,
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
    """A pooling HTTP/1.1 and HTTP/2 transport on asyncio or trio (as
    `httpx.AsyncHTTPTransport`)."""

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
        self._planner = Planner(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            uds=uds,
            proxy=proxy,
        )
        # verify=<SSLContext> with cert=: into that context now, as httpx does.
        load_client_cert(verify, cert)
        self._pool = PoolMachine(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._lock = _NoLock()
        self._streams: dict[int, AsyncStream] = {}
        self._muxes: dict[int, _Mux] = {}  # the HTTP/2 connections' drivers, by id
        self._waiting: dict[int, AsyncEvent] = {}
        self._local_address = local_address
        self._retries = retries
        self._socket_options = list(socket_options) if socket_options is not None else None
        self._closed = False

    async def handle_async_request(self, request: Request) -> Response:
        route, head, has_body = self._planner.plan(request)
        timeouts = Timeouts.of(request)
        fresh = retried = False
        while True:
            conn_id, wire, stream, mux, reused = await self._checkout(route, timeouts, fresh)
            sid: int | None = None
            try:
                if mux is None:
                    sid = wire.start_request(head, has_body=has_body)
                    response_head = await self._send(wire, sid, stream, request, timeouts)
                else:
                    sid = mux.start(head, has_body)
                    if sid is None:
                        await self._checkin(conn_id)  # it filled up or is going away: ask again
                        continue
                    response_head = await mux.send(sid, request, timeouts)
            except BaseException as exc:
                if mux is None:
                    phase = wire.failure_phase(sid) if sid is not None else FailurePhase.SENDING
                    await self._abandon(conn_id, wire, sid)
                else:
                    phase = await mux.abandon(sid, exc, timeouts.write)
                    await self._checkin(conn_id)
                if not retried and may_retry(request, reused, phase, exc):
                    # Once more: the keep-alive race, or a stream the server refused.
                    retried = True
                    fresh = retry_on_fresh_connection(exc, multiplexed=mux is not None)
                    continue
                raise
            if mux is None:
                body: AsyncByteStream = _ResponseStream(self, conn_id, wire, sid, stream, timeouts)
            else:
                body = _MuxResponseStream(self, conn_id, mux, sid, timeouts)
            return self._planner.response(response_head, request, body, stream, sid)

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
    ) -> tuple[int, WireConnection, AsyncStream, _Mux | None, bool]:
        deadline = timeouts.pool_deadline(time.monotonic())
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("Cannot send a request: the transport has been closed.")
                decision = self._pool.checkout(
                    route.key, time.monotonic(), fresh=fresh, multiplex=route.multiplex
                )
                closing = self._take_streams(decision.close)
                if isinstance(decision, Wait):
                    event = self._waiting[decision.ticket] = create_event()
            await self._close_streams(closing)
            if isinstance(decision, Wait):
                granted = await self._wait(decision, event, deadline)
                if granted is None:
                    continue  # nothing granted (yet): ask the pool again
                decision = granted
            if isinstance(decision, Open):
                return await self._open(decision.conn_id, route, timeouts)
            stream = self._streams[decision.conn_id]
            mux = self._muxes.get(decision.conn_id)
            wire = decision.connection
            if mux is not None:
                try:
                    await mux.poll()
                except BaseException:
                    await self._checkin(decision.conn_id)  # cancelled; the connection is fine
                    raise
            elif stream.is_readable():
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
            if wire.can_start_request:
                return decision.conn_id, wire, stream, mux, True
            # Closed, or an HTTP/2 connection that allows no stream now: back to the pool.
            await self._checkin(decision.conn_id)

    async def _wait(
        self, wait: Wait, event: AsyncEvent, deadline: float | None
    ) -> Reuse | Open | None:
        """What the pool granted a waiting checkout; None to check out again (its recheck
        time came, or it was woken with nothing granted)."""
        ticket = wait.ticket
        timeout, again = wait.timeout(deadline, time.monotonic())
        try:
            woken = await event.wait(timeout)
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
            if woken or again:
                return None
            raise PoolTimeout("Timed out waiting for a connection from the pool")
        return grant

    async def _open(
        self, conn_id: int, route: Route, timeouts: Timeouts
    ) -> tuple[int, WireConnection, AsyncStream, _Mux | None, bool]:
        stream: AsyncStream | None = None
        try:
            stream = await self._connect(route, timeouts.connect)
            wire = self._planner.new_connection(stream.alpn_protocol, route)
        except BaseException:
            with self._lock:
                closing = self._apply(self._pool.open_failed(conn_id))
            if stream is not None:
                closing.append(stream)
            await self._close_streams(closing)
            raise
        mux = _Mux(cast("H2Connection", wire), stream) if wire.max_streams > 1 else None
        with self._lock:
            closed = self._closed
            if not closed:
                self._streams[conn_id] = stream
                if mux is not None:
                    self._muxes[conn_id] = mux
                closing = self._apply(self._pool.opened(conn_id, wire, time.monotonic()))
        if closed:
            await self._close_streams([stream])
            raise RuntimeError("Cannot send a request: the transport has been closed.")
        await self._close_streams(closing)
        return conn_id, wire, stream, mux, False

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
        if route.tls is not None:
            ctx = context_for(route.tls, os.environ)
            stream = await stream.start_tls(ctx, route.tls.server_hostname, timeout)
        if route.proxy is None:
            return stream
        try:
            # CONNECT or the SOCKS5 handshake, as the core's connector says.
            connector = ProxyConnector(route.proxy)
            while (step := connector.next_step()) is not socks.DONE:
                if step is socks.SEND:
                    await stream.send_all(connector.data_to_send(), timeout)
                else:
                    connector.receive_data(await stream.recv(RECEIVE_SIZE, timeout))
            origin_tls = route.proxy.origin_tls
            if origin_tls is None:
                return stream
            ctx = context_for(origin_tls, os.environ)
            return await stream.start_tls(ctx, origin_tls.server_hostname, timeout)
        except BaseException:
            await stream.aclose()
            raise

    async def _abandon(self, conn_id: int, wire: WireConnection, sid: int | None) -> None:
        # HTTP/1.1: whatever failed, a response cut short ends its connection anyway.
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
        muxes = self._muxes
        if muxes:
            for conn_id in conn_ids:
                muxes.pop(conn_id, None)
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
            self._muxes.clear()
            for event in self._waiting.values():
                event.set()
        await self._close_streams(streams)


async def _close_body(body: AsyncIterator[bytes]) -> None:
    close = getattr(body, "aclose", None)
    if close is not None:
        await close()


async def _checkpoint() -> None:
    # Where a pending cancellation lands before a write begins (the write itself may
    # then break the connection: trio's TLS stream does, midway).
    await sleep(0)


_Event = AsyncEvent  # what a request waiting on an HTTP/2 connection waits on


class _Mux:
    """Drives the streams of one multiplexed (HTTP/2) connection for many requests.

    The protocol of `sansio.h2` ("Driving several streams"): every machine call is made
    under ``lock``, socket I/O outside it. Bytes are taken from the machine and written
    under ``write_lock``, so frames leave in the order they were made (stream ids
    included). One request at a time reads (``reading``) and feeds the machine for all;
    the others wait on an event in ``waiters`` until their stream has something or it is
    their turn to read. Each socket call is made under ``io_lock`` (see `receive`).

    What a failure takes down: a write that failed (or was cut off) and a read error end
    the connection (`io_failed`: every stream fails); a read timeout or a cancellation
    ends only the stream that gave up (see `sansio.exchange.ends_connection`).
    """

    __slots__ = (
        "io_lock",
        "lock",
        "reading",
        "stream",
        "unsent",
        "waiters",
        "wire",
        "write_lock",
    )

    def __init__(self, wire: H2Connection, stream: AsyncStream) -> None:
        self.wire = wire
        self.stream = stream
        self.lock = _NoLock()
        self.write_lock = create_lock()
        self.io_lock = _NoLock()
        self.reading = False
        self.unsent = b""  # taken from the machine by a write cancelled before it began
        self.waiters: dict[int, _Event] = {}

    def start(self, head: RequestHead, has_body: bool) -> int | None:
        """A new stream's id; None if the connection filled up or is going away since the
        pool handed it out (the server lowered its stream limit, or sent GOAWAY)."""
        with self.lock:
            if not self.wire.can_start_request:
                return None
            return self.wire.start_request(head, has_body=has_body)

    async def send(self, sid: int, request: Request, timeouts: Timeouts) -> ResponseHead:
        body: AsyncIterator[bytes] | None = None
        try:
            while True:
                step = await self.step(sid, timeouts)
                if step is NEED_BODY:
                    if body is None:
                        body = aiter(request.stream)  # type: ignore[arg-type]
                    chunk = await anext(body, None)
                    with self.lock:
                        self.wire.send_body(sid, chunk)
                else:
                    assert isinstance(step, ResponseHead)
                    return step
        finally:
            if body is not None:
                await _close_body(body)

    async def step(self, sid: int, timeouts: Timeouts) -> Step:
        """The stream's next event or NEED_BODY, after writing and reading what it takes."""
        wire = self.wire
        reader = False  # this request is the one reading
        try:
            while True:
                event: _Event | None = None
                with self.lock:
                    step = wire.next_step(sid)
                    if step is RECEIVE and self.unsent:
                        step = SEND  # bytes a cancelled write left go first
                    if step is RECEIVE:
                        if self.reading:
                            # Registered in the same hold as next_step: no wake-up is lost.
                            event = self.waiters[sid] = _Event()
                        else:
                            self.reading = reader = True
                if step is SEND:
                    await self.flush(sid, timeouts.write)
                elif step is not RECEIVE:
                    return step
                elif event is None:
                    await self.read(sid, timeouts.read)
                    reader = False  # `fed` handed the role on
                else:
                    await self.wait(sid, event, timeouts.read)
        except BaseException as exc:
            # This request leaves (it failed, timed out or was cancelled), perhaps as the
            # reader or as the one woken to read next: another reads instead.
            with self.lock:
                if reader:
                    self.reading = False
                    if ends_connection(exc):  # the read failed: so does every stream
                        self.wire.io_failed(sid)
                        self.wake_all()
                if not self.reading:
                    self.wake_one()
            raise

    async def receive(self, timeout: float | None) -> bytes:
        """One read. (An ssl socket of the sync shell cannot read in one thread while another
        writes, so it reads under ``io_lock``, waiting outside it; the async backends can.)"""
        return await self.stream.recv(RECEIVE_SIZE, timeout)

    async def read(self, sid: int, timeout: float | None) -> None:
        data = await self.receive(timeout)
        with self.lock:
            self.fed(data, sid)

    def fed(self, data: bytes | None, sid: int | None) -> None:
        """After a read (under ``lock``): feed the bytes, wake the streams they concern
        and, if the reader (of stream ``sid``) leaves now, one more waiter to read next."""
        if data is not None:
            self.wire.receive_data(data)
        self.reading = False
        ready = self.wire.take_ready()
        waiters = self.waiters
        if waiters:
            for ready_sid in ready:
                event = waiters.pop(ready_sid, None)
                if event is not None:
                    event.set()
            if waiters and (sid is None or sid in ready):
                self.wake_one()

    async def wait(self, sid: int, event: _Event, timeout: float | None) -> None:
        try:
            woken = await event.wait(timeout)
        except BaseException:
            with self.lock:
                self.leave(sid, event)
            raise
        if not woken:
            with self.lock:
                woken = event.is_set()
                if not woken:
                    self.leave(sid, event)
            if not woken:
                raise ReadTimeout("timed out")

    def leave(self, sid: int, event: _Event) -> None:
        # A waiter gives up (`step` then wakes another to read, if nobody does).
        if self.waiters.get(sid) is event:
            del self.waiters[sid]

    def wake_one(self) -> None:
        waiters = self.waiters
        if waiters:
            waiters.pop(next(iter(waiters))).set()

    def wake_all(self) -> None:
        for event in self.waiters.values():
            event.set()
        self.waiters.clear()

    async def flush(self, sid: int, timeout: float | None) -> None:
        """Write what the machine has queued; ``sid`` is the stream that asked."""
        async with self.write_lock:
            with self.lock:
                data = self.wire.data_to_send()
                if self.unsent:
                    data, self.unsent = self.unsent + data, b""
            if not data:
                return
            try:
                await _checkpoint()
            except BaseException:
                self.unsent = data  # cancelled before a byte went out: the next write's
                raise
            try:
                with self.io_lock:
                    await self.stream.send_all(data, timeout)
            except BaseException:
                # Perhaps half a frame went out: nothing more can be sent after it.
                with self.lock:
                    self.wire.io_failed(sid)
                    self.wake_all()
                raise

    async def poll(self) -> None:
        """On an idle connection, feed the machine what arrived while nobody read (PINGs,
        a GOAWAY, EOF), as the HTTP/1.1 path checks a connection before reusing it."""
        with self.io_lock:
            with self.lock:
                if self.reading or not self.wire.is_idle:
                    return  # a reader is on it, or a stream started meanwhile
                self.reading = True
            data: bytes | None = None
            try:
                if self.stream.is_readable():
                    data = await AsyncHTTPTransport._read_ready(self.stream)
            except Exception:
                data = b""  # a failed read ends the connection
            finally:
                with self.lock:
                    self.fed(data, None)  # requests that started meanwhile: one reads next

    async def abandon(
        self,
        sid: int | None,
        error: BaseException,
        timeout: float | None,
    ) -> FailurePhase:
        """End a stream whose request failed; how far it had got."""
        if sid is None:
            return FailurePhase.SENDING
        with self.lock:
            phase = self.wire.failure_phase(sid)
        await self.release(sid, timeout, isinstance(error, Exception))
        return phase

    async def release(self, sid: int, timeout: float | None, flush: bool = True) -> None:
        """End a stream, then send its RST_STREAM (if the server has not ended it).

        A cancelled request writes nothing more (a cancelled write would end the
        connection for every stream): the reset then leaves with the next write.
        """
        with self.lock:
            self.wire.release(sid)
        if flush:
            with contextlib.suppress(Exception):  # a failed write has ended the connection
                await self.flush(sid, timeout)


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


class _MuxResponseStream(AsyncByteStream):
    """A response body read from its HTTP/2 stream; closing it ends the stream."""

    __slots__ = ("_closed", "_conn_id", "_ended", "_mux", "_sid", "_timeouts", "_transport")

    def __init__(
        self, transport: AsyncHTTPTransport, conn_id: int, mux: _Mux, sid: int, timeouts: Timeouts
    ) -> None:
        self._transport = transport
        self._conn_id = conn_id
        self._mux = mux
        self._sid = sid
        self._timeouts = timeouts
        self._closed = False
        self._ended = False

    def __aiter__(self) -> _MuxResponseStream:
        return self

    async def __anext__(self) -> bytes:
        if self._ended:
            raise StopAsyncIteration
        step = await self._mux.step(self._sid, self._timeouts)
        if type(step) is BodyChunk:
            return step.data
        assert type(step) is EndOfBody
        self._ended = True
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._mux.release(self._sid, self._timeouts.write)
        finally:
            await self._transport._checkin(self._conn_id)
