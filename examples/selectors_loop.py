"""conch on a plain `selectors` loop: a guide for library authors.

The core's exchange `Engine` decides all of a request (pool, retries, HTTP/1.1 and
HTTP/2, streams taking turns on one connection) and asks for the I/O as actions; an
embedder writes their interpreter. Here: coroutines waiting on a `selectors` selector,
as in an event loop you already own, and non-blocking sockets (plain http: TLS is left
out). conch's `AsyncClient` (redirects, auth, cookies) awaits nothing but its transport,
so it runs on this loop too. Several requests run at once, and share one connection
over HTTP/2. The conformance suite runs every scenario through this client::

    python examples/selectors_loop.py http://example.org/ http://example.org/a
    python examples/selectors_loop.py --h2c http://localhost:8080/a http://localhost:8080/b
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any

from async_io import AsyncClient
from sansio import engine as e
from sansio import exceptions as errors
from sansio.config import DEFAULT_LIMITS
from sansio.exchange import RECEIVE_SIZE
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream
from sansio.transports import AsyncBaseTransport

Task = Coroutine[Any, Any, Any]
# A socket's OSError becomes the conch exception for the action that raised it.
ERRORS = {e.Connect: errors.ConnectError, e.Read: errors.ReadError,
          e.ReadReady: errors.ReadError, e.Write: errors.WriteError}  # fmt: skip


class Wait:
    """What a task awaits: a socket event, ``ready()`` coming true, or a timeout.
    The await gives True, or False if the time ran out first."""

    def __init__(self, sock: Any = None, events: int = 0, *, timeout: float | None = None,
                 ready: Callable[[], bool] | None = None) -> None:  # fmt: skip
        self.sock, self.events, self.ready = sock, events, ready
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def __await__(self) -> Generator[Wait, bool, bool]:
        return (yield self)


class Loop:
    """Tasks on one selector, and the engine's actions performed on its sockets."""

    def __init__(self) -> None:
        self.waits: dict[Task, Wait | None] = {}  # None: a task not started yet
        self.done: dict[Task, tuple[Any, BaseException | None]] = {}

    def run(self, main: Task) -> Any:
        self.waits[main] = None
        while main not in self.done:
            ready = [(task, None if w is None else True) for task, w in self.waits.items()
                     if w is None or (w.ready and w.ready())]  # fmt: skip
            for task, value in ready or self._select():
                try:
                    self.waits[task] = task.send(value)
                    continue
                except StopIteration as stop:
                    self.done[task] = (stop.value, None)
                except BaseException as exc:  # for whoever awaits that task
                    self.done[task] = (None, exc)
                del self.waits[task]
        value, error = self.done.pop(main)
        if error is not None:
            raise error
        return value

    def _select(self) -> list[tuple[Task, bool]]:
        """Block until a socket is ready or a deadline passes; who goes on, with what."""
        waits = [(task, w) for task, w in self.waits.items() if w is not None]
        events: dict[Any, int] = {}
        for _, w in waits:
            if w.sock is not None:
                events[w.sock] = events.get(w.sock, 0) | w.events
        deadlines = [w.deadline for _, w in waits if w.deadline is not None]
        timeout = max(min(deadlines) - time.monotonic(), 0) if deadlines else None
        with selectors.DefaultSelector() as selector:
            for sock, mask in events.items():
                selector.register(sock, mask)
            fired = {key.fileobj: mask for key, mask in selector.select(timeout)}
        now, ready = time.monotonic(), []
        for task, w in waits:
            if fired.get(w.sock, 0) & w.events:
                ready.append((task, True))
            elif w.deadline is not None and w.deadline <= now:
                ready.append((task, False))
        return ready

    async def gather(self, *tasks: Task) -> list[Any]:
        self.waits.update(dict.fromkeys(tasks))
        await Wait(ready=lambda: all(task in self.done for task in tasks))
        outcomes = [self.done.pop(task) for task in tasks]
        for _, error in outcomes:
            if error is not None:
                raise error
        return [value for value, _ in outcomes]

    # -- the interpreter ------------------------------------------------------------------

    async def drive(self, ex: e.Exchange, action: Any, request: Request | None = None) -> Any:
        """Perform the exchange's actions until it hands out a body event (`ResponseHead`,
        `BodyChunk`, `EndOfBody`). The request body is closed then: its upload is over."""
        body: Any = None
        try:
            while type(action) not in (e.ResponseHead, e.BodyChunk, e.EndOfBody):
                result: Any = None
                error: Exception | None = None
                try:
                    if type(action) is e.PullBody:
                        if action.first:  # from the start (again, for a retry)
                            await _aclose(body)
                            body = aiter(request.stream)  # type: ignore[union-attr, arg-type]
                        result = await anext(body, None)
                    else:
                        result = await self.perform(action)
                except OSError as exc:
                    error = ERRORS[type(action)](str(exc)) if type(action) in ERRORS else exc
                except Exception as exc:
                    error = exc
                except BaseException:  # a cancellation: the engine says what to clean up
                    self.apply(ex.cancel())
                    raise
                action = ex.send(result) if error is None else ex.throw(error)
            return action
        finally:
            await _aclose(body)

    async def perform(self, action: Any) -> Any:
        """One action; its result (the table in `sansio.engine.actions`)."""
        kind = type(action)
        sock: Any = getattr(action, "stream", None)
        if kind is e.Effects:
            return self.apply(action)
        if kind is e.Checkpoint:  # nothing is cancelled here
            return None
        if kind is e.Trace:  # a request's callback (the "informational" hooks'); no logging
            if action.callback is not None:
                await action.callback(action.name, action.info)
            return None
        if kind is e.ReadReady:  # what is there now: bytes, b"" at EOF, or None
            try:
                return sock.recv(RECEIVE_SIZE)
            except BlockingIOError:
                return None
        if kind is e.Read:
            if not await Wait(sock, selectors.EVENT_READ, timeout=action.timeout):
                raise errors.ReadTimeout("timed out")
            return sock.recv(RECEIVE_SIZE)
        if kind is e.Write:
            data = memoryview(action.data)
            while data:
                if not await Wait(sock, selectors.EVENT_WRITE, timeout=action.timeout):
                    raise errors.WriteTimeout("timed out")
                data = data[sock.send(data) :]
            return None
        if kind is e.Park:  # until some Effects wakes the ticket
            return await Wait(timeout=action.timeout, ready=lambda: action.ticket.woken)
        if kind is e.Sleep:
            return await Wait(timeout=action.seconds)
        if kind is not e.Connect:
            raise errors.UnsupportedProtocol("this example speaks plain http only (no TLS)")
        family, socktype, proto, _, address = socket.getaddrinfo(
            action.host, action.port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, socktype, proto)
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code == errno.EINPROGRESS:  # connecting: wait until the socket is writable
            if not await Wait(sock, selectors.EVENT_WRITE, timeout=action.timeout):
                sock.close()
                raise errors.ConnectTimeout("timed out")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            sock.close()
            raise OSError(code, os.strerror(code))
        return sock

    @staticmethod
    def apply(effects: e.Effects) -> None:
        """Close these sockets and wake these tickets: at once, never blocking."""
        for sock in effects.close:
            sock.close()
        for ticket in effects.wake:
            ticket.set()


class SelectorsTransport(AsyncBaseTransport):
    """An httpx-style transport: each request is an exchange on the engine, driven by the
    loop. ``settings`` are `Engine`'s: ``limits``, ``http1``, ``http2``, ``retries``..."""

    def __init__(self, loop: Loop, **settings: Any) -> None:
        self.loop = loop
        self.engine = e.Engine(clock=time.monotonic, **settings)

    async def handle_async_request(self, request: Request) -> Response:
        ex = self.engine.exchange(request)
        head = await self.loop.drive(ex, ex.send(None), request)
        return ex.response(head, _Body(self.loop, ex))

    async def aclose(self) -> None:
        self.loop.apply(self.engine.close())


class _Body(AsyncByteStream):
    """A response body: each chunk is one more stretch of the exchange's actions."""

    def __init__(self, loop: Loop, ex: e.Exchange) -> None:
        self.loop, self.ex = loop, ex

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while type(event := await self.loop.drive(self.ex, self.ex.send(None))) is e.BodyChunk:
            yield event.data

    async def aclose(self) -> None:  # the connection goes back, or the HTTP/2 stream ends
        await self.loop.drive(self.ex, self.ex.close())


async def _aclose(body: Any) -> None:
    if hasattr(body, "aclose"):
        await body.aclose()


class SelectorsClient(AsyncClient):
    """conch's `AsyncClient` on a `Loop` (``client.loop.run(client.get(url))``)."""

    def __init__(self, loop: Loop | None = None, *, limits: Any = DEFAULT_LIMITS,
                 http1: bool = True, http2: bool = False, retries: Any = 0,
                 **settings: Any) -> None:  # fmt: skip
        self.loop = loop or Loop()
        transport = SelectorsTransport(self.loop, limits=limits, http1=http1, http2=http2,
                                       retries=retries)  # fmt: skip
        super().__init__(transport=transport, **settings)

    def close(self) -> None:
        self.loop.run(self.aclose())


if __name__ == "__main__":
    h2c = sys.argv[1:2] == ["--h2c"]  # HTTP/2 by prior knowledge: the URLs share one connection
    client = SelectorsClient(follow_redirects=True, http1=not h2c, http2=h2c)

    async def fetch(url: str) -> str:
        response = await client.get(url)
        return f"{response.status_code} {response.reason_phrase} {len(response.content)} bytes"

    for line in client.loop.run(client.loop.gather(*map(fetch, sys.argv[1 + h2c :]))):
        print(line)
    client.close()
