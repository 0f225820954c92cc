"""Redirect policy: methods, bodies, target URLs, and which credentials survive a hop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio.cookies import Cookies
from sansio.exceptions import RemoteProtocolError, StreamConsumed, UnsupportedProtocol
from sansio.headers import Headers
from sansio.models import Request, Response
from sansio.redirects import (
    build_redirect_request,
    redirect_method,
    redirect_url,
    strips_credentials,
    supplied_cookie_pairs,
)
from sansio.streams import SyncByteStream
from sansio.urls import URL


def hop(
    request: Request,
    location: str,
    status: int = 302,
    cookies: Cookies | None = None,
    supplied: tuple[str, ...] = (),
) -> Request:
    response = Response(status, headers={"Location": location}, request=request)
    return build_redirect_request(
        request, response, cookies or Cookies(), supplied_cookies=supplied
    )


# -- methods and bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (301, "POST", "GET"),
        (301, "PUT", "PUT"),
        (301, "GET", "GET"),
        (301, "HEAD", "HEAD"),
        (302, "POST", "GET"),
        (302, "PUT", "GET"),
        (302, "DELETE", "GET"),
        (302, "HEAD", "HEAD"),
        (303, "POST", "GET"),
        (303, "PATCH", "GET"),
        (303, "HEAD", "HEAD"),
        (307, "POST", "POST"),
        (307, "HEAD", "HEAD"),
        (308, "PUT", "PUT"),
        (308, "POST", "POST"),
    ],
)
def test_redirect_method(status: int, method: str, expected: str) -> None:
    assert redirect_method(method, status) == expected


@pytest.mark.parametrize("status", [301, 302, 303])
def test_post_turned_into_get_drops_the_body_and_its_headers(status: int) -> None:
    request = Request(
        "POST",
        "https://example.com/form",
        data={"a": "1"},
        headers={"Content-Encoding": "identity", "X-Keep": "yes"},
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    following = hop(request, "/done", status)
    assert following.method == "GET"
    assert following.content == b""
    for name in ("content-length", "content-type", "transfer-encoding", "content-encoding"):
        assert name not in following.headers
    assert following.headers["x-keep"] == "yes"
    assert following.headers["host"] == "example.com"


def test_chunked_post_turned_into_get_drops_transfer_encoding() -> None:
    request = Request("POST", "https://example.com/", content=iter([b"a", b"b"]))
    assert request.headers["transfer-encoding"] == "chunked"
    following = hop(request, "/", 303)
    assert "transfer-encoding" not in following.headers
    assert following.content == b""


@pytest.mark.parametrize("status", [302, 303])
def test_head_stays_head(status: int) -> None:
    following = hop(Request("HEAD", "https://example.com/"), "/x", status)
    assert following.method == "HEAD"


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_keep_method_and_body(status: int) -> None:
    request = Request("POST", "https://example.com/", content=b"payload")
    following = hop(request, "/elsewhere", status)
    assert following.method == "POST"
    assert following.stream is request.stream
    assert following.headers["content-length"] == "7"
    assert isinstance(following.stream, SyncByteStream)
    assert b"".join(following.stream) == b"payload"


def test_a_one_shot_body_kept_by_a_307_cannot_be_sent_twice() -> None:
    def body() -> Iterator[bytes]:
        yield b"once"

    request = Request("POST", "https://example.com/", content=body())
    assert isinstance(request.stream, SyncByteStream)
    assert b"".join(request.stream) == b"once"  # the first send
    following = hop(request, "/again", 307)
    assert isinstance(following.stream, SyncByteStream)
    with pytest.raises(StreamConsumed):
        b"".join(following.stream)


def test_extensions_carry_over() -> None:
    request = Request("GET", "https://example.com/", extensions={"timeout": {"read": 1}})
    assert hop(request, "/x").extensions == {"timeout": {"read": 1}}


# -- target URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "location", "expected"),
    [
        ("https://example.com/a/b", "/c", "https://example.com/c"),
        ("https://example.com/a/b", "c", "https://example.com/a/c"),
        ("https://example.com/a/b", "../c?x=1", "https://example.com/c?x=1"),
        ("https://example.com/a", "?q=2", "https://example.com/a?q=2"),
        ("https://example.com/a", "//other.example/p", "https://other.example/p"),
        ("http://example.com/a", "//other.example/p", "http://other.example/p"),
        ("https://example.com/a", "https:/path", "https://example.com/path"),
        ("https://example.com/a", "http://other.example:8080/", "http://other.example:8080/"),
        ("https://example.com/a#frag", "/b", "https://example.com/b#frag"),
        ("https://example.com/a#frag", "/b#own", "https://example.com/b#own"),
        ("https://example.com/a#frag", "https://other.example/", "https://other.example/#frag"),
        ("https://example.com/a", "HTTPS://Other.Example/", "https://other.example/"),
    ],
)
def test_redirect_url(start: str, location: str, expected: str) -> None:
    request = Request("GET", start)
    response = Response(302, headers={"Location": location}, request=request)
    assert str(redirect_url(request, response)) == expected


@pytest.mark.parametrize(
    "location",
    [
        "https://example.com:99999/",  # port out of range
        "https://example.com:http/",  # port not a number
        "https://exa mple.com/",  # a space in the host
        "https://exa\x01mple.com/",  # a control character
        "https://exa\tmple.com/",
        "http:path",  # absolute in form, with a relative path
        # Hosts DNS cannot carry: the resolver's idna codec would raise UnicodeError.
        "http://a..b/",
        "//a..b/x",  # network-path reference
        "//0@",  # a network path with userinfo and no host
        "https://.example.com/",
        "http://" + "a" * 64 + ".com/",
        "http://" + ".".join(["a" * 63] * 4) + "/",  # 255 characters
        "http://\u00fc..de/",
        "http://[0:0::1%25eth0]/",  # a zone identifier
    ],
)
def test_an_invalid_location_is_the_servers_fault(location: str) -> None:
    request = Request("GET", "https://example.com/")
    # As the wire machine builds it: h11 lets a control character such as \x01 through
    # in a received value, where Headers() would refuse it.
    received = Headers._from_validated([(b"Location", location.encode())])
    response = Response(302, headers=received, request=request)
    with pytest.raises(RemoteProtocolError, match="Location") as info:
        redirect_url(request, response)
    assert info.value.request is request


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "data:text/plain,hi", "ftp://example.com/", "javascript:alert(1)"],
)
def test_only_http_and_https_are_followed(location: str) -> None:
    request = Request("GET", "https://example.com/")
    response = Response(302, headers={"Location": location}, request=request)
    with pytest.raises(UnsupportedProtocol) as info:
        build_redirect_request(request, response, Cookies())
    assert info.value.request is request
    # ...but such a URL may still be offered as next_request.
    assert redirect_url(request, response, followable_only=False) == URL(location)
    following = build_redirect_request(request, response, Cookies(), followable_only=False)
    assert following.url == URL(location)


# -- credentials -------------------------------------------------------------------------

STRIPPING = [
    ("https://a.example/", "https://b.example/", True),  # another host
    ("https://a.example/", "https://sub.a.example/", True),
    ("https://a.example/", "https://a.example:8443/", True),  # another port
    ("http://a.example:8080/", "http://a.example:8081/", True),
    ("https://a.example/", "http://a.example/", True),  # a downgrade, same host
    ("https://a.example:8443/", "http://a.example:8443/", True),
    ("http://a.example/", "https://a.example:8443/", True),  # upgrade to another port
    ("http://a.example:8080/", "https://a.example/", True),
    ("http://a.example:443/", "https://a.example/", True),
    ("https://a.example/x", "https://a.example/y", False),  # same origin
    ("https://a.example/", "https://A.EXAMPLE:443/z", False),
    ("http://a.example:8080/", "http://a.example:8080/z", False),
    ("http://a.example/", "https://a.example/", False),  # upgrade, default ports
    ("http://a.example:80/", "https://a.example:443/", False),
    ("https://[::1]/", "https://[0:0::1]:443/x", False),  # one IPv6 address, two spellings
    ("https://[::1]/", "https://[::2]/", True),
]


@pytest.mark.parametrize(("start", "target", "strips"), STRIPPING)
def test_strips_credentials(start: str, target: str, strips: bool) -> None:
    assert strips_credentials(URL(start), URL(target)) is strips


@pytest.mark.parametrize(("start", "target", "strips"), STRIPPING)
def test_every_copy_of_every_credential_header_goes_when_stripping(
    start: str, target: str, strips: bool
) -> None:
    request = Request(
        "GET",
        start,
        headers=[
            ("Authorization", "Basic one"),
            ("authorization", "Basic two"),
            ("PROXY-AUTHORIZATION", "Basic three"),
            ("proxy-authorization", "Basic four"),
            ("cookie", "user=1"),
            ("Cookie", "other=2"),
            ("X-Other", "kept"),
        ],
    )
    following = hop(request, target, supplied=supplied_cookie_pairs(request, Cookies()))
    if strips:
        for name in ("authorization", "proxy-authorization", "cookie"):
            assert name not in following.headers
    else:
        assert following.headers.get_list("authorization") == ["Basic one", "Basic two"]
        assert following.headers.get_list("proxy-authorization") == ["Basic three", "Basic four"]
        assert following.headers.get_list("cookie") == ["user=1; other=2"]
    assert following.headers["x-other"] == "kept"


_hosts = st.sampled_from(["a.example", "b.example", "A.example"])
_schemes = st.sampled_from(["http", "https"])
_ports = st.sampled_from([None, 80, 443, 8080])


def _url(scheme: str, host: str, port: int | None) -> URL:
    return URL(f"{scheme}://{host}" + ("" if port is None else f":{port}") + "/")


@given(_schemes, _hosts, _ports, _schemes, _hosts, _ports)
def test_credentials_stay_only_within_an_origin_or_a_plain_upgrade(
    s1: str, h1: str, p1: int | None, s2: str, h2: str, p2: int | None
) -> None:
    old, new = _url(s1, h1, p1), _url(s2, h2, p2)
    default = {"http": 80, "https": 443}
    same_origin = (s1, h1.lower(), p1 or default[s1]) == (s2, h2.lower(), p2 or default[s2])
    upgrade = (
        s1 == "http"
        and s2 == "https"
        and h1.lower() == h2.lower()
        and (p1 or 80) == 80
        and (p2 or 443) == 443
    )
    assert strips_credentials(old, new) is not (same_origin or upgrade)


def test_host_header_follows_the_netloc() -> None:
    request = Request("GET", "https://a.example/")
    assert hop(request, "https://b.example:8443/").headers["host"] == "b.example:8443"
    assert hop(request, "/same").headers["host"] == "a.example"
    # The Host header stays first, where Request put it.
    assert hop(request, "https://b.example/").headers.raw[0] == (b"Host", b"b.example")


def test_no_host_header_is_invented_for_a_request_without_one() -> None:
    from sansio.streams import ByteStream

    request = Request("GET", "https://a.example/", stream=ByteStream(b""))
    assert "host" not in request.headers
    assert "host" not in hop(request, "https://b.example/", 307).headers


# -- cookies -------------------------------------------------------------------------------


def test_the_cookie_header_is_recomputed_from_the_jar() -> None:
    jar = Cookies()
    jar.set("everywhere", "1")
    jar.set("only_b", "2", domain="b.example")
    jar.set("only_a", "3", domain="a.example")
    request = Request("GET", "https://a.example/", cookies=jar.jar)
    assert request.headers["cookie"] == "everywhere=1; only_a=3"
    assert supplied_cookie_pairs(request, jar) == ()
    following = hop(request, "https://b.example/", cookies=jar)
    assert following.headers["cookie"] == "everywhere=1; only_b=2"
    again = hop(following, "https://a.example/x", cookies=jar)
    assert again.headers["cookie"] == "everywhere=1; only_a=3"


def test_no_cookie_header_when_the_jar_has_nothing_for_the_target() -> None:
    jar = Cookies()
    jar.set("only_a", "3", domain="a.example")
    request = Request("GET", "https://a.example/", cookies=jar.jar)
    assert "cookie" not in hop(request, "https://b.example/", cookies=jar).headers


def test_supplied_cookie_pairs_leave_out_what_the_jar_produced() -> None:
    jar = Cookies({"client": "1"})
    request = Request(
        "GET", "https://a.example/", headers=[("Cookie", "client=1; mine=2"), ("Cookie", " x=3 ;")]
    )
    assert supplied_cookie_pairs(request, jar) == ("mine=2", "x=3")
    assert supplied_cookie_pairs(request, Cookies()) == ("client=1", "mine=2", "x=3")
    assert supplied_cookie_pairs(Request("GET", "https://a.example/"), jar) == ()
    # A jar cookie whose value the caller overrode is the caller's own.
    overridden = Request("GET", "https://a.example/", headers={"Cookie": "client=9"})
    assert supplied_cookie_pairs(overridden, jar) == ("client=9",)


def test_supplied_cookies_come_first_and_win_on_same_origin() -> None:
    jar = Cookies({"shared": "jar", "session": "s"})
    request = Request("GET", "https://a.example/", headers={"Cookie": "shared=mine"})
    following = hop(request, "/next", cookies=jar, supplied=("shared=mine",))
    assert following.headers.get_list("cookie") == ["shared=mine; session=s"]
    cross = hop(request, "https://b.example/", cookies=jar, supplied=("shared=mine",))
    assert cross.headers.get_list("cookie") == ["shared=jar; session=s"]


def test_supplied_cookies_alone_when_the_jar_is_empty() -> None:
    request = Request("GET", "https://a.example/", headers={"Cookie": "mine=1"})
    following = hop(request, "/next", supplied=("mine=1",))
    assert following.headers["cookie"] == "mine=1"


def test_lower_case_header_names_are_found() -> None:
    request = Request("GET", "https://a.example/", headers=Headers({"authorization": "x"}))
    assert "authorization" not in hop(request, "https://b.example/").headers
