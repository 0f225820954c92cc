"""The async network backend: asyncio or trio, whichever is running the caller.

The choice is made by ``sniffio`` on every call that opens something (not at import), so
one AsyncClient works under either library. Streams, locks and events know nothing about
HTTP; each backend maps its failures to conch exceptions in one place per direction, like
``sync_io.backend``. Cancellation (``asyncio.CancelledError``, ``trio.Cancelled``) is never
caught or remapped.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sniffio

from sansio.exceptions import ReadTimeout
from sansio.exchange import READY_READ_TIMEOUT, RECEIVE_SIZE, next_receive_size
from sansio.happy_eyeballs import DEFAULT_ATTEMPT_DELAY

if TYPE_CHECKING:  # pragma: no cover
    from typing import Protocol

    class _Lock(Protocol):
        async def acquire(self) -> object: ...
        def release(self) -> None: ...

    class _Event(Protocol):
        def set(self) -> None: ...
        def is_set(self) -> bool: ...
        async def wait(self, timeout: float | None) -> bool: ...


# A socket option for setsockopt(level, name, value), as httpcore spells it.
SocketOption = tuple[int, int, int] | tuple[int, int, bytes] | tuple[int, int, None, int]

__all__ = [
    "AsyncEvent",
    "AsyncLock",
    "AsyncStream",
    "SocketOption",
    "connect_tcp",
    "connect_unix",
    "create_event",
    "create_lock",
    "resolve",
    "sleep",
]


class AsyncStream:
    """A connected stream, plain or TLS. Every method that awaits may be cancelled:
    the stream is then in an unknown state and must be closed (``aclose`` always works).
    ``read_size`` is what `read` asks of the next read, set by each backend to
    `RECEIVE_SIZE` (`sansio.exchange.next_receive_size`)."""

    __slots__ = ("read_size",)
    read_size: int

    async def send_all(
        self, data: bytes | memoryview, timeout: float | None, shared: bool = False
    ) -> None:
        """Send every byte of ``data``, or raise WriteTimeout/WriteError. (``shared``, a
        stream other tasks use too, needs nothing here: see `read_ready`.)"""
        raise NotImplementedError

    def write_now(self, data: bytes) -> int:
        """Write what of ``data`` goes out without waiting, or raise WriteError; how many
        bytes that was. Here none: `send_all` sends it all (trio: its cancellation point
        comes before the first byte)."""
        return 0

    async def recv(self, max_bytes: int, timeout: float | None, shared: bool = False) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` at end of stream."""
        raise NotImplementedError

    async def read(self, timeout: float | None, shared: bool = False) -> bytes:
        """The transport's read: `recv` of ``read_size`` bytes, which grows while reads
        come back full (`sansio.exchange.next_receive_size`). A backend whose event loop
        has read the bytes already asks for them whole instead (asyncio)."""
        size = self.read_size
        result = await self.recv(size, timeout, shared)
        self.read_size = next_receive_size(size, len(result))
        return result

    async def read_ready(self, shared: bool = False) -> bytes | None:
        """What has arrived already, without waiting: bytes, ``b""`` at end of stream, or
        None. ``shared`` needs nothing here: unlike a blocking ssl socket shared by two
        threads, an event loop's stream may read while another task writes."""
        if not self.is_readable():
            return None
        try:
            return await self.recv(RECEIVE_SIZE, READY_READ_TIMEOUT)
        except ReadTimeout:
            return None

    async def start_tls(
        self, ctx: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncStream:
        """Run a TLS handshake over this stream; use only the returned stream afterwards.
        On failure or cancellation the connection is closed."""
        raise NotImplementedError

    def is_readable(self) -> bool:
        """True when data or end of stream is waiting (checked without blocking)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close at once, without a graceful TLS shutdown (idempotent; errors ignored)."""
        raise NotImplementedError

    def get_extra_info(self, name: str) -> Any:
        """ssl_object, client_addr, server_addr, socket, is_readable; None otherwise."""
        raise NotImplementedError

    @property
    def alpn_protocol(self) -> str | None:
        """The protocol the server chose through ALPN, or None."""
        raise NotImplementedError


def _backend() -> Any:
    library = sniffio.current_async_library()
    if library == "trio":
        from . import _trio

        return _trio
    if library == "asyncio":
        from . import _asyncio

        return _asyncio
    raise RuntimeError(f"conch supports asyncio and trio, not {library!r}")


async def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    local_address: str | None = None,
    socket_options: Iterable[SocketOption] | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
) -> AsyncStream:
    """Open a TCP connection to ``host`` (IPv4 and IPv6).

    Several addresses race as `sansio.happy_eyeballs` decides (RFC 8305: a new attempt
    every ``attempt_delay`` or at once after a failure, the first to connect wins).
    ``timeout`` bounds the whole attempt, name resolution included; failures raise
    ConnectTimeout or ConnectError (one naming every address when all fail).
    ``socket_options`` are set before connecting; ``local_address`` is an IP address to
    bind to. Nothing is left open on failure or cancellation.
    """
    stream: AsyncStream = await _backend().connect_tcp(
        host,
        port,
        timeout=timeout,
        local_address=local_address,
        socket_options=socket_options,
        attempt_delay=attempt_delay,
    )
    return stream


async def resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """The socket addresses of ``host`` (both families, in the resolver's order), within
    ``timeout`` (ConnectTimeout); a failed lookup is a ConnectError."""
    addresses: list[tuple[Any, ...]] = await _backend().resolve(host, port, timeout)
    return addresses


async def connect_unix(
    path: str, *, timeout: float | None, socket_options: Iterable[SocketOption] | None = None
) -> AsyncStream:
    """Open a connection to the Unix domain socket at ``path``."""
    stream: AsyncStream = await _backend().connect_unix(
        path, timeout=timeout, socket_options=socket_options
    )
    return stream


async def sleep(seconds: float) -> None:
    """Sleep for ``seconds`` (a checkpoint)."""
    await _backend().sleep(seconds)


class AsyncLock:
    """A lock for asyncio or trio, bound to the library on first use.

    Safe to create outside any event loop (an AsyncClient is often built at import time).
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: _Lock | None = None

    async def acquire(self) -> None:
        lock = self._lock
        if lock is None:
            lock = self._lock = _backend().Lock()
        await lock.acquire()

    def release(self) -> None:
        assert self._lock is not None, "release() of a lock never acquired"
        self._lock.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class AsyncEvent:
    """A one-shot event for asyncio or trio, bound to the library on first use."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._event: _Event | None = None
        self._set = False

    def _get(self) -> _Event:
        event = self._event
        if event is None:
            event = self._event = _backend().Event()
            if self._set:
                event.set()
        return event

    def set(self) -> None:
        """Wake every waiter, now and later. Needs no running loop if nobody waits yet."""
        self._set = True
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        return self._set

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until set; False if ``timeout`` seconds passed first."""
        return await self._get().wait(timeout)


def create_lock() -> AsyncLock:
    """A new lock (see `AsyncLock`)."""
    return AsyncLock()


def create_event() -> AsyncEvent:
    """A new event (see `AsyncEvent`)."""
    return AsyncEvent()
