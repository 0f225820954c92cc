"""What `Client` and `AsyncClient` share: settings, their merge, and `build_request`.

The shells subclass `BaseClient` and add only I/O: transports, the loop that
performs `send_flow`'s actions, and closing.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Iterable, Mapping

from . import env as _env
from ._logcache import loggers
from ._typing_lite import TYPE_CHECKING, Any
from ._version import __version__
from .auth import Auth, AuthTypes, BasicAuth, FunctionAuth
from .config import (
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    USE_CLIENT_DEFAULT,
    Proxy,
    ProxyTypes,
    Timeout,
    TimeoutTypes,
    UseClientDefault,
)
from .cookies import Cookies, CookieTypes
from .decoders import DEFAULT_MAX_DECODED_SIZE, SUPPORTED_ENCODINGS
from .flow import SendOptions
from .headers import Headers, HeaderTypes
from .models import _KNOWN_METHODS, Request, Response
from .urls import QueryParamTypes

if TYPE_CHECKING:  # pragma: no cover
    import logging

    from ._types import RequestContent, RequestData, RequestExtensions, RequestFiles

from .proxy import build_proxy_map
from .urls import URL, QueryParams

__all__ = [
    "ACCEPT_ENCODING",
    "USER_AGENT",
    "BaseClient",
    "ClientState",
    "EventHook",
    "build_auth",
    "resolve_follow_redirects",
]

USER_AGENT = f"python-conch/{__version__}"
# Only what this installation can decode is advertised.
ACCEPT_ENCODING = ", ".join(SUPPORTED_ENCODINGS)

EventHook = Callable[..., Any]
_Entries = list[tuple[bytes, bytes, bytes]]
_LastHead = tuple[_Entries, str, str, "int | None", _Entries]


# The clients write one INFO line per response (each redirect hop and auth round trip
# too) on this logger, in httpx's words; `conch.alias_httpx()` makes it "httpx", so that
# logging configured for httpx applies. (The core itself never logs: the shells do.)
LOGGER_NAME = "conch"
RESPONSE_LOG_FORMAT = 'HTTP Request: %s %s "%s %d %s"'


def response_log_args(request: Request, response: Response) -> tuple[object, ...]:
    """The arguments for `RESPONSE_LOG_FORMAT`."""
    return (
        request.method,
        request.url,
        response.http_version,
        response.status_code,
        response.reason_phrase,
    )


# `logging.INFO`, without importing logging to read it.
_INFO = 20
# By LOGGER_NAME: the logger (typed Any: its ``_cache`` is not in logging's stubs) and
# whether logging's cache holds its answers (`sansio._logcache`).
_loggers: dict[str, tuple[Any, bool]] = {}


def response_logger() -> logging.Logger | None:
    """The logger the shells write the response line to, if it takes INFO records.

    Asked for every response: it reads the answer logging keeps in the logger's ``_cache``
    rather than calling `Logger.isEnabledFor`, and asks logging when it is missing, the
    logger is disabled or its class answers in its own way (`sansio._logcache`). Until
    the program imports `logging`, no logger takes INFO records.
    """
    entry = _loggers.get(LOGGER_NAME)
    if entry is None:
        group = loggers((LOGGER_NAME,))
        if group is None:
            return None
        entry = _loggers[LOGGER_NAME] = (group[0][0], group[1])
    logger, cached = entry
    if cached and not logger.disabled:
        try:
            answer: bool = logger._cache[_INFO]
        except KeyError:  # emptied by a configuration change: logging answers again
            pass
        else:
            return logger if answer else None
    return logger if logger.isEnabledFor(_INFO) else None


class ClientState(enum.Enum):
    UNOPENED = 1  # not used as a context manager yet
    OPENED = 2  # inside `with client:`
    CLOSED = 3  # closed; cannot send any more


def _default_headers() -> Headers:
    return Headers(
        {
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
            "User-Agent": USER_AGENT,
        }
    )


def build_auth(auth: AuthTypes | None) -> Auth | None:
    """Normalise the forms `auth=` accepts: None, (user, password), Auth, callable."""
    if auth is None:
        return None
    if isinstance(auth, tuple):
        if len(auth) != 2:
            raise TypeError(f"An 'auth' tuple is (username, password), got {len(auth)} items")
        return BasicAuth(username=auth[0], password=auth[1])
    if isinstance(auth, Auth):
        return auth
    if callable(auth):
        return FunctionAuth(func=auth)
    raise TypeError(f"Invalid 'auth' argument: {auth!r}")


class BaseClient:
    """Client settings and request building, shared by both shells."""

    # The shell's ``callback(name, info)`` that runs the "informational" hooks with
    # ``info["response"]`` (awaiting them, in async): `SendOptions.informational_callback`.
    _on_informational: Any = None

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
        follow_redirects: bool = False,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        event_hooks: Mapping[str, list[EventHook]] | None = None,
        base_url: URL | str = "",
        trust_env: bool = True,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
        max_decoded_size: int | None = DEFAULT_MAX_DECODED_SIZE,
        env: _env.Env | None = None,
    ) -> None:
        # The client's own world (clock, randomness, environment): the one given, else
        # the process-wide default as it is now. Clients made with different ones in
        # one process never see each other's.
        self._env = env if env is not None else _env.current()
        self.base_url = base_url
        self.auth = auth
        self.params = params or {}
        self.headers = headers or {}
        self._cookies = Cookies(cookies)  # an empty live jar (a MozillaCookieJar) is falsy
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.event_hooks = dict(event_hooks or {})
        self._trust_env = trust_env
        self._default_encoding = default_encoding
        self.max_decoded_size = max_decoded_size
        self._state = ClientState.UNOPENED
        # For `build_request`: (the client's header entries, method, host, port, the
        # complete header entries of a body-less request built from them), the last seen.
        self._last_head: _LastHead | None = None
        self._last_options: SendOptions | None = None  # `_send_options`' last answer

    @property
    def is_closed(self) -> bool:
        """True once the client has been closed."""
        return self._state is ClientState.CLOSED

    @property
    def trust_env(self) -> bool:
        return self._trust_env

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._timeout = Timeout(timeout)

    @property
    def max_redirects(self) -> int:
        """How many redirects one request may follow before `TooManyRedirects`."""
        return self._max_redirects

    @max_redirects.setter
    def max_redirects(self, max_redirects: int) -> None:
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise TypeError(f"max_redirects must be an int, got {max_redirects!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must not be negative, got {max_redirects!r}")
        self._max_redirects = max_redirects

    @property
    def event_hooks(self) -> dict[str, list[EventHook]]:
        """``{"request": [...], "response": [...]}`` (and ``"informational"`` when set:
        called with each 1xx response before the ``"response"`` hooks see the final
        one); the lists may be changed in place."""
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: Mapping[str, list[EventHook]]) -> None:
        unknown = set(event_hooks) - {"request", "response", "informational"}
        if unknown:
            raise ValueError(
                f"Unknown event hook names {sorted(unknown)!r}: use 'request', 'response' "
                "and 'informational'"
            )
        hooks: dict[str, list[EventHook]] = {}
        # "informational" (conch's own) is listed only when given: as httpx otherwise.
        names = ("request", "response", "informational")
        for name in names if "informational" in event_hooks else names[:2]:
            given: object = event_hooks.get(name, [])
            if callable(given) or not isinstance(given, Iterable) or isinstance(given, str):
                raise TypeError(f"event_hooks[{name!r}] must be a list of callables, got {given!r}")
            listed = list(given)
            for hook in listed:
                if not callable(hook):
                    raise TypeError(f"event_hooks[{name!r}] holds {hook!r}, which is not callable")
            hooks[name] = listed
        self._event_hooks = hooks

    @property
    def auth(self) -> Auth | None:
        """The auth used when a request passes none."""
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._auth = build_auth(auth)

    @property
    def base_url(self) -> URL:
        """The URL relative request URLs are joined to (always ends with "/")."""
        return self._base_url

    @base_url.setter
    def base_url(self, url: URL | str) -> None:
        url = URL(url)
        if not url.raw_path.endswith(b"/"):
            url = url.copy_with(raw_path=url.raw_path + b"/")
        self._base_url = url

    @property
    def headers(self) -> Headers:
        """Headers sent with every request (defaults included)."""
        return self._headers

    @headers.setter
    def headers(self, headers: HeaderTypes) -> None:
        merged = _default_headers()
        merged.update(headers)
        self._headers = merged

    @property
    def cookies(self) -> Cookies:
        """The client's cookie jar: sent when they match, updated by every response."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._cookies = Cookies(cookies)

    @property
    def params(self) -> QueryParams:
        """Query parameters added to every request URL."""
        return self._params

    @params.setter
    def params(self, params: QueryParamTypes) -> None:
        self._params = QueryParams(params)

    def build_request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Request:
        """A `Request` with the client's base URL, params, headers and cookies merged in."""
        merged_url = self._merge_url(url)
        if params or self._params._dict:  # (its dict: no __bool__ call per request)
            # Merged into the URL's own query here, as httpx's Request does with params=.
            merged_url = merged_url.copy_merge_params(self._params.merge(params))
        # Request copies the headers it is given: the client's own go as they are.
        merged_headers = self._headers
        if headers is not None:
            merged_headers = merged_headers.copy()
            merged_headers.update(headers)
        # The jar itself is handed over (Request only reads it), never copied per request.
        merged_cookies: object = None
        jar = self._cookies.jar
        if cookies:
            merged = Cookies(self._cookies)
            merged.update(cookies)
            merged_cookies = merged.jar
        elif jar._all if jar._mirror is None else jar:
            # Without a mirrored stdlib jar its cookies are all in its dict (no __len__
            # call per request); with one, __len__ takes in what was set through it.
            merged_cookies = jar
        ext = dict(extensions) if extensions else {}
        if "timeout" not in ext:
            chosen = self._timeout if isinstance(timeout, UseClientDefault) else Timeout(timeout)
            # (Read at each request: a Timeout is mutable in place.)
            ext["timeout"] = chosen.as_dict()
        if (
            merged_cookies is None
            and headers is None
            and content is None
            and data is None
            and files is None
            and json is None
            and type(method) is str
            and (known := _KNOWN_METHODS.get(method)) is not None
        ):
            # The usual request: no body, the client's headers alone. Its complete header
            # list is the last one's when the client's headers (compared by value: they
            # may be changed in place), the method and the host and port are the same.
            source = self._headers._list
            last = self._last_head
            if (
                last is not None
                and last[0] == source
                and last[1] is known
                and last[2] == merged_url._host
                and last[3] == merged_url._port
            ):
                fields = Headers._from_full_items(last[4].copy())
                return Request._without_body(known, merged_url, fields, ext)
            request = Request(known, merged_url, headers=self._headers, extensions=ext)
            self._last_head = (
                source.copy(),
                known,
                merged_url._host,
                merged_url._port,
                request.headers._list.copy(),
            )
            return request
        return Request(
            method,
            merged_url,
            content=content,
            data=data,
            files=files,
            json=json,
            headers=merged_headers,
            cookies=merged_cookies,
            extensions=ext,
            env=self._env,
        )

    def _proxy_routes(
        self,
        proxy: ProxyTypes | None,
        proxies: ProxyTypes | Mapping[str, ProxyTypes | None] | None,
        *,
        transport_given: bool,
    ) -> list[tuple[str, Proxy | None]]:
        """Mount patterns and the proxy each one takes (None: go direct).

        From ``proxy=``, the older ``proxies=`` mapping, or the environment
        (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) when ``trust_env`` and no
        transport was given, as httpx does.
        """
        table = build_proxy_map(
            proxy,
            proxies,
            environ=self._env.environ,
            trust_env=self._trust_env and not transport_given,
        )
        return [(pattern.pattern, value) for pattern, value in table.items()]

    def _merge_url(self, url: URL | str) -> URL:
        merge = URL(url)
        # A URL with a scheme is absolute even without a host ("file:///etc/hosts"); one
        # without is relative, whatever its host.
        if not merge._scheme:
            # Relative URLs are appended to the base URL's path, never resolved
            # per RFC 3986 (which would drop the base's last segment).
            raw_path = self._base_url.raw_path + merge.raw_path.lstrip(b"/")
            return self._base_url.copy_with(raw_path=raw_path)
        return merge

    @staticmethod
    def _warn_per_request_cookies() -> None:
        """Called by `request` when it is given cookies: httpx deprecates them (whether
        they persist is ambiguous); suites that turn warnings into errors expect it."""
        warnings.warn(
            "Setting per-request cookies=<...> is being deprecated, because the expected "
            "behaviour on cookie persistence is ambiguous. Set cookies directly on the "
            "client instance instead.",
            DeprecationWarning,
            stacklevel=3,
        )

    def _send_options(
        self,
        request: Request,
        *,
        stream: bool,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
    ) -> SendOptions:
        if self._state is ClientState.CLOSED:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        chosen_auth = self._auth if isinstance(auth, UseClientDefault) else build_auth(auth)
        url = request.url
        # `userinfo` first: one look at the raw URL part instead of unescaping two.
        if chosen_auth is None and url._userinfo and (url.username or url.password):
            chosen_auth = BasicAuth(url.username, url.password)
        follow = (
            self.follow_redirects
            if isinstance(follow_redirects, UseClientDefault)
            else follow_redirects
        )
        hooks = self._event_hooks
        request_hooks = tuple(hooks["request"])
        response_hooks = tuple(hooks["response"])
        informational = tuple(hooks.get("informational", ()))
        # Options are only read once made: the last send's serve again while everything
        # they hold is the same (compared here, as the hook lists and the settings may
        # have been changed in place or assigned since).
        last = self._last_options
        if (
            last is not None
            and last.auth is chosen_auth
            and last.follow_redirects is follow
            and last.stream is stream
            and last.request_hooks == request_hooks
            and last.response_hooks == response_hooks
            and last.informational_hooks == informational
            and last.max_redirects == self._max_redirects
            and last.cookies is self._cookies
            and last.default_encoding is self._default_encoding
            and last.max_decoded_size == self.max_decoded_size
        ):
            return last
        options = self._last_options = SendOptions(
            auth=chosen_auth,
            follow_redirects=follow,
            max_redirects=self._max_redirects,
            cookies=self._cookies,
            stream=stream,
            request_hooks=request_hooks,
            response_hooks=response_hooks,
            informational_hooks=informational,
            informational_callback=self._on_informational if informational else None,
            default_encoding=self._default_encoding,
            max_decoded_size=self.max_decoded_size,
            env=self._env,
        )
        return options


def resolve_follow_redirects(
    follow_redirects: bool | UseClientDefault, allow_redirects: bool | None
) -> bool | UseClientDefault:
    """Accept requests' `allow_redirects=` as an alias of `follow_redirects=`."""
    if allow_redirects is None:
        return follow_redirects
    if not isinstance(follow_redirects, UseClientDefault) and follow_redirects != allow_redirects:
        raise TypeError(
            "follow_redirects= and allow_redirects= disagree; pass only follow_redirects="
        )
    return allow_redirects
