"""Scripted peers: one script interpreter, run over loopback sockets or in memory.

`peer_program` is the peer itself, written sans-I/O like the client: a `sansio.testing`
program, a generator that yields what it wants done (`READ`, `Emit`, `Delay`, `CLOSE`,
`HOLD`, `STALL`, `RESET`) and is sent the bytes it read (``b""`` at EOF). Requests are
parsed with h11 in the server role, a fresh machine per request, so an independent parser
checks every byte the client sends. Two executors run it:

- `LoopbackPeer` (here): a listening socket on 127.0.0.1 and a thread per accepted
  connection, for the drivers that use real sockets.
- `sansio.testing.MemoryConnection`: in memory, on a virtual clock, for the core driver
  (`conformance.core_driver`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence

import h11

from sansio.testing import CLOSE, HOLD, READ, RESET, STALL, Delay, Emit, Program

from .model import Close, Hold, Pause, Peer, Recv, RequestSeen, Reset, Script, Send, Stall

__all__ = ["LoopbackPeer", "Tokens", "make_program", "peer_program"]

# Socket peers pause this long between the first pieces of a split write, so that the
# client's reads usually see the pieces apart (TCP may still join them).
SPLIT_GAP = 0.0005
SPLIT_GAP_PIECES = 8

# A socket peer gives up on a silent client after this long (a broken run, not a test).
PEER_IO_TIMEOUT = 10.0

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
                    yield Emit(piece, gap=index < len(pieces) - 1)
            elif isinstance(step, Pause):
                yield Delay(step.seconds)
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
                if isinstance(op, Emit):
                    conn.sendall(op.data)
                    if op.gap and gaps < SPLIT_GAP_PIECES:
                        gaps += 1
                        time.sleep(SPLIT_GAP)
                elif isinstance(op, Delay):
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
