"""`Conn`: what the engine knows of one open connection."""

from __future__ import annotations

from sansio._typing_lite import TYPE_CHECKING, Any

from .actions import Read, ReadReady

if TYPE_CHECKING:  # pragma: no cover
    from sansio.wire import WireConnection

    from .exchange import Exchange

__all__ = ["Conn"]


class Conn:
    """An open connection: its id in the pool, the interpreter's stream, its wire machine,
    and for a multiplexed one (``shared``) who reads, who writes and who waits."""

    __slots__ = (
        "conn_id",
        "keys",
        "read",
        "read_ready",
        "read_timeout",
        "reader",
        "shared",
        "stream",
        "waiters",
        "wire",
        "write_waiters",
        "writer",
        "written",
    )

    def __init__(self, conn_id: int, stream: Any, wire: WireConnection) -> None:
        self.conn_id = conn_id
        self.stream = stream
        self.wire = wire
        self.shared = wire.max_streams > 1
        self.read_ready = ReadReady(stream, self.shared)
        # The last Read built for this connection, reused while requests share a timeout.
        self.read_timeout: float | None = None
        self.read = Read(stream, None, self.shared)
        # HTTP/2 only (see `sansio.engine.mux`): the exchange reading for every stream,
        # the one writing (``written``: it has taken the bytes), and tickets of
        # exchanges waiting for their stream (by stream id) or for the writer.
        self.reader: Exchange | None = None
        self.writer: Exchange | None = None
        self.written = False
        self.waiters: dict[int, Any] = {}
        self.write_waiters: list[Any] = []
        # Waiters parked under negative keys so far (tunnel writers, SETTINGS waiters):
        # while none has, a read looks for none (see `sansio.engine.mux`).
        self.keys = 0

    def read_for(self, timeout: float | None) -> Read:
        """The Read action for this connection with ``timeout`` (built once per timeout)."""
        if timeout != self.read_timeout:
            self.read_timeout = timeout
            self.read = Read(self.stream, timeout, self.shared)
        return self.read
