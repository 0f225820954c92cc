"""`Exchange`: one request's whole choreography, from the pool to the end of its body.

An exchange is a pull machine with the grammar of the client flow: `send` gives the
result of the last action and returns the next one, `throw` gives the exception the
last action raised. It hands out `ResponseHead`, then `BodyChunk`s and `EndOfBody`;
`close` ends it early; `cancel` cleans up after a cancellation.

Rules
-----
1. `send`, `throw` and `close` raise only the request's final error: a conch
   exception, RuntimeError for a closed transport, or an error the interpreter threw
   in that is not the network's (a request body iterator that failed). Before raising,
   the exchange has given its connection back; the cleanup, if it needs any, was the
   `Effects` action just before. Anything else is a bug.
2. Only `Effects` may be performed during cancellation, and it never blocks.
   `cancel()` (for a BaseException raised while an action was performed: a
   cancellation, KeyboardInterrupt) returns the cleanup as `Effects`, never raises,
   and writes nothing. It may be called at any time, also after the end.
3. A threaded interpreter needs no lock around these calls: the engine takes its own
   (see `sansio.engine.engine`). One exchange is driven by one task at a time.
4. Cancellation at a `Checkpoint` means no byte was taken from a shared connection:
   only this request ends. Cancellation during a `Write` on a shared connection means
   the connection is cut (half a frame may have left): every stream on it fails.
5. A `ResponseHead` ends the upload, completed or abandoned: the interpreter closes the
   request body iterator then (and when the exchange raises).

What an exchange decides, once for every interpreter
-----------------------------------------------------
* **Which connection.** It checks out from the pool (`Park` while it waits: woken
  means "ask again", `PoolTimeout` when the request's pool timeout passes first,
  RuntimeError if the transport closed), opens one (`Connect`, retried after `Sleep`s
  as the ``retries=`` policy says; `StartTLS`; the proxy's CONNECT or
  SOCKS handshake through `sansio.proxy.ProxyConnector`, after a `Resolve` of the
  target when SOCKS4 needs its address, then TLS to the origin) or
  reuses one after an idle probe (`ReadReady`: bytes or EOF while idle end an
  HTTP/1.1 connection, feed an HTTP/2 one; a failed probe counts as EOF). A connection
  that cannot start a request after the probe goes back, and the exchange asks again.
* **The retry.** Once per request, as `sansio.exchange.may_retry` allows (the
  keep-alive race on a reused connection, a stream the server refused): on a fresh
  connection after an HTTP/1.1 failure, on any connection after an HTTP/2 one
  (`retry_on_fresh_connection`). A body is sent again from a fresh iterator.
* **The retry policy** (``retries=``, a `sansio.retry.Retry`; an int is httpx's connect
  retries): after the once-only retry above, every failure and every response whose
  status it lists is put to it (`Retry.after_error`, `Retry.after_response`), and a
  retry comes after a `Sleep` of the wait it computed. A response retried is not read:
  its stream ends (on HTTP/1.1 its connection closes). A body that cannot be sent again
  is never retried once a request started on a connection.
* **Early responses.** Between two request body chunks on HTTP/1.1 it looks for an
  answer already there (`ReadReady`): a 413 or 401 ends the upload (RFC 9112 §9.5).
* **A failed write.** On HTTP/1.1 a write error or timeout stops the upload but reading
  goes on (the server may have answered and closed): the response wins if it comes;
  otherwise the write's error surfaces, not the read's, and after a write timeout only
  what has arrived already is read (`Timeouts.after_write_failure`). On HTTP/2 a
  failed or cut-off write fails the connection, so every stream on it.
* **Failure scope.** Any failure ends an HTTP/1.1 connection. On HTTP/2, a read timeout
  or a cancellation ends only the stream that gave up (no byte was lost); a read or
  write error ends every stream (`sansio.exchange.ends_connection`).
* **The total deadline** (``Timeout(total=...)``, `sansio.deadline`): an exchange
  under one cuts the timeout of every wait it asks for (pool, connect, TLS, the proxy's
  handshake, writes, reads, HTTP/2 turns, the wait for a 100) to what the deadline
  leaves, and a wait so cut that times out fails as the total timeout, with the
  `TimeoutException` of its phase; one that would start after it passed fails at once.
  The retry policy is told what is left, so no back-off outlasts it. That is all in
  `_Timed`: the choreography below only asks for its waits.
* **HTTP/2 scheduling** lives in `sansio.engine.mux`: one reader at a time, frames
  written in the order they were made, and the RST_STREAM of an abandoned stream. It
  is imported where a connection is shared (HTTP/2), not with conch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence

from sansio import env
from sansio._typing_lite import TYPE_CHECKING, Any, TypeAlias
from sansio.deadline import Deadline, Phase
from sansio.exceptions import (
    ConnectError,
    PoolTimeout,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import (
    Route,
    Timeouts,
    interim_response,
    may_retry,
    replayable,
    retry_on_fresh_connection,
)
from sansio.happy_eyeballs import family_of
from sansio.pool import Open, Wait
from sansio.proxy import DONE, ProxyConnector
from sansio.proxy import SEND as PROXY_SEND
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
)

from .actions import (
    END,
    NO_EFFECTS,
    PULL_FIRST,
    PULL_NEXT,
    Action,
    Connect,
    Effects,
    Park,
    Read,
    Resolve,
    Sleep,
    StartTLS,
    Write,
)
from .conn import Conn
from .trace import Trace, Tracer

if TYPE_CHECKING:  # pragma: no cover
    from sansio.h1 import H1Connection
    from sansio.models import Request, Response
    from sansio.retry import RetryState
    from sansio.tls import TLSConfig

    from .engine import Engine

__all__ = ["EXCHANGE_KINDS", "Exchange", "ExchangeKinds", "new_exchange"]

Steps = Generator[Action, Any, Any]

_CLOSED = "Cannot send a request: the transport has been closed."


class _Close(Exception):
    """Thrown into the exchange's generator by `Exchange.close`."""


class Exchange:
    """One request on the engine's connections (see the module docs)."""

    __slots__ = (
        "_body",
        "_conn",
        "_cut",
        "_deadline",
        "_done",
        "_engine",
        "_gen",
        "_has_body",
        "_head",
        "_informational",
        "_last_sid",
        "_leftover",
        "_live",
        "_opening",
        "_probing",
        "_request",
        "_responding",
        "_response",
        "_retry_state",
        "_reused",
        "_route",
        "_sid",
        "_started",
        "_stream",
        "_taken",
        "_ticket",
        "_timeouts",
        "_tracer",
        "_wait",
    )

    def __init__(
        self,
        engine: Engine,
        request: Request,
        route: Route,
        head: RequestHead,
        has_body: bool,
        timeouts: Timeouts,
    ) -> None:
        self._engine = engine
        self._request = request
        self._route = route
        self._head = head
        self._has_body = has_body
        self._timeouts = timeouts
        # What `cancel` must undo; each is cleared as soon as its cleanup is done.
        self._conn: Conn | None = None  # checked out
        self._sid: int | None = None  # the stream started on it
        self._last_sid = 0  # the last stream started (HTTP/2 names it in `io_failed`)
        self._probing = False  # the idle probe of a reused connection is under way
        self._wait: int | None = None  # the pool ticket while waiting for a connection
        self._opening: int | None = None  # the pool slot being opened
        self._stream: Any = None  # the stream being opened (not in the pool yet)
        self._ticket: Any = None  # an HTTP/2 waiter's ticket (see `mux`)
        self._reused = False  # the connection came from the pool, not opened for us
        self._responding = False  # the response head has been handed out
        self._response: Response | None = None  # made by `response`, for its trailers
        self._started = False  # a request started on a connection (its body may be gone)
        self._retry_state: RetryState | None = engine._retry_start  # None: no policy
        self._body: Read | None = None  # reading an HTTP/1.1 body (see `send`)
        # After a 101 or a CONNECT 2xx: the stream handed over, and what followed the head.
        self._taken: Any = None
        self._leftover = b""
        self._tracer: Tracer | None = None  # set by the engine: see `sansio.engine.trace`
        # The ``informational`` extension's callback (set by the engine), and the 1xx
        # responses handed to it during this attempt (`_deliver`).
        self._informational: Any = None
        self._live: list[Response] | None = None
        # The total deadline (set by `new_exchange`); the phase of the last action if the
        # deadline cut its timeout; whether the deadline is done with (it passed, or the
        # response was closed): the cleanup that follows waits as long as it always does.
        self._deadline: Deadline | None = None
        self._cut: Phase | None = None
        self._done = False
        self._gen: Steps | None = self._run()
        engine._live.add(self)  # until it ends: `close`, `cancel` or its error

    # -- the interpreter's calls ------------------------------------------------------

    # The generator never returns: once done it answers END for ever. It ends only by
    # raising the request's error, and is then dropped. An HTTP/1.1 response body, the
    # hot path of every request, is read here without it (``_body``: its Read action).

    def send(self, result: Any = None) -> Action:
        """The last action's result; returns the next action."""
        read = self._body
        if read is not None:
            wire = self._conn.wire  # type: ignore[union-attr]
            try:
                if result is not None:  # what the Read brought
                    wire.receive_data(result)
                step = wire.next_step(self._sid)  # type: ignore[arg-type]
            except Exception as exc:
                return self.throw(exc)
            if step is RECEIVE:
                return read
            if type(step) is EndOfBody:
                self._body = None
                if step.trailers:
                    self._trailers(step)
            return step  # type: ignore[return-value]
        gen = self._gen
        if gen is None:
            return END
        try:
            return gen.send(result)
        except BaseException:
            self._gen = self._response = None
            self._engine._live.discard(self)
            raise

    def throw(self, error: Exception) -> Action:
        """The last action raised ``error``; returns the next action (or raises the
        request's error)."""
        self._body = None
        gen = self._gen
        if gen is None:
            raise error
        try:
            return gen.throw(error)
        except BaseException:
            self._gen = self._response = None
            self._engine._live.discard(self)
            raise

    def close(self) -> Action:
        """The response is done with, read to its end or not: the first action that ends
        the exchange (the interpreter drives it on with `send` until `EndOfBody`)."""
        gen = self._gen
        if gen is None:
            return END
        self._engine._live.discard(self)
        # The response reads its body through this exchange: without this reference to it
        # the two are no reference cycle, freed at once rather than by the cyclic GC
        # (about 30 objects a request; the collections it caused cost more CPU than
        # anything else on the connection side with 100 requests in flight).
        self._response = None
        conn = self._conn
        if self._responding and conn is not None and not conn.shared and self._tracer is None:
            # HTTP/1.1 ends a response with no I/O: at once, without the generator.
            self._gen = self._body = None
            return self._finish_h1(conn) or END
        try:
            return gen.throw(_Close())
        except _Close:  # it had no response to close
            self._gen = None
            return END

    def cancel(self) -> Effects:
        """Clean up after a BaseException raised while an action was performed: give
        back what the exchange holds, without writing. Never raises."""
        gen, self._gen = self._gen, None
        if gen is None:
            return NO_EFFECTS
        self._engine._live.discard(self)
        self._body = self._response = None
        effects = self._release()
        gen.close()  # the generator holds no cleanup of its own
        return effects or NO_EFFECTS

    def response(self, head: ResponseHead, stream: Any, network_stream: Any = None) -> Response:
        """The `Response` for ``head``, its body read from ``stream`` (the interpreter's
        byte stream over this exchange); ``network_stream`` is the interpreter's wrapper
        of `network` for the ``network_stream`` extension (`network` itself if None)."""
        conn = self._conn
        if network_stream is None:
            network_stream = self.network
        response = self._response = self._engine._planner.response(
            head,
            self._request,
            stream,
            network_stream,
            self._sid if conn is not None and conn.shared else None,
        )
        live = self._live
        if live:
            # The very responses the callback saw, and how many it saw (`sansio.flow`
            # calls the hooks with the others only).
            response.informational[: len(live)] = live
            response._informational_delivered = len(live)
        return response

    @property
    def network(self) -> Any:
        """The interpreter's stream the response came on (the one handed over, after a
        101 or a CONNECT 2xx)."""
        taken = self._taken
        if taken is not None:
            return taken
        conn = self._conn
        assert conn is not None, "no response without a connection"
        return conn.stream

    @property
    def taken_over(self) -> bool:
        """Whether the connection was handed over (a 101, a 2xx to CONNECT): it has left
        the pool and is the caller's through the response's network stream."""
        return self._taken is not None

    @property
    def tunnel(self) -> bool:
        """Whether the response opened a tunnel on an HTTP/2 stream (a 2xx to an extended
        CONNECT, `sansio.engine.mux`): the stream is the caller's, read with
        `mux.TunnelReader` and written with `mux.TunnelWriter`; the connection stays in
        the pool."""
        conn, sid = self._conn, self._sid
        if conn is None or not conn.shared or sid is None:
            return False
        from . import mux

        return mux.is_tunnel(conn, sid)

    def take_leftover(self) -> bytes:
        """The bytes that followed a 101 or CONNECT 2xx head, once (then ``b""``): the
        protocol that follows reads them first."""
        data, self._leftover = self._leftover, b""
        return data

    def _trailers(self, end: EndOfBody) -> None:
        """The body ended with trailer fields: onto the response (`Response.trailers`)."""
        if self._response is not None:
            self._response._add_trailers(end.trailers)

    # -- the choreography -------------------------------------------------------------

    def _run(self) -> Steps:
        # The whole choreography, top to bottom. Its hot path (an HTTP/1.1 request up to
        # its head) stays in this frame: each level of ``yield from`` below it would be
        # resumed again at every action.
        engine = self._engine
        try:
            total = self._deadline
            if total is not None:  # (a redirect after it passed)
                total.check("pool", total.now(engine._clock))
            # -- the request: on a connection from the pool, once more where allowed --
            retried = fresh = False
            # One pool deadline per attempt, however often the pool is asked meanwhile.
            deadline = self._timeouts.pool_deadline(engine._clock())
            while True:
                conn = yield from self._checkout(fresh, deadline)
                reused = self._reused
                if self._informational is not None:
                    self._live = []  # (an attempt before this one may have had its own)
                self._started = True
                try:
                    if not conn.shared:
                        # HTTP/1.1: the request, up to its response head. Here, not in a
                        # generator of its own: the common path resumes one frame per action.
                        wire: H1Connection = conn.wire
                        timeouts = self._timeouts
                        stream = conn.stream
                        expect = self._has_body and _expects_continue(self._head.headers)
                        self._sid = self._last_sid = sid = wire.start_request(
                            self._head, has_body=self._has_body, expect_continue=expect
                        )
                        read = conn.read_for(timeouts.read)
                        write_error: WriteError | WriteTimeout | None = None
                        pull = PULL_FIRST
                        tracer = self._tracer
                        informational = self._informational
                        write_now = engine._write_now
                        try:
                            if tracer is not None:
                                yield tracer.started("http11.send_request_headers")
                            while True:
                                step = wire.next_step(sid)
                                if informational is not None:
                                    yield from self._deliver(wire.informational(sid))
                                if (
                                    tracer is not None
                                    and step is not SEND
                                    and not wire.awaiting_continue
                                ):
                                    # (The wait for a 100 is still the request's: its body
                                    # comes next.)
                                    yield from _h1_phase(tracer, step)
                                if step is SEND:
                                    data = wire.data_to_send()
                                    try:
                                        if write_now is not None:
                                            sent = write_now(stream, data)
                                            if sent == len(data):
                                                continue  # all gone at once, no action
                                            data = data[sent:]
                                        yield Write(stream, data, timeouts.write)
                                    except (WriteError, WriteTimeout) as exc:
                                        # The server may have answered (413, 401) and closed
                                        # or stopped reading: read on. After a timeout, only
                                        # what has arrived already.
                                        if tracer is not None:
                                            yield from tracer.failed(exc)
                                        wire.send_failed(sid)
                                        write_error = exc
                                        read = Read(stream, timeouts.after_write_failure(exc))
                                elif step is RECEIVE:
                                    if expect and wire.awaiting_continue:
                                        # Expect: 100-continue. The body waits for a 100 or a
                                        # final response, not for ever
                                        # (`Timeouts.continue_wait`).
                                        try:
                                            wire.receive_data(
                                                (yield Read(stream, timeouts.continue_wait()))
                                            )
                                        except ReadTimeout:
                                            if self._done:  # the total timeout, not the 100's
                                                raise
                                            wire.continue_body(sid)
                                    else:
                                        wire.receive_data((yield read))
                                elif step is NEED_BODY:
                                    chunk = yield pull
                                    if pull is PULL_NEXT and chunk is not None:
                                        # Between chunks, the server may have answered
                                        # already (an early 413 or 401): the machine sees it
                                        # and drops the rest (RFC 9112 §9.5).
                                        data = yield conn.read_ready
                                        if data is not None:
                                            wire.receive_data(data)
                                    pull = PULL_NEXT
                                    wire.send_body(sid, chunk)
                                else:
                                    assert type(step) is ResponseHead
                                    if tracer is not None:
                                        yield tracer.complete(
                                            (step.http_version.encode("ascii"),
                                             step.status_code, step.reason, step.headers)
                                        )  # fmt: skip
                                    head = step
                                    break
                        except Exception as exc:
                            if tracer is not None:
                                yield from tracer.failed(exc)
                            if write_error is not None and exc is not write_error:
                                raise write_error from exc
                            raise
                    else:
                        from . import mux

                        head = yield from mux.request(self, conn)
                        if head is None:
                            # It filled up or is going away since the pool handed it out:
                            # ask again.
                            effects = engine._checkin(conn)
                            self._conn = None
                            if effects is not None:
                                yield effects
                            continue
                except Exception as exc:
                    phase = yield from self._abandon(conn, exc)
                    fresh = retry_on_fresh_connection(exc, multiplexed=conn.shared)
                    if not retried and may_retry(self._request, reused, phase, exc):
                        retried = True
                    else:
                        yield Sleep(self._retry_after_error(exc, phase))
                    deadline = self._timeouts.pool_deadline(engine._clock())
                    continue
                if engine._retry is None:  # (no policy: nothing to ask, the usual case)
                    break
                delay = self._retry_after_response(head)
                if delay is None:
                    break
                # The policy retries this status: its response is not read.
                yield from self._finish(conn)
                yield Sleep(delay)
                fresh = False
                deadline = self._timeouts.pool_deadline(engine._clock())
            # -- the response: its head, its body, until the interpreter closes it --
            self._responding = True
            status = head.status_code
            # (A 101, or a 2xx to CONNECT, ends HTTP on its connection: RFC 9110 §15.2.2,
            # §9.3.6.)
            if not conn.shared and (
                status == 101 or (200 <= status < 300 and self._head.method == b"CONNECT")
            ):
                yield from self._take_over(conn)
                yield head
                # The response is closed: so is the connection, if its new owner has not
                # closed it already (closing twice does nothing).
                with contextlib.suppress(_Close):
                    while True:
                        yield END
                yield Effects(close=(self._taken,))
                while True:
                    yield END
            tracer = self._tracer
            try:
                if not conn.shared and tracer is None:
                    # `send` reads the body from here on; the generator is resumed again
                    # only to fail (a read error, a malformed body) or after the end.
                    self._body = conn.read_for(self._timeouts.read)
                yield head
                if tracer is not None and not conn.shared:
                    yield from self._traced_body(conn, tracer)
                elif conn.shared:
                    from . import mux

                    if tracer is not None:
                        info = {"request": self._request, "stream_id": self._sid}
                        yield tracer.started("http2.receive_response_body", info)
                    while type(event := (yield from mux.step(self, conn))) is not EndOfBody:
                        yield event
                    if event.trailers:
                        self._trailers(event)
                    if tracer is not None:
                        yield tracer.complete()
                    yield event
                while True:
                    yield END  # until closed
            except _Close:
                pass
            except Exception as exc:
                # A failure while reading ends the stream at once (the connection too, on
                # HTTP/1.1: the response was cut short) before the error surfaces.
                if tracer is not None:
                    yield from tracer.failed(exc)
                yield from self._finish(conn)
                raise
            if tracer is not None:
                if conn.shared:
                    yield tracer.started("http2.response_closed", {"stream_id": self._sid})
                else:
                    yield tracer.started("http11.response_closed", {})
                yield from self._finish(conn)
                yield tracer.complete()
            else:
                yield from self._finish(conn)
            while True:
                yield END
        except Exception:
            # A bug or an error thrown in where none was expected: give back what is
            # held all the same (every path above has already done so normally).
            effects = self._release()
            if effects is not None:
                yield effects
            raise

    def _checkout(self, fresh: bool, deadline: float | None) -> Steps:
        """A connection that can start a request, from the pool or newly opened, waiting
        until ``deadline`` at most (`PoolTimeout`)."""
        engine = self._engine
        route = self._route
        clock = engine._clock
        while True:
            with engine._lock:
                if engine._closed:
                    raise RuntimeError(_CLOSED)
                decision = engine._pool.checkout(
                    route.key, clock(), fresh=fresh, multiplex=route.multiplex, host=route.host_key
                )
                effects = engine._closing(decision.close) if decision.close else None
                if isinstance(decision, Wait):
                    ticket = engine._waiting[decision.ticket] = engine._new_ticket()
                    self._wait = decision.ticket
                elif isinstance(decision, Open):
                    self._opening = decision.conn_id
                else:
                    self._conn = engine._conns[decision.conn_id]
            if effects is not None:
                yield effects
            if isinstance(decision, Wait):
                grant = yield from self._wait_for(decision, ticket, deadline)
                if grant is None:
                    continue
                decision = grant
            if isinstance(decision, Open):
                self._reused = False
                conn = yield from self._open(decision.conn_id)
                return conn
            conn = self._conn
            assert conn is not None
            self._reused = True
            if conn.shared:
                from . import mux

                # Whether it can start a stream is known only under the lock that starts
                # one: `mux.request` sends the exchange back to the pool if not.
                yield from mux.probe(self, conn)
                return conn
            # Data or EOF on an idle connection (RFC 9112 §9.3): the machine decides. The
            # interpreter's ``readable``, if any, spares the action when nothing is there.
            readable = engine._readable
            try:
                idle = readable is not None and not readable(conn.stream)
            except Exception:
                idle = False  # the ReadReady fails too, and that counts as EOF
            if not idle:
                self._probing = True
                try:
                    data = yield conn.read_ready
                except Exception:
                    data = b""  # a failed read ends the connection
                self._probing = False
                if data is not None:
                    conn.wire.receive_data(data)
            if conn.wire.can_start_request:
                return conn
            # Closed, or an HTTP/2 connection that allows no stream now: back to the pool.
            effects = engine._checkin(conn)
            self._conn = None
            if effects is not None:
                yield effects

    def _wait_for(self, wait: Wait, ticket: Any, deadline: float | None) -> Steps:
        """Park until the pool grants something; None to check out again."""
        engine = self._engine
        timeout, again = wait.timeout(deadline, engine._clock())
        woken = yield Park(ticket, timeout)
        with engine._lock:
            self._wait = None
            del engine._waiting[wait.ticket]
            closed = engine._closed
            grant = None if closed else engine._pool.claim(wait.ticket)
            if grant is None and not closed:
                # Nothing was granted, so there is nothing to hand on (no changes).
                engine._pool.cancel_wait(wait.ticket, engine._clock())
            elif isinstance(grant, Open):
                self._opening = grant.conn_id
            elif grant is not None:
                self._conn = engine._conns[grant.conn_id]
        if grant is None:
            if closed:
                raise RuntimeError(_CLOSED)
            if woken or again:
                return None
            raise PoolTimeout("Timed out waiting for a connection from the pool")
        return grant

    def _open(self, conn_id: int) -> Steps:
        """Open the connection for the pool slot ``conn_id``."""
        engine = self._engine
        route = self._route
        try:
            stream, alpn = yield from self._connect(route)
            wire = engine._planner.new_connection(alpn, route)
        except Exception:
            effects = self._release()
            if effects is not None:
                yield effects
            raise
        conn = Conn(conn_id, stream, wire)
        with engine._lock:
            closed = engine._closed
            if not closed:
                engine._conns[conn_id] = conn
                effects = engine._effects(engine._pool.opened(conn_id, wire, engine._clock()))
                self._conn = conn
                self._opening = None
                self._stream = None
        if closed:
            self._opening = self._stream = None
            yield Effects(close=(stream,))
            raise RuntimeError(_CLOSED)
        if effects is not None:
            yield effects
        return conn

    def _connect(self, route: Route) -> Steps:
        """Connect (with retries), TLS and the proxy's handshake: (stream, alpn)."""
        timeout = self._timeouts.connect
        tracer = self._tracer
        while True:
            try:
                if tracer is not None:
                    yield _connect_started(tracer, route, timeout)
                stream = yield Connect(route.host, route.port, route.uds, timeout)
                break
            except Exception as exc:
                if tracer is not None:
                    yield from tracer.failed(exc)
                yield Sleep(self._retry_after_error(exc, None))
        self._stream = stream
        if tracer is not None:  # (after the stream is ours to close, should the callback fail)
            yield tracer.complete(stream)
        alpn = None
        if route.tls is not None:
            stream, alpn = yield from self._start_tls(stream, route.tls, timeout)
        plan = route.proxy
        if plan is not None:
            # CONNECT or the SOCKS handshake, as the core's connector says; SOCKS4 to a
            # host name carries the address we resolved it to.
            target = None
            if plan.resolve_target:
                target = _ipv4_of((yield Resolve(plan.target_host, plan.target_port, timeout)))
            connector = ProxyConnector(plan, target_address=target)
            while (step := connector.next_step()) is not DONE:
                if step is PROXY_SEND:
                    yield Write(stream, connector.data_to_send(), timeout)
                else:
                    connector.receive_data((yield Read(stream, timeout)))
            if plan.origin_tls is not None:
                stream, alpn = yield from self._start_tls(stream, plan.origin_tls, timeout)
        return stream, alpn

    def _start_tls(self, stream: Any, tls: TLSConfig, timeout: float | None) -> Steps:
        """TLS over ``stream``: (the TLS stream, the ALPN protocol)."""
        tracer = self._tracer
        if tracer is None:
            stream, alpn = yield StartTLS(stream, tls, timeout)
        else:
            info = {"server_hostname": tls.server_hostname, "timeout": timeout}
            yield tracer.started("connection.start_tls", info)
            try:
                stream, alpn = yield StartTLS(stream, tls, timeout)
            except Exception as exc:
                yield from tracer.failed(exc)
                raise
            self._stream = stream
            yield tracer.complete(stream)
        self._stream = stream
        return stream, alpn

    # -- the retry policy -------------------------------------------------------------

    def _retry_after_error(self, error: Exception, phase: FailurePhase | None) -> float:
        """The wait before the policy's retry after ``error``; raises it if none."""
        retry = self._engine._retry
        if retry is None:
            raise error
        assert self._retry_state is not None
        decision = retry.after_error(
            self._retry_state,
            method=self._request.method,
            error=error,
            phase=phase,
            random_bytes=env.current().random_bytes,
            body_replayable=replayable(self._request),
            body_started=self._started and self._has_body,
            time_left=self._time_left(),
        )
        if not decision.retry:
            raise error
        self._retry_state = decision.state
        return decision.delay

    def _retry_after_response(self, head: ResponseHead) -> float | None:
        """The wait before the policy's retry of this response, or None to return it."""
        retry = self._engine._retry
        assert retry is not None
        assert self._retry_state is not None
        if head.status_code not in retry.status_forcelist:
            return None
        world = env.current()
        decision = retry.after_response(
            self._retry_state,
            method=self._request.method,
            status_code=head.status_code,
            headers=head.headers,
            wall_now=world.wall_clock(),
            random_bytes=world.random_bytes,
            body_replayable=replayable(self._request),
            body_started=self._has_body,
            time_left=self._time_left(),
        )
        if not decision.retry:
            return None
        self._retry_state = decision.state
        return decision.delay

    def _time_left(self) -> float | None:
        """What the total deadline leaves for a back-off (None: no deadline)."""
        deadline = self._deadline
        if deadline is None:
            return None
        return 0.0 if self._done else deadline.remaining(deadline.now(self._engine._clock))

    def _deliver(self, interim: Sequence[tuple[int, list[tuple[bytes, bytes]]]]) -> Steps:
        """The ``informational`` callback sees each 1xx head not yet handed to it (a
        `Trace`), as soon as it is parsed: before the final head is read."""
        live = self._live
        assert live is not None
        while len(live) < len(interim):
            status, fields = interim[len(live)]
            version = b"HTTP/2" if self._conn is not None and self._conn.shared else b"HTTP/1.1"
            response = interim_response(status, fields, self._request, version)
            yield Trace(self._informational, False, "informational", {"response": response})
            live.append(response)

    def _traced_body(self, conn: Conn, tracer: Tracer) -> Steps:
        """An HTTP/1.1 response body read in the generator, with its trace events (the
        untraced one is read by `send`); ends after handing out `EndOfBody`."""
        wire = conn.wire
        sid = self._sid
        read = conn.read_for(self._timeouts.read)
        try:
            yield tracer.started("http11.receive_response_body")
            while type(step := wire.next_step(sid)) is not EndOfBody:  # type: ignore[arg-type]
                if step is RECEIVE:
                    wire.receive_data((yield read))
                else:
                    yield step  # type: ignore[misc]  # a BodyChunk
        except _Close:
            yield tracer.complete()  # closed before its end
            raise
        if step.trailers:
            self._trailers(step)
        yield tracer.complete()
        yield step

    def _abandon(self, conn: Conn, error: Exception) -> Steps:
        """Give back a connection whose request failed; how far the request had got."""
        sid = self._sid
        if conn.shared:
            from . import mux

            phase = yield from mux.abandon(self, conn, sid)
            return phase
        wire = conn.wire
        phase = FailurePhase.SENDING
        if sid is not None:
            # HTTP/1.1: whatever failed, a response cut short ends its connection anyway.
            phase = wire.failure_phase(sid)
            wire.io_failed(sid)
            wire.release(sid)
            self._sid = None
        effects = self._engine._checkin(conn)
        self._conn = None
        if effects is not None:
            yield effects
        return phase

    def _finish(self, conn: Conn) -> Steps:
        """The response is closed: end its stream and give the connection back."""
        if conn.shared:
            from . import mux

            yield from mux.release(self, conn)
            effects = self._engine._checkin(conn)
            self._conn = None
        else:
            effects = self._finish_h1(conn)
        if effects is not None:
            yield effects

    def _take_over(self, conn: Conn) -> Steps:
        """Hand the connection over after a 101 or a CONNECT 2xx: it leaves the pool (its
        slot is free again) with its stream open, and HTTP is over on it."""
        sid = self._sid
        assert sid is not None
        wire = conn.wire
        self._leftover = wire.trailing_data()  # type: ignore[attr-defined]
        wire.release(sid)
        self._sid = None
        self._taken = conn.stream
        effects = self._engine._detach(conn)
        self._conn = None
        if effects is not None:
            yield effects

    def _finish_h1(self, conn: Conn) -> Effects | None:
        sid = self._sid
        assert sid is not None
        conn.wire.release(sid)
        self._sid = None
        effects = self._engine._checkin(conn)
        self._conn = None
        return effects

    # -- cleanup ----------------------------------------------------------------------

    def _release(self) -> Effects | None:
        """Give back whatever the exchange holds, with no action in between: a pool
        ticket, a slot being opened, a connection (and its stream). Nothing is written:
        after a cancellation an HTTP/2 stream's RST_STREAM leaves with the next write."""
        engine = self._engine
        if self._wait is not None:
            with engine._lock:
                ticket, self._wait = self._wait, None
                engine._waiting.pop(ticket, None)
                if engine._closed:
                    return None
                return engine._effects(engine._pool.cancel_wait(ticket, engine._clock()))
        if self._opening is not None:
            stream, self._stream = self._stream, None
            conn_id, self._opening = self._opening, None
            with engine._lock:
                effects = None
                if not engine._closed:
                    effects = engine._effects(engine._pool.open_failed(conn_id))
            if stream is None:
                return effects
            close = (stream,) if effects is None else (stream, *effects.close)
            return Effects(close, () if effects is None else effects.wake)
        conn = self._conn
        if conn is None:
            return None
        wake: tuple[Any, ...] = ()
        if conn.shared:
            from . import mux

            wake = mux.leave(self, conn)
        else:
            sid = self._sid
            if self._probing:
                self._probing = False
                conn.wire.receive_data(b"")  # cancelled mid-read: never reuse it
            elif sid is not None:
                conn.wire.io_failed(sid)
                conn.wire.release(sid)
            self._sid = None
        effects = engine._checkin(conn)
        self._conn = None
        return _with_wake(effects, wake)


def new_exchange(
    engine: Engine,
    request: Request,
    route: Route,
    head: RequestHead,
    has_body: bool,
    timeouts: Timeouts,
    kinds: ExchangeKinds,
) -> Exchange:
    """The exchange for ``request``: of ``kinds``' second class if it has a total
    deadline (the send's, or its ``timeout`` extension's ``total``: `Deadline.of`), of
    its first otherwise."""
    deadline = Deadline.of(request.extensions, engine._clock)
    if deadline.at is None:
        return kinds[0](engine, request, route, head, has_body, timeouts)
    ex = kinds[1](engine, request, route, head, has_body, timeouts)
    ex._deadline = deadline
    return ex


# The actions that wait, each with a timeout the total deadline may cut.
_WAITS = frozenset({Resolve, Connect, StartTLS, Write, Read, Park})


class _Timed(Exchange):
    """An exchange under a total deadline (see the module docs). A subclass, so that
    an exchange without one pays nothing for it: each action that waits leaves with its
    timeout cut to what the deadline leaves, and the answer to a wait so cut (a timeout
    thrown in, a `Park` not woken) becomes the total timeout's error, thrown in there."""

    __slots__ = ()

    def send(self, result: Any = None) -> Action:
        phase, self._cut = self._cut, None
        if phase is not None and result is False:  # (only a Park answers False)
            return self._expire(phase, None)
        return self._bound(super().send(result))

    def throw(self, error: Exception) -> Action:
        phase, self._cut = self._cut, None
        if phase is not None and isinstance(error, TimeoutException):
            return self._expire(phase, error)
        return self._bound(super().throw(error))

    def close(self) -> Action:
        # Ending a response (an HTTP/2 stream's reset) is cleanup: never cut short, as
        # that would fail the whole connection.
        self._cut = None
        self._done = True
        return super().close()

    def _expire(self, phase: Phase, cause: Exception | None) -> Action:
        """The deadline passed during ``phase``: its error goes in where the wait was."""
        assert self._deadline is not None
        error = self._deadline.error(phase)
        error.__cause__ = cause
        self._done = True
        return super().throw(error)

    def _bound(self, act: Action) -> Action:
        """``act`` with its timeout cut to what the deadline leaves, if it waits."""
        if self._done or type(act) not in _WAITS:
            return act
        wait: Any = act
        deadline = self._deadline
        assert deadline is not None
        timeout, cut = deadline.limit(wait.timeout, deadline.now(self._engine._clock))
        if not cut:
            return act
        phase = self._phase_of(wait)
        if not timeout:  # passed already: fail without waiting
            return self._expire(phase, None)
        self._cut = phase
        return _with_timeout(wait, timeout)

    def _phase_of(self, act: Any) -> Phase:
        """The phase of a wait, for its error: the pool's, a connection being opened
        (its proxy handshake included), or the request's writing or reading; on HTTP/2,
        waiting for another stream's turn to write or read."""
        kind = type(act)
        if kind is Park:
            if self._wait is not None:
                return "pool"
            conn = self._conn
            return "write" if conn is not None and act.ticket in conn.write_waiters else "read"
        if self._opening is not None or (kind is not Read and kind is not Write):
            return "connect"
        return "read" if kind is Read else "write"


# An engine's exchange classes: (without a total deadline, with one). A subclass of
# `Exchange` that wraps its steps (`sansio.replay`) pairs itself with a subclass of both it
# and `_Timed`, which then bounds the waits inside its wrapping.
ExchangeKinds: TypeAlias = tuple[type[Exchange], type[Exchange]]
EXCHANGE_KINDS: ExchangeKinds = (Exchange, _Timed)


def _with_timeout(act: Any, timeout: float) -> Action:
    """A copy of the waiting action ``act`` with ``timeout``."""
    kind = type(act)
    if kind is Read:
        return Read(act.stream, timeout, act.shared)
    if kind is Write:
        return Write(act.stream, act.data, timeout, act.shared)
    if kind is Park:
        return Park(act.ticket, timeout)
    if kind is Connect:
        return Connect(act.host, act.port, act.uds, timeout)
    if kind is StartTLS:
        return StartTLS(act.stream, act.tls, timeout)
    return Resolve(act.host, act.port, timeout)


def _expects_continue(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether a request head carries ``Expect: 100-continue`` (RFC 9110 §10.1.1)."""
    return any(
        name.lower() == b"expect" and value.strip().lower() == b"100-continue"
        for name, value in headers
    )


def _ipv4_of(addresses: Sequence[tuple[Any, ...]]) -> str:
    """The first IPv4 address of a `Resolve` result (else the first address, which
    SOCKS4 refuses with a `ProxyError` that names it)."""
    if not addresses:
        raise ConnectError("the host name resolved to no address")
    for address in addresses:
        if family_of(address[0]) == "ipv4":
            return str(address[0])
    return str(addresses[0][0])


def _connect_started(tracer: Tracer, route: Route, timeout: float | None) -> Trace:
    if route.uds is not None:
        return tracer.started("connection.connect_unix_socket",
                              {"path": route.uds, "timeout": timeout})  # fmt: skip
    return tracer.started("connection.connect_tcp",
                          {"host": route.host, "port": route.port, "timeout": timeout})  # fmt: skip


_H1_PHASES = (
    "http11.send_request_headers",
    "http11.send_request_body",
    "http11.receive_response_headers",
)


def _h1_phase(tracer: Tracer, step: object) -> Steps:
    """The trace events up to the phase a step of the HTTP/1.1 machine belongs to: the
    body once the head is written (even with no body, as httpcore), the response head
    from the first RECEIVE (or a head that came early). After a failed write, straight
    to the response head."""
    phase = tracer.phase
    if phase is None:  # a write failed: the machine asks for no more of the body
        yield tracer.started(_H1_PHASES[2])
        return
    target = 1 if step is NEED_BODY else 2
    index = _H1_PHASES.index(phase)
    while index < target:
        index += 1
        yield tracer.complete()
        yield tracer.started(_H1_PHASES[index])


def _with_wake(effects: Effects | None, wake: tuple[Any, ...]) -> Effects | None:
    """``effects`` and the wake-ups of ``wake`` as one action."""
    if not wake:
        return effects
    if effects is None:
        return Effects(wake=wake)
    return Effects(effects.close, wake + effects.wake)
