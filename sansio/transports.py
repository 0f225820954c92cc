"""Transport interfaces: what a client sends requests through.

A transport takes a `Request` and returns a `Response` whose body is still
streaming. These are the extension points of httpx's API (`BaseTransport`,
`AsyncBaseTransport`); conch's own transports live in the shells.
"""

from __future__ import annotations

from types import TracebackType

from ._typing_lite import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from .models import Request, Response

    # For type checkers only: a TypeVar bound by name compiles a ForwardRef at run time,
    # and the first compile of a process costs ~1 ms of `import conch`.
    T = TypeVar("T", bound="BaseTransport")
    A = TypeVar("A", bound="AsyncBaseTransport")

__all__ = ["AsyncBaseTransport", "BaseTransport"]


class BaseTransport:
    """A blocking transport: implement `handle_request` (and `close` if it holds resources)."""

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()

    def handle_request(self, request: Request) -> Response:
        """Send `request` and return its response, body unread (a `SyncByteStream`)."""
        raise NotImplementedError("The 'handle_request' method must be implemented.")

    def close(self) -> None:
        """Release any resources (connections) the transport holds."""


class AsyncBaseTransport:
    """An async transport: implement `handle_async_request` (and `aclose`)."""

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def handle_async_request(self, request: Request) -> Response:
        """Send `request` and return its response, body unread (an `AsyncByteStream`)."""
        raise NotImplementedError("The 'handle_async_request' method must be implemented.")

    async def aclose(self) -> None:
        """Release any resources (connections) the transport holds."""
