"""`connect_sse` / `aconnect_sse` end to end: `Client` and `AsyncClient` (asyncio and trio)
against loopback servers over HTTP/1.1 (h11 in the server role), h2c and HTTP/2 over TLS
(h2 in the server role): events arriving in pieces, the wrong content type, the size
limit, and reconnection with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
import trio

from async_io import AsyncClient
from async_io.sse import aconnect_sse
from sansio.sse import EventTooLarge, Reconnect, ServerSentEvent, SSEError
from sync_io import Client
from sync_io.sse import connect_sse
from tests.servers import CLOSE, READ, Got, Reply, Server, http_handler, scripted
from tests.sync_io.test_transport_h2 import Certs, make_certs

E = ServerSentEvent
STREAM = ("Content-Type", "text/event-stream")
GATE_TIMEOUT = 5.0  # seconds a server waits for the client to show it saw an event


# --------------------------------------------------------------------------- the servers


App = Callable[[Server, Got], Reply]


def h2_handler(app: App) -> Callable[[Server, socket.socket, int], None]:
    """A small HTTP/2 server (h2c or TLS): each request, once complete, is answered by
    ``app``; the body's pieces go out as they come (one DATA frame each)."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        machine = h2.connection.H2Connection(config)
        machine.initiate_connection()
        conn.sendall(machine.data_to_send())
        heads: dict[int, dict[str, str]] = {}
        while data := conn.recv(65536):
            for event in machine.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    heads[event.stream_id] = {
                        name.decode(): value.decode() for name, value in event.headers
                    }
                elif isinstance(event, h2.events.StreamEnded):
                    headers = heads.pop(event.stream_id)
                    got = Got(headers[":method"], headers[":path"], headers, b"", index)
                    _answer(server, conn, machine, event.stream_id, app(server, got))
            conn.sendall(machine.data_to_send())

    return handle


def _answer(
    server: Server, conn: socket.socket, machine: h2.connection.H2Connection, sid: int, reply: Reply
) -> None:
    pieces = [reply.body] if isinstance(reply.body, bytes) else reply.body
    head = [(":status", str(reply.status)), *((n.lower(), v) for n, v in reply.headers)]
    machine.send_headers(sid, head)
    conn.sendall(machine.data_to_send())
    for piece in pieces:
        if piece:
            machine.send_data(sid, piece)
            conn.sendall(machine.data_to_send())
            if reply.pause:
                server.sleep(reply.pause)
    machine.end_stream(sid)
    conn.sendall(machine.data_to_send())


@dataclass
class Site:
    """An SSE server on one protocol, with the routes the tests use.

    ``/pieces``: one event, then (once the client shows it got it, through `gate`) a second
    one cut mid-line, mid-character and inside a CRLF. ``/text``: not an event stream.
    ``/big``: an event of 2000 bytes. ``/reconnect``: a stream per request, the third a 204.
    """

    protocol: str
    certs: Certs
    gate: threading.Event = field(default_factory=threading.Event)
    seen: list[dict[str, str]] = field(default_factory=list)
    server: Server = field(init=False)

    def __post_init__(self) -> None:
        if self.protocol == "http/1.1":
            self.server = Server(http_handler(self.app))
        else:
            tls = self.certs.server("h2") if self.protocol == "h2" else None
            self.server = Server(h2_handler(self.app), tls=tls)

    def url(self, path: str) -> str:
        return self.server.url(path, scheme="https" if self.protocol == "h2" else "http")

    def options(self) -> dict[str, Any]:
        if self.protocol == "h2c":
            return {"http1": False, "http2": True}
        if self.protocol == "h2":
            return {"http2": True, "verify": self.certs.client()}
        return {}

    def app(self, server: Server, got: Got) -> Reply:
        self.seen.append({k: v for k, v in got.headers.items() if not k.startswith(":")})
        path = got.target
        if path == "/pieces":
            return Reply(headers=[STREAM], body=self._pieces(), pause=0.005)
        if path == "/text":
            return Reply(headers=[("Content-Type", "text/plain")], body=b"data: no\n\n")
        if path == "/big":
            return Reply(
                headers=[STREAM], body=[b"data: ok\n\n", b"data: " + b"x" * 2000 + b"\n\n"]
            )
        assert path == "/reconnect"
        answers = [
            [b"retry: 0\nid: 1\ndata: a\n\nid: 2\ndata: lost"],
            [b"data: b\n\nid: 3\ndata: c\n\n"],
        ]
        count = len(self.seen)
        if count > len(answers):
            return Reply(status=204)
        return Reply(headers=[STREAM], body=answers[count - 1])

    def _pieces(self) -> Iterator[bytes]:
        yield b": hello\n\nretry: 5\nid: 1\ndata: first\n\n"
        if not self.gate.wait(GATE_TIMEOUT):
            yield b"data: the client held the first event back\n\n"
        yield from [b"data: caf\xc3", b"\xa9 \xe2\x82", b"\xac\r", b"\nid: 2\r", b"\n\r\n"]

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def certs() -> Certs:
    return make_certs()


@pytest.fixture(params=["http/1.1", "h2c", "h2"])
def site(request: pytest.FixtureRequest, certs: Certs) -> Iterator[Site]:
    site = Site(request.param, certs)
    yield site
    site.close()


@pytest.fixture(params=["sync", "asyncio", "trio"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --------------------------------------------------------------------------- the clients


def read(
    mode: str,
    url: str,
    client_options: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    after_each: Callable[[ServerSentEvent], None] = lambda event: None,
    versions: list[str] | None = None,
    **options: Any,
) -> list[ServerSentEvent]:
    """Every event of ``url`` through `connect_sse` (sync) or `aconnect_sse` (on ``mode``);
    the HTTP version of the first response goes to ``versions``."""
    versions = [] if versions is None else versions
    found: list[ServerSentEvent] = []
    if mode == "sync":
        with (
            Client(**client_options) as client,
            connect_sse(client, "GET", url, headers=headers) as source,
        ):
            versions.append(source.response.http_version)
            for event in source.iter_sse(**options):
                found.append(event)
                after_each(event)
        return found

    async def main() -> list[ServerSentEvent]:
        async with (
            AsyncClient(**client_options) as client,
            aconnect_sse(client, "GET", url, headers=headers) as source,
        ):
            versions.append(source.response.http_version)
            async for event in source.aiter_sse(**options):
                found.append(event)
                after_each(event)
        return found

    return asyncio.run(main()) if mode == "asyncio" else trio.run(main)


# --------------------------------------------------------------------------- the tests


def test_events_arrive_as_they_are_sent(site: Site, mode: str) -> None:
    def open_gate(event: ServerSentEvent) -> None:
        site.gate.set()  # the server sends the rest only once the first event is here

    versions: list[str] = []
    found = read(mode, site.url("/pieces"), site.options(), after_each=open_gate, versions=versions)
    assert found == [E(data="first", id="1", retry=5), E(data="caf\u00e9 \u20ac", id="2")]
    assert versions == ["HTTP/1.1" if site.protocol == "http/1.1" else "HTTP/2"]
    (headers,) = site.seen
    assert headers["accept"] == "text/event-stream"
    assert headers["cache-control"] == "no-store"
    assert "last-event-id" not in headers


def test_not_an_event_stream(site: Site, mode: str) -> None:
    with pytest.raises(SSEError, match=r"text/event-stream.*text/plain"):
        read(mode, site.url("/text"), site.options())


def test_the_size_limit(site: Site, mode: str) -> None:
    found: list[ServerSentEvent] = []
    with pytest.raises(EventTooLarge, match="max_event_size=1000"):
        read(mode, site.url("/big"), site.options(), after_each=found.append, max_event_size=1000)
    assert found == [E(data="ok")]
    assert read(mode, site.url("/big"), site.options(), max_event_size=2006)[1].data == "x" * 2000


def test_reconnection_sends_the_last_event_id(site: Site, mode: str) -> None:
    found = read(
        mode, site.url("/reconnect"), site.options(), headers={"X-Token": "t"}, reconnect=True
    )
    assert found == [E(data="a", id="1", retry=0), E(data="b", id="1"), E(data="c", id="3")]
    assert [headers.get("last-event-id") for headers in site.seen] == [None, "1", "3"]
    assert all(headers["x-token"] == "t" for headers in site.seen)
    assert all(headers["accept"] == "text/event-stream" for headers in site.seen)


def test_without_reconnect_the_stream_just_ends(site: Site, mode: str) -> None:
    found = read(mode, site.url("/reconnect"), site.options())
    assert found == [E(data="a", id="1", retry=0)]
    assert len(site.seen) == 1


# A stream cut by the server mid-event, over HTTP/1.1, then a 204: "do not reconnect".
def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_CUT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    + _chunk(b"retry: 0\nid: 7\ndata: before\n\n")
    + _chunk(b"data: cut")
)
_STOP = b"HTTP/1.1 204 No Content\r\n\r\n"


def test_a_cut_connection_reconnects_with_the_last_event_id(mode: str) -> None:
    with Server(scripted((READ, _CUT, CLOSE), (READ, _STOP))) as server:
        policy = Reconnect()
        found = read(mode, server.url("/"), {}, reconnect=policy)
        assert found == [E(data="before", id="7", retry=0)]
        first, second = (head.lower() for head in server.requests)
        assert b"last-event-id" not in first
        assert b"\r\nlast-event-id: 7\r\n" in second
        assert server.accepted == 2
        assert policy.last_event_id == "7"


def test_giving_up_when_reconnections_bring_nothing(mode: str) -> None:
    # After the first, every connection closes without an answer.
    with Server(scripted((READ, _CUT, CLOSE), (READ, CLOSE))) as server:
        with pytest.raises(SSEError, match="max_reconnects=2"):
            read(mode, server.url("/"), {}, reconnect=Reconnect(max_reconnects=2))
        assert server.accepted == 3
