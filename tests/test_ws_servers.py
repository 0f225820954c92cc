"""WebSockets against real servers over loopback: the connection handed over after the 101.

uvicorn (its wsproto and websockets implementations) and hypercorn, plain and TLS, from
the sync client, asyncio and trio: messages both ways, compression the server
negotiated, server pings, close codes both ways, the message-size limit, a frame in the
same packet as the 101, the HTTP CONNECT and SOCKS5 proxies. The connection leaves the
pool at the 101 and is the session's until it closes. Over HTTP/2 (hypercorn, TLS) the
WebSocket is a stream of the shared connection instead (RFC 8441).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
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
def test_a_websocket_over_http2_beside_ordinary_requests(tmp_path: Path, mode: str) -> None:
    # hypercorn offers h2 over TLS and allows extended CONNECT (RFC 8441): the WebSocket
    # is a stream of the connection the requests use, and they go on while it is open; a
    # message of 2 MiB each way waits for the flow-control windows (64 KiB at first).
    seen: list[Any] = []
    names: list[str] = []
    big = bytes(range(256)) * (BIG // 256)
    with running("hypercorn", tls=True, directory=tmp_path) as server:
        kwargs = {**client_kwargs(server), "http2": True}
        url = server.url("/", ws=False)
        if mode == "sync":

            def trace(name: str, info: Any) -> None:
                names.append(name)

            ext = {"extensions": {"trace": trace}}
            with conch.Client(**kwargs) as client:
                seen.append(client.get(url, **ext).http_version)  # type: ignore[arg-type]
                with conch.connect_ws(
                    server.url(), client, max_message_size_bytes=BIG, **ext
                ) as ws:
                    # Nothing comes for longer than hypercorn's ping interval: its pings
                    # are answered while the session waits, and the stream stays open.
                    with pytest.raises(TimeoutError):
                        ws.receive_text(timeout=0.5)
                    ws.send_text("over h2")
                    seen.append(ws.receive_text(timeout=5))
                    seen.append(ws.response.http_version)
                    seen.append(client.get(url, **ext).text)  # type: ignore[arg-type]
                    ws.send_bytes(big)
                    seen.append(ws.receive_bytes(timeout=10) == big)
                    seen.append(client._transport._engine.statistics().connections)  # type: ignore[attr-defined]
                seen.append(client.get(url, **ext).http_version)  # type: ignore[arg-type]
        else:

            async def atrace(name: str, info: Any) -> None:
                names.append(name)

            aext = {"extensions": {"trace": atrace}}

            async def main() -> None:
                async with conch.AsyncClient(**kwargs) as client:
                    seen.append((await client.get(url, **aext)).http_version)  # type: ignore[arg-type]
                    async with conch.aconnect_ws(
                        server.url(), client, max_message_size_bytes=BIG, **aext
                    ) as ws:
                        with pytest.raises(TimeoutError):
                            await ws.receive_text(timeout=0.5)
                        await ws.send_text("over h2")
                        seen.append(await ws.receive_text(timeout=5))
                        seen.append(ws.response.http_version)
                        seen.append((await client.get(url, **aext)).text)  # type: ignore[arg-type]
                        await ws.send_bytes(big)
                        seen.append(await ws.receive_bytes(timeout=10) == big)
                        seen.append(client._transport._engine.statistics().connections)  # type: ignore[attr-defined]
                    seen.append((await client.get(url, **aext)).http_version)  # type: ignore[arg-type]

            run_async(mode, main)
    assert seen == ["HTTP/2", "over h2", "HTTP/2", "hello", True, 1, "HTTP/2"]
    assert server.http_versions == ["2"]
    assert names.count("connection.connect_tcp.started") == 1  # one connection for all


@pytest.mark.parametrize("mode", MODES)
def test_a_close_from_the_client_over_http2(tmp_path: Path, mode: str) -> None:
    # The stream is reset once the server has answered the Close, and the connection
    # serves on. (A close from hypercorn is tested on an in-process server below:
    # hypercorn drops the whole connection when the client's answering Close arrives on
    # the stream it has finished, a KeyError in hypercorn/protocol/h2.py.)
    seen: list[Any] = []
    names: list[str] = []
    with running("hypercorn", tls=True, directory=tmp_path) as server:
        kwargs = {**client_kwargs(server), "http2": True}
        url = server.url("/", ws=False)
        if mode == "sync":

            def trace(name: str, info: Any) -> None:
                names.append(name)

            ext = {"extensions": {"trace": trace}}
            with conch.Client(**kwargs) as client:
                for _ in range(2):
                    with conch.connect_ws(server.url(), client, **ext) as ws:
                        ws.close(4001, "done")
                    seen.append(client.get(url, **ext).text)  # type: ignore[arg-type]
        else:

            async def atrace(name: str, info: Any) -> None:
                names.append(name)

            aext = {"extensions": {"trace": atrace}}

            async def main() -> None:
                async with conch.AsyncClient(**kwargs) as client:
                    for _ in range(2):
                        async with conch.aconnect_ws(server.url(), client, **aext) as ws:
                            await ws.close(4001, "done")
                        seen.append((await client.get(url, **aext)).text)  # type: ignore[arg-type]

            run_async(mode, main)
    assert seen == ["hello", "hello"]
    assert names.count("connection.connect_tcp.started") == 1
    assert server.http_versions == ["2", "2"]


def h2_ws_handler(echoes: list[int]) -> Callable[[Server, socket.socket, int], None]:
    """An in-process HTTP/2 server (prior knowledge) allowing extended CONNECT: a
    WebSocket to ``/close`` gets Close 4002 "bye" and END_STREAM at once (as hypercorn
    ends its stream), and the code of the client's answering Close goes to ``echoes``;
    any other request gets 200 "plain"."""

    def handler(server: Server, conn: socket.socket, index: int) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        machine = h2.connection.H2Connection(config)
        machine.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1}
        )
        machine.initiate_connection()
        conn.sendall(machine.data_to_send())
        frames = b""
        while data := conn.recv(65536):
            for event in machine.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    sid = event.stream_id
                    fields = dict(event.headers or ())
                    if fields.get(b":protocol") == b"websocket":
                        machine.send_headers(sid, [(b":status", b"200")])
                        close = struct.pack("!H", 4002) + b"bye"
                        machine.send_data(
                            sid, b"\x88" + bytes([len(close)]) + close, end_stream=True
                        )
                    else:
                        machine.send_headers(sid, [(b":status", b"200")])
                        machine.send_data(sid, b"plain", end_stream=True)
                elif isinstance(event, h2.events.DataReceived):
                    machine.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    frames += event.data or b""
                    if len(frames) >= 8:  # a masked Close with its code: 2 + 4 + 2 bytes
                        assert frames[0] == 0x88, frames
                        mask, payload = frames[2:6], frames[6:8]
                        code = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                        echoes.append(struct.unpack("!H", code)[0])
                        frames = b""
            if out := machine.data_to_send():
                conn.sendall(out)

    return handler


@pytest.mark.parametrize("mode", MODES)
def test_a_close_from_the_server_over_http2(mode: str) -> None:
    # The server closes and ends its side at once: the session gets its code, answers
    # with a Close of its own on the half-closed stream, then resets it; the connection
    # goes on serving.
    echoes: list[int] = []
    server = Server(h2_ws_handler(echoes))
    seen: list[Any] = []
    try:
        url = server.url("/close", scheme="ws")
        if mode == "sync":
            with conch.Client(http1=False, http2=True) as client:
                with conch.connect_ws(url, client) as ws:
                    with pytest.raises(WebSocketDisconnect) as info:
                        ws.receive_text(timeout=5)
                    seen.append((info.value.code, info.value.reason, ws.response.http_version))
                seen.append(client.get(server.url("/")).text)
        else:

            async def main() -> None:
                async with conch.AsyncClient(http1=False, http2=True) as client:
                    async with conch.aconnect_ws(url, client) as ws:
                        with pytest.raises(WebSocketDisconnect) as info:
                            await ws.receive_text(timeout=5)
                        seen.append((info.value.code, info.value.reason, ws.response.http_version))
                    seen.append((await client.get(server.url("/"))).text)

            run_async(mode, main)
    finally:
        server.close()
    assert seen == [(4002, "bye", "HTTP/2"), "plain"]
    assert echoes == [4002]
    assert server.accepted == 1
