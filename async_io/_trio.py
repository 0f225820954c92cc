"""The trio backend: trio.SocketStream and trio.SSLStream.

Timeouts are cancel scopes (``trio.fail_after``, or a bare scope on the read path), entered
only when a timeout is set. Failures map to conch exceptions as in ``sync_io.backend``:
TooSlowError or a read's expired scope becomes a timeout; BrokenResourceError,
ClosedResourceError and OSError (ssl errors included) an error of the call's direction.
``trio.Cancelled`` passes through untouched. A send with a write timeout runs in a
shielded scope with that deadline instead (see ``TrioStream.send_all``). Over plain TCP,
what the socket takes at once is sent without a scope or a trip through the scheduler,
and a read goes to the socket itself with trio's checkpoints but not its stream's layers.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import trio  # type: ignore[import-untyped, unused-ignore]

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
from sansio.exchange import RECEIVE_SIZE
from sansio.happy_eyeballs import (
    DEFAULT_ATTEMPT_DELAY,
    Connected,
    HappyEyeballs,
    Start,
    Wait,
    order_addresses,
)

from .backend import AsyncStream, SocketOption

__all__ = ["Event", "Lock", "TrioStream", "connect_tcp", "connect_unix", "sleep"]

_CONNECT = (ConnectTimeout, ConnectError)
_READ = (ReadTimeout, ReadError)
_WRITE = (WriteTimeout, WriteError)

# Every failure a trio stream or socket call reports, apart from cancellation.
_FAILURES = (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)

# A deadline of "now" cancels at the first checkpoint, before trio looks at data already
# waiting. A deadline a little ahead (enough for the few Python calls before trio reads)
# still returns that data, then times out, as the other backends do when a caller's
# time is up.
_SMALLEST_TIMEOUT = 1e-3

Lock = trio.Lock
sleep = trio.sleep
checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
cancel_shielded_checkpoint = trio.lowlevel.cancel_shielded_checkpoint
wait_readable = trio.lowlevel.wait_readable

# poll() where there is one (not on Windows): select() cannot watch a descriptor above
# FD_SETSIZE, and trio's own check is used there.
_POLL = hasattr(select, "poll")


def _fail(
    exc: BaseException, kinds: tuple[type[TimeoutException], type[NetworkError]]
) -> Exception:
    """The conch exception for a failure; raise it ``from exc``."""
    if isinstance(exc, trio.TooSlowError | TimeoutError):
        return kinds[0]("timed out")
    # BrokenResourceError usually wraps the OSError or SSLError that broke the stream.
    message = str(exc) or str(exc.__cause__ or "") or type(exc).__name__
    return kinds[1](message)


def _socket_of(stream: Any) -> Any:
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    return stream.socket


async def _recv_when_readable(raw: socket.socket, max_bytes: int) -> bytes:
    """Wait until ``raw`` is readable, then read (again after a spurious wake-up)."""
    while True:
        await wait_readable(raw)
        try:
            return raw.recv(max_bytes)
        except BlockingIOError:
            pass


class TrioStream(AsyncStream):
    """A stream over a trio.SocketStream or trio.SSLStream."""

    __slots__ = ("_check", "_closed", "_raw", "_stream")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._closed = False
        self.read_size = RECEIVE_SIZE
        # The stdlib socket under a plain TCP stream, for sends that need not wait (trio's
        # socket keeps it as ``_sock``; without it every send takes trio's path).
        self._raw: socket.socket | None = (
            getattr(stream.socket, "_sock", None) if isinstance(stream, trio.SocketStream) else None
        )
        # ``is_readable``'s poll of that socket, made at its first call and kept: an idle
        # keep-alive connection is checked at every reuse (trio builds a poller each time).
        self._check: Any = None

    async def send_all(
        self, data: bytes | memoryview, timeout: float | None, shared: bool = False
    ) -> None:
        """See AsyncStream.send_all. With a timeout, a cancellation that lands midway waits
        for the send to finish (or time out), and the send then returns normally."""
        # trio's send_all cancelled midway leaves an unknown prefix of ``data`` sent (plain
        # TCP) or the SSLStream broken for good (TLS): on a connection shared by HTTP/2
        # streams, one request's deadline would end them all. So the send is shielded,
        # bounded by the write timeout alone, which still fails the stream (WriteTimeout).
        # The caller's cancellation is checked before a byte goes out; once the send has
        # completed it is left to the caller's next checkpoint rather than raised here, as
        # the data did go out: raising would make the caller drop an intact connection.
        # Without a timeout nothing would bound a shielded send to a peer that stopped
        # reading, so that send stays cancellable (and cancelling it fails the stream).
        raw = self._raw
        if raw is not None:
            # Plain TCP: what the kernel takes at once goes straight to the socket, as
            # asyncio's transport.write does, with no cancel scope and no trip through
            # the scheduler (trio's send ends with one even when nothing waited): one
            # wake-up less per request. Only a send that would block waits below.
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                sent = raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise _fail(exc, _WRITE) from exc
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        try:
            if timeout is None:
                await self._stream.send_all(data)
                return
            await trio.lowlevel.checkpoint_if_cancelled()
            deadline = trio.current_time() + max(timeout, _SMALLEST_TIMEOUT)
            with trio.CancelScope(deadline=deadline, shield=True) as scope:
                await self._stream.send_all(data)
        except _FAILURES as exc:
            raise _fail(exc, _WRITE) from exc
        if scope.cancelled_caught:
            raise WriteTimeout("timed out")

    async def recv(self, max_bytes: int, timeout: float | None, shared: bool = False) -> bytes:
        raw = self._raw
        if raw is not None and not self._closed:
            # Plain TCP: trio's own steps (a checkpoint, one read, and if nothing is there
            # a wait until readable and another read) on the stdlib socket, without the
            # stream's conflict detector and the socket's async context manager around
            # them: about 30 Python calls less per read.
            await checkpoint_if_cancelled()
            try:
                data: bytes = raw.recv(max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise _fail(exc, _READ) from exc
            else:
                await cancel_shielded_checkpoint()  # a schedule point, as trio's recv
                return data
            try:
                if timeout is None:
                    return await _recv_when_readable(raw, max_bytes)
                deadline = trio.current_time() + max(timeout, _SMALLEST_TIMEOUT)
                with trio.CancelScope(deadline=deadline) as scope:
                    return await _recv_when_readable(raw, max_bytes)
            except _FAILURES as exc:
                raise _fail(exc, _READ) from exc
            raise ReadTimeout("timed out")  # (only the scope's expiry gets here)
        try:
            if timeout is None:
                data = await self._stream.receive_some(max_bytes)
                return data
            # A bare scope: trio.fail_after wraps the same scope in a generator-based
            # context manager, which costs as much again on every read.
            deadline = trio.current_time() + max(timeout, _SMALLEST_TIMEOUT)
            with trio.CancelScope(deadline=deadline) as scope:
                data = await self._stream.receive_some(max_bytes)
        except _FAILURES as exc:
            raise _fail(exc, _READ) from exc
        if scope.cancelled_caught:
            raise ReadTimeout("timed out")
        return data

    async def start_tls(
        self, ctx: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncStream:
        # https_compatible: a server closing without close_notify is an ordinary EOF.
        stream = trio.SSLStream(
            self._stream, ctx, server_hostname=server_hostname, https_compatible=True
        )
        try:
            if timeout is None:
                await stream.do_handshake()
            else:
                with trio.fail_after(max(timeout, _SMALLEST_TIMEOUT)):
                    await stream.do_handshake()
        except _FAILURES as exc:
            self._close_now()
            raise _fail(exc, _CONNECT) from exc
        except BaseException:
            self._close_now()
            raise
        self._closed = True  # the TLS stream owns the connection now
        return TrioStream(stream)

    def is_readable(self) -> bool:
        """See AsyncStream.is_readable. Over TLS, trio offers no way to look at received
        bytes without awaiting, so TLS housekeeping (a TLS 1.3 session ticket not yet
        read) counts as readable too. Only a connection that never read anything can have
        such bytes waiting: a server sends its tickets before any response."""
        if self._closed:
            return True
        raw = self._raw
        if raw is not None and _POLL:
            check = self._check
            if check is None:
                poller = select.poll()
                poller.register(raw, select.POLLIN)
                check = self._check = poller.poll
            return bool(check(0))
        stream = self._stream
        if isinstance(stream, trio.SSLStream) and stream.pending():
            return True
        return bool(_socket_of(stream).is_readable())

    def _close_now(self) -> None:
        # Closing the socket itself is synchronous: no checkpoint, so it cannot be
        # cancelled or block, and tasks waiting on the socket wake up with an error.
        self._closed = True
        _socket_of(self._stream).close()

    async def aclose(self) -> None:
        """Close at once. Not a cancellation point: code after it always runs."""
        if not self._closed:
            self._close_now()

    @property
    def alpn_protocol(self) -> str | None:
        stream = self._stream
        if isinstance(stream, trio.SSLStream):
            protocol: str | None = stream.selected_alpn_protocol()
            return protocol
        return None

    def get_extra_info(self, name: str) -> Any:
        stream = self._stream
        if name == "ssl_object":
            # SSLStream forwards the ssl.SSLObject API (getpeercert, version, ...).
            return stream if isinstance(stream, trio.SSLStream) else None
        if name == "is_readable":
            return self.is_readable()
        sock = _socket_of(stream)
        try:
            if name == "client_addr":
                return sock.getsockname()
            if name == "server_addr":
                return sock.getpeername()
        except OSError:
            return None
        if name == "socket":
            return sock
        return None


def _make_socket(
    family: int, kind: int, proto: int, socket_options: Iterable[SocketOption] | None
) -> Any:
    sock = trio.socket.socket(family, kind, proto)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    local_address: str | None = None,
    socket_options: Iterable[SocketOption] | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
) -> TrioStream:
    family = socket.AF_UNSPEC
    if local_address is not None:
        family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    options = list(socket_options) if socket_options is not None else None
    deadline = (
        trio.current_time() + max(timeout, _SMALLEST_TIMEOUT) if timeout is not None else math.inf
    )
    try:
        with trio.fail_at(deadline):
            try:
                infos = await trio.socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
            ordered = order_addresses(infos, key=_ip)
            if len(ordered) > 1:
                return await _race(ordered, local_address, options, attempt_delay)
            last: OSError | None = None
            for af, kind, proto, _canon, address in infos:
                try:
                    sock = _make_socket(af, kind, proto, options)
                except OSError as exc:
                    last = exc
                    continue
                try:
                    if local_address is not None:
                        await sock.bind((local_address, 0))
                    await sock.connect(address)
                except OSError as exc:
                    sock.close()
                    last = exc
                    continue
                except BaseException:
                    sock.close()
                    raise
                # SocketStream turns TCP_NODELAY on.
                return TrioStream(trio.SocketStream(sock))
            if last is None:
                raise ConnectError(f"no address found for {host!r}")
            raise _fail(last, _CONNECT) from last
    except trio.TooSlowError as exc:
        raise ConnectTimeout("timed out") from exc


def _ip(info: tuple[Any, ...]) -> str:
    return str(info[4][0])


async def _race(
    infos: list[Any],
    local_address: str | None,
    options: list[SocketOption] | None,
    attempt_delay: float,
) -> TrioStream:
    """Happy Eyeballs over ``infos`` (getaddrinfo results, in the order to try them):
    each step is the core's `HappyEyeballs`; here, one task per attempt in a nursery,
    reporting on a channel. The caller's deadline bounds the race; nothing is left
    open when it ends, however it ends."""
    race = HappyEyeballs(infos, attempt_delay=attempt_delay, label=_ip)
    send, receive = trio.open_memory_channel[tuple[int, Any]](math.inf)
    socks: dict[int, Any] = {}  # connected, not yet handed out or closed
    error: Exception | None = None
    winner: Any = None
    try:
        async with trio.open_nursery() as nursery:
            while True:
                step = race.next_step(trio.current_time())
                if isinstance(step, Start):
                    nursery.start_soon(
                        _attempt, step.index, step.address, local_address, options, send
                    )
                elif isinstance(step, Wait):
                    with trio.move_on_at(math.inf if step.until is None else step.until):
                        index, result = await receive.receive()
                        if isinstance(result, Exception):
                            race.failed(index, result)
                        elif race.connected(index):
                            socks[index] = result
                        else:
                            result.close()
                elif isinstance(step, Connected):
                    winner = socks.pop(step.index)
                    break
                else:
                    # Raised out of the nursery, it would come wrapped in a group.
                    error = step.error
                    break
            nursery.cancel_scope.cancel()  # the other attempts
    finally:
        send.close()
        while True:  # attempts that connected meanwhile: nobody wants them
            try:
                _index, result = receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if not isinstance(result, Exception):
                result.close()
        for sock in socks.values():
            sock.close()
    if error is not None:
        raise error
    return TrioStream(trio.SocketStream(winner))


async def _attempt(
    index: int,
    info: tuple[Any, ...],
    local_address: str | None,
    options: list[SocketOption] | None,
    report: Any,
) -> None:
    """One connection attempt of a race: its socket or its conch error, on ``report``."""
    af, kind, proto, _canon, address = info
    sock = None
    try:
        sock = _make_socket(af, kind, proto, options)
        if local_address is not None:
            await sock.bind((local_address, 0))
        await sock.connect(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        report.send_nowait((index, _fail(exc, _CONNECT)))
        return
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    report.send_nowait((index, sock))


async def resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    deadline = (
        trio.current_time() + max(timeout, _SMALLEST_TIMEOUT) if timeout is not None else math.inf
    )
    try:
        with trio.fail_at(deadline):
            try:
                infos = await trio.socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
    except trio.TooSlowError as exc:
        raise ConnectTimeout("timed out") from exc
    return [info[4] for info in infos]


async def connect_unix(
    path: str, *, timeout: float | None, socket_options: Iterable[SocketOption] | None = None
) -> TrioStream:
    deadline = (
        trio.current_time() + max(timeout, _SMALLEST_TIMEOUT) if timeout is not None else math.inf
    )
    try:
        with trio.fail_at(deadline):
            try:
                sock = _make_socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, socket_options)
            except OSError as exc:
                raise _fail(exc, _CONNECT) from exc
            try:
                await sock.connect(path)
            except OSError as exc:
                sock.close()
                raise _fail(exc, _CONNECT) from exc
            except BaseException:
                sock.close()
                raise
            return TrioStream(trio.SocketStream(sock))
    except trio.TooSlowError as exc:
        raise ConnectTimeout("timed out") from exc


class Event:
    """trio.Event with a timeout on wait."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return bool(self._event.is_set())

    async def wait(self, timeout: float | None) -> bool:
        if timeout is None:
            await self._event.wait()
            return True
        with trio.move_on_after(max(timeout, _SMALLEST_TIMEOUT)):
            await self._event.wait()
        # Set counts even when the deadline passed too (wait(0) on a set event).
        return bool(self._event.is_set())
