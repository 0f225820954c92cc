"""What a client flow asks a shell to do.

`sansio.flow.send_flow` is a generator: it yields one of these actions, the
shell performs it (blocking in `sync_io`, awaiting in `async_io`) and sends the
result back in. Each action says what its result is. Actions are plain frozen
values, so a test can script a whole exchange without any I/O.

They are built with keywords only; ``__match_args__`` keeps the shells'
positional ``case SendRequest(request):`` patterns short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .auth import Auth
    from .models import Request, Response

__all__ = [
    "Action",
    "CallHooks",
    "CloseResponse",
    "DrainResponse",
    "ReadRequest",
    "ReadResponse",
    "SendRequest",
    "StartUserAuth",
    "StepUserAuth",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """Send `request` on the transport chosen for its URL. Result: the `Response`,
    its head read and its body still streaming."""

    __match_args__ = ("request",)

    request: Request


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadResponse:
    """Read the whole body of `response` (``read()`` or ``aread()``). Result: None."""

    __match_args__ = ("response",)

    response: Response


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainResponse:
    """Throw away the body of `response` (a redirect's), reading at most `limit` raw
    bytes without decoding them, then close it. Result: None."""

    __match_args__ = ("response", "limit")

    response: Response
    limit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseResponse:
    """Close `response` without reading the rest of it. Result: None."""

    __match_args__ = ("response",)

    response: Response


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadRequest:
    """Read the whole body of `request` into memory (an auth scheme needs it). Result: None."""

    __match_args__ = ("request",)

    request: Request


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHooks:
    """Call each hook with `argument`, in order (awaiting coroutines in async shells).
    Result: None."""

    __match_args__ = ("hooks", "argument")

    hooks: Sequence[Callable[[Any], Any]]
    argument: Request | Response


@dataclass(frozen=True, slots=True, kw_only=True)
class StartUserAuth:
    """Start the user's own ``sync_auth_flow``/``async_auth_flow`` of `auth` for
    `request`. Result: the first `Request` it yields."""

    __match_args__ = ("auth", "request")

    auth: Auth
    request: Request


@dataclass(frozen=True, slots=True, kw_only=True)
class StepUserAuth:
    """Send `response` into the user auth flow started by `StartUserAuth`.
    Result: the next `Request`, or None once the flow has finished."""

    __match_args__ = ("response",)

    response: Response


Action = (
    SendRequest
    | ReadResponse
    | DrainResponse
    | CloseResponse
    | ReadRequest
    | CallHooks
    | StartUserAuth
    | StepUserAuth
)
