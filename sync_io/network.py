"""`NetworkStream`: a response's ``network_stream`` extension, httpcore's interface.

Every response carries the connection it came on: ``get_extra_info`` ("ssl_object",
"client_addr", "server_addr", "socket", "is_readable") works on any of them. After a
``101 Switching Protocols`` or a 2xx to CONNECT the engine has handed the connection
over (it left the pool, and nothing else will touch it): the stream is then the caller's,
for the protocol that follows, and reads give first the bytes that came after the head.

Rules (the WebSocket sessions rely on each):
1. `read` gives at most ``max_bytes``, the leftover bytes first, ``b""`` at the end; a
   `ReadTimeout` takes no byte and leaves the stream usable.
2. `write` writes every byte.
3. One thread may read while another writes (each socket call is serialised, as for an
   HTTP/2 connection: see `sync_io.backend`).
4. `close` is idempotent and ends a read blocked in another thread.
"""

from __future__ import annotations

import contextlib
import socket
import ssl

from sansio._typing_lite import Any
from sansio.exceptions import ConnectError

from .backend import SyncStream

__all__ = ["NetworkStream"]


class NetworkStream:
    """The connection under a response (httpcore's ``NetworkStream`` interface)."""

    __slots__ = ("_leftover", "_stream")

    def __init__(self, stream: SyncStream, leftover: bytes = b"") -> None:
        self._stream = stream
        self._leftover = leftover

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (leftover bytes first); ``b""`` at the end."""
        leftover = self._leftover
        if leftover:
            self._leftover = leftover[max_bytes:]
            return leftover[:max_bytes]
        return self._stream.recv(max_bytes, timeout, True)

    def write(self, data: bytes, timeout: float | None = None) -> None:
        """Write all of ``data``."""
        self._stream.send_all(data, timeout, True)

    def close(self) -> None:
        """Close the connection; a read blocked in another thread returns (or fails)."""
        sock = self._stream.get_extra_info("socket")
        if sock is not None:
            # close() alone does not wake a thread blocked on the descriptor: shutdown does.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """TLS over this stream (a tunnel's origin); use only the stream returned."""
        if self._leftover:
            self.close()
            raise ConnectError("the peer sent data before the TLS handshake")
        stream = self._stream.start_tls(ssl_context, server_hostname, timeout)
        return NetworkStream(stream)

    def get_extra_info(self, name: str) -> Any:
        if name == "is_readable" and self._leftover:
            return True
        return self._stream.get_extra_info(name)
