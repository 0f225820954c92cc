"""The blocking backend against real loopback servers (IPv4, IPv6, Unix, TLS).

The server helpers here are reused by tests/async_io/test_backend.py.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import select
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from sync_io import backend
from sync_io.backend import SyncStream, connect_tcp, connect_unix

Handler = Callable[[socket.socket], None]

# --------------------------------------------------------------------------- servers


class Server:
    """Accepts on loopback (or a Unix path) and runs ``handler(conn)`` in a thread per
    connection, after a TLS handshake when ``tls`` is a server context."""

    def __init__(
        self,
        handler: Handler,
        family: int = socket.AF_INET,
        tls: ssl.SSLContext | None = None,
        path: str | None = None,
        backlog: int = 8,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            assert path is not None
            self.listener.bind(path)
        else:
            self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.listener.listen(backlog)
        self.listener.settimeout(0.05)
        self.address: Any = self.listener.getsockname()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.conns: list[socket.socket] = []
        self.errors: list[BaseException] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    @property
    def host(self) -> str:
        return str(self.address[0])

    @property
    def port(self) -> int:
        return int(self.address[1])

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client gave up on the handshake: a test expects that
                self.conns.append(conn)
            self.handler(conn)
        except OSError:
            pass  # the client went away first
        except BaseException as exc:  # pragma: no cover - reported at close
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self.accepter.join(2)
        self.listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(2)
        assert not self.errors, self.errors


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def silent(conn: socket.socket) -> None:
    """Reads until the client closes; never answers."""
    while conn.recv(65536):
        pass


def greet_and_close(conn: socket.socket) -> None:
    conn.sendall(b"hello")


def reset(conn: socket.socket) -> None:
    """Waits for one byte, then closes with an RST (SO_LINGER 0) instead of a FIN."""
    conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def stall(conn: socket.socket) -> None:
    """Never reads: the client's writes pile up until the client gives up and closes."""
    poller = select.poll()
    poller.register(conn, select.POLLRDHUP)
    poller.poll(5000)


def sink(conn: socket.socket) -> None:
    """Reads everything; when the client shuts down its side, reports the byte count."""
    total = 0
    while data := conn.recv(1 << 20):
        total += len(data)
    conn.sendall(str(total).encode())


def replies(*answers: bytes) -> Handler:
    """Sends the next answer each time one byte arrives; closes after the last."""

    def handler(conn: socket.socket) -> None:
        for answer in answers:
            if not conn.recv(1):
                return
            conn.sendall(answer)

    return handler


def on_request(reply: bytes) -> Handler:
    """Waits for one byte, then sends ``reply`` and keeps the connection open."""

    def handler(conn: socket.socket) -> None:
        if conn.recv(1):
            conn.sendall(reply)
            silent(conn)

    return handler


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


FAMILIES = [
    pytest.param(socket.AF_INET, id="ipv4"),
    pytest.param(
        socket.AF_INET6,
        id="ipv6",
        marks=pytest.mark.skipif(not ipv6_available(), reason="IPv6 loopback (::1) unavailable"),
    ),
]


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handler: Handler, **kwargs: Any) -> Server:
        server = Server(handler, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def short_dir() -> Iterator[str]:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="conch") as path:
        yield path


def closed_port(family: int = socket.AF_INET) -> int:
    with socket.socket(family) as probe:
        probe.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full, so a new connect hangs until it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(16):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                filler.close()
                break
            fillers.append(filler)
        else:  # pragma: no cover - depends on the kernel
            pytest.skip("this kernel never stalls a connect on a full backlog")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --------------------------------------------------------------------------- TLS material


class TLSFiles:
    """A trustme CA, a server certificate for localhost/127.0.0.1/::1, and files."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.leaf = self.ca.issue_cert("localhost", "127.0.0.1", "::1")
        self.ca_file = str(directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.dir = directory

    def server_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf.configure_cert(ctx)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return ctx


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles(tmp_path_factory.mktemp("tls"))


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context whose certificate signs itself (no CA anywhere)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "self.pem"
    cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_file))
    return ctx


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# --------------------------------------------------------------------------- TCP


@pytest.mark.parametrize("family", FAMILIES)
def test_echo_over_tcp(serve: Callable[..., Server], family: int) -> None:
    server = serve(echo, family=family)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    try:
        stream.send_all(b"ping", timeout=2.0)
        assert stream.recv(4, timeout=2.0) == b"ping"
        stream.send_all(memoryview(b"pong!"), timeout=None)
        buffer = bytearray(16)
        received = 0
        while received < 5:
            received += stream.recv_into(memoryview(buffer)[received:], timeout=2.0)
        assert bytes(buffer[:5]) == b"pong!"
        assert stream.get_extra_info("server_addr")[:2] == server.address[:2]
        assert stream.get_extra_info("client_addr")[0] == server.host
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("nonsense") is None
        assert stream.alpn_protocol is None
    finally:
        stream.close()


def test_localhost_name_resolves(serve: Callable[..., Server]) -> None:
    server = serve(echo)
    stream = connect_tcp("localhost", server.port, timeout=2.0)
    stream.send_all(b"x", timeout=2.0)
    assert stream.recv(1, timeout=2.0) == b"x"
    stream.close()


def test_recv_returns_at_most_max_bytes_then_eof(serve: Callable[..., Server]) -> None:
    server = serve(greet_and_close)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    data = b""
    while chunk := stream.recv(2, timeout=2.0):
        assert len(chunk) <= 2
        data += chunk
    assert data == b"hello"
    assert stream.recv_into(bytearray(4), timeout=2.0) == 0
    stream.close()


@pytest.mark.parametrize("family", FAMILIES)
def test_connect_to_closed_port_is_connect_error(family: int) -> None:
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with pytest.raises(ConnectError) as info:
        connect_tcp(host, closed_port(family), timeout=2.0)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_unknown_host_is_connect_error() -> None:
    with pytest.raises(ConnectError) as info:
        connect_tcp("no-such-host.invalid", 80, timeout=2.0)
    assert isinstance(info.value.__cause__, socket.gaierror)


def test_connect_timeout() -> None:
    with full_backlog() as port, pytest.raises(ConnectTimeout) as info:
        connect_tcp("127.0.0.1", port, timeout=0.2)
    assert isinstance(info.value.__cause__, TimeoutError)


def test_every_address_is_tried(serve: Callable[..., Server]) -> None:
    # "localhost" may resolve to ::1 first; a server only on 127.0.0.1 is still reached.
    server = serve(echo)
    stream = connect_tcp("localhost", server.port, timeout=2.0)
    assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
    stream.close()


def test_local_address_and_socket_options(serve: Callable[..., Server]) -> None:
    server = serve(echo)
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    stream = connect_tcp(
        server.host, server.port, timeout=2.0, local_address="127.0.0.1", socket_options=options
    )
    sock = stream.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
    stream.close()
    # An IPv6 local address leaves no IPv4 address to try.
    if ipv6_available():
        with pytest.raises(ConnectError):
            connect_tcp("127.0.0.1", server.port, timeout=2.0, local_address="::1")


def test_bad_socket_option_is_connect_error(serve: Callable[..., Server]) -> None:
    server = serve(echo)
    with pytest.raises(ConnectError):
        connect_tcp(server.host, server.port, timeout=2.0, socket_options=[(-1, -1, 1)])
    with pytest.raises(ConnectError):
        connect_unix("/nonexistent", timeout=2.0, socket_options=[(-1, -1, 1)])


def test_read_timeout_when_server_never_answers(serve: Callable[..., Server]) -> None:
    server = serve(silent)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(ReadTimeout) as info:
        stream.recv(10, timeout=0.1)
    assert 0.05 < time.monotonic() - started < 2.0
    assert isinstance(info.value.__cause__, TimeoutError)
    with pytest.raises(ReadTimeout):
        stream.recv_into(bytearray(10), timeout=0.05)
    # A deadline already passed still times out (never "non-blocking mode" errors).
    for late in (0.0, -1.0):
        with pytest.raises(ReadTimeout):
            stream.recv(10, timeout=late)
    stream.close()


def test_write_timeout_when_server_never_reads(serve: Callable[..., Server]) -> None:
    server = serve(stall)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    with pytest.raises(WriteTimeout) as info:
        stream.send_all(b"x" * (32 << 20), timeout=0.2)
    assert isinstance(info.value.__cause__, TimeoutError)
    stream.close()


def test_large_write(serve: Callable[..., Server]) -> None:
    server = serve(sink)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream.send_all(b"x" * (8 << 20), timeout=5.0)
    stream.get_extra_info("socket").shutdown(socket.SHUT_WR)
    assert stream.recv(100, timeout=5.0) == str(8 << 20).encode()
    stream.close()


def test_zero_timeout_still_returns_waiting_data(serve: Callable[..., Server]) -> None:
    server = serve(on_request(b"ready"))
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream.send_all(b"?", timeout=2.0)
    assert wait_until(stream.is_readable)
    assert stream.recv(10, timeout=0) == b"ready"
    stream.close()


def send_until_error(stream: SyncStream) -> None:
    for _ in range(100):
        stream.send_all(b"x" * 65536, timeout=2.0)


def test_peer_reset_gives_read_and_write_errors(serve: Callable[..., Server]) -> None:
    server = serve(reset)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream.send_all(b"!", timeout=2.0)
    assert wait_until(stream.is_readable)
    with pytest.raises(WriteError) as info:
        send_until_error(stream)
    assert isinstance(info.value.__cause__, OSError)
    stream.close()

    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream.send_all(b"!", timeout=2.0)
    assert wait_until(stream.is_readable)
    with pytest.raises(ReadError) as read_info:
        stream.recv(10, timeout=2.0)
    assert isinstance(read_info.value.__cause__, ConnectionResetError)
    stream.close()


def test_closed_stream_fails_cleanly(serve: Callable[..., Server]) -> None:
    server = serve(echo)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream.close()
    stream.close()  # idempotent
    assert stream.is_readable()  # a closed stream is never reused
    with pytest.raises(ReadError):
        stream.recv(1, timeout=1.0)
    with pytest.raises(WriteError):
        stream.send_all(b"x", timeout=1.0)
    assert stream.get_extra_info("client_addr") is None


def test_is_readable_idle_data_and_eof(serve: Callable[..., Server]) -> None:
    server = serve(on_request(b"unasked"))
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    assert not stream.is_readable()
    assert stream.get_extra_info("is_readable") is False
    stream.send_all(b"!", timeout=2.0)
    assert wait_until(stream.is_readable)
    assert stream.recv(100, timeout=2.0) == b"unasked"
    assert not stream.is_readable()
    stream.close()

    server = serve(greet_and_close)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    assert wait_until(stream.is_readable)
    assert stream.recv(100, timeout=2.0) == b"hello"
    assert wait_until(stream.is_readable)  # EOF counts
    assert stream.recv(100, timeout=2.0) == b""
    stream.close()


def test_unix_socket(serve: Callable[..., Server], short_dir: str) -> None:
    path = os.path.join(short_dir, "s")
    serve(echo, family=socket.AF_UNIX, path=path)
    stream = connect_unix(path, timeout=2.0)
    stream.send_all(b"over unix", timeout=2.0)
    assert stream.recv(100, timeout=2.0) == b"over unix"
    assert stream.get_extra_info("server_addr") == path
    stream.close()
    with pytest.raises(ConnectError):
        connect_unix(os.path.join(short_dir, "missing"), timeout=2.0)


def test_sleep() -> None:
    started = time.monotonic()
    backend.sleep(0.01)
    assert time.monotonic() - started >= 0.01


# --------------------------------------------------------------------------- TLS


def tls_stream(
    server: Server, ctx: ssl.SSLContext, hostname: str | None = "localhost", timeout: float = 2.0
) -> SyncStream:
    stream = connect_tcp(server.host, server.port, timeout=timeout)
    return stream.start_tls(ctx, hostname, timeout)


@pytest.mark.parametrize("family", FAMILIES)
def test_tls_verified_with_ca_context(
    serve: Callable[..., Server], tls_files: TLSFiles, family: int
) -> None:
    server = serve(echo, family=family, tls=tls_files.server_context())
    stream = tls_stream(server, tls_files.client_context())
    try:
        stream.send_all(b"secret", timeout=2.0)
        assert stream.recv(100, timeout=2.0) == b"secret"
        ssl_object = stream.get_extra_info("ssl_object")
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert ssl_object.getpeercert()["subjectAltName"]
        assert stream.alpn_protocol is None  # nothing offered
    finally:
        stream.close()


@pytest.mark.parametrize(
    ("offer", "chosen"), [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")]
)
def test_tls_alpn_is_reported(
    serve: Callable[..., Server], tls_files: TLSFiles, offer: list[str], chosen: str
) -> None:
    server = serve(echo, tls=tls_files.server_context(alpn=["h2", "http/1.1"]))
    ctx = tls_files.client_context()
    ctx.set_alpn_protocols(offer)
    stream = tls_stream(server, ctx)
    assert stream.alpn_protocol == chosen
    stream.close()


def test_tls_hostname_mismatch_is_connect_error(
    serve: Callable[..., Server], tls_files: TLSFiles
) -> None:
    server = serve(echo, tls=tls_files.server_context())
    with pytest.raises(ConnectError) as info:
        tls_stream(server, tls_files.client_context(), hostname="example.org")
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_tls_untrusted_server_is_connect_error(
    serve: Callable[..., Server], tls_files: TLSFiles
) -> None:
    server = serve(echo, tls=tls_files.server_context())
    with pytest.raises(ConnectError):
        tls_stream(server, ssl.create_default_context())  # system roots: no trustme CA


def test_tls_no_verification_against_self_signed(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(echo, tls=self_signed_context(tmp_path))
    with pytest.raises(ConnectError):
        tls_stream(server, ssl.create_default_context())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    stream = tls_stream(server, ctx, hostname=None)
    stream.send_all(b"anyone", timeout=2.0)
    assert stream.recv(100, timeout=2.0) == b"anyone"
    stream.close()


def test_tls_bad_server_hostname_closes_the_connection(serve: Callable[..., Server]) -> None:
    server = serve(silent)
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    with pytest.raises(ValueError, match="server_hostname"):
        stream.start_tls(ssl.create_default_context(), "", 2.0)
    assert stream.is_readable()  # closed


def test_tls_handshake_timeout_is_connect_timeout(serve: Callable[..., Server]) -> None:
    server = serve(silent)  # plain TCP: the ClientHello is never answered
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    with pytest.raises(ConnectTimeout):
        stream.start_tls(ssl.create_default_context(), "localhost", 0.1)
    assert stream.is_readable()  # closed on failure


def test_tls_handshake_against_plain_server_is_connect_error(
    serve: Callable[..., Server],
) -> None:
    server = serve(greet_and_close)  # answers a ClientHello with "hello" and a FIN
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    with pytest.raises(ConnectError):
        stream.start_tls(ssl.create_default_context(), "localhost", 2.0)


def answer_each_byte(conn: socket.socket) -> None:
    """Ten bytes for each "?" received; closes on anything else."""
    while conn.recv(1) == b"?":
        conn.sendall(b"x" * 10)


def test_tls_eof_and_is_readable(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    server = serve(answer_each_byte, tls=tls_files.server_context())
    stream = tls_stream(server, tls_files.client_context())
    # TLS 1.3 session tickets arrive after the handshake: bytes, but no data.
    assert wait_until(lambda: _raw_readable(stream))
    assert not stream.is_readable()
    # Data found by is_readable() is kept for the next reads.
    stream.send_all(b"?", timeout=2.0)
    assert wait_until(stream.is_readable)
    assert stream.recv(5, timeout=2.0) == b"xxxxx"
    assert stream.is_readable()
    buffer = bytearray(5)
    assert stream.recv_into(buffer, timeout=2.0) == 5
    assert buffer == b"xxxxx"
    assert not stream.is_readable()
    # Data decrypted but not yet read counts too.
    stream.send_all(b"?", timeout=2.0)
    assert stream.recv(5, timeout=2.0) == b"xxxxx"
    assert stream.is_readable()
    assert stream.recv(5, timeout=2.0) == b"xxxxx"
    stream.send_all(b"!", timeout=2.0)  # the server closes
    assert wait_until(stream.is_readable)
    assert stream.recv_into(buffer, timeout=2.0) == 0
    stream.close()
    stream.close()


def _raw_readable(stream: SyncStream) -> bool:
    return backend._readable(stream.get_extra_info("socket"))


class _TunnelServer:
    """A TLS server that, inside its TLS, runs a second TLS server in memory (an HTTPS
    proxy tunnel to an HTTPS origin, folded into one process)."""

    def __init__(self, outer: ssl.SSLContext, inner: ssl.SSLContext) -> None:
        self.inner = inner
        self.outer = outer

    def __call__(self, conn: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.inner.wrap_bio(incoming, outgoing, server_side=True)

        def pump(op: Callable[..., Any], *args: Any) -> Any:
            while True:
                try:
                    result = op(*args)
                except ssl.SSLWantReadError:
                    if out := outgoing.read():
                        conn.sendall(out)
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError from None
                    incoming.write(data)
                    continue
                if out := outgoing.read():
                    conn.sendall(out)
                return result

        try:
            pump(tls.do_handshake)
            while data := pump(tls.read, 65536):
                pump(tls.write, data.upper())
        except (EOFError, ssl.SSLError):
            pass


def test_tls_inside_tls(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    handler = _TunnelServer(tls_files.server_context(), tls_files.server_context(alpn=["h2"]))
    server = serve(handler, tls=tls_files.server_context())
    outer = tls_stream(server, tls_files.client_context())
    inner_ctx = tls_files.client_context()
    inner_ctx.set_alpn_protocols(["h2"])
    inner = outer.start_tls(inner_ctx, "localhost", 2.0)
    try:
        assert inner.alpn_protocol == "h2"
        assert outer.alpn_protocol is None
        assert inner.get_extra_info("ssl_object") is not outer.get_extra_info("ssl_object")
        assert inner.get_extra_info("server_addr")[0] == "127.0.0.1"
        assert not inner.is_readable()
        assert inner.get_extra_info("is_readable") is False
        inner.send_all(b"tunnelled " * 1000, timeout=2.0)
        received = b""
        while len(received) < 10000:
            received += inner.recv(65536, timeout=2.0)
        assert received == b"TUNNELLED " * 1000
        buffer = bytearray(100)
        inner.send_all(b"abc", timeout=2.0)
        assert inner.recv_into(buffer, timeout=2.0) == 3
        assert buffer[:3] == b"ABC"
        with pytest.raises(ReadTimeout):
            inner.recv(1, timeout=0.05)
        # A third layer is tried the same way; this server answers its ClientHello with
        # the ClientHello upper-cased, which fails the handshake and closes everything.
        with pytest.raises(ConnectError):
            inner.start_tls(tls_files.client_context(), "localhost", 2.0)
        assert outer.is_readable()
    finally:
        inner.close()
        outer.close()


def test_tls_inside_tls_failures(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    handler = _TunnelServer(tls_files.server_context(), tls_files.server_context())
    server = serve(handler, tls=tls_files.server_context())
    outer = tls_stream(server, tls_files.client_context())
    with pytest.raises(ConnectError):
        outer.start_tls(tls_files.client_context(), "example.org", 2.0)  # wrong name
    assert outer.is_readable()  # the whole connection was closed

    server = serve(greet_and_close, tls=tls_files.server_context())
    outer = tls_stream(server, tls_files.client_context())
    with pytest.raises(ConnectError):
        outer.start_tls(tls_files.client_context(), "localhost", 2.0)  # "hello", then EOF

    outer = tls_stream(server, tls_files.client_context())
    assert wait_until(outer.is_readable)  # reads "hello" ahead
    with pytest.raises(ConnectError, match="before the TLS handshake"):
        outer.start_tls(tls_files.client_context(), "localhost", 2.0)
    assert outer.is_readable()  # closed

    server = serve(echo, tls=tls_files.server_context())
    outer = tls_stream(server, tls_files.client_context())
    with pytest.raises(ConnectError):
        outer.start_tls(tls_files.client_context(), "localhost", 2.0)  # ClientHello echoed


def test_tls_inside_tls_eof_and_errors(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    closing_inner = tls_files.server_context()

    def handler(conn: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = closing_inner.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                incoming.write(conn.recv(65536))
        conn.sendall(outgoing.read())
        tls.write(b"bye")
        conn.sendall(outgoing.read())  # then a FIN, without close_notify

    server = serve(handler, tls=tls_files.server_context())
    inner = tls_stream(server, tls_files.client_context()).start_tls(
        tls_files.client_context(), "localhost", 2.0
    )
    data = b""
    while chunk := inner.recv(100, timeout=2.0):
        data += chunk
    assert data == b"bye"
    inner.close()
    with pytest.raises(WriteError):
        inner.send_all(b"after close", timeout=1.0)
    with pytest.raises(ReadError):
        inner.recv(1, timeout=1.0)


# --------------------------------------------------------------------------- shared streams


def test_read_ready_takes_only_what_has_arrived(serve: Callable[..., Server]) -> None:
    server = serve(on_request(b"unasked"))
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    assert stream.read_ready() is None  # nothing yet, and no waiting for it
    stream.send_all(b"!", timeout=2.0, shared=True)
    assert wait_until(stream.is_readable)
    assert stream.read_ready(shared=True) == b"unasked"
    stream.close()


@pytest.mark.parametrize("tls", [False, True])
def test_a_shared_stream_reads_while_another_thread_writes(
    serve: Callable[..., Server], tls_files: TLSFiles, tls: bool
) -> None:
    # One thread waits to read while another writes on the same (TLS) stream: the read
    # never blocks inside a socket call, so the write goes through, and the echo comes.
    server = serve(echo, tls=tls_files.server_context() if tls else None)
    stream = tls_stream(server, tls_files.client_context()) if tls else connect_tcp(
        server.host, server.port, timeout=2.0
    )  # fmt: skip
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stream.recv(100, 5.0, shared=True)))
    reader.start()
    time.sleep(0.05)  # the reader is waiting now
    stream.send_all(b"ping", timeout=2.0, shared=True)
    reader.join(5.0)
    assert got == [b"ping"]
    with pytest.raises(ReadTimeout):
        stream.recv(100, 0.05, shared=True)  # the timeout bounds the whole shared read
    stream.close()
