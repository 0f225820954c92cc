"""conch's core driven from a plain `selectors` loop: an example for library authors.

`sansio` does all of HTTP: `send_flow` (auth, redirects, cookies) and the exchange
`Engine` (pool, retries, HTTP/1.1 and HTTP/2 machines, multiplexing). What an embedder
writes is an interpreter of the engine's actions over its own I/O: here non-blocking
sockets, one `selectors.DefaultSelector` and a few coroutines, as in an event loop you
already own. Several requests run at once, HTTP/2 streams on one connection included.
It is a real client (the conformance suite runs every scenario through it), kept short
by leaving out TLS and user-defined auth flows::

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
from collections.abc import Coroutine, Generator
from typing import Any

from sansio import actions as act
from sansio import engine as e
from sansio import env
from sansio import exceptions as errors
from sansio.client import BaseClient
from sansio.config import USE_CLIENT_DEFAULT, Limits
from sansio.exchange import RECEIVE_SIZE
from sansio.flow import send_flow
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream

# The core reads no clock and no entropy by itself: give it ours (cookie expiry, Digest
# cnonces, multipart boundaries), unless whoever embeds this installed theirs first.
env.install_defaults(clock=time.monotonic, wall_clock=time.time, random_bytes=os.urandom,
                     environ={})  # fmt: skip


class Wait:
    """What a task awaits: a socket event, a woken ticket or a deadline (True unless timed out)."""

    def __init__(self, sock: Any = None, events: int = 0, ticket: Any = None,
                 timeout: float | None = None) -> None:  # fmt: skip
        self.sock, self.events, self.ticket = sock, events, ticket
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def __await__(self) -> Generator[Wait, bool, bool]:
        return (yield self)


class _AllDone:
    """A ticket that is woken once every task of a `Loop.gather` has ended."""

    def __init__(self, results: dict[Any, Any], coros: tuple[Any, ...]) -> None:
        self.results, self.coros = results, coros

    @property
    def woken(self) -> bool:
        return all(coro in self.results for coro in self.coros)


class Loop:
    """Coroutines on one selector. Every wait is a `Wait`; everything else runs at once."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.waiting: dict[Coroutine[Any, Any, Any], Wait | None] = {}
        self.results: dict[Coroutine[Any, Any, Any], tuple[Any, BaseException | None]] = {}

    def run(self, main: Coroutine[Any, Any, Any]) -> Any:
        self.waiting[main] = None
        while main not in self.results:
            # Ready: new tasks (sent None), and those whose ticket was woken (sent True).
            ready = [(coro, None if wait is None else True) for coro, wait in self.waiting.items()
                     if wait is None or (wait.ticket and wait.ticket.woken)]  # fmt: skip
            for coro, value in ready or self._select():
                try:
                    self.waiting[coro] = coro.send(value)
                    continue
                except StopIteration as done:
                    self.results[coro] = (done.value, None)
                except BaseException as exc:  # for whoever awaits that task
                    self.results[coro] = (None, exc)
                del self.waiting[coro]
        value, error = self.results.pop(main)
        if error is not None:
            raise error
        return value

    def _select(self) -> list[tuple[Any, bool]]:
        """Wait until a socket is ready or a deadline passes: who may go on, and whether
        what it waited for came (True) or its time ran out (False)."""
        waits = {coro: wait for coro, wait in self.waiting.items() if wait is not None}
        wanted: dict[Any, int] = {}
        for wait in waits.values():
            if wait.sock is not None:
                wanted[wait.sock] = wanted.get(wait.sock, 0) | wait.events
        for sock, events in wanted.items():
            self.selector.register(sock, events)
        deadlines = [wait.deadline for wait in waits.values() if wait.deadline is not None]
        timeout = max(min(deadlines) - time.monotonic(), 0) if deadlines else None
        try:
            fired = {key.fileobj: mask for key, mask in self.selector.select(timeout)}
        finally:
            for sock in wanted:
                self.selector.unregister(sock)
        now, ready = time.monotonic(), []
        for coro, wait in waits.items():
            if fired.get(wait.sock, 0) & wait.events:
                ready.append((coro, True))
            elif wait.deadline is not None and wait.deadline <= now:
                ready.append((coro, False))
        return ready

    async def gather(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        for coro in coros:
            self.waiting[coro] = None
        await Wait(ticket=_AllDone(self.results, coros))
        outcomes = [self.results.pop(coro) for coro in coros]
        for _, error in outcomes:
            if error is not None:
                raise error
        return [value for value, _ in outcomes]

    # -- the engine's actions on non-blocking sockets --------------------------------------

    async def drive(self, ex: e.Exchange, action: Any, request: Request | None = None) -> Any:
        """Perform actions until the exchange hands out a body event. The request body's
        iterator is closed then, or when the exchange raises: its upload is over."""
        body: Any = None
        try:
            while type(action) not in (e.ResponseHead, e.BodyChunk, e.EndOfBody):
                result, error = None, None
                try:
                    if type(action) is e.PullBody:
                        if action.first:  # from the start (again, for a retry)
                            await _aclose(body)
                            body = aiter(request.stream)  # type: ignore[union-attr, arg-type]
                        result = await anext(body, None)
                    else:
                        result = await self.perform(action)
                except Exception as exc:
                    error = exc
                except BaseException:  # a cancellation: the core says what to clean up
                    self.perform_effects(ex.cancel())
                    raise
                action = ex.send(result) if error is None else ex.throw(error)
            return action
        finally:
            await _aclose(body)

    async def perform(self, action: Any) -> Any:
        kind = type(action)
        if kind is e.Read:
            if not await Wait(action.stream, selectors.EVENT_READ, timeout=action.timeout):
                raise errors.ReadTimeout("timed out")
            return self.recv(action.stream) or b""
        if kind is e.Write:
            view = memoryview(action.data)
            while view:
                if not await Wait(action.stream, selectors.EVENT_WRITE, timeout=action.timeout):
                    raise errors.WriteTimeout("timed out")
                try:
                    view = view[action.stream.send(view) :]
                except OSError as exc:
                    raise errors.WriteError(str(exc)) from exc
            return None
        if kind is e.ReadReady:  # what is there now, without waiting
            return self.recv(action.stream)
        if kind is e.Park:
            return await Wait(ticket=action.ticket, timeout=action.timeout)
        if kind is e.Effects:
            return self.perform_effects(action)
        if kind is e.Sleep:
            return await Wait(timeout=action.seconds)
        if kind is e.Checkpoint:
            return None
        if kind is e.Connect:
            return await self.connect(action.host, action.port, action.timeout)
        raise errors.UnsupportedProtocol("this example speaks plain http only (no TLS)")

    @staticmethod
    def perform_effects(effects: e.Effects) -> None:
        for sock in effects.close:
            sock.close()
        for ticket in effects.wake:
            ticket.set()

    @staticmethod
    def recv(sock: socket.socket) -> bytes | None:
        try:
            return sock.recv(RECEIVE_SIZE)  # b"" at EOF
        except BlockingIOError:
            return None
        except OSError as exc:
            raise errors.ReadError(str(exc)) from exc

    async def connect(self, host: str, port: int, timeout: float | None) -> socket.socket:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise errors.ConnectError(str(exc)) from exc
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code == errno.EINPROGRESS:
            ready = await Wait(sock, selectors.EVENT_WRITE, timeout=timeout)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if ready else -1
        if code == -1:
            sock.close()
            raise errors.ConnectTimeout("timed out")
        if code:
            sock.close()
            raise errors.ConnectError(errno.errorcode.get(code, str(code)))
        return sock


class SelectorsClient(BaseClient):
    """`BaseClient`'s settings and request building, plus `send()` on the loop above."""

    def __init__(self, loop: Loop | None = None, *, limits: Limits | None = None,
                 http1: bool = True, http2: bool = False, retries: Any = 0,
                 **settings: Any) -> None:  # fmt: skip
        super().__init__(**settings)
        self.loop = loop or Loop()
        self.engine = e.Engine(clock=time.monotonic, http1=http1, http2=http2, retries=retries,
                             **({} if limits is None else {"limits": limits}))  # fmt: skip

    async def send(self, request: Request, *, stream: bool = False, auth: Any = USE_CLIENT_DEFAULT,
                   follow_redirects: Any = USE_CLIENT_DEFAULT) -> Response:  # fmt: skip
        options = self._send_options(request, stream=stream, auth=auth,
                                     follow_redirects=follow_redirects)  # fmt: skip
        flow = send_flow(request, options)
        result, error = None, None
        while True:  # the core decides; we perform and hand back the result or the error
            try:
                action = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            try:
                result, error = await self._perform(action), None
            except BaseException as exc:
                result, error = None, exc

    async def _perform(self, action: act.Action) -> Any:
        match action:
            case act.SendRequest(request):
                ex = self.engine.exchange(request)
                head = await self.loop.drive(ex, ex.send(None), request)
                return ex.response(head, _Body(self.loop, ex))
            case act.ReadResponse(response):
                return await response.aread()
            case act.DrainResponse(response, limit):
                return await response.adrain(limit)
            case act.CloseResponse(response):
                return await response.aclose()
            case act.ReadRequest(request):
                return await request.aread()
            case act.CallHooks(hooks, argument):
                return [hook(argument) for hook in hooks] and None
        raise NotImplementedError(f"{action!r}: user auth flows are left out of this example")

    def close(self) -> None:
        self.loop.perform_effects(self.engine.close())
        self.loop.selector.close()


async def _aclose(body: Any) -> None:
    if hasattr(body, "aclose"):
        await body.aclose()


class _Body(AsyncByteStream):
    """A response body: each chunk is one more stretch of the exchange's actions."""

    def __init__(self, loop: Loop, ex: e.Exchange) -> None:
        self.loop, self.ex = loop, ex

    async def __anext__(self) -> bytes:
        event = await self.loop.drive(self.ex, self.ex.send(None))
        if type(event) is e.BodyChunk:
            return event.data
        raise StopAsyncIteration

    def __aiter__(self) -> _Body:
        return self

    async def aclose(self) -> None:
        await self.loop.drive(self.ex, self.ex.close())


if __name__ == "__main__":
    h2c = sys.argv[1:2] == ["--h2c"]  # HTTP/2 by prior knowledge: the URLs share one connection
    client = SelectorsClient(follow_redirects=True, http1=not h2c, http2=h2c)

    async def fetch(url: str) -> str:
        response = await client.send(client.build_request("GET", url))
        return f"{response.status_code} {response.reason_phrase} {len(response.content)} bytes"

    urls = sys.argv[1 + h2c :]
    for line in client.loop.run(client.loop.gather(*(fetch(url) for url in urls))):
        print(line)
    client.close()
