"""Redirect policy: the next request for a 3xx response, and what it must not carry.

Rules (RFC 9110 §15.4, and what browsers, requests and httpx do):

* 301 and 302 turn POST into GET; 303 turns everything but HEAD into GET. A
  request turned into GET loses its body and the headers describing it.
* 307 and 308 keep the method and body (a replayable body is re-sent; a
  one-shot generator fails with `StreamConsumed`).
* Credentials (Authorization, Proxy-Authorization and a user-supplied Cookie
  header) are removed, every copy in any case, whenever the redirect leaves the
  host, changes the port, or goes from https to http. The one exception is an
  upgrade from http to https on the same host with default ports, which keeps
  them, as requests and httpx do.
* The Cookie header is always recomputed from the client's jar for the new URL.
* Only http and https targets are followed: a Location pointing at another
  scheme (file:, data:, ...) is refused rather than handed to another transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import InvalidURL, RemoteProtocolError, UnsupportedProtocol
from .headers import Headers
from .status import codes
from .urls import URL

if TYPE_CHECKING:  # pragma: no cover
    from .cookies import Cookies
    from .models import Request, Response

__all__ = ["build_redirect_request", "redirect_method", "redirect_url", "strips_credentials"]

_FOLLOWABLE_SCHEMES = frozenset({"http", "https"})
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_BODY_HEADERS = ("content-length", "transfer-encoding", "content-type", "content-encoding")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def redirect_method(method: str, status_code: int) -> str:
    """The method of the request that follows a redirect with `status_code`."""
    if status_code == codes.SEE_OTHER and method != "HEAD":
        return "GET"
    if status_code == codes.FOUND and method != "HEAD":
        # Browsers turn every 302 into a GET, whatever the RFC once said.
        return "GET"
    if status_code == codes.MOVED_PERMANENTLY and method == "POST":
        return "GET"
    return method


def redirect_url(request: Request, response: Response) -> URL:
    """The absolute URL a redirect response points at, or a clear error."""
    location = response.headers["Location"]
    try:
        url = URL(location)
    except InvalidURL as exc:
        raise RemoteProtocolError(
            f"Invalid URL in the Location header of a redirect: {exc}", request=request
        ) from None
    if url.scheme and not url.host:
        # "https:/path" and the like: absolute in form, but with no host.
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if url.scheme not in _FOLLOWABLE_SCHEMES:
        raise UnsupportedProtocol(
            f"Refusing to follow a redirect to {url.scheme!r} URL {str(url)!r}: "
            "only http and https redirects are followed",
            request=request,
        )
    if request.url.fragment and not url.fragment:
        # RFC 9110 §10.2.2: the original fragment carries over.
        url = url.copy_with(fragment=request.url.fragment)
    return url


def _effective_port(url: URL) -> int | None:
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)


def strips_credentials(old: URL, new: URL) -> bool:
    """Whether a redirect from `old` to `new` must drop credentials."""
    if old.host != new.host:
        return True
    if old.scheme == new.scheme:
        return _effective_port(old) != _effective_port(new)
    if old.scheme == "http" and new.scheme == "https":
        # An upgrade to TLS on the same host keeps credentials, but only between
        # default ports (requests' rule): any other port may be another service.
        return not (old.port is None and new.port is None)
    return True


def build_redirect_request(request: Request, response: Response, cookies: Cookies) -> Request:
    """The request that follows `response`, a redirect of `request`."""
    from .models import Request

    url = redirect_url(request, response)
    method = redirect_method(request.method, response.status_code)
    headers = Headers(request.headers)
    if strips_credentials(request.url, url):
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
    else:
        headers.pop("cookie", None)
    if request.url.netloc != url.netloc:
        headers.pop("host", None)
    stream = request.stream
    if method != request.method and method == "GET":
        for name in _BODY_HEADERS:
            headers.pop(name, None)
        stream = None
    return Request(
        method,
        url,
        headers=headers,
        cookies=cookies,
        stream=stream,
        extensions=request.extensions,
    )
