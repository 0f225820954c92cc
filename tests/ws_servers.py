"""Real WebSocket servers on loopback, in threads of this process: uvicorn (its wsproto and
websockets implementations) and hypercorn (HTTP/1.1, and HTTP/2 with RFC 8441 over TLS),
all serving `app`.

The app, by path: ``/echo`` echoes every message (text as text, bytes as bytes);
``/close`` closes at once with 4002 "bye"; ``/big`` sends one message of ``BIG`` bytes;
``/subprotocol`` accepts the client's first subprotocol. Every session records how the
client closed it (``server.closes``: the code, or None) and whether compression was
negotiated. Plain ``GET /`` answers 200 "hello" (a request beside a WebSocket).

``GET /sse`` is a server-sent event stream: ``retry: 10``, event "one" (id 1), then, once
the test sets ``server.sse_gate`` (at most 5 s later; ``server.sse_released`` says
whether it was set in time), "two" (id 2), and the end. A request that sends
``Last-Event-ID`` (a reconnection) gets 204, the standard's "stop"; ``server.last_event_ids``
lists what each request sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trustme

__all__ = ["BIG", "WSServer", "running"]

BIG = 2 * 1024 * 1024  # past the client's default 1 MiB message limit

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class WSServer:
    """A running server: its URLs, and what its sessions saw."""

    def __init__(self, kind: str, port: int, tls: bool, ca: trustme.CA | None) -> None:
        self.kind = kind
        self.port = port
        self.tls = tls
        self.ca = ca
        self.closes: list[int | None] = []  # the close code of each session the client ended
        self.extensions: list[list[str]] = []  # the Sec-WebSocket-Extensions offered, by session
        self.http_versions: list[str] = []  # the HTTP version of each WebSocket's scope
        self.stop: Callable[[], None] = lambda: None
        self.sse_gate = threading.Event()
        self.sse_released: list[bool] = []
        self.last_event_ids: list[str] = []

    def url(self, path: str = "/echo", *, ws: bool = True) -> str:
        scheme = ("wss" if self.tls else "ws") if ws else ("https" if self.tls else "http")
        return f"{scheme}://localhost:{self.port}{path}"

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        assert self.ca is not None
        self.ca.configure_trust(ctx)
        return ctx

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"] + ".complete"
                await send({"type": kind})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] == "http":
            while (await receive()).get("more_body"):
                pass
            if scope["path"] == "/sse":
                await self._events(scope, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello"})
            return
        assert scope["type"] == "websocket"
        headers = dict(scope["headers"])
        self.extensions.append(
            [v.decode() for n, v in scope["headers"] if n == b"sec-websocket-extensions"]
        )
        self.http_versions.append(scope["http_version"])
        await receive()  # websocket.connect
        path = scope["path"]
        subprotocols = scope.get("subprotocols") or []
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if path == "/subprotocol" and subprotocols:
            accept["subprotocol"] = subprotocols[0]
        await send(accept)
        del headers
        if path == "/close":
            await send({"type": "websocket.close", "code": 4002, "reason": "bye"})
            return
        if path == "/big":
            await send({"type": "websocket.send", "bytes": b"x" * BIG})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.closes.append(message.get("code"))
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})

    async def _events(self, scope: Scope, send: Send) -> None:
        last = dict(scope["headers"]).get(b"last-event-id", b"").decode()
        self.last_event_ids.append(last)
        if last:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        first = b"retry: 10\nid: 1\ndata: one\n\n"
        await send({"type": "http.response.body", "body": first, "more_body": True})
        for _ in range(500):  # until the client has event one, at most 5 s
            if self.sse_gate.is_set():
                break
            await asyncio.sleep(0.01)
        self.sse_released.append(self.sse_gate.is_set())
        await send({"type": "http.response.body", "body": b"id: 2\ndata: two\n\n"})


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _certificates(directory: Path) -> tuple[trustme.CA, str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    return ca, str(cert_file), str(key_file)


def _start_uvicorn(server: WSServer, sock: socket.socket, impl: str, files: Any) -> None:
    import uvicorn

    extra: dict[str, Any] = {}
    if files is not None:
        extra = {"ssl_certfile": files[1], "ssl_keyfile": files[2]}
    config = uvicorn.Config(
        server.app, ws=impl, interface="asgi3", log_level="error", lifespan="off",
        ws_ping_interval=0.2, ws_ping_timeout=5.0, **extra,
    )  # fmt: skip
    runner = uvicorn.Server(config)

    def serve() -> None:
        try:
            runner.run(sockets=[sock])
        except Exception:
            # uvicorn's wsproto implementation, shutting down, can try to close a
            # connection the client closed a moment before (LocalProtocolError in state
            # CLOSED): a race inside uvicorn after the test, not the behaviour under test.
            if not runner.should_exit:
                raise

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        runner.should_exit = True
        thread.join(10)

    server.stop = stop
    for _ in range(500):
        if runner.started:
            return
        threading.Event().wait(0.01)
    raise RuntimeError("uvicorn did not start")


def _start_hypercorn(server: WSServer, sock: socket.socket, files: Any) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.loglevel = "ERROR"
    config.websocket_ping_interval = 0.2
    if files is not None:
        config.certfile, config.keyfile = files[1], files[2]
        config.alpn_protocols = ["h2", "http/1.1"]
    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()
    started = threading.Event()

    async def main() -> None:
        started.set()
        await serve(server.app, config, shutdown_trigger=stopping.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    started.wait(10)

    def stop() -> None:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(10)
        with contextlib.suppress(Exception):
            loop.close()

    server.stop = stop
    # Wait until it accepts (the socket listens already: a connection proves the app is up).
    for _ in range(500):
        with contextlib.suppress(OSError), socket.create_connection(sock.getsockname(), 1) as c:
            c.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            if files is not None or c.recv(100):
                return
        threading.Event().wait(0.01)
    raise RuntimeError("hypercorn did not start")


@contextlib.contextmanager
def running(kind: str, *, tls: bool, directory: Path) -> Iterator[WSServer]:
    """``kind``: "uvicorn-wsproto", "uvicorn-websockets" or "hypercorn"."""
    sock = _listener()
    files = _certificates(directory) if tls else None
    server = WSServer(kind, sock.getsockname()[1], tls, files[0] if files else None)
    try:
        if kind == "hypercorn":
            _start_hypercorn(server, sock, files)
        else:
            impl = "websockets-sansio" if kind == "uvicorn-websockets" else "wsproto"
            _start_uvicorn(server, sock, impl, files)
        yield server
    finally:
        server.stop()
        with contextlib.suppress(OSError):  # hypercorn closes what it was given
            sock.close()
