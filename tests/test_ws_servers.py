"""WebSockets against real servers over loopback: the connection handed over after the 101.

uvicorn (its wsproto and websockets implementations) and hypercorn, plain and TLS, from
the sync client, asyncio and trio: messages both ways, compression the server
negotiated, server pings, close codes both ways, the message-size limit, a frame in the
same packet as the 101, the HTTP CONNECT and SOCKS5 proxies, and an HTTP/2 client (its
WebSocket takes an HTTP/1.1 connection). The connection leaves the pool at the 101 and
is the session's until it closes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import conch
from sansio import env
from sansio.ws import WebSocketDisconnect, WebSocketMessageTooLarge

from .proxy_servers import http_proxy, socks5_proxy
from .servers import Server
from .ws_servers import BIG, WSServer, running

MODES = ["sync", "asyncio", "trio"]
KINDS = ["uvicorn-wsproto", "uvicorn-websockets", "hypercorn"]


@pytest.fixture(autouse=True)
def deterministic_env() -> Iterator[env.Env]:
    """Real time for sessions against real servers (keepalive, pings and timeouts are
    measured on the core's clock), still with predictable masking keys."""
    previous = env.install(env.current(), clock=time.monotonic)
    try:
        yield env.current()
    finally:
        env.install(previous)


def run_async(mode: str, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return trio.run(fn) if mode == "trio" else asyncio.run(fn())


@pytest.fixture(params=[(k, t) for k in KINDS for t in (False, True)],
                ids=lambda p: f"{p[0]}-{'tls' if p[1] else 'plain'}")  # fmt: skip
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WSServer]:
    kind, tls = request.param
    with running(kind, tls=tls, directory=tmp_path) as server:
        yield server


def client_kwargs(server: WSServer) -> dict[str, Any]:
    return {"verify": server.client_context()} if server.tls else {}


def wait_for(condition: Callable[[], bool]) -> None:
    # The server records a session's end in its own thread, a moment after ours.
    for _ in range(500):
        if condition():
            return
        time.sleep(0.01)


@pytest.mark.parametrize("mode", MODES)
def test_messages_both_ways_on_a_connection_handed_over(server: WSServer, mode: str) -> None:
    url, kwargs = server.url(), client_kwargs(server)
    seen: list[Any] = []
    if mode == "sync":
        with conch.Client(**kwargs) as client:
            with conch.connect_ws(url, client) as ws:
                ws.send_text("hello")
                seen.append(ws.receive_text(timeout=5))
                ws.send_bytes(b"\x00\xff")
                seen.append(ws.receive_bytes(timeout=5))
                seen.append(ws.response.extensions["http_version"])
                seen.append(client._transport._engine.statistics().connections)  # type: ignore[attr-defined]
            # The connection was the session's: the pool never held it, and is free.
            seen.append(client.get(server.url("/", ws=False)).text)
    else:

        async def main() -> None:
            async with conch.AsyncClient(**kwargs) as client:
                async with conch.aconnect_ws(url, client) as ws:
                    await ws.send_text("hello")
                    seen.append(await ws.receive_text(timeout=5))
                    await ws.send_bytes(b"\x00\xff")
                    seen.append(await ws.receive_bytes(timeout=5))
                    seen.append(ws.response.extensions["http_version"])
                    seen.append(client._transport._engine.statistics().connections)  # type: ignore[attr-defined]
                seen.append((await client.get(server.url("/", ws=False))).text)

        run_async(mode, main)
    assert seen == ["hello", b"\x00\xff", b"HTTP/1.1", 0, "hello"]


@pytest.mark.parametrize("mode", MODES)
def test_close_codes_both_ways(server: WSServer, mode: str) -> None:
    kwargs = client_kwargs(server)
    codes: list[tuple[int, str]] = []
    if mode == "sync":
        with conch.Client(**kwargs) as client:
            with conch.connect_ws(server.url("/close"), client) as ws:
                with pytest.raises(WebSocketDisconnect) as info:
                    ws.receive_text(timeout=5)
                codes.append((info.value.code, info.value.reason))
            with conch.connect_ws(server.url(), client) as ws:
                ws.close(4001, "done")
    else:

        async def main() -> None:
            async with conch.AsyncClient(**kwargs) as client:
                async with conch.aconnect_ws(server.url("/close"), client) as ws:
                    with pytest.raises(WebSocketDisconnect) as info:
                        await ws.receive_text(timeout=5)
                    codes.append((info.value.code, info.value.reason))
                async with conch.aconnect_ws(server.url(), client) as ws:
                    await ws.close(4001, "done")

        run_async(mode, main)
    assert codes == [(4002, "bye")]
    if server.kind != "hypercorn":  # hypercorn tells its app 1006 whatever the client sent
        wait_for(lambda: bool(server.closes))
        assert server.closes == [4001]


@pytest.mark.parametrize("mode", MODES)
def test_compression_pings_and_the_size_limit(server: WSServer, mode: str) -> None:
    kwargs = client_kwargs(server)
    text = "compressible " * 1000
    seen: list[Any] = []
    if mode == "sync":
        with conch.Client(**kwargs) as client:
            with conch.connect_ws(server.url(), client, compression=True) as ws:
                seen.append(ws.response.headers.get("sec-websocket-extensions", ""))
                # Nothing comes for longer than the server's ping interval: its pings are
                # answered while the client waits, and the session goes on.
                with pytest.raises(TimeoutError):
                    ws.receive_text(timeout=0.5)
                ws.send_text(text)
                seen.append(ws.receive_text(timeout=5) == text)
            with (
                conch.connect_ws(server.url("/big"), client) as ws,
                pytest.raises(WebSocketMessageTooLarge),
            ):
                ws.receive_bytes(timeout=5)
            with conch.connect_ws(server.url("/big"), client, max_message_size_bytes=BIG) as ws:
                seen.append(len(ws.receive_bytes(timeout=5)))
    else:

        async def main() -> None:
            async with conch.AsyncClient(**kwargs) as client:
                async with conch.aconnect_ws(server.url(), client, compression=True) as ws:
                    seen.append(ws.response.headers.get("sec-websocket-extensions", ""))
                    with pytest.raises(TimeoutError):
                        await ws.receive_text(timeout=0.5)
                    await ws.send_text(text)
                    seen.append(await ws.receive_text(timeout=5) == text)
                async with conch.aconnect_ws(server.url("/big"), client) as ws:
                    with pytest.raises(WebSocketMessageTooLarge):
                        await ws.receive_bytes(timeout=5)
                big = server.url("/big")
                async with conch.aconnect_ws(big, client, max_message_size_bytes=BIG) as ws:
                    seen.append(len(await ws.receive_bytes(timeout=5)))

        run_async(mode, main)
    assert seen[0].startswith("permessage-deflate"), seen
    assert seen[1:] == [True, BIG]


# -- a frame in the same packet as the 101 -----------------------------------------------


def _accept(key: bytes) -> bytes:
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


def early_frame_server(server: Server, conn: socket.socket, index: int) -> None:
    """Answers the handshake and a text frame "early" in one write, then closes cleanly
    when the client's Close comes."""
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
        b"Sec-WebSocket-Accept: " + _accept(key) + b"\r\n\r\n" + b"\x81\x05early"
    )
    conn.recv(65536)  # the client's Close
    conn.sendall(b"\x88\x02\x03\xe8")  # Close 1000


@pytest.mark.parametrize("mode", MODES)
def test_a_frame_in_the_same_packet_as_the_101(mode: str) -> None:
    server = Server(early_frame_server)
    try:
        url = server.url("/", scheme="ws")
        if mode == "sync":
            with conch.connect_ws(url) as ws:
                got = ws.receive_text(timeout=5)
        else:

            async def main() -> str:
                async with conch.aconnect_ws(url) as ws:
                    return await ws.receive_text(timeout=5)

            got = run_async(mode, main)
    finally:
        server.close()
    assert got == "early"


# -- through proxies ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("proxy_kind", ["http", "socks5"])
@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_through_a_proxy(tmp_path: Path, mode: str, proxy_kind: str, tls: bool) -> None:
    # ws:// through an HTTP proxy is tunnelled with CONNECT, as wss:// is.
    handler = http_proxy() if proxy_kind == "http" else socks5_proxy()
    proxy = Server(handler)
    try:
        with running("uvicorn-wsproto", tls=tls, directory=tmp_path) as server:
            scheme = "http" if proxy_kind == "http" else "socks5"
            kwargs = {**client_kwargs(server), "proxy": f"{scheme}://{proxy.host}:{proxy.port}"}
            if mode == "sync":
                with conch.Client(**kwargs) as client, conch.connect_ws(server.url(), client) as ws:
                    ws.send_text("through")
                    got = ws.receive_text(timeout=5)
            else:

                async def main() -> str:
                    async with (
                        conch.AsyncClient(**kwargs) as client,
                        conch.aconnect_ws(server.url(), client) as ws,
                    ):
                        await ws.send_text("through")
                        return await ws.receive_text(timeout=5)

                got = run_async(mode, main)
    finally:
        proxy.close()
    assert got == "through"
    if proxy_kind == "http":
        assert proxy.requests[0].startswith(f"CONNECT localhost:{server.port} ".encode())


# -- beside HTTP/2 ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_websocket_from_an_http2_client_goes_over_http11(tmp_path: Path, mode: str) -> None:
    # hypercorn offers h2 over TLS: ordinary requests use it, the WebSocket's GET gets an
    # HTTP/1.1 connection of its own (no Upgrade in HTTP/2; RFC 8441 is not spoken yet).
    seen: list[Any] = []
    with running("hypercorn", tls=True, directory=tmp_path) as server:
        kwargs = {**client_kwargs(server), "http2": True}
        if mode == "sync":
            with conch.Client(**kwargs) as client:
                seen.append(client.get(server.url("/", ws=False)).http_version)
                with conch.connect_ws(server.url(), client) as ws:
                    ws.send_text("beside h2")
                    seen.append(ws.receive_text(timeout=5))
                    seen.append(ws.response.http_version)
                seen.append(client.get(server.url("/", ws=False)).http_version)
        else:

            async def main() -> None:
                async with conch.AsyncClient(**kwargs) as client:
                    seen.append((await client.get(server.url("/", ws=False))).http_version)
                    async with conch.aconnect_ws(server.url(), client) as ws:
                        await ws.send_text("beside h2")
                        seen.append(await ws.receive_text(timeout=5))
                        seen.append(ws.response.http_version)
                    seen.append((await client.get(server.url("/", ws=False))).http_version)

            run_async(mode, main)
    assert seen == ["HTTP/2", "beside h2", "HTTP/1.1", "HTTP/2"]
    assert server.http_versions == ["1.1"]
