"""`PoolView`: httpcore's ``ConnectionPool``, as far as users and test suites read it.

httpx's transports keep an httpcore pool in ``_pool``; code written for httpx reads its
``connections`` and ``_requests`` and calls ``close()``. Both HTTP transports answer the
same from their engine. Rules: read-only (a snapshot on every access, nothing kept),
and closing is the transport's own close, handed in by the shell.
"""

from __future__ import annotations

from collections.abc import Callable

from sansio._typing_lite import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sansio.models import Request
    from sansio.pool import PooledConnection

    from .engine import Engine

__all__ = ["PoolView"]


class PoolView:
    """A transport's pool, read like httpcore's (``transport._pool``)."""

    __slots__ = ("_engine", "aclose", "close")

    def __init__(self, engine: Engine, close: Callable[[], Any]) -> None:
        self._engine = engine
        # httpcore's sync pool has close(), its async one aclose(): the transport's.
        self.close = self.aclose = close

    @property
    def connections(self) -> list[PooledConnection]:
        """The pool's connections (connecting, active or idle), oldest first."""
        return self._engine.connections()

    @property
    def _requests(self) -> list[Request]:
        """The requests not yet finished: waiting for a connection, being sent, or with
        a response not yet closed."""
        return self._engine.requests()

    def __repr__(self) -> str:
        stats = self._engine.statistics()
        return (
            f"<ConnectionPool [Requests: {len(self._requests)}, "
            f"Connections: {stats.connections} ({stats.active} active, {stats.idle} idle)]>"
        )
