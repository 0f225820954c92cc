"""Scripted peers: one script interpreter, run over loopback sockets or in memory.

`peer_program` is the peer itself, written sans-I/O like the client: a generator that
yields what it wants done (`READ`, `Write`, `Sleep`, `CLOSE`, `HOLD`, `STALL`, `RESET`) and is
sent the bytes it read (``b""`` at EOF). Requests are parsed with h11 in the server role,
a fresh machine per request, so an independent parser checks every byte the client
sends. Two executors run it:

- `LoopbackPeer`: a listening socket on 127.0.0.1 and a thread per accepted connection,
  for the drivers that use real sockets.
- `MemoryPeer`: the same program fed by direct calls, with a virtual clock, for the
  in-memory core driver (`conformance.core_driver`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import h11

from .model import Close, Hold, Pause, Peer, Recv, RequestSeen, Reset, Script, Send, Stall

__all__ = [
    "LoopbackPeer",
    "MemoryPeer",
    "Tokens",
    "VirtualClock",
    "make_program",
    "peer_program",
]

# Socket peers pause this long between the first pieces of a split write, so that the
# client's reads usually see the pieces apart (TCP may still join them).
SPLIT_GAP = 0.0005
SPLIT_GAP_PIECES = 8

# A socket peer gives up on a silent client after this long (a broken run, not a test).
PEER_IO_TIMEOUT = 10.0

# What a stalled in-memory peer takes in before the client's writes block: about what
# loopback sockets buffer by default on Linux (both sides' buffers together).
STALL_BUFFER = 4 * 1024 * 1024

# -- origin tokens ------------------------------------------------------------------------


class Tokens:
    """``{oN}`` <-> ``host:port`` of peer N, both ways."""

    def __init__(self, authorities: Sequence[str]) -> None:
        self.authorities = tuple(authorities)
        self._pairs = [
            (f"{{o{index}}}".encode(), authority.encode("ascii"))
            for index, authority in enumerate(authorities)
        ]

    def render(self, data: bytes) -> bytes:
        for token, authority in self._pairs:
            data = data.replace(token, authority)
        return data

    def normalize(self, data: bytes) -> bytes:
        for token, authority in self._pairs:
            data = data.replace(authority, token)
        return data

    def normalize_text(self, text: str) -> str:
        return self.normalize(text.encode("latin-1")).decode("latin-1")


# -- the program --------------------------------------------------------------------------


class _Op:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


READ = _Op("READ")  # read some bytes; the reply is sent in (b"" at EOF)
CLOSE = _Op("CLOSE")  # half-close, discard input until EOF, close (the program has ended)
HOLD = _Op("HOLD")  # send nothing, discard input until EOF, close (the program has ended)
STALL = _Op("STALL")  # send nothing, read nothing until the run ends (the program has ended)
RESET = _Op("RESET")  # abort (the program has ended)


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes
    gap: bool  # more pieces of the same `Send` follow


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


PeerOp = _Op | Write | Sleep
Program = Generator[PeerOp, bytes, None]


class BadRequest(Exception):
    """The client sent bytes h11 (in the server role) refuses."""


class _Reader:
    """Requests out of a byte stream, one whole request at a time."""

    def __init__(self, connection: int, tokens: Tokens) -> None:
        self.connection = connection
        self.tokens = tokens
        self.buffer = b""
        self.eof = False

    def feed(self, data: bytes) -> None:
        if data:
            self.buffer += data
        else:
            self.eof = True

    def take(self, *, head_only: bool = False, answered: bool = True) -> RequestSeen | None:
        """The next request if all of it (or its head) is buffered, else None."""
        if not self.buffer:
            return None
        return self._parse(head_only=head_only, answered=answered, partial=False)

    def take_partial(self, *, answered: bool) -> RequestSeen | None:
        """At EOF: a request whose head arrived but not all of its body, else None."""
        return self._parse(head_only=False, answered=answered, partial=True)

    def _parse(self, *, head_only: bool, answered: bool, partial: bool) -> RequestSeen | None:
        # EOF is never fed to h11: a request's end never depends on it.
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(self.buffer)
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                shown = self.tokens.normalize(self.buffer[:300])
                raise BadRequest(f"{exc} in {shown!r}") from None
            if event is h11.NEED_DATA:
                if partial and head is not None:
                    break
                return None
            if type(event) is h11.Request:
                head = event
                if head_only:
                    break
            elif type(event) is h11.Data:
                body += event.data
            else:
                assert type(event) is h11.EndOfMessage
                break
        assert head is not None
        left = conn.trailing_data[0]
        raw = self.buffer[: len(self.buffer) - len(left)]
        self.buffer = bytes(left)
        norm = self.tokens.normalize_text
        return RequestSeen(
            connection=self.connection,
            method=head.method.decode("ascii"),
            target=norm(head.target.decode("ascii")),
            headers=tuple(
                (name.decode("ascii").lower(), norm(value.decode("latin-1")))
                for name, value in head.headers.raw_items()
            ),
            body=bytes(body),
            raw=self.tokens.normalize(raw),
            answered=answered,
            complete=not partial,
        )

    def at_eof(self, record: Callable[[RequestSeen], None], report: Callable[[str], None]) -> None:
        """The client hung up: record a request it left unfinished."""
        if not self.buffer:
            return
        seen = self.take_partial(answered=False)
        if seen is None:
            shown = self.tokens.normalize(self.buffer[:300])
            report(f"connection {self.connection}: EOF inside a request head: {shown!r}")
        else:
            record(seen)


def peer_program(
    script: Script,
    connection: int,
    tokens: Tokens,
    record: Callable[[RequestSeen], None],
    report: Callable[[str], None],
) -> Program:
    """Play `script` on one connection; requests go to `record`, problems to `report`."""
    reader = _Reader(connection, tokens)
    try:
        for step in script:
            if isinstance(step, Recv):
                while (seen := reader.take(head_only=step.head_only)) is None:
                    if reader.eof:
                        reader.at_eof(record, report)
                        return
                    reader.feed((yield READ))
                record(seen)
                if step.head_only:
                    reader.buffer = b""  # the rest of the body is not wanted
            elif isinstance(step, Send):
                pieces = step.pieces(tokens.render(step.data))
                for index, piece in enumerate(pieces):
                    yield Write(piece, gap=index < len(pieces) - 1)
            elif isinstance(step, Pause):
                yield Sleep(step.seconds)
            elif isinstance(step, Close):
                yield CLOSE
                return
            elif isinstance(step, Hold):
                yield HOLD
                return
            elif isinstance(step, Stall):
                yield STALL
                return
            else:
                assert isinstance(step, Reset)
                yield RESET
                return
        # The script has run out: a request that still comes is recorded, not answered.
        while (seen := reader.take(answered=False)) is None:
            if reader.eof:
                reader.at_eof(record, report)
                return
            reader.feed((yield READ))
        record(seen)
        yield CLOSE
    except BadRequest as exc:
        report(f"connection {connection}: bad request: {exc}")
        yield CLOSE


def make_program(
    peer: Peer,
    script: Script,
    connection: int,
    tokens: Tokens,
    record: Callable[[RequestSeen], None],
    report: Callable[[str], None],
) -> Program:
    """The program for one connection: HTTP/1.1 (`peer_program`) or HTTP/2."""
    if peer.h2:
        from .h2peer import h2_peer_program  # it imports this module

        return h2_peer_program(script, connection, tokens, record, report, peer.h2_settings)
    return peer_program(script, connection, tokens, record, report)


# -- over sockets ---------------------------------------------------------------------------


class LoopbackPeer:
    """One origin on 127.0.0.1 for one scenario run: a listener and a thread per connection.

    A fresh listener per run means a connection from an earlier run can never be
    counted here. `finish` waits for every connection to end (the client closes them
    all when it is closed) and returns what the peer saw.
    """

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.seen: list[RequestSeen] = []
        self.errors: list[str] = []
        self.accepted = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._tokens: Tokens | None = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        if peer.listening:
            self._listener.listen(64)
        # Not listening: connecting to the bound port is refused.
        self._accepter: threading.Thread | None = None

    @property
    def authority(self) -> str:
        return f"{self.peer.host}:{self.port}"

    def start(self, tokens: Tokens) -> None:
        self._tokens = tokens
        if self.peer.listening:
            self._accepter = threading.Thread(target=self._accept, daemon=True)
            self._accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.accepted
                self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _record(self, seen: RequestSeen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _report(self, error: str) -> None:
        with self._lock:
            self.errors.append(error)

    def _serve(self, conn: socket.socket, index: int) -> None:
        scripts = self.peer.connections
        script = scripts[index] if index < len(scripts) else ()
        assert self._tokens is not None
        program = make_program(self.peer, script, index, self._tokens, self._record, self._report)
        conn.settimeout(PEER_IO_TIMEOUT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        gaps = 0
        try:
            op = next(program)
            while True:
                if op is READ:
                    op = program.send(conn.recv(65536))
                    continue
                if isinstance(op, Write):
                    conn.sendall(op.data)
                    if op.gap and gaps < SPLIT_GAP_PIECES:
                        gaps += 1
                        time.sleep(SPLIT_GAP)
                elif isinstance(op, Sleep):
                    self._stopping.wait(op.seconds)
                elif op is RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                elif op is STALL:
                    self._stopping.wait(PEER_IO_TIMEOUT)
                    break
                else:  # CLOSE or HOLD: wait for the client to hang up
                    if op is CLOSE:
                        conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                    break
                op = next(program)
        except StopIteration:
            pass
        except TimeoutError:
            self._report(f"connection {index}: the client neither spoke nor hung up")
        except OSError:
            pass  # the client went away (reset) first
        finally:
            program.close()
            conn.close()

    def finish(self) -> None:
        """Stop accepting and wait for every connection's thread."""
        self._stopping.set()  # ends stalls (the client has closed by now)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self._listener.close()
        if self._accepter is not None:
            self._accepter.join(PEER_IO_TIMEOUT)
        for thread in self._threads:
            thread.join(PEER_IO_TIMEOUT)
            if thread.is_alive():
                self._report("a connection was still open after the client closed")


# -- in memory ------------------------------------------------------------------------------


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_EOF = _Marker("EOF")
_RST = _Marker("RST")


class Deadlock(Exception):
    """Both sides wait for each other and no timeout would end it."""


class VirtualClock:
    """Seconds that pass only when a peer pauses or the client waits."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemoryPeer:
    """One connection of a peer, in memory. The client side calls `send`, `recv`,
    `readable` and `close`; time passes only on the shared virtual clock.

    `recv` raises `TimeoutError` when the peer would stay silent longer than the
    timeout (the clock moves on by the timeout), and `ConnectionResetError` after a
    reset, as a socket would; the driver maps them as a shell backend does. A pending
    `Pause` only runs down while the client waits to read.
    """

    def __init__(self, program: Program, clock: VirtualClock) -> None:
        self._program: Program | None = program
        self._clock = clock
        self._in = b""  # client bytes the program has not read yet
        self._out: deque[bytes | _Marker] = deque()
        self._at_read = False  # the program is suspended in READ
        self._sleep = 0.0  # what is left of a `Sleep` (inf: holding)
        self._client_closed = False
        self._reset = False
        self._stalled = -1  # bytes taken in while stalled; -1: not stalled
        self._pump()

    def _pump(self) -> None:
        """Run the program until it waits for bytes that are not there, sleeps or ends."""
        program = self._program
        if program is None or self._sleep:
            return
        try:
            if self._at_read:
                if not (self._in or self._client_closed):
                    return
                self._at_read = False
                data, self._in = self._in, b""
                op = program.send(data)
            else:
                op = next(program)
            while True:
                if op is READ:
                    if not (self._in or self._client_closed):
                        self._at_read = True
                        return
                    data, self._in = self._in, b""
                    op = program.send(data)
                    continue
                if isinstance(op, Write):
                    self._out.append(op.data)
                elif isinstance(op, Sleep):
                    self._sleep = op.seconds
                    return
                else:
                    self._end(op)
                    return
                op = next(program)
        except StopIteration:
            self._end(CLOSE)

    def _end(self, op: _Op) -> None:
        self._program = None
        self._in = b""
        if op is RESET:
            self._reset = True
            self._out.append(_RST)
        elif op is CLOSE:
            self._out.append(_EOF)
        else:
            self._sleep = float("inf")
            if op is STALL:
                self._stalled = 0

    def elapse(self, seconds: float) -> None:
        """Time passes while the client does something else: pauses run down."""
        while self._sleep and self._sleep != float("inf"):
            if self._sleep > seconds:
                self._sleep -= seconds
                return
            seconds -= self._sleep
            self._sleep = 0.0
            self._pump()

    # -- the client's side ----------------------------------------------------------------

    def send(self, data: bytes, timeout: float | None) -> None:
        """Hand over bytes; `TimeoutError` if a stalled peer's buffer is full."""
        if self._reset:
            raise ConnectionResetError("connection reset by peer")
        if self._stalled >= 0:
            self._stalled += len(data)
            if self._stalled > STALL_BUFFER:
                if timeout is None:
                    raise Deadlock("the client writes with no timeout; the peer never reads")
                self._clock.now += timeout
                raise TimeoutError("the peer stopped reading")
            return
        if self._program is None:
            return  # the peer has ended: it discards what comes (a lingering close)
        self._in += data
        self._pump()

    def readable(self) -> bool:
        return bool(self._out)

    def recv(self, timeout: float | None) -> bytes:
        while not self._out:
            sleep = self._sleep
            if sleep and sleep != float("inf") and (timeout is None or sleep <= timeout):
                self._clock.now += sleep
                self._sleep = 0.0
                self._pump()
                continue
            if timeout is None:
                raise Deadlock("the client waits to read with no timeout; the peer is silent")
            self._clock.now += timeout
            if sleep:
                self._sleep = sleep - timeout
            raise TimeoutError("the peer stayed silent")
        item = self._out[0]
        if item is _EOF:
            return b""
        if item is _RST:
            raise ConnectionResetError("connection reset by peer")
        self._out.popleft()
        assert isinstance(item, bytes)
        return item

    def close(self) -> None:
        if self._client_closed:
            return
        self._client_closed = True
        self._pump()
        if self._program is not None:
            # Still sleeping: its client has gone, so nothing more can be read.
            self._program.close()
            self._program = None
