"""What a client flow asks a shell to do.

`sansio.flow.send_flow` is a generator: it yields one of these actions, the
shell performs it (blocking in `sync_io`, awaiting in `async_io`) and sends the
result back in. Each action says what its result is. Actions are plain frozen
values, so a test can script a whole exchange without any I/O.

They are built with keywords only; ``__match_args__`` keeps a driver's positional
``case SendRequest(request):`` patterns short. (conch's own shells test
``type(action) is SendRequest``: on every request, that costs less than a ``match``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._frozen import Frozen, set_field, slot_setters
from ._typing_lite import TYPE_CHECKING, Any

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


class SendRequest(Frozen, kw_only=True):
    """Send `request` on the transport chosen for its URL. Result: the `Response`,
    its head read and its body still streaming."""

    __slots__ = ("request",)
    __match_args__ = ("request",)

    request: Request

    def __init__(self, *, request: Request) -> None:
        _set_send_request(self, request)


class ReadResponse(Frozen, kw_only=True):
    """Read the whole body of `response` (``read()`` or ``aread()``). Result: None."""

    __slots__ = ("response",)
    __match_args__ = ("response",)

    response: Response

    def __init__(self, *, response: Response) -> None:
        _set_read_response(self, response)


# (Both made for every request: fields set through their slots, see `slot_setters`.)
(_set_send_request,) = slot_setters(SendRequest, "request")
(_set_read_response,) = slot_setters(ReadResponse, "response")


class DrainResponse(Frozen, kw_only=True):
    """Throw away the body of `response` (a redirect's), reading at most `limit` raw
    bytes without decoding them, then close it. Result: None."""

    __slots__ = ("limit", "response")
    __match_args__ = ("response", "limit")

    response: Response
    limit: int

    def __init__(self, *, response: Response, limit: int) -> None:
        set_field(self, "response", response)
        set_field(self, "limit", limit)


class CloseResponse(Frozen, kw_only=True):
    """Close `response` without reading the rest of it. Result: None."""

    __slots__ = ("response",)
    __match_args__ = ("response",)

    response: Response

    def __init__(self, *, response: Response) -> None:
        set_field(self, "response", response)


class ReadRequest(Frozen, kw_only=True):
    """Read the whole body of `request` into memory (an auth scheme needs it). Result: None."""

    __slots__ = ("request",)
    __match_args__ = ("request",)

    request: Request

    def __init__(self, *, request: Request) -> None:
        set_field(self, "request", request)


class CallHooks(Frozen, kw_only=True):
    """Call each hook with `argument`, in order (awaiting coroutines in async shells).
    Result: None."""

    __slots__ = ("argument", "hooks")
    __match_args__ = ("hooks", "argument")

    hooks: Sequence[Callable[[Any], Any]]
    argument: Request | Response

    def __init__(
        self, *, hooks: Sequence[Callable[[Any], Any]], argument: Request | Response
    ) -> None:
        set_field(self, "hooks", hooks)
        set_field(self, "argument", argument)


class StartUserAuth(Frozen, kw_only=True):
    """Start the user's own ``sync_auth_flow``/``async_auth_flow`` of `auth` for
    `request`. Result: the first `Request` it yields."""

    __slots__ = ("auth", "request")
    __match_args__ = ("auth", "request")

    auth: Auth
    request: Request

    def __init__(self, *, auth: Auth, request: Request) -> None:
        set_field(self, "auth", auth)
        set_field(self, "request", request)


class StepUserAuth(Frozen, kw_only=True):
    """Send `response` into the user auth flow started by `StartUserAuth`.
    Result: the next `Request`, or None once the flow has finished."""

    __slots__ = ("response",)
    __match_args__ = ("response",)

    response: Response

    def __init__(self, *, response: Response) -> None:
        set_field(self, "response", response)


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
