"""Exchanges without sockets: a virtual clock, in-memory peers, the reference interpreter.

For embedders and testers who want to run the core deterministically::

    clock = VirtualClock()
    network = MemoryNetwork(clock)
    network.listen("example.org", 80, http1_peer(lambda request: (200, [], b"hello")))
    loop = Loop(network)
    transport = MemoryTransport(loop)        # an httpx-style async transport
    response = loop.run(transport.handle_async_request(Request("GET", "http://example.org/")))

`Loop` is the reference interpreter of `sansio.engine`: it performs every action over
`MemoryConnection`s and runs any number of coroutines at once (`Loop.gather`), each of
them driving exchanges. Time is virtual: it moves only when every coroutine waits, and
then straight to the next thing that can happen (a peer's pause ending, a timeout), so a
30-second timeout costs nothing and every run is the same.

A peer is a *program*: a generator that yields what it wants done (`READ`, `Emit`,
`Delay`, `CLOSE`, `HOLD`, `STALL`, `RESET`) and is sent what it read (``b""`` at EOF).
`http1_peer` and `http2_peer` build programs that answer every request with a handler
(h11 and h2 in the server role check every byte the client sends); the conformance
suite runs its scripted peers through the same `MemoryConnection`. Names resolve as
`MemoryNetwork.add_name` says (a `Resolve` action; an IP address resolves to itself).

`Recorder`, `Recording` and `ReplayError` (from `sansio.replay`) record any client's
connections and replay them with no network: ``record=`` and ``replay=`` of every
transport, `MemoryTransport` included.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import h11

from .engine import (
    Checkpoint,
    Connect,
    Effects,
    Engine,
    Exchange,
    Park,
    Read,
    ReadReady,
    Resolve,
    Sleep,
    StartTLS,
    Trace,
    Write,
)
from .engine.actions import Action, BodyEvent
from .engine.drive import HANDLED, AsyncHandlers, adrive, arespond
from .engine.trace import log_event
from .exceptions import ConnectError, ReadError, ReadTimeout, WriteError, WriteTimeout
from .models import Request, Response
from .replay import Recorder, Recording, ReplayError
from .transports import AsyncBaseTransport

__all__ = [
    "CLOSE",
    "HOLD",
    "READ",
    "RESET",
    "STALL",
    "STALL_BUFFER",
    "Deadlock",
    "Delay",
    "Emit",
    "Handler",
    "Loop",
    "MemoryConnection",
    "MemoryNetwork",
    "MemoryTransport",
    "PeerOp",
    "Program",
    "Recorder",
    "Recording",
    "ReplayError",
    "VirtualClock",
    "http1_peer",
    "http2_peer",
]

T = TypeVar("T")

# What a stalled peer takes in before the client's writes block: about what loopback
# sockets buffer by default on Linux (both sides' buffers together).
STALL_BUFFER = 4 * 1024 * 1024


class VirtualClock:
    """Seconds that pass only when told to (`Loop` moves it when every task waits)."""

    __slots__ = ("now",)

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Deadlock(Exception):
    """Every task waits with no timeout, and no peer will ever do anything."""


# -- peers as programs ---------------------------------------------------------------------


class _Op(enum.Enum):
    READ = "read"  # read some bytes; the reply is sent in (b"" at EOF)
    CLOSE = "close"  # half-close, discard input until the client closes (the program ends)
    HOLD = "hold"  # send nothing, discard input until the client closes (the program ends)
    STALL = "stall"  # read nothing, send nothing, ever (the program ends)
    RESET = "reset"  # abort the connection (the program ends)


READ = _Op.READ
CLOSE = _Op.CLOSE
HOLD = _Op.HOLD
STALL = _Op.STALL
RESET = _Op.RESET


@dataclass(frozen=True, slots=True)
class Emit:
    """Send ``data`` to the client (``gap``: more pieces of one message follow, a hint
    for socket executors that pause between them)."""

    data: bytes
    gap: bool = False


@dataclass(frozen=True, slots=True)
class Delay:
    """Stay silent for ``seconds`` of virtual time."""

    seconds: float


PeerOp = _Op | Emit | Delay
Program = Generator[PeerOp, bytes, None]


class _Marker(enum.Enum):
    EOF = "eof"
    RST = "rst"


class MemoryConnection:
    """One connection to a peer program; the client's end of it, never blocking.

    `read` returns what the peer sent (None: nothing yet); `write` hands bytes over (False:
    the peer stopped reading and its buffer is full). A reset makes both raise
    `ConnectionResetError`, and `close` (the client's) `ConnectionAbortedError`.
    `wake_time` is when the peer will act by itself.
    """

    __slots__ = (
        "_at_read",
        "_clock",
        "_in",
        "_out",
        "_program",
        "_stalled",
        "_until",
        "alpn",
        "client_closed",
        "reset",
    )

    def __init__(self, program: Program, clock: VirtualClock, alpn: str | None = None) -> None:
        self._program: Program | None = program
        self._clock = clock
        self._in = b""  # client bytes the program has not read yet
        self._out: deque[bytes | _Marker] = deque()
        self._at_read = False  # the program is suspended in READ
        self._until = 0.0  # the peer is silent until then (inf: for good)
        self._stalled = -1  # bytes taken in while stalled; -1: not stalled
        self.alpn = alpn  # what the peer chooses if TLS offers it (see `Loop`)
        self.client_closed = False
        self.reset = False
        self._pump()

    def _pump(self) -> None:
        """Run the program until it waits for bytes that are not there, sleeps or ends."""
        program = self._program
        if program is None or self._until > self._clock.now:
            return
        self._until = 0.0
        try:
            if self._at_read:  # only ever pumped then with input, or at the client's close
                self._at_read = False
                data, self._in = self._in, b""
                op = program.send(data)
            else:
                op = next(program)
            while True:
                if op is READ:
                    if not (self._in or self.client_closed):
                        self._at_read = True
                        return
                    data, self._in = self._in, b""
                    op = program.send(data)
                    continue
                if type(op) is Emit:
                    self._out.append(op.data)
                elif type(op) is Delay:
                    self._until = self._clock.now + op.seconds
                    return
                else:
                    assert isinstance(op, _Op)
                    self._end(op)
                    return
                op = next(program)
        except StopIteration:
            self._end(CLOSE)

    def _end(self, op: _Op) -> None:
        self._program = None
        self._in = b""
        if op is RESET:
            self.reset = True
            self._out.append(_Marker.RST)
        elif op is CLOSE:
            self._out.append(_Marker.EOF)
        else:
            self._until = float("inf")
            if op is STALL:
                self._stalled = 0

    def wake_time(self) -> float | None:
        """When the peer acts by itself next (its pause ends); None: only on input."""
        until = self._until
        if self._program is None or not until or until == float("inf"):
            return None
        return until

    def tick(self) -> None:
        """Time has passed: a pause that ended lets the program go on."""
        if self._until and self._until <= self._clock.now:
            self._pump()

    @property
    def readable(self) -> bool:
        """Bytes, EOF or a reset wait to be read (or the client closed its end)."""
        return bool(self._out) or self.client_closed

    def read(self) -> bytes | None:
        """What the peer sent, one piece; ``b""`` at EOF; None if nothing yet."""
        if self.client_closed:
            raise ConnectionAbortedError("the connection was closed")
        out = self._out
        if not out:
            return None
        item = out[0]
        if item is _Marker.EOF:
            return b""
        if item is _Marker.RST:
            raise ConnectionResetError("connection reset by peer")
        out.popleft()
        assert isinstance(item, bytes)
        return item

    def write(self, data: bytes) -> bool:
        """Hand ``data`` over; False if a stalled peer's buffer is full (it never empties)."""
        if self.client_closed:
            raise ConnectionAbortedError("the connection was closed")
        if self.reset:
            raise ConnectionResetError("connection reset by peer")
        if self._stalled >= 0:
            if self._stalled + len(data) > STALL_BUFFER:
                return False
            self._stalled += len(data)
            return True
        if self._program is not None and data:  # once it has ended, what comes is discarded
            self._in += data
            self._pump()
        return True

    def close(self) -> None:
        if self.client_closed:
            return
        self.client_closed = True
        self._pump()
        if self._program is not None:
            # Still pausing: its client has gone, so nothing more can be read.
            self._program.close()
            self._program = None


class MemoryNetwork:
    """Peers listening at ``(host, port)`` addresses (or Unix socket paths)."""

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self.connections: list[MemoryConnection] = []
        self._listeners: dict[tuple[str, int] | str, tuple[Callable[[], Program], str | None]] = {}
        self._names: dict[str, tuple[str, ...]] = {}

    def listen(
        self,
        host: str,
        port: int,
        accept: Callable[[], Program],
        *,
        alpn: str | None = None,
    ) -> None:
        """Serve ``host:port`` (``port`` 0: the Unix socket path ``host``): each
        connection runs ``accept()``'s program; over TLS the peer chooses ``alpn`` when
        the client offers it."""
        self._listeners[host if port == 0 else (host, port)] = (accept, alpn)

    def add_name(self, host: str, *addresses: str) -> None:
        """Make the name ``host`` resolve to ``addresses`` (IP address texts, in order)."""
        self._names[host] = addresses

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """The socket addresses of ``host`` as ``getaddrinfo`` gives them; an address
        resolves to itself, an unknown name is a `ConnectError`."""
        addresses = self._names.get(host)
        if addresses is None:
            if not _is_ip(host):
                raise ConnectError(f"[Errno -2] Name or service not known: {host!r}")
            addresses = (host,)
        return [(address, port) for address in addresses]

    def connect(self, host: str, port: int, uds: str | None = None) -> MemoryConnection:
        listener = self._listeners.get(uds if uds is not None else (host, port))
        if listener is None:
            raise ConnectError("[Errno 111] Connection refused")
        accept, alpn = listener
        connection = MemoryConnection(accept(), self.clock, alpn)
        self.connections.append(connection)
        return connection

    def wake_time(self) -> float | None:
        times = [t for c in self.connections if (t := c.wake_time()) is not None]
        return min(times) if times else None

    def tick(self) -> None:
        for connection in self.connections:
            connection.tick()


# -- the reference interpreter -------------------------------------------------------------


class _Block:
    """What a task awaits: resumed with True once ``ready()``, False at ``deadline``.
    ``joining``: it waits for other tasks only (a `Loop.gather`)."""

    __slots__ = ("deadline", "joining", "ready")

    def __init__(
        self, ready: Callable[[], bool], deadline: float | None, joining: bool = False
    ) -> None:
        self.ready = ready
        self.deadline = deadline
        self.joining = joining

    def __await__(self) -> Generator[_Block, bool, bool]:
        return (yield self)


def _never() -> bool:
    return False


def _always() -> bool:
    return True


class _Task:
    __slots__ = ("block", "coro", "done", "error", "result")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.block: _Block | None = None
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class Loop:
    """Runs coroutines on the network's virtual clock and interprets engine actions
    over memory connections: the reference interpreter (see the module docs)."""

    def __init__(self, network: MemoryNetwork) -> None:
        self.network = network
        self.clock = network.clock
        self._tasks: list[_Task] = []
        # The I/O of each action; the loop around them is the core's (`sansio.engine.drive`).
        self._io: AsyncHandlers = {
            Read: self._read, Write: self._write, ReadReady: self._read_ready,
            Effects: self._apply, Park: self._park, Checkpoint: self._checkpoint,
            Sleep: self._sleep, Trace: self._trace, Connect: self._connect,
            Resolve: self._resolve, StartTLS: self._start_tls,
        }  # fmt: skip

    # -- running coroutines -----------------------------------------------------------

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` (and whatever it starts) to its end; its result or error."""
        task = _Task(main)
        self._tasks.append(task)
        while not task.done:
            self._step()
        if task.error is not None:
            raise task.error
        return task.result  # type: ignore[no-any-return]

    async def gather(self, *coros: Coroutine[Any, Any, T]) -> list[T]:
        """Run ``coros`` at once; their results in order (the first error, once all ended)."""
        tasks = [_Task(coro) for coro in coros]
        self._tasks += tasks
        await _Block(lambda: all(t.done for t in tasks), None, joining=True)
        for task in tasks:
            if task.error is not None:
                raise task.error
        return [task.result for task in tasks]

    async def sleep(self, seconds: float) -> None:
        await _Block(_never, self.clock.now + seconds)

    def _step(self) -> None:
        """Resume every task that can go on; if none can, move the clock on."""
        progressed = False
        for task in list(self._tasks):
            block = task.block
            if block is None:
                self._resume(task, None)
                progressed = True
            elif block.ready():
                self._resume(task, True)
                progressed = True
        if progressed:
            return
        now = self.clock.now
        times = [t.block.deadline for t in self._tasks if t.block and t.block.deadline is not None]
        wake = self.network.wake_time()
        if wake is not None:
            times.append(wake)
        if not times:
            # Nothing will ever happen: each task waiting for something else than other
            # tasks gets the error instead.
            for task in list(self._tasks):
                assert task.block is not None  # none could go on
                if not task.block.joining:
                    self._resume(task, None, Deadlock("every task waits, and no peer will act"))
            return
        self.clock.now = max(now, min(times))
        self.network.tick()
        for task in list(self._tasks):
            block = task.block
            if (
                block is not None
                and block.deadline is not None
                and block.deadline <= self.clock.now
            ):
                self._resume(task, block.ready())

    def _resume(self, task: _Task, value: bool | None, error: Exception | None = None) -> None:
        try:
            block = task.coro.send(value) if error is None else task.coro.throw(error)
        except StopIteration as done:
            task.done, task.result = True, done.value
        except BaseException as exc:
            task.done, task.error = True, exc
        else:
            if not isinstance(block, _Block):
                # Something of another event loop (asyncio.sleep, a trio primitive) would
                # leave the task asleep for ever: it fails with the reason instead.
                problem = RuntimeError(f"a task of the Loop awaited {block!r}, not the Loop")
                self._resume(task, None, problem)
                return
            task.block = block
            return
        task.block = None
        self._tasks.remove(task)

    # -- interpreting an exchange -----------------------------------------------------

    async def drive(self, ex: Exchange, act: Action, request: Request | None = None) -> BodyEvent:
        """Perform ``act`` and what follows until the exchange hands out a body event."""
        return await adrive(ex, act, self.handlers, None if request is None else request.stream)

    async def perform(self, act: Action) -> Any:
        """One I/O action over memory connections, as a shell backend would."""
        return await self._io[type(act)](act)

    @property
    def handlers(self) -> AsyncHandlers:
        """The table `sansio.engine.drive` takes: every action through `perform` (a
        subclass may override it to watch or cancel actions)."""
        return dict.fromkeys(HANDLED, self.perform)

    async def _read_ready(self, act: ReadReady) -> bytes | None:
        await _Block(_always, None)  # a backend's read is a checkpoint even so
        stream: MemoryConnection = act.stream
        return _io(stream.read, ReadError)

    async def _apply(self, effects: Effects) -> None:
        self.apply(effects)

    async def _park(self, act: Park) -> bool:
        ticket = act.ticket
        return await _Block(lambda: bool(ticket.woken), self._deadline(act.timeout))

    @staticmethod
    async def _checkpoint(act: Checkpoint) -> None:
        await _Block(_always, None)  # let the others run

    async def _sleep(self, act: Sleep) -> None:
        await self.sleep(act.seconds)

    @staticmethod
    async def _trace(
        act: Trace,
    ) -> None:  # the callback is a coroutine function, as for async shells
        if act.callback is not None:
            await act.callback(act.name, act.info)
        if act.log:
            log_event(act.name, act.info)

    async def _connect(self, act: Connect) -> MemoryConnection:
        await _Block(_always, None)  # connecting lets the others run meanwhile
        return self.network.connect(act.host, act.port, act.uds)

    async def _resolve(self, act: Resolve) -> list[tuple[str, int]]:
        await _Block(_always, None)
        return self.network.resolve(act.host, act.port)

    @staticmethod
    async def _start_tls(act: StartTLS) -> tuple[MemoryConnection, str | None]:
        await _Block(_always, None)
        stream: MemoryConnection = act.stream
        return stream, (stream.alpn if stream.alpn in act.tls.alpn else None)

    @staticmethod
    def apply(effects: Effects) -> None:
        for stream in effects.close:
            stream.close()
        for ticket in effects.wake:
            ticket.set()

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else self.clock.now + timeout

    async def _read(self, act: Read) -> bytes:
        stream: MemoryConnection = act.stream
        data = _io(stream.read, ReadError)
        if data is None:
            if not await _Block(lambda: stream.readable, self._deadline(act.timeout)):
                raise ReadTimeout("timed out")
            data = _io(stream.read, ReadError)
        assert data is not None
        return data

    async def _write(self, act: Write) -> None:
        stream: MemoryConnection = act.stream
        if _io(lambda: stream.write(act.data), WriteError):
            return
        if act.timeout is None:
            raise Deadlock("the client writes with no timeout; the peer never reads")
        await _Block(_never, self._deadline(act.timeout))
        raise WriteTimeout("timed out")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _io(call: Callable[[], T], error: type[Exception]) -> T:
    try:
        return call()
    except ConnectionError as exc:  # a reset, or our own end closed
        raise error(str(exc)) from exc


class MemoryTransport(AsyncBaseTransport):
    """An httpx-style async transport over an `Engine`, interpreted by a `Loop`;
    ``settings`` are `Engine`'s (the clock is the loop's)."""

    def __init__(self, loop: Loop, **settings: Any) -> None:
        self.loop = loop
        self.engine = Engine(clock=loop.clock, **settings)

    async def handle_async_request(self, request: Request) -> Response:
        return await arespond(self.engine, request, self.loop.handlers)

    async def aclose(self) -> None:
        self.loop.apply(self.engine.close())


# -- peers that answer with a handler -----------------------------------------------------

# A handler gets (method, target, headers, body) of a request and returns the response's
# (status, headers, body).
Handler = Callable[
    [bytes, bytes, list[tuple[bytes, bytes]], bytes],
    tuple[int, Iterable[tuple[bytes, bytes]], bytes],
]


def http1_peer(handler: Handler) -> Callable[[], Program]:
    """An HTTP/1.1 server (h11) answering every request on a connection with ``handler``;
    it closes the connection when the client does, or sends what h11 refuses."""

    def program() -> Program:
        server = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = b""
        while True:
            try:
                event = server.next_event()
            except h11.RemoteProtocolError:
                break
            if event is h11.NEED_DATA:
                server.receive_data((yield READ))
            elif type(event) is h11.Request:
                request, body = event, b""
            elif type(event) is h11.Data:
                body += event.data
            elif type(event) is h11.EndOfMessage:
                assert request is not None
                status, headers, content = handler(
                    request.method, request.target, list(request.headers.raw_items()), body
                )
                headers = [*headers, (b"content-length", str(len(content)).encode())]
                out = server.send(h11.Response(status_code=status, headers=headers))
                out += server.send(h11.Data(data=content)) + server.send(h11.EndOfMessage())
                yield Emit(out)
            elif event is h11.PAUSED and server.our_state is h11.DONE:
                server.start_next_cycle()
            else:  # the client closed, or the exchange cannot go on
                break
        yield CLOSE

    return program


def http2_peer(handler: Handler) -> Callable[[], Program]:
    """An HTTP/2 server (h2, prior knowledge) answering each request stream with
    ``handler`` as soon as it is complete, on as many streams as the client opens;
    it closes the connection when the client does, or sends what h2 refuses."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions

    def program() -> Program:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        server = h2.connection.H2Connection(config=config)
        server.initiate_connection()
        requests: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        unsent: dict[int, bytes] = {}  # response bodies waiting for flow-control window
        while True:
            for sid, content in list(unsent.items()):
                room = min(server.local_flow_control_window(sid), server.max_outbound_frame_size)
                if room > 0:
                    server.send_data(sid, content[:room], end_stream=len(content) <= room)
                    if len(content) <= room:
                        del unsent[sid]
                    else:
                        unsent[sid] = content[room:]
            out = server.data_to_send()
            if out:
                yield Emit(out)
                if unsent:
                    continue
            data = yield READ
            if not data:
                break
            try:
                events = server.receive_data(data)
            except h2.exceptions.ProtocolError:
                break
            for event in events:
                sid = getattr(event, "stream_id", 0)
                if isinstance(event, h2.events.RequestReceived):
                    requests[sid] = (list(event.headers or ()), bytearray())
                elif isinstance(event, h2.events.DataReceived) and sid in requests:
                    requests[sid][1].extend(event.data or b"")
                    server.acknowledge_received_data(event.flow_controlled_length, sid)
                elif isinstance(event, h2.events.StreamEnded) and sid in requests:
                    raw, body = requests.pop(sid)
                    pseudo = dict(raw)
                    status, headers, content = handler(
                        pseudo[b":method"], pseudo[b":path"],
                        [(n, v) for n, v in raw if not n.startswith(b":")], bytes(body),
                    )  # fmt: skip
                    try:
                        server.send_headers(
                            sid,
                            [(b":status", str(status).encode()), *headers],
                            end_stream=not content,
                        )
                    except h2.exceptions.ProtocolError:
                        continue  # the client reset the stream meanwhile
                    if content:
                        unsent[sid] = content
                elif isinstance(event, h2.events.StreamReset):
                    requests.pop(sid, None)
                    unsent.pop(sid, None)
        yield CLOSE

    return program
