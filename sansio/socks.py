"""SOCKS client handshakes, bytes in and out: SOCKS5 (RFC 1928, with RFC 1929
username/password) and SOCKS4 with its 4a extension (the host name sent to the proxy).

The machines own no socket. A shell drives them like the wire machines::

    hs = Socks5Handshake("example.com", 443, auth=("user", "secret"))  # or Socks4Handshake
    while (step := hs.next_step()) is not DONE:
        if step is SEND:
            sock.sendall(hs.data_to_send())
        else:                                   # RECEIVE
            hs.receive_data(sock.recv(4096))    # b"" means EOF
    # the tunnel is open; hs.trailing_data() holds bytes that followed the reply

Rules
-----
1. Every reply is parsed from one buffer, so it may arrive split at any byte or
   together with the next; nothing is read past the reply being waited for.
2. Every problem with a reply is a `ProxyError` naming what went wrong (the RFC 1928
   reply code's name, the method the proxy chose, EOF and when); bad arguments are
   `ValueError`/`TypeError` at construction (`socks5_address` checks a host ahead of
   time, so a client turns it into a `ProxyError` before connecting). No ``assert``
   checks a peer's bytes, and no other exception comes from them.
3. A failure sticks: `next_step` raises it again on every later call.

Choices
-------
* Own code rather than ``socksio``: socksio imports ``socket`` (for ``inet_pton``),
  which the core may not load, and its replies need whole reads. The protocol is
  three fixed messages; this module is the whole of it.
* With credentials both "no authentication" and "username/password" are offered
  (curl does the same); the proxy picks, and the password is only sent when it asks.
* A host name goes to the proxy as a name (address type 3), so the proxy resolves it
  ("remote DNS"); an IP literal goes as an address. ``remote_dns=False`` refuses
  names: the caller must resolve the host first and pass the address.
* Tolerated: the reserved byte of the connect reply (RFC 1928 says X'00') is
  ignored, and the RFC 1929 status reply may carry version 5 instead of 1, as some
  servers send (curl ignores that byte altogether).
* SOCKS4 (the protocol of NEC's "SOCKS: A protocol for TCP proxy across firewalls",
  and its 4a extension) carries an IPv4 address and a user id, nothing else: no
  IPv6, no password. ``Socks4Handshake`` sends an IPv4 literal as the address and,
  with ``remote_dns`` (SOCKS4a), a host name after the user id with the address
  0.0.0.1; without it a name is refused (the caller resolves it first, to IPv4).
  Its reply must start with version 0, as curl and PySocks require.
"""

from __future__ import annotations

from .exceptions import ProxyError
from .wire import HandshakeStep

__all__ = [
    "DONE",
    "MAX_FIELD_LENGTH",
    "RECEIVE",
    "REPLY_CODES",
    "SEND",
    "SOCKS4_REPLY_CODES",
    "HandshakeStep",
    "Socks4Handshake",
    "Socks5Handshake",
    "socks4_address",
    "socks4_user_id",
    "socks5_address",
    "socks5_credentials",
]

# Protocol field widths, not policy: a domain name (RFC 1928 §4, DST.ADDR type 3)
# and a username or password (RFC 1929 §2, ULEN/PLEN) each carry a one-byte length.
# SOCKS4's user id and 4a's host name end with a NUL instead and have no stated
# limit: the same 255 bytes bound them (Dante and curl accept no more).
MAX_FIELD_LENGTH = 255

_VERSION = 0x05
_AUTH_VERSION = 0x01
_NO_AUTH = 0x00
_USERNAME_PASSWORD = 0x02
_NO_ACCEPTABLE = 0xFF
_CONNECT = 0x01
_IPV4 = 0x01
_DOMAIN = 0x03
_IPV6 = 0x04
_ADDRESS_LENGTHS = {_IPV4: 4, _IPV6: 16}

# RFC 1928 §6, the REP field of a reply.
REPLY_CODES = {
    0x00: "succeeded",
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}

# SOCKS4's CD field of a reply (4a uses the same).
_SOCKS4_GRANTED = 0x5A
SOCKS4_REPLY_CODES = {
    0x5A: "request granted",
    0x5B: "request rejected or failed",
    0x5C: "request rejected: the proxy cannot reach the identd service on this machine",
    0x5D: "request rejected: the user id does not match the one identd reports",
}
_SOCKS4_REPLY_SIZE = 8

# RFC 1928 §3, the METHOD field.
_METHOD_NAMES = {
    _NO_AUTH: "no authentication",
    0x01: "GSSAPI",
    _USERNAME_PASSWORD: "username/password",
    _NO_ACCEPTABLE: "no acceptable methods",
}


# What the shell does before asking `Socks5Handshake.next_step` again (defined in
# `sansio.wire`, shared with `sansio.proxy.ProxyConnector`, which loads this module only
# for a SOCKS proxy).
SEND = HandshakeStep.SEND
RECEIVE = HandshakeStep.RECEIVE
DONE = HandshakeStep.DONE

# Phases: waiting for the method selection, the RFC 1929 status, the connect reply.
_METHOD = 0
_AUTH = 1
_REPLY = 2
_DONE = 3

_WAITING_FOR = {
    _METHOD: "the method selection",
    _AUTH: "the authentication reply",
    _REPLY: "the connect reply",
}


def _field(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError(f"a SOCKS5 {what} is str or bytes, not {type(value).__name__}")
    if len(value) > MAX_FIELD_LENGTH:
        raise ValueError(
            f"a SOCKS5 {what} is at most {MAX_FIELD_LENGTH} bytes (RFC 1929), got {len(value)}"
        )
    return value


def socks5_credentials(auth: tuple[str | bytes, str | bytes]) -> tuple[bytes, bytes]:
    """``(username, password)`` as bytes (str as UTF-8), checked to fit RFC 1929's fields."""
    if not isinstance(auth, tuple) or len(auth) != 2:
        raise TypeError("auth is a (username, password) tuple")
    return _field(auth[0], "username"), _field(auth[1], "password")


def socks5_address(host: str, remote_dns: bool = True) -> bytes:
    """ATYP and DST.ADDR for `host`, as a connect request carries them.

    Raises `ValueError` for a host the request cannot carry (a name longer than 255
    bytes, a scoped IPv6 address, a name when ``remote_dns`` is False): `sansio.proxy`
    asks before connecting, so a client's request fails before a byte reaches the proxy.
    """
    if not isinstance(host, str):
        raise TypeError(f"host is a str, not {type(host).__name__}")
    import ipaddress  # only when a handshake is built

    if ":" in host:
        if "%" not in host:
            try:
                return bytes([_IPV6]) + ipaddress.IPv6Address(host).packed
            except ValueError:
                pass
        raise ValueError(f"invalid IPv6 address {host!r} (give it without brackets or zone)")
    try:
        return bytes([_IPV4]) + ipaddress.IPv4Address(host).packed
    except ValueError:
        pass
    if not remote_dns:
        raise ValueError(
            f"remote_dns=False needs an IP address, not the host name {host!r}: resolve it first"
        )
    if not host or not host.isascii() or any(c <= " " or c == "\x7f" for c in host):
        raise ValueError(f"invalid host name {host!r} (give IDNA names in their ASCII form)")
    name = host.encode("ascii")
    if len(name) > MAX_FIELD_LENGTH:
        raise ValueError(
            f"a SOCKS5 host name is at most {MAX_FIELD_LENGTH} bytes (RFC 1928), got {len(name)}"
        )
    return bytes([_DOMAIN, len(name)]) + name


def socks4_user_id(user_id: str | bytes) -> bytes:
    """A SOCKS4 USERID as bytes (str as UTF-8): no NUL (it ends the field), at most 255."""
    if isinstance(user_id, str):
        user_id = user_id.encode("utf-8")
    elif not isinstance(user_id, bytes):
        raise TypeError(f"a SOCKS4 user id is str or bytes, not {type(user_id).__name__}")
    if b"\0" in user_id:
        raise ValueError("a SOCKS4 user id cannot contain NUL")
    if len(user_id) > MAX_FIELD_LENGTH:
        raise ValueError(
            f"a SOCKS4 user id is at most {MAX_FIELD_LENGTH} bytes, got {len(user_id)}"
        )
    return user_id


def socks4_address(host: str, remote_dns: bool = True) -> tuple[bytes, bytes]:
    """DSTIP, and what follows the user id (4a's host name and NUL, or nothing).

    An IPv4 address goes as itself. A name goes to the proxy with ``remote_dns``
    (SOCKS4a: DSTIP 0.0.0.1); without it, `ValueError` (resolve it first). An IPv6
    address is a `ValueError` either way: SOCKS4 cannot carry one.
    """
    if not isinstance(host, str):
        raise TypeError(f"host is a str, not {type(host).__name__}")
    if ":" in host:
        raise ValueError(f"SOCKS4 carries IPv4 addresses only, not {host!r}: use a socks5:// proxy")
    import ipaddress  # only when a handshake is built

    try:
        return ipaddress.IPv4Address(host).packed, b""
    except ValueError:
        pass
    if not remote_dns:
        raise ValueError(
            f"SOCKS4 needs an IPv4 address, not the host name {host!r}: resolve it first "
            "(or use socks4a://, where the proxy resolves it)"
        )
    if not host or not host.isascii() or any(c <= " " or c == "\x7f" for c in host):
        raise ValueError(f"invalid host name {host!r} (give IDNA names in their ASCII form)")
    name = host.encode("ascii")
    if len(name) > MAX_FIELD_LENGTH:
        raise ValueError(
            f"a SOCKS4a host name is at most {MAX_FIELD_LENGTH} bytes, got {len(name)}"
        )
    return b"\0\0\0\x01", name + b"\0"


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port is an int, not {type(port).__name__}")
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port must be in 0..65535, got {port}")


class _Handshake:
    """What every SOCKS handshake shares: queued bytes, the reply buffer, EOF, and a
    failure that sticks. A subclass fills ``_out`` and parses in `_advance`."""

    __slots__ = ("_buffer", "_eof", "_error", "_out", "_phase", "_target", "bound_address")

    def __init__(self, host: str, port: int, greeting: bytes, phase: int) -> None:
        self._target = _show(host, port)
        self._out = bytearray(greeting)
        self._buffer = bytearray()
        self._phase = phase
        self._eof = False
        self._error: str | None = None
        self.bound_address: tuple[str, int] | None = None
        """The address and port of the connect reply, once the handshake is done."""

    def data_to_send(self) -> bytes:
        """Take every queued byte (possibly ``b""``); the shell writes all of it."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the proxy; ``b""`` means EOF. Parsing waits for `next_step`."""
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_step(self) -> HandshakeStep:
        """SEND, RECEIVE or DONE; raises `ProxyError` if the handshake failed."""
        if self._error is not None:
            raise ProxyError(self._error)
        if self._out:
            return SEND
        try:
            return self._advance()
        except ProxyError as exc:
            self._error = str(exc)
            self._out.clear()
            raise

    def trailing_data(self) -> bytes:
        """Bytes that arrived after the connect reply: the start of the tunnelled stream."""
        if self._phase != _DONE:
            raise RuntimeError("the handshake has not finished")
        return bytes(self._buffer)

    def _advance(self) -> HandshakeStep:  # pragma: no cover - every subclass has its own
        raise NotImplementedError


class Socks5Handshake(_Handshake):
    """The client side of a SOCKS5 CONNECT to ``host:port`` (see the module docstring).

    ``host`` is an ASCII host name (IDNA names in their ``xn--`` form) or an IP
    address, IPv6 without brackets. ``auth`` is ``(username, password)``, str
    (UTF-8) or bytes, each at most 255 bytes; empty ones are sent as they are.
    """

    __slots__ = ("_auth", "_methods", "_request", "method")

    def __init__(
        self,
        host: str,
        port: int,
        auth: tuple[str | bytes, str | bytes] | None = None,
        *,
        remote_dns: bool = True,
    ) -> None:
        _check_port(port)
        address = socks5_address(host, remote_dns)
        self._request = bytes([_VERSION, _CONNECT, 0]) + address + port.to_bytes(2, "big")
        if auth is None:
            self._auth: bytes | None = None
            self._methods = bytes([_NO_AUTH])
        else:
            user, password = socks5_credentials(auth)
            self._auth = (
                bytes([_AUTH_VERSION, len(user)]) + user + bytes([len(password)]) + password
            )
            self._methods = bytes([_NO_AUTH, _USERNAME_PASSWORD])
        super().__init__(host, port, bytes([_VERSION, len(self._methods)]) + self._methods, _METHOD)
        self.method: int | None = None
        """The authentication method the proxy chose, once it has."""

    # -- parsing ------------------------------------------------------------------

    def _advance(self) -> HandshakeStep:
        buf = self._buffer
        phase = self._phase
        if phase == _DONE:
            return DONE
        if buf:
            # Checked on the first byte, so that a proxy speaking another protocol
            # (an HTTP proxy answering "HTTP/1.1 400") fails at once.
            version = buf[0]
            if phase == _AUTH:
                if version not in (_AUTH_VERSION, _VERSION):
                    raise ProxyError(
                        f"malformed SOCKS5 authentication reply: version byte 0x{version:02x}, "
                        "expected 0x01"
                    )
            elif version != _VERSION:
                raise ProxyError(
                    f"malformed SOCKS5 reply: version byte 0x{version:02x}, expected 0x05 "
                    "(is this a SOCKS5 proxy?)"
                )
        if phase == _METHOD:
            if len(buf) >= 2:
                return self._on_method(buf[1])
        elif phase == _AUTH:
            if len(buf) >= 2:
                return self._on_auth(buf[1])
        elif len(buf) >= 2:
            code = buf[1]
            if code != 0:
                name = REPLY_CODES.get(code, "unassigned reply code")
                raise ProxyError(
                    f"the SOCKS5 proxy could not connect to {self._target}: "
                    f"{name} (reply code 0x{code:02x})"
                )
            size = self._reply_size(buf)
            if size is not None and len(buf) >= size:
                return self._on_reply(buf, size)
        if self._eof:
            raise ProxyError(
                "the SOCKS5 proxy closed the connection while conch was waiting for "
                f"{_WAITING_FOR[phase]}"
            )
        return RECEIVE

    def _on_method(self, method: int) -> HandshakeStep:
        del self._buffer[:2]
        self.method = method
        if method == _NO_AUTH:
            self._send_request()
        elif method == _USERNAME_PASSWORD and self._auth is not None:
            self._out += self._auth
            self._phase = _AUTH
        elif method == _NO_ACCEPTABLE:
            if self._auth is None:
                raise ProxyError(
                    "the SOCKS5 proxy requires authentication: give the proxy a username "
                    "and password (socks5://user:password@host:port)"
                )
            raise ProxyError(
                "the SOCKS5 proxy accepted none of the offered authentication methods "
                "(no authentication, username/password)"
            )
        else:
            name = _METHOD_NAMES.get(method, "unknown")
            raise ProxyError(
                f"the SOCKS5 proxy chose authentication method 0x{method:02x} ({name}), "
                "which conch did not offer"
            )
        return SEND

    def _on_auth(self, status: int) -> HandshakeStep:
        if status != 0:
            raise ProxyError(
                f"the SOCKS5 proxy refused the username and password (status 0x{status:02x})"
            )
        del self._buffer[:2]
        self._send_request()
        return SEND

    def _send_request(self) -> None:
        self._out += self._request
        self._phase = _REPLY

    @staticmethod
    def _reply_size(buf: bytearray) -> int | None:
        """The connect reply's full length, or None until enough of it has arrived."""
        if len(buf) < 4:
            return None
        kind = buf[3]
        size = _ADDRESS_LENGTHS.get(kind)
        if size is None:
            if kind != _DOMAIN:
                raise ProxyError(f"malformed SOCKS5 reply: unknown address type 0x{kind:02x}")
            if len(buf) < 5:
                return None
            size = 1 + buf[4]
        return 4 + size + 2

    def _on_reply(self, buf: bytearray, size: int) -> HandshakeStep:
        kind = buf[3]
        raw = bytes(buf[4 : size - 2])
        if kind == _IPV4:
            host = ".".join(str(b) for b in raw)
        elif kind == _IPV6:
            import ipaddress

            host = ipaddress.IPv6Address(raw).compressed
        else:
            host = raw[1:].decode("ascii", "replace")
        self.bound_address = (host, int.from_bytes(buf[size - 2 : size], "big"))
        del buf[:size]
        self._phase = _DONE
        return DONE


class Socks4Handshake(_Handshake):
    """The client side of a SOCKS4 CONNECT to ``host:port``, or SOCKS4a with
    ``remote_dns`` when ``host`` is a name (see the module docstring).

    ``host`` is an IPv4 address or, for SOCKS4a, an ASCII host name. ``user_id`` is
    the USERID field (str as UTF-8, or bytes; empty by default).
    """

    __slots__ = ()

    def __init__(
        self, host: str, port: int, user_id: str | bytes = b"", *, remote_dns: bool = True
    ) -> None:
        _check_port(port)
        address, name = socks4_address(host, remote_dns)
        user = socks4_user_id(user_id)
        request = b"\x04\x01" + port.to_bytes(2, "big") + address + user + b"\0" + name
        super().__init__(host, port, request, _REPLY)

    def _advance(self) -> HandshakeStep:
        if self._phase == _DONE:
            return DONE
        buf = self._buffer
        # Checked byte by byte as it arrives, so a proxy speaking another protocol (a
        # SOCKS5 or HTTP answer) fails at once instead of after eight bytes.
        if buf and buf[0] != 0:
            raise ProxyError(
                f"malformed SOCKS4 reply: version byte 0x{buf[0]:02x}, expected 0x00 "
                "(is this a SOCKS4 proxy?)"
            )
        if len(buf) >= 2 and buf[1] != _SOCKS4_GRANTED:
            code = buf[1]
            name = SOCKS4_REPLY_CODES.get(code, "unassigned reply code")
            raise ProxyError(
                f"the SOCKS4 proxy could not connect to {self._target}: "
                f"{name} (reply code 0x{code:02x})"
            )
        if len(buf) >= _SOCKS4_REPLY_SIZE:
            port = int.from_bytes(buf[2:4], "big")
            self.bound_address = (".".join(str(b) for b in buf[4:8]), port)
            del buf[:_SOCKS4_REPLY_SIZE]
            self._phase = _DONE
            return DONE
        if self._eof:
            raise ProxyError(
                "the SOCKS4 proxy closed the connection while conch was waiting for "
                "the connect reply"
            )
        return RECEIVE
