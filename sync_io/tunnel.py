"""`TunnelStream`: the ``network_stream`` of a tunnel on an HTTP/2 stream (RFC 8441).

After a 2xx to an extended CONNECT (a request with the ``protocol`` extension, on an
HTTP/2 connection whose server allows it) the stream is the caller's, and the connection
stays in the pool for other requests. The engine moves the bytes (`sansio.engine.mux`:
`TunnelReader`, `TunnelWriter`); this stream performs their actions with its transport.

It keeps `sync_io.network`'s rules 1-3 (a read's `ReadTimeout` takes no byte and leaves
the tunnel open; writes wait for the flow-control windows under the request's write
timeout). Closing ends the stream, not the connection: a reset unless both sides have
ended. A read under way in another thread is not cut short: it closes the tunnel when
it returns (its timeout bounds it).
`sync_io.tunnel` and `async_io.tunnel` mirror each other line for line.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from sansio.engine import BodyChunk, Exchange
from sansio.engine.mux import TunnelReader, TunnelWriter
from sansio.exceptions import WriteError

if TYPE_CHECKING:  # pragma: no cover
    from .transport import HTTPTransport

__all__ = ["TunnelStream"]

_OPEN, _CLOSING, _CLOSED = range(3)  # _CLOSING: the read under way closes it


class TunnelStream:
    """A tunnel on one stream of a shared HTTP/2 connection (httpcore's ``NetworkStream``
    interface)."""

    __slots__ = ("_buffer", "_ended", "_ex", "_lock", "_network", "_reading", "_state",
                 "_transport")  # fmt: skip

    def __init__(self, transport: HTTPTransport, ex: Exchange) -> None:
        self._transport = transport
        self._ex = ex
        self._network = ex.network  # the connection's stream, for `get_extra_info`
        self._buffer = b""  # the rest of the last chunk read
        self._ended = False  # the server ended its side: reads give b""
        self._lock = threading.Lock()  # the state below; never held during I/O
        self._reading = False
        self._state = _OPEN

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the server ended its side (or after
        `close`)."""
        buffer = self._buffer
        if not buffer:
            with self._lock:
                if self._ended or self._state != _OPEN:
                    return b""
                self._reading = True
            try:
                reader = TunnelReader(self._ex, timeout)
                event = self._transport._drive(cast(Exchange, reader), reader.send(None))
            finally:
                with self._lock:
                    self._reading = False
                    closing = self._state == _CLOSING
                if closing:
                    self._end()
            if type(event) is not BodyChunk:
                self._ended = True
                return b""
            buffer = event.data
        self._buffer = buffer[max_bytes:]
        return buffer[:max_bytes]

    def write(self, data: bytes, timeout: float | None = None) -> None:
        """Write all of ``data`` (the request's write timeout bounds each wait)."""
        if self._state != _OPEN:
            raise WriteError("the tunnel is closed")
        writer = TunnelWriter(self._ex, data)
        self._transport._drive(cast(Exchange, writer), writer.send(None))

    def close(self) -> None:
        """End the tunnel (idempotent); the connection goes on serving other requests."""
        with self._lock:
            if self._state != _OPEN:
                return
            reading = self._reading
            self._state = _CLOSING if reading else _CLOSED
        if not reading:
            self._end()

    def _end(self) -> None:
        self._state = _CLOSED
        # A reset (CANCEL) unless both sides have ended: the protocol inside has closed
        # itself (a WebSocket's close handshake), and an END_STREAM crossing the server's
        # own is an error to some (hypercorn drops the whole connection).
        ex = self._ex
        self._transport._drive(ex, ex.close())

    def get_extra_info(self, name: str) -> Any:
        if name == "is_readable":
            return bool(self._buffer)
        return self._network.get_extra_info(name)
