"""The ASGI application that hypercorn and uvicorn serve to conch in the real-server tests.

Plain ASGI 3 with no framework, so the servers' own HTTP stacks are the only thing between
conch and this code. Routes (query parameters in brackets):

=========================  ============================================================
``/echo``                  the request as JSON: method, path, query, headers, body
                           (latin-1), HTTP version, scheme and the client's port (one
                           port per connection, so tests can count connections)
``/stream`` [n, size]      ``n`` body messages of ``size`` bytes, no Content-Length
``/bytes`` [n]             ``n`` bytes of `pattern`, with Content-Length, in pieces
``/upload``                reads the body piece by piece; answers its length and SHA-256
``/redirect`` [status,     a redirect with the given status and Location
location]
``/cookies/set`` [...,     a 302 to ``next`` (default ``/echo``) setting each other query
next]                      parameter as a cookie
``/gzip``                  a gzip-encoded text body (the servers do not compress)
``/slow`` [delay]          waits ``delay`` seconds, then answers ``done``
=========================  ============================================================
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PIECE = 64 * 1024  # /bytes sends its body in messages of this size, like a file server
GZIP_TEXT = "conch reads gzip from hypercorn and uvicorn.\n" * 200
_PATTERN = bytes(range(256)) * (PIECE // 256)


def pattern(n: int) -> bytes:
    """The body of ``/bytes?n=<n>``: a repeating 0..255 byte pattern cut at ``n``."""
    whole, rest = divmod(n, len(_PATTERN))
    return _PATTERN * whole + _PATTERN[:rest]


def stream_piece(index: int, size: int) -> bytes:
    """The ``index``-th message of ``/stream?size=<size>``: a digit repeated."""
    return str(index % 10).encode("ascii") * size


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    handler = _ROUTES.get(scope["path"], _not_found)
    await handler(scope, query, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"text/plain; charset=utf-8",
) -> None:
    head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})


Query = dict[str, str]


async def _echo(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    client = scope.get("client")
    document = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "client_port": client[1] if client else None,
    }
    await _reply(send, 200, json.dumps(document).encode(), content_type=b"application/json")


async def _stream(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    count, size = int(query.get("n", "5")), int(query.get("size", "1000"))
    head = [(b"content-type", b"application/octet-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    for index in range(count):
        await send(
            {"type": "http.response.body", "body": stream_piece(index, size), "more_body": True}
        )
        # Give the server a chance to flush each message on its own.
        await asyncio.sleep(0.001)
    await send({"type": "http.response.body", "body": b""})


async def _bytes(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    n = int(query.get("n", "0"))
    head = [(b"content-type", b"application/octet-stream"), (b"content-length", str(n).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    body = pattern(n)
    for start in range(0, n, PIECE):
        piece = body[start : start + PIECE]
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _upload(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    digest, length = hashlib.sha256(), 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        digest.update(chunk)
        length += len(chunk)
        if not message.get("more_body", False):
            break
    answer = {"length": length, "sha256": digest.hexdigest()}
    await _reply(send, 200, json.dumps(answer).encode(), content_type=b"application/json")


async def _redirect(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    status = int(query.get("status", "302"))
    location = query.get("location", "/echo").encode("latin-1")
    await _reply(send, status, b"", [(b"location", location)])


async def _set_cookies(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    target = query.pop("next", "/echo").encode("latin-1")
    headers = [(b"location", target)]
    for name, value in query.items():
        headers.append((b"set-cookie", f"{name}={value}; Path=/".encode("latin-1")))
    await _reply(send, 302, b"", headers)


async def _gzip(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    body = gzip.compress(GZIP_TEXT.encode("ascii"))
    await _reply(send, 200, body, [(b"content-encoding", b"gzip")])


async def _slow(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    await asyncio.sleep(float(query.get("delay", "1")))
    await _reply(send, 200, b"done")


async def _not_found(scope: Scope, query: Query, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    await _reply(send, 404, b"not found")


_ROUTES: dict[str, Callable[[Scope, Query, Receive, Send], Awaitable[None]]] = {
    "/echo": _echo,
    "/stream": _stream,
    "/bytes": _bytes,
    "/upload": _upload,
    "/redirect": _redirect,
    "/cookies/set": _set_cookies,
    "/gzip": _gzip,
    "/slow": _slow,
}
