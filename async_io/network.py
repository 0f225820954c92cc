"""`AsyncNetworkStream`: a response's ``network_stream`` extension, httpcore's interface.

Every response carries the connection it came on: ``get_extra_info`` ("ssl_object",
"client_addr", "server_addr", "socket", "is_readable") works on any of them. After a
``101 Switching Protocols`` or a 2xx to CONNECT the engine has handed the connection
over (it left the pool, and nothing else will touch it): the stream is then the caller's,
for the protocol that follows, and reads give first the bytes that came after the head.

Rules (the WebSocket sessions rely on each):
1. `read` gives at most ``max_bytes``, the leftover bytes first, ``b""`` at the end; a
   `ReadTimeout` takes no byte and leaves the stream usable.
2. `write` writes every byte.
3. One task may read while another writes.
4. `aclose` is idempotent, never waits, and ends a read waiting in another task.
It mirrors `sync_io.network` line for line.
"""

from __future__ import annotations

import ssl

from sansio._typing_lite import Any
from sansio.exceptions import ConnectError

from .backend import AsyncStream

__all__ = ["AsyncNetworkStream"]


class AsyncNetworkStream:
    """The connection under a response (httpcore's ``NetworkStream`` interface)."""

    __slots__ = ("_leftover", "_stream")

    def __init__(self, stream: AsyncStream, leftover: bytes = b"") -> None:
        self._stream = stream
        self._leftover = leftover

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (leftover bytes first); ``b""`` at the end."""
        leftover = self._leftover
        if leftover:
            self._leftover = leftover[max_bytes:]
            return leftover[:max_bytes]
        return await self._stream.recv(max_bytes, timeout, True)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Write all of ``data``."""
        await self._stream.send_all(data, timeout, True)

    async def aclose(self) -> None:
        """Close the connection; a read waiting in another task fails."""
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """TLS over this stream (a tunnel's origin); use only the stream returned."""
        if self._leftover:
            await self.aclose()
            raise ConnectError("the peer sent data before the TLS handshake")
        stream = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return AsyncNetworkStream(stream)

    def get_extra_info(self, name: str) -> Any:
        if name == "is_readable" and self._leftover:
            return True
        return self._stream.get_extra_info(name)
