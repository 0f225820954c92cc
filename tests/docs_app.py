"""The server behind the documentation's examples: a small httpbin, as plain ASGI 3.

tests/test_docs.py serves it with hypercorn on 127.0.0.1 (TLS with ALPN h2 and
http/1.1, and plain TCP) and points the examples' ``example.org`` URLs at it. Answers
are deterministic (no dates, no random values), so the examples can show exact output.

=============================================  ===========================================
``/``                                          a short HTML page
``/get`` ``/post`` ``/put`` ``/patch``         the request as JSON: ``method``, ``args``,
``/delete`` ``/anything``                      ``headers``, ``data``, ``form``, ``files``,
                                               ``json``, ``http_version``
``/headers`` ``/user-agent``                   the request headers, or the User-Agent
``/json``                                      a fixed JSON document
``/html``                                      a short HTML page, ISO-8859-1
``/status/<code>``                             an empty response with that status
``/redirect/<n>``                              302s to ``/redirect/<n-1>`` ... ``/get``
``/redirect-to?url=&status_code=``             one redirect to ``url``
``/cookies``                                   the cookies received, as JSON
``/cookies/set?name=value...``                 sets each cookie, then 302 to ``/cookies``
``/basic-auth/<user>/<password>``              200 with those credentials, else 401
``/digest-auth/<qop>/<user>/<password>``       the same with Digest (qop ``auth`` or
                                               ``auth-int``; ``?algorithm=SHA-256``)
``/bearer``                                    200 with any ``Authorization: Bearer``
``/gzip`` ``/deflate``                         a JSON body with that content encoding
``/stream/<n>``                                ``n`` JSON lines, one body message each
``/bytes/<n>``                                 ``n`` bytes of a repeating pattern
``/delay/<seconds>``                           answers after that long (at most 10 s)
``/sse``                                       three server-sent events, then the end
``/links``                                     a ``Link`` header with next and last pages
``/early-hints``                               a ``103 Early Hints`` (where the server
                                               can: hypercorn over HTTP/2), then a page
``/trailers``                                  a text body, then an ``x-checksum``
                                               trailer (its SHA-256; hypercorn over
                                               HTTP/2, to a request with ``TE: trailers``)
any path, as a WebSocket                       every message echoed
=============================================  ===========================================
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import gzip
import hashlib
import json
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REALM = "docs@example.org"
OPAQUE = "5ccc069c403ebaf9f0171e9517f40e41"
MAX_DELAY = 10.0  # seconds: /delay never holds a request longer
PAGE = (
    "<!doctype html>\n<html>\n<head><title>Example Domain</title></head>\n"
    "<body><h1>Example Domain</h1></body>\n</html>\n"
)
DOCUMENT = {"name": "conch", "features": ["HTTP/1.1", "HTTP/2", "asyncio", "trio"]}
HINT = b"</style.css>; rel=preload; as=style"
TRAILED = b"a body whose checksum comes after it\n"
EVENTS = (
    b"event: greeting\ndata: hello\nid: 1\n\n"
    b": a comment, skipped\n"
    b'data: {"n": 2}\nid: 2\n\n'
    b"data: line one\ndata: line two\nid: 3\n\n"
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await _websocket_echo(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    request = _Request(scope, body)
    extensions = scope.get("extensions") or {}
    if scope["path"] == "/early-hints" and "http.response.early_hint" in extensions:
        await send({"type": "http.response.early_hint", "links": [HINT]})
    if scope["path"] == "/trailers" and "http.response.trailers" in extensions:
        await _send_with_trailers(send)
        return
    parts = scope["path"].strip("/").split("/")
    handler = _ROUTES.get(parts[0], _not_found)
    status, headers, content = await handler(request, parts[1:])
    if isinstance(content, bytes):
        headers.append(("content-length", str(len(content))))
        await send(_start(status, headers))
        await send({"type": "http.response.body", "body": content})
        return
    await send(_start(status, headers))
    for piece in content:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
        await asyncio.sleep(0)  # each piece leaves on its own
    await send({"type": "http.response.body", "body": b""})


async def _websocket_echo(receive: Receive, send: Send) -> None:
    """Any WebSocket: accepted, every message echoed, until the client closes."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def _send_with_trailers(send: Send) -> None:
    """TRAILED, then its checksum as a trailer field (the ASGI trailers extension)."""
    start = _start(200, [("content-type", "text/plain")])
    await send({**start, "trailers": True})
    await send({"type": "http.response.body", "body": TRAILED})
    checksum = hashlib.sha256(TRAILED).hexdigest().encode()
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", checksum)]})


def _start(status: int, headers: list[tuple[str, str]]) -> Message:
    pairs = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    return {"type": "http.response.start", "status": status, "headers": pairs}


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


class _Request:
    def __init__(self, scope: Scope, body: bytes) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        self.headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text
        self.http_version = "HTTP/" + scope["http_version"]
        self.body = body

    def args(self) -> dict[str, str | list[str]]:
        return _multi(self.query)


def _multi(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    result: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if name not in result:
            result[name] = value
        else:
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    return result


Answer = tuple[int, list[tuple[str, str]], "bytes | list[bytes]"]
Handler = Callable[[_Request, list[str]], Awaitable[Answer]]


def _json(document: object, status: int = 200) -> Answer:
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return status, [("content-type", "application/json")], text.encode()


def _shown_headers(request: _Request) -> dict[str, str]:
    # HTTP/2's pseudo-header fields are not headers; the rest is shown as received.
    return {name: value for name, value in request.headers.items() if not name.startswith(":")}


def _form_and_files(request: _Request) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        return _multi(parse_qsl(request.body.decode(), keep_blank_values=True)), {}
    if not kind.startswith("multipart/form-data"):
        return {}, {}
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + request.body
    )
    form: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    for part in message.get_payload():  # type: ignore[union-attr]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True).decode("utf-8", "replace")
        if part.get_param("filename", header="content-disposition") is None:
            form.append((name, payload))
        else:
            files.append((name, payload))
    return _multi(form), _multi(files)


async def _echo(request: _Request, args: list[str]) -> Answer:
    form, files = _form_and_files(request)
    document: dict[str, Any] = {
        "method": request.method,
        "args": request.args(),
        "headers": _shown_headers(request),
        "form": form,
        "files": files,
        "http_version": request.http_version,
    }
    if not form and not files:
        document["data"] = request.body.decode("utf-8", "replace")
        try:
            document["json"] = json.loads(request.body) if request.body else None
        except ValueError:
            document["json"] = None
    return _json(document)


async def _home(request: _Request, args: list[str]) -> Answer:
    return 200, [("content-type", "text/html; charset=utf-8")], PAGE.encode()


async def _headers(request: _Request, args: list[str]) -> Answer:
    return _json({"headers": _shown_headers(request)})


async def _user_agent(request: _Request, args: list[str]) -> Answer:
    return _json({"user-agent": request.headers.get("user-agent")})


async def _document(request: _Request, args: list[str]) -> Answer:
    return _json(DOCUMENT)


async def _html(request: _Request, args: list[str]) -> Answer:
    text = "<!doctype html>\n<p>Caf\xe9 cr\xe8me</p>\n"
    return 200, [("content-type", "text/html; charset=iso-8859-1")], text.encode("latin-1")


async def _status(request: _Request, args: list[str]) -> Answer:
    return int(args[0]), [], b""


async def _redirect(request: _Request, args: list[str]) -> Answer:
    n = int(args[0]) if args else 1
    location = "/get" if n <= 1 else f"/redirect/{n - 1}"
    return 302, [("location", location)], b""


async def _redirect_to(request: _Request, args: list[str]) -> Answer:
    query = dict(request.query)
    return int(query.get("status_code", "302")), [("location", query["url"])], b""


async def _cookies(request: _Request, args: list[str]) -> Answer:
    if args and args[0] == "set":
        headers = [("location", "/cookies")]
        headers += [("set-cookie", f"{name}={value}; Path=/") for name, value in request.query]
        return 302, headers, b""
    pairs = [item.strip().partition("=") for item in request.headers.get("cookie", "").split(";")]
    return _json({"cookies": {name: value for name, _, value in pairs if name}})


def _challenge(scheme: str, params: str) -> Answer:
    return 401, [("www-authenticate", f"{scheme} {params}".strip())], b""


async def _basic_auth(request: _Request, args: list[str]) -> Answer:
    user, password = args[0], args[1]
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return _challenge("Basic", f'realm="{REALM}"')
    return _json({"authenticated": True, "user": user})


def _digest_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in header.partition(" ")[2].split(","):
        name, _, value = item.strip().partition("=")
        params[name.lower()] = value.strip('"')
    return params


async def _digest_auth(request: _Request, args: list[str]) -> Answer:
    qop, user, password = args[0], args[1], args[2]
    algorithm = dict(request.query).get("algorithm", "MD5")
    digest = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5

    def h(text: str) -> str:
        return digest(text.encode()).hexdigest()

    # Deterministic, as every answer here, and one per (qop, algorithm): a client that
    # answers one endpoint's challenge up front elsewhere gets a fresh one.
    nonce = hashlib.md5(f"{qop}/{algorithm}".encode()).hexdigest()
    header = request.headers.get("authorization", "")
    params = _digest_params(header)
    if header.startswith("Digest ") and params.get("username") == user:
        ha1 = h(f"{user}:{REALM}:{password}")
        ha2 = f"{request.method}:{params.get('uri')}"
        if qop == "auth-int":
            ha2 += ":" + digest(request.body).hexdigest()
        expected = h(f"{ha1}:{nonce}:{params.get('nc')}:{params.get('cnonce')}:{qop}:{h(ha2)}")
        if params.get("response") == expected and params.get("qop") == qop:
            return _json({"authenticated": True, "user": user})
    return _challenge(
        "Digest",
        f'realm="{REALM}", qop="{qop}", nonce="{nonce}", opaque="{OPAQUE}", algorithm={algorithm}',
    )


async def _bearer(request: _Request, args: list[str]) -> Answer:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        return _challenge("Bearer", "")
    return _json({"authenticated": True, "token": token})


async def _gzip(request: _Request, args: list[str]) -> Answer:
    body = gzip.compress(json.dumps({"gzipped": True}).encode(), mtime=0)
    return 200, [("content-type", "application/json"), ("content-encoding", "gzip")], body


async def _deflate(request: _Request, args: list[str]) -> Answer:
    body = zlib.compress(json.dumps({"deflated": True}).encode())
    return 200, [("content-type", "application/json"), ("content-encoding", "deflate")], body


async def _stream(request: _Request, args: list[str]) -> Answer:
    lines = [json.dumps({"id": i}).encode() + b"\n" for i in range(int(args[0]))]
    return 200, [("content-type", "application/x-ndjson")], lines


async def _bytes(request: _Request, args: list[str]) -> Answer:
    n = int(args[0])
    pattern = bytes(range(256)) * (n // 256 + 1)
    return 200, [("content-type", "application/octet-stream")], pattern[:n]


async def _delay(request: _Request, args: list[str]) -> Answer:
    await asyncio.sleep(min(float(args[0]), MAX_DELAY))
    return _json({"delayed": float(args[0])})


async def _sse(request: _Request, args: list[str]) -> Answer:
    headers = [("content-type", "text/event-stream"), ("cache-control", "no-store")]
    return 200, headers, [event + b"\n\n" for event in EVENTS.split(b"\n\n") if event]


async def _early_hints(request: _Request, args: list[str]) -> Answer:
    return _json({"hinted": "</style.css>"})


async def _trailers(request: _Request, args: list[str]) -> Answer:
    # (Reached where the server cannot send trailers: the body alone.)
    return 200, [("content-type", "text/plain")], TRAILED


async def _links(request: _Request, args: list[str]) -> Answer:
    link = '</items?page=2>; rel="next", </items?page=9>; rel="last"'
    return 200, [("link", link)], b""


async def _not_found(request: _Request, args: list[str]) -> Answer:
    return 404, [("content-type", "text/plain")], b"not found\n"


_ROUTES: dict[str, Handler] = {
    "": _home,
    "early-hints": _early_hints,
    "trailers": _trailers,
    "get": _echo,
    "post": _echo,
    "put": _echo,
    "patch": _echo,
    "delete": _echo,
    "anything": _echo,
    "headers": _headers,
    "user-agent": _user_agent,
    "json": _document,
    "html": _html,
    "status": _status,
    "redirect": _redirect,
    "redirect-to": _redirect_to,
    "cookies": _cookies,
    "basic-auth": _basic_auth,
    "digest-auth": _digest_auth,
    "bearer": _bearer,
    "gzip": _gzip,
    "deflate": _deflate,
    "stream": _stream,
    "bytes": _bytes,
    "delay": _delay,
    "sse": _sse,
    "links": _links,
}
