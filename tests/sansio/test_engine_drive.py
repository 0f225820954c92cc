"""`sansio.engine.drive`: the loop every interpreter shares, with a table of handlers.

A blocking interpreter here is nothing but handlers over memory connections (whose
peers answer as soon as they are written to); the async one is `sansio.testing.Loop`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sansio.engine import Checkpoint, Connect, Effects, Engine, Read, ReadReady, Write
from sansio.engine.drive import HANDLED, AsyncBody, Body, Handlers, check, respond
from sansio.exceptions import ConnectError, ReadError
from sansio.models import Request
from sansio.streams import ByteStream, SyncByteStream
from sansio.testing import CLOSE, Loop, MemoryConnection, MemoryNetwork, MemoryTransport, http1_peer

from .test_engine import OK, REQUEST, response, scripted


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt in a blocking interpreter."""


class Blocking:
    """A blocking interpreter of memory connections: its handlers, and what it did."""

    def __init__(self, network: MemoryNetwork, interrupt: type | None = None) -> None:
        self.network = network
        self.interrupt = interrupt  # the action that raises `Interrupted`
        self.closed: list[MemoryConnection] = []
        self.handlers: Handlers = {
            **dict.fromkeys(HANDLED, self._unexpected),
            Connect: self._connect, Read: self._read, Write: self._write,
            ReadReady: lambda act: act.stream.read(), Checkpoint: lambda act: None,
            Effects: self._apply,
        }  # fmt: skip

    def _connect(self, act: Connect) -> MemoryConnection:
        return self.network.connect(act.host, act.port, act.uds)

    def _read(self, act: Read) -> bytes:
        if self.interrupt is Read:
            raise Interrupted
        try:
            data = act.stream.read()
        except ConnectionError as exc:
            raise ReadError(str(exc)) from exc
        assert data is not None, "the peer answers at once"
        return data  # type: ignore[no-any-return]

    def _write(self, act: Write) -> None:
        if self.interrupt is Write:
            raise Interrupted
        assert act.stream.write(act.data)

    def _apply(self, effects: Effects) -> None:
        for stream in effects.close:
            stream.close()
            self.closed.append(stream)
        for ticket in effects.wake:
            ticket.set()

    def _unexpected(self, act: Any) -> None:
        raise AssertionError(f"unexpected {act!r}")


class Upload(ByteStream):
    """A request body in memory (so it may be sent again) that counts the iterators it
    gave and how many were closed."""

    def __init__(self, *chunks: bytes) -> None:
        super().__init__(b"".join(chunks))
        self.chunks = chunks
        self.opened = self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        self.opened += 1
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            yield from self.chunks
        finally:
            self.closed += 1

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.opened += 1
        try:
            for chunk in self.chunks:
                yield chunk
        finally:
            self.closed += 1


class SyncOnly(SyncByteStream):
    """A body with no ``__aiter__`` (as the blocking client may build)."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.upload)


class ListBody(SyncByteStream):
    """A body whose iterator has nothing to close."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


def echo() -> Any:
    return http1_peer(lambda method, target, headers, body: (200, [], method + b" " + body))


def upload(*chunks: bytes, method: str = "POST") -> tuple[Request, Upload]:
    body = Upload(*chunks)
    headers = {"Host": "example.org", "Content-Length": str(sum(map(len, chunks)))}
    return Request(method, "http://example.org/", headers=headers, stream=body), body


def test_check_names_every_missing_handler() -> None:
    with pytest.raises(TypeError, match=r"^no handler for Resolve, Connect, .*, Trace$"):
        check({})
    with pytest.raises(TypeError, match=r"^no handler for Trace$"):
        check(dict.fromkeys(HANDLED[:-1], print))
    check(dict.fromkeys(HANDLED, print))


def test_a_blocking_interpreter_is_its_handlers() -> None:
    network = MemoryNetwork()
    network.listen("example.org", 80, echo())
    engine = Engine(clock=network.clock)
    io = Blocking(network)
    request, body = upload(b"ab", b"cd")
    r = respond(engine, request, io.handlers, network=lambda ex: ("network of", ex.network))
    assert isinstance(r.stream, Body)
    assert (r.status_code, r.read()) == (200, b"POST abcd")
    assert r.extensions["network_stream"] == ("network of", network.connections[0])
    assert (body.opened, body.closed) == (1, 1)
    r.close()
    r = respond(engine, Request("GET", "http://example.org/"), io.handlers)
    assert r.read() == b"GET "
    assert r.extensions["network_stream"] is network.connections[0]  # the same, kept alive
    r.close()
    assert io.closed == []
    stats = engine.statistics()
    assert (stats.active, stats.idle) == (0, 1)


def test_a_retry_pulls_the_body_again_from_a_fresh_iterator() -> None:
    network = MemoryNetwork()
    # The server reads the second request, then closes without answering: a PUT may be
    # sent again, on a fresh connection, its body from the start.
    peer = scripted((REQUEST, OK, REQUEST, CLOSE), (REQUEST, response(b"again")))
    network.listen("example.org", 80, peer)
    engine = Engine(clock=network.clock)
    io = Blocking(network)
    assert respond(engine, Request("GET", "http://example.org/"), io.handlers).read() == b"ok"
    request, body = upload(b"x", b"y", method="PUT")
    assert respond(engine, request, io.handlers).read() == b"again"
    assert (body.opened, body.closed) == (2, 2)
    assert len(network.connections) == 2


@pytest.mark.parametrize("kind", [Read, Write])
def test_an_interrupt_gets_the_exchange_cleanup_and_closes_the_upload(kind: type) -> None:
    network = MemoryNetwork()
    network.listen("example.org", 80, echo())
    engine = Engine(clock=network.clock)
    io = Blocking(network, interrupt=kind)
    request, body = upload(b"ab", b"cd")
    with pytest.raises(Interrupted):
        respond(engine, request, io.handlers)
    assert io.closed == network.connections  # the connection was cut: it goes
    assert (body.opened, body.closed) == (1, 1)  # (suspended after "ab" on a Write)
    stats = engine.statistics()
    assert (stats.connecting, stats.active, stats.idle) == (0, 0, 0)
    io.interrupt = None
    request, body = upload(b"ef")
    assert respond(engine, request, io.handlers).read() == b"POST ef"


def test_an_async_interpreter_takes_a_sync_upload() -> None:
    # What the blocking client builds (a sync stream) also goes through an async loop.
    network = MemoryNetwork()
    network.listen("example.org", 80, echo())
    loop = Loop(network)
    transport = MemoryTransport(loop)
    request, body = upload(b"ab", b"cd")
    request.stream = SyncOnly(body)

    async def main() -> bytes:
        r = await transport.handle_async_request(request)
        assert isinstance(r.stream, AsyncBody)
        return await r.aread()

    assert loop.run(main()) == b"POST abcd"
    assert (body.opened, body.closed) == (1, 1)


class AsyncChunks:
    """An async body iterator with nothing to close (no ``aclose``)."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)


def test_an_async_upload_without_aclose() -> None:
    network = MemoryNetwork()
    network.listen("example.org", 80, echo())
    loop = Loop(network)
    transport = MemoryTransport(loop)
    headers = {"Host": "example.org", "Content-Length": "2"}
    chunks = AsyncChunks(b"a", b"b")
    request = Request("PUT", "http://example.org/", headers=headers, stream=chunks)  # type: ignore[arg-type]

    async def main() -> bytes:
        return await (await transport.handle_async_request(request)).aread()

    assert loop.run(main()) == b"PUT ab"


def test_a_handler_error_goes_into_the_exchange() -> None:
    network = MemoryNetwork()  # nobody listens: Connect raises ConnectError
    io = Blocking(network)
    with pytest.raises(ConnectError, match="refused"):
        respond(Engine(clock=network.clock), Request("GET", "http://example.org/"), io.handlers)


def test_a_body_read_in_pieces_and_closed_early() -> None:
    network = MemoryNetwork()
    head = b"HTTP/1.1 200 X\r\nContent-Length: 4\r\n\r\n"
    peer = scripted(
        (REQUEST, head, b"ab", b"cd", REQUEST, head, b"ab", b"cd"), (REQUEST, head + b"abcd")
    )
    network.listen("example.org", 80, peer)
    engine = Engine(clock=network.clock)
    io = Blocking(network)
    request = Request("POST", "http://example.org/", stream=ListBody(b"ab"),
                      headers={"Host": "example.org", "Content-Length": "2"})  # fmt: skip
    r = respond(engine, request, io.handlers)
    assert list(r.iter_raw()) == [b"ab", b"cd"]  # each piece after a Read
    r.close()
    r = respond(engine, Request("GET", "http://example.org/"), io.handlers)
    r.close()  # unread: the connection cannot be reused, it is closed
    assert io.closed == network.connections[:1]
    assert respond(engine, Request("GET", "http://example.org/"), io.handlers).read() == b"abcd"


def test_an_async_retry_pulls_the_body_again() -> None:
    network = MemoryNetwork()
    peer = scripted((REQUEST, OK, REQUEST, CLOSE), (REQUEST, response(b"again")))
    network.listen("example.org", 80, peer)
    loop = Loop(network)
    transport = MemoryTransport(loop)
    request, body = upload(b"x", b"y", method="PUT")

    async def main() -> list[bytes]:
        first = await transport.handle_async_request(Request("GET", "http://example.org/"))
        read = [await first.aread()]
        second = await transport.handle_async_request(request)
        return [*read, await second.aread()]

    assert loop.run(main()) == [b"ok", b"again"]
    assert len(network.connections) == 2
    assert (body.opened, body.closed) == (2, 2)
