"""`Client(http2=True)` against an in-process HTTP/2 server: TLS with ALPN, h2c by prior
knowledge, fallback to HTTP/1.1, many streams on one connection, flow control both ways,
threads sharing a client, GOAWAY retries, resets and timeouts of single streams.

The server (`H2Server`, also used by tests/async_io/test_transport_h2.py) is h2 in the
server role, one thread per connection on tests/servers.py's `Server`. It checks the
client's frames as it parses them: a frame out of order (a stream id below one already
used, a DATA frame beyond the window) ends the test with the server's error.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
import trustme
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from sansio.config import Limits, Timeout
from sansio.exceptions import PoolTimeout, ReadTimeout, RemoteProtocolError
from sansio.models import Response
from sansio.pool import PoolMachine, PoolStatistics
from sync_io import Client, HTTPTransport
from tests.servers import PIECE, Server, default_app, http_handler

SHORT = 0.2  # seconds: every timeout these tests wait for
MiB = 1024 * 1024


def payload(size: int) -> bytes:
    return (PIECE * (size // len(PIECE) + 1))[:size]


# --------------------------------------------------------------------------- the server


@dataclass
class Seen:
    """A request as the HTTP/2 server received it."""

    connection: int
    stream_id: int
    method: str
    path: str
    headers: dict[bytes, bytes]
    body: bytes = b""


@dataclass
class H2Server:
    """An HTTP/2 server over TLS (ALPN) or plain TCP (h2c by prior knowledge).

    Routes: ``/`` a greeting; ``/conn`` and ``/stream`` the connection index and stream
    id; ``/digest`` size and sha256 of the request body; ``/bytes/N`` N bytes of
    `payload`; ``/sleep/S`` answer after S seconds; ``/hold`` never answer; ``/reset``
    reset the stream (INTERNAL_ERROR); ``/refuse-once`` refuse the stream the first time
    (REFUSED_STREAM); ``/limit/N`` answer, then set SETTINGS_MAX_CONCURRENT_STREAMS to N
    (``/limit/N/M/S``: and to M after S seconds); ``/goaway`` answer, then send GOAWAY;
    ``/hints`` a 103 Early Hints, then the answer once ``hinted`` is set (after 5 s at
    most), its body saying whether it was set.
    With ``goaway_at=K`` the first connection holds its requests until K have arrived,
    answers the first and sends GOAWAY naming it as the last.
    """

    tls: ssl.SSLContext | None = None
    goaway_at: int | None = None
    seen: list[Seen] = field(default_factory=list)
    resets: list[tuple[int, int]] = field(default_factory=list)  # (stream id, error code)
    refused: set[str] = field(default_factory=set)
    hinted: threading.Event = field(default_factory=threading.Event)
    answered: list[bytes] = field(default_factory=list)  # the bodies ``/hints`` sent
    server: Server = field(init=False)

    def __post_init__(self) -> None:
        self.server = Server(self._handle, tls=self.tls)

    def url(self, path: str = "/") -> str:
        return self.server.url(path, scheme="https" if self.tls else "http")

    @property
    def connections(self) -> int:
        return self.server.accepted

    def close(self) -> None:
        self.server.close()

    def _handle(self, server: Server, conn: socket.socket, index: int) -> None:
        if isinstance(conn, ssl.SSLSocket) and conn.selected_alpn_protocol() != "h2":
            http_handler(default_app)(server, conn, index)
            return
        _Peer(self, conn, index).run()


class _Peer:
    """One server-side HTTP/2 connection.

    The handler thread reads and parses; a writer thread sends, so the server reads on
    while a write blocks (as event-driven servers do). The socket blocks without a
    timeout: an ssl socket with one is not safe for a reader and a writer thread.
    """

    def __init__(self, owner: H2Server, sock: socket.socket, index: int) -> None:
        self.owner = owner
        self.sock = sock
        self.index = index
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.lock = threading.Lock()  # guards h2 and the state below
        self.requests: dict[int, Seen] = {}
        self.outgoing: dict[int, memoryview] = {}
        self.held: list[Seen] = []
        self.gone = False  # GOAWAY sent: read and discard until the client closes
        self.queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def run(self) -> None:
        self.sock.settimeout(None)
        writer = threading.Thread(target=self.write, daemon=True)
        writer.start()
        try:
            with self.lock:
                self.h2.initiate_connection()
                self.flush()
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                with self.lock:
                    if not self.gone:
                        for event in self.h2.receive_data(data):
                            self.on_event(event)
                        self.pump()
                        self.flush()
        finally:
            self.queue.put(None)
            writer.join(10)

    def write(self) -> None:
        with contextlib.suppress(OSError):
            while (data := self.queue.get()) is not None:
                self.sock.sendall(data)

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.queue.put(data)

    def limit(self, streams: int, seconds: float = 0.0) -> None:
        """SETTINGS_MAX_CONCURRENT_STREAMS: now (the lock is held) or in ``seconds``."""

        def change() -> None:
            if not self.gone:
                self.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: streams})
                self.flush()

        def fire() -> None:
            with self.lock:
                change()

        if not seconds:
            change()
            return
        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()

    def when_hinted(self, sid: int) -> None:
        """Answer once the owner's ``hinted`` is set (5 s at most): b"hinted" or b"late"."""

        def wait() -> None:
            body = b"hinted" if self.owner.hinted.wait(5) else b"late"
            with self.lock:
                self.owner.answered.append(body)
                if sid in self.requests and not self.gone:
                    self.respond(sid, body)
                    self.pump()
                    self.flush()

        threading.Thread(target=wait, daemon=True).start()

    def later(self, seconds: float, sid: int, body: bytes) -> None:
        def fire() -> None:
            with self.lock:
                if sid in self.requests and not self.gone:
                    self.respond(sid, body)
                    self.pump()
                    self.flush()

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()

    def on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = dict(event.headers)
            self.requests[event.stream_id] = Seen(
                self.index,
                event.stream_id,
                headers[b":method"].decode(),
                headers[b":path"].decode(),
                headers,
            )
        elif isinstance(event, h2.events.DataReceived):
            self.requests[event.stream_id].body += event.data
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            seen = self.requests[event.stream_id]
            self.owner.seen.append(seen)
            if self.owner.goaway_at is not None and self.index == 0:
                self.held.append(seen)
                if len(self.held) == self.owner.goaway_at:
                    first = min(s.stream_id for s in self.held)
                    self.route(self.requests[first])
                    self.pump()
                    self.h2.close_connection(last_stream_id=first)
                    self.flush()
                    self.gone = True
            else:
                self.route(seen)
        elif isinstance(event, h2.events.StreamReset):
            self.owner.resets.append((event.stream_id, event.error_code))
            self.requests.pop(event.stream_id, None)
            self.outgoing.pop(event.stream_id, None)

    def route(self, seen: Seen) -> None:
        parts = seen.path.split("?")[0].strip("/").split("/")
        name, args = parts[0], parts[1:]
        sid = seen.stream_id
        if name == "":
            self.respond(sid, b"Hello, world!")
        elif name == "conn":
            self.respond(sid, str(self.index).encode())
        elif name == "stream":
            self.respond(sid, str(sid).encode())
        elif name == "digest":
            self.respond(sid, f"{len(seen.body)} {hashlib.sha256(seen.body).hexdigest()}".encode())
        elif name == "bytes":
            self.respond(sid, payload(int(args[0])))
        elif name == "sleep":
            self.later(float(args[0]), sid, b"slept")
        elif name == "hold":
            pass
        elif name == "reset":
            self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
            del self.requests[sid]
        elif name == "limit":
            self.respond(sid, b"ok")
            self.pump()
            self.limit(int(args[0]))
            if len(args) > 1:
                self.limit(int(args[1]), float(args[2]))
        elif name == "goaway":
            self.respond(sid, b"ok")
            self.pump()
            self.h2.close_connection(last_stream_id=sid)
            self.gone = True
        elif name == "hints":
            self.h2.send_headers(sid, [(b":status", b"103"), (b"link", b"</a.css>")])
            self.flush()
            self.when_hinted(sid)
        elif name == "refuse-once" and seen.path not in self.owner.refused:
            self.owner.refused.add(seen.path)
            self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            del self.requests[sid]
        else:
            self.respond(sid, b"ok")

    def respond(self, sid: int, body: bytes) -> None:
        headers = [(b":status", b"200"), (b"content-length", str(len(body)).encode())]
        try:
            self.h2.send_headers(sid, headers, end_stream=not body)
        except h2.exceptions.StreamClosedError:
            self.requests.pop(sid, None)  # the client reset it meanwhile
            return
        if body:
            self.outgoing[sid] = memoryview(body)
        else:
            del self.requests[sid]

    def pump(self) -> None:
        """Send response bodies as far as the client's windows allow."""
        for sid, data in list(self.outgoing.items()):
            try:
                while data:
                    window = self.h2.local_flow_control_window(sid)
                    size = min(window, self.h2.max_outbound_frame_size)
                    if size <= 0:
                        break
                    chunk, data = data[:size], data[size:]
                    self.h2.send_data(sid, chunk.tobytes(), end_stream=not data)
            except h2.exceptions.StreamClosedError:
                data = memoryview(b"")  # the client reset it meanwhile
            if data:
                self.outgoing[sid] = data
            else:
                del self.outgoing[sid]
                self.requests.pop(sid, None)


@dataclass
class Certs:
    ca: trustme.CA
    cert: trustme.LeafCert

    def server(self, *alpn: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def client(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(ctx)
        return ctx


def make_certs() -> Certs:
    ca = trustme.CA()
    return Certs(ca, ca.issue_cert("localhost", "127.0.0.1"))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def certs() -> Certs:
    return make_certs()


@pytest.fixture
def servers() -> Iterator[list[H2Server]]:
    started: list[H2Server] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture
def h2_tls(certs: Certs, servers: list[H2Server]) -> H2Server:
    server = H2Server(tls=certs.server("h2", "http/1.1"))
    servers.append(server)
    return server


@pytest.fixture
def h2c(servers: list[H2Server]) -> H2Server:
    server = H2Server()
    servers.append(server)
    return server


def client_for(server: H2Server, certs: Certs, **kwargs: Any) -> Client:
    if server.tls is None:
        return Client(http1=False, http2=True, **kwargs)
    return Client(http2=True, verify=certs.client(), **kwargs)


def pool_of(client: Client) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, HTTPTransport)
    return transport._engine.statistics()


class CountingPool(PoolMachine):
    """The pool machine, counting checkouts: a busy loop would make thousands."""

    __slots__ = ("checkouts",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checkouts = 0

    def checkout(self, *args: Any, **kwargs: Any) -> Any:
        self.checkouts += 1
        return super().checkout(*args, **kwargs)


def counting_pool(transport: Any, **kwargs: Any) -> CountingPool:
    pool = transport._engine._pool = CountingPool(**kwargs)
    return pool


def assert_no_leaks(client: Client) -> None:
    stats = pool_of(client)
    assert (stats.connecting, stats.active, stats.waiters) == (0, 0, 0), stats


def in_threads(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started together; results (or errors) in order."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


# --------------------------------------------------------------------------- tests


def test_the_informational_hook_runs_as_the_103_arrives(h2c: H2Server, certs: Certs) -> None:
    seen: list[Response] = []

    def informational(response: Response) -> None:
        seen.append(response)
        h2c.hinted.set()  # the server answers only then

    hooks = {"informational": [informational], "response": [seen.append]}
    with client_for(h2c, certs, event_hooks=hooks) as client:
        response = client.get(h2c.url("/hints"))
        assert response.text == "hinted"
        assert seen == [*response.informational, response]  # each once, in order
        assert (seen[0].status_code, seen[0].headers["link"]) == (103, "</a.css>")
        assert_no_leaks(client)


def test_a_failing_informational_hook_fails_the_send_at_once(h2c: H2Server, certs: Certs) -> None:
    def informational(response: Response) -> None:
        raise LookupError("the hook failed")

    with client_for(h2c, certs, event_hooks={"informational": [informational]}) as client:
        with pytest.raises(LookupError, match="the hook failed"):
            client.get(h2c.url("/hints"))
        assert h2c.answered == []  # before the final head came
        h2c.hinted.set()  # (its waiting thread may go)
        assert_no_leaks(client)
        assert client.get(h2c.url("/")).text == "Hello, world!"  # the connection goes on
    assert h2c.connections == 1


@pytest.mark.parametrize("kind", ["tls", "h2c"])
def test_single_request(kind: str, certs: Certs, request: pytest.FixtureRequest) -> None:
    server: H2Server = request.getfixturevalue("h2_tls" if kind == "tls" else "h2c")
    with client_for(server, certs) as client:
        response = client.get(server.url("/"), headers={"X-Test": "yes"})
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
        assert response.reason_phrase == "OK"  # HTTP/2 has none: the standard one
        assert "reason_phrase" not in response.extensions
        assert response.extensions["stream_id"] == 1
        assert response.text == "Hello, world!"
        second = client.get(server.url("/stream"))
        assert second.extensions["stream_id"] == 3
        assert second.text == "3"
        assert_no_leaks(client)
    assert server.connections == 1
    seen = server.seen[0]
    assert seen.headers[b"x-test"] == b"yes"
    assert seen.headers[b":scheme"] == (b"https" if kind == "tls" else b"http")
    assert seen.headers[b":authority"] == f"127.0.0.1:{server.server.port}".encode()


def test_fallback_to_http11_when_the_server_picks_it(certs: Certs) -> None:
    with Server(http_handler(default_app), tls=certs.server("http/1.1")) as server:
        with Client(http2=True, verify=certs.client()) as client:
            response = client.get(server.url("/", scheme="https"))
            assert response.http_version == "HTTP/1.1"
            assert response.text == "Hello, world!"
            assert "stream_id" not in response.extensions
            # Later requests use the HTTP/1.1 connection as usual.
            assert client.get(server.url("/conn", scheme="https")).text == "0"
        server.close()


def test_plain_http_with_both_versions_speaks_http11() -> None:
    with Server(http_handler(default_app)) as server:
        with Client(http2=True) as client:
            assert client.get(server.url("/")).http_version == "HTTP/1.1"
        server.close()


def test_burst_of_threads_shares_one_connection(h2_tls: H2Server, certs: Certs) -> None:
    # 16 threads start together: the first opens the connection, the rest wait for
    # its ALPN answer and then share it.
    with client_for(h2_tls, certs) as client:
        results = in_threads(16, lambda i: client.get(h2_tls.url("/conn")).text)
        assert results == ["0"] * 16
        assert_no_leaks(client)
    assert h2_tls.connections == 1


def test_thread_shared_client_mixed_work(h2_tls: H2Server, certs: Certs) -> None:
    """16 threads, each streaming downloads and uploads at once on one connection."""
    big = payload(MiB + 123)
    expected = f"{len(big)} {hashlib.sha256(big).hexdigest()}"

    def work(i: int) -> list[int]:
        ids = []
        for round_ in range(4):
            if (i + round_) % 3 == 0:
                response = client.post(h2_tls.url("/digest"), content=big)
                assert response.text == expected
            elif (i + round_) % 3 == 1:
                with client.stream("GET", h2_tls.url(f"/bytes/{300_000 + i}")) as response:
                    digest = hashlib.sha256()
                    for chunk in response.iter_bytes():
                        digest.update(chunk)
                assert digest.digest() == hashlib.sha256(payload(300_000 + i)).digest()
            else:
                response = client.get(h2_tls.url("/stream"))
                assert response.text == str(response.extensions["stream_id"])
            ids.append(response.extensions["stream_id"])
        return ids

    with client_for(h2_tls, certs, timeout=10.0) as client:
        results = in_threads(16, work)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        ids = [sid for r in results for sid in r]
        assert len(set(ids)) == 64
        assert_no_leaks(client)
    assert h2_tls.connections == 1


@pytest.mark.parametrize("kind", ["tls", "h2c"])
def test_large_download_and_upload_under_flow_control(
    kind: str, certs: Certs, request: pytest.FixtureRequest
) -> None:
    server: H2Server = request.getfixturevalue("h2_tls" if kind == "tls" else "h2c")
    size = 10 * MiB
    body = payload(size)
    with client_for(server, certs, timeout=10.0) as client:
        with client.stream("GET", server.url(f"/bytes/{size}")) as response:
            digest = hashlib.sha256()
            for chunk in response.iter_raw():
                digest.update(chunk)
        assert digest.digest() == hashlib.sha256(body).digest()
        response = client.post(server.url("/digest"), content=body)
        assert response.text == f"{size} {hashlib.sha256(body).hexdigest()}"

        def chunks() -> Iterator[bytes]:  # a streamed body: 2 MiB in 100 kB pieces
            for start in range(0, 2 * MiB, 100_000):
                yield body[start : min(start + 100_000, 2 * MiB)]

        response = client.post(server.url("/digest"), content=chunks())
        assert response.text == f"{2 * MiB} {hashlib.sha256(body[: 2 * MiB]).hexdigest()}"
        assert_no_leaks(client)
    assert server.connections == 1


def test_goaway_streams_are_retried_on_a_new_connection(
    certs: Certs, servers: list[H2Server]
) -> None:
    server = H2Server(tls=certs.server("h2"), goaway_at=5)
    servers.append(server)
    with client_for(server, certs, timeout=5.0) as client:
        # POST too: the server promised it did not process them (RFC 9113 §8.7).
        results = in_threads(
            5, lambda i: client.post(server.url("/conn"), content=b"x").extensions["network_stream"]
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        assert_no_leaks(client)
    # One answered on the first connection, the four others retried together on a second.
    assert server.connections == 2
    assert sorted(s.connection for s in server.seen) == [0] * 5 + [1] * 4


def test_refused_stream_is_retried(h2_tls: H2Server, certs: Certs) -> None:
    with client_for(h2_tls, certs) as client:
        response = client.post(h2_tls.url("/refuse-once"), content=b"data")
        assert response.text == "ok"
    assert [s.path for s in h2_tls.seen] == ["/refuse-once"] * 2


def test_reset_of_one_stream_leaves_the_others(h2_tls: H2Server, certs: Certs) -> None:
    def work(i: int) -> str:
        return client.get(h2_tls.url("/reset" if i == 0 else "/sleep/0.05")).text

    with client_for(h2_tls, certs) as client:
        results = in_threads(6, work)
        assert isinstance(results[0], RemoteProtocolError)
        assert "reset the stream (INTERNAL_ERROR)" in str(results[0])
        assert results[1:] == ["slept"] * 5
        assert client.get(h2_tls.url("/conn")).text == "0"
        assert_no_leaks(client)
    assert h2_tls.connections == 1


def test_read_timeout_ends_only_its_stream(h2_tls: H2Server, certs: Certs) -> None:
    def work(i: int) -> str:
        if i == 0:
            return client.get(h2_tls.url("/hold"), timeout=SHORT).text
        return client.get(h2_tls.url("/sleep/0.3")).text

    with client_for(h2_tls, certs, timeout=5.0) as client:
        results = in_threads(4, work)
        assert isinstance(results[0], ReadTimeout)
        assert results[1:] == ["slept"] * 3
        assert client.get(h2_tls.url("/conn")).text == "0"
        assert_no_leaks(client)
    assert h2_tls.connections == 1
    held = next(s.stream_id for s in h2_tls.seen if s.path == "/hold")
    assert (held, ErrorCodes.CANCEL) in h2_tls.resets


def test_closing_a_response_early_resets_its_stream(h2_tls: H2Server, certs: Certs) -> None:
    with client_for(h2_tls, certs) as client:
        with client.stream("GET", h2_tls.url(f"/bytes/{4 * MiB}")) as response:
            first = next(response.iter_raw())
            assert first
        # The connection stays in use: the stream was reset, not the connection.
        assert client.get(h2_tls.url("/conn")).text == "0"
        assert_no_leaks(client)
    deadline = time.monotonic() + 2
    while not h2_tls.resets and time.monotonic() < deadline:
        time.sleep(0.01)
    assert h2_tls.resets == [(1, ErrorCodes.CANCEL)]
    assert h2_tls.connections == 1


def test_many_streams_beyond_the_servers_limit_open_more_connections(
    h2_tls: H2Server, certs: Certs
) -> None:
    # 120 requests at once on a server allowing 100 streams: a second connection.
    with client_for(h2_tls, certs, limits=Limits(max_connections=10)) as client:
        results = in_threads(120, lambda i: client.get(h2_tls.url("/sleep/0.2")).text)
        assert results == ["slept"] * 120
        assert_no_leaks(client)
    assert h2_tls.connections == 2


def test_idle_connection_closed_by_the_server_is_not_reused(h2_tls: H2Server, certs: Certs) -> None:
    with client_for(h2_tls, certs) as client:
        assert client.get(h2_tls.url("/conn")).text == "0"
        # The server goes away while the connection is idle.
        with h2_tls.server.lock:
            conns = list(h2_tls.server._conns)
        for conn in conns:
            with contextlib.suppress(OSError):  # the plain socket under a TLS one is closed
                conn.shutdown(socket.SHUT_RDWR)
        time.sleep(0.05)
        assert client.get(h2_tls.url("/conn")).text == "1"
        assert_no_leaks(client)


def test_timeout_type_is_honoured_per_request(h2c: H2Server, certs: Certs) -> None:
    with client_for(h2c, certs, timeout=Timeout(5.0, read=SHORT)) as client:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            client.get(h2c.url("/hold"))
        assert time.monotonic() - started < 2
        assert client.get(h2c.url("/")).text == "Hello, world!"
    assert h2c.connections == 1


# ------------------------------------------------ a server that allows no stream, GOAWAY
# (RFC 9113 §5.1.2: SETTINGS_MAX_CONCURRENT_STREAMS may be 0.) Each test has an outer
# deadline: before the fix, such a connection was handed out, found full, checked in and
# handed out again without end, ignoring the pool timeout.


@pytest.mark.timeout(30)
def test_no_stream_allowed_opens_another_connection(h2c: H2Server, certs: Certs) -> None:
    with client_for(h2c, certs) as client:
        assert client.get(h2c.url("/limit/0")).text == "ok"
        assert client.get(h2c.url("/conn")).text == "1"
        assert client.get(h2c.url("/conn")).text == "1"  # the new one is reused
        assert_no_leaks(client)
        assert pool_of(client).idle == 2  # the full one is kept: its server may relent
    assert h2c.connections == 2


@pytest.mark.timeout(30)
def test_no_stream_allowed_and_no_other_connection_is_a_pool_timeout(
    h2_tls: H2Server, certs: Certs
) -> None:
    limits = Limits(max_connections=1)
    with client_for(h2_tls, certs, limits=limits, timeout=Timeout(5.0, pool=SHORT)) as client:
        assert client.get(h2_tls.url("/limit/0")).text == "ok"
        with pytest.raises(PoolTimeout):
            client.get(h2_tls.url("/conn"))
        assert_no_leaks(client)
    assert h2_tls.connections == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["tls", "h2c"])
def test_waiting_requests_go_once_streams_are_allowed_again(
    kind: str, certs: Certs, request: pytest.FixtureRequest
) -> None:
    server: H2Server = request.getfixturevalue("h2_tls" if kind == "tls" else "h2c")
    with client_for(server, certs, timeout=5.0) as client:
        pool = counting_pool(client._transport, max_connections=1)
        assert client.get(server.url("/limit/0/100/0.3")).text == "ok"
        # Three threads wait: the server lifts the limit on the same connection.
        results = in_threads(3, lambda i: client.get(server.url("/conn")).text)
        assert results == ["0"] * 3
        assert_no_leaks(client)
        # A look per waiter every 0.1 s at most (the pool timeout is 5 s): no busy loop.
        assert pool.checkouts < 300
    assert server.connections == 1


@pytest.mark.timeout(30)
def test_connection_that_sent_goaway_while_idle_is_not_reused(h2c: H2Server, certs: Certs) -> None:
    with client_for(h2c, certs, limits=Limits(max_connections=1)) as client:
        assert client.get(h2c.url("/goaway")).text == "ok"
        time.sleep(0.05)  # the GOAWAY arrives while the connection is idle
        assert client.get(h2c.url("/conn")).text == "1"
        assert_no_leaks(client)
        assert pool_of(client).connections == 1
    assert h2c.connections == 2
