"""Running an exchange: the loop every interpreter shares, less its I/O.

An interpreter of the engine (a shell's transport, `sansio.testing`, an embedder's
event loop) writes one handler per I/O action and hands the table to `drive` (blocking)
or `adrive` (async: each handler returns an awaitable). The loop is the same for all:

1. Perform each action with ``handlers[type(action)]`` and hand its result to the
   exchange (`Exchange.send`), or the `Exception` it raised (`Exchange.throw`), until the
   exchange hands out a body event (`ResponseHead`, `BodyChunk`, `EndOfBody`): that
   is returned.
2. A `BaseException` raised by a handler (a cancellation, KeyboardInterrupt) gets the
   exchange's cleanup (`Exchange.cancel`: `Effects` that never block, performed by
   ``handlers[Effects]``) before it goes on.
3. The request body is pulled here, not by a handler: `PullBody` takes the next chunk
   of ``body`` (``first``: from a fresh iterator, the previous one closed, for a
   retry). The iterator is closed when the loop returns or raises: a `ResponseHead`
   ends the upload, completed or abandoned. `adrive` takes a sync body too.

`respond` / `arespond` run a request up to its `Response`, whose body (`Body`,
`AsyncBody`) drives the rest of the exchange as it is read and closed. `check` says
which handlers a table lacks. The sync and async halves mirror each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

from sansio._typing_lite import Any, TypeAlias
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream, SyncByteStream

from .actions import (
    BodyChunk,
    BodyEvent,
    Checkpoint,
    Connect,
    Effects,
    EndOfBody,
    Park,
    PullBody,
    Read,
    ReadReady,
    Resolve,
    ResponseHead,
    Sleep,
    StartTLS,
    Trace,
    Write,
)
from .engine import Engine
from .exchange import Exchange

__all__ = [
    "HANDLED",
    "AsyncBody",
    "AsyncHandlers",
    "Body",
    "Handlers",
    "adrive",
    "arespond",
    "check",
    "drive",
    "respond",
]

Handlers: TypeAlias = Mapping[type, Callable[[Any], Any]]
AsyncHandlers: TypeAlias = Mapping[type, Callable[[Any], Awaitable[Any]]]

# The actions a table must handle: every I/O action but `PullBody` (the loop's own).
HANDLED = (Resolve, Connect, StartTLS, Write, Read, ReadReady, Checkpoint, Park, Sleep,
           Effects, Trace)  # fmt: skip


def check(handlers: Mapping[type, Any]) -> None:
    """Raise `TypeError` if ``handlers`` lacks an action of `HANDLED` (once, when an
    interpreter builds its table: a missing one would surface mid-exchange)."""
    missing = [kind.__name__ for kind in HANDLED if kind not in handlers]
    if missing:
        raise TypeError(f"no handler for {', '.join(missing)}")


# -- blocking -------------------------------------------------------------------------


def drive(ex: Exchange, act: Any, handlers: Handlers, body: Any = None) -> BodyEvent:
    """Perform ``act`` and what follows until the exchange hands out a body event
    (``body``: the request's byte stream, for `PullBody`)."""
    chunks: Iterator[bytes] | None = None
    try:
        while True:
            kind = type(act)
            if kind is ResponseHead or kind is BodyChunk or kind is EndOfBody:
                return act  # type: ignore[no-any-return]
            result: Any = None
            error: Exception | None = None
            try:
                if kind is PullBody:
                    if act.first:  # from the start (again, for a retry)
                        if chunks is not None:
                            _close(chunks)
                        chunks = iter(body)
                    result = next(chunks, None)  # type: ignore[arg-type]
                else:
                    result = handlers[kind](act)
            except Exception as exc:
                error = exc
            except BaseException:
                handlers[Effects](ex.cancel())
                raise
            act = ex.send(result) if error is None else ex.throw(error)
    finally:
        if chunks is not None:
            _close(chunks)


def respond(
    engine: Engine,
    request: Request,
    handlers: Handlers,
    network: Callable[[Exchange], Any] | None = None,
) -> Response:
    """``request`` on ``engine`` up to its response head; the `Response` reads the rest
    (``network``: the ``network_stream`` extension's object for an exchange)."""
    ex = engine.exchange(request)
    head = drive(ex, ex.send(None), handlers, request.stream)
    return ex.response(head, Body(ex, handlers), None if network is None else network(ex))  # type: ignore[arg-type]


def _close(chunks: Iterator[bytes]) -> None:
    # An upload cut short (early response, error, cancellation) leaves the body's
    # generator suspended: finish it now, not at garbage collection.
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


class Body(SyncByteStream):
    """A response body read through its exchange; closing it ends the exchange."""

    __slots__ = ("_ex", "_handlers")

    def __init__(self, ex: Exchange, handlers: Handlers) -> None:
        self._ex = ex
        self._handlers = handlers

    def __iter__(self) -> Body:
        return self

    def __next__(self) -> bytes:
        # A plain iterator, not a generator: nothing is left suspended when a reader
        # stops early (trio warns about such generators).
        ex = self._ex
        event = ex.send(None)
        if type(event) is not BodyChunk and type(event) is not EndOfBody:
            event = drive(ex, event, self._handlers)  # I/O first
        if type(event) is BodyChunk:
            return event.data
        raise StopIteration

    def close(self) -> None:
        act = self._ex.close()
        if type(act) is not EndOfBody:  # (HTTP/1.1 ends with no action at all)
            drive(self._ex, act, self._handlers)


# -- async ----------------------------------------------------------------------------


async def adrive(ex: Exchange, act: Any, handlers: AsyncHandlers, body: Any = None) -> BodyEvent:
    """`drive`, awaiting each handler."""
    chunks: AsyncIterator[bytes] | None = None
    try:
        while True:
            kind = type(act)
            if kind is ResponseHead or kind is BodyChunk or kind is EndOfBody:
                return act  # type: ignore[no-any-return]
            result: Any = None
            error: Exception | None = None
            try:
                if kind is PullBody:
                    if act.first:  # from the start (again, for a retry)
                        if chunks is not None:
                            await _aclose(chunks)
                        chunks = _aiter(body)
                    result = await anext(chunks, None)  # type: ignore[arg-type]
                else:
                    result = await handlers[kind](act)
            except Exception as exc:
                error = exc
            except BaseException:
                await handlers[Effects](ex.cancel())
                raise
            act = ex.send(result) if error is None else ex.throw(error)
    finally:
        if chunks is not None:
            await _aclose(chunks)


async def arespond(
    engine: Engine,
    request: Request,
    handlers: AsyncHandlers,
    network: Callable[[Exchange], Any] | None = None,
) -> Response:
    """`respond`, awaiting each handler."""
    ex = engine.exchange(request)
    head = await adrive(ex, ex.send(None), handlers, request.stream)
    return ex.response(head, AsyncBody(ex, handlers), None if network is None else network(ex))  # type: ignore[arg-type]


def _aiter(body: Any) -> AsyncIterator[bytes]:
    """A request body's chunks: an async stream as it is, a sync one (as the blocking
    client builds) through an async generator."""
    if hasattr(body, "__aiter__"):
        return aiter(body)
    return _from_sync(iter(body))


async def _from_sync(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk
    finally:
        _close(chunks)


async def _aclose(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


class AsyncBody(AsyncByteStream):
    """A response body read through its exchange; closing it ends the exchange."""

    __slots__ = ("_ex", "_handlers")

    def __init__(self, ex: Exchange, handlers: AsyncHandlers) -> None:
        self._ex = ex
        self._handlers = handlers

    def __aiter__(self) -> AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        ex = self._ex
        event = ex.send(None)
        if type(event) is not BodyChunk and type(event) is not EndOfBody:
            event = await adrive(ex, event, self._handlers)  # I/O first
        if type(event) is BodyChunk:
            return event.data
        raise StopAsyncIteration

    async def aclose(self) -> None:
        act = self._ex.close()
        if type(act) is not EndOfBody:
            await adrive(self._ex, act, self._handlers)
