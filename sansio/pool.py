"""The pool machine: which connection a request uses. Policy only: no I/O, no clock.

Its caller ("the shell" below) is, in conch, the exchange engine (`sansio.engine`),
which turns the pool's answers into actions for whatever loop interprets it.

Rules
-----
1. The pool never touches a socket. `checkout` answers `Reuse`, `Open` or `Wait`; every
   call that changes what the pool holds returns the connection ids the shell must
   close and the waiters it must wake (`Changes`, or the ``close`` field of a
   decision). The shell does exactly that and decides nothing.
2. ``now`` is always an argument: seconds on a clock that never goes backwards.
3. Slots are counted, never guessed: connecting + active + idle <= ``max_connections``
   (and per host <= ``max_connections_per_host``) after every call, and every call
   that frees a slot or an idle connection hands it to the first waiter it can serve
   before returning.

Theory of operation
-------------------
**Origins.** An origin is any hashable key. The caller must put in it everything that
makes two connections not interchangeable: scheme, host, port, the proxy, and every TLS
setting (verification, client certificate, server name for SNI, ALPN list). Only then
is a connection made for one TLS configuration never handed out for another.

**Idle connections.** Per origin, an insertion-ordered dict of idle connections; the
most recently used is last, so choosing one is ``popitem()``: O(1), no scan over the
pool (httpcore scans every connection per request). One more ordered dict holds all
idle connections by the time they became idle, oldest first, for expiry
(``keepalive_expiry``), for the ``max_keepalive_connections`` cap (the oldest go first)
and for eviction when the pool is full and another origin needs the slot. Before the
shell sends on a reused connection it checks that one socket for readability and feeds
what it finds to the wire machine; a connection that turns out dead goes back through
`checkin`, which returns it for closing, and the shell checks out again.

**Waiting, without leaking slots.** A `Wait` carries a ticket; waiters are served
first come, first served. When a slot or an idle connection frees up while someone
waits, the pool *grants* it at once: it reserves the connection (a `Reuse`) or the
slot (an `Open`) for that ticket and lists the ticket in ``Changes.wake``. The waiter
takes its grant with `claim`. A newcomer can never take a granted slot, and a waiter
that is cancelled or times out calls `cancel_wait`, which hands its grant on to the
next waiter. So while anyone waits there is no free slot and no idle connection it
could use (only idle connections of its own origin that allow no stream, see "Full
connections").

**Multiplexed connections** (``max_streams > 1``, HTTP/2) are shared: an active one with
spare capacity (fewer pool streams than ``max_streams`` and ``can_start_request``)
is handed out to further requests of its origin, and counts as one connection.

**Full connections.** A multiplexed connection may have no free stream: its streams are
all in use, the server lowered SETTINGS_MAX_CONCURRENT_STREAMS (down to 0, which RFC
9113 §5.1.2 allows "for short durations"), or it sent GOAWAY. Such a connection is
never handed out for a new stream: the request opens another connection within
``max_connections``, or waits. One going away is closed once its streams end. One that
is merely full keeps its slot until room comes back, from a stream that ends or a
SETTINGS frame that raises the limit. On a connection in use, the readers of its
streams feed that frame to the machine, and the pool sees the room when one of its
streams is checked in (and wakes a waiter). On an *idle* connection that allows no
stream nobody reads, so the pool hands it out now and then for a look: as a `Reuse`,
which the shell checks for readability like any idle connection before it starts a
stream, so a SETTINGS frame that arrived meanwhile reaches the machine; if the
connection still cannot start a request, the shell checks it in and checks out again.
It is due for a look at once when it turns full, then once per
``full_recheck_interval``. A request that waits while its origin has such a connection
gets a `Wait` whose ``recheck`` is the time of the next look: if nothing was granted by
then, it cancels its ticket and checks out again. Requests that were already waiting
when the connection turned full (it was in use then) are woken with nothing granted
(`claim` gives None), to check out again in the same way. So a server that allows no
stream costs a waiting request one non-blocking read per interval, never a busy loop,
and the pool timeout still bounds the wait. This is the simplest correct design we
found: no reader task, no I/O in the pool, and nothing at all while nobody waits. Such
an idle connection counts as idle for expiry, ``max_keepalive_connections`` and
eviction by other origins, but a (non-fresh) checkout of its own origin never evicts it
to open another: the server asked for patience, and the pool timeout bounds it.

Whether a new connection multiplexes is known only once it is up (TLS ALPN chose h2).
A checkout that says ``multiplex=True`` (HTTP/2 is possible) and finds nothing to use
opens a *probe*; while the probe connects, further such checkouts for its origin wait
for it instead of opening connections of their own, so a burst of N requests opens one
connection, not N. If the probe turns out multiplexed they share it; if it is HTTP/1.1
they are served as usual (each gets a slot), and while the origin has an HTTP/1.1
connection open no new probe is made, so a server without HTTP/2 costs no waiting. A
probe that fails hands the probing role to the next waiter.

**A cap per host** (``max_connections_per_host``, as aiohttp's ``limit_per_host``):
connections to one host, counted by the ``host`` key a checkout names (the caller's
scheme, host and port, whatever the TLS settings that split its origins), never pass
it. A checkout over the cap makes room by closing an idle connection of that host
(of another origin, or of its own for a fresh checkout), or waits; a waiter held back
by its host's cap does not hold back waiters for other hosts, so a slot may be free
while it waits.

**Retries.** `retry_safe` says when a failed request may be sent again on a fresh
connection (``checkout(..., fresh=True)``): only once, only if it failed on a
*reused* connection before any byte of the response arrived, and only for an
idempotent method. That is the keep-alive race: the server closed an idle connection
just as we reused it.
"""

from __future__ import annotations

from collections.abc import Hashable

from ._frozen import Frozen, set_field, slot_setters
from .wire import FailurePhase, WireConnection

__all__ = [
    "DEFAULT_FULL_RECHECK_INTERVAL",
    "DEFAULT_KEEPALIVE_EXPIRY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_KEEPALIVE_CONNECTIONS",
    "IDEMPOTENT_METHODS",
    "NO_CHANGES",
    "Changes",
    "Open",
    "PoolMachine",
    "PoolStatistics",
    "PooledConnection",
    "Reuse",
    "Wait",
    "retry_safe",
]

# Defaults of httpx's Limits (DEFAULT_LIMITS): 100 connections in all, of which at
# most 20 are kept idle, each for at most 5 seconds. Servers commonly drop idle
# connections after 5 to 75 seconds (Apache's KeepAliveTimeout is 5 s), so 5 s stays
# below the shortest common server timeout.
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 20
DEFAULT_KEEPALIVE_EXPIRY = 5.0

# How often an idle HTTP/2 connection whose server allows no stream (a
# SETTINGS_MAX_CONCURRENT_STREAMS of 0) is looked at again for a SETTINGS frame that
# lifts the limit, while requests wait for it. RFC 9113 §5.1.2 asks servers to keep such
# a limit "for short durations"; a tenth of a second notices the end of one quickly
# and costs a waiting request at most ten wake-ups (and non-blocking reads) a second.
DEFAULT_FULL_RECHECK_INTERVAL = 0.1

# RFC 9110 §9.2.2: PUT, DELETE and the safe methods are idempotent.
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


class Changes(Frozen):
    """What the shell must do after a pool call: close these connections, wake these
    waiters (each then calls `PoolMachine.claim` with its ticket: if that gives None,
    nothing was granted and it checks out again)."""

    __slots__ = ("close", "wake")
    close: tuple[int, ...]
    wake: tuple[int, ...]

    def __init__(self, close: tuple[int, ...] = (), wake: tuple[int, ...] = ()) -> None:
        set_field(self, "close", close)
        set_field(self, "wake", wake)


NO_CHANGES = Changes()


class Reuse(Frozen):
    """Use this open connection: check its socket for readability first, and if the
    machine then cannot start a request (it closed, or allows no stream now), check it
    in and check out again."""

    __slots__ = ("close", "conn_id", "connection")
    conn_id: int
    connection: WireConnection
    close: tuple[int, ...]  # other connections to close (expired or evicted)

    def __init__(
        self, conn_id: int, connection: WireConnection, close: tuple[int, ...] = ()
    ) -> None:
        _set_conn_id(self, conn_id)
        _set_connection(self, connection)
        _set_close(self, close)


# (A Reuse answers every request on a kept connection: see `slot_setters`.)
_set_conn_id, _set_connection, _set_close = slot_setters(Reuse, "conn_id", "connection", "close")


class Open(Frozen):
    """A slot is reserved: open a connection, then call `opened` or `open_failed`."""

    __slots__ = ("close", "conn_id")
    conn_id: int
    close: tuple[int, ...]

    def __init__(self, conn_id: int, close: tuple[int, ...] = ()) -> None:
        set_field(self, "conn_id", conn_id)
        set_field(self, "close", close)


class Wait(Frozen):
    """No capacity: wait until ``ticket`` is woken, then `claim` it (or `cancel_wait`).

    ``recheck``, when set, is the time (on the clock of ``now``) at which a waiter that
    was granted nothing yet calls `cancel_wait` and checks out again: an idle connection
    of its origin that allowed no stream is due for another look then (see "Full
    connections"). `timeout` says how long to wait, given the request's deadline.
    """

    __slots__ = ("close", "recheck", "ticket")
    ticket: int
    close: tuple[int, ...]
    recheck: float | None

    def __init__(
        self, ticket: int, close: tuple[int, ...] = (), recheck: float | None = None
    ) -> None:
        set_field(self, "ticket", ticket)
        set_field(self, "close", close)
        set_field(self, "recheck", recheck)

    def timeout(self, deadline: float | None, now: float) -> tuple[float | None, bool]:
        """How long to wait for the grant (None: no limit), and whether to check out
        again (True) or give up with `PoolTimeout` (False) if that time passes first.

        ``deadline`` is when the request's pool timeout ends (None: never).
        """
        recheck = self.recheck
        if recheck is not None and (deadline is None or recheck < deadline):
            return max(recheck - now, 0.0), True
        if deadline is None:
            return None, False
        return max(deadline - now, 0.0), False


class PoolStatistics(Frozen, kw_only=True):
    """A snapshot of the pool's counts."""

    __slots__ = ("active", "connecting", "connections", "idle", "waiters")
    connections: int  # connecting + active + idle
    connecting: int  # slots reserved for a connection being opened
    active: int  # open connections with at least one request checked out
    idle: int  # open connections kept for reuse
    waiters: int  # checkouts waiting for capacity (granted ones excluded)

    def __init__(
        self, *, connections: int, connecting: int, active: int, idle: int, waiters: int
    ) -> None:
        set_field(self, "connections", connections)
        set_field(self, "connecting", connecting)
        set_field(self, "active", active)
        set_field(self, "idle", idle)
        set_field(self, "waiters", waiters)


def retry_safe(method: bytes, reused: bool, failure_phase: FailurePhase) -> bool:
    """May a failed request be sent again, once, on a fresh connection?

    Only when a *reused* connection failed before any byte of the response arrived
    (the peer closed or reset it while we wrote, or at the first read) and ``method``
    is idempotent; a POST or PATCH is never replayed. Ask only for a connection the
    peer closed or reset, not after a timeout (the server may be busy with the
    request), and only if the request body can be sent again.
    """
    return reused and failure_phase is not FailurePhase.RECEIVING and method in IDEMPOTENT_METHODS


class PooledConnection:
    """One connection of the pool as httpcore's ``ConnectionPool.connections`` shows it:
    a snapshot (a closed connection leaves the pool at once, so none shows as closed)."""

    __slots__ = ("_available", "_expired", "_http_version", "_origin", "_state")

    def __init__(
        self, origin: str, http_version: str | None, state: str, available: bool, expired: bool
    ) -> None:
        self._origin = origin
        self._http_version = http_version  # None while connecting
        self._state = state  # "CONNECTING", "IDLE" or "ACTIVE"
        self._available = available
        self._expired = expired

    def info(self) -> str:
        if self._http_version is None:
            return "CONNECTING"
        return f"{self._origin!r}, {self._http_version}, {self._state}"

    def is_idle(self) -> bool:
        return self._state == "IDLE"

    def is_available(self) -> bool:
        """It could start a request now."""
        return self._available

    def has_expired(self) -> bool:
        """Idle past ``keepalive_expiry``: the next checkout closes it."""
        return self._expired

    def is_closed(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<HTTPConnection [{self.info()}]>"


def _origin_text(host: Hashable) -> str:
    """A pool entry's host key as httpcore prints an origin (a proxy's key as it is)."""
    if type(host) is tuple and len(host) == 3:
        return "{}://{}:{}".format(*host)
    return str(host)


class _Entry:
    __slots__ = (
        "conn_id",
        "connection",
        "host",
        "idle_since",
        "origin",
        "probe",
        "recheck_at",
        "single",
        "streams",
    )

    def __init__(self, conn_id: int, origin: Hashable, host: Hashable) -> None:
        self.conn_id = conn_id
        self.origin = origin
        self.host = host  # what the per-host cap counts (see "A cap per host")
        self.connection: WireConnection | None = None  # None while connecting
        self.streams = 1  # checked out and not yet checked in, unclaimed grants included
        self.idle_since = 0.0
        self.probe = False  # connecting, and others of its origin wait to see its protocol
        self.single = False  # open and not multiplexed (counted in PoolMachine._single)
        # When an idle connection that allows no stream may be handed out for another
        # look: at once the first time, then once per full_recheck_interval.
        self.recheck_at = 0.0


class PoolMachine:
    """Connection pool policy: limits, keep-alive expiry, waiters, multiplexing.

    ``None`` for a limit means no limit; ``keepalive_expiry=None`` keeps idle
    connections until the server closes them. Not thread-safe: a threaded shell
    makes every call under one lock (each call is short and never blocks).
    """

    __slots__ = (
        "_connecting",
        "_entries",
        "_full",
        "_full_recheck",
        "_grants",
        "_idle",
        "_idle_all",
        "_keepalive_expiry",
        "_last_conn_id",
        "_last_ticket",
        "_max_connections",
        "_max_keepalive",
        "_max_per_host",
        "_per_host",
        "_probing",
        "_shared",
        "_single",
        "_to_close",
        "_waiters",
        "_wake",
    )

    retry_safe = staticmethod(retry_safe)

    def __init__(
        self,
        *,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections: int | None = DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY,
        full_recheck_interval: float = DEFAULT_FULL_RECHECK_INTERVAL,
        max_connections_per_host: int | None = None,
    ) -> None:
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be at least 1 or None, got {max_connections}")
        if max_keepalive_connections is not None and max_keepalive_connections < 0:
            raise ValueError(
                f"max_keepalive_connections must not be negative, got {max_keepalive_connections}"
            )
        if keepalive_expiry is not None and keepalive_expiry < 0:
            raise ValueError(f"keepalive_expiry must not be negative, got {keepalive_expiry}")
        if max_connections_per_host is not None and max_connections_per_host < 1:
            raise ValueError(
                "max_connections_per_host must be at least 1 or None, "
                f"got {max_connections_per_host}"
            )
        if not full_recheck_interval > 0:
            # Zero would hand a full connection out again at once: a busy loop.
            raise ValueError(f"full_recheck_interval must be positive, got {full_recheck_interval}")
        self._max_connections = max_connections
        self._max_keepalive = max_keepalive_connections
        self._keepalive_expiry = keepalive_expiry
        self._full_recheck = full_recheck_interval
        self._max_per_host = max_connections_per_host
        self._per_host: dict[Hashable, int] = {}  # connections per host (with a cap only)
        self._entries: dict[int, _Entry] = {}
        self._connecting = 0
        self._idle: dict[Hashable, dict[int, _Entry]] = {}  # per origin, most recent last
        self._idle_all: dict[int, _Entry] = {}  # oldest idle first
        # Per origin, multiplexed connections that allowed no stream when last checked
        # in: idle (also in _idle_all, never in _idle) or handed out for a look.
        self._full: dict[Hashable, dict[int, _Entry]] = {}
        self._shared: dict[Hashable, dict[int, _Entry]] = {}  # multiplexed, with room
        self._probing: set[Hashable] = set()  # origins with a probe connecting
        self._single: dict[Hashable, int] = {}  # open single-stream connections per origin
        # ticket -> (origin, fresh, multiplex, host)
        self._waiters: dict[int, tuple[Hashable, bool, bool, Hashable]] = {}
        # ticket -> what a woken waiter claims (None: nothing, check out again)
        self._grants: dict[int, Reuse | Open | None] = {}
        self._last_conn_id = 0
        self._last_ticket = 0
        self._to_close: list[int] = []
        self._wake: list[int] = []

    @property
    def max_connections(self) -> int | None:
        return self._max_connections

    @property
    def max_keepalive_connections(self) -> int | None:
        return self._max_keepalive

    @property
    def keepalive_expiry(self) -> float | None:
        return self._keepalive_expiry

    @property
    def full_recheck_interval(self) -> float:
        return self._full_recheck

    @property
    def max_connections_per_host(self) -> int | None:
        return self._max_per_host

    # -- the shell's calls --------------------------------------------------------

    def checkout(
        self,
        origin: Hashable,
        now: float,
        *,
        fresh: bool = False,
        multiplex: bool = False,
        host: Hashable = None,
    ) -> Reuse | Open | Wait:
        """Find a connection for one request to ``origin``.

        ``fresh=True`` skips open connections (for the one retry after a reused
        connection failed). ``multiplex=True`` says a new connection may turn out
        multiplexed (HTTP/2 offered): wait for one being opened rather than open
        another (see "Multiplexed connections"). Connections in ``close`` (expired
        or evicted idle ones) must be closed by the shell whatever the answer.

        A `Reuse` may name an idle connection that allowed no stream when last seen
        (see "Full connections"): if, once the shell has fed it what arrived, it still
        cannot start a request, the shell checks it in and checks out again.

        ``host`` is what ``max_connections_per_host`` counts (None: the origin itself).
        """
        if host is None:
            host = origin
        if self._keepalive_expiry is not None and self._idle_all:
            self._expire(now)
        found = self._assign(origin, fresh, multiplex, host, now)
        close = self._take_close() if self._to_close else ()
        if found is None:
            self._last_ticket += 1
            self._waiters[self._last_ticket] = (origin, fresh, multiplex, host)
            full = None if fresh else self._full.get(origin)
            if full:
                # The next look (an idle one is not due yet, or `_assign` would have
                # handed it out); one out for a look may find room: ask again later.
                interval = self._full_recheck
                recheck = min(
                    entry.recheck_at if entry.recheck_at > now else now + interval
                    for entry in full.values()
                )
                return Wait(self._last_ticket, close, recheck)
            return Wait(self._last_ticket, close)
        entry, reused = found
        if reused:
            assert entry.connection is not None
            return Reuse(entry.conn_id, entry.connection, close)
        return Open(entry.conn_id, close)

    def claim(self, ticket: int) -> Reuse | Open | None:
        """Take what was granted to a woken waiter; ``None`` if it is still waiting, or if
        it was woken with nothing (then it checks out again, see "Full connections")."""
        grants = self._grants
        if ticket in grants:
            return grants.pop(ticket)
        if ticket not in self._waiters:
            raise ValueError(f"ticket {ticket} is not waiting (claimed, cancelled or unknown)")
        return None

    def cancel_wait(self, ticket: int, now: float) -> Changes:
        """A waiter gives up (cancelled, timed out). A grant it held passes to the
        next waiter. Safe to call for a ticket already claimed: nothing happens."""
        if self._waiters.pop(ticket, None) is not None:
            return NO_CHANGES
        grant = self._grants.pop(ticket, None)
        if grant is None:
            return NO_CHANGES
        if isinstance(grant, Reuse):
            return self.checkin(grant.conn_id, now)
        self._forget(self._entries[grant.conn_id])
        return self._settle()

    def opened(self, conn_id: int, connection: WireConnection, now: float) -> Changes:
        """The connection for an `Open` is up; the request that opened it holds it."""
        entry = self._entry(conn_id)
        if entry.connection is not None:
            raise RuntimeError(f"connection {conn_id} was already opened")
        entry.connection = connection
        self._connecting -= 1
        if entry.probe:
            entry.probe = False
            self._probing.discard(entry.origin)
        if connection.max_streams > 1:
            self._share(entry)
        else:
            entry.single = True
            self._single[entry.origin] = self._single.get(entry.origin, 0) + 1
        return self._settle()

    def open_failed(self, conn_id: int) -> Changes:
        """Opening failed or was cancelled: the slot is free again."""
        entry = self._entry(conn_id)
        if entry.connection is not None:
            raise RuntimeError(f"connection {conn_id} is open; check it in instead")
        self._forget(entry)
        return self._settle()

    def checkin(self, conn_id: int, now: float) -> Changes:
        """A request is done with the connection (its stream was released).

        A reusable idle connection is kept for reuse; any other connection that no
        request holds any more is returned for closing.
        """
        entry = self._entry(conn_id)
        connection = entry.connection
        if connection is None:
            raise RuntimeError(f"connection {conn_id} is still connecting; use open_failed")
        if entry.streams == 0:
            raise RuntimeError(f"connection {conn_id} is not checked out")
        entry.streams -= 1
        if self._keepalive_expiry is not None and self._idle_all:
            self._expire(now)
        if entry.streams:
            # A multiplexed connection still in use by other requests.
            if connection.is_reusable:
                self._share(entry)
            else:
                self._unshare(entry)
        elif connection.is_reusable and connection.is_idle:
            if self._shared:  # (none at all: HTTP/1.1 only, the usual case)
                self._unshare(entry)
            entry.idle_since = now
            self._idle_all[conn_id] = entry
            if connection.can_start_request:
                self._idle.setdefault(entry.origin, {})[conn_id] = entry
                if self._full:
                    self._unfull(entry)
            else:
                # Idle, but the server allows no stream now (see "Full connections").
                full = self._full.setdefault(entry.origin, {})
                if conn_id not in full:
                    full[conn_id] = entry
                    return self._settle(entry.origin)
        else:
            self._forget(entry)
            self._to_close.append(conn_id)
        return self._settle()

    def expire(self, now: float) -> Changes:
        """Close idle connections older than ``keepalive_expiry`` (for a periodic sweep)."""
        if self._keepalive_expiry is not None and self._idle_all:
            self._expire(now)
        return self._settle()

    def statistics(self) -> PoolStatistics:
        total = len(self._entries)
        idle = len(self._idle_all)
        return PoolStatistics(
            connections=total,
            connecting=self._connecting,
            active=total - idle - self._connecting,
            idle=idle,
            waiters=len(self._waiters),
        )

    def connections(self, now: float) -> list[PooledConnection]:
        """A snapshot of every connection, connecting, active or idle (oldest first)."""
        expiry = self._keepalive_expiry
        idle_all = self._idle_all
        found = []
        for entry in self._entries.values():
            origin = _origin_text(entry.host)
            wire = entry.connection
            if wire is None:
                found.append(PooledConnection(origin, None, "CONNECTING", False, False))
                continue
            idle = entry.conn_id in idle_all
            expired = idle and expiry is not None and now >= entry.idle_since + expiry
            version = "HTTP/2" if wire.max_streams > 1 else "HTTP/1.1"
            state = "IDLE" if idle else "ACTIVE"
            found.append(PooledConnection(origin, version, state, wire.can_start_request, expired))
        return found

    # -- internals ----------------------------------------------------------------

    def _entry(self, conn_id: int) -> _Entry:
        try:
            return self._entries[conn_id]
        except KeyError:
            raise ValueError(f"unknown connection id {conn_id}") from None

    def _assign(
        self,
        origin: Hashable,
        fresh: bool,
        multiplex: bool,
        host: Hashable,
        now: float | None = None,
    ) -> tuple[_Entry, bool] | None:
        """Reserve a connection (reused: True) or a slot (False) for ``origin``; None to
        wait (for a slot, or for the origin's probe). With ``now``, an idle connection
        that allowed no stream is handed out again once its recheck is due."""
        if not fresh:
            shared = self._shared.get(origin)
            while shared:
                entry = next(iter(shared.values()))
                connection = entry.connection
                assert connection is not None
                if connection.can_start_request and entry.streams < connection.max_streams:
                    entry.streams += 1
                    self._share(entry)  # drops it from the shared set once it is full
                    return entry, True
                self._unshare(entry)  # the machine filled up or is closing meanwhile
            idle = self._idle.get(origin)
            while idle:
                conn_id, entry = idle.popitem()
                del self._idle_all[conn_id]
                if not idle:
                    del self._idle[origin]
                connection = entry.connection
                assert connection is not None
                if not connection.is_reusable:
                    self._forget(entry)
                    self._to_close.append(conn_id)
                    continue
                entry.streams = 1
                if connection.max_streams > 1:
                    self._share(entry)
                return entry, True
            full = self._full.get(origin)
            if full and now is not None:
                for entry in full.values():
                    if not entry.streams and now >= entry.recheck_at:
                        # Time for another look: the shell feeds it what arrived (a
                        # SETTINGS frame lifting the limit?), checks it in if still full.
                        self._drop_idle(entry)
                        entry.streams = 1
                        entry.recheck_at = now + self._full_recheck
                        return entry, True
            if multiplex and origin in self._probing:
                return None  # its protocol is known soon: perhaps a connection to share
        # Full, but an idle connection to another origin (or, for a fresh connection,
        # to this one) can make room: close the oldest. Left here for a non-fresh
        # checkout are only its origin's full ones: never those. Over the host's cap,
        # only one of the host's can (and it frees a slot of the pool's too).
        host_full = self._max_per_host is not None and self._host_full(host)
        if host_full or (
            self._max_connections is not None and len(self._entries) >= self._max_connections
        ):
            for oldest in self._idle_all.values():
                if (fresh or oldest.origin != origin) and (not host_full or oldest.host == host):
                    break
            else:
                return None
            self._forget(oldest)
            self._to_close.append(oldest.conn_id)
        self._last_conn_id += 1
        entry = _Entry(self._last_conn_id, origin, host)
        self._entries[entry.conn_id] = entry
        if self._max_per_host is not None:
            self._per_host[host] = self._per_host.get(host, 0) + 1
        self._connecting += 1
        if multiplex and not fresh and origin not in self._single:
            entry.probe = True
            self._probing.add(origin)
        return entry, False

    def _host_full(self, host: Hashable) -> bool:
        cap = self._max_per_host
        return cap is not None and self._per_host.get(host, 0) >= cap

    def _share(self, entry: _Entry) -> None:
        """Offer a multiplexed connection to more requests if it has room, or stop."""
        connection = entry.connection
        assert connection is not None
        if connection.can_start_request and entry.streams < connection.max_streams:
            self._shared.setdefault(entry.origin, {})[entry.conn_id] = entry
        else:
            self._unshare(entry)

    def _unshare(self, entry: _Entry) -> None:
        shared = self._shared.get(entry.origin)
        if shared is not None and shared.pop(entry.conn_id, None) is not None and not shared:
            del self._shared[entry.origin]

    def _forget(self, entry: _Entry) -> None:
        """Drop a connection from every index (the caller closes it, if it is open)."""
        conn_id = entry.conn_id
        del self._entries[conn_id]
        if self._max_per_host is not None:
            host = entry.host
            left = self._per_host[host] - 1
            if left:
                self._per_host[host] = left
            else:
                del self._per_host[host]
        if entry.connection is None:
            self._connecting -= 1
            if entry.probe:
                self._probing.discard(entry.origin)
            return
        if entry.single:
            origin = entry.origin
            left = self._single[origin] - 1
            if left:
                self._single[origin] = left
            else:
                del self._single[origin]
        if conn_id in self._idle_all:
            self._drop_idle(entry)
        else:
            self._unshare(entry)
        if self._full:
            self._unfull(entry)

    def _drop_idle(self, entry: _Entry) -> None:
        """Take an idle connection out of the idle indexes (not out of ``_full``)."""
        conn_id = entry.conn_id
        del self._idle_all[conn_id]
        idle = self._idle.get(entry.origin)
        if idle is not None and idle.pop(conn_id, None) is not None and not idle:
            del self._idle[entry.origin]

    def _unfull(self, entry: _Entry) -> None:
        full = self._full.get(entry.origin)
        if full is not None and full.pop(entry.conn_id, None) is not None and not full:
            del self._full[entry.origin]

    def _expire(self, now: float) -> None:
        expiry = self._keepalive_expiry
        assert expiry is not None
        idle_all = self._idle_all
        while idle_all:
            oldest = next(iter(idle_all.values()))
            if now < oldest.idle_since + expiry:
                break
            self._forget(oldest)
            self._to_close.append(oldest.conn_id)

    def _settle(self, turned_full: Hashable | None = None) -> Changes:
        """Grant what is free to waiters, trim idle connections, report the changes.

        ``turned_full`` is the origin of a connection that just turned idle and full: its
        waiters are woken with nothing, to check out again (and take turns looking)."""
        waiters = self._waiters
        if waiters:
            served = []
            for ticket, (origin, fresh, multiplex, host) in waiters.items():
                found = self._assign(origin, fresh, multiplex, host)
                if found is None:
                    if multiplex and not fresh and origin in self._probing:
                        continue  # waits for its origin's probe, not for a slot
                    if self._idle_all:
                        # Only its origin's full idle connections are left, which another
                        # origin's waiter may evict: it waits for a recheck, not a slot.
                        continue
                    if self._host_full(host):
                        continue  # waits for its host, not for a slot
                    break
                served.append(ticket)
                self._grant(ticket, found)
            for ticket in served:
                del waiters[ticket]
            if turned_full is not None:
                self._nudge(turned_full)
        if waiters and self._shared:
            self._serve_shared()
        if self._max_keepalive is not None:
            idle_all = self._idle_all
            while len(idle_all) > self._max_keepalive:
                oldest = next(iter(idle_all.values()))
                self._forget(oldest)
                self._to_close.append(oldest.conn_id)
        if not (self._to_close or self._wake):
            return NO_CHANGES
        changes = Changes(tuple(self._to_close), tuple(self._wake))
        self._to_close.clear()
        self._wake.clear()
        return changes

    def _nudge(self, origin: Hashable) -> None:
        # They may have waited with no recheck time (the connection was in use then).
        for ticket, (waiting_for, fresh, _, _) in list(self._waiters.items()):
            if not fresh and waiting_for == origin:
                del self._waiters[ticket]
                self._grants[ticket] = None
                self._wake.append(ticket)

    def _serve_shared(self) -> None:
        """Give waiters behind the queue's head a stream on a shared connection of their
        origin (the head itself may be waiting for a slot for another origin)."""
        for ticket, (origin, fresh, _, host) in list(self._waiters.items()):
            if (
                not fresh
                and origin in self._shared
                and (found := self._assign(origin, fresh, False, host))
            ):
                del self._waiters[ticket]
                self._grant(ticket, found)

    def _grant(self, ticket: int, found: tuple[_Entry, bool]) -> None:
        entry, reused = found
        if reused:
            assert entry.connection is not None
            self._grants[ticket] = Reuse(entry.conn_id, entry.connection)
        else:
            self._grants[ticket] = Open(entry.conn_id)
        self._wake.append(ticket)

    def _take_close(self) -> tuple[int, ...]:
        close = tuple(self._to_close)
        self._to_close.clear()
        return close
