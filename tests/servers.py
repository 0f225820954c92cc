"""Loopback servers for shell tests: real sockets, a thread per connection, no mocks.

- `Server` accepts on 127.0.0.1, ::1 or a Unix path (optionally TLS) and runs a handler
  per connection. It counts accepted connections and the most that were open at once,
  so tests can assert reuse and pool limits from the server's side.
- `http_handler(app)` speaks HTTP/1.1 through h11 in the server role (an independent
  parser checks every byte the client sends); `app` maps a `Got` request to a `Reply`.
  `default_app` serves the routes the transport tests use.
- `scripted(*scripts)` plays exact bytes for malformed and adversarial responses:
  connection *i* runs ``scripts[i]`` (the last script repeats), a list of steps: `READ`
  (one request), ``bytes`` (send), a ``float`` (pause), `CLOSE`, `RESET`, `HOLD`,
  `SHUT_WR`, `READ_HEAD`.
- `tls_contexts()` makes a trustme CA, a server context and a client context trusting it.

Servers stop with ``close()`` (or as context managers): sleeping handlers wake up, open
connections are shut down, and an exception raised by a handler fails the test there.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any

import h11
import pytest
import trustme

__all__ = [
    "CLIENT_NAME",
    "CLOSE",
    "HOLD",
    "READ",
    "READ_HEAD",
    "RESET",
    "SHUT_WR",
    "Got",
    "MutualTLS",
    "Reply",
    "Server",
    "client_cert_handler",
    "default_app",
    "http_handler",
    "ipv6_available",
    "mutual_tls",
    "scripted",
    "short_tempdir",
    "tls_contexts",
]

Handler = Callable[["Server", socket.socket, int], None]


class Server:
    """A loopback server running ``handler(server, conn, index)`` in a thread per
    connection; ``index`` counts accepted connections from 0."""

    def __init__(
        self,
        handler: Handler,
        *,
        family: int = socket.AF_INET,
        tls: ssl.SSLContext | None = None,
        path: str | None = None,
        rcvbuf: int | None = None,
        backlog: int = 128,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Inherited by accepted sockets: a small window makes a client's writes block.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if family == socket.AF_UNIX:
            assert path is not None
            self.listener.bind(path)
        else:
            self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.listener.listen(backlog)
        self.listener.settimeout(0.05)
        self.family = family
        self.address: Any = self.listener.getsockname()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.accepted = 0  # connections accepted so far
        self.live = 0  # connections open now
        self.peak = 0  # the most connections open at once
        self.requests: list[bytes] = []  # request heads seen by `scripted` handlers
        self.bodies: list[bytes] = []  # and their bodies
        self.errors: list[BaseException] = []
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def host(self) -> str:
        return str(self.address[0])

    @property
    def port(self) -> int:
        return int(self.address[1])

    def url(self, path: str = "/", *, scheme: str = "http", host: str | None = None) -> str:
        if self.family == socket.AF_UNIX:
            return f"{scheme}://localhost{path}"
        host = host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}{path}"

    def sleep(self, seconds: float) -> None:
        """Pause a handler; returns early when the server stops."""
        self.stopping.wait(seconds)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                index = self.accepted - 1
                self.live += 1
                self.peak = max(self.peak, self.live)
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(10.0)
        if self.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client gave up on the handshake: some tests want that
                with self.lock:
                    self._conns.append(conn)
            self.handler(self, conn, index)
        except OSError:
            pass  # the client went away first
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            with self.lock:
                self.live -= 1
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self._accepter.join(5)
        self.listener.close()
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        assert not self.errors, self.errors

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- HTTP over h11


@dataclass
class Got:
    """A request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    body: bytes
    connection: int  # index of the connection it came on (0 for the first accepted)


@dataclass
class Reply:
    """What the server answers. A ``bytes`` body gets a Content-Length; an iterable one
    is sent chunked unless ``headers`` has a Content-Length."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    pause: float = 0.0  # seconds between body pieces


App = Callable[[Server, Got], Reply]


def http_handler(app: App) -> Handler:
    """A keep-alive HTTP/1.1 server loop over h11, answering with ``app``."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        h = h11.Connection(h11.SERVER)
        while True:
            request: h11.Request | None = None
            body: list[bytes] = []
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(conn.recv(65536))
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert request is not None
            got = Got(
                method=request.method.decode(),
                target=request.target.decode(),
                headers=_header_dict(request.headers),
                body=b"".join(body),
                connection=index,
            )
            reply = app(server, got)
            headers = list(reply.headers)
            if isinstance(reply.body, bytes) and not any(
                n.lower() == "content-length" for n, _ in headers
            ):
                headers.append(("Content-Length", str(len(reply.body))))
            head = h11.Response(
                status_code=reply.status, headers=headers, reason=HTTPStatus(reply.status).phrase
            )
            out = h.send(head) or b""
            if isinstance(reply.body, bytes):
                # One write per small response: no Nagle/delayed-ACK stalls.
                if reply.body and request.method != b"HEAD":
                    out += h.send(h11.Data(data=reply.body)) or b""
            else:
                conn.sendall(out)
                out = b""
                for piece in reply.body:
                    if piece and request.method != b"HEAD":
                        conn.sendall(h.send(h11.Data(data=piece)) or b"")
                        if reply.pause:
                            server.sleep(reply.pause)
            conn.sendall(out + (h.send(h11.EndOfMessage()) or b""))
            if h.our_state is not h11.DONE or h.their_state is not h11.DONE:
                return  # Connection: close from either side
            h.start_next_cycle()

    return handle


def _header_dict(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers:
        key = name.decode().lower()
        result[key] = f"{result[key]}, {value.decode()}" if key in result else value.decode()
    return result


PIECE = bytes(range(256)) * 256  # 64 KiB, shared: sending it allocates nothing


def body_of(size: int) -> Iterator[bytes]:
    """``size`` bytes of a repeating pattern, in 64 KiB pieces."""
    while size > 0:
        yield PIECE if size >= len(PIECE) else PIECE[:size]
        size -= len(PIECE)


def default_app(server: Server, got: Got) -> Reply:
    """Routes: ``/`` greeting; ``/echo`` body back (headers x-method, x-chunked);
    ``/digest`` size and sha256 of the body; ``/bytes/N`` N bytes (Content-Length);
    ``/chunks/N`` N bytes chunked; ``/drip/N/S`` N one-byte pieces S seconds apart;
    ``/sleep/S`` wait S seconds, then answer; ``/conn`` the connection's index;
    ``/close`` answer with Connection: close; ``/status/N`` an empty response with that
    status."""
    parts = got.target.split("?")[0].strip("/").split("/")
    route, args = parts[0], parts[1:]
    if route == "":
        return Reply(body=b"Hello, world!", headers=[("Content-Type", "text/plain")])
    if route == "echo":
        chunked = "chunked" in got.headers.get("transfer-encoding", "")
        return Reply(
            body=got.body,
            headers=[("X-Method", got.method), ("X-Chunked", "yes" if chunked else "no")],
        )
    if route == "digest":
        digest = hashlib.sha256(got.body).hexdigest()
        return Reply(body=f"{len(got.body)} {digest}".encode())
    if route == "bytes":
        size = int(args[0])
        return Reply(body=body_of(size), headers=[("Content-Length", str(size))])
    if route == "chunks":
        return Reply(body=body_of(int(args[0])))
    if route == "drip":
        return Reply(body=[b"x"] * int(args[0]), pause=float(args[1]))
    if route == "sleep":
        server.sleep(float(args[0]))
        return Reply(body=b"slept")
    if route == "conn":
        return Reply(body=str(got.connection).encode())
    if route == "close":
        return Reply(body=b"bye", headers=[("Connection", "close")])
    if route == "status":
        return Reply(status=int(args[0]))
    return Reply(status=404, body=b"not found")


# --------------------------------------------------------------------------- scripted bytes


class _Step:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


READ = _Step("READ")  # read one request (head and Content-Length or chunked body)
READ_HEAD = _Step("READ_HEAD")  # read one request head only; leave the body unread
CLOSE = _Step("CLOSE")  # close the connection now (FIN)
RESET = _Step("RESET")  # close with an RST (SO_LINGER 0)
HOLD = _Step("HOLD")  # read and discard until the client closes or the server stops
SHUT_WR = _Step("SHUT_WR")  # send FIN, then read and discard until the client closes
STALL = _Step("STALL")  # read nothing, send nothing, until the server stops

ScriptStep = _Step | bytes | float
Script = Sequence[ScriptStep]


class _Reader:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def fill(self) -> None:
        data = self.conn.recv(65536)
        if not data:
            raise ConnectionResetError("client closed")
        self.buffer += data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def body(self, head: bytes) -> bytes:
        lines = head.lower().split(b"\r\n")
        for line in lines:
            if line.startswith(b"content-length:"):
                return self.exactly(int(line.split(b":", 1)[1]))
        if any(line.startswith(b"transfer-encoding:") for line in lines):
            pieces = []
            while True:
                size = int(self.until(b"\r\n")[:-2].split(b";")[0], 16)
                pieces.append(self.exactly(size))
                self.exactly(2)
                if size == 0:
                    return b"".join(pieces)
        return b""


def scripted(*scripts: Script) -> Handler:
    """A handler playing ``scripts[i]`` on the i-th connection (the last one repeats)."""
    assert scripts

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        reader = _Reader(conn)
        for step in scripts[min(index, len(scripts) - 1)]:
            if isinstance(step, bytes):
                conn.sendall(step)
            elif isinstance(step, float):
                server.sleep(step)
            elif step is READ or step is READ_HEAD:
                head = reader.until(b"\r\n\r\n")
                body = reader.body(head) if step is READ else b""
                with server.lock:
                    server.requests.append(head)
                    server.bodies.append(body)
            elif step is CLOSE:
                return
            elif step is RESET:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif step is SHUT_WR:
                conn.shutdown(socket.SHUT_WR)
                _discard(conn)
                return
            elif step is STALL:
                server.stopping.wait()
                return
            else:
                assert step is HOLD
                _discard(conn)
                return

    return handle


def _discard(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


def response(body: bytes = b"ok", status: str = "200 OK", headers: Sequence[bytes] = ()) -> bytes:
    """An HTTP/1.1 response with a Content-Length."""
    lines = [b"HTTP/1.1 " + status.encode(), *headers, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


# Responses that must end in RemoteProtocolError, never in a (short) body.
MALFORMED = [
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        id="content-length-and-chunked",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        id="conflicting-content-lengths",
    ),
    pytest.param(_CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n", id="bad-chunk-size"),
    pytest.param(_CHUNKED + b"3\r\nabcXY0\r\n\r\n", id="bad-chunk-terminator"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", id="truncated"),
    pytest.param(_CHUNKED + b"5\r\nabc", id="truncated-chunk"),
    # Past the defaults of `Limits`: 256 KiB heads, 32,768 fields.
    pytest.param(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 270_000 + b"\r\n\r\n", id="big-head"),
    pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 32769 + b"\r\n", id="many-fields"),
    pytest.param(b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", id="http-2-on-h1"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", id="negative-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab", id="bad-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab", id="not-chunked-coding"),
    pytest.param(
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        id="http-1.0-chunked",
    ),
    pytest.param(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", id="bad-header-name"),
    pytest.param(b"garbage\r\n\r\n", id="garbage"),
    pytest.param(b"", id="no-response"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-", id="truncated-head"),
]


# --------------------------------------------------------------------------- environment


@dataclass
class TLS:
    ca: trustme.CA
    server: ssl.SSLContext
    client: ssl.SSLContext


def tls_contexts() -> TLS:
    """A trustme CA with a certificate for localhost, 127.0.0.1 and ::1."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return TLS(ca, server, client)


CLIENT_NAME = "client@example.org"


@dataclass
class MutualTLS:
    """TLS where the server requires a client certificate (issued by the same CA)."""

    server: ssl.SSLContext  # requires a client certificate, else the handshake fails
    client: ssl.SSLContext  # trusts the server, has no certificate of its own
    cert_file: str  # the client's certificate chain and key, one PEM file
    cert_pair: tuple[str, str]  # the same as (certificate chain, key) files


def mutual_tls(directory: str) -> MutualTLS:
    """`tls_contexts` plus a client certificate for `CLIENT_NAME`, written to `directory`."""
    tls = tls_contexts()
    leaf = tls.ca.issue_cert(CLIENT_NAME)
    combined, chain, key = (f"{directory}/{name}.pem" for name in ("client", "chain", "key"))
    leaf.private_key_and_cert_chain_pem.write_to_path(combined)
    leaf.cert_chain_pems[0].write_to_path(chain)
    leaf.private_key_pem.write_to_path(key)
    tls.server.verify_mode = ssl.CERT_REQUIRED
    tls.ca.configure_trust(tls.server)
    return MutualTLS(tls.server, tls.client, combined, (chain, key))


def client_cert_handler(app: App = default_app) -> Handler:
    """`http_handler(app)` that first records the client certificate's e-mail name (as
    bytes) in ``server.requests``: one entry per connection."""
    inner = http_handler(app)

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        assert isinstance(conn, ssl.SSLSocket)
        peer = conn.getpeercert() or {}
        names = [value for kind, value in peer.get("subjectAltName", ()) if kind == "email"]
        with server.lock:
            server.requests.append(" ".join(names).encode())
        inner(server, conn, index)

    return handle


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(
    not ipv6_available(), reason="IPv6 loopback (::1) is unavailable on this machine"
)


@contextlib.contextmanager
def short_tempdir() -> Iterator[str]:
    """A directory with a short path: Unix socket paths are limited to ~107 bytes."""
    with tempfile.TemporaryDirectory(prefix="conch") as path:
        yield path
