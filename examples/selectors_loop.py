"""conch's core driven from a plain `selectors` loop: an example for library authors.

`sansio` does all of HTTP: `send_flow` (auth, redirects, cookies), `Planner` (route
and wire head), `PoolMachine` (which connection) and the wire machine (bytes). This file
only moves bytes, with non-blocking sockets and one `selectors.DefaultSelector` for every
wait, as in an event loop you already own. It is a real client (the conformance suite
runs every scenario through it), kept short by leaving out TLS, user-defined auth
flows and concurrency (one request at a time)::

    python examples/selectors_loop.py http://example.org/
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import sys
import time
from typing import Any

from sansio import actions as act
from sansio import env
from sansio.client import BaseClient
from sansio.config import USE_CLIENT_DEFAULT
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import RECEIVE_SIZE, Planner, Timeouts, may_retry
from sansio.flow import send_flow
from sansio.models import Request, Response
from sansio.pool import Open, PoolMachine, Wait
from sansio.streams import SyncByteStream
from sansio.wire import NEED_BODY, RECEIVE, SEND, BodyChunk, FailurePhase, WireConnection

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

# The core reads no clock and no entropy by itself: give it ours (cookie expiry, Digest
# cnonces, multipart boundaries), unless whoever embeds this installed theirs first.
env.install_defaults(
    clock=time.monotonic, wall_clock=time.time, random_bytes=os.urandom, environ={}
)


class Loop:
    """The loop we embed in: every wait goes through its selector."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()

    def ready(self, sock: socket.socket, events: int, timeout: float | None) -> bool:
        self.selector.register(sock, events)
        try:
            return bool(self.selector.select(timeout))
        finally:
            self.selector.unregister(sock)

    def connect(self, host: str, port: int, timeout: float | None) -> socket.socket:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise ConnectError(str(exc)) from exc
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code == errno.EINPROGRESS:
            ready = self.ready(sock, WRITE, timeout)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if ready else -1
        if code:
            sock.close()
            raise ConnectTimeout("timed out") if code == -1 else ConnectError(errno.errorcode[code])
        return sock

    def send_all(self, sock: socket.socket, data: bytes, timeout: float | None) -> None:
        view = memoryview(data)
        while view:
            if not self.ready(sock, WRITE, timeout):
                raise WriteTimeout("timed out")
            try:
                view = view[sock.send(view) :]
            except OSError as exc:
                raise WriteError(str(exc)) from exc

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)  # nothing else runs on this loop while one request waits

    def recv(self, sock: socket.socket, timeout: float | None) -> bytes:
        if not self.ready(sock, READ, timeout):
            raise ReadTimeout("timed out")
        try:
            return sock.recv(RECEIVE_SIZE)
        except OSError as exc:
            raise ReadError(str(exc)) from exc


class SelectorsClient(BaseClient):
    """`BaseClient`'s settings and request building, plus `send()` on the loop above."""

    def __init__(self, loop: Loop | None = None, *, keepalive_expiry: float | None = 5.0,
                 max_keepalive_connections: int | None = 20, max_connections: int | None = 100,
                 http1: bool = True, http2: bool = False, **settings: Any) -> None:  # fmt: skip
        super().__init__(**settings)
        self.loop, self.planner = loop or Loop(), Planner(http1=http1, http2=http2)
        self.pool = PoolMachine(max_keepalive_connections=max_keepalive_connections,
                                keepalive_expiry=keepalive_expiry,
                                max_connections=max_connections)  # fmt: skip
        self.socks: dict[int, socket.socket] = {}

    def send(self, request: Request, *, stream: bool = False, auth: Any = USE_CLIENT_DEFAULT,
             follow_redirects: Any = USE_CLIENT_DEFAULT) -> Response:  # fmt: skip
        options = self._send_options(
            request, stream=stream, auth=auth, follow_redirects=follow_redirects
        )
        flow = send_flow(request, options)
        result, error = None, None
        while True:  # the core decides; we perform and hand back the result or the error
            try:
                action = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            try:
                result, error = self._perform(action), None
            except Exception as exc:
                result, error = None, exc

    def _perform(self, action: act.Action) -> Any:
        match action:
            case act.SendRequest(request):
                return self._handle(request)
            case act.ReadResponse(response):
                return response.read()
            case act.DrainResponse(response, limit):
                return response.drain(limit)
            case act.CloseResponse(response):
                return response.close()
            case act.ReadRequest(request):
                return request.read()
            case act.CallHooks(hooks, argument):
                return [hook(argument) for hook in hooks] and None
        raise NotImplementedError(f"{action!r}: user auth flows are left out of this example")

    def _handle(self, request: Request) -> Response:
        route, head, has_body = self.planner.plan(request)
        if route.tls is not None:
            raise UnsupportedProtocol("this example speaks plain http only", request=request)
        timeouts, fresh = Timeouts.of(request), False
        while True:
            conn_id, wire, sock, reused = self._checkout(
                route.key, route.host, route.port, timeouts, fresh
            )
            sid, read_timeout, write_error = None, timeouts.read, None
            try:
                sid = wire.start_request(head, has_body=has_body)
                body = iter(request.stream if has_body else ())  # type: ignore[arg-type]
                while (step := wire.next_step(sid)) in (SEND, RECEIVE, NEED_BODY):
                    if step is SEND:
                        try:
                            self.loop.send_all(sock, wire.data_to_send(), timeouts.write)
                        except (WriteError, WriteTimeout) as exc:  # it may have answered (413)
                            wire.send_failed(sid)  # stop sending, read what came
                            write_error, read_timeout = exc, timeouts.after_write_failure(exc)
                    elif step is RECEIVE:
                        wire.receive_data(self.loop.recv(sock, read_timeout))
                    else:
                        chunk = next(body, None)
                        if chunk is not None and self.loop.ready(sock, READ, 0):
                            wire.receive_data(self.loop.recv(sock, 0))  # early answer: 413...
                        wire.send_body(sid, chunk)
            except Exception as exc:  # tell the core, then perhaps retry (keep-alive race)
                failure = write_error or exc  # a failed write is the error that counts
                phase = FailurePhase.SENDING if sid is None else wire.failure_phase(sid)
                if sid is not None:
                    if wire.max_streams <= 1 or isinstance(failure, NetworkError | WriteTimeout):
                        wire.io_failed(sid)  # HTTP/2: a reset stream fails alone
                    wire.release(sid)
                self._checkin(conn_id)
                if not fresh and may_retry(request, reused, phase, failure):
                    fresh = True
                    continue
                if failure is exc:
                    raise
                raise failure from exc
            stream = _Body(self, conn_id, wire, sid, sock, timeouts)
            return self.planner.response(step, request, stream, None)  # type: ignore[arg-type]

    def _checkout(self, key: Any, host: str, port: int, timeouts: Timeouts,
                  fresh: bool) -> tuple[int, WireConnection, socket.socket, bool]:  # fmt: skip
        deadline = timeouts.pool_deadline(time.monotonic())
        while True:
            decision = self.pool.checkout(key, time.monotonic(), fresh=fresh)
            self._close(decision.close)
            if isinstance(decision, Wait):  # one request at a time: nobody would free a slot,
                now = time.monotonic()  # but an HTTP/2 server may allow a stream again
                self._close(self.pool.cancel_wait(decision.ticket, now).close)
                timeout, again = decision.timeout(deadline, now)
                if not again:
                    raise PoolTimeout("the pool is full")
                self.loop.sleep(timeout or 0.0)
                continue
            if isinstance(decision, Open):
                try:
                    sock = self.loop.connect(host, port, timeouts.connect)
                except BaseException:
                    self._close(self.pool.open_failed(decision.conn_id).close)
                    raise
                self.socks[decision.conn_id], wire = sock, self.planner.new_connection(None)
                self._close(self.pool.opened(decision.conn_id, wire, time.monotonic()).close)
                return decision.conn_id, wire, sock, False
            sock, wire = self.socks[decision.conn_id], decision.connection
            if self.loop.ready(sock, READ, 0):  # bytes or EOF while idle: the core decides
                try:
                    wire.receive_data(sock.recv(RECEIVE_SIZE))
                except OSError:
                    wire.receive_data(b"")
            if wire.can_start_request:  # not closed, and (HTTP/2) allows a stream now
                return decision.conn_id, wire, sock, True
            self._checkin(decision.conn_id)

    def _checkin(self, conn_id: int) -> None:
        self._close(self.pool.checkin(conn_id, time.monotonic()).close)

    def _close(self, conn_ids: tuple[int, ...]) -> None:
        for conn_id in conn_ids:
            if (sock := self.socks.pop(conn_id, None)) is not None:
                sock.close()

    def close(self) -> None:
        self._close(tuple(self.socks))
        self.loop.selector.close()


# Steps inside a body: read, or write (HTTP/2 WINDOW_UPDATEs and PING ACKs).
_IO = (RECEIVE, SEND)


class _Body(SyncByteStream):
    """A response body read through the wire machine; `close` hands the connection back."""

    def __init__(self, client: SelectorsClient, conn_id: int, wire: WireConnection, sid: int,
                 sock: socket.socket, timeouts: Timeouts) -> None:  # fmt: skip
        self.client, self.conn_id, self.wire, self.sid = client, conn_id, wire, sid
        self.sock, self.timeouts, self.closed = sock, timeouts, False

    def __iter__(self) -> Any:
        try:
            while (step := self.wire.next_step(self.sid)) in _IO or type(step) is BodyChunk:
                if step is RECEIVE:
                    self.wire.receive_data(self.client.loop.recv(self.sock, self.timeouts.read))
                elif step is SEND:  # HTTP/2: WINDOW_UPDATEs, PING ACKs while reading
                    self.client.loop.send_all(
                        self.sock, self.wire.data_to_send(), self.timeouts.write
                    )
                else:
                    yield step.data  # type: ignore[union-attr]
        except Exception as exc:
            if self.wire.max_streams <= 1 or isinstance(exc, NetworkError | WriteTimeout):
                self.wire.io_failed(self.sid)  # never reuse a connection in an unknown state
            raise

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.wire.release(self.sid)
            self.client._checkin(self.conn_id)


if __name__ == "__main__":
    client = SelectorsClient(follow_redirects=True)
    response = client.send(client.build_request("GET", sys.argv[1]))
    print(response.status_code, response.reason_phrase, f"{len(response.content)} bytes")
    client.close()
