"""Code written for httpx-ws runs on conch with only its imports changed.

httpx-ws cannot be installed here, so this module is the check: its documented API
surface (httpx-ws 0.9: the quickstart, subprotocols, the class-based client and the API
reference) written as an httpx-ws user writes it, with ``from conch import ...`` where
that code has ``from httpx_ws import ...``, against a real server on loopback (uvicorn,
tests/ws_servers.py) from the sync client, asyncio and trio. The names, the signatures
(parameter names, order and defaults), the session calls, ``receive`` with a timeout
(the built-in `TimeoutError`), ``ping`` returning an event to wait on, the exceptions
and their attributes.

What conch does differently on purpose is in README.md ("Differences from httpx-ws").
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import trio
import wsproto.events

import conch
from conch import (
    AsyncWebSocketClient,
    AsyncWebSocketSession,
    HTTPXWSException,
    JSONMode,
    WebSocketClient,
    WebSocketDisconnect,
    WebSocketInvalidTypeReceived,
    WebSocketNetworkError,
    WebSocketSession,
    WebSocketUpgradeError,
    aconnect_ws,
    connect_ws,
)
from sansio import env

from .servers import Server
from .test_ws_servers import _accept
from .ws_servers import WSServer, running

# httpx_ws.__all__ in httpx-ws 0.9.
HTTPX_WS_ALL = [
    "AsyncWebSocketClient",
    "AsyncWebSocketSession",
    "HTTPXWSException",
    "JSONMode",
    "WebSocketClient",
    "WebSocketDisconnect",
    "WebSocketInvalidTypeReceived",
    "WebSocketNetworkError",
    "WebSocketSession",
    "WebSocketUpgradeError",
    "aconnect_ws",
    "connect_ws",
]
# The keyword arguments httpx-ws documents, in its order, with its defaults where conch
# keeps them (the message size is conch's own limit: see the README).
CONNECT_PARAMETERS = [
    "url",
    "client",
    "max_message_size_bytes",
    "queue_size",
    "keepalive_ping_interval_seconds",
    "keepalive_ping_timeout_seconds",
    "subprotocols",
    "session_class",
]
CLIENT_PARAMETERS = [
    "client",
    "max_message_size_bytes",
    "queue_size",
    "keepalive_ping_interval_seconds",
    "keepalive_ping_timeout_seconds",
    "session_class",
]
DEFAULTS = {
    "client": None,
    "queue_size": 512,
    "keepalive_ping_interval_seconds": 20.0,
    "keepalive_ping_timeout_seconds": 20.0,
    "subprotocols": None,
}
MODES = ["sync", "asyncio", "trio"]


@pytest.fixture(autouse=True)
def deterministic_env() -> Iterator[env.Env]:
    """Real time for sessions against a real server (receive timeouts are measured on
    the core's clock)."""
    previous = env.install(env.current(), clock=time.monotonic)
    try:
        yield env.current()
    finally:
        env.install(previous)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WSServer]:
    with running("uvicorn-wsproto", tls=False, directory=tmp_path_factory.mktemp("ws")) as s:
        yield s


def run_async(mode: str, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return trio.run(fn) if mode == "trio" else asyncio.run(fn())


# -- names and signatures ------------------------------------------------------------------


@pytest.mark.parametrize("name", HTTPX_WS_ALL)
def test_every_httpx_ws_name_is_a_conch_name(name: str) -> None:
    assert name in conch.__all__
    assert getattr(conch, name) is not None


def _parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(fn).parameters)


@pytest.mark.parametrize("fn", [connect_ws, aconnect_ws], ids=["connect_ws", "aconnect_ws"])
def test_connect_takes_httpx_ws_arguments(fn: Callable[..., Any]) -> None:
    parameters = _parameters(fn)
    assert list(parameters)[: len(CONNECT_PARAMETERS)] == CONNECT_PARAMETERS
    assert [p.kind for p in parameters.values()][:2] == [
        inspect.Parameter.POSITIONAL_OR_KEYWORD
    ] * 2
    assert parameters["max_message_size_bytes"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "kwargs" in parameters  # the rest goes to client.stream()
    for name, default in DEFAULTS.items():
        assert parameters[name].default == default, name


@pytest.mark.parametrize("cls", [WebSocketClient, AsyncWebSocketClient])
def test_the_class_based_clients_take_httpx_ws_arguments(cls: type) -> None:
    parameters = _parameters(cls.__init__)
    assert list(parameters)[1 : len(CLIENT_PARAMETERS) + 1] == CLIENT_PARAMETERS
    assert list(_parameters(cls.connect))[:3] == ["self", "url", "subprotocols"]


@pytest.mark.parametrize("cls", [WebSocketSession, AsyncWebSocketSession])
def test_sessions_have_httpx_ws_methods(cls: type) -> None:
    signatures = {
        "send": ["event"],
        "send_text": ["data"],
        "send_bytes": ["data"],
        "send_json": ["data", "mode"],
        "receive": ["timeout"],
        "receive_text": ["timeout"],
        "receive_bytes": ["timeout"],
        "receive_json": ["timeout", "mode"],
        "ping": ["payload"],
        "close": ["code", "reason"],
    }
    for method, names in signatures.items():
        parameters = _parameters(getattr(cls, method))
        assert list(parameters)[1:] == names, method
    assert _parameters(cls.close)["code"].default == 1000
    assert _parameters(cls.send_json)["mode"].default == "text"
    assert _parameters(cls.__init__)["response"].default is None  # ws.response, ws.subprotocol


def test_exceptions_are_shaped_as_httpx_ws_ones() -> None:
    for error in (
        WebSocketDisconnect,
        WebSocketInvalidTypeReceived,
        WebSocketNetworkError,
        WebSocketUpgradeError,
    ):
        assert issubclass(error, HTTPXWSException)
    closed = WebSocketDisconnect()
    assert (closed.code, closed.reason) == (1000, "")
    closed = WebSocketDisconnect(4000, "bye")
    assert (closed.code, closed.reason) == (4000, "bye")
    event = wsproto.events.BytesMessage(data=b"x")
    assert WebSocketInvalidTypeReceived(event).event is event
    assert isinstance(WebSocketNetworkError(), HTTPXWSException)
    assert set(JSONMode.__args__) == {"text", "binary"}  # type: ignore[attr-defined]


# -- the documented usage, against uvicorn ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_quickstart_with_and_without_a_client(server: WSServer, mode: str) -> None:
    url = server.url("/echo", ws=False)  # httpx-ws's examples use http:// URLs
    seen: list[Any] = []
    if mode == "sync":
        with connect_ws(url) as ws:
            ws.send_text("Hello!")
            seen.append(ws.receive_text())
        with conch.Client() as client, connect_ws(url, client) as ws:
            ws.send_bytes(b"\x00\x01")
            seen.append(ws.receive_bytes())
            ws.send_json({"a": 1}, mode="binary")
            seen.append(ws.receive_json(mode="binary"))
            ws.send(wsproto.events.TextMessage(data="raw"))
            event = ws.receive()
            seen.append((type(event), event.data))
    else:

        async def main() -> None:
            async with aconnect_ws(url) as ws:
                await ws.send_text("Hello!")
                seen.append(await ws.receive_text())
            async with conch.AsyncClient() as client, aconnect_ws(url, client) as ws:
                await ws.send_bytes(b"\x00\x01")
                seen.append(await ws.receive_bytes())
                await ws.send_json({"a": 1}, mode="binary")
                seen.append(await ws.receive_json(mode="binary"))
                await ws.send(wsproto.events.TextMessage(data="raw"))
                event = await ws.receive()
                seen.append((type(event), event.data))

        run_async(mode, main)
    assert seen == ["Hello!", b"\x00\x01", {"a": 1}, (wsproto.events.TextMessage, "raw")]


@pytest.mark.parametrize("mode", MODES)
def test_subprotocols_and_the_class_based_client(server: WSServer, mode: str) -> None:
    url = server.url("/subprotocol")
    seen: list[Any] = []
    if mode == "sync":
        with conch.Client() as client:
            ws_client = WebSocketClient(client, keepalive_ping_interval_seconds=None)
            with ws_client.connect(url, subprotocols=["my_protocol_1", "my_protocol_2"]) as ws:
                seen.extend([ws.subprotocol, ws.response.status_code])  # type: ignore[union-attr]
            with ws_client.connect(server.url("/echo")) as ws:
                ws.send_text("Hello!")
                seen.append(ws.receive_text())
    else:

        async def main() -> None:
            async with conch.AsyncClient() as client:
                ws_client = AsyncWebSocketClient(client, keepalive_ping_interval_seconds=None)
                async with ws_client.connect(url, subprotocols=["my_protocol_1"]) as ws:
                    seen.extend([ws.subprotocol, ws.response.status_code])  # type: ignore[union-attr]
                async with ws_client.connect(server.url("/echo")) as ws:
                    await ws.send_text("Hello!")
                    seen.append(await ws.receive_text())

        run_async(mode, main)
    assert seen == ["my_protocol_1", 101, "Hello!"]


@pytest.mark.parametrize("mode", MODES)
def test_receive_timeout_ping_and_invalid_type(server: WSServer, mode: str) -> None:
    url = server.url("/echo")
    seen: list[Any] = []
    if mode == "sync":
        with connect_ws(url) as ws:
            with pytest.raises(TimeoutError):
                ws.receive(timeout=0.05)
            pong = ws.ping()
            assert pong.wait(5)  # httpx-ws: a threading.Event
            seen.append(pong.is_set())
            ws.send_bytes(b"not text")
            with pytest.raises(WebSocketInvalidTypeReceived) as info:
                ws.receive_text(timeout=5)
            seen.append(info.value.event)
    else:

        async def main() -> None:
            async with aconnect_ws(url) as ws:
                with pytest.raises(TimeoutError):
                    await ws.receive(timeout=0.05)
                pong = await ws.ping()
                await pong.wait()  # httpx-ws: an anyio.Event, awaited without a timeout
                seen.append(pong.is_set())
                await ws.send_bytes(b"not text")
                with pytest.raises(WebSocketInvalidTypeReceived) as info:
                    await ws.receive_text(timeout=5)
                seen.append(info.value.event)

        run_async(mode, main)
    assert seen == [True, wsproto.events.BytesMessage(data=b"not text")]


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_from_the_server(server: WSServer, mode: str) -> None:
    closes: list[tuple[int, str]] = []
    if mode == "sync":
        with connect_ws(server.url("/close")) as ws:
            try:
                ws.receive_text()
            except WebSocketDisconnect as exc:
                closes.append((exc.code, exc.reason))
    else:

        async def main() -> None:
            async with aconnect_ws(server.url("/close")) as ws:
                try:
                    await ws.receive_text()
                except WebSocketDisconnect as exc:
                    closes.append((exc.code, exc.reason))

        run_async(mode, main)
    assert closes == [(4002, "bye")]


def refusing(server: Server, conn: socket.socket, index: int) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\n\r\nno way")


def vanishing(server: Server, conn: socket.socket, index: int) -> None:
    """Opens the WebSocket, then drops the connection without a Close frame."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in data.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + _accept(key) + b"\r\n\r\n"
    )


@pytest.mark.parametrize("mode", MODES)
def test_upgrade_refused_and_network_error(mode: str) -> None:
    errors: list[Any] = []
    with Server(refusing) as refuser, Server(vanishing) as vanisher:
        if mode == "sync":
            with pytest.raises(WebSocketUpgradeError) as refused, connect_ws(refuser.url("/ws")):
                pass
            errors.append(refused.value.response.status_code)
            with connect_ws(vanisher.url("/ws")) as ws, pytest.raises(WebSocketNetworkError):
                ws.receive_text(timeout=5)
        else:

            async def main() -> None:
                with pytest.raises(WebSocketUpgradeError) as refused:
                    async with aconnect_ws(refuser.url("/ws")):
                        pass
                errors.append(refused.value.response.status_code)
                async with aconnect_ws(vanisher.url("/ws")) as ws:
                    with pytest.raises(WebSocketNetworkError):
                        await ws.receive_text(timeout=5)

            run_async(mode, main)
    assert errors == [403]


@pytest.mark.parametrize("mode", MODES)
def test_a_session_class_of_ones_own(server: WSServer, mode: str) -> None:
    if mode == "sync":

        class Session(WebSocketSession):
            def receive_upper(self) -> str:
                return self.receive_text(timeout=5).upper()

        with connect_ws(server.url("/echo"), session_class=Session) as ws:
            assert isinstance(ws, Session)
            ws.send_text("mine")
            assert ws.receive_upper() == "MINE"
    else:

        class AsyncSession(AsyncWebSocketSession):
            async def receive_upper(self) -> str:
                return (await self.receive_text(timeout=5)).upper()

        async def main() -> None:
            async with aconnect_ws(server.url("/echo"), session_class=AsyncSession) as ws:
                assert isinstance(ws, AsyncSession)
                await ws.send_text("mine")
                assert await ws.receive_upper() == "MINE"

        run_async(mode, main)


def test_asgi_websocket_transport_is_asgi_transport() -> None:
    """httpx-ws's ``ASGIWebSocketTransport`` is conch's `ASGITransport` (its docs' app)."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    from conch import ASGITransport as ASGIWebSocketTransport

    async def http_hello(request: Any) -> HTMLResponse:
        return HTMLResponse("Hello World!")

    async def ws_hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("Hello World!")
        await websocket.close()

    app = Starlette(routes=[Route("/http", http_hello), WebSocketRoute("/ws", ws_hello)])

    async def main() -> None:
        async with conch.AsyncClient(transport=ASGIWebSocketTransport(app)) as client:
            http_response = await client.get("http://server/http")
            assert http_response.status_code == 200
            async with aconnect_ws("http://server/ws", client) as ws:
                assert await ws.receive_text() == "Hello World!"

    asyncio.run(main())
    trio.run(main)
