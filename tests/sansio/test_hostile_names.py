"""Properties of the parsers a hostile peer feeds names to: Set-Cookie and Location.

Random and mutated values, and random hosts, go through the cookie jar and the
redirect decision. They must never raise anything but conch's exceptions, must keep
the names rules (what is stored for a host, what URL accepts as a host), and must stay
linear: the work a value costs, counted deterministically (profiler events, not the
clock), grows like its length, and a 100 KB value is processed whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sansio.cookies import Cookie, CookieJar, Cookies, is_public_suffix
from sansio.exceptions import InvalidURL, RemoteProtocolError, UnsupportedProtocol
from sansio.headers import Headers
from sansio.models import Request, Response
from sansio.redirects import build_redirect_request
from sansio.urls import URL, canonical_host
from tests.work import profiler_events

NOW = 1_000_000.0
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------------

_NAMES = [
    "example.com", "www.example.com", "a.www.example.com", "EXAMPLE.com", "example.com.",
    "www.example.com.", "com", "com.", "co.uk", "evil.co.uk", "evil.co.uk.", "github.io",
    "testserver", "testserver.local", "testserver.", "local", "localhost", "127.0.0.1",
    "0x7f.1", "127.1", "1.2.3.4.", "::1", "[::1]", "0:0::1", "::ffff:1.2.3.4", "fe80::1%eth0",
    "fa\u00df.de", "fass.de", "xn--fa-hia.de", "xn--zz", "\u03c3\u03bf\u03c6\u03bf\u03c2.gr",
    "a..b", ".", "..", "", "a" * 64, "a" * 63, "\u2603.com", "\u200d", "\u00e9" * 70,
    "[", "]", " ", "\x00", "exa mple.com", "example.com:80", "\uff0e", "\u3002com",
]  # fmt: skip
_PIECES = [
    ".", "..", ":", "[", "]", "%", "%25", "@", "/", "\\", "xn--", "\u00df", "\u200c", "\u200d",
    "\u00e9", "\u03c2", "0x", "1", "255", "-", "_", "a", "Z", " ", "\t", "\x00", "\x7f", "\ud800",
    "\uff0e", "local", "com", "co.uk",
]  # fmt: skip

HOSTS = st.one_of(
    st.sampled_from(_NAMES),
    st.lists(st.sampled_from(_PIECES) | st.sampled_from(_NAMES), max_size=6).map("".join),
    st.text(max_size=20),
)


@st.composite
def mutated(draw: st.DrawFn, bases: list[str]) -> str:
    """One of ``bases`` with random pieces inserted, replaced or cut out."""
    text = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "cut", "replace"]))
        piece = draw(st.sampled_from(_PIECES) | st.text(max_size=3))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 5)) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


_ATTRIBUTES = st.one_of(
    HOSTS.map(lambda host: f"Domain={host}"),
    HOSTS.map(lambda host: f"domain=.{host}"),
    st.sampled_from(["Path=/", "Path=/app", "Path=", "path=x", "Path=/a/b/"]),
    st.sampled_from(["Secure", "HttpOnly", "SameSite=Lax", "SameSite=bogus", "Max-Age=0"]),
    st.sampled_from(["Max-Age=60", "Max-Age=-1", "Max-Age=99999999999999999999", "Max-Age=x"]),
    st.sampled_from(["Expires=Wed, 09 Jun 2100 10:18:14 GMT", "Expires=0", "Expires=Jan 1"]),
    st.text(max_size=12),
)
SET_COOKIES = st.one_of(
    st.builds(
        lambda name, value, attributes, separator: separator.join([f"{name}={value}", *attributes]),
        st.sampled_from(["sid", "a", "__Host-a", "__Secure-a", "", " sid "]) | st.text(max_size=5),
        st.text(max_size=8),
        st.lists(_ATTRIBUTES, max_size=5),
        st.sampled_from(["; ", ";", " ; ", ";;"]),
    ),
    mutated(["sid=1; Domain=example.com; Path=/; Secure", "a=b; Domain=.co.uk.; Max-Age=60"]),
    st.text(max_size=40),
)
SCHEMES = st.sampled_from(["http", "https", "ws", "wss", "HTTPS", "ftp", ""])
PATHS = st.sampled_from(["/", "/app", "/app/x", "", "x", "/a/b/c"]) | st.text(max_size=8)


def _stored_domain_is_allowed(cookie: Cookie, host: str) -> bool:
    """What a response from ``host`` (canonical) may store: RFC 6265 §5.3 steps 4-6."""
    if cookie.host_only:
        return cookie.domain == host
    domain = cookie.domain[1:]
    if domain.endswith(".") is not host.endswith("."):
        return False
    if is_public_suffix(domain.removesuffix(".")) or ":" in host or host[-1:].isdigit():
        return False  # IP hosts get host-only cookies
    dotless = "." not in host
    return (
        host == domain
        or host.endswith("." + domain)
        or (dotless and bool(host) and domain == host + ".local")
    )


# -- Set-Cookie ----------------------------------------------------------------------------


@PROPERTY
@given(SCHEMES, HOSTS, PATHS, st.lists(SET_COOKIES, max_size=4), HOSTS, PATHS)
def test_the_jar_takes_any_set_cookie_from_any_host_and_keeps_the_names_rules(
    scheme: str, host: str, path: str, values: list[str], other: str, other_path: str
) -> None:
    jar = CookieJar()
    jar.extract(values, scheme=scheme, host=host, path=path, now=NOW)  # never raises
    try:
        canonical: str | None = canonical_host(host)
    except InvalidURL:
        canonical = None
    if not canonical:
        assert len(jar) == 0  # a host URL refuses (or none at all) gets nothing
    for cookie in jar:
        assert canonical
        assert _stored_domain_is_allowed(cookie, canonical), (cookie, canonical)
        if scheme.lower() not in ("https", "wss"):
            assert not cookie.secure
    for target, target_path in ((host, path), (other, other_path)):
        for target_scheme in ("http", "https"):
            value = jar.header_for(scheme=target_scheme, host=target, path=target_path, now=NOW)
            assert value is None or isinstance(value, str)


_RELATED = ["www.example.com", "example.com", "a.www.example.com", "www.example.com."]


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["http", "ws"]),
            st.sampled_from(_RELATED) | HOSTS,
            PATHS,
            st.lists(SET_COOKIES.map(lambda v: "sid=" + v.partition("=")[2]), max_size=3),
        ),
        max_size=4,
    ),
    PATHS,
)
def test_plain_http_never_gets_a_cookie_sent_before_a_secure_one_of_its_name(
    responses: list[tuple[str, str, str, list[str]]], path: str
) -> None:
    jar = CookieJar()
    jar.extract(
        ["sid=good; Secure; Path=/"], scheme="https", host="www.example.com", path="/", now=NOW
    )
    for scheme, host, request_path, values in responses:
        jar.extract(values, scheme=scheme, host=host, path=request_path, now=NOW)
    value = jar.header_for(scheme="https", host="www.example.com", path=path, now=NOW)
    assert value is not None
    sids = [pair for pair in value.split("; ") if pair.partition("=")[0] == "sid"]
    assert sids == ["sid=good"]


@PROPERTY
@given(
    st.sampled_from(["http://example.com/a", "https://[::1]:8443/"])
    | HOSTS.map(lambda host: f"http://{host}/"),
    st.lists(SET_COOKIES, max_size=4),
)
def test_cookies_from_a_response_for_any_url_round_trip(url: str, values: list[str]) -> None:
    try:
        request = Request("GET", url)
    except InvalidURL:
        return  # no request, no response
    headers = [(b"Set-Cookie", _wire(value)) for value in values if _header_safe(value)]
    response = Response(200, headers=Headers._from_validated(headers), request=request)
    cookies = Cookies()
    cookies.extract_cookies(response, now=NOW)
    follow_up = Request("GET", url)
    cookies.set_cookie_header(follow_up, now=NOW)
    for cookie in cookies.jar:
        assert _stored_domain_is_allowed(cookie, request.url.raw_host.decode("ascii"))
    if len(cookies.jar):
        assert "cookie" in follow_up.headers or all(c.secure or c.path != "/" for c in cookies.jar)


def _header_safe(value: str | bytes) -> bool:
    """Values that can arrive in a received header at all (the parser refuses CR, LF and
    NUL; it passes other controls on, so these are built as the wire machine builds them)."""
    data = _wire(value)
    return not any(byte in data for byte in b"\r\n\x00")


def _wire(value: str | bytes) -> bytes:
    """A value as it would arrive: bytes (a lone surrogate becomes its UTF-8 bytes)."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


# -- Location ------------------------------------------------------------------------------

_LOCATIONS = [
    "http://a..b/", "https://example.com/x", "//other.example/y", "/local?q#f", "../up",
    "http://[::1]:8080/", "http://[0:0::1%25eth0]/", "https://fa\u00df.de/", "http://testserver/",
    "https:/path", "http:path", "ftp://example.com/", "http://" + "a" * 64 + ".com/",
    "http://example.com.:80/", "http://u:p@example.com/", "?only", "#frag", "",
]  # fmt: skip
LOCATIONS = st.one_of(
    mutated(_LOCATIONS),
    HOSTS.map(lambda host: f"http://{host}/path"),
    HOSTS.map(lambda host: f"//{host}"),
    st.text(max_size=30),
    st.binary(max_size=30),
    mutated(_LOCATIONS).map(lambda text: text.encode("utf-8", "surrogatepass")[:-1]),
)
_STARTS = [
    "https://example.com/a/b?q=1#f",
    "http://[::1]:8080/",
    "http://testserver/",
    "https://fa\u00df.de/x",
    "http://example.com./",
]


@PROPERTY
@given(st.sampled_from(_STARTS), LOCATIONS, st.sampled_from([301, 302, 303, 307, 308]))
def test_any_location_ends_in_a_request_dns_can_carry_or_a_conch_error(
    start: str, location: str | bytes, status: int
) -> None:
    if not _header_safe(location):
        return  # such a value never arrives as a header
    request = Request("POST", start, content=b"x", headers={"Authorization": "Basic x"})
    received = Headers._from_validated([(b"Location", _wire(location))])
    response = Response(status, headers=received, request=request)
    cookies = Cookies()
    cookies.set("every", "host")
    try:
        following = build_redirect_request(request, response, cookies)
    except (RemoteProtocolError, UnsupportedProtocol) as exc:
        error: RemoteProtocolError | UnsupportedProtocol = exc
    else:
        _check_followed(following.url)
        return
    assert error.request is request


def _check_followed(url: URL) -> None:
    assert url.scheme in ("http", "https")
    assert url.host
    # What socket and ssl will do with the host (the resolver's idna codec) must work.
    url.raw_host.decode("ascii").encode("idna")
    assert URL(str(url)) == url


@PROPERTY
@given(HOSTS)
def test_every_host_url_accepts_is_one_the_resolver_can_encode(host: str) -> None:
    try:
        url = URL(f"http://{host}/")
    except InvalidURL:
        return
    url.raw_host.decode("ascii").encode("idna")
    assert canonical_host(url.host) == url.raw_host.decode("ascii")
    assert canonical_host(url.raw_host.decode("ascii")) == url.raw_host.decode("ascii")


# -- linear work ---------------------------------------------------------------------------


def _extract(value: str, host: str = "www.example.com") -> Callable[[], None]:
    def run() -> None:
        CookieJar().extract([value], scheme="https", host=host, path="/", now=NOW)

    return run


def _redirect(location: str) -> Callable[[], None]:
    def run() -> None:
        request = Request("GET", "https://example.com/a/b")
        response = Response(302, headers={"Location": location}, request=request)
        with contextlib.suppress(RemoteProtocolError):
            build_redirect_request(request, response, Cookies())

    return run


_HOSTILE: list[tuple[str, Callable[[int], Callable[[], None]]]] = [
    ("long value", lambda n: _extract("a=" + "b" * n)),
    ("long name", lambda n: _extract("a" * n + "=b")),
    ("many attributes", lambda n: _extract("a=b" + ";" * n)),
    ("many Domain labels", lambda n: _extract("a=b; Domain=" + "a." * (n // 2))),
    ("Unicode Domain", lambda n: _extract("a=b; Domain=" + "\u00e9" * n)),
    ("date tokens", lambda n: _extract("a=b; Expires=" + "1 " * (n // 2))),
    ("long Path", lambda n: _extract("a=b; Path=/" + "a/" * (n // 2))),
    ("control characters", lambda n: _extract("a=b" + "\x01" * n)),
    ("long host", lambda n: _extract("a=b", host="a." * (n // 2))),
    ("Unicode host", lambda n: _extract("a=b", host="\u00e9" * n)),
    ("dot segments", lambda n: _redirect("/" + "../" * (n // 3))),
    ("many labels", lambda n: _redirect("http://" + "a." * (n // 2) + "/")),
    ("percent signs", lambda n: _redirect("/" + "%" * n)),
    ("query pairs", lambda n: _redirect("/?" + "a=&" * (n // 3))),
    ("IPv6 groups", lambda n: _redirect("http://[" + "1:" * (n // 2) + "]/")),
    ("Unicode host Location", lambda n: _redirect("http://" + "\u00e9" * n + "/")),
]


@pytest.mark.parametrize(("name", "build"), _HOSTILE, ids=[name for name, _ in _HOSTILE])
def test_hostile_values_cost_work_in_proportion_to_their_length(
    name: str, build: Callable[[int], Callable[[], None]]
) -> None:
    build(100)()  # imports and caches first, so they are not counted
    small = profiler_events(build(5_000))
    large = profiler_events(build(50_000))
    # Ten times the input may cost ten times the work (plus slack), never a hundred.
    assert large <= 15 * small + 1_000, (name, small, large)


def test_a_100_kb_set_cookie_value_is_processed_whole() -> None:
    jar = CookieJar(max_cookie_size=200_000)
    value = "v" * 100_000
    jar.extract(
        [f"a={value}; Path=/" + "; x" * 1000], scheme="https", host="example.com", path="/", now=NOW
    )
    assert jar.header_for(scheme="https", host="example.com", path="/", now=NOW) == f"a={value}"
    # At the default limit the same value is ignored, not truncated.
    jar = CookieJar()
    jar.extract([f"a={value}"], scheme="https", host="example.com", path="/", now=NOW)
    assert len(jar) == 0
