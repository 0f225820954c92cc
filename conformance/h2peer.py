"""The scripted peer speaking HTTP/2 (h2c by prior knowledge), for ``Peer(h2=True)``.

Same shape as `conformance.peers.peer_program`: a `sansio.testing` program yielding `READ`,
`Emit`, `Delay`, `CLOSE`, `HOLD`, `STALL` or `RESET`, run by the same executors. h2 in the server
role checks every frame the client sends. The script's `Recv` reads one whole request
stream; `H2Reply`, `H2Reset`, `H2GoAway`, `H2Ping` and `H2Settings` answer (a SETTINGS
frame applies on the server's side once the client acknowledges it, as h2 does it);
`Send`, `Pause`, `Close`,
`Hold`, `Stall` and `Reset` mean what they mean for HTTP/1.1 peers. DATA goes out within
the client's flow-control windows, so the peer reads WINDOW_UPDATEs while it sends.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Generator, Sequence

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from hyperframe.frame import GoAwayFrame

from sansio.testing import CLOSE, HOLD, READ, RESET, STALL, Delay, Emit, PeerOp, Program

from .model import (
    Close,
    H2GoAway,
    H2Ping,
    H2Reply,
    H2Reset,
    H2Settings,
    Hold,
    Pause,
    Recv,
    RequestSeen,
    Reset,
    Script,
    Send,
    Stall,
)
from .peers import Tokens

__all__ = ["h2_peer_program"]

# The opaque data of the server's PINGs (any 8 bytes; the client echoes them back).
PING_DATA = b"conchpng"


class _Failed(Exception):
    """The client broke the protocol (h2 refused a frame) or hung up mid-request."""


class _Request:
    __slots__ = ("body", "ended", "headers")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        self.body = bytearray()
        self.ended = False


class _Server:
    """h2 in the server role plus the requests read so far."""

    def __init__(self, connection: int, tokens: Tokens, settings: Sequence[tuple[int, int]]):
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(dict(settings))
        self.connection = connection
        self.tokens = tokens
        self.open: dict[int, _Request] = {}  # streams whose request is still arriving
        self.complete: deque[tuple[int, _Request]] = deque()  # read, not yet recorded
        self.unanswered: deque[int] = deque()  # recorded, waiting for an answer
        self.eof = False
        self.last_stream = 0

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            raise _Failed(f"h2 refused the client's bytes: {exc!r}") from None
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = [
                    (bytes(n).decode("ascii").lower(), bytes(v).decode("latin-1"))
                    for n, v in event.headers or ()
                ]
                self.last_stream = max(self.last_stream, event.stream_id)
                if any(name == ":protocol" for name, _ in headers):
                    # An extended CONNECT (RFC 8441): its stream stays open for the
                    # tunnel, so the head is the whole request.
                    self.complete.append((event.stream_id, _Request(headers)))
                else:
                    self.open[event.stream_id] = _Request(headers)
            elif isinstance(event, h2.events.DataReceived):
                request = self.open.get(event.stream_id)
                if request is not None:
                    request.body += event.data or b""
                # Every byte's credit goes straight back (h2's own window manager waits
                # for half a window, sized by SETTINGS the client may not have ACKed).
                size = event.flow_controlled_length
                if size:
                    self.conn.increment_flow_control_window(size)
                    if event.stream_ended is None and event.stream_id in self.conn.streams:
                        # (Not for a stream the client has reset meanwhile.)
                        with contextlib.suppress(h2.exceptions.StreamClosedError):
                            self.conn.increment_flow_control_window(size, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.open.pop(event.stream_id, None)
            elif isinstance(event, h2.events.StreamEnded):
                request = self.open.pop(event.stream_id, None)
                if request is not None:
                    self.complete.append((event.stream_id, request))

    def seen(self, request: _Request, *, answered: bool, complete: bool = True) -> RequestSeen:
        norm = self.tokens.normalize_text
        headers = tuple((name, norm(value)) for name, value in request.headers)
        pseudo = dict(headers)
        text = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        return RequestSeen(
            connection=self.connection,
            method=pseudo.get(":method", ""),
            target=pseudo.get(":path", ""),
            headers=headers,
            body=bytes(request.body),
            raw=text.encode("latin-1") + bytes(request.body),
            answered=answered,
            complete=complete,
        )


def _flush(server: _Server) -> Generator[PeerOp, bytes, None]:
    data = server.conn.data_to_send()
    if data:
        yield Emit(data, gap=False)


def _read(server: _Server) -> Generator[PeerOp, bytes, None]:
    """Read once (and answer what h2 answers by itself: ACKs, WINDOW_UPDATEs)."""
    server.feed((yield READ))
    yield from _flush(server)


def _encode(headers: Sequence[tuple[str, str]], tokens: Tokens) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode("ascii"), tokens.render(value.encode("latin-1"))) for name, value in headers
    ]


def _reply(server: _Server, sid: int, step: H2Reply) -> Generator[PeerOp, bytes, None]:
    conn, tokens = server.conn, server.tokens
    for status in step.informational:
        conn.send_headers(sid, [(b":status", str(status).encode())])
    body = tokens.render(step.body)
    conn.send_headers(
        sid,
        [(b":status", str(step.status).encode()), *_encode(step.headers, tokens)],
        end_stream=not body and not step.trailers,
    )
    yield from _flush(server)
    half = len(body) // 2
    pieces = [body[:half], body[half:]] if step.ping else [body]
    for index, piece in enumerate(pieces):
        if index:  # the PING goes between the halves of the body
            conn.ping(PING_DATA)
            yield from _flush(server)
        last_piece = index == len(pieces) - 1
        sent = 0
        while sent < len(piece):
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if room <= 0:
                if server.eof:
                    raise _Failed("the client hung up while the peer sent a body")
                yield from _read(server)
                continue
            end = min(len(piece), sent + room)
            done = last_piece and end == len(piece) and not step.trailers
            conn.send_data(sid, piece[sent:end], end_stream=done)
            sent = end
            yield from _flush(server)
    if step.trailers:
        conn.send_headers(sid, _encode(step.trailers, tokens), end_stream=True)
    yield from _flush(server)


def h2_peer_program(
    script: Script,
    connection: int,
    tokens: Tokens,
    record: Callable[[RequestSeen], None],
    report: Callable[[str], None],
    settings: Sequence[tuple[int, int]] = (),
) -> Program:
    """Play `script` over HTTP/2 on one connection, as `peers.peer_program` does."""
    server = _Server(connection, tokens, settings)
    try:
        yield from _flush(server)  # the server preface: SETTINGS
        for step in script:
            if isinstance(step, Recv):
                while not server.complete:
                    if server.eof:
                        _at_eof(server, record)
                        return
                    yield from _read(server)
                sid, request = server.complete.popleft()
                record(server.seen(request, answered=True))
                server.unanswered.append(sid)
            elif isinstance(step, H2Reply):
                unanswered = server.unanswered
                sid = unanswered.pop() if step.newest else unanswered.popleft()
                try:
                    yield from _reply(server, sid, step)
                except h2.exceptions.StreamClosedError:
                    yield from _flush(server)  # the client reset the stream: stop there
            elif isinstance(step, H2Reset):
                sid = server.unanswered.popleft()
                for status in step.informational:
                    server.conn.send_headers(sid, [(b":status", str(status).encode())])
                if step.after_head:
                    server.conn.send_headers(sid, [(b":status", b"200")])
                server.conn.reset_stream(sid, step.error_code)
                yield from _flush(server)
            elif isinstance(step, H2GoAway):
                # Framed by hand: h2 sends nothing more after its own GOAWAY, and a
                # graceful shutdown still answers the streams it names.
                yield from _flush(server)
                frame = GoAwayFrame(
                    0, last_stream_id=server.last_stream, error_code=step.error_code
                )
                yield Emit(frame.serialize(), gap=False)
            elif isinstance(step, H2Ping):
                server.conn.ping(PING_DATA)
                yield from _flush(server)
            elif isinstance(step, H2Settings):
                server.conn.update_settings(dict(step.settings))
                yield from _flush(server)
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
        while not server.complete:
            if server.eof:
                _at_eof(server, record)
                return
            yield from _read(server)
        record(server.seen(server.complete.popleft()[1], answered=False))
        yield CLOSE
    except _Failed as exc:
        report(f"connection {connection}: {exc}")
        yield CLOSE


def _at_eof(server: _Server, record: Callable[[RequestSeen], None]) -> None:
    """The client hung up: record the requests it left unfinished."""
    for request in server.open.values():
        record(server.seen(request, answered=False, complete=False))
