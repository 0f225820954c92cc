"""Driving several streams on one HTTP/2 connection: the exchanges take turns.

`sansio.h2.H2Connection` is a machine that any caller may feed; this module decides
who does what, for every interpreter alike (it was prose in `sansio.h2` that each
shell carried out). The state lives on the connection (`sansio.engine.engine.Conn`)
and changes only under the engine's lock; I/O happens outside it, as actions.

Rules
-----
1. **One reader.** An exchange whose stream needs bytes (`RECEIVE`) reads (`Read`,
   ``shared``) if nobody does; otherwise it parks on a ticket registered in the same
   lock hold as that `next_step`, so no wake-up is lost. After a read the reader feeds
   the machine and wakes the waiters of the streams `take_ready` names; if its own
   stream got something, it wakes one more waiter to read next. A waiter whose read
   timeout passes fails alone (`ReadTimeout`).
2. **One writer, frames in order.** An exchange that must `SEND` becomes the writer if
   nobody writes, else parks until the writer is done. The writer passes a
   `Checkpoint`, then takes the bytes and writes them, so they leave in the order they
   were made; it goes on while more bytes were queued meanwhile, and wakes the waiting
   writers once nothing is left. A stream ending (its RST_STREAM) never waits for a
   writer at work: that one takes those bytes too.
3. **Failure scope.** A read that failed (not a timeout, see
   `sansio.exchange.ends_connection`), a write that failed, and a cancellation during
   a write (half a frame may have left) fail the connection: `io_failed`, every
   waiter woken. A read timeout, a cancellation elsewhere or a stream error end only
   the stream. A reader that leaves wakes one waiter to read instead.
4. **Ending a stream** (`release`): RST_STREAM if the server has not ended it, written
   at once as any write; after a cancellation nothing is written, and the reset leaves
   with the next write on the connection.
5. **Tunnels** (extended CONNECT, RFC 8441: a request with the ``protocol`` extension).
   The exchange waits for the server's SETTINGS (reading, or parked as any waiter)
   before it starts the stream: whether tunnels are allowed is in them. After the 2xx
   the exchange reads the tunnel as a body (or a `TunnelReader` does, one read under a
   timeout of its own that leaves the tunnel open when it expires), and a
   `TunnelWriter` writes it: a second party on the same stream, parked under the key
   ``-sid`` while the windows are shut (a read that opens them names the stream, and
   wakes both). If the server's SETTINGS do not allow tunnels, the exchange goes back to
   the pool for an HTTP/1.1 connection of its own and its Upgrade (where HTTP/1.1 is on).
6. **Idle connections** are probed like HTTP/1.1 ones (`ReadReady`) by an exchange that
   is about to reuse one, if nobody reads: PINGs, SETTINGS, a GOAWAY or EOF that came
   while nobody listened reach the machine before a stream starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, cast

from sansio.exceptions import LocalProtocolError, ReadTimeout, RemoteProtocolError, WriteTimeout
from sansio.exchange import ends_connection
from sansio.wire import NEED_BODY, RECEIVE, SEND, FailurePhase, ResponseHead

from .actions import (
    CHECKPOINT,
    END,
    NO_EFFECTS,
    PULL_FIRST,
    PULL_NEXT,
    Action,
    Effects,
    Park,
    Write,
)
from .trace import Tracer

if TYPE_CHECKING:  # pragma: no cover
    from sansio.exchange import Timeouts
    from sansio.h2 import H2Connection

    from .conn import Conn
    from .exchange import Exchange

__all__ = [
    "TunnelReader",
    "TunnelWriter",
    "abandon",
    "is_tunnel",
    "leave",
    "probe",
    "release",
    "request",
    "step",
]

Steps = Generator[Action, Any, Any]

# What a stream's `next_step` tells its exchange to do.
_READ, _WAIT, _WRITE, _WAIT_WRITE = range(4)


def request(ex: Exchange, conn: Conn) -> Steps:
    """Start the stream and send the request; its response head, or None if the
    connection filled up or is going away since the pool handed it out."""
    engine = ex._engine
    wire = conn.wire
    protocol = ex._request.extensions.get("protocol")
    if protocol is not None:
        yield from _await_settings(ex, conn)
        if not _h2(conn).allows_extended_connect:
            # No tunnel on this connection: an Upgrade over HTTP/1.1 instead, where the
            # transport speaks it (the exchange asks the pool again, on that route).
            route = engine._planner.fallback_route(ex._request)
            if route is not None:
                ex._route = route
                return None
    with engine._lock:
        if not wire.can_start_request:
            return None
        if protocol is None:
            ex._sid = ex._last_sid = sid = wire.start_request(ex._head, has_body=ex._has_body)
        else:
            ex._sid = ex._last_sid = sid = _h2(conn).start_tunnel(ex._head, _token(protocol))
    pull = PULL_FIRST
    tracer = ex._tracer
    try:
        if tracer is not None:
            yield from _trace_start(tracer, sid)
        while True:
            event = yield from step(ex, conn)
            if tracer is not None:
                yield from _trace_phase(tracer, event)
            if event is not NEED_BODY:
                assert type(event) is ResponseHead, event
                if ex._informational is not None:
                    yield from ex._deliver(event.informational)
                if tracer is not None:
                    yield tracer.complete((event.status_code, event.headers))
                return event
            chunk = yield pull
            pull = PULL_NEXT
            with engine._lock:
                wire.send_body(sid, chunk)
    except Exception as exc:
        if tracer is not None:
            yield from tracer.failed(exc)
        raise


def step(ex: Exchange, conn: Conn) -> Steps:
    """The stream's next event or NEED_BODY, after the reading and writing it takes."""
    engine = ex._engine
    lock = engine._lock
    wire = conn.wire
    sid = ex._sid
    assert sid is not None
    timeouts = ex._timeouts
    try:
        while True:
            if ex._informational is not None and not ex._responding:
                # Holding no role (a failing callback must not end the connection).
                with lock:
                    interim = list(wire.informational(sid))
                yield from ex._deliver(interim)
            with lock:
                event = wire.next_step(sid)
                if event is RECEIVE:
                    if conn.reader is None:
                        conn.reader = ex
                        role, ticket = _READ, None
                    else:
                        ticket = ex._ticket = conn.waiters[sid] = engine._new_ticket()
                        role = _WAIT
                elif event is SEND:
                    role = _join_writers(ex, conn)
                    ticket = ex._ticket
                else:
                    return event
            if role <= _WAIT and (tracer := ex._tracer) is not None:
                yield from _trace_phase(tracer, RECEIVE)  # (the request is sent)
            if (yield from _play(ex, conn, role, ticket, timeouts.read, sid, sid)):
                raise ReadTimeout("timed out")
    except Exception as exc:
        with lock:
            effects = _leave_roles(ex, conn, exc)
        if effects is not None:
            yield effects
        raise


def _await_settings(ex: Exchange, conn: Conn) -> Steps:
    """Until the server's SETTINGS have arrived (RFC 8441 §3: a tunnel needs them). A
    waiter parks under a key of its own (negative, even), held in ``ex._sid`` meanwhile
    so that leaving finds it; the read that brings the SETTINGS wakes every such key."""
    engine = ex._engine
    lock = engine._lock
    wire = _h2(conn)
    timeouts = ex._timeouts
    key = 0  # a waiter's own key, taken when it parks
    try:
        while True:
            with lock:
                if wire.settings_received:
                    return
                if not wire.is_reusable:
                    raise RemoteProtocolError("the connection closed before the server's SETTINGS")
                if wire.has_data_to_send:
                    role = _join_writers(ex, conn)
                    ticket = ex._ticket
                elif conn.reader is None:
                    conn.reader = ex
                    role, ticket = _READ, None
                else:
                    conn.keys += 1
                    key = ex._sid = -2 * conn.keys
                    ticket = ex._ticket = conn.waiters[key] = engine._new_ticket()
                    role = _WAIT
            timed_out = yield from _play(ex, conn, role, ticket, timeouts.read, None, key)
            if role == _WAIT:
                ex._sid = None  # (no yield since the park: nobody saw the key meanwhile)
            if timed_out:
                raise ReadTimeout("timed out")
    except Exception as exc:
        with lock:
            effects = _leave_roles(ex, conn, exc)
            ex._sid = None
        if effects is not None:
            yield effects
        raise


def _token(protocol: object) -> bytes:
    if isinstance(protocol, str) and protocol.isascii():
        return protocol.encode("ascii")
    if isinstance(protocol, bytes):
        return protocol
    raise LocalProtocolError(f"invalid protocol extension {protocol!r}")


class _TunnelParty:
    """A reader or writer of the tunnel an exchange holds after a 2xx to its extended
    CONNECT: a pull machine like `Exchange` (`send`, `throw`, `cancel`) that plays an
    exchange's part in the connection's roles. Its interpreter performs the actions
    until it hands out a body event (`END` for a writer)."""

    __slots__ = ("_conn", "_engine", "_gen", "_informational", "_last_sid", "_probing", "_sid",
                 "_ticket", "_timeouts", "_tracer")  # fmt: skip

    def __init__(self, ex: Exchange, key: int, timeouts: Timeouts) -> None:
        conn = ex._conn
        sid = ex._sid
        if conn is None or sid is None or not conn.shared:
            raise RuntimeError("this exchange holds no tunnel")
        self._conn = conn
        self._engine = ex._engine
        self._timeouts = timeouts
        self._tracer = self._informational = None
        self._probing = False
        self._ticket: Any = None
        self._last_sid = sid
        self._sid = key  # the key it parks under (`_leave_roles` looks for it there)
        self._gen: Steps | None = None

    def send(self, result: Any = None) -> Action:
        gen = self._gen
        if gen is None:
            return END
        try:
            return gen.send(result)
        except StopIteration as stop:
            self._gen = None
            return stop.value or END
        except BaseException:
            self._gen = None
            raise

    def throw(self, error: Exception) -> Action:
        gen = self._gen
        if gen is None:
            raise error
        try:
            return gen.throw(error)  # (the cleanup's `Effects`, then the error again)
        except BaseException:
            self._gen = None
            raise

    def cancel(self) -> Effects:
        """After a cancellation: leave the connection's roles, writing nothing."""
        gen, self._gen = self._gen, None
        if gen is None:
            return NO_EFFECTS
        gen.close()
        with self._engine._lock:
            effects = _leave_roles(self, self._conn, None)  # type: ignore[arg-type]
        return effects or NO_EFFECTS


class TunnelWriter(_TunnelParty):
    """Writes one chunk (``None``: the end of our side) into an exchange's tunnel, within
    the request's write timeout. Any number may write one after another while the
    exchange reads; a failure (the server reset the tunnel, the connection failed) is
    raised, and leaves the reading side to the exchange."""

    __slots__ = ()

    def __init__(self, ex: Exchange, data: bytes | None) -> None:
        super().__init__(ex, -(ex._sid or 0), ex._timeouts)
        self._gen = _tunnel_write(self, self._conn, self._last_sid, data)


class TunnelReader(_TunnelParty):
    """Reads an exchange's tunnel once: the next `BodyChunk`, or `EndOfBody` once the
    server has ended its side. ``timeout`` (None: none) bounds this read alone: its
    `ReadTimeout` takes no byte and leaves the tunnel open, as a socket's would. One
    reader at a time, instead of the exchange's own `send`."""

    __slots__ = ()

    def __init__(self, ex: Exchange, timeout: float | None) -> None:
        super().__init__(ex, ex._sid or 0, ex._timeouts.with_read(timeout))
        self._gen = step(cast("Exchange", self), self._conn)


_SHUT_WINDOWS = "timed out waiting for the server's flow-control window"


def _tunnel_write(w: TunnelWriter, conn: Conn, sid: int, data: bytes | None) -> Steps:
    """Queue ``data`` once `send_step` allows, then write until it is all out (the
    end of our side: until its END_STREAM is out); read for the windows if nobody does.
    The write timeout bounds each wait for the windows (`WriteTimeout`)."""
    lock = w._engine._lock
    wire = _h2(conn)
    ex = cast("Exchange", w)  # it plays an exchange's part in the roles
    queued = False
    try:
        while True:
            with lock:
                if queued and data is None:
                    if not wire.has_data_to_send:
                        return
                    role = _join_writers(ex, conn)
                else:
                    event = wire.send_step(sid)
                    if event is NEED_BODY:
                        if queued:
                            return
                        wire.send_body(sid, data)
                        queued = True
                        continue
                    if event is SEND:
                        role = _join_writers(ex, conn)
                    elif conn.reader is None:  # RECEIVE: the windows are shut
                        conn.reader = ex
                        role = _READ
                    else:
                        conn.keys += 1
                        w._ticket = conn.waiters[-sid] = w._engine._new_ticket()
                        role = _WAIT
                ticket = w._ticket
            try:
                timed_out = yield from _play(ex, conn, role, ticket, w._timeouts.write, sid, -sid)
            except ReadTimeout as exc:  # (only a read raises it)
                # The write timeout bounds a wait for the windows, reading or parked.
                raise WriteTimeout(_SHUT_WINDOWS) from exc
            if timed_out:
                raise WriteTimeout(_SHUT_WINDOWS)
    except Exception as exc:
        # A read that timed out lost no byte: the connection goes on (`ends_connection`).
        cause = exc.__cause__
        with lock:
            effects = _leave_roles(ex, conn, cause if isinstance(cause, ReadTimeout) else exc)
        if effects is not None:
            yield effects
        raise


def probe(ex: Exchange, conn: Conn) -> Steps:
    """Look at a connection handed out for reuse, if nobody reads it already."""
    engine = ex._engine
    wire = conn.wire
    with engine._lock:
        probing = conn.reader is None and wire.is_idle
        if probing:
            conn.reader = ex
            ex._probing = True
    if probing:
        try:
            data = yield conn.read_ready
        except Exception:
            data = b""  # a failed read ends the connection
        with engine._lock:
            ex._probing = False
            effects = _fed(conn, data, None)
        if effects is not None:
            yield effects


def abandon(ex: Exchange, conn: Conn, sid: int | None) -> Steps:
    """End a stream whose request failed (before its head); how far it had got."""
    phase = FailurePhase.SENDING
    if sid is not None:
        with ex._engine._lock:
            phase = conn.wire.failure_phase(sid)
    yield from release(ex, conn)
    effects = ex._engine._checkin(conn)
    ex._conn = None
    if effects is not None:
        yield effects
    return phase


def release(ex: Exchange, conn: Conn) -> Steps:
    """End the exchange's stream and write its RST_STREAM (if one is due). A failed
    write has failed the connection already: the stream is over either way."""
    sid = ex._sid
    if sid is None:
        return
    with ex._engine._lock:
        conn.wire.release(sid)
        ex._sid = None
    with contextlib.suppress(Exception):  # the connection failed, its streams with it
        yield from _flush(ex, conn)


def leave(ex: Exchange, conn: Conn) -> tuple[Any, ...]:
    """Give up every role and the stream, writing nothing (after a cancellation); the
    tickets to wake."""
    with ex._engine._lock:
        effects = _leave_roles(ex, conn, None)
        sid = ex._sid
        if sid is not None:
            if sid > 0:  # (not the key of a wait for the SETTINGS)
                conn.wire.release(sid)
            ex._sid = None
    return () if effects is None else effects.wake


# -- trace events (see `sansio.engine.trace`) -----------------------------------------------

_PHASES = (
    "http2.send_request_headers",
    "http2.send_request_body",
    "http2.receive_response_headers",
)


def _trace_start(tracer: Tracer, sid: int) -> Steps:
    """The connection's preface goes out with its first stream, then the headers."""
    if sid == 1:
        yield tracer.started("http2.send_connection_init")
        yield tracer.complete()
    yield tracer.started(_PHASES[0], {"request": tracer.request, "stream_id": sid})


def _trace_phase(tracer: Tracer, event: object) -> Steps:
    """The events up to the phase ``event`` of the stream belongs to: the body once the
    headers are out (even with no body, as httpcore), the response head from the
    first read (the request is sent then)."""
    phase = tracer.phase
    if phase not in _PHASES:  # (reading the body)
        return
    index = _PHASES.index(phase)
    target = 1 if event is NEED_BODY else 2
    while index < target:
        index += 1
        yield from tracer.advance(_PHASES[index])


# -- the roles ---------------------------------------------------------------------------


def _play(
    ex: Exchange,
    conn: Conn,
    role: int,
    ticket: Any,
    timeout: float | None,
    sid: int | None,
    key: int,
) -> Steps:
    """Play ``role`` once: read for every stream (``sid``'s read, None for none), park
    under ``key`` until a read wakes it, write what is queued, or wait for the writer.
    Gives True if the park ran out (the caller raises its own timeout), else False."""
    lock = ex._engine._lock
    if role == _READ:
        data = yield conn.read_for(timeout)
        with lock:
            effects = _fed(conn, data, sid)
        if effects is not None:
            yield effects
    elif role == _WAIT:
        woken = yield Park(ticket, timeout)
        with lock:
            ex._ticket = None
            timed_out = not woken and conn.waiters.get(key) is ticket
            if timed_out:
                del conn.waiters[key]
        return timed_out
    elif role == _WRITE:
        yield from _write(ex, conn)
    else:
        yield from _wait_for_writer(ex, conn, ticket)
    return False


def _join_writers(ex: Exchange, conn: Conn) -> int:
    """Become the writer, or register as waiting for it (lock held)."""
    if conn.writer is None:
        conn.writer = ex
        return _WRITE
    ticket = ex._ticket = ex._engine._new_ticket()
    conn.write_waiters.append(ticket)
    return _WAIT_WRITE


def _write(ex: Exchange, conn: Conn) -> Steps:
    """The writer's turn: write what the machine has queued, and go on while more is
    queued meanwhile (by any stream), then wake the streams waiting to write."""
    lock = ex._engine._lock
    wire = _h2(conn)
    while True:
        yield CHECKPOINT
        with lock:
            data = wire.data_to_send()
            conn.written = True
        if data:
            yield Write(conn.stream, data, ex._timeouts.write, True)
        with lock:
            conn.written = False
            if wire.has_data_to_send:
                continue
            conn.writer = None
            waiters = conn.write_waiters
            effects = Effects(wake=tuple(waiters)) if waiters else None
            waiters.clear()
        if effects is not None:
            yield effects
        return


def _wait_for_writer(ex: Exchange, conn: Conn, ticket: Any) -> Steps:
    # The writer's own write timeout bounds this wait; whoever wakes the ticket has
    # already taken it out of ``write_waiters``.
    yield Park(ticket, None)
    with ex._engine._lock:
        ex._ticket = None


def _flush(ex: Exchange, conn: Conn) -> Steps:
    """Write whatever the machine has queued, unless a writer is at work: it writes
    until nothing is queued, these bytes included."""
    lock = ex._engine._lock
    with lock:
        if conn.writer is not None or not _h2(conn).has_data_to_send:
            return
        conn.writer = ex
    try:
        yield from _write(ex, conn)
    except Exception as exc:
        with lock:
            effects = _leave_roles(ex, conn, exc)
        if effects is not None:
            yield effects
        raise


def _fed(conn: Conn, data: bytes | None, sid: int | None) -> Effects | None:
    """After a read (lock held): feed the bytes, hand the reading role back, and wake
    the waiters of the streams they concern; if the reader's own stream (``sid``) got
    something it will leave, so one more waiter is woken to read next."""
    wire = _h2(conn)
    if data is not None:
        wire.receive_data(data)
    conn.reader = None
    ready = wire.take_ready()
    waiters = conn.waiters
    if not waiters:
        return None
    wake = [waiters.pop(ready_sid) for ready_sid in ready if ready_sid in waiters]
    if conn.keys:  # tunnel writers or SETTINGS waiters have parked here: see `_side_waiters`
        wake += _side_waiters(conn, wire, ready)
    if waiters and (sid is None or sid in ready):
        wake.append(_pop_one(waiters))
    return Effects(wake=tuple(wake)) if wake else None


def _leave_roles(ex: Exchange, conn: Conn, error: Exception | None) -> Effects | None:
    """``ex`` leaves the connection's roles after ``error`` (None: a cancellation)
    (lock held); the wake-ups that takes."""
    wire = conn.wire
    wake: list[Any] = []
    ticket = ex._ticket
    if ticket is not None:
        ex._ticket = None
        sid = ex._sid
        if sid is not None and conn.waiters.get(sid) is ticket:
            del conn.waiters[sid]
        elif ticket in conn.write_waiters:
            conn.write_waiters.remove(ticket)
    failed = False
    if conn.writer is ex:
        conn.writer = None
        if conn.written:
            # Perhaps half a frame went out: nothing more can be sent after it.
            conn.written = False
            failed = True
        else:
            wake += conn.write_waiters  # it never took the bytes: another may write them
            conn.write_waiters.clear()
    if conn.reader is ex:
        conn.reader = None
        ex._probing = False
        if error is not None and ends_connection(error):
            failed = True  # the read failed: so does every stream
    if failed:
        wire.io_failed(ex._last_sid)
        wake += conn.waiters.values()
        wake += conn.write_waiters
        conn.waiters.clear()
        conn.write_waiters.clear()
    elif conn.reader is None and conn.waiters:
        wake.append(_pop_one(conn.waiters))  # someone must read instead
    return Effects(wake=tuple(wake)) if wake else None


def _side_waiters(conn: Conn, wire: H2Connection, ready: list[int]) -> list[Any]:
    """Pop the waiters a read wakes besides the streams' readers (lock held): the tunnel
    writers (key ``-sid``) of the ``ready`` streams, and the SETTINGS waiters (negative
    even keys) once the SETTINGS are in."""
    waiters = conn.waiters
    settings = wire.settings_received
    woken = [key for key in waiters if key < 0 and ((settings and not key % 2) or -key in ready)]
    return [waiters.pop(key) for key in woken]


def is_tunnel(conn: Conn, sid: int) -> bool:
    """Whether the stream ``sid`` opened a tunnel (see `sansio.h2.H2Connection.is_tunnel`)."""
    return _h2(conn).is_tunnel(sid)


def _h2(conn: Conn) -> H2Connection:
    return cast("H2Connection", conn.wire)


def _pop_one(waiters: dict[int, Any]) -> Any:
    return waiters.pop(next(iter(waiters)))
