"""One `send()`, decided here: auth challenges, redirects, cookies and hooks.

Theory of operation. `send_flow` is a generator. It yields an action from
`sansio.actions`; the shell performs it and sends back the result (or throws
in the exception it raised). Every decision (which request comes next, which
headers a redirect keeps, when a body is read, drained or closed) is taken
here, so `Client.send` and `AsyncClient.send` are the same short loop, one
blocking and one awaiting, and every rule is testable with scripted responses.

Rules kept by the generator:

* A response handed out by the shell is either returned to the caller or
  closed (by `CloseResponse` or `DrainResponse`), on every path, including an
  exception thrown in by the shell (a timeout, a cancellation). The one
  exception is `GeneratorExit` (``flow.close()``): a closing generator cannot
  yield, so whoever closes the flow closes what it holds.
* Cookies are extracted from every response, intermediate redirects included.
* Hooks run for every request and response, auth and redirect hops included.
* A redirect that is followed has its body drained raw (never decoded) and
  closed; one that is not followed is returned with ``next_request`` set.
* Redirect hops and auth rounds share one history; more than ``max_redirects``
  earlier responses stop the chain with `TooManyRedirects`.
* A total timeout (``extensions["timeout"]["total"]``, ``Timeout(total=...)``) starts
  one `sansio.deadline.Deadline` when the send starts, on the client's clock
  (`Env.clock`; the deadline keeps that clock and is measured on it wherever it goes,
  whatever clock the transport's engine keeps). Every request of the send
  carries it in ``extensions[DEADLINE_EXTENSION]`` while it is sent, and only then (the
  same `Request` sent again starts a new one), so the engine bounds each wait by what
  is left, the body of a non-streamed response included.
* Each 1xx response reaches the ``"informational"`` hooks once, before the response
  hooks: as it arrives, through the request's ``informational`` extension (set while
  the request is sent, unless it carries its own) when the transport is conch's, or
  after the final head for the 1xx heads no transport handed out (a mock, ASGI, WSGI).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

from ._typing_lite import TYPE_CHECKING, Any
from .actions import (
    Action,
    CallHooks,
    CloseResponse,
    DrainResponse,
    ReadRequest,
    ReadResponse,
    SendRequest,
    StartUserAuth,
    StepUserAuth,
)
from .auth import Auth
from .content import ONE_SHOT_KINDS
from .deadline import DEADLINE_EXTENSION, Deadline
from .decoders import DEFAULT_MAX_DECODED_SIZE
from .env import Env
from .env import current as current_env
from .exceptions import RemoteProtocolError, RequestError, StreamConsumed, TooManyRedirects
from .redirects import build_redirect_request, strips_credentials, supplied_cookie_pairs
from .wire import INFORMATIONAL_EXTENSION

if TYPE_CHECKING:  # pragma: no cover
    from .cookies import Cookies
    from .models import Request, Response

__all__ = [
    "DEFAULT_REDIRECT_DRAIN_LIMIT",
    "Flow",
    "Hook",
    "SendOptions",
    "send_flow",
    "uses_user_auth_flow",
]

# A redirect's body is read raw up to this many bytes so that its connection can
# be reused; a longer one is not worth reading and the connection is closed.
# (urllib3 drains redirect bodies likewise before reusing a connection; 64 KiB is
# one read of httpx's and urllib3's default size.)
DEFAULT_REDIRECT_DRAIN_LIMIT = 64 * 1024

Hook = Callable[[Any], Any]
Flow = Generator[Action, Any, "Response"]


class SendOptions:
    """Everything one `send()` needs besides the request, merged by the client.

    Built for each request and only read after that. A plain slotted class, not a frozen
    dataclass: that one's ``__init__`` (an ``object.__setattr__`` per field) cost more
    than the rest of the client's per-request bookkeeping.
    """

    __slots__ = (
        "auth",
        "cookies",
        "default_encoding",
        "env",
        "follow_redirects",
        "informational_callback",
        "informational_hooks",
        "max_decoded_size",
        "max_redirects",
        "redirect_drain_limit",
        "request_hooks",
        "response_hooks",
        "stream",
    )

    def __init__(
        self,
        *,
        auth: Auth | None,
        follow_redirects: bool,
        max_redirects: int,
        cookies: Cookies,
        stream: bool = False,
        request_hooks: Sequence[Hook] = (),
        response_hooks: Sequence[Hook] = (),
        informational_hooks: Sequence[Hook] = (),
        informational_callback: Any = None,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
        max_decoded_size: int | None = DEFAULT_MAX_DECODED_SIZE,  # None: no limit
        redirect_drain_limit: int = DEFAULT_REDIRECT_DRAIN_LIMIT,
        env: Env | None = None,
    ) -> None:
        self.auth = auth
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.cookies = cookies
        self.stream = stream
        self.request_hooks = request_hooks
        self.response_hooks = response_hooks
        self.informational_hooks = informational_hooks
        # The shell's ``callback(name, info)`` that runs those hooks (awaits them, in
        # async): sent as the request's ``informational`` extension, so that conch's
        # transports call it with each 1xx as it arrives.
        self.informational_callback = informational_callback
        self.default_encoding = default_encoding
        self.max_decoded_size = max_decoded_size
        self.redirect_drain_limit = redirect_drain_limit
        # The client's world (wall clock for cookies, randomness for Digest); None: the
        # process-wide default of `sansio.env`.
        self.env = env


def uses_user_auth_flow(auth: Auth) -> bool:
    """Whether `auth` overrides `sync_auth_flow`/`async_auth_flow` (the shell runs those)."""
    cls = type(auth)
    return (
        cls.sync_auth_flow is not Auth.sync_auth_flow
        or cls.async_auth_flow is not Auth.async_auth_flow
    )


def send_flow(request: Request, options: SendOptions) -> Flow:
    """Send `request`, following auth challenges and redirects as `options` say.

    Returns (as the generator's value) the final response, read unless
    ``options.stream`` is set.
    """
    auth = options.auth
    if auth is None:
        # The common case is the redirect loop alone, final read included: one
        # generator for the shell to resume, not one delegating to another.
        return _send_following_redirects(request, options, [], None, read=not options.stream)
    return _send_authenticated(request, auth, options)


def _send_authenticated(request: Request, auth: Auth, options: SendOptions) -> Flow:
    history: list[Response] = []
    deadline = Deadline.of(request.extensions, (options.env or current_env()).clock)
    if uses_user_auth_flow(auth):
        response = yield from _send_with_user_auth(request, auth, options, history, deadline)
    else:
        response = yield from _send_with_auth(request, auth, options, history, deadline)
    if not options.stream:
        try:
            yield ReadResponse(response=response)
        except BaseException as exc:
            yield from _close_on_error(response, exc)
            raise
    return response


def _close_on_error(response: Response, exc: BaseException) -> Generator[Action, Any, None]:
    # A generator being closed cannot yield; the shell then closes what it holds.
    if not isinstance(exc, GeneratorExit):
        yield CloseResponse(response=response)


def _send_with_auth(
    request: Request,
    auth: Auth,
    options: SendOptions,
    history: list[Response],
    deadline: Deadline,
) -> Flow:
    if auth.requires_request_body:
        yield ReadRequest(request=request)
    challenge = auth._auth_flow(request, options.env or current_env())
    try:
        try:
            request = next(challenge)
        except StopIteration:
            raise RuntimeError(
                f"{type(auth).__name__}.auth_flow() must yield at least one request"
            ) from None
        while True:
            response = yield from _send_following_redirects(request, options, history, deadline)
            try:
                if auth.requires_response_body:
                    yield ReadResponse(response=response)
                try:
                    request = challenge.send(response)
                except StopIteration:
                    return response
                response.history = list(history)
                yield ReadResponse(response=response)
            except BaseException as exc:
                yield from _close_on_error(response, exc)
                raise
            history.append(response)
    finally:
        challenge.close()


def _send_with_user_auth(
    request: Request,
    auth: Auth,
    options: SendOptions,
    history: list[Response],
    deadline: Deadline,
) -> Flow:
    request = yield StartUserAuth(auth=auth, request=request)
    while True:
        response = yield from _send_following_redirects(request, options, history, deadline)
        try:
            next_request: Request | None = yield StepUserAuth(response=response)
            if next_request is None:
                return response
            response.history = list(history)
            yield ReadResponse(response=response)
        except BaseException as exc:
            yield from _close_on_error(response, exc)
            raise
        history.append(response)
        request = next_request


def _send_following_redirects(
    request: Request,
    options: SendOptions,
    history: list[Response],
    deadline: Deadline | None,
    *,
    read: bool = False,
) -> Flow:
    # `history` holds the auth rounds before this one: they count towards
    # max_redirects. (As in httpx, the auth loop then sets a round's final
    # response's history to the auth rounds alone.) `deadline` is the send's, or
    # None when this loop is the whole send (it starts it); `read`: read the final
    # response's body before returning it.
    if deadline is None:
        deadline = Deadline.of(request.extensions, (options.env or current_env()).clock)
    hops: list[Response] = list(history)
    # The caller's own Cookie pairs, found at the first redirect (before that
    # response's cookies reach the jar); () once credentials have been stripped.
    supplied: tuple[str, ...] | None = None
    cookies = options.cookies
    clock = (options.env or current_env()).wall_clock
    while True:
        if len(hops) > options.max_redirects:
            raise TooManyRedirects(
                f"Exceeded the maximum of {options.max_redirects} redirects", request=request
            )
        stream = request.stream
        if isinstance(stream, ONE_SHOT_KINDS) and stream.is_consumed:  # `is_consumed`, inline
            # A redirect or an auth retry needs a one-shot body again: refuse before
            # a request head goes out that could never be followed by its body.
            raise StreamConsumed()
        if options.request_hooks:
            yield CallHooks(hooks=options.request_hooks, argument=request)
        extensions = request.extensions
        carried = deadline.at is not None and DEADLINE_EXTENSION not in extensions
        if carried:
            extensions[DEADLINE_EXTENSION] = deadline
        # (A request that carries its own callback keeps it: the hooks then run below.)
        live = (
            options.informational_callback is not None and INFORMATIONAL_EXTENSION not in extensions
        )
        if live:
            extensions[INFORMATIONAL_EXTENSION] = options.informational_callback
        try:
            response: Response = yield SendRequest(request=request)
        except RequestError as exc:
            # As httpx: a transport's error names the request it was sending.
            if exc._request is None:
                exc.request = request
            raise
        finally:
            if carried:
                # The transport has it: the request is left as it came (a redirect built
                # from it, or the same request sent again, must not inherit it).
                del extensions[DEADLINE_EXTENSION]
            if live:
                del extensions[INFORMATIONAL_EXTENSION]
        try:
            # Transports need not attach the request (httpx's do not). (The attribute
            # behind the `request` property: no setter call per response.)
            response._request = request
            # Any 3xx, not just one with a Location: an int test, no header scan.
            if supplied is None and 300 <= response.status_code <= 399:
                supplied = supplied_cookie_pairs(request, cookies, now=clock())
            if response.headers._raw_values(b"set-cookie"):  # (the name as stored: no str work)
                cookies.extract_cookies(response, now=clock())
            response.default_encoding = options.default_encoding
            response.max_decoded_size = options.max_decoded_size
            if options.informational_hooks:
                # Each 1xx once: those conch's transport handed to the callback as they
                # came are done; any other transport's (a mock, ASGI) are called here.
                skip = response._informational_delivered if live else 0
                for interim in response.informational[skip:]:
                    yield CallHooks(hooks=options.informational_hooks, argument=interim)
            if options.response_hooks:
                yield CallHooks(hooks=options.response_hooks, argument=response)
            response.history = list(hops)
            # (Only a 3xx can redirect: the usual answer skips the header scan.)
            follow = 300 <= response.status_code <= 399 and response.has_redirect_location
            if follow and not options.follow_redirects:
                response.next_request = _next_request(request, response, options, supplied)
                follow = False
            if not follow:
                if read:
                    yield ReadResponse(response=response)
                return response
            next_request = build_redirect_request(
                request, response, cookies, supplied_cookies=supplied or (), now=clock()
            )
            yield DrainResponse(response=response, limit=options.redirect_drain_limit)
        except BaseException as exc:
            yield from _close_on_error(response, exc)
            raise
        if supplied and strips_credentials(request.url, next_request.url):
            supplied = ()
        hops.append(response)
        request = next_request


def _next_request(
    request: Request, response: Response, options: SendOptions, supplied: tuple[str, ...] | None
) -> Request | None:
    # A redirect that is not followed is the caller's to inspect: any scheme is
    # fine (an OAuth "myapp://callback"), and an unparseable Location leaves
    # next_request unset rather than failing the whole request.
    try:
        return build_redirect_request(
            request,
            response,
            options.cookies,
            supplied_cookies=supplied or (),
            followable_only=False,
            now=(options.env or current_env()).wall_clock(),
        )
    except RemoteProtocolError:
        return None
