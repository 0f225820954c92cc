"""Real proxies on loopback for shell tests: an HTTP proxy (forward and CONNECT), a
SOCKS5 proxy and a SOCKS4/4a proxy, each a handler for `tests.servers.Server`. They
record what they were told (`server.requests` holds each request head the HTTP proxy
received) so tests can check which credentials reached the proxy and which reached
the origin.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from tests.servers import Handler, Server

__all__ = ["http_proxy", "socks4_proxy", "socks5_proxy"]


def _read_until(conn: socket.socket, marker: bytes, buffer: bytearray) -> bytes:
    while marker not in buffer:
        data = conn.recv(65536)
        if not data:
            raise ConnectionError("peer closed before the end of the head")
        buffer += data
    head, _, rest = bytes(buffer).partition(marker)
    buffer[:] = rest
    return head


def _read_exactly(conn: socket.socket, size: int, buffer: bytearray) -> bytes:
    while len(buffer) < size:
        data = conn.recv(65536)
        if not data:
            raise ConnectionError("peer closed early")
        buffer += data
    out = bytes(buffer[:size])
    del buffer[:size]
    return out


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(5)


def http_proxy(*, require: bytes | None = None) -> Handler:
    """An HTTP proxy: absolute-form requests are forwarded (one per connection), CONNECT
    opens a tunnel. With ``require``, a request without exactly that Proxy-Authorization
    value gets 407."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        buffer = bytearray()
        head = _read_until(conn, b"\r\n\r\n", buffer)
        with server.lock:
            server.requests.append(head)
        lines = head.split(b"\r\n")
        method, target, _ = lines[0].split(b" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if require is not None and headers.get(b"proxy-authorization") != require:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        if method == b"CONNECT":
            host, _, port = target.rpartition(b":")
            upstream = socket.create_connection((host.strip(b"[]").decode(), int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with upstream:
                _relay(conn, upstream)
            return
        # Forward: http://host:port/path -> origin-form, credentials for us stay here.
        rest = target.split(b"://", 1)[1]
        authority, _, path = rest.partition(b"/")
        host, _, port = authority.rpartition(b":")
        body = _read_exactly(conn, int(headers.get(b"content-length", b"0")), buffer)
        kept = [
            line
            for line in lines[1:]
            if line.split(b":", 1)[0].strip().lower() not in (b"proxy-authorization", b"connection")
        ]
        upstream = socket.create_connection((host.decode(), int(port)))
        with upstream:
            upstream.sendall(
                b"\r\n".join([method + b" /" + path + b" HTTP/1.1", *kept, b"Connection: close"])
                + b"\r\n\r\n"
                + body
            )
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    conn.sendall(data)

    return handle


def socks5_proxy(*, credentials: tuple[bytes, bytes] | None = None) -> Handler:
    """A SOCKS5 proxy (RFC 1928, CONNECT only), with RFC 1929 auth when ``credentials``."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        buffer = bytearray()
        _version, count = _read_exactly(conn, 2, buffer)
        methods = _read_exactly(conn, count, buffer)
        if credentials is None:
            conn.sendall(b"\x05\x00")
        else:
            assert 2 in methods
            conn.sendall(b"\x05\x02")
            _, ulen = _read_exactly(conn, 2, buffer)
            user = _read_exactly(conn, ulen, buffer)
            (plen,) = _read_exactly(conn, 1, buffer)
            password = _read_exactly(conn, plen, buffer)
            ok = (user, password) == credentials
            conn.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return
        _ver, _cmd, _rsv, atyp = _read_exactly(conn, 4, buffer)
        if atyp == 3:
            (length,) = _read_exactly(conn, 1, buffer)
            host = _read_exactly(conn, length, buffer).decode()
        elif atyp == 1:
            host = socket.inet_ntoa(_read_exactly(conn, 4, buffer))
        else:
            host = socket.inet_ntop(socket.AF_INET6, _read_exactly(conn, 16, buffer))
        (port,) = struct.unpack("!H", _read_exactly(conn, 2, buffer))
        with server.lock:
            server.requests.append(f"{host}:{port}".encode())
        upstream = socket.create_connection((host, port))
        conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
        with upstream:
            _relay(conn, upstream)

    return handle


def _read_to_nul(conn: socket.socket, buffer: bytearray) -> bytes:
    return _read_until(conn, b"\0", buffer)


def socks4_proxy() -> Handler:
    """A SOCKS4 proxy with the 4a extension (CONNECT only); records ``user@host:port``."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        buffer = bytearray()
        _version, _command = _read_exactly(conn, 2, buffer)
        (port,) = struct.unpack("!H", _read_exactly(conn, 2, buffer))
        address = _read_exactly(conn, 4, buffer)
        user = _read_to_nul(conn, buffer).decode()
        if address[:3] == b"\0\0\0" and address[3]:
            host = _read_to_nul(conn, buffer).decode()  # 4a: the proxy resolves the name
        else:
            host = socket.inet_ntoa(address)
        with server.lock:
            server.requests.append(f"{user}@{host}:{port}".encode())
        try:
            upstream = socket.create_connection((host, port))
        except OSError:
            conn.sendall(b"\x00\x5b" + bytes(6))
            return
        conn.sendall(b"\x00\x5a" + bytes(6))
        with upstream:
            _relay(conn, upstream)

    return handle
