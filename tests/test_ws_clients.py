"""`connect_ws` / `aconnect_ws` end to end, on the sync shell, asyncio and trio.

Two carriers, until the HTTP transports hand over connections after a 101:

- an in-memory network stream with wsproto in the server role behind it (`Peer`), answered
  through `MockTransport`: exact bytes, reads cut anywhere, ping/pong, close codes,
  compression, the size bound, keepalive, failures (it never waits: with nothing to read
  it reports the read timeout at once, so time never has to pass);
- `ASGITransport` with real ASGI apps (starlette's WebSocket routes) on asyncio and trio.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.lowlevel
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnect as StarletteDisconnect
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate

import async_io.ws
import conch
import sync_io.ws
from async_io import ASGITransport, AsyncClient
from async_io.ws import AsyncWebSocketSession, aconnect_ws
from sansio.exceptions import ReadError, ReadTimeout, WriteError
from sansio.models import Request, Response
from sansio.ws import (
    WebSocketDisconnect,
    WebSocketMessageTooLarge,
    WebSocketNetworkError,
    WebSocketUpgradeError,
    accept_value,
)
from sync_io import Client
from sync_io.transports import MockTransport
from sync_io.ws import Pong as SyncPong
from sync_io.ws import WebSocketSession, connect_ws

MASK = b"\x00\x01\x02\x03"  # every masking key, from the conftest's random source
MODES = ["sync", "asyncio", "trio"]


def masked(first: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return (
        bytes([first, 0x80 | len(payload)])
        + MASK
        + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    )


# -- the in-memory server ------------------------------------------------------------------


class Peer:
    """A WebSocket server in memory, seen through its network stream (httpcore's interface).

    What the client writes is parsed by wsproto in the server role; messages are echoed,
    pings answered (unless told not to), a Close answered and followed by the end of the
    stream. Reads give at most ``chunk`` bytes; with nothing to read they raise ReadTimeout
    at once (a read that would wait forever is a test bug)."""

    def __init__(
        self,
        *,
        chunk: int = 65536,
        answer_pings: bool = True,
        answer_close: bool = True,
        echo: bool = True,
        extensions: list[Any] | None = None,
    ) -> None:
        self.conn = Connection(ConnectionType.SERVER, extensions=extensions or [])
        self.chunk = chunk
        self.answer_pings = answer_pings
        self.answer_close = answer_close
        self.echo = echo
        self.pending = bytearray()
        self.written = bytearray()
        self.received: list[Event] = []
        self.write_timeouts: list[float | None] = []
        self.eof = False
        self.closed = False
        self.read_error: BaseException | None = None
        self.write_error: BaseException | None = None
        self.on_ping: Callable[[Peer], None] | None = None

    def send(self, *events: Event) -> None:
        for event in events:
            self.pending += self.conn.send(event)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.read_error is not None:
            raise self.read_error
        if self.pending:
            data = bytes(self.pending[: min(max_bytes, self.chunk)])
            del self.pending[: len(data)]
            return data
        if self.eof:
            return b""
        assert timeout is not None, "the client would wait forever"
        raise ReadTimeout("timed out")

    def write(self, data: bytes, timeout: float | None = None) -> None:
        if self.write_error is not None:
            raise self.write_error
        assert not self.closed
        self.written += data
        self.write_timeouts.append(timeout)
        self.conn.receive_data(data)
        for event in self.conn.events():
            self.received.append(event)
            if isinstance(event, Ping):
                if self.answer_pings:
                    self.send(event.response())
                if self.on_ping is not None:
                    self.on_ping(self)
            elif isinstance(event, CloseConnection):
                if self.answer_close and self.conn.state is ConnectionState.REMOTE_CLOSING:
                    self.send(event.response())
                    self.eof = True
            elif isinstance(event, TextMessage | BytesMessage) and self.echo:
                self.send(event)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return bool(self.pending) or self.eof if name == "is_readable" else None


class AsyncPeer(Peer):
    """`Peer` with the async stream interface."""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # type: ignore[override]
        return Peer.read(self, max_bytes, timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:  # type: ignore[override]
        Peer.write(self, data, timeout)

    async def aclose(self) -> None:
        Peer.close(self)


def upgrade(
    peer: Peer, seen: list[Request] | None = None, *extra: tuple[str, str], status: int = 101
) -> MockTransport:
    """A transport answering each handshake with a 101 whose network stream is ``peer``."""

    def handler(request: Request) -> Response:
        if seen is not None:
            seen.append(request)
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_value(request.headers["sec-websocket-key"])),
            *extra,
        ]
        return Response(status, headers=headers, extensions={"network_stream": peer})

    return MockTransport(handler)


class SyncAsAsync:
    """A sync session (or `Pong`) seen through awaitable methods, so one scenario runs on
    every shell."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute) or name in ("is_set", "set"):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return SyncAsAsync(result) if isinstance(result, SyncPong) else result

        return call


@asynccontextmanager
async def opened(
    mode: str, transport: Any, url: str = "ws://a.test/ws", **kwargs: Any
) -> AsyncIterator[Any]:
    if mode == "sync":
        with Client(transport=transport) as client, connect_ws(url, client, **kwargs) as ws:
            yield SyncAsAsync(ws)
    else:
        async with (
            AsyncClient(transport=transport) as client,
            aconnect_ws(url, client, **kwargs) as ws,
        ):
            yield ws


def run(mode: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    if mode == "trio":
        return trio.run(fn)
    return asyncio.run(fn())  # type: ignore[arg-type]


def make_peer(mode: str, **options: Any) -> Peer:
    return Peer(**options) if mode == "sync" else AsyncPeer(**options)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the in-memory server: scenarios on every shell ------------------------------------


def test_echo_session(mode: str) -> None:
    peer, seen = make_peer(mode), []

    async def main() -> None:
        transport = upgrade(peer, seen, ("Sec-WebSocket-Protocol", "chat"))
        async with opened(mode, transport, "ws://a.test/ws?x=1", subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response.status_code == 101
            await ws.send_text("hello")
            assert await ws.receive_text() == "hello"
            await ws.send_bytes(b"\x00\xff")
            assert await ws.receive_bytes() == b"\x00\xff"
            await ws.send_json({"a": [1]})
            assert await ws.receive_json() == {"a": [1]}
            await ws.send_json([2], mode="binary")
            assert await ws.receive_json(mode="binary") == [2]
            await ws.send(BytesMessage(b"raw"))
            assert await ws.receive() == BytesMessage(b"raw")
        assert peer.closed

    run(mode, main)
    [request] = seen
    assert request.method == "GET"
    assert str(request.url) == "http://a.test/ws?x=1"
    assert request.headers["upgrade"] == "websocket"
    assert request.headers["sec-websocket-protocol"] == "chat"
    assert bytes(peer.written).startswith(masked(0x81, b"hello"))
    assert peer.received[-1] == CloseConnection(1000, "")


def test_refused_upgrade(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        with pytest.raises(WebSocketUpgradeError) as caught:
            async with opened(mode, upgrade(peer, None, status=403)):
                pass  # pragma: no cover - not reached
        assert caught.value.response.status_code == 403

    run(mode, main)
    assert peer.written == b""


def test_bad_accept_is_refused(mode: str) -> None:
    def handler(request: Request) -> Response:
        return Response(101, headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")])

    async def main() -> None:
        with pytest.raises(WebSocketUpgradeError, match="Sec-WebSocket-Accept"):
            async with opened(mode, MockTransport(handler)):
                pass  # pragma: no cover - not reached

    run(mode, main)


def test_one_byte_reads(mode: str) -> None:
    peer = make_peer(mode, chunk=1)
    peer.send(TextMessage("fra", message_finished=False), Ping(b"p"), TextMessage("g\u00e9"))

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            assert await ws.receive() == TextMessage("frag\u00e9")

    run(mode, main)
    assert peer.received[:1] == [Pong(b"p")]


def test_server_ping_is_answered_before_a_send(mode: str) -> None:
    peer = make_peer(mode, echo=False)
    peer.send(Ping(b"srv"))

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            await ws.send_text("one")
            await ws.send_text("two")

    run(mode, main)
    assert peer.received[:3] == [Pong(b"srv"), TextMessage("one"), TextMessage("two")]


def test_ping_and_wait_for_the_pong(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            pong = await ws.ping(b"me")
            assert not pong.is_set()
            assert await pong.wait(5) is True
            assert pong.is_set()
            assert await pong.wait() is True  # already there
            peer.answer_pings = False
            assert await (await ws.ping()).wait(5) is False

    run(mode, main)
    assert peer.received[0] == Ping(b"me")


def test_pong_wait_keeps_messages_for_receive(mode: str) -> None:
    peer = make_peer(mode, echo=False)
    peer.send(TextMessage("early"))

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            assert await (await ws.ping(b"x")).wait(5)
            assert await ws.receive_text() == "early"

    run(mode, main)


def test_server_closes(mode: str) -> None:
    peer = make_peer(mode)
    peer.send(TextMessage("last"), CloseConnection(4001, "bye"))

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            assert await ws.receive_text() == "last"
            with pytest.raises(WebSocketDisconnect) as caught:
                await ws.receive_text()
            assert (caught.value.code, caught.value.reason) == (4001, "bye")
            assert peer.closed  # closed at once, after the answering Close
            with pytest.raises(WebSocketDisconnect):
                await ws.send_text("late")

    run(mode, main)
    assert peer.received == [CloseConnection(4001, "")]


def test_end_of_stream_without_close(mode: str) -> None:
    peer = make_peer(mode)
    peer.eof = True

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            with pytest.raises(WebSocketNetworkError, match="without a Close frame"):
                await ws.receive()

    run(mode, main)
    assert peer.closed


def test_receive_timeout_leaves_the_session_usable(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        async with opened(mode, upgrade(peer), keepalive_ping_interval_seconds=None) as ws:
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.5)
            await ws.send_text("still here")
            assert await ws.receive_text(timeout=0.5) == "still here"

    run(mode, main)


def test_keepalive_pings_while_receiving(mode: str) -> None:
    peer = make_peer(mode, echo=False)
    peer.on_ping = lambda p: p.send(TextMessage("after the ping"))

    async def main() -> None:
        async with opened(mode, upgrade(peer), keepalive_ping_interval_seconds=5) as ws:
            assert await ws.receive_text() == "after the ping"

    run(mode, main)
    assert isinstance(peer.received[0], Ping)


def test_keepalive_without_pong_fails(mode: str) -> None:
    peer = make_peer(mode, answer_pings=False)

    async def main() -> None:
        async with opened(
            mode,
            upgrade(peer),
            keepalive_ping_interval_seconds=5,
            keepalive_ping_timeout_seconds=5,
        ) as ws:
            with pytest.raises(WebSocketNetworkError, match="keepalive"):
                await ws.receive()
            assert peer.closed

    run(mode, main)
    assert peer.received[1:] == [CloseConnection(1011, "keepalive ping timeout")]


def test_size_limit_at_and_past(mode: str) -> None:
    peer = make_peer(mode)
    peer.send(BytesMessage(b"x" * 10), BytesMessage(b"y" * 11))

    async def main() -> None:
        async with opened(mode, upgrade(peer), max_message_size_bytes=10) as ws:
            assert await ws.receive_bytes() == b"x" * 10
            with pytest.raises(WebSocketMessageTooLarge) as caught:
                await ws.receive_bytes()
            assert caught.value.code == 1009

    run(mode, main)
    assert peer.received == [CloseConnection(1009, "a message passed max_message_size (10 bytes)")]


def test_compression(mode: str) -> None:
    extension = PerMessageDeflate()
    answer = extension.accept("permessage-deflate; client_max_window_bits")
    peer = make_peer(mode, extensions=[extension])
    seen: list[Request] = []
    header = ("Sec-WebSocket-Extensions", f"permessage-deflate; {answer}")

    async def main() -> None:
        async with opened(mode, upgrade(peer, seen, header), compression=True) as ws:
            await ws.send_text("compress me " * 1000)
            assert await ws.receive_text() == "compress me " * 1000

    run(mode, main)
    offer = seen[0].headers["sec-websocket-extensions"]
    assert offer == "permessage-deflate; client_max_window_bits"
    assert len(peer.written) < 200


def test_write_failure(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            peer.write_error = WriteError("broken pipe")
            with pytest.raises(WebSocketNetworkError) as caught:
                await ws.send_text("x")
            assert isinstance(caught.value.__cause__, WriteError)
            with pytest.raises(WebSocketNetworkError):
                await ws.receive()
        # leaving the block closed it without raising

    run(mode, main)
    assert peer.closed


class Interrupt(BaseException):
    """Stands for a cancellation or Ctrl-C in the middle of a write."""


def test_interrupted_write_leaves_the_session_failed(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            peer.write_error = Interrupt()
            with pytest.raises(Interrupt):
                await ws.send_text("cut")
            peer.write_error = None
            with pytest.raises(WebSocketNetworkError, match="Interrupt"):
                await ws.send_text("after")  # the frame may have been cut

    run(mode, main)
    assert peer.written == b""
    assert peer.closed


def test_read_failure(mode: str) -> None:
    peer = make_peer(mode)
    peer.read_error = ReadError("reset")

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            with pytest.raises(WebSocketNetworkError) as caught:
                await ws.receive()
            assert isinstance(caught.value.__cause__, ReadError)

    run(mode, main)


def test_close_does_not_wait_forever_for_the_server(mode: str) -> None:
    peer = make_peer(mode, answer_close=False)

    async def main() -> None:
        async with opened(mode, upgrade(peer), close_timeout_seconds=0.5) as ws:
            await ws.close(4000, "enough")
            with pytest.raises(WebSocketDisconnect, match="4000: enough"):
                await ws.send_text("late")

    run(mode, main)
    assert peer.closed
    assert peer.received == [CloseConnection(4000, "enough")]


def test_leaving_with_an_exception_closes_with_1011(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        with pytest.raises(KeyError):
            async with opened(mode, upgrade(peer)):
                raise KeyError("app bug")

    run(mode, main)
    assert peer.received == [CloseConnection(1011, "")]
    assert peer.closed


def test_invalid_close_code_leaves_the_session_open(mode: str) -> None:
    peer = make_peer(mode)

    async def main() -> None:
        async with opened(mode, upgrade(peer)) as ws:
            with pytest.raises(ValueError, match="close code"):
                await ws.close(1006)
            assert not peer.closed
            await ws.send_text("fine")
            assert await ws.receive_text() == "fine"

    run(mode, main)


def test_headers_and_write_timeout_reach_the_transport(mode: str) -> None:
    peer, seen = make_peer(mode), []

    async def main() -> None:
        async with opened(mode, upgrade(peer, seen), headers={"X-Trace": "1"}, timeout=7.0) as ws:
            await ws.send_text("x")

    run(mode, main)
    assert seen[0].headers["x-trace"] == "1"
    assert peer.write_timeouts[0] == 7.0


def test_session_class(mode: str) -> None:
    peer = make_peer(mode)
    base = WebSocketSession if mode == "sync" else AsyncWebSocketSession

    class Mine(base):  # type: ignore[valid-type,misc]
        pass

    async def main() -> None:
        async with opened(mode, upgrade(peer), session_class=Mine) as ws:
            target = ws._target if mode == "sync" else ws
            assert type(target) is Mine

    run(mode, main)


def test_connect_without_a_client_opens_one(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    peer = make_peer(mode)
    made: list[Any] = []

    def client() -> Any:
        made.append((Client if mode == "sync" else AsyncClient)(transport=upgrade(peer)))
        return made[-1]

    monkeypatch.setattr(sync_io.ws, "Client", client)
    monkeypatch.setattr(async_io.ws, "AsyncClient", client)

    async def main() -> None:
        if mode == "sync":
            with connect_ws("ws://a.test/") as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "hi"
        else:
            async with aconnect_ws("ws://a.test/") as ws:
                await ws.send_text("hi")
                assert await ws.receive_text() == "hi"

    run(mode, main)
    assert made[0].is_closed


# -- threads share a sync session --------------------------------------------------------


class BlockingPeer(Peer):
    """`Peer` whose reads wait (really) until bytes come or the timeout passes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.changed = threading.Condition()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with self.changed:
            if not self.changed.wait_for(lambda: self.pending or self.eof, timeout):
                raise ReadTimeout("timed out")
            return super().read(max_bytes, timeout)

    def write(self, data: bytes, timeout: float | None = None) -> None:
        with self.changed:
            super().write(data, timeout)
            self.changed.notify_all()


def test_threads_take_turns_reading() -> None:
    peer = BlockingPeer()
    got: list[str] = []
    with (
        Client(transport=upgrade(peer)) as client,
        connect_ws("ws://a.test/", client, keepalive_ping_interval_seconds=None) as ws,
    ):
        first = threading.Thread(target=lambda: got.append(ws.receive_text(timeout=30)))
        first.start()
        while not ws._reading:  # the first thread holds the read
            threading.Event().wait(0.001)
        # A second reader waits for the first one's progress, and may give up.
        with pytest.raises(TimeoutError):
            ws.receive(timeout=0.01)
        ws.send_text("one")
        first.join(30)
        ws.send_text("two")
        got.append(ws.receive_text(timeout=30))
    assert got == ["one", "two"]


def test_threads_share_a_session() -> None:
    peer = BlockingPeer(echo=False)
    got: list[str] = []
    with (
        Client(transport=upgrade(peer)) as client,
        connect_ws("ws://a.test/", client, keepalive_ping_interval_seconds=None) as ws,
    ):
        receiver = threading.Thread(target=lambda: got.append(ws.receive_text(timeout=30)))
        receiver.start()
        # The receiver holds the read: the pong reaches this thread through its progress.
        assert ws.ping(b"from main").wait(30)
        with peer.changed:
            peer.send(TextMessage("for the receiver"))
            peer.changed.notify_all()
        receiver.join(30)
    assert got == ["for the receiver"]


# -- ASGI apps in process (asyncio and trio) ---------------------------------------------

events: list[Any] = []


async def echo(websocket: WebSocket) -> None:
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol=offered[0] if offered else None)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                events.append(("disconnect", message["code"]))
                return
            if message.get("text") == "close please":
                await websocket.close(4000, "as asked")
                return
            if message.get("text") == "fail please":
                raise ValueError("the app broke")
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except StarletteDisconnect as exc:  # pragma: no cover - starlette's receive_text path
        events.append(("disconnect", exc.code))


async def refuse(websocket: WebSocket) -> None:
    await websocket.close()


async def deny(websocket: WebSocket) -> None:
    await websocket.send_denial_response(PlainTextResponse("who are you?", status_code=401))


async def fail_early(websocket: WebSocket) -> None:
    raise ValueError("before accepting")


async def forget(websocket: WebSocket) -> None:
    return


async def hang(websocket: WebSocket) -> None:
    await websocket.receive()  # the connect message
    await websocket.receive()  # nothing more comes before the client gives up


async def leave(websocket: WebSocket) -> None:
    await websocket.accept()


APP = Starlette(
    routes=[
        WebSocketRoute("/echo", echo),
        WebSocketRoute("/refuse", refuse),
        WebSocketRoute("/deny", deny),
        WebSocketRoute("/fail-early", fail_early),
        WebSocketRoute("/forget", forget),
        WebSocketRoute("/hang", hang),
        WebSocketRoute("/leave", leave),
    ]
)

LIBRARIES = ["asyncio", "trio"]


@pytest.fixture(params=LIBRARIES)
def library(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def checkpoint(library: str) -> None:
    if library == "trio":
        await trio.lowlevel.checkpoint()
    else:
        await asyncio.sleep(0)


@asynccontextmanager
async def asgi(raise_app_exceptions: bool = True) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(APP, raise_app_exceptions=raise_app_exceptions)
    async with AsyncClient(transport=transport, base_url="http://app.test") as client:
        yield client


def test_asgi_echo_and_client_close(library: str) -> None:
    events.clear()

    async def main() -> None:
        async with asgi() as client:
            async with aconnect_ws(
                "ws://app.test/echo", client, subprotocols=["chat", "x"], compression=True
            ) as ws:
                assert ws.subprotocol == "chat"
                assert "sec-websocket-extensions" not in ws.response.headers  # declined
                await ws.send_text("h\u00e9")
                assert await ws.receive_text() == "h\u00e9"
                await ws.send_bytes(b"\x00" * 70000)
                assert await ws.receive_bytes() == b"\x00" * 70000
                assert await (await ws.ping()).wait(5)
                await ws.close(4321, "done")
            # the app hears of the close and finishes
            for _ in range(100):
                if events:
                    break
                await checkpoint(library)
            assert events == [("disconnect", 4321)]
            assert (await client.get("/missing")).status_code == 404  # plain HTTP still works

    run(library, main)


def test_asgi_server_closes(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/echo", client) as ws:
            await ws.send_text("close please")
            with pytest.raises(WebSocketDisconnect) as caught:
                await ws.receive_text()
            assert (caught.value.code, caught.value.reason) == (4000, "as asked")

    run(library, main)


def test_asgi_app_that_returns_closes_with_1000(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/leave", client) as ws:
            with pytest.raises(WebSocketDisconnect) as caught:
                await ws.receive_text()
            assert caught.value.code == 1000

    run(library, main)


@pytest.mark.parametrize(("path", "status"), [("/refuse", 403), ("/deny", 401)])
def test_asgi_refusals(library: str, path: str, status: int) -> None:
    async def main() -> None:
        async with asgi() as client:
            with pytest.raises(WebSocketUpgradeError) as caught:
                async with aconnect_ws(f"ws://app.test{path}", client):
                    pass  # pragma: no cover - not reached
            assert caught.value.response.status_code == status

    run(library, main)


def test_asgi_app_error_after_accepting(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/echo", client) as ws:
            await ws.send_text("fail please")
            with pytest.raises(ValueError, match="the app broke"):
                await ws.receive_text()
        async with (
            asgi(raise_app_exceptions=False) as client,
            aconnect_ws("ws://app.test/echo", client) as ws,
        ):
            await ws.send_text("fail please")
            with pytest.raises(WebSocketDisconnect) as caught:
                await ws.receive_text()
            assert caught.value.code == 1011

    run(library, main)


@pytest.mark.parametrize(
    ("path", "error"), [("/fail-early", ValueError), ("/forget", RuntimeError)]
)
def test_asgi_app_ends_before_answering(library: str, path: str, error: type[Exception]) -> None:
    async def main() -> None:
        async with asgi() as client:
            with pytest.raises(error):
                async with aconnect_ws(f"ws://app.test{path}", client):
                    pass  # pragma: no cover - not reached
        async with asgi(raise_app_exceptions=False) as client:
            with pytest.raises(WebSocketUpgradeError) as caught:
                async with aconnect_ws(f"ws://app.test{path}", client):
                    pass  # pragma: no cover - not reached
            assert caught.value.response.status_code == 500

    run(library, main)


def test_asgi_app_that_never_answers_times_out(library: str) -> None:
    async def main() -> None:
        for raising in (True, False):
            async with asgi(raise_app_exceptions=raising) as client:
                with pytest.raises(ReadTimeout):
                    async with aconnect_ws("ws://app.test/hang", client, timeout=0.05):
                        pass  # pragma: no cover - not reached

    run(library, main)


def test_asgi_invalid_handshake_is_400(library: str) -> None:
    async def main() -> None:
        async with asgi() as client:
            response = await client.get("/echo", headers={"Upgrade": "websocket"})
            assert response.status_code == 400

    run(library, main)


def test_asgi_scope() -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await receive()
        await send({"type": "websocket.accept", "headers": [(b"x-app", b"1")]})

    async def main() -> None:
        transport = ASGITransport(app, root_path="/root", client=("1.2.3.4", 5))
        async with (
            AsyncClient(transport=transport) as client,
            aconnect_ws("wss://app.test/p%20q?a=1", client, subprotocols=["s1", "s2"]) as ws,
        ):
            assert ws.subprotocol is None
            assert ws.response.headers["x-app"] == "1"

    trio.run(main)
    [scope] = scopes
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "wss"
    assert scope["path"] == "/p q"
    assert scope["raw_path"] == b"/p%20q"
    assert scope["query_string"] == b"a=1"
    assert scope["root_path"] == "/root"
    assert scope["client"] == ("1.2.3.4", 5)
    assert scope["server"] == ("app.test", 443)
    assert scope["subprotocols"] == ["s1", "s2"]
    assert "method" not in scope
    assert (b"sec-websocket-version", b"13") in scope["headers"]


def test_asgi_tasks_share_a_session(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/echo", client) as ws:
            got: list[str] = []

            async def receiver() -> None:
                got.append(await ws.receive_text(timeout=30))

            async def pinger() -> None:
                # The receiver holds the read; the pong reaches us through its progress.
                assert await (await ws.ping(b"x")).wait(30)
                await ws.send_text("echoed to the receiver")

            if library == "trio":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(receiver)
                    nursery.start_soon(pinger)
            else:
                async with asyncio.TaskGroup() as group:
                    group.create_task(receiver())
                    group.create_task(pinger())
            assert got == ["echoed to the receiver"]

    run(library, main)


def test_asgi_tasks_take_turns_reading(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/echo", client) as ws:
            got: list[str] = []

            async def receiver() -> None:
                got.append(await ws.receive_text(timeout=30))

            async def impatient() -> None:
                with pytest.raises(TimeoutError):
                    await ws.receive(timeout=0.01)  # the receivers hold the read

            async def sender() -> None:
                await impatient()
                await ws.send_text("one")
                await ws.send_text("two")

            if library == "trio":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(receiver)
                    nursery.start_soon(receiver)
                    nursery.start_soon(sender)
            else:
                async with asyncio.TaskGroup() as group:
                    group.create_task(receiver())
                    group.create_task(receiver())
                    group.create_task(sender())
            assert sorted(got) == ["one", "two"]

    run(library, main)


def test_asgi_stream_after_close(library: str) -> None:
    async def main() -> None:
        async with asgi() as client:
            async with aconnect_ws("ws://app.test/echo", client) as ws:
                stream = ws.stream
                assert stream.get_extra_info("socket") is None
                assert not stream.get_extra_info("is_readable")
            assert stream.get_extra_info("is_readable")  # the end is readable
            await stream.aclose()  # again: nothing happens
            assert await stream.read(10) == b""
            with pytest.raises(WriteError):
                await stream.write(b"x")

    run(library, main)


def test_asgi_cancelled_receive_loses_nothing(library: str) -> None:
    async def main() -> None:
        async with asgi() as client, aconnect_ws("ws://app.test/echo", client) as ws:
            if library == "trio":
                with trio.move_on_after(0.01):
                    await ws.receive()
            else:
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.01):
                        await ws.receive()
            await ws.send_text("after the cancel")
            assert await ws.receive_text() == "after the cancel"

    run(library, main)


# -- the public names --------------------------------------------------------------------

WS_NAMES = {
    "connect_ws": "sync_io.ws",
    "aconnect_ws": "async_io.ws",
    "WebSocketSession": "sync_io.ws",
    "AsyncWebSocketSession": "async_io.ws",
    "WebSocketError": "sansio.ws",
    "WebSocketDisconnect": "sansio.ws",
    "WebSocketUpgradeError": "sansio.ws",
    "WebSocketNetworkError": "sansio.ws",
    "WebSocketInvalidTypeReceived": "sansio.ws",
    "WebSocketProtocolError": "sansio.ws",
    "WebSocketMessageTooLarge": "sansio.ws",
    "HTTPXWSException": "sansio.ws",
    "JSONMode": "sansio.ws",
    "WebSocketClient": "sync_io.ws",
    "AsyncWebSocketClient": "async_io.ws",
}


@pytest.mark.parametrize("name", sorted(WS_NAMES))
def test_conch_exports_the_websocket_names(name: str) -> None:
    assert name in conch.__all__
    assert getattr(conch, name) is getattr(sys.modules[WS_NAMES[name]], name)
    script = f"from conch import {name}; import conch; assert getattr(conch, {name!r}) is {name}"
    subprocess.run([sys.executable, "-c", script], check=True)


def test_import_conch_loads_no_websocket_code() -> None:
    script = (
        "import sys, conch; conch.ASGITransport; "
        "print([m for m in ('wsproto', 'sansio.ws', 'sync_io.ws', 'async_io.ws') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
