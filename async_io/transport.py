"""`AsyncHTTPTransport`: the core's exchange engine, performed on asyncio or trio.

Every decision is the engine's (`sansio.engine`): which connection, what to write and
read and when, retries, HTTP/2 scheduling, what a failure takes down. This module is
its interpreter: it connects, runs TLS handshakes, writes, reads, waits and wakes, and
hands the engine each result or error. It mirrors `sync_io.transport` line for line.
The engine needs no lock here (every engine call runs between two awaits), and an
exchange that must wait parks on an event of the running library. A cancellation while
an action is awaited gets the engine's cleanup (which never waits) before it goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Iterable
from operator import methodcaller

from io_common.memory import prime_allocator
from io_common.tape import open_tape, save_tape
from io_common.tls import context_for, load_client_cert
from sansio._typing_lite import TYPE_CHECKING, Any
from sansio.config import DEFAULT_LIMITS, Limits
from sansio.engine import (
    BodyEvent,
    Checkpoint,
    Connect,
    Effects,
    Engine,
    Exchange,
    Park,
    Read,
    ReadReady,
    Resolve,
    Sleep,
    StartTLS,
    Trace,
    Write,
)
from sansio.engine.drive import AsyncBody, AsyncHandlers, adrive
from sansio.engine.poolview import PoolView
from sansio.engine.trace import async_result, debug_logging, log_event
from sansio.happy_eyeballs import DEFAULT_ATTEMPT_DELAY, check_attempt_delay
from sansio.models import Request, Response
from sansio.transports import AsyncBaseTransport

from .backend import (
    AsyncStream,
    SocketOption,
    connect_tcp,
    connect_unix,
    create_event,
    resolve,
    sleep,
)
from .network import AsyncNetworkStream
from .tunnel import AsyncTunnelStream

if TYPE_CHECKING:  # a policy loads sansio.retry; an int does not
    from sansio.retry import Retry

__all__ = ["AsyncHTTPTransport"]

# The engine asks whether an idle stream has anything to read before it probes one with a
# ReadReady action: usually nothing is there, and no action is needed.
_IS_READABLE = methodcaller("is_readable")


def _write_now(stream: AsyncStream, data: bytes) -> int:
    """The engine writes a request's bytes at once where the stream can take them
    without waiting (asyncio): no Write action then."""
    return stream.write_now(data)


class AsyncHTTPTransport(AsyncBaseTransport):
    """A pooling HTTP/1.1 and HTTP/2 transport on asyncio or trio (as
    `httpx.AsyncHTTPTransport`)."""

    def __init__(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int | Retry = 0,
        socket_options: Iterable[SocketOption] | None = None,
        *,
        happy_eyeballs_delay: float = DEFAULT_ATTEMPT_DELAY,
        record: Any = None,
        replay: Any = None,
    ) -> None:
        # record=/replay=: a Recorder or Recording, or a file path (`sansio.replay`).
        recorder, recording, self._record_path = open_tape(record, replay)
        self._recorder = recorder
        self._engine = Engine(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
            limits=limits, proxy=proxy, uds=uds, retries=retries, record=recorder,
            replay=recording,
            clock=time.monotonic, lock=None, new_ticket=create_event,
            readable=_IS_READABLE,
            write_now=_write_now,
        )  # fmt: skip
        # verify=<SSLContext> with cert=: into that context now, as httpx does.
        load_client_cert(verify, cert)
        # Reads of up to 256 KiB each, without the page faults of fresh pages.
        prime_allocator()
        self._local_address = local_address
        self._socket_options = list(socket_options) if socket_options is not None else None
        # Between two connection attempts to a host with several addresses (RFC 8305).
        self._attempt_delay = check_attempt_delay(happy_eyeballs_delay)
        # The I/O of each action; the loop around them is the core's (`sansio.engine.drive`).
        self._handlers: AsyncHandlers = {
            Read: self._read, Write: self._write, ReadReady: self._read_ready,
            Effects: self._apply, Park: self._park, Connect: self._connect,
            StartTLS: self._start_tls, Resolve: self._resolve, Sleep: self._sleep,
            Trace: self._trace, Checkpoint: self._checkpoint,
        }  # fmt: skip

    async def handle_async_request(self, request: Request) -> Response:
        ex = self._engine.exchange(request)
        head = await adrive(ex, ex.send(None), self._handlers, request.stream)
        network: Any = AsyncNetworkStream(ex.network, ex.take_leftover())
        if ex.tunnel:  # (RFC 8441: a stream of a shared HTTP/2 connection)
            network = AsyncTunnelStream(self, ex)
        return ex.response(head, AsyncBody(ex, self._handlers), network)  # type: ignore[arg-type]

    async def _drive(self, ex: Exchange, act: Any) -> BodyEvent:
        return await adrive(ex, act, self._handlers)

    @staticmethod
    def _read(act: Read) -> Awaitable[bytes]:  # (no coroutine of its own: the hot path)
        return act.stream.read(act.timeout, act.shared)  # type: ignore[no-any-return]

    @staticmethod
    def _write(act: Write) -> Awaitable[None]:  # (no coroutine of its own: the hot path)
        return act.stream.send_all(act.data, act.timeout, act.shared)  # type: ignore[no-any-return]

    @staticmethod
    async def _read_ready(act: ReadReady) -> bytes | None:
        if act.shared or act.stream.is_readable():  # (nothing there, the common case)
            return await act.stream.read_ready(act.shared)  # type: ignore[no-any-return]
        return None

    @staticmethod
    async def _park(act: Park) -> bool:
        return await act.ticket.wait(act.timeout)  # type: ignore[no-any-return]

    @staticmethod
    async def _resolve(act: Resolve) -> Any:  # (a SOCKS4 proxy's target)
        return await resolve(act.host, act.port, act.timeout)

    @staticmethod
    async def _sleep(act: Sleep) -> None:
        await sleep(act.seconds)

    @staticmethod
    async def _checkpoint(act: Checkpoint) -> None:
        await sleep(0)  # a pending cancellation lands here

    async def _connect(self, act: Connect) -> AsyncStream:
        options = self._socket_options
        if act.uds is not None:
            return await connect_unix(act.uds, timeout=act.timeout, socket_options=options)
        return await connect_tcp(
            act.host,
            act.port,
            timeout=act.timeout,
            local_address=self._local_address,
            socket_options=options,
            attempt_delay=self._attempt_delay,
        )

    @staticmethod
    async def _start_tls(act: StartTLS) -> tuple[AsyncStream, str | None]:
        ctx = context_for(act.tls, os.environ)
        stream: AsyncStream = await act.stream.start_tls(ctx, act.tls.server_hostname, act.timeout)
        return stream, stream.alpn_protocol

    @staticmethod
    async def _trace(act: Trace) -> None:
        if act.callback is not None:
            await async_result(act.callback(act.name, act.info))
        if act.log:
            log_event(act.name, act.info)

    @staticmethod
    async def _apply(effects: Effects) -> None:
        # Closing never waits (the async backends promise it), so no cancellation can
        # land between an engine call and the closes it asked for.
        log = bool(effects.close) and debug_logging()  # (a close is rare: ask then)
        for stream in effects.close:
            if log:
                log_event("connection.close.started", {})
            await stream.aclose()
            if log:
                log_event("connection.close.complete", {})
        for ticket in effects.wake:
            ticket.set()

    @property
    def _pool(self) -> PoolView:
        """httpx's httpcore pool, read-only: ``connections``, ``_requests``, close."""
        return PoolView(self._engine, self.aclose)

    async def aclose(self) -> None:
        """Close every connection; requests in flight fail, new ones are refused."""
        await self._apply(self._engine.close())
        save_tape(self._record_path, self._recorder)
