"""Redirect policy: the next request for a 3xx response, and what it must not carry.

Rules (RFC 9110 §15.4, and what browsers, requests and httpx do):

* 301 and 302 turn POST into GET; 303 turns everything but HEAD into GET. A
  request turned into GET loses its body and the headers describing it.
* 307 and 308 keep the method and body (a replayable body is re-sent; a
  one-shot generator fails with `StreamConsumed` when the transport reads it).
* Credentials (Authorization, Proxy-Authorization and a user-supplied Cookie
  header) are removed, every copy in any case, whenever the redirect leaves the
  host, changes the port, or goes from https to http. The one exception is an
  upgrade from http to https on the same host with default ports, which keeps
  them, as requests and httpx do. Once removed they stay removed for the rest
  of the chain.
* The Cookie header is always recomputed from the client's jar for the new URL.
  Where credentials are kept, the cookies the caller supplied in a Cookie header
  of their own come first and win over jar cookies of the same name.
* Only http and https targets are followed: a Location pointing at another
  scheme (file:, data:, ...) is refused rather than handed to another transport.
* A Location that does not parse as a URL is the server's fault:
  `RemoteProtocolError`. That includes a host DNS cannot carry (``a..b``, a label
  over 63 characters, a name over 253), which `URL` refuses before any connection.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import env as _env
from ._typing_lite import TYPE_CHECKING
from .exceptions import InvalidURL, RemoteProtocolError, UnsupportedProtocol
from .models import Request
from .urls import URL

if TYPE_CHECKING:  # pragma: no cover
    from .cookies import Cookies
    from .models import Response
    from .streams import AsyncByteStream, SyncByteStream

__all__ = [
    "build_redirect_request",
    "redirect_method",
    "redirect_url",
    "strips_credentials",
    "supplied_cookie_pairs",
]

_FOLLOWABLE_SCHEMES = frozenset({"http", "https"})
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")
_BODY_HEADERS = ("content-length", "transfer-encoding", "content-type", "content-encoding")


def redirect_method(method: str, status_code: int) -> str:
    """The method of the request that follows a redirect with `status_code`."""
    if status_code == 303 and method != "HEAD":  # See Other
        return "GET"
    if status_code == 302 and method != "HEAD":  # Found
        # Browsers turn every 302 into a GET, whatever the RFC once said.
        return "GET"
    if status_code == 301 and method == "POST":  # Moved Permanently
        return "GET"
    return method


def redirect_url(request: Request, response: Response, *, followable_only: bool = True) -> URL:
    """The absolute URL a redirect response points at.

    `RemoteProtocolError` when the Location is not a valid URL; `UnsupportedProtocol`
    when it is not http(s) and `followable_only` is set.
    """
    location = response.headers["Location"]
    try:
        url = URL(location)
        if url.scheme and url.scheme not in _FOLLOWABLE_SCHEMES:
            if followable_only:
                raise UnsupportedProtocol(
                    f"Refusing to follow a redirect to {url.scheme!r} URL {location!r}: "
                    "only http and https redirects are followed",
                    request=request,
                )
            return url
        if url.scheme and not url.host:
            # "https:/path" and the like: absolute in form, but with no host.
            url = url.copy_with(host=request.url.host)
        if url.is_relative_url:
            url = request.url.join(url)
            if not url.host:  # "//user@" and the like: a network path with no host
                raise InvalidURL("no host")
        if request.url.fragment and not url.fragment:
            # RFC 9110 §10.2.2: the original fragment carries over.
            url = url.copy_with(fragment=request.url.fragment)
    except InvalidURL as exc:
        raise RemoteProtocolError(
            f"Invalid URL in the Location header of a redirect: {exc}", request=request
        ) from None
    return url


def strips_credentials(old: URL, new: URL) -> bool:
    """Whether a redirect from `old` to `new` must drop credentials."""
    if old.host != new.host:
        return True
    if old.scheme == new.scheme:
        # `origin` fills in the scheme's default port.
        return old.origin[2] != new.origin[2]
    if old.scheme == "http" and new.scheme == "https":
        # An upgrade to TLS on the same host keeps credentials, but only between
        # default ports (requests' rule): any other port may be another service.
        # (URL normalises a default port to None.)
        return not (old.port is None and new.port is None)
    return True


def _cookie_pairs(value: str) -> list[str]:
    return [pair for part in value.split(";") if (pair := part.strip())]


def _cookie_name(pair: str) -> str:
    return pair.partition("=")[0].strip()


def _jar_cookie(cookies: Cookies, url: URL, now: float | None) -> str | None:
    if not cookies.jar:
        return None
    if now is None:
        now = _env.current().wall_clock()
    return cookies.jar.header_for(scheme=url.scheme, host=url.host, path=url.path, now=now)


def supplied_cookie_pairs(
    request: Request, cookies: Cookies, *, now: float | None = None
) -> tuple[str, ...]:
    """The ``name=value`` pairs of `request`'s Cookie header that the jar did not produce.

    Call it before the response's cookies are stored: it compares the header with
    what the jar holds for the request's URL (at ``now``, wall-clock seconds; by
    default `sansio.env`'s).
    """
    values = request.headers.get_list("cookie")
    if not values:
        return ()
    pairs = [pair for value in values for pair in _cookie_pairs(value)]
    generated = _jar_cookie(cookies, request.url, now)
    if generated:
        from_jar = set(_cookie_pairs(generated))
        pairs = [pair for pair in pairs if pair not in from_jar]
    return tuple(pairs)


def build_redirect_request(
    request: Request,
    response: Response,
    cookies: Cookies,
    *,
    supplied_cookies: Sequence[str] = (),
    followable_only: bool = True,
    now: float | None = None,
) -> Request:
    """The request that follows `response`, a redirect of `request`.

    `supplied_cookies` are the caller's own Cookie pairs (see `supplied_cookie_pairs`),
    kept wherever credentials are kept; the jar's cookies for the new URL follow them,
    as they are at ``now`` (wall-clock seconds; by default `sansio.env`'s). With
    `followable_only` unset a Location of any scheme is accepted (for ``next_request``
    when redirects are not followed).
    """
    url = redirect_url(request, response, followable_only=followable_only)
    method = redirect_method(request.method, response.status_code)
    headers = request.headers.copy()
    strip = strips_credentials(request.url, url)
    if strip:
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
    headers.pop("cookie", None)
    if url.netloc != request.url.netloc and url.host and "host" in headers:
        headers["Host"] = url.netloc.decode("ascii")
    stream: SyncByteStream | AsyncByteStream | None = request.stream
    if method != request.method and method == "GET":
        for name in _BODY_HEADERS:
            headers.pop(name, None)
        stream = None
    # The jar's Cookie header for the new URL (at ``now``), after the caller's own pairs.
    generated = _jar_cookie(cookies, url, now)
    if supplied_cookies and not strip:
        names = {_cookie_name(pair) for pair in supplied_cookies}
        pairs = list(supplied_cookies)
        if generated:
            pairs += [p for p in _cookie_pairs(generated) if _cookie_name(p) not in names]
        headers["Cookie"] = "; ".join(pairs)
    elif generated:
        headers["Cookie"] = generated
    return Request(method, url, headers=headers, stream=stream, extensions=request.extensions)
