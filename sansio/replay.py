"""Record and replay: a client's connections as data, played back with no network.

An `Engine` given ``record=Recorder()`` notes, for every connection it opens, the bytes
each `Write` sent and each `Read` brought, in order, with the time since the recording
began; ``replay=Recording`` serves those reads back and compares every write with the
recorded one. Both are done here, in the core, by watching the exchange's actions and
their results: every interpreter (the shells, `sansio.testing.Loop`, an embedder's loop)
records and replays without a line of its own.

Rules
-----
1. **Above TLS.** What is recorded is what the HTTP machines wrote and read (plaintext),
   and a ``tls`` event where the handshake happened (SNI and the ALPN result): a replay
   needs no certificate and performs no handshake.
2. **One record per connection**, keyed by what the engine connected to (``host``,
   ``port``, ``uds``); a replay's `Connect` takes the first unused record with the same
   key, so connections are matched in the order they were opened.
3. **Causality, not timing.** A recorded read is served once the client has written every
   byte it had written before that read: a read that would have to wait fails at once
   with `ReplayError` (HTTP/1.1), or parks until another exchange writes (a shared HTTP/2
   connection). `ReadReady` answers "nothing" until then. The end of the stream (``eof``)
   repeats; a read past the recorded events is a `ReplayError`. Errors that a read,
   write, connect or handshake raised are recorded and raised again at the same place.
4. **Deterministic.** Nothing waits on replay, unless the recording is `Recording.paced`:
   then a read is served no earlier than its recorded time (a `Sleep` first), and a
   read whose timeout (or total deadline) passes before then times out, as it did live.
5. **A write that differs** from the recording raises `ReplayError` with the first
   differing line of what the client wrote on that connection, recorded and sent.
6. **Closing** a replayed connection (the engine's `Effects`, the transport's close)
   fails its later reads and writes as on a socket, and wakes the reads parked on it.
7. **Not recorded:** a `Resolve` (a SOCKS4 proxy's target) and the bytes of a connection
   after it was handed over (a 101, a CONNECT 2xx): the caller moves those itself.

The file format (`Recording.dumps`, `Recording.loads`): one JSON object, documented in
docs/testing.md::

    {"format": "conch-recording", "version": 1, "connections": [
      {"host": "example.org", "port": 443, "uds": null, "alpn": "h2",
       "http_version": "HTTP/2", "events": [
         {"t": 0.0012, "op": "tls", "server_hostname": "example.org", "alpn": "h2"},
         {"t": 0.0015, "op": "write", "data": "PRI * HTTP/2.0\\r\\n..."},
         {"t": 0.0031, "op": "read", "data": "..."},
         {"t": 0.0040, "op": "eof"}, {"t": 0.0042, "op": "close"},
         {"t": 0.5, "op": "error", "on": "read", "error": "ReadTimeout",
          "message": "timed out"}]}]}

Bytes are JSON strings of code points 0-255 (latin-1), so HTTP/1.1 reads as text.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import exceptions
from .engine.actions import (
    Action,
    Connect,
    Effects,
    Park,
    Read,
    ReadReady,
    Sleep,
    StartTLS,
    Write,
)
from .engine.exchange import Exchange, _Timed
from .exceptions import ConnectError, ReadError, ReadTimeout, TransportError, WriteError

if TYPE_CHECKING:  # pragma: no cover
    from .engine.engine import Engine

__all__ = ["FORMAT", "MAX_DIFF_LINE", "VERSION", "Recorder", "Recording", "ReplayError"]

FORMAT = "conch-recording"
VERSION = 1

# Characters of a line shown on each side of a mismatch's diff; longer lines are cut
# (an HTTP/2 frame or a long header would otherwise fill a screen).
MAX_DIFF_LINE = 200

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# The conch errors a recorded event may name: those a transport raises.
_ERRORS: dict[str, type[TransportError]] = {
    name: cls
    for name in exceptions.__all__
    if isinstance(cls := getattr(exceptions, name), type) and issubclass(cls, TransportError)
}
_ON = {Connect: "connect", StartTLS: "tls", Write: "write", Read: "read", ReadReady: "read"}
_OPS = {"write", "read", "eof", "tls", "close", "error"}


class ReplayError(TransportError):
    """A replay went where the recording does not: different bytes written, a
    connection or a read that was not recorded, or a corrupt recording file."""


# -- recording --------------------------------------------------------------------------


class _Conn:
    """One connection's record: its key, the ALPN result and its events in order."""

    __slots__ = ("alpn", "events", "host", "port", "uds")

    def __init__(self, host: str, port: int, uds: str | None) -> None:
        self.host = host
        self.port = port
        self.uds = uds
        self.alpn: str | None = None
        self.events: list[dict[str, Any]] = []

    def to_json(self) -> dict[str, Any]:
        first = next((e["data"] for e in self.events if e["op"] == "write"), "")
        h2 = self.alpn == "h2" or first.startswith(H2_PREFACE.decode("latin-1"))
        return {
            "host": self.host,
            "port": self.port,
            "uds": self.uds,
            "alpn": self.alpn,
            "http_version": "HTTP/2" if h2 else "HTTP/1.1",
            "events": list(self.events),  # (a snapshot: recording goes on)
        }


class Recorder:
    """Collects the connections of the engines it is given to (``Engine(record=...)``);
    `recording` and `dumps` give what it has so far. It keeps every byte in memory."""

    __slots__ = ("_conns", "_start", "_streams")

    def __init__(self) -> None:
        self._conns: list[_Conn] = []
        self._streams: dict[int, tuple[Any, _Conn]] = {}  # id(stream): (stream, record)
        self._start: float | None = None

    def recording(self) -> Recording:
        return Recording([c.to_json() for c in self._conns])

    def dumps(self) -> str:
        return self.recording().dumps()

    def _note(self, now: float, act: Action, result: Any, error: Exception | None) -> None:
        """``act`` gave ``result`` (or raised ``error``) at ``now``."""
        if self._start is None:
            self._start = now
        event: dict[str, Any] = {"t": round(now - self._start, 6)}
        kind = type(act)
        if kind is Connect:
            conn = _Conn(act.host, act.port, act.uds)  # type: ignore[union-attr]
            self._conns.append(conn)
            if error is None:
                self._streams[id(result)] = (result, conn)
                return
        else:
            conn = self._streams[id(act.stream)][1]  # type: ignore[union-attr]
        if error is not None:
            cls = type(error)
            name = cls.__name__ if _ERRORS.get(cls.__name__) is cls else "NetworkError"
            event.update(op="error", on=_ON[kind], error=name, message=str(error))
        elif kind is StartTLS:
            stream, alpn = result
            self._streams[id(stream)] = (stream, conn)
            conn.alpn = alpn
            event.update(op="tls", server_hostname=act.tls.server_hostname, alpn=alpn)  # type: ignore[union-attr]
        elif kind is Write:
            event.update(op="write", data=act.data.decode("latin-1"))  # type: ignore[union-attr]
        elif result is None:  # a ReadReady with nothing there
            return
        elif result:
            event.update(op="read", data=result.decode("latin-1"))
        else:
            event.update(op="eof")
        conn.events.append(event)

    def _closed(self, now: float, streams: tuple[Any, ...]) -> list[Any]:
        """The engine closes ``streams``; no ticket to wake for that."""
        # (Streams stay in ``_streams``: alive, so no new stream takes their id.)
        for stream in streams:
            conn = self._streams[id(stream)][1]
            conn.events.append({"t": round(now - (self._start or now), 6), "op": "close"})
        return []


_WATCHED = (Connect, StartTLS, Write, Read, ReadReady)


class RecordingExchange(Exchange):
    """An exchange whose I/O results go to its engine's `Recorder` (made by the engine)."""

    __slots__ = ("_last",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._last: Any = None  # the I/O action being performed

    def send(self, result: Any = None) -> Action:
        last = self._last
        if last is not None:
            self._last = None
            self._note(last, result, None)
        return self._watch(super().send(result))

    def throw(self, error: Exception) -> Action:
        last = self._last
        if last is not None:
            self._last = None
            self._note(last, None, error)
        return self._watch(super().throw(error))

    def close(self) -> Action:
        return self._watch(super().close())

    def cancel(self) -> Effects:
        self._last = None
        return self._watch(super().cancel())  # type: ignore[return-value]

    def _note(self, act: Action, result: Any, error: Exception | None) -> None:
        engine = self._engine
        with engine._lock:
            engine._tape._note(engine._clock(), act, result, error)

    def _watch(self, act: Action) -> Action:
        kind = type(act)
        if kind in _WATCHED:
            self._last = act
        elif kind is Effects and act.close:  # type: ignore[union-attr]
            engine = self._engine
            with engine._lock:
                engine._tape._closed(engine._clock(), act.close)  # type: ignore[union-attr]
        return act


# -- the recording as data --------------------------------------------------------------


class Recording:
    """Recorded connections (the JSON objects of the file format); give it to
    ``Engine(replay=...)``. It is never changed by a replay, so one recording replays
    any number of times."""

    __slots__ = ("connections", "pace")

    def __init__(self, connections: list[dict[str, Any]], *, pace: bool = False) -> None:
        self.connections = connections
        self.pace = pace

    def paced(self) -> Recording:
        """The same recording, replayed in its own time: no read comes earlier than it
        came when recorded."""
        return Recording(self.connections, pace=True)

    def dumps(self) -> str:
        document = {"format": FORMAT, "version": VERSION, "connections": self.connections}
        return json.dumps(document, indent=1)

    @classmethod
    def loads(cls, text: str | bytes) -> Recording:
        """Parse and check a recording file; `ReplayError` says what is wrong with it."""
        try:
            document = json.loads(text)
        except ValueError as exc:  # (UnicodeDecodeError too)
            raise ReplayError(f"corrupt recording: not JSON ({exc})") from None
        _check(isinstance(document, dict), "not a JSON object")
        _check(document.get("format") == FORMAT, f"format is not {FORMAT!r}")
        _check(document.get("version") == VERSION, f"version is not {VERSION}")
        connections = document.get("connections")
        _check(isinstance(connections, list), "connections is not a list")
        for index, conn in enumerate(connections):
            where = f"connection {index}"
            _check(isinstance(conn, dict), f"{where} is not an object")
            _check(isinstance(conn.get("host"), str), f"{where}: host is not a string")
            _check(type(conn.get("port")) is int, f"{where}: port is not an integer")
            _check(conn.get("uds") is None or isinstance(conn["uds"], str), f"{where}: uds")
            events = conn.get("events")
            _check(isinstance(events, list), f"{where}: events is not a list")
            for number, event in enumerate(events):
                _check_event(event, f"{where}, event {number}")
        return cls(connections)


def _check(ok: bool, problem: str) -> None:
    if not ok:
        raise ReplayError(f"corrupt recording: {problem}")


def _check_event(event: Any, where: str) -> None:
    _check(isinstance(event, dict), f"{where} is not an object")
    op = event.get("op")
    _check(op in _OPS, f"{where}: op {op!r} is not one of {sorted(_OPS)}")
    _check(type(event.get("t")) in (int, float), f"{where}: t is not a number")
    if op in ("write", "read"):
        data = event.get("data")
        _check(isinstance(data, str) and max(data, default="\0") <= "\xff", f"{where}: data")
    elif op == "error":
        _check(event.get("error") in _ERRORS, f"{where}: error {event.get('error')!r}")
        _check(event.get("on") in ("connect", "tls", "write", "read"), f"{where}: on")
        _check(isinstance(event.get("message"), str), f"{where}: message")
    elif op == "tls":
        _check(event.get("alpn") is None or isinstance(event["alpn"], str), f"{where}: alpn")


# -- replaying --------------------------------------------------------------------------


class _Item:
    """What a read (or the handshake, or the connect) meets next on a replayed
    connection; ``needs``: the bytes the client must have written before."""

    __slots__ = ("event", "needs")

    def __init__(self, event: dict[str, Any], needs: int) -> None:
        self.event = event
        self.needs = needs


class ReplayStream:
    """A replayed connection: the stream object the interpreter gets from `Connect`
    (it carries no socket: closing it only makes later reads and writes fail)."""

    __slots__ = (
        "_items",
        "_parked",
        "_position",
        "_write_errors",
        "_written",
        "closed",
        "index",
        "key",
    )

    def __init__(self, index: int, conn: dict[str, Any]) -> None:
        self.index = index
        uds = conn["uds"]
        self.key = uds if uds is not None else f"{conn['host']}:{conn['port']}"
        written = bytearray()
        self._items: deque[_Item] = deque()
        self._write_errors: dict[int, dict[str, Any]] = {}
        for event in conn["events"]:
            op = event["op"]
            if op == "write":
                written += event["data"].encode("latin-1")
            elif op == "error" and event["on"] == "write":
                self._write_errors[len(written)] = event
            elif op != "close":
                self._items.append(_Item(event, len(written)))
        self._written = bytes(written)  # every byte the client wrote, in order
        self._position = 0  # how many of them this replay's client has written
        self._parked: list[Any] = []  # tickets of shared reads waiting for a write
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return None

    def __repr__(self) -> str:
        return f"<replayed connection {self.index} to {self.key}>"

    # -- the actions --------------------------------------------------------------------

    def start_tls(self, act: StartTLS) -> tuple[ReplayStream, str | None]:
        item = self._next()
        event = item.event if item is not None else None
        if event is not None and event["op"] == "error" and event["on"] == "tls":
            self._items.popleft()
            raise _error(event)
        if event is None or event["op"] != "tls" or item.needs != self._position:  # type: ignore[union-attr]
            raise self._unexpected("starts TLS", item)
        if event.get("server_hostname") != act.tls.server_hostname:
            raise ReplayError(
                f"replay: {self!r}: the client starts TLS for "
                f"{act.tls.server_hostname!r}, the recording for "
                f"{event.get('server_hostname')!r}"
            )
        alpn = event["alpn"]
        if alpn is not None and alpn not in act.tls.alpn:
            raise ReplayError(
                f"replay: {self!r}: the client offers ALPN {list(act.tls.alpn)}, the "
                f"recording has the server choose {alpn!r}"
            )
        self._items.popleft()
        return self, alpn

    def write(self, data: bytes) -> list[Any]:
        """Check ``data`` against the recording; the parked reads it wakes."""
        position = self._position
        failure = self._write_errors.pop(position, None)
        if failure is not None:
            raise _error(failure)
        end = position + len(data)
        if self._written[position:end] != data:
            raise ReplayError(self._diff(data))
        self._position = end
        return self.take_parked()

    def read(self, act: Read | ReadReady, elapsed: float | None) -> bytes | float | None:
        """The next recorded read: bytes, ``b""`` at the end of the stream, None when
        nothing is there for a `ReadReady` (or a shared `Read`, which must park), a
        float: the seconds until it comes (paced)."""
        item = self._next()
        ready = type(act) is ReadReady
        if item is None or item.event["op"] == "tls":
            if ready:
                return None
            raise self._unexpected("reads", item)
        if item.needs > self._position:
            if ready or act.shared:
                return None
            raise self._unexpected("waits for a response", item)
        event = item.event
        if elapsed is not None and event["t"] > elapsed:
            return None if ready else float(event["t"] - elapsed)
        op = event["op"]
        if op == "eof":
            return b""  # (it stays: the end of a stream reads as the end again)
        self._items.popleft()
        if op == "error":
            raise _error(event)
        return event["data"].encode("latin-1")  # type: ignore[no-any-return]

    def park(self, ticket: Any) -> None:
        self._parked.append(ticket)

    def take_parked(self) -> list[Any]:
        parked, self._parked = self._parked, []
        return parked

    def _next(self) -> _Item | None:
        items = self._items
        return items[0] if items else None

    def _unexpected(self, doing: str, item: _Item | None) -> ReplayError:
        if item is None:
            where = "has nothing more on it"
        elif item.needs > self._position:
            more = self._written[self._position : min(item.needs, self._position + MAX_DIFF_LINE)]
            where = f"has the client write {more!r} first"
        else:
            where = f"has {item.event['op']!r} next"
        return ReplayError(f"replay: {self!r}: the client {doing}, the recording {where}")

    def _diff(self, data: bytes) -> str:
        """A mismatch's message: the first line that differs, recorded and sent."""
        position = self._position
        expected = self._written[position : position + len(data)]
        offset = next(
            (i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b),
            len(expected),
        )
        sent = self._written[:position] + data
        at = position + offset
        start = sent.rfind(b"\n", 0, at) + 1
        line = sent.count(b"\n", 0, start) + 1
        return (
            f"replay: {self!r}: the client wrote bytes the recording does not have, "
            f"at byte {at} (line {line}):\n"
            f"  - recorded: {_line(self._written, start, at)}\n"
            f"  + sent:     {_line(sent, start, at)}"
        )


def _line(data: bytes, start: int, at: int) -> str:
    """The line of ``data`` from ``start``, shown around ``at`` when it is long."""
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end + 1
    if start >= end:
        return "(nothing more)"
    low = max(start, at - MAX_DIFF_LINE // 2)
    high = min(end, low + MAX_DIFF_LINE)
    head = "... " if low > start else ""
    return head + repr(data[low:high]) + (" ..." if high < end else "")


def _error(event: dict[str, Any]) -> TransportError:
    return _ERRORS[event["error"]](event["message"])


class Replay:
    """One engine's replay of a `Recording` (made by the engine)."""

    __slots__ = ("_lock", "_new_ticket", "_start", "_unused", "clock", "pace")

    def __init__(
        self, recording: Recording, clock: Callable[[], float], new_ticket: Callable[[], Any]
    ) -> None:
        self._unused: dict[str, deque[ReplayStream]] = {}
        for index, conn in enumerate(recording.connections):
            stream = ReplayStream(index, conn)
            self._unused.setdefault(stream.key, deque()).append(stream)
        self.clock = clock
        self.pace = recording.pace
        self._new_ticket = new_ticket
        self._start: float | None = None

    def _closed(self, now: float, streams: tuple[Any, ...]) -> list[Any]:
        """The engine closes ``streams``: the tickets of reads parked on them, to wake
        (they fail then, as reads on a closed connection do)."""
        return [ticket for stream in streams for ticket in stream.take_parked()]

    def perform(self, act: Action) -> tuple[Any, Action | None]:
        """``act``'s result, or the action to perform first (then ``act`` again)."""
        kind = type(act)
        if kind is Connect:
            if self._start is None:
                self._start = self.clock()
            key = act.uds if act.uds is not None else f"{act.host}:{act.port}"  # type: ignore[union-attr]
            queue = self._unused.get(key)
            if not queue:
                raise ReplayError(
                    f"replay: the client connects to {key}, the recording has no more "
                    "connections there"
                )
            stream = queue.popleft()
            item = stream._next()
            if item is not None and item.event["op"] == "error" and item.event["on"] == "connect":
                raise _error(item.event)
            return stream, None
        stream = act.stream  # type: ignore[union-attr]
        if stream.closed:  # (the transport closed meanwhile)
            raise _CLOSED_ERRORS.get(kind, ReadError)("the connection was closed")
        if kind is StartTLS:
            return stream.start_tls(act), None
        if kind is Write:
            parked = stream.write(act.data)  # type: ignore[union-attr]
            return None, (Effects(wake=tuple(parked)) if parked else None)
        elapsed = None
        if self.pace:
            elapsed = self.clock() - (self._start or 0.0)
        data = stream.read(act, elapsed)
        if type(data) is float:
            return None, Sleep(data)
        if data is None and kind is Read:  # a shared read, before the write it follows
            ticket = self._new_ticket()
            stream.park(ticket)
            return None, Park(ticket, act.timeout)  # type: ignore[union-attr]
        return data, None


_IO = (Connect, StartTLS, Write, Read, ReadReady)
_CLOSED_ERRORS: dict[type, type[TransportError]] = {StartTLS: ConnectError, Write: WriteError}
_WROTE = object()  # after a write's wake-ups: the write's result (None) goes in
_TIMED_OUT = object()  # after a paced read's wait cut at its timeout: ReadTimeout goes in


class ReplayExchange(Exchange):
    """An exchange whose I/O its engine's `Replay` performs: the interpreter sees only
    the rest (and the `Effects`, `Park` and `Sleep` a replay may add)."""

    __slots__ = ("_after",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._after: Any = None  # what the added action was for

    def send(self, result: Any = None) -> Action:
        after = self._after
        if after is None:
            return self._serve(super().send(result))
        self._after = None
        if after is _WROTE:
            return self._serve(super().send(None))
        if after is _TIMED_OUT:
            return self._serve(super().throw(ReadTimeout("timed out")))
        if result is False:  # a parked read's timeout passed
            return self._serve(super().throw(ReadTimeout("timed out")))
        return self._serve(after)  # the read again, after its Park or Sleep

    def throw(self, error: Exception) -> Action:
        self._after = None
        return self._serve(super().throw(error))

    def close(self) -> Action:
        return self._serve(super().close())

    def _serve(self, act: Action) -> Action:
        replay: Replay = self._engine._tape
        lock = self._engine._lock
        while type(act) in _IO:
            try:
                with lock:
                    result, first = replay.perform(act)
            except TransportError as exc:
                act = super().throw(exc)
                continue
            if first is not None:
                timeout = getattr(act, "timeout", None)
                if type(first) is Sleep and timeout is not None and first.seconds > timeout:
                    # A paced read that comes later than the read may wait: as live,
                    # the read times out (its own timeout, or a total deadline's cut).
                    self._after = _TIMED_OUT
                    return Sleep(timeout)
                self._after = _WROTE if type(act) is Write else act
                return first
            act = super().send(result)
        return act


# Under a total deadline: `_Timed` (after the class in the MRO) bounds the waits that the
# recording notes and the replay serves.
class _TimedRecordingExchange(RecordingExchange, _Timed):
    __slots__ = ()


class _TimedReplayExchange(ReplayExchange, _Timed):
    __slots__ = ()


def tape(engine: Engine, record: Recorder | None, replay: Recording | None) -> Any:
    """The engine's tape and exchange classes (`ExchangeKinds`) for ``record`` or
    ``replay`` (not both)."""
    if record is not None and replay is not None:
        raise ValueError("an engine either records or replays, not both")
    if record is not None:
        return record, (RecordingExchange, _TimedRecordingExchange)
    assert replay is not None
    replaying = Replay(replay, engine._clock, engine._new_ticket)
    return replaying, (ReplayExchange, _TimedReplayExchange)
