"""Server-sent events: the event-stream parser and the reconnection rules, with no I/O.

The API is httpx-sse's (`EventSource`, `ServerSentEvent`, `SSEError`), so code written for
it ports by changing an import; the shells add ``connect_sse`` / ``aconnect_sse``. The
parsing follows the WHATWG HTML standard, "9.2.6 Interpreting an event stream", exactly:

- UTF-8 with errors replaced; one byte order mark is skipped at the very start only.
- Lines end with CRLF, LF or CR, split anywhere between chunks. A blank line dispatches
  the event; a line starting with ``:`` is a comment; a line without a colon is a field
  name with an empty value; one space after the colon is dropped.
- ``data`` lines join with LF; ``event`` sets the type (``"message"`` when empty); ``id``
  sets the last event ID unless it holds NUL, and that ID persists across events;
  ``retry`` with ASCII digits only sets the reconnection time; other fields are ignored.
- An event whose data buffer is empty is not dispatched (its type is dropped all the same,
  and an ``id`` it carried still counts). At the end of the stream an unfinished event is
  discarded.

Theory of operation. `EventStreamParser` is an h11-style machine: `receive_data` only
queues bytes (``b""`` means the end of the stream), `next_event` parses until it has an
event or needs more. Every byte is scanned for line ends once, in the chunk it came in
(`bytes.splitlines`, which for bytes splits on CR, LF and CRLF only); a line cut between
chunks grows in one `bytearray`; a complete line is decoded once. Work is linear in the
input however it is split. Decoding whole lines gives the same text as decoding the
stream incrementally, because CR, LF and ``:`` are ASCII bytes that never occur inside a
UTF-8 sequence, valid or not.

Memory is bounded by ``max_event_size`` (`DEFAULT_MAX_EVENT_SIZE`): the event being
built (its ``data`` lines so far, plus the line being read) may not pass that many bytes,
or `EventTooLarge` is raised at that line, however the bytes were split. Comments are
skipped as they arrive and never held.

Reconnection (WHATWG HTML 9.2.3 and 9.2.4) is `Reconnect`: which ``Last-Event-ID`` to
send, whether a response is an event stream to read or the server's "stop" (204), which
failures are worth another connection, and how long to wait (the server's ``retry``,
else `DEFAULT_RECONNECTION_DELAY`, doubling while connections bring no event, capped by
`DEFAULT_MAX_RECONNECTION_DELAY`; at most `DEFAULT_MAX_RECONNECTS` in a row). The
shells hand `EventSource` a way to open a response and a sleep function; every decision
stays here.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    aclosing,
    closing,
)
from typing import Any, cast

from .exceptions import (
    NetworkError,
    RemoteProtocolError,
    RequestError,
    StreamError,
    TimeoutException,
    TransportError,
)
from .headers import Headers, HeaderTypes
from .models import Response

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_RECONNECTION_DELAY",
    "DEFAULT_MAX_RECONNECTS",
    "DEFAULT_RECONNECTION_DELAY",
    "EventSource",
    "EventStreamParser",
    "EventTooLarge",
    "Reconnect",
    "SSEError",
    "ServerSentEvent",
    "event_stream_headers",
]

# The largest event held while it is being built, in bytes of its lines. Real events are
# small; the big ones seen in practice (LLM APIs streaming base64 image parts) stay under
# a few MiB. 8 MiB is the bound `Response.iter_lines` puts on one line, so a stream that
# reads line by line also parses as events, while a server sending one endless event
# costs at most this much memory (about three times, counting the id and type buffers).
DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

# The reconnection time before the server sets one with ``retry``: "a few seconds" says
# the standard; Chrome and the eventsource npm package use 3 s (Firefox 5 s).
DEFAULT_RECONNECTION_DELAY = 3.0

# The longest wait between two connections, whatever the server's ``retry`` or the
# backoff says: a hostile ``retry: 99999999999`` must not park a client for years.
DEFAULT_MAX_RECONNECTION_DELAY = 300.0

# Reconnections in a row that bring no event before giving up with `SSEError`: with
# the default delay and its doubling, about a minute and a half of trying.
DEFAULT_MAX_RECONNECTS = 5

# ``retry`` values longer than 15 digits saturate to this (Python refuses to parse
# integers past 4300 digits, and no delay that long means anything).
_MAX_RETRY = 999_999_999_999_999

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D
_COLON = 0x3A

# The one place bytes are scanned for line ends (tests count the bytes that pass here).
_splitlines = bytes.splitlines


class SSEError(TransportError):
    """The response is not an event stream, or reading it failed (httpx-sse's error)."""


class EventTooLarge(SSEError):
    """An event grew past ``max_event_size`` bytes before its end."""


class ServerSentEvent:
    """One dispatched event: ``event`` (the type, ``"message"`` by default), ``data``,
    ``id`` (the last event ID when it was dispatched) and ``retry`` (milliseconds, when
    the event's own lines set one)."""

    __slots__ = ("_data", "_event", "_id", "_retry")

    def __init__(
        self,
        event: str | None = None,
        data: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> None:
        self._event = event or "message"
        self._data = data or ""
        self._id = id or ""
        self._retry = retry

    @property
    def event(self) -> str:
        return self._event

    @property
    def data(self) -> str:
        return self._data

    @property
    def id(self) -> str:
        return self._id

    @property
    def retry(self) -> int | None:
        return self._retry

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self._data)

    def _key(self) -> tuple[str, str, str, int | None]:
        return (self._event, self._data, self._id, self._retry)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        pieces = [f"event={self._event!r}"]
        if self._data:
            pieces.append(f"data={self._data!r}")
        if self._id:
            pieces.append(f"id={self._id!r}")
        if self._retry is not None:
            pieces.append(f"retry={self._retry!r}")
        return f"ServerSentEvent({', '.join(pieces)})"


def _check_limit(max_event_size: int | None) -> None:
    if max_event_size is not None and (
        isinstance(max_event_size, bool)
        or not isinstance(max_event_size, int)
        or max_event_size < 1
    ):
        raise ValueError(f"max_event_size must be a positive int or None, got {max_event_size!r}")


def _milliseconds(digits: bytes) -> int:
    return int(digits) if len(digits) <= len(str(_MAX_RETRY)) else _MAX_RETRY


class EventStreamParser:
    """Bytes of a ``text/event-stream`` body in, `ServerSentEvent` values out.

    ``last_event_id`` seeds the last event ID (the value a reconnection sent). Only
    conch exceptions leave it: `EventTooLarge` for an event past ``max_event_size``
    bytes (None: no limit), `StreamError` for data after the end.
    """

    __slots__ = (
        "_block_retry",
        "_chunks",
        "_comment",
        "_data",
        "_eof",
        "_event_type",
        "_head",
        "_id_buffer",
        "_index",
        "_last_event_id",
        "_limit",
        "_line",
        "_pieces",
        "_retry",
        "_size",
        "_skip_lf",
    )

    def __init__(
        self, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE, last_event_id: str = ""
    ) -> None:
        _check_limit(max_event_size)
        self._limit = max_event_size
        self._chunks: deque[bytes] = deque()  # received, not yet split into lines
        self._pieces: list[bytes] = []  # lines of the chunk being parsed, with their ends
        self._index = 0  # the next piece to parse
        self._line = bytearray()  # the start of a line cut between chunks
        self._comment = False  # the line cut between chunks is a comment: skip it
        self._skip_lf = False  # a CR ended the last line: an LF next is its CRLF
        self._head: bytes | None = b""  # the first bytes, while they may be a BOM
        self._eof = False
        self._data: list[str] = []
        self._size = 0  # bytes of the data lines of the event being built
        self._event_type = ""
        self._id_buffer = last_event_id
        self._last_event_id = last_event_id
        self._block_retry: int | None = None  # a retry field since the last blank line
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The last event ID as of the last blank line: what a reconnection sends."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time the server set last, in milliseconds (None: not set)."""
        return self._retry

    def receive_data(self, data: bytes) -> None:
        """Queue bytes of the stream; ``b""`` marks its end."""
        if self._eof:
            raise StreamError("The event stream has ended; no more data can be received.")
        if not data:
            self._eof = True
            return
        head = self._head
        if head is not None:
            # The UTF-8 decode of the standard drops one BOM, at the very start only.
            data = head + data
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._head = data
                return
            self._head = None
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                if not data:
                    return
        self._chunks.append(data)

    def next_event(self) -> ServerSentEvent | None:
        """The next complete event, or None when more data is needed (or the stream ended)."""
        pieces, index = self._pieces, self._index
        try:
            while True:
                if index == len(pieces):
                    if pieces:
                        # A CR that ended a chunk pairs with an LF that starts the next one.
                        self._skip_lf = pieces[-1][-1] == _CR
                        pieces = self._pieces = []
                        index = 0
                    if not self._chunks:
                        if self._eof:
                            self._discard()
                        return None
                    pieces = self._pieces = _splitlines(self._chunks.popleft(), True)
                    if self._skip_lf:
                        self._skip_lf = False
                        if pieces[0] == b"\n":
                            index = 1
                            continue
                piece = pieces[index]
                index += 1
                end = piece[-1]
                if end == _LF:
                    line = piece[:-2] if piece[-2:-1] == b"\r" else piece[:-1]
                elif end == _CR:
                    line = piece[:-1]
                else:
                    self._grow(piece)  # only the last piece of a chunk has no line end
                    continue
                if self._comment:
                    self._comment = False
                    continue
                if self._line:
                    self._line += line
                    line = bytes(self._line)
                    self._line = bytearray()
                event = self._process(line)
                if event is not None:
                    return event
        finally:
            self._index = index

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """`receive_data` then every complete event. On an error the events before it in
        ``data`` are lost: use `next_event` to get each one before the error."""
        self.receive_data(data)
        events = []
        while (event := self.next_event()) is not None:
            events.append(event)
        return events

    def _grow(self, piece: bytes) -> None:
        # The start of a line whose end has not arrived yet.
        if self._comment:
            return
        line = self._line
        if not line and piece[0] == _COLON:
            self._comment = True
            return
        self._check(len(line) + len(piece))
        line += piece

    def _check(self, line_size: int) -> None:
        limit = self._limit
        if limit is not None and self._size + line_size > limit:
            raise EventTooLarge(
                f"An event of the stream is larger than max_event_size={limit} bytes. Pass a "
                "larger max_event_size to iter_sse(), or None to remove the limit, if this "
                "server is trusted."
            )

    def _process(self, line: bytes) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == _COLON:
            return None
        self._check(len(line))
        # The colon is ASCII: splitting the bytes splits the decoded text the same way.
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
            self._size += len(line)
        elif name == b"event":
            self._event_type = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id_buffer = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII digits only
            self._retry = self._block_retry = _milliseconds(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._last_event_id = self._id_buffer
        event_type, self._event_type = self._event_type, ""
        retry, self._block_retry = self._block_retry, None
        if not self._data:
            return None
        data = "\n".join(self._data)
        self._data = []
        self._size = 0
        return ServerSentEvent(event_type, data, self._last_event_id, retry)

    def _discard(self) -> None:
        # The end of the stream: an unfinished event is dropped, never dispatched.
        self._data = []
        self._size = 0
        self._event_type = ""
        self._block_retry = None
        self._line = bytearray()
        self._comment = False


# -- requests and responses ------------------------------------------------------------------


def event_stream_headers(headers: HeaderTypes | None, last_event_id: str | None = None) -> Headers:
    """``headers`` plus those of an event-stream request: ``Accept: text/event-stream`` and
    ``Cache-Control: no-store`` (as httpx-sse sends), and ``Last-Event-ID`` set to
    ``last_event_id`` (removed when it is empty; None leaves the caller's)."""
    result = Headers(headers)
    result["Accept"] = "text/event-stream"
    result["Cache-Control"] = "no-store"
    if last_event_id:
        result["Last-Event-ID"] = last_event_id
    elif last_event_id is not None and "Last-Event-ID" in result:
        del result["Last-Event-ID"]
    return result


def _attach(response: Response, exc: RequestError) -> RequestError:
    request = response._request
    if request is not None:
        exc.request = request
    return exc


def _check_event_stream(response: Response) -> None:
    """Raise `SSEError` unless the response's Content-Type names ``text/event-stream``."""
    content_type = response.headers.get("content-type", "")
    for item in content_type.split(","):
        if item.partition(";")[0].strip().lower() == "text/event-stream":
            return
    raise _attach(
        response,
        SSEError(
            "Expected response header Content-Type to contain 'text/event-stream', "
            f"got {content_type!r}"
        ),
    )


class Reconnect:
    """What an event source does between connections: the state and the decisions.

    Pass one to ``iter_sse(reconnect=...)`` (``reconnect=True`` makes a default one) to
    read it afterwards: `last_event_id` is where the stream stopped.
    """

    __slots__ = ("attempts", "last_event_id", "max_delay", "max_reconnects", "reconnection_time")

    def __init__(
        self,
        *,
        max_reconnects: int | None = DEFAULT_MAX_RECONNECTS,
        delay: float = DEFAULT_RECONNECTION_DELAY,
        max_delay: float = DEFAULT_MAX_RECONNECTION_DELAY,
    ) -> None:
        if max_reconnects is not None and (
            isinstance(max_reconnects, bool)
            or not isinstance(max_reconnects, int)
            or max_reconnects < 0
        ):
            raise ValueError(f"max_reconnects must be an int >= 0 or None, got {max_reconnects!r}")
        if not 0 <= delay <= max_delay:
            raise ValueError(f"need 0 <= delay <= max_delay, got {delay!r} and {max_delay!r}")
        self.max_reconnects = max_reconnects
        self.max_delay = max_delay
        self.reconnection_time = delay  # seconds; the server's ``retry`` replaces it
        self.attempts = 0  # reconnections in a row that brought no event
        # None until a stream was read: the first request keeps the caller's header.
        self.last_event_id: str | None = None

    def accept(self, response: Response) -> bool:
        """Whether to read the response's events; False when the server says to stop.

        A 204 means "do not reconnect"; any other status but 200, or another content
        type, fails the event source (`SSEError`).
        """
        status = response.status_code
        if status == 204:
            return False
        if status != 200:
            raise _attach(
                response,
                SSEError(
                    f"Expected a 200 response to an event-stream request, got {status} "
                    f"{response.reason_phrase}"
                ),
            )
        _check_event_stream(response)
        return True

    def parser(self, response: Response, max_event_size: int | None) -> EventStreamParser:
        """A parser for the response's events, starting from the ID its request sent."""
        request = response._request
        sent = "" if request is None else request.headers.get("last-event-id", "")
        return EventStreamParser(max_event_size=max_event_size, last_event_id=sent)

    def received(self) -> None:
        """An event arrived: the connection was worth it."""
        self.attempts = 0

    def ended(self, parser: EventStreamParser) -> None:
        """A connection ended (fully read or failed): keep what its stream said."""
        self.last_event_id = parser.last_event_id
        if parser.retry is not None:
            self.reconnection_time = parser.retry / 1000

    def should_reconnect(self, error: TransportError) -> bool:
        """Whether a failure is the network's (try again) rather than a fault of ours or
        the stream's (raise)."""
        return isinstance(error, NetworkError | TimeoutException | RemoteProtocolError)

    def next_delay(self, error: TransportError | None = None) -> float:
        """Seconds to wait before the next connection; `SSEError` once attempts run out."""
        if self.max_reconnects is not None and self.attempts >= self.max_reconnects:
            raise SSEError(
                f"The event stream was lost, and max_reconnects={self.max_reconnects} "
                "reconnections in a row brought no event: giving up."
            ) from error
        # The standard allows backing off after failed attempts: double each time.
        delay = self.reconnection_time * 2.0 ** min(self.attempts, 32)
        self.attempts += 1
        return min(delay, self.max_delay)


# -- the event source ------------------------------------------------------------------------

Connect = Callable[[str | None], AbstractContextManager[Response]]
AsyncConnect = Callable[[str | None], AbstractAsyncContextManager[Response]]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


def _policy(reconnect: bool | Reconnect) -> Reconnect | None:
    if isinstance(reconnect, Reconnect):
        return reconnect
    return Reconnect() if reconnect else None


class EventSource:
    """The events of a response, as httpx-sse's ``EventSource``.

    `iter_sse` / `aiter_sse` raise `SSEError` when iteration starts if the response is
    not ``text/event-stream``. With ``reconnect=`` (only on a source from
    ``connect_sse`` / ``aconnect_sse``) a stream that ends or fails on the network is
    opened again, as `Reconnect` decides, and iteration goes on.
    """

    __slots__ = ("_aconnect", "_connect", "_response")

    def __init__(self, response: Response) -> None:
        self._response = response
        self._connect: tuple[Connect, Sleep] | None = None
        self._aconnect: tuple[AsyncConnect, AsyncSleep] | None = None

    @property
    def response(self) -> Response:
        """The response being read (after a reconnection, the latest)."""
        return self._response

    def _bind(self, connect: Connect, sleep: Sleep) -> None:
        """The sync shell's way to open the stream again, and to wait."""
        self._connect = (connect, sleep)

    def _abind(self, connect: AsyncConnect, sleep: AsyncSleep) -> None:
        """The async shell's way to open the stream again, and to wait."""
        self._aconnect = (connect, sleep)

    # -- sync --------------------------------------------------------------------------------

    def iter_sse(
        self,
        *,
        reconnect: bool | Reconnect = False,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> Iterator[ServerSentEvent]:
        """The events, as they arrive."""
        _check_limit(max_event_size)
        policy = _policy(reconnect)
        if policy is None:
            return self._iter_once(max_event_size)
        if self._connect is None:
            raise ValueError("reconnect needs an EventSource from connect_sse()")
        return self._iter_reconnecting(policy, max_event_size, *self._connect)

    def _iter_once(self, max_event_size: int | None) -> Iterator[ServerSentEvent]:
        response = self._response
        _check_event_stream(response)
        yield from _events(response, EventStreamParser(max_event_size=max_event_size))

    def _iter_reconnecting(
        self, policy: Reconnect, max_event_size: int | None, connect: Connect, sleep: Sleep
    ) -> Iterator[ServerSentEvent]:
        response: Response | None = self._response
        while True:
            error: TransportError | None = None
            with ExitStack() as stack:
                try:
                    if response is None:
                        response = stack.enter_context(connect(policy.last_event_id))
                        self._response = response
                    if not policy.accept(response):
                        return
                    parser = policy.parser(response, max_event_size)
                    try:
                        with closing(_events(response, parser)) as events:
                            for event in events:
                                policy.received()
                                yield event
                    finally:
                        policy.ended(parser)
                except TransportError as exc:
                    if not policy.should_reconnect(exc):
                        raise
                    error = exc
                finally:
                    if response is not None:
                        response.close()
            response = None
            sleep(policy.next_delay(error))

    # -- async -------------------------------------------------------------------------------

    def aiter_sse(
        self,
        *,
        reconnect: bool | Reconnect = False,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> AsyncGenerator[ServerSentEvent, None]:
        """The events, as they arrive (asyncio or trio)."""
        _check_limit(max_event_size)
        policy = _policy(reconnect)
        if policy is None:
            return self._aiter_once(max_event_size)
        if self._aconnect is None:
            raise ValueError("reconnect needs an EventSource from aconnect_sse()")
        return self._aiter_reconnecting(policy, max_event_size, *self._aconnect)

    async def _aiter_once(
        self, max_event_size: int | None
    ) -> AsyncGenerator[ServerSentEvent, None]:
        response = self._response
        _check_event_stream(response)
        parser = EventStreamParser(max_event_size=max_event_size)
        # Closed as soon as we stop: an async generator left to the garbage collector
        # is finalized late (trio warns about it).
        async with aclosing(_aevents(response, parser)) as events:
            async for event in events:
                yield event

    async def _aiter_reconnecting(
        self,
        policy: Reconnect,
        max_event_size: int | None,
        connect: AsyncConnect,
        sleep: AsyncSleep,
    ) -> AsyncGenerator[ServerSentEvent, None]:
        response: Response | None = self._response
        while True:
            error: TransportError | None = None
            async with AsyncExitStack() as stack:
                try:
                    if response is None:
                        response = await stack.enter_async_context(connect(policy.last_event_id))
                        self._response = response
                    if not policy.accept(response):
                        return
                    parser = policy.parser(response, max_event_size)
                    try:
                        async with aclosing(_aevents(response, parser)) as events:
                            async for event in events:
                                policy.received()
                                yield event
                    finally:
                        policy.ended(parser)
                except TransportError as exc:
                    if not policy.should_reconnect(exc):
                        raise
                    error = exc
                finally:
                    if response is not None:
                        await response.aclose()
            response = None
            await sleep(policy.next_delay(error))


def _events(
    response: Response, parser: EventStreamParser
) -> Generator[ServerSentEvent, None, None]:
    chunks = cast("Generator[bytes, None, None]", response.iter_bytes())
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                yield event
    except SSEError as exc:
        _attach(response, exc)
        raise
    finally:
        chunks.close()  # now, if the caller stopped early, not when garbage collected


async def _aevents(
    response: Response, parser: EventStreamParser
) -> AsyncGenerator[ServerSentEvent, None]:
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
    try:
        async for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                yield event
    except SSEError as exc:
        _attach(response, exc)
        raise
    finally:
        await chunks.aclose()  # now, not by the garbage collector (trio warns about that)
