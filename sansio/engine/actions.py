"""What an `Exchange` asks of the loop that drives it: one vocabulary of frozen actions.

An interpreter (a shell's transport, an embedder's event loop, `sansio.testing`) takes
an action from `Exchange.send` or `Exchange.throw`, performs it, and hands back its
result (or throws in the conch exception it raised). The result each action expects:

================  ================================================================
action            result
================  ================================================================
`Resolve`         the addresses of ``host``, in the resolver's order: socket addresses
                  as ``getaddrinfo`` gives them (tuples, the IP address text first)
`Connect`         the interpreter's stream object for a new connection
`StartTLS`        ``(stream, alpn)``: the TLS stream that replaces ``stream`` and the
                  protocol the server chose through ALPN (None if it chose none)
`Write`           None, once every byte of ``data`` is written
`Read`            bytes read (at most `RECEIVE_SIZE`); ``b""`` at end of stream
`ReadReady`       what is there *now*, without waiting: bytes, ``b""`` at end of
                  stream, or None when nothing (TLS housekeeping counts as nothing)
`Checkpoint`      None: a place where a pending cancellation may land
`PullBody`        the next chunk of the request body, or None at its end (``first``:
                  start the body over, from a fresh iterator)
`Park`            True when ``ticket`` was woken, False when ``timeout`` passed
`Sleep`           None, after ``seconds``
`Effects`         None: close each stream in ``close`` and wake each ticket in
                  ``wake``; never blocks, never fails
`Trace`           None, once ``callback(name, info)`` was called (awaited, in async)
                  if there is one and the event logged if ``log``
                  (`sansio.engine.trace.log_event`); only with a ``trace`` extension
                  or DEBUG logging (see `sansio.engine.trace`)
================  ================================================================

Body events are handed out, not performed: the wire machine's `ResponseHead`,
`BodyChunk` and `EndOfBody` (the interpreter returns them to its caller).

Streams and tickets are the interpreter's own objects, opaque to the engine: a stream
is whatever `Connect` returned, a ticket whatever the engine's ``new_ticket`` factory
made (a `threading.Event`, an event of the async library, or `Ticket` in a loop that
runs every exchange itself). ``timeout`` is in seconds, None for no limit.
``shared`` marks I/O on a connection that other exchanges use at the same time
(HTTP/2): a backend that cannot read in one thread while another writes (a blocking
ssl socket) must serialise its calls then; the others may ignore it.

Actions are small frozen values, compared by value. `Read`, `ReadReady` and the
constants below are built once and reused, so the common exchange allocates little.
"""

from __future__ import annotations

from sansio._frozen import Frozen, set_field, slot_setters
from sansio._typing_lite import Any, TypeAlias
from sansio.tls import TLSConfig
from sansio.wire import BodyChunk, EndOfBody, ResponseHead

__all__ = [
    "CHECKPOINT",
    "END",
    "NO_EFFECTS",
    "PULL_FIRST",
    "PULL_NEXT",
    "Action",
    "BodyChunk",
    "BodyEvent",
    "Checkpoint",
    "Connect",
    "Effects",
    "EndOfBody",
    "IOAction",
    "Park",
    "PullBody",
    "Read",
    "ReadReady",
    "Resolve",
    "ResponseHead",
    "Sleep",
    "StartTLS",
    "Ticket",
    "Trace",
    "Write",
]


class Resolve(Frozen):
    """Look up the addresses of the host name ``host`` for ``port`` (both families)."""

    __slots__ = ("host", "port", "timeout")
    host: str
    port: int
    timeout: float | None

    def __init__(self, host: str, port: int, timeout: float | None) -> None:
        set_field(self, "host", host)
        set_field(self, "port", port)
        set_field(self, "timeout", timeout)


class Connect(Frozen):
    """Open a connection to ``host:port`` (or to the Unix socket ``uds`` when set)."""

    __slots__ = ("host", "port", "timeout", "uds")
    host: str
    port: int
    uds: str | None
    timeout: float | None

    def __init__(self, host: str, port: int, uds: str | None, timeout: float | None) -> None:
        set_field(self, "host", host)
        set_field(self, "port", port)
        set_field(self, "uds", uds)
        set_field(self, "timeout", timeout)


class StartTLS(Frozen):
    """Run a TLS handshake over ``stream`` as ``tls`` says (SNI: ``tls.server_hostname``)."""

    __slots__ = ("stream", "timeout", "tls")
    stream: Any
    tls: TLSConfig
    timeout: float | None

    def __init__(self, stream: Any, tls: TLSConfig, timeout: float | None) -> None:
        set_field(self, "stream", stream)
        set_field(self, "tls", tls)
        set_field(self, "timeout", timeout)


class Write(Frozen):
    """Write all of ``data``."""

    __slots__ = ("data", "shared", "stream", "timeout")
    stream: Any
    data: bytes
    timeout: float | None
    shared: bool

    def __init__(
        self, stream: Any, data: bytes, timeout: float | None, shared: bool = False
    ) -> None:
        _set_write_stream(self, stream)
        _set_write_data(self, data)
        _set_write_timeout(self, timeout)
        _set_write_shared(self, shared)


# (A Write is made for every request: see `slot_setters`.)
_set_write_stream, _set_write_data, _set_write_timeout, _set_write_shared = slot_setters(
    Write, "stream", "data", "timeout", "shared"
)


class Read(Frozen):
    """Read some bytes, waiting at most ``timeout`` for the first one."""

    __slots__ = ("shared", "stream", "timeout")
    stream: Any
    timeout: float | None
    shared: bool

    def __init__(self, stream: Any, timeout: float | None, shared: bool = False) -> None:
        set_field(self, "stream", stream)
        set_field(self, "timeout", timeout)
        set_field(self, "shared", shared)


class ReadReady(Frozen):
    """Read what has arrived already, without waiting (see the table above)."""

    __slots__ = ("shared", "stream")
    stream: Any
    shared: bool

    def __init__(self, stream: Any, shared: bool = False) -> None:
        set_field(self, "stream", stream)
        set_field(self, "shared", shared)


class Checkpoint(Frozen):
    """Let a pending cancellation land here: nothing has been taken from a shared
    connection yet. An interpreter without cancellation (threads) does nothing."""

    __slots__ = ()


class PullBody(Frozen):
    """Hand over the next request body chunk (``first``: from a fresh iterator)."""

    __slots__ = ("first",)
    first: bool

    def __init__(self, first: bool) -> None:
        set_field(self, "first", first)


class Park(Frozen):
    """Wait until ``ticket`` is woken by some `Effects`, or ``timeout`` passes."""

    __slots__ = ("ticket", "timeout")
    ticket: Any
    timeout: float | None

    def __init__(self, ticket: Any, timeout: float | None) -> None:
        set_field(self, "ticket", ticket)
        set_field(self, "timeout", timeout)


class Sleep(Frozen):
    """Wait ``seconds`` (a connect back-off)."""

    __slots__ = ("seconds",)
    seconds: float

    def __init__(self, seconds: float) -> None:
        set_field(self, "seconds", seconds)


class Effects(Frozen):
    """Close these streams and wake these tickets, now; never blocks, never fails."""

    __slots__ = ("close", "wake")
    close: tuple[Any, ...]
    wake: tuple[Any, ...]

    def __init__(self, close: tuple[Any, ...] = (), wake: tuple[Any, ...] = ()) -> None:
        set_field(self, "close", close)
        set_field(self, "wake", wake)


class Trace(Frozen):
    """Call ``callback(name, info)`` if there is one (await it in async) and log the
    event if ``log``: httpcore's trace events (see `sansio.engine.trace`)."""

    __slots__ = ("callback", "info", "log", "name")
    callback: Any
    log: bool
    name: str
    info: dict[str, Any]

    # Compared and hashed by identity (``info`` is a dict), as its ``eq=False`` dataclass was.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, callback: Any, log: bool, name: str, info: dict[str, Any]) -> None:
        set_field(self, "callback", callback)
        set_field(self, "log", log)
        set_field(self, "name", name)
        set_field(self, "info", info)


class Ticket:
    """The default ticket: a flag that `Effects` sets, for loops that run every
    exchange themselves (a parked exchange is runnable again once ``woken``)."""

    __slots__ = ("woken",)

    def __init__(self) -> None:
        self.woken = False

    def set(self) -> None:
        self.woken = True


CHECKPOINT = Checkpoint()
PULL_FIRST = PullBody(first=True)
PULL_NEXT = PullBody(first=False)
NO_EFFECTS = Effects()
END = EndOfBody([])  # what a closed or finished exchange answers

IOAction: TypeAlias = (
    Resolve
    | Connect
    | StartTLS
    | Write
    | Read
    | ReadReady
    | Checkpoint
    | PullBody
    | Park
    | Sleep
    | Effects
    | Trace
)
BodyEvent: TypeAlias = ResponseHead | BodyChunk | EndOfBody
Action: TypeAlias = IOAction | BodyEvent
