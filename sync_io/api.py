"""Top-level `request`, `get`, `post`, ... and `stream`: one-off requests on a fresh Client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sansio._typing_lite import TYPE_CHECKING, Any
from sansio.auth import AuthTypes
from sansio.client import resolve_follow_redirects
from sansio.config import DEFAULT_TIMEOUT_CONFIG, USE_CLIENT_DEFAULT, ProxyTypes, TimeoutTypes
from sansio.cookies import CookieTypes
from sansio.headers import HeaderTypes
from sansio.models import Response
from sansio.urls import URL, QueryParamTypes

from .client import Client

if TYPE_CHECKING:  # pragma: no cover
    from sansio._types import RequestContent, RequestData, RequestFiles

__all__ = ["delete", "get", "head", "options", "patch", "post", "put", "request", "stream"]


def request(
    method: str,
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    follow_redirects: bool = False,
    verify: Any = True,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send one request on a new `Client` and return the response, body read."""
    # False is both the default and a choice here: only True can disagree with
    # allow_redirects=.
    follow = resolve_follow_redirects(follow_redirects or USE_CLIENT_DEFAULT, allow_redirects)
    with Client(
        cookies=cookies, proxy=proxy, verify=verify, timeout=timeout, trust_env=trust_env
    ) as client:
        return client.request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, auth=auth, follow_redirects=follow,
        )  # fmt: skip


@contextmanager
def stream(
    method: str,
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    follow_redirects: bool = False,
    verify: Any = True,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Iterator[Response]:
    """Send one request on a new `Client` and yield the response with its body unread."""
    # False is both the default and a choice here: only True can disagree with
    # allow_redirects=.
    follow = resolve_follow_redirects(follow_redirects or USE_CLIENT_DEFAULT, allow_redirects)
    with (
        Client(cookies=cookies, proxy=proxy, verify=verify, timeout=timeout, trust_env=trust_env)
        as client,
        client.stream(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, auth=auth, follow_redirects=follow,
        ) as response,
    ):  # fmt: skip
        yield response


def get(
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a GET request on a new `Client` (see `request`)."""
    return request(
        "GET",
        url,
        params=params,
        headers=headers,
        cookies=cookies,
        auth=auth,
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def options(
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a OPTIONS request on a new `Client` (see `request`)."""
    return request(
        "OPTIONS",
        url,
        params=params,
        headers=headers,
        cookies=cookies,
        auth=auth,
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def head(
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a HEAD request on a new `Client` (see `request`)."""
    return request(
        "HEAD",
        url,
        params=params,
        headers=headers,
        cookies=cookies,
        auth=auth,
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def post(
    url: URL | str,
    *,
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a POST request on a new `Client` (see `request`)."""
    return request(
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
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def put(
    url: URL | str,
    *,
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a PUT request on a new `Client` (see `request`)."""
    return request(
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
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def patch(
    url: URL | str,
    *,
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    verify: Any = True,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a PATCH request on a new `Client` (see `request`)."""
    return request(
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
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )


def delete(
    url: URL | str,
    *,
    params: QueryParamTypes | None = None,
    headers: HeaderTypes | None = None,
    cookies: CookieTypes | None = None,
    auth: AuthTypes | None = None,
    proxy: ProxyTypes | None = None,
    follow_redirects: bool = False,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
    verify: Any = True,
    trust_env: bool = True,
    allow_redirects: bool | None = None,
) -> Response:
    """Send a DELETE request on a new `Client` (see `request`)."""
    return request(
        "DELETE",
        url,
        params=params,
        headers=headers,
        cookies=cookies,
        auth=auth,
        proxy=proxy,
        follow_redirects=follow_redirects,
        verify=verify,
        timeout=timeout,
        trust_env=trust_env,
        allow_redirects=allow_redirects,
    )
