"""`AsyncTunnelStream`: the ``network_stream`` of a tunnel on an HTTP/2 stream (RFC 8441).

After a 2xx to an extended CONNECT (a request with the ``protocol`` extension, on an
HTTP/2 connection whose server allows it) the stream is the caller's, and the connection
stays in the pool for other requests. The engine moves the bytes (`sansio.engine.mux`:
`TunnelReader`, `TunnelWriter`); this stream performs their actions with its transport.

It keeps `async_io.network`'s rules 1-3 (a read's `ReadTimeout` takes no byte and leaves
the tunnel open; writes wait for the flow-control windows under the request's write
timeout). Closing ends the stream, not the connection: a reset unless both sides have
ended. A read or write under way in another task is not cut short: the last one closes
the tunnel as it returns (its timeout bounds it).
`sync_io.tunnel` and `async_io.tunnel` mirror each other line for line.
"""

from __future__ import annotations

from contextlib import nullcontext

from sansio._typing_lite import TYPE_CHECKING, Any, cast
from sansio.engine import BodyChunk, Exchange
from sansio.exceptions import WriteError

from .backend import create_lock

if TYPE_CHECKING:  # pragma: no cover
    from .transport import AsyncHTTPTransport

__all__ = ["AsyncTunnelStream"]

_OPEN, _CLOSING, _CLOSED = range(3)  # _CLOSING: the last read or write under way closes it


class AsyncTunnelStream:
    """A tunnel on one stream of a shared HTTP/2 connection (httpcore's ``NetworkStream``
    interface)."""

    __slots__ = ("_buffer", "_busy", "_ended", "_ex", "_lock", "_network", "_read_lock",
                 "_state", "_transport", "_write_lock")  # fmt: skip

    def __init__(self, transport: AsyncHTTPTransport, ex: Exchange) -> None:
        self._transport = transport
        self._ex = ex
        self._network = ex.network  # the connection's stream, for `get_extra_info`
        self._buffer = b""  # the rest of the last chunk read
        self._ended = False  # the server ended its side: reads give b""
        self._lock = nullcontext()  # the state below; no await runs under it
        # One read and one write at a time (the engine parks each under one key).
        self._read_lock = create_lock()
        self._write_lock = create_lock()
        self._busy = 0  # reads and writes under way: the last one out closes if asked to
        self._state = _OPEN

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the server ended its side (or after
        `aclose`)."""
        async with self._read_lock:
            buffer = self._buffer
            if not buffer:
                with self._lock:
                    if self._ended or self._state != _OPEN:
                        return b""
                    self._busy += 1
                try:
                    from sansio.engine.mux import TunnelReader  # loaded with HTTP/2 only

                    reader = TunnelReader(self._ex, timeout)
                    event = await self._transport._drive(cast(Exchange, reader), reader.send(None))
                finally:
                    await self._leave()
                if type(event) is not BodyChunk:
                    self._ended = True
                    return b""
                buffer = event.data
            self._buffer = buffer[max_bytes:]
            return buffer[:max_bytes]

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Write all of ``data`` (the request's write timeout bounds each wait)."""
        async with self._write_lock:
            with self._lock:
                if self._state != _OPEN:
                    raise WriteError("the tunnel is closed")
                self._busy += 1
            try:
                from sansio.engine.mux import TunnelWriter  # loaded with HTTP/2 only

                writer = TunnelWriter(self._ex, data)
                await self._transport._drive(cast(Exchange, writer), writer.send(None))
            finally:
                await self._leave()

    async def aclose(self) -> None:
        """End the tunnel (idempotent); the connection goes on serving other requests."""
        with self._lock:
            if self._state != _OPEN:
                return
            busy = self._busy
            self._state = _CLOSING if busy else _CLOSED
        if not busy:
            await self._end()

    async def _leave(self) -> None:
        with self._lock:
            self._busy -= 1
            closing = not self._busy and self._state == _CLOSING
        if closing:
            await self._end()

    async def _end(self) -> None:
        self._state = _CLOSED
        # A reset (CANCEL) unless both sides have ended: the protocol inside has closed
        # itself (a WebSocket's close handshake), and an END_STREAM crossing the server's
        # own is an error to some (hypercorn drops the whole connection).
        ex = self._ex
        await self._transport._drive(ex, ex.close())

    def get_extra_info(self, name: str) -> Any:
        if name == "is_readable":
            return bool(self._buffer)
        return self._network.get_extra_info(name)
