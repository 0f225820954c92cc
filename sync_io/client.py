"""`Client`: the blocking client. It performs what `sansio.flow` decides."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType

from sansio._typing_lite import TYPE_CHECKING, Any, TypeVar
from sansio.actions import (
    CallHooks,
    CloseResponse,
    DrainResponse,
    ReadRequest,
    ReadResponse,
    SendRequest,
    StartUserAuth,
    StepUserAuth,
)
from sansio.auth import AuthTypes
from sansio.client import (
    RESPONSE_LOG_FORMAT,
    BaseClient,
    ClientState,
    EventHook,
    resolve_follow_redirects,
    response_log_args,
    response_logger,
)
from sansio.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    USE_CLIENT_DEFAULT,
    Limits,
    Proxy,
    ProxyTypes,
    TimeoutTypes,
    UseClientDefault,
)
from sansio.cookies import CookieTypes
from sansio.decoders import DEFAULT_MAX_DECODED_SIZE
from sansio.flow import send_flow
from sansio.headers import HeaderTypes
from sansio.models import Request, Response
from sansio.mounts import MountTable
from sansio.streams import SyncByteStream
from sansio.transports import BaseTransport
from sansio.urls import URL, QueryParamTypes

from .transport import HTTPTransport

if TYPE_CHECKING:  # a policy loads sansio.retry; an int does not
    from sansio._types import (
        CertTypes,
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
    )
    from sansio.retry import Retry

    # For type checkers only: bound by name, it would compile a ForwardRef at run time.
    C = TypeVar("C", bound="Client")

__all__ = ["Client"]


class Client(BaseClient):
    """A blocking HTTP client with connection pooling, as `httpx.Client`.

    Safe to share between threads.
    """

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        verify: Any = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        proxy: ProxyTypes | None = None,
        mounts: Mapping[str, BaseTransport | None] | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
        follow_redirects: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        event_hooks: Mapping[str, list[EventHook]] | None = None,
        base_url: URL | str = "",
        transport: BaseTransport | None = None,
        default_encoding: Any = "utf-8",
        max_decoded_size: int | None = DEFAULT_MAX_DECODED_SIZE,
        proxies: ProxyTypes | Mapping[str, ProxyTypes | None] | None = None,
        retries: int | Retry = 0,
    ) -> None:
        super().__init__(
            auth=auth,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            event_hooks=event_hooks,
            base_url=base_url,
            trust_env=trust_env,
            default_encoding=default_encoding,
            max_decoded_size=max_decoded_size,
        )

        def make_transport(route: Proxy | None = None) -> HTTPTransport:
            return HTTPTransport(
                verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
                limits=limits, proxy=route, retries=retries,
            )  # fmt: skip

        self._transport = transport or make_transport()
        proxy_mounts = [
            (pattern, None if route is None else make_transport(route))
            for pattern, route in self._proxy_routes(
                proxy, proxies, transport_given=transport is not None
            )
        ]
        # The user's own mounts come first: for the same pattern they win.
        self._mounts: MountTable[BaseTransport | None] = MountTable(
            [*(mounts or {}).items(), *proxy_mounts]
        )
        # (A table never changes once made: without patterns, no lookup per request.)
        self._mounted = bool(self._mounts)

    def _transport_for_url(self, url: URL) -> BaseTransport:
        # Kept as the one place a request's transport is chosen: mocking libraries patch it.
        if not self._mounted:
            return self._transport
        return self._mounts.lookup(url, None) or self._transport

    def request(
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
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Build and send a request; the response body is read before returning."""
        if cookies is not None:
            self._warn_per_request_cookies()
        request = self.build_request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, timeout=timeout, extensions=extensions,
        )  # fmt: skip
        # (The verbs resolve allow_redirects= before calling: they pass None.)
        follow = (
            follow_redirects
            if allow_redirects is None
            else resolve_follow_redirects(follow_redirects, allow_redirects)
        )
        return self.send(request, auth=auth, follow_redirects=follow)

    @contextmanager
    def stream(
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
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Iterator[Response]:
        """Send a request and yield the response with its body unread; close it after."""
        request = self.build_request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, timeout=timeout, extensions=extensions,
        )  # fmt: skip
        follow = resolve_follow_redirects(follow_redirects, allow_redirects)
        response = self.send(request, auth=auth, follow_redirects=follow, stream=True)
        try:
            yield response
        finally:
            response.close()

    def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send `request`, handling auth, redirects, cookies and hooks as configured."""
        options = self._send_options(
            request, stream=stream, auth=auth, follow_redirects=follow_redirects
        )
        flow = send_flow(request, options)
        user_auth: list[Generator[Request, Response, None]] = []
        result: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    action = flow.send(result) if error is None else flow.throw(error)
                except StopIteration as done:
                    final: Response = done.value
                    return final
                # Performed here rather than in a method: one frame less per action. (A
                # chain of `type(action) is` tests: a `match` on class patterns cost
                # ~0.3 µs more per action.)
                try:
                    if type(action) is SendRequest:
                        request = action.request
                        if not isinstance(request.stream, SyncByteStream):
                            raise RuntimeError(
                                "Attempted to send an async request with a sync Client instance."
                            )
                        start = time.perf_counter()
                        response = self._transport_for_url(request.url).handle_request(request)
                        if (logger := response_logger()) is not None:
                            logger.info(RESPONSE_LOG_FORMAT, *response_log_args(request, response))
                        assert isinstance(response.stream, SyncByteStream)
                        response._time_until_closed(time.perf_counter, start)
                        result = response
                    elif type(action) is ReadResponse:
                        result = action.response.read()
                    elif type(action) is DrainResponse:
                        action.response.drain(action.limit)
                        result = None
                    elif type(action) is CloseResponse:
                        action.response.close()
                        result = None
                    elif type(action) is ReadRequest:
                        result = action.request.read()
                    elif type(action) is CallHooks:
                        argument = action.argument
                        for hook in action.hooks:
                            hook(argument)
                        result = None
                    elif type(action) is StartUserAuth:
                        user_auth.append(action.auth.sync_auth_flow(action.request))
                        result = next(user_auth[-1])
                    elif type(action) is StepUserAuth:
                        try:
                            result = user_auth[-1].send(action.response)
                        except StopIteration:
                            result = None
                    error = None
                except BaseException as exc:  # the core decides what to close, then re-raises
                    result, error = None, exc
        finally:
            for generator in user_auth:
                generator.close()

    def _on_informational(self, name: str, info: dict[str, Any]) -> None:
        """The ``informational`` extension's callback: the hooks see a 1xx as it comes."""
        for hook in self._event_hooks["informational"]:
            hook(info["response"])

    def get(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a GET request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "GET",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def options(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a OPTIONS request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "OPTIONS",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def head(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a HEAD request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "HEAD",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def post(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a POST request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "POST",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def put(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a PUT request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "PUT",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def patch(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a PATCH request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "PATCH",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def delete(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        allow_redirects: bool | None = None,
    ) -> Response:
        """Send a DELETE request (see `request`)."""
        if allow_redirects is not None:  # (requests' alias: resolved only when given)
            follow_redirects = resolve_follow_redirects(follow_redirects, allow_redirects)
        return self.request(
            "DELETE",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    def close(self) -> None:
        """Close every transport and its connections; the client cannot be used after."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        self._transport.close()
        for transport in self._mounts.values():
            if transport is not None:
                transport.close()

    def __enter__(self: C) -> C:
        if self._state is not ClientState.UNOPENED:
            raise RuntimeError(
                "Cannot reopen a client instance, once it has been closed."
                if self._state is ClientState.CLOSED
                else "Cannot open a client instance more than once."
            )
        self._state = ClientState.OPENED
        self._transport.__enter__()
        for transport in self._mounts.values():
            if transport is not None:
                transport.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        # As httpx: the transports' own exits run (a mock router may check its routes
        # there), not only their close().
        self._state = ClientState.CLOSED
        self._transport.__exit__(exc_type, exc_value, traceback)
        for transport in self._mounts.values():
            if transport is not None:
                transport.__exit__(exc_type, exc_value, traceback)
