"""conch on a plain `selectors` loop: a guide for library authors.

The core's exchange `Engine` decides all of a request (pool, retries, HTTP/1.1 and
HTTP/2, streams taking turns on one connection) and asks for the I/O as actions; the
loop around them is the core's too (`sansio.engine.drive`). An embedder writes one
handler per action: here, coroutines waiting on a `selectors` selector, as in an event
loop you already own, and non-blocking sockets (plain http: TLS is left out). conch's
`AsyncClient` (redirects, auth, cookies) awaits nothing but its transport, so it runs on
this loop too, several requests at once, sharing one connection over HTTP/2::

    python examples/selectors_loop.py http://example.org/ http://example.org/a
    python examples/selectors_loop.py --h2c http://localhost:8080/a http://localhost:8080/b
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any

from async_io import AsyncClient
from sansio import engine as e
from sansio import exceptions as errors
from sansio.engine.drive import AsyncHandlers, arespond, check
from sansio.exchange import RECEIVE_SIZE
from sansio.models import Request, Response
from sansio.transports import AsyncBaseTransport

Task = Coroutine[Any, Any, Any]


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
    """The scheduler: coroutines that await `Wait`, resumed as their sockets or time say."""

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
        deadlines = [w.deadline for _, w in waits if w.deadline is not None]
        timeout = max(min(deadlines) - time.monotonic(), 0) if deadlines else None
        with selectors.DefaultSelector() as selector:
            events: dict[Any, int] = {}
            for _, w in waits:
                if w.sock is not None:
                    events[w.sock] = events.get(w.sock, 0) | w.events
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


# -- the interpreter: one handler per action, its result as `sansio.engine.actions` says --


async def connect(act: e.Connect) -> socket.socket:
    with _raises(errors.ConnectError):
        info = socket.getaddrinfo(act.host, act.port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(*info[:3])
        sock.setblocking(False)
        code = sock.connect_ex(info[4])
        if code == errno.EINPROGRESS:  # connecting: wait until the socket is writable
            if not await Wait(sock, selectors.EVENT_WRITE, timeout=act.timeout):
                sock.close()
                raise errors.ConnectTimeout("timed out")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            sock.close()
            raise OSError(code, os.strerror(code))
        return sock


async def read(act: e.Read) -> bytes:
    if not await Wait(act.stream, selectors.EVENT_READ, timeout=act.timeout):
        raise errors.ReadTimeout("timed out")
    with _raises(errors.ReadError):
        return act.stream.recv(RECEIVE_SIZE)  # type: ignore[no-any-return]


async def read_ready(act: e.ReadReady) -> bytes | None:
    with _raises(errors.ReadError), contextlib.suppress(BlockingIOError):
        return act.stream.recv(RECEIVE_SIZE)  # type: ignore[no-any-return]
    return None  # nothing there now


async def write(act: e.Write) -> None:
    data = memoryview(act.data)
    while data:
        if not await Wait(act.stream, selectors.EVENT_WRITE, timeout=act.timeout):
            raise errors.WriteTimeout("timed out")
        with _raises(errors.WriteError):
            data = data[act.stream.send(data) :]


async def apply(effects: e.Effects) -> None:
    """Close these sockets and wake these tickets: at once, never blocking."""
    for sock in effects.close:
        sock.close()
    for ticket in effects.wake:
        ticket.set()


async def unsupported(act: Any) -> None:  # (a SOCKS4 proxy's Resolve: no proxies either)
    raise errors.UnsupportedProtocol("this example speaks plain http only (no TLS)")


async def nothing(act: Any) -> None:  # nothing is cancelled here
    return None


async def trace(act: e.Trace) -> None:  # a request's callback (the informational hooks')
    if act.callback is not None:
        await act.callback(act.name, act.info)


@contextlib.contextmanager
def _raises(error: type[Exception]) -> Iterator[None]:
    """A socket's OSError becomes the conch exception for the action that raised it."""
    try:
        yield
    except OSError as exc:
        raise error(str(exc)) from exc


HANDLERS: AsyncHandlers = {
    e.Connect: connect, e.Read: read, e.ReadReady: read_ready, e.Write: write,
    e.Park: lambda act: Wait(timeout=act.timeout, ready=lambda: act.ticket.woken),
    e.Sleep: lambda act: Wait(timeout=act.seconds), e.Effects: apply,
    e.Checkpoint: nothing, e.Trace: trace, e.Resolve: unsupported, e.StartTLS: unsupported,
}  # fmt: skip
check(HANDLERS)


class SelectorsTransport(AsyncBaseTransport):
    """An httpx-style transport: each request an exchange on the engine, performed by the
    handlers. ``settings`` are `Engine`'s: ``limits``, ``http1``, ``http2``, ``retries``..."""

    def __init__(self, **settings: Any) -> None:
        self.engine = e.Engine(clock=time.monotonic, **settings)

    async def handle_async_request(self, request: Request) -> Response:
        return await arespond(self.engine, request, HANDLERS)

    async def aclose(self) -> None:
        await apply(self.engine.close())


class SelectorsClient(AsyncClient):
    """conch's `AsyncClient` on a `Loop` (``client.loop.run(client.get(url))``)."""

    def __init__(self, loop: Loop | None = None, **settings: Any) -> None:
        self.loop = loop or Loop()
        engine = {
            k: settings.pop(k) for k in ("limits", "http1", "http2", "retries") if k in settings
        }
        super().__init__(transport=SelectorsTransport(**engine), **settings)

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
