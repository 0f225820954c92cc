"""`Engine`: one per transport. It owns the planner, the pool machine, the open
connections (their wire machines and the interpreter's streams) and the scheduling
state of every HTTP/2 connection; `Engine.exchange` starts one `Exchange` per request.

Rules
-----
1. The engine never blocks and does no I/O. Shared state (the pool, the connection
   table, an HTTP/2 connection's machine and its reader, writer and waiters) changes
   only under ``lock``, an injected context manager: a threaded interpreter passes a
   `threading.Lock`, a single-threaded one nothing. It is held for a few machine
   calls, never across an action. An HTTP/1.1 connection belongs to one exchange
   while checked out, and its machine is called without the lock.
2. Time comes from the injected ``clock`` (seconds that never go backwards), tickets
   from the injected ``new_ticket`` factory, and (optionally) whether an idle stream has
   anything to read from the injected ``readable``; nothing else reaches the outside
   world.
3. Whatever the pool asks (connections to close, waiters to wake) leaves as one
   `Effects` action of the exchange that made the call, with the streams and tickets
   already looked up; it is applied before anything else happens on that exchange.
4. After `close`, nothing reaches the pool again: new exchanges fail with
   RuntimeError, and exchanges in flight fail at their next read or write (their
   streams are closed).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sansio._typing_lite import TYPE_CHECKING, Any, cast
from sansio.config import DEFAULT_LIMITS, Limits
from sansio.exchange import Planner, Timeouts
from sansio.pool import NO_CHANGES, Changes, PooledConnection, PoolMachine, PoolStatistics
from sansio.wire import INFORMATIONAL_EXTENSION

from .actions import Effects, Ticket
from .conn import Conn
from .exchange import EXCHANGE_KINDS, Exchange, ExchangeKinds, new_exchange
from .trace import Tracer, debug_logging

if TYPE_CHECKING:  # pragma: no cover
    from sansio.models import Request
    from sansio.replay import Recorder, Recording
    from sansio.retry import Retry, RetryState

__all__ = ["Engine"]


class _NoLock:
    """The lock of a single-threaded interpreter: ``with`` it does nothing.

    Entered on every pool call, so both methods are C-level (``"".format`` takes any
    arguments and returns ``""``, which is falsy: an exception is never swallowed);
    `contextlib.nullcontext`'s two Python-level calls cost twice as much.
    """

    __slots__ = ()
    __enter__ = "".format
    __exit__ = "".format


# (A cast: ``__exit__`` returns ``""``, not the bool | None typeshed spells.)
_NO_LOCK = cast("AbstractContextManager[Any]", _NoLock())


class Engine:
    """The exchange engine of one transport (see the module docs).

    The settings are those of `httpx.HTTPTransport` that concern HTTP: TLS (``verify``,
    ``cert``, ``trust_env``), the protocol versions, pool ``limits``, a ``proxy``, a
    Unix socket path ``uds`` and ``retries`` (a `sansio.retry.Retry` policy, or an int:
    that many connect retries, as httpx). Socket details (local address,
    socket options) belong to the interpreter that opens connections. ``record`` (a
    `sansio.replay.Recorder`) notes every connection's bytes; ``replay`` (a
    `sansio.replay.Recording`) plays them back instead of doing any I/O.

    ``readable(stream)``, if given, says without waiting whether an idle stream has
    anything to read (bytes, EOF, TLS housekeeping: what makes the `ReadReady` handler
    read): the probe of a reused HTTP/1.1 connection is then a `ReadReady` action only
    when it says so, and no action at all in the common case. It is not called while
    recording or replaying (every probe is then an action, as the tape needs).

    ``write_now(stream, data)``, if given, writes what of an HTTP/1.1 request's ``data``
    goes out without waiting and says how many bytes that was; a `Write` action sends
    the rest (none in the common case: one action less per request). It raises what the
    `Write` handler would. Not called while recording or replaying either.
    """

    __slots__ = (
        "_clock",
        "_closed",
        "_conns",
        "_kinds",
        "_live",
        "_lock",
        "_new_ticket",
        "_planner",
        "_pool",
        "_readable",
        "_retry",
        "_retry_start",
        "_tape",
        "_waiting",
        "_write_now",
    )

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        retries: int | Retry = 0,
        lock: AbstractContextManager[Any] | None = None,
        new_ticket: Callable[[], Any] = Ticket,
        readable: Callable[[Any], bool] | None = None,
        write_now: Callable[[Any, bytes], int] | None = None,
        record: Recorder | None = None,
        replay: Recording | None = None,
    ) -> None:
        self._planner = Planner(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, uds=uds,
            proxy=proxy, max_header_bytes=limits.max_header_bytes,
            max_header_count=limits.max_header_count,
        )  # fmt: skip
        self._pool = PoolMachine(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            max_connections_per_host=limits.max_connections_per_host,
        )
        self._clock = clock
        self._lock: AbstractContextManager[Any] = _NO_LOCK if lock is None else lock
        self._new_ticket = new_ticket
        self._readable = readable
        self._write_now = write_now
        self._retry: Retry | None = None  # none: nothing but the keep-alive retry
        self._retry_start: RetryState | None = None
        if not (type(retries) is int and retries == 0):
            # Loaded only for a policy: `import conch` stays light.
            from sansio.retry import Retry, RetryState

            self._retry = Retry.from_int(retries)
            self._retry_start = RetryState()
        self._conns: dict[int, Conn] = {}
        self._waiting: dict[int, Any] = {}  # pool ticket -> the waiting exchange's ticket
        self._live: set[Exchange] = set()  # exchanges not yet finished (`requests`)
        self._closed = False
        # ``record``/``replay``: see `sansio.replay` (loaded only then).
        self._tape: Any = None
        # The exchange classes, without and with a total deadline (`new_exchange`).
        self._kinds: ExchangeKinds = EXCHANGE_KINDS
        if record is not None or replay is not None:
            from sansio.replay import tape

            self._tape, self._kinds = tape(self, record, replay)
            self._readable = None
            self._write_now = None

    def exchange(self, request: Request) -> Exchange:
        """A new exchange for `request`: its route and head are planned, nothing else
        happens until the first `Exchange.send`. Raises `UnsupportedProtocol` for a
        URL no connection can serve."""
        route, head, has_body = self._planner.plan(request)
        ex = new_exchange(self, request, route, head, has_body, Timeouts.of(request), self._kinds)
        extensions = request.extensions
        trace = extensions.get("trace")
        if trace is not None or debug_logging():
            ex._tracer = Tracer(trace, debug_logging(), request)
        ex._informational = extensions.get(INFORMATIONAL_EXTENSION)
        return ex

    def close(self) -> Effects:
        """Close every connection and wake every waiter; later exchanges are refused."""
        with self._lock:
            self._closed = True
            conns = list(self._conns.values())
            self._conns.clear()
            wake = list(self._waiting.values())
            for conn in conns:
                wake += conn.waiters.values()
                wake += conn.write_waiters
                conn.waiters.clear()
                conn.write_waiters.clear()
            close = tuple(conn.stream for conn in conns)
            if self._tape is not None:  # (a replay's parked reads wake, to fail)
                wake += self._tape._closed(self._clock(), close)
        return Effects(close, tuple(wake))

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool's counts."""
        with self._lock:
            return self._pool.statistics()

    def connections(self) -> list[PooledConnection]:
        """A snapshot of the pool's connections (httpcore's ``ConnectionPool.connections``)."""
        with self._lock:
            # (after `close` the pool machine is never called again: nothing is open)
            return [] if self._closed else self._pool.connections(self._clock())

    def requests(self) -> list[Request]:
        """The requests not yet finished: waiting for a connection, being sent, or with a
        response not yet closed (httpcore's ``ConnectionPool._requests``)."""
        return [ex._request for ex in list(self._live)]  # (a copy: other threads add)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- for exchanges (the lock held where it says so) ---------------------------------

    def _effects(self, changes: Changes) -> Effects | None:
        """The action for a pool call's changes (lock held); None when there is none."""
        close = changes.close
        wake = changes.wake
        if not (close or wake):
            return None
        conns = self._conns
        streams = tuple(conns.pop(conn_id).stream for conn_id in close)
        return Effects(streams, tuple(self._waiting[ticket] for ticket in wake))

    def _closing(self, close: tuple[int, ...]) -> Effects:
        """The action closing the connections a checkout evicted or expired (lock held)."""
        conns = self._conns
        return Effects(tuple(conns.pop(conn_id).stream for conn_id in close))

    def _detach(self, conn: Conn) -> Effects | None:
        """``conn`` leaves the pool for good, its stream left open (handed over to the
        caller after a 101 or a CONNECT 2xx); its slot serves others at once."""
        conn_id = conn.conn_id
        with self._lock:
            if self._closed:
                return None
            del self._conns[conn_id]
            changes = self._pool.checkin(conn_id, self._clock())  # not reusable: forgotten
            conns = self._conns
            close = tuple(conns.pop(c).stream for c in changes.close if c != conn_id)
            wake = tuple(self._waiting[ticket] for ticket in changes.wake)
        return Effects(close, wake) if close or wake else None

    def _checkin(self, conn: Conn) -> Effects | None:
        """A request is done with ``conn`` (its stream released)."""
        with self._lock:
            if self._closed:
                return None
            changes = self._pool.checkin(conn.conn_id, self._clock())
            return None if changes is NO_CHANGES else self._effects(changes)
