"""The blocking network backend: sockets and ssl, nothing about HTTP.

A `SyncStream` moves bytes with a timeout per call and reports failures as conch
exceptions, mapped in one place per direction (`_fail`): a timeout becomes
Connect/Read/WriteTimeout, any other OSError (ssl errors and DNS failures included)
Connect/Read/WriteError, with the original exception chained.

One quirk of blocking I/O lives here too. A connection that several threads use at
once (``shared=True``: HTTP/2, one thread reading while another writes) must never have
two socket calls in flight: an ssl socket does not allow it, and the socket timeout is
one setting for both directions. So a shared stream makes each socket call under its
own lock and never blocks inside it: a read waits for readability outside the lock,
then takes what is there.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import socket
import ssl
import time
from _thread import allocate_lock
from collections.abc import Callable, Iterable

from sansio._typing_lite import TYPE_CHECKING, Any
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import READY_READ_TIMEOUT, RECEIVE_SIZE, next_receive_size
from sansio.happy_eyeballs import (
    DEFAULT_ATTEMPT_DELAY,
    Connected,
    HappyEyeballs,
    Start,
    Wait,
    order_addresses,
)

if TYPE_CHECKING:  # pragma: no cover
    import threading

__all__ = [
    "TLS_RECORD_SIZE",
    "SyncStream",
    "connect_tcp",
    "connect_unix",
    "create_event",
    "create_lock",
    "resolve",
    "sleep",
]

SocketOption = tuple[int, int, int] | tuple[int, int, bytes] | tuple[int, int, None, int]

# The largest TLS record payload (RFC 8446 section 5.1): one read of the outer stream
# for TLS inside TLS never needs more than one record plus its header.
TLS_RECORD_SIZE = 16384 + 256

# The socket module reads a timeout of 0 as "non-blocking" (and rejects negatives), which
# reports "no data yet" as an error, not a timeout. A caller whose deadline has passed
# still gets whatever is already waiting, then a timeout.
_SMALLEST_TIMEOUT = 1e-6

_CONNECT = (ConnectTimeout, ConnectError)
_READ = (ReadTimeout, ReadError)
_WRITE = (WriteTimeout, WriteError)


def _fail(
    exc: BaseException, kinds: tuple[type[TimeoutException], type[NetworkError]]
) -> Exception:
    """The conch exception for a failed socket call; raise it ``from exc``."""
    cls = kinds[0] if isinstance(exc, TimeoutError) else kinds[1]
    return cls(str(exc) or type(exc).__name__)


def _clamp(timeout: float | None) -> float | None:
    if timeout is None or timeout > _SMALLEST_TIMEOUT:
        return timeout
    return _SMALLEST_TIMEOUT


def _poller(sock: socket.socket) -> Callable[[int], list[Any]]:
    """A check for waiting bytes on ``sock``: ``check(0)`` is non-empty when there are some.

    Made once per stream and kept: a keep-alive connection is checked at every reuse, and
    one ``poll`` call costs less than building and registering a poller each time.
    """
    # poll() where there is one: select() cannot watch a descriptor above FD_SETSIZE.
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return poller.poll
    return lambda timeout: select.select([sock], [], [], timeout)[0]  # pragma: no cover - Windows


def _readable(sock: socket.socket) -> bool:
    """Whether bytes (or end of stream) wait on ``sock``: a one-off `_poller` check."""
    return bool(_poller(sock)(0))


class SyncStream:
    """A connected socket, plain or TLS."""

    __slots__ = ("_io_lock", "_poll", "_sock", "_stash", "_timeout", "read_size")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        # What `read` asks of the next read (`sansio.exchange.next_receive_size`).
        self.read_size = RECEIVE_SIZE
        self._timeout: float | None = sock.gettimeout()
        # Data read by is_readable() on a TLS stream, served before the socket is read.
        self._stash = b""
        # is_readable()'s check, made at its first call (`_poller`).
        self._poll: Callable[[int], list[Any]] | None = None
        self._io_lock = create_lock()  # for socket calls when shared (see above)

    def _unstash(self, max_bytes: int) -> bytes:
        data = self._stash
        if len(data) > max_bytes:
            self._stash = data[max_bytes:]
            return data[:max_bytes]
        self._stash = b""
        return data

    def _set_timeout(self, timeout: float | None) -> None:
        timeout = _clamp(timeout)
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout

    def send_all(
        self, data: bytes | memoryview, timeout: float | None, shared: bool = False
    ) -> None:
        """Send every byte of ``data``, or raise WriteTimeout/WriteError."""
        if shared:
            with self._io_lock:
                return self.send_all(data, timeout)
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            self._sock.sendall(data)
        except OSError as exc:
            raise _fail(exc, _WRITE) from exc

    def recv(self, max_bytes: int, timeout: float | None, shared: bool = False) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` at end of stream."""
        if shared:
            return self._recv_shared(max_bytes, timeout)
        if self._stash:
            return self._unstash(max_bytes)
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            return self._sock.recv(max_bytes)
        except OSError as exc:
            raise _fail(exc, _READ) from exc

    def read(self, timeout: float | None, shared: bool = False) -> bytes:
        """The transport's read: `recv` of ``read_size`` bytes, which grows while reads
        come back full (`sansio.exchange.next_receive_size`)."""
        size = self.read_size
        result = self.recv(size, timeout, shared)
        self.read_size = next_receive_size(size, len(result))
        return result

    def read_ready(self, shared: bool = False) -> bytes | None:
        """What has arrived already, without waiting: bytes, ``b""`` at end of stream, or
        None (nothing, or only TLS records that carry no data)."""
        if shared:
            with self._io_lock:
                return self._read_ready(RECEIVE_SIZE)
        return self._read_ready(RECEIVE_SIZE)

    def _read_ready(self, max_bytes: int) -> bytes | None:
        if not self.is_readable():
            return None
        try:
            return self.recv(max_bytes, READY_READ_TIMEOUT)
        except ReadTimeout:
            return None

    def _recv_shared(self, max_bytes: int, timeout: float | None) -> bytes:
        """Read while another thread may write: each socket call under the I/O lock and
        never blocking in it, the wait for bytes outside it, ``timeout`` for the whole."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._io_lock:
                data = self._read_ready(max_bytes)
            if data is not None:
                return data  # b"" at EOF
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ReadTimeout("timed out")
            self._wait_readable(remaining)

    def _wait_readable(self, timeout: float | None) -> None:
        """Wait until the socket is readable, or ``timeout`` seconds have passed."""
        sock = self._sock
        if sock.fileno() < 0:
            return  # closed: the next read reports it
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            poller.poll(None if timeout is None else max(timeout * 1000, 1))
        else:  # pragma: no cover - Windows
            select.select([sock], [], [], timeout)

    def recv_into(self, buffer: bytearray | memoryview, timeout: float | None) -> int:
        """Fill the start of ``buffer``; returns the byte count, 0 at end of stream."""
        if self._stash:
            data = self._unstash(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            return self._sock.recv_into(buffer)
        except OSError as exc:
            raise _fail(exc, _READ) from exc

    def start_tls(
        self, ctx: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncStream:
        """Run a TLS handshake over this stream; use only the returned stream afterwards.

        ``server_hostname`` is sent as SNI and checked against the certificate when the
        context checks hostnames. On failure the connection is closed.
        """
        if self._stash:
            # Bytes the peer sent before the handshake would be lost under TLS.
            self.close()
            raise ConnectError("the peer sent data before the TLS handshake")
        if isinstance(self._sock, ssl.SSLSocket):
            return _TLSInTLSStream(self, ctx, server_hostname, timeout)
        try:
            self._set_timeout(timeout)
            sock = ctx.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
        except OSError as exc:
            self.close()
            raise _fail(exc, _CONNECT) from exc
        except BaseException:  # a bad server_hostname, or an interrupt
            self.close()
            raise
        # wrap_socket took over the descriptor; this stream now owns nothing.
        try:
            sock.do_handshake()
        except OSError as exc:
            sock.close()
            raise _fail(exc, _CONNECT) from exc
        except BaseException:
            sock.close()
            raise
        return SyncStream(sock)

    def is_readable(self) -> bool:
        """True when data or end of stream is waiting (checked without blocking).

        On an idle keep-alive connection this means the server closed it or sent
        something unasked for: either way it must not be reused.
        """
        sock = self._sock
        if self._stash or sock.fileno() == -1:
            return True
        check = self._poll
        if check is None:
            check = self._poll = _poller(sock)
        if not isinstance(sock, ssl.SSLSocket):
            return bool(check(0))
        if sock.pending():
            return True
        if not check(0):
            return False
        # Bytes on the wire may be TLS housekeeping, such as TLS 1.3 session tickets, and
        # no data at all: let ssl read them without waiting, and keep any data it finds.
        try:
            sock.settimeout(0.0)
            self._stash = sock.recv(TLS_RECORD_SIZE)
        except ssl.SSLWantReadError:
            return False
        except OSError:
            return True  # the next recv reports the failure
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(self._timeout)
        return True

    def close(self) -> None:
        """Close the connection (idempotent; errors are ignored)."""
        with contextlib.suppress(OSError):
            self._sock.close()

    @property
    def alpn_protocol(self) -> str | None:
        """The protocol the server chose through ALPN, or None."""
        sock = self._sock
        return sock.selected_alpn_protocol() if isinstance(sock, ssl.SSLSocket) else None

    def get_extra_info(self, name: str) -> Any:
        """httpcore's network_stream extras: ssl_object, client_addr, server_addr, socket,
        is_readable; None for anything else."""
        sock = self._sock
        try:
            if name == "ssl_object":
                return sock if isinstance(sock, ssl.SSLSocket) else None
            if name == "client_addr":
                return sock.getsockname()
            if name == "server_addr":
                return sock.getpeername()
        except OSError:
            return None
        if name == "socket":
            return sock
        if name == "is_readable":
            return self.is_readable()
        return None


class _TLSInTLSStream(SyncStream):
    """TLS over a stream that is already TLS (an HTTPS proxy tunnel to an HTTPS origin).

    ``ssl.SSLSocket`` cannot wrap another SSLSocket, so the inner TLS runs in memory
    (``SSLObject`` + ``MemoryBIO``) and its records travel through the outer stream.
    """

    __slots__ = ("_closed", "_incoming", "_outer", "_outgoing", "_ssl")

    def __init__(
        self,
        outer: SyncStream,
        ctx: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
    ) -> None:
        super().__init__(outer._sock)
        self._closed = False
        self._outer = outer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        try:
            self._ssl = ctx.wrap_bio(
                self._incoming, self._outgoing, server_hostname=server_hostname
            )
            self._pump(timeout, self._ssl.do_handshake)
        except BaseException as exc:
            outer.close()
            if isinstance(exc, OSError):
                raise _fail(exc, _CONNECT) from exc
            if isinstance(exc, NetworkError | TimeoutException):
                err = ConnectTimeout if isinstance(exc, TimeoutException) else ConnectError
                raise err(str(exc)) from exc
            raise

    def _pump(self, timeout: float | None, op: Any, *args: Any) -> Any:
        """Run an SSLObject call to completion, moving records through the outer stream."""
        outer = self._outer
        while True:
            try:
                result = op(*args)
            except ssl.SSLWantReadError:
                pending = self._outgoing.read()
                if pending:
                    outer.send_all(pending, timeout)
                data = outer.recv(TLS_RECORD_SIZE, timeout)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            pending = self._outgoing.read()
            if pending:
                outer.send_all(pending, timeout)
            return result

    def send_all(
        self, data: bytes | memoryview, timeout: float | None, shared: bool = False
    ) -> None:
        if shared:
            with self._io_lock:
                return self.send_all(data, timeout)
        try:
            view = memoryview(data)
            while view:
                sent = self._pump(timeout, self._ssl.write, view)
                view = view[sent:]
        except ssl.SSLError as exc:
            raise _fail(exc, _WRITE) from exc

    def recv(self, max_bytes: int, timeout: float | None, shared: bool = False) -> bytes:
        if shared:
            return self._recv_shared(max_bytes, timeout)
        if self._stash:
            return self._unstash(max_bytes)
        if self._closed:
            raise ReadError("stream closed")  # the SSLObject would repeat a past EOF
        try:
            data: bytes = self._pump(timeout, self._ssl.read, max_bytes)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except ssl.SSLError as exc:
            raise _fail(exc, _READ) from exc
        return data

    def recv_into(self, buffer: bytearray | memoryview, timeout: float | None) -> int:
        data = self.recv(len(buffer), timeout)
        n = len(data)
        buffer[:n] = data
        return n

    def is_readable(self) -> bool:
        if self._stash or self._ssl.pending():
            return True
        if not self._outer.is_readable():
            return False
        # As in SyncStream: the outer data may hold only inner TLS housekeeping.
        try:
            self._stash = self.recv(TLS_RECORD_SIZE, 0.0)
        except ReadTimeout:
            return False
        except NetworkError:
            return True  # the next recv reports the failure
        return True

    def close(self) -> None:
        self._closed = True
        self._outer.close()

    @property
    def alpn_protocol(self) -> str | None:
        return self._ssl.selected_alpn_protocol()

    def get_extra_info(self, name: str) -> Any:
        if name == "ssl_object":
            return self._ssl
        if name == "is_readable":
            return self.is_readable()
        return self._outer.get_extra_info(name)


def _make_socket(
    family: int,
    kind: int,
    proto: int,
    timeout: float | None,
    socket_options: Iterable[SocketOption] | None,
) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        if family != socket.AF_UNIX:
            # Requests are small writes followed by a wait: Nagle would add a round trip.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.settimeout(_clamp(timeout))
    except BaseException:
        sock.close()
        raise
    return sock


def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    local_address: str | None = None,
    socket_options: Iterable[SocketOption] | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
) -> SyncStream:
    """Open a TCP connection to ``host`` (IPv4 and IPv6).

    One address: ``timeout`` bounds the attempt, as in ``socket.create_connection``.
    Several: they race as `sansio.happy_eyeballs` decides (RFC 8305: families
    interleaved, a new attempt every ``attempt_delay`` or at once after a failure, the
    first to connect wins), non-blocking sockets waited on together with ``poll``;
    ``timeout`` bounds the whole race. Failures are ConnectTimeout or ConnectError.
    ``socket_options`` are set before connecting; ``local_address`` is an IP address
    to bind to (port 0).
    """
    family = socket.AF_UNSPEC
    if local_address is not None:
        family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    options = list(socket_options) if socket_options is not None else None
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except OSError as exc:
        raise _fail(exc, _CONNECT) from exc
    ordered = order_addresses(infos, key=_ip)
    if len(ordered) > 1:
        return _race(ordered, timeout, local_address, options, attempt_delay)
    last: OSError | None = None
    for af, kind, proto, _canon, address in infos:
        sock = None
        try:
            sock = _make_socket(af, kind, proto, timeout, options)
            if local_address is not None:
                sock.bind((local_address, 0))
            sock.connect(address)
        except BaseException as exc:
            if sock is not None:
                sock.close()
            if not isinstance(exc, OSError):
                raise
            last = exc
            continue
        return SyncStream(sock)
    if last is None:
        raise ConnectError(f"no address found for {host!r}")
    raise _fail(last, _CONNECT) from last


def _ip(info: tuple[Any, ...]) -> str:
    return str(info[4][0])


_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN})


def _race(
    infos: list[Any],
    timeout: float | None,
    local_address: str | None,
    options: list[SocketOption] | None,
    attempt_delay: float,
) -> SyncStream:
    """Happy Eyeballs over ``infos`` (getaddrinfo results, in the order to try them):
    each step is the core's `HappyEyeballs`; here, non-blocking connects and a poll."""
    race = HappyEyeballs(infos, attempt_delay=attempt_delay, label=_ip)
    deadline = None if timeout is None else time.monotonic() + timeout
    attempts: dict[int, socket.socket] = {}  # by index, while connecting or won
    indexes: dict[int, int] = {}  # file descriptor -> attempt
    poller = select.poll()
    try:
        while True:
            now = time.monotonic()
            step = race.next_step(now)
            if isinstance(step, Start):
                af, kind, proto, _canon, address = step.address
                try:
                    sock = attempts[step.index] = _make_socket(af, kind, proto, None, options)
                    sock.setblocking(False)
                    if local_address is not None:
                        sock.bind((local_address, 0))
                    code = sock.connect_ex(address)
                    if code not in _IN_PROGRESS and code != 0:
                        raise OSError(code, os.strerror(code))
                except OSError as exc:
                    closing = attempts.pop(step.index, None)
                    if closing is not None:
                        closing.close()
                    race.failed(step.index, _fail(exc, _CONNECT))
                    continue
                if code == 0:
                    race.connected(step.index)
                else:
                    indexes[sock.fileno()] = step.index
                    poller.register(sock, select.POLLOUT)
            elif isinstance(step, Wait):
                until = step.until if deadline is None else min(step.until or deadline, deadline)
                if deadline is not None and now >= deadline:
                    raise ConnectTimeout("timed out")
                wait = None if until is None else math.ceil(max(until - now, 0) * 1000)
                for fd, _events in poller.poll(wait):
                    poller.unregister(fd)
                    index = indexes.pop(fd)
                    sock = attempts[index]
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        del attempts[index]
                        sock.close()
                        error = OSError(code, os.strerror(code))
                        race.failed(index, _fail(error, _CONNECT))
                    elif not race.connected(index):
                        del attempts[index]
                        sock.close()
            elif isinstance(step, Connected):
                sock = attempts.pop(step.index)
                sock.settimeout(_clamp(timeout))
                return SyncStream(sock)
            else:
                raise step.error
    finally:
        for sock in attempts.values():  # the losers, and everything after a failure
            sock.close()


def resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """The socket addresses of ``host`` (both families, in the resolver's order).

    ``getaddrinfo`` cannot be bounded here (``timeout`` is unused, as it is for the name
    lookup of `connect_tcp`): the system resolver's own timeouts apply.
    """
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except OSError as exc:
        raise _fail(exc, _CONNECT) from exc
    return [info[4] for info in infos]


def connect_unix(
    path: str, *, timeout: float | None, socket_options: Iterable[SocketOption] | None = None
) -> SyncStream:
    """Open a connection to the Unix domain socket at ``path``."""
    try:
        sock = _make_socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, timeout, socket_options)
    except OSError as exc:
        raise _fail(exc, _CONNECT) from exc
    try:
        sock.connect(path)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, OSError):
            raise _fail(exc, _CONNECT) from exc
        raise
    return SyncStream(sock)


def sleep(seconds: float) -> None:
    """Block for ``seconds``."""
    time.sleep(seconds)


def create_lock() -> threading.Lock:
    """A new `threading.Lock` (which is `_thread.allocate_lock`: threading is not loaded
    for it, ~1 ms of ``import conch``)."""
    return allocate_lock()


def create_event() -> threading.Event:
    """A new `threading.Event`: threading is imported with the first (a plain request
    never waits for one)."""
    from threading import Event

    return Event()
