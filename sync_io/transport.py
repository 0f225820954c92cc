"""`HTTPTransport`: connections over socket/ssl, driven by the core's pool and wire machines.

Every decision comes from `sansio`: `Planner` (route, wire head, retry rule),
`PoolMachine` (which connection, when to wait, what to close) and the wire machine
(what to send, what a response is). This module only moves bytes, waits and locks.
A transport may be shared by many threads: the pool machine is guarded by one lock, and
a connection is used by one request at a time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
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
from sansio.streams import SyncByteStream
from sansio.transports import BaseTransport
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

from .backend import SocketOption, SyncStream, connect_tcp, connect_unix, sleep
from .tls import context_for

__all__ = ["HTTPTransport"]


class HTTPTransport(BaseTransport):
    """A pooling HTTP/1.1 transport over TCP, TLS or a Unix socket (as `httpx.HTTPTransport`)."""

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
        self._lock = threading.Lock()
        self._streams: dict[int, SyncStream] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._local_address = local_address
        self._retries = retries
        self._socket_options = list(socket_options) if socket_options is not None else None
        self._closed = False

    def handle_request(self, request: Request) -> Response:
        route, head, has_body = self._planner.plan(request)
        timeouts = Timeouts.of(request)
        fresh = False
        while True:
            conn_id, wire, stream, reused = self._checkout(route, timeouts, fresh)
            sid: int | None = None
            try:
                sid = wire.start_request(head, has_body=has_body)
                response_head = self._send(wire, sid, stream, request, timeouts)
            except BaseException as exc:
                phase = wire.failure_phase(sid) if sid is not None else FailurePhase.SENDING
                self._abandon(conn_id, wire, sid)
                if not fresh and may_retry(request, reused, phase, exc):
                    fresh = True  # the keep-alive race: once more, on a new connection
                    continue
                raise
            body = _ResponseStream(self, conn_id, wire, sid, stream, timeouts)
            return self._planner.response(response_head, request, body, stream)

    def _send(
        self,
        wire: WireConnection,
        sid: int,
        stream: SyncStream,
        request: Request,
        timeouts: Timeouts,
    ) -> ResponseHead:
        body: Iterator[bytes] | None = None
        write_error: WriteError | WriteTimeout | None = None
        read_timeout = timeouts.read
        try:
            while True:
                step = wire.next_step(sid)
                if step is SEND:
                    try:
                        stream.send_all(wire.data_to_send(), timeouts.write)
                    except (WriteError, WriteTimeout) as exc:
                        # The server may have answered (413, 401) and closed or stopped
                        # reading: read on. After a timeout, only what has arrived already.
                        wire.send_failed(sid)
                        write_error = exc
                        read_timeout = timeouts.after_write_failure(exc)
                elif step is RECEIVE:
                    wire.receive_data(stream.recv(RECEIVE_SIZE, read_timeout))
                elif step is NEED_BODY:
                    if body is None:
                        body = iter(request.stream)  # type: ignore[arg-type]
                        chunk = next(body, None)
                    # Between chunks, the server may have answered already (an early 413
                    # or 401): the machine sees it and drops the rest (RFC 9112 §9.5).
                    elif (
                        (chunk := next(body, None)) is not None
                        and stream.is_readable()
                        and (data := self._read_ready(stream)) is not None
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
                _close_body(body)

    @staticmethod
    def _read_ready(stream: SyncStream) -> bytes | None:
        """What a stream that `is_readable` holds: bytes, or ``b""`` at EOF; None when
        only TLS records without data (session tickets) had arrived."""
        try:
            return stream.recv(RECEIVE_SIZE, READY_READ_TIMEOUT)
        except ReadTimeout:
            return None

    # -- the pool ---------------------------------------------------------------------

    def _checkout(
        self, route: Route, timeouts: Timeouts, fresh: bool
    ) -> tuple[int, WireConnection, SyncStream, bool]:
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("Cannot send a request: the transport has been closed.")
                decision = self._pool.checkout(route.key, time.monotonic(), fresh=fresh)
                closing = self._take_streams(decision.close)
                if isinstance(decision, Wait):
                    event = self._waiting[decision.ticket] = threading.Event()
            self._close_streams(closing)
            if isinstance(decision, Wait):
                decision = self._wait(decision.ticket, event, timeouts.pool)
            if isinstance(decision, Open):
                return self._open(decision.conn_id, route, timeouts)
            stream = self._streams[decision.conn_id]
            wire = decision.connection
            if stream.is_readable():
                # Data or EOF on an idle connection (RFC 9112 §9.3): the machine decides.
                try:
                    data = self._read_ready(stream)
                except Exception:
                    data = b""  # a failed read ends the stream
                except BaseException:
                    wire.receive_data(b"")  # cancelled mid-read: never reuse it
                    self._checkin(decision.conn_id)
                    raise
                if data is not None:
                    wire.receive_data(data)
            if wire.is_reusable:
                return decision.conn_id, wire, stream, True
            self._checkin(decision.conn_id)

    def _wait(self, ticket: int, event: threading.Event, timeout: float | None) -> Reuse | Open:
        try:
            event.wait(timeout)
        except BaseException:
            # Cancelled: whatever was granted meanwhile passes to the next waiter.
            with self._lock:
                del self._waiting[ticket]
                closing = self._apply(self._pool.cancel_wait(ticket, time.monotonic()))
            self._close_streams(closing)
            raise
        with self._lock:
            del self._waiting[ticket]
            closed = self._closed
            grant = None if closed else self._pool.claim(ticket)
            if grant is None:
                closing = self._apply(self._pool.cancel_wait(ticket, time.monotonic()))
        if grant is None:
            self._close_streams(closing)
            if closed:
                raise RuntimeError("Cannot send a request: the transport has been closed.")
            raise PoolTimeout("Timed out waiting for a connection from the pool")
        return grant

    def _open(
        self, conn_id: int, route: Route, timeouts: Timeouts
    ) -> tuple[int, WireConnection, SyncStream, bool]:
        stream: SyncStream | None = None
        try:
            stream = self._connect(route, timeouts.connect)
            wire = self._planner.new_connection(stream.alpn_protocol)
        except BaseException:
            with self._lock:
                closing = self._apply(self._pool.open_failed(conn_id))
            if stream is not None:
                closing.append(stream)
            self._close_streams(closing)
            raise
        with self._lock:
            closed = self._closed
            if not closed:
                self._streams[conn_id] = stream
                closing = self._apply(self._pool.opened(conn_id, wire, time.monotonic()))
        if closed:
            self._close_streams([stream])
            raise RuntimeError("Cannot send a request: the transport has been closed.")
        self._close_streams(closing)
        return conn_id, wire, stream, False

    def _connect(self, route: Route, timeout: float | None) -> SyncStream:
        delays = connect_retry_delays(self._retries)
        while True:
            try:
                if route.uds is not None:
                    stream = connect_unix(
                        route.uds, timeout=timeout, socket_options=self._socket_options
                    )
                else:
                    stream = connect_tcp(
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
                sleep(delay)
        if route.tls is None:
            return stream
        ctx = context_for(route.tls, os.environ)
        return stream.start_tls(ctx, route.tls.server_hostname, timeout)

    def _abandon(self, conn_id: int, wire: WireConnection, sid: int | None) -> None:
        if sid is not None:
            wire.io_failed(sid)
            wire.release(sid)
        self._checkin(conn_id)

    def _checkin(self, conn_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            closing = self._apply(self._pool.checkin(conn_id, time.monotonic()))
        self._close_streams(closing)

    def _apply(self, changes: Changes) -> list[SyncStream]:
        # Called with the lock held: wake the waiters the pool granted something to,
        # and take the streams to close (closed after the lock is released).
        for ticket in changes.wake:
            self._waiting[ticket].set()
        return self._take_streams(changes.close)

    def _take_streams(self, conn_ids: tuple[int, ...]) -> list[SyncStream]:
        return [self._streams.pop(conn_id) for conn_id in conn_ids if conn_id in self._streams]

    @staticmethod
    def _close_streams(streams: list[SyncStream]) -> None:
        # Closing never waits (the async backends promise it), so no cancellation can
        # land between a pool call and the closes it asked for.
        for stream in streams:
            stream.close()

    def close(self) -> None:
        """Close every connection; requests in flight fail, new ones are refused."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            self._streams.clear()
            for event in self._waiting.values():
                event.set()
        self._close_streams(streams)


def _close_body(body: Iterator[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class _ResponseStream(SyncByteStream):
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
        transport: HTTPTransport,
        conn_id: int,
        wire: WireConnection,
        sid: int,
        stream: SyncStream,
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

    def __iter__(self) -> _ResponseStream:
        return self

    def __next__(self) -> bytes:
        # A plain iterator, not a generator: nothing is left suspended when a reader
        # stops early (trio warns about such generators).
        if self._ended:
            raise StopIteration
        wire, sid, stream = self._wire, self._sid, self._stream
        try:
            while True:
                step = wire.next_step(sid)
                if type(step) is BodyChunk:
                    return step.data
                if step is RECEIVE:
                    wire.receive_data(stream.recv(RECEIVE_SIZE, self._timeouts.read))
                elif type(step) is EndOfBody:
                    break
                else:
                    assert step is SEND  # HTTP/2 control frames while reading
                    stream.send_all(wire.data_to_send(), self._timeouts.write)
        except Exception:
            if not self._closed:
                wire.io_failed(sid)
            raise
        self._ended = True
        raise StopIteration

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wire.release(self._sid)
        self._transport._checkin(self._conn_id)
