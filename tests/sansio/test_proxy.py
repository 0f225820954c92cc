"""Proxy choice (arguments and environment) and the request forms sent through a proxy."""

from __future__ import annotations

import itertools
from typing import Any

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio import env, socks, wire
from sansio.config import Proxy
from sansio.cookies import Cookies
from sansio.exceptions import InvalidURL, ProxyError, UnsupportedProtocol
from sansio.exchange import Planner
from sansio.h1 import H1Connection
from sansio.models import Request, Response
from sansio.proxy import (
    ProxyConnector,
    ProxyMode,
    ProxyPlan,
    ProxyPlanner,
    build_proxy_map,
    check_connect_response,
    connect_head,
    forward_head,
    inner_head,
    plan_proxy,
    proxies_from_environ,
    request_head,
    socks_handshake,
)
from sansio.redirects import build_redirect_request
from sansio.tls import ALPN_H1, ALPN_H2_H1, TLSConfig
from sansio.urls import MAX_HOST_LENGTH, URL
from sansio.wire import EndOfBody, RequestHead, ResponseHead

CREDENTIALS = b"Basic dXNlcjpzZWNyZXQ="  # user:secret


class FakeSSLContext:
    """Enough of an SSLContext for TLSConfig (which duck-types it)."""

    def wrap_socket(self) -> None:  # pragma: no cover - never called
        raise NotImplementedError


# -- the environment ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {}),
        ({"HTTP_PROXY": "http://p:3128"}, {"http://": "http://p:3128"}),
        ({"http_proxy": "http://p:3128"}, {"http://": "http://p:3128"}),
        ({"HTTPS_PROXY": "http://p:3128"}, {"https://": "http://p:3128"}),
        ({"https_proxy": "https://p:3129"}, {"https://": "https://p:3129"}),
        ({"ALL_PROXY": "socks5://p:1080"}, {"all://": "socks5://p:1080"}),
        ({"all_proxy": "socks5h://p"}, {"all://": "socks5h://p"}),
        ({"Http_Proxy": "http://p"}, {"http://": "http://p"}),
        # No scheme: http:// is assumed.
        ({"HTTP_PROXY": "p:3128"}, {"http://": "http://p:3128"}),
        ({"HTTPS_PROXY": "user:pw@p"}, {"https://": "http://user:pw@p"}),
        # Other schemes' variables are not HTTP proxies.
        ({"FTP_PROXY": "http://p", "TRAVIS_APT_PROXY": "http://p"}, {}),
        ({"HTTP_PROXY": ""}, {}),
        # The lower-case variable wins, whatever the order.
        ({"HTTP_PROXY": "http://upper", "http_proxy": "http://lower"}, {"http://": "http://lower"}),
        ({"http_proxy": "http://lower", "HTTP_PROXY": "http://upper"}, {"http://": "http://lower"}),
        # ... and an empty lower-case one switches the upper-case one off.
        ({"HTTPS_PROXY": "http://upper", "https_proxy": ""}, {}),
        ({"https_proxy": "", "HTTPS_PROXY": "http://upper"}, {}),
        # Under CGI, HTTP_PROXY may come from a client's "Proxy:" header (httpoxy).
        ({"HTTP_PROXY": "http://evil", "REQUEST_METHOD": "GET"}, {}),
        ({"http_proxy": "http://p", "REQUEST_METHOD": "GET"}, {"http://": "http://p"}),
        ({"HTTPS_PROXY": "http://p", "REQUEST_METHOD": "GET"}, {"https://": "http://p"}),
        (
            {"HTTP_PROXY": "http://a", "HTTPS_PROXY": "http://b", "ALL_PROXY": "http://c"},
            {"http://": "http://a", "https://": "http://b", "all://": "http://c"},
        ),
    ],
)
def test_proxy_variables(environ: dict[str, str], expected: dict[str, str | None]) -> None:
    assert proxies_from_environ(environ) == expected


@pytest.mark.parametrize(
    ("no_proxy", "expected"),
    [
        ("example.com", {"all://*example.com": None}),
        ("EXAMPLE.com", {"all://*EXAMPLE.com": None}),
        (".example.com", {"all://*.example.com": None}),
        ("*.example.com", {"all://*.example.com": None}),
        ("localhost", {"all://localhost": None}),
        ("LocalHost", {"all://LocalHost": None}),
        ("localhost:8080", {"all://localhost:8080": None}),
        ("192.168.1.1", {"all://192.168.1.1": None}),
        ("10.0.0.1:8080", {"all://10.0.0.1:8080": None}),
        ("10.0.0.0/8", {"all://10.0.0.0/8": None}),
        ("::1", {"all://[::1]": None}),
        ("[::1]", {"all://[::1]": None}),
        ("[::1]:8080", {"all://[::1]:8080": None}),
        ("fe80::/10", {"all://[fe80::]/10": None}),
        ("example.com:8443", {"all://*example.com:8443": None}),
        ("http://example.com", {"http://example.com": None}),
        ("https://*.example.org", {"https://*.example.org": None}),
        (" a.com , b.com ,, ", {"all://*a.com": None, "all://*b.com": None}),
        # Entries that form no valid pattern are skipped.
        ("exa mple.com,b.com,http://[::1,a.*.com", {"all://*b.com": None}),
        ("", {}),
    ],
)
def test_no_proxy_entries(no_proxy: str, expected: dict[str, str | None]) -> None:
    proxies = proxies_from_environ({"HTTP_PROXY": "http://p", "NO_PROXY": no_proxy})
    assert proxies == {"http://": "http://p", **expected}
    assert proxies_from_environ({"no_proxy": no_proxy}) == expected


@pytest.mark.parametrize("no_proxy", ["*", "a.com,*", "*,a.com", " * "])
def test_no_proxy_star_turns_every_proxy_off(no_proxy: str) -> None:
    environ = {"HTTP_PROXY": "http://p", "ALL_PROXY": "http://q", "NO_PROXY": no_proxy}
    assert proxies_from_environ(environ) == {}


def test_no_proxy_lower_case_wins() -> None:
    environ = {"NO_PROXY": "upper.example", "no_proxy": "lower.example"}
    assert proxies_from_environ(environ) == {"all://*lower.example": None}


@pytest.mark.parametrize(
    ("url", "proxied"),
    [
        ("http://example.com/", False),
        ("https://www.example.com/", False),
        ("http://wwwexample.com/", True),
        ("https://sub.internal.test/", False),
        ("https://internal.test/", True),  # ".internal.test" is subdomains only
        ("http://localhost:8000/", False),
        ("http://127.0.0.1/", False),
        ("http://127.0.0.2/", True),
        ("http://[::1]:8080/", False),
        ("https://other.org/", True),
    ],
)
def test_no_proxy_in_the_proxy_map(url: str, proxied: bool) -> None:
    environ = {
        "ALL_PROXY": "http://proxy:3128",
        "NO_PROXY": "example.com,.internal.test,localhost,127.0.0.1,::1",
    }
    table = build_proxy_map(environ=environ)
    chosen = table.lookup(URL(url), None)
    assert (chosen is not None) is proxied
    if chosen is not None:
        assert chosen.url == URL("http://proxy:3128")


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("::1", "http://[0:0::1]/"),
        ("::1", "http://[0000:0000:0000:0000:0000:0000:0000:0001]:8080/"),
        ("0:0::1", "http://[::1]/"),
        ("[0::1]:8080", "http://[::1]:8080/"),
        ("2001:DB8::1", "https://[2001:db8:0:0:0:0:0:1]/"),
        ("::ffff:10.0.0.1", "http://[::ffff:a00:1]/"),
    ],
)
def test_no_proxy_ipv6_entries_cover_every_spelling(no_proxy: str, url: str) -> None:
    # IPv6 hosts are canonicalised once, by the URL parser, on both sides of the match.
    table = build_proxy_map(environ={"ALL_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy})
    assert table.lookup(URL(url), None) is None
    assert table.lookup(URL("http://[::2]/"), None) is not None


@pytest.mark.parametrize(
    ("url", "proxied"),
    [
        ("http://10.0.0.1/", False),
        ("http://10.255.0.9:8080/", False),
        ("http://11.0.0.1/", True),
        ("https://192.168.44.5/", False),
        ("https://192.169.0.1/", True),
        ("http://172.16.0.1/", False),
        ("http://172.32.0.1/", True),
        ("http://[::1]/", False),
        ("http://[::2]/", True),
        ("http://[fd12::9]/", False),
        ("http://[fe80::1]/", True),
        ("http://ten.example/", True),  # a name is never resolved to meet a range
        ("http://corp.example./", False),  # the root's dot
        ("http://www.corp.example./", False),
        ("http://corp.example.org/", True),
    ],
)
def test_no_proxy_ranges_cover_their_addresses(url: str, proxied: bool) -> None:
    environ = {
        "ALL_PROXY": "http://proxy:3128",
        "NO_PROXY": "10.0.0.0/8, 192.168.0.0/16,172.16.1.1/12,::1/128,fd00::/8,corp.example",
    }
    table = build_proxy_map(environ=environ)
    assert (table.lookup(URL(url), None) is not None) is proxied


def test_no_proxy_invalid_ranges_are_skipped() -> None:
    environ = {"ALL_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/33,::1/129,10.0.0.0/08"}
    assert proxies_from_environ(environ) == {"all://": "http://p:1", "all://10.0.0.0/08": None}
    table = build_proxy_map(environ=environ)
    assert table.lookup(URL("http://10.0.0.0/"), None) is None
    assert table.lookup(URL("http://10.1.0.0/"), None) is None  # /08 is /8
    assert table.lookup(URL("http://[::1]/"), None) is not None


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("example.com", "http://example.com./"),
        ("example.com.", "http://example.com/"),
        (".example.com", "http://a.example.com./"),
        ("localhost", "http://localhost.:8080/"),
    ],
)
def test_no_proxy_ignores_the_roots_dot(no_proxy: str, url: str) -> None:
    table = build_proxy_map(environ={"ALL_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy})
    assert table.lookup(URL(url), None) is None
    assert table.lookup(URL("http://other.example./"), None) is not None


# -- the proxy map --------------------------------------------------------------------


ENVIRON = {"HTTP_PROXY": "http://env:1", "HTTPS_PROXY": "http://env:2", "NO_PROXY": "skip.test"}


def chosen(table: Any, url: str) -> str | None:
    proxy = table.lookup(URL(url), None)
    return None if proxy is None else str(proxy.url)


def test_proxy_routes_everything_and_ignores_the_environment() -> None:
    table = build_proxy_map("http://explicit:3128", environ=ENVIRON)
    assert chosen(table, "http://a.test/") == "http://explicit:3128"
    assert chosen(table, "https://skip.test/") == "http://explicit:3128"  # NO_PROXY too
    assert len(table) == 1


def test_proxy_objects_are_kept() -> None:
    proxy = Proxy("http://p:1", auth=("u", "p"))
    assert build_proxy_map(proxy).lookup(URL("http://a/"), None) is proxy
    assert build_proxy_map(URL("http://p:2")).lookup(URL("http://a/"), None).url.port == 2  # type: ignore[union-attr]


def test_proxies_mapping_with_patterns() -> None:
    table = build_proxy_map(
        proxies={
            "all://": "http://default:1",
            "https://": URL("http://secure:2"),
            "all://*example.com": None,
            "http://special.test:8080": Proxy("socks5://s:1080"),
        },
        environ=ENVIRON,
    )
    assert chosen(table, "http://a.test/") == "http://default:1"
    assert chosen(table, "https://a.test/") == "http://secure:2"
    assert chosen(table, "https://www.example.com/") is None
    assert chosen(table, "http://special.test:8080/") == "socks5://s:1080"
    assert chosen(table, "http://special.test/") == "http://default:1"
    assert chosen(table, "https://skip.test/") == "http://secure:2"  # env ignored


def test_proxies_single_value_and_empty_mapping() -> None:
    assert chosen(build_proxy_map(proxies="http://one:1"), "https://x/") == "http://one:1"
    # An explicit empty mapping means "no proxies", not "look at the environment".
    assert len(build_proxy_map(proxies={}, environ=ENVIRON)) == 0


def test_environment_only_when_trusted() -> None:
    table = build_proxy_map(environ=ENVIRON)
    assert chosen(table, "http://a.test/") == "http://env:1"
    assert chosen(table, "https://a.test/") == "http://env:2"
    assert chosen(table, "https://www.skip.test/") is None
    assert len(build_proxy_map(environ=ENVIRON, trust_env=False)) == 0


def test_environment_defaults_to_the_installed_env() -> None:
    previous = env.install(environ={"ALL_PROXY": "socks5://from-env:1080"})
    try:
        assert chosen(build_proxy_map(), "https://a/") == "socks5://from-env:1080"
    finally:
        env.install(previous)
    assert len(build_proxy_map()) == 0  # the test Env has an empty environment


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"proxy": "http://a", "proxies": "http://b"}, ValueError, "not both"),
        ({"proxy": 3128}, TypeError, "not int"),
        ({"proxies": {"all://": b"http://p"}}, TypeError, "not bytes"),
        ({"proxies": {"http": "http://p"}}, ValueError, "'http://'"),
        ({"proxy": "ftp://p"}, ValueError, "Unknown scheme"),
        ({"environ": {"HTTP_PROXY": "ftp://p"}}, ValueError, "Unknown scheme"),
    ],
)
def test_bad_proxy_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build_proxy_map(**kwargs)


# -- plans ----------------------------------------------------------------------------


def test_forward_plan() -> None:
    plan = plan_proxy(URL("http://example.com/a"), Proxy("http://user:secret@proxy:3128"))
    assert plan.mode is ProxyMode.FORWARD
    assert (plan.host, plan.port, plan.proxy_tls) == ("proxy", 3128, None)
    assert (plan.target_host, plan.target_port, plan.origin_tls) == ("example.com", 80, None)
    assert plan.headers == ((b"Proxy-Authorization", CREDENTIALS),)
    assert plan.has_credentials
    assert plan.proxy_url == URL("http://proxy:3128")  # no credentials in the URL


def test_tunnel_plan() -> None:
    origin_tls = TLSConfig(alpn=ALPN_H2_H1, server_hostname="example.com")
    planner = ProxyPlanner(Proxy("http://proxy"))
    plan = planner.plan(URL("https://example.com:8443/"), origin_tls)
    assert plan.mode is ProxyMode.TUNNEL
    assert (plan.host, plan.port) == ("proxy", 80)
    assert (plan.target_host, plan.target_port, plan.target) == (
        "example.com",
        8443,
        b"example.com:8443",
    )
    assert plan.origin_tls is origin_tls
    assert plan.headers == ()
    assert not plan.has_credentials


def test_default_origin_tls_and_ports() -> None:
    plan = plan_proxy(URL("https://bücher.example/"), "https://proxy")
    assert plan.origin_tls == TLSConfig(server_hostname="xn--bcher-kva.example")
    assert (plan.port, plan.target_port) == (443, 443)
    assert plan_proxy(URL("https://a/"), "socks5://s").port == 1080
    assert plan_proxy(URL("https://a/"), "socks5h://s").port == 1080


def test_https_proxy_tls() -> None:
    plan = plan_proxy(URL("http://a/"), "https://proxy.test:8443")
    assert plan.proxy_tls == TLSConfig(
        verify=True, trust_env=True, alpn=ALPN_H1, server_hostname="proxy.test"
    )
    context: Any = FakeSSLContext()
    proxy = Proxy("https://proxy.test", ssl_context=context)
    plan = plan_proxy(URL("http://a/"), proxy, trust_env=False)
    assert plan.proxy_tls is not None
    assert plan.proxy_tls.verify is context
    assert plan.proxy_tls.trust_env is False
    assert plan.proxy_tls.alpn == ALPN_H1  # conch speaks HTTP/1.1 to proxies


def test_ipv6_proxy_and_target() -> None:
    plan = plan_proxy(URL("https://[2001:db8::1]:8443/"), "http://[::1]:3128")
    assert (plan.host, plan.port) == ("::1", 3128)
    assert plan.target == b"[2001:db8::1]:8443"
    head = connect_head(plan)
    assert head.target == b"[2001:db8::1]:8443"
    assert head.headers == [(b"Host", b"[2001:db8::1]:8443")]


def test_socks_plan() -> None:
    plan = plan_proxy(URL("https://example.com/"), "socks5://user:secret@socks.test")
    assert plan.mode is ProxyMode.SOCKS5
    assert (plan.host, plan.port) == ("socks.test", 1080)
    assert plan.socks_auth == (b"user", b"secret")
    assert plan.has_credentials
    assert plan.headers == ()  # SOCKS carries no HTTP headers
    assert plan.remote_dns  # as httpcore: the proxy resolves names, socks5:// too
    assert plan.origin_tls is not None
    http_plan = plan_proxy(URL("http://example.com/"), Proxy("socks5h://s", headers={"X": "1"}))
    assert http_plan.mode is ProxyMode.SOCKS5
    assert http_plan.origin_tls is None
    assert http_plan.socks_auth is None
    assert not http_plan.has_credentials


@pytest.mark.parametrize(
    ("proxy", "match"),
    [
        (Proxy("http://"), "has no host"),
        (Proxy("http://p", ssl_context=FakeSSLContext()), "for https:// proxies"),  # type: ignore[arg-type]
        (Proxy("socks5://p", ssl_context=FakeSSLContext()), "for https:// proxies"),  # type: ignore[arg-type]
        (Proxy("http://p", auth=("a:b", "c")), "cannot contain ':'"),
        (Proxy("socks5://p", auth=("u" * 256, "c")), "at most 255"),
    ],
)
def test_bad_proxy_settings(proxy: Proxy, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ProxyPlanner(proxy)


def test_socks_credentials_at_the_limit() -> None:
    plan = plan_proxy(URL("http://a/"), Proxy("socks5://p", auth=("u" * 255, "p" * 255)))
    assert plan.socks_auth == (b"u" * 255, b"p" * 255)


def test_proxy_settings_are_checked_once() -> None:
    with pytest.raises(TypeError, match="not int"):
        ProxyPlanner(1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "error", "match"),
    [
        ("ftp://example.com/", UnsupportedProtocol, "unsupported protocol 'ftp://'"),
        ("//example.com/", UnsupportedProtocol, "missing an 'http://'"),
        ("http:///path", UnsupportedProtocol, "has no host"),
    ],
)
def test_plan_refuses_what_no_proxy_can_carry(url: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        plan_proxy(URL(url), "http://proxy")


def host_of(size: int) -> str:
    """A valid host name of exactly ``size`` bytes, in labels of 50 letters."""
    host = (("a" * 50 + ".") * (size // 50 + 1))[:size]
    return host[:-2] + ".a" if host.endswith(".") else host


def test_socks_target_host_at_the_limit() -> None:
    # The longest name a URL holds (DNS's 253 bytes) fits a SOCKS5 request (255).
    host = host_of(MAX_HOST_LENGTH)
    plan = plan_proxy(URL(f"https://{host}/"), "socks5://s")
    reply = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    assert run_connector(plan, [b"\x05\x00", reply]).endswith(
        b"\x05\x01\x00\x03\xfd" + host.encode() + b"\x01\xbb"
    )


@pytest.mark.parametrize("size", [MAX_HOST_LENGTH + 1, 256, 1000])
def test_socks_target_host_past_the_limit_never_reaches_the_planner(size: int) -> None:
    with pytest.raises(InvalidURL, match="longer than 253"):
        Planner(proxy="socks5://s").plan(Request("GET", f"https://{host_of(size)}/"))


def test_origin_tls_only_for_https() -> None:
    with pytest.raises(ValueError, match="origin_tls is for https"):
        plan_proxy(URL("http://a/"), "http://p", origin_tls=TLSConfig())


def test_plan_repr_hides_credentials() -> None:
    plan = plan_proxy(URL("https://a/"), "http://user:secret@proxy")
    socks = plan_proxy(URL("https://a/"), "socks5://user:secret@proxy")
    for shown in (repr(plan), repr(socks)):
        assert "secret" not in shown
        assert "dXNlcjpzZWNyZXQ" not in shown


# -- pool keys ------------------------------------------------------------------------


def test_forwarded_requests_share_proxy_connections() -> None:
    planner = ProxyPlanner("http://user:secret@proxy")
    a = planner.plan(URL("http://a.test/"))
    b = planner.plan(URL("http://b.test:8080/x"))
    assert a.key == b.key
    assert hash(a.key) == hash(b.key)


def test_tunnel_keys_name_the_origin_and_its_tls() -> None:
    planner = ProxyPlanner("http://proxy")
    tls = TLSConfig(server_hostname="a.test")
    keys = {
        planner.plan(URL("https://a.test/"), tls).key,
        planner.plan(URL("https://a.test:8443/"), TLSConfig(server_hostname="a.test")).key,
        planner.plan(URL("https://b.test/"), TLSConfig(server_hostname="b.test")).key,
        planner.plan(URL("https://a.test/"), TLSConfig(server_hostname="a.test", verify=False)).key,
        planner.plan(URL("http://a.test/")).key,
    }
    assert len(keys) == 5
    assert planner.plan(URL("https://a.test/x"), TLSConfig(server_hostname="a.test")).key == (
        planner.plan(URL("https://a.test/y"), tls).key
    )


@pytest.mark.parametrize(
    "other",
    [
        Proxy("http://proxy", auth=("user", "other")),
        Proxy("http://proxy:8080", auth=("user", "secret")),
        Proxy("https://proxy:80", auth=("user", "secret")),
        Proxy("http://proxy2", auth=("user", "secret")),
        Proxy("http://proxy", auth=("user", "secret"), headers={"X-Tenant": "b"}),
        Proxy("socks5://proxy:80", auth=("user", "secret")),
    ],
)
def test_keys_differ_by_proxy_settings(other: Proxy) -> None:
    base = Proxy("http://proxy", auth=("user", "secret"))
    for url in ("http://a.test/", "https://a.test/"):
        assert plan_proxy(URL(url), base).key != plan_proxy(URL(url), other).key
        assert plan_proxy(URL(url), base).key == plan_proxy(URL(url), base).key


def test_socks_keys_name_the_origin() -> None:
    planner = ProxyPlanner("socks5://s")
    assert planner.plan(URL("http://a/")).key != planner.plan(URL("http://b/")).key
    assert planner.plan(URL("http://a/")).key != planner.plan(URL("https://a:80/")).key
    assert planner.plan(URL("http://a/")).key != plan_proxy(URL("http://a/"), "socks5h://s").key
    assert planner.plan(URL("http://a/x")).key == planner.plan(URL("http://a/y")).key


# -- request heads --------------------------------------------------------------------


def wire_head(request: Request) -> RequestHead:
    """The head conch's transport builds for a request (headers as the models made them)."""
    return Planner().plan(request)[1]


def wire_bytes(head: RequestHead) -> bytes:
    """What the HTTP/1.1 machine sends for `head` (a body-less request)."""
    conn = H1Connection()
    conn.start_request(head, has_body=False)
    return conn.data_to_send()


def test_forward_head_exact() -> None:
    plan = plan_proxy(
        URL("http://example.com:8080/"),
        Proxy("http://user:secret@proxy:3128", headers={"X-Proxy": "yes"}),
    )
    head = wire_head(Request("GET", "http://example.com:8080/a%20b?q=1#frag"))
    assert forward_head(head, plan) == RequestHead(
        method=b"GET",
        target=b"http://example.com:8080/a%20b?q=1",
        headers=[
            (b"Host", b"example.com:8080"),
            (b"Proxy-Authorization", CREDENTIALS),
            (b"X-Proxy", b"yes"),
        ],
        authority=b"example.com:8080",
        scheme=b"http",
    )
    assert wire_bytes(forward_head(head, plan)) == (
        b"GET http://example.com:8080/a%20b?q=1 HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"
        b"X-Proxy: yes\r\n\r\n"
    )


def test_forward_head_without_proxy_headers_keeps_the_request_headers() -> None:
    plan = plan_proxy(URL("http://a.test/"), "http://proxy")
    head = wire_head(Request("GET", "http://a.test/", headers={"Proxy-Authorization": "mine"}))
    forwarded = forward_head(head, plan)
    assert forwarded.target == b"http://a.test/"
    # The proxy is the one party a Proxy-Authorization header is for.
    assert forwarded.headers == [(b"Host", b"a.test"), (b"Proxy-Authorization", b"mine")]


def test_forward_head_proxy_settings_win_over_the_callers_copy() -> None:
    plan = plan_proxy(URL("http://a.test/"), "http://user:secret@proxy")
    head = wire_head(
        Request("GET", "http://a.test/", headers=[("proxy-authorization", "mine"), ("A", "1")])
    )
    assert forward_head(head, plan).headers == [
        (b"Host", b"a.test"),
        (b"A", b"1"),
        (b"Proxy-Authorization", CREDENTIALS),
    ]


def test_proxy_auth_wins_over_a_proxy_header_of_the_same_name() -> None:
    proxy = Proxy(
        "http://user:secret@proxy",
        headers=[("Proxy-Authorization", "Bearer t"), ("X-A", "1")],
    )
    plan = plan_proxy(URL("http://a/"), proxy)
    assert plan.headers == ((b"Proxy-Authorization", CREDENTIALS), (b"X-A", b"1"))
    # Credentials given as a header alone count as credentials.
    header_only = plan_proxy(
        URL("http://a/"), Proxy("http://p", headers={"Proxy-Authorization": "x"})
    )
    assert header_only.has_credentials
    assert header_only.headers == ((b"Proxy-Authorization", b"x"),)


def test_connect_head_exact() -> None:
    plan = plan_proxy(
        URL("https://example.com/secret/path?token=1"),
        Proxy("http://user:secret@proxy:3128", headers={"User-Agent": "conch-proxy"}),
    )
    head = connect_head(plan)
    assert head == RequestHead(
        method=b"CONNECT",
        target=b"example.com:443",
        headers=[
            (b"Host", b"example.com:443"),
            (b"Proxy-Authorization", CREDENTIALS),
            (b"User-Agent", b"conch-proxy"),
        ],
        authority=b"example.com:443",
        scheme=b"http",
    )
    # The path and query never reach the proxy.
    assert wire_bytes(head) == (
        b"CONNECT example.com:443 HTTP/1.1\r\n"
        b"Host: example.com:443\r\n"
        b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"
        b"User-Agent: conch-proxy\r\n\r\n"
    )


def test_inner_head_strips_every_proxy_authorization() -> None:
    head = RequestHead(
        method=b"GET",
        target=b"/",
        headers=[
            (b"Host", b"a"),
            (b"Proxy-Authorization", b"one"),
            (b"X", b"1"),
            (b"PROXY-AUTHORIZATION", b"two"),
        ],
        authority=b"a",
        scheme=b"https",
    )
    assert inner_head(head) == RequestHead(
        method=b"GET",
        target=b"/",
        headers=[(b"Host", b"a"), (b"X", b"1")],
        authority=b"a",
        scheme=b"https",
    )
    plain = wire_head(Request("GET", "https://a/", headers={"Authorization": "origin's"}))
    assert inner_head(plain) is plain  # nothing to strip: nothing copied


def test_request_head_dispatch() -> None:
    head = wire_head(Request("GET", "http://a/", headers={"Proxy-Authorization": "mine"}))
    forward = plan_proxy(URL("http://a/"), "http://user:secret@proxy")
    socks = plan_proxy(URL("http://a/"), "socks5://user:secret@proxy")
    assert request_head(head, forward) == forward_head(head, forward)
    assert request_head(head, socks).headers == [(b"Host", b"a")]
    assert request_head(head, socks).target == b"/"


def test_heads_refuse_the_wrong_plan() -> None:
    forward = plan_proxy(URL("http://a/"), "http://proxy")
    tunnel = plan_proxy(URL("https://a/"), "http://proxy")
    socks = plan_proxy(URL("https://a/"), "socks5://proxy")
    head = wire_head(Request("GET", "http://a/"))
    with pytest.raises(ValueError, match="CONNECT is for tunnels, not forward plans"):
        connect_head(forward)
    with pytest.raises(ValueError, match="not socks5 plans"):
        connect_head(socks)
    with pytest.raises(ValueError, match="forwarding is for http:// targets, not tunnel plans"):
        forward_head(head, tunnel)
    with pytest.raises(ValueError, match="not tunnel plans"):
        socks_handshake(tunnel)


# -- proxy credentials go only to the proxy -------------------------------------------


def test_tunnel_credentials_on_connect_only() -> None:
    planner = ProxyPlanner("http://user:secret@proxy")
    request = Request(
        "GET", "https://a.test/", headers={"Proxy-Authorization": "Basic bWluZTptaW5l"}
    )
    route, head, _ = Planner().plan(request)
    plan = planner.plan(request.url, route.tls)
    connect = wire_bytes(connect_head(plan))
    inside = wire_bytes(request_head(head, plan))
    assert b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=" in connect
    assert b"bWluZTptaW5l" not in connect  # the caller's header is not the proxy's
    assert b"proxy-authorization" not in inside.lower()
    assert inside == b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"


def test_credentials_after_a_redirect_to_another_origin() -> None:
    planner = ProxyPlanner("http://user:secret@proxy")
    first = Request("GET", "http://a.test/", headers={"Proxy-Authorization": "Basic bWluZQ=="})
    for location in ("http://b.test/next", "https://b.test/next"):
        response = Response(302, headers={"Location": location}, request=first)
        second = build_redirect_request(first, response, Cookies())
        route, head, _ = Planner().plan(second)
        plan = planner.plan(second.url, route.tls)
        sent = wire_bytes(request_head(head, plan))
        assert b"bWluZQ==" not in sent  # the caller's copy stayed behind
        if plan.mode is ProxyMode.FORWARD:
            # Forwarded: the proxy reads this request, and its own credentials are on it.
            assert b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=" in sent
        else:
            assert b"proxy-authorization" not in sent.lower()
            assert b"dXNlcjpzZWNyZXQ=" in wire_bytes(connect_head(plan))


@settings(max_examples=100, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"Proxy-Authorization", b"proxy-authorization", b"X-A", b"Host"]),
            st.binary(min_size=1, max_size=5).filter(lambda v: b"\r" not in v),
        ),
        max_size=6,
    ),
    with_auth=st.booleans(),
)
def test_no_proxy_authorization_inside_a_tunnel(
    headers: list[tuple[bytes, bytes]], with_auth: bool
) -> None:
    proxy = "http://u:p@proxy" if with_auth else "http://proxy"
    plan = plan_proxy(URL("https://a/"), proxy)
    head = RequestHead(method=b"GET", target=b"/", headers=headers, authority=b"a", scheme=b"https")
    inside = request_head(head, plan)
    assert all(name.lower() != b"proxy-authorization" for name, _ in inside.headers)
    kept = [pair for pair in headers if pair[0].lower() != b"proxy-authorization"]
    assert inside.headers == kept
    forward = plan_proxy(URL("http://a/"), proxy)
    sent = forward_head(
        RequestHead(method=b"GET", target=b"/x", headers=headers, authority=b"a", scheme=b"http"),
        forward,
    )
    assert sent.target == b"http://a/x"
    values = [v for n, v in sent.headers if n.lower() == b"proxy-authorization"]
    if with_auth:
        assert values == [b"Basic dTpw"]


# -- the answer to CONNECT ------------------------------------------------------------


def answer(status: int, reason: bytes = b"") -> ResponseHead:
    return ResponseHead(status_code=status, reason=reason, headers=[], http_version="HTTP/1.1")


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_opens_the_tunnel(status: int) -> None:
    plan = plan_proxy(URL("https://a/"), "http://proxy")
    check_connect_response(answer(status), plan)
    check_connect_response(answer(status), plan, b"")


def test_bytes_before_the_client_spoke_are_refused() -> None:
    plan = plan_proxy(URL("https://a/"), "http://proxy")
    with pytest.raises(ProxyError, match="sent 3 bytes after opening the tunnel to a:443"):
        check_connect_response(answer(200), plan, b"abc")


def test_407_without_credentials() -> None:
    plan = plan_proxy(URL("https://a.test/"), "http://proxy:3128")
    with pytest.raises(ProxyError) as info:
        check_connect_response(answer(407, b"Proxy Authentication Required"), plan)
    assert str(info.value) == (
        "407 Proxy Authentication Required: proxy authentication required to reach "
        "a.test:443 through 'http://proxy:3128'; give the proxy a username and password "
        "(http://user:password@host:port)"
    )


def test_407_with_credentials() -> None:
    plan = plan_proxy(URL("https://a.test/"), "http://user:wrong@proxy:3128")
    with pytest.raises(ProxyError) as info:
        check_connect_response(answer(407, b"Proxy Authentication Required"), plan)
    message = str(info.value)
    assert message.endswith("it refused the credentials given")
    assert "wrong" not in message


@pytest.mark.parametrize(
    ("status", "reason"), [(403, b"Forbidden"), (502, b"Bad Gateway"), (301, b""), (199, b"")]
)
def test_other_answers_are_proxy_errors(status: int, reason: bytes) -> None:
    plan = plan_proxy(URL("https://a.test:8443/"), "http://proxy")
    with pytest.raises(ProxyError) as info:
        check_connect_response(answer(status, reason), plan)
    assert str(info.value) == (
        f"{status} {reason.decode()}: the proxy would not open a tunnel to a.test:8443 "
        "through 'http://proxy'"
    )


def run_connect(plan: ProxyPlan, replies: list[bytes]) -> tuple[bytes, ResponseHead, bytes]:
    """CONNECT through the HTTP/1.1 machine, the way a transport does it."""
    conn = H1Connection(validate_headers=False)
    sid = conn.start_request(connect_head(plan), has_body=False)
    sent = b""
    chunks = iter(replies)
    while True:
        step = conn.next_step(sid)
        if step is wire.SEND:
            sent += conn.data_to_send()
        elif step is wire.RECEIVE:
            conn.receive_data(next(chunks, b""))
        else:
            assert isinstance(step, ResponseHead)
            return sent, step, conn.trailing_data()


def test_connect_exchange_through_the_h1_machine() -> None:
    plan = plan_proxy(URL("https://a.test/"), "http://user:secret@proxy")
    answer_bytes = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 proxy\r\n\r\n"
    for cut in range(1, len(answer_bytes)):
        sent, head, trailing = run_connect(plan, [answer_bytes[:cut], answer_bytes[cut:]])
        assert sent.startswith(b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n")
        check_connect_response(head, plan, trailing)
    conn = H1Connection(validate_headers=False)
    sid = conn.start_request(connect_head(plan), has_body=False)
    conn.data_to_send()
    conn.receive_data(answer_bytes)
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == EndOfBody([])  # the stream is the tunnel's now


def test_connect_refused_through_the_h1_machine() -> None:
    plan = plan_proxy(URL("https://a.test/"), "http://proxy")
    _, head, _ = run_connect(
        plan,
        [
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n\r\n'
        ],
    )
    with pytest.raises(ProxyError, match=r"^407 Proxy Authentication Required: proxy auth"):
        check_connect_response(head, plan)


def test_connect_request_is_valid_http() -> None:
    """An independent parser (h11 as a server) reads the CONNECT request we send."""
    plan = plan_proxy(URL("https://[::1]:8443/"), "http://u:p@proxy")
    server = h11.Connection(h11.SERVER)
    server.receive_data(wire_bytes(connect_head(plan)))
    event = server.next_event()
    assert isinstance(event, h11.Request)
    assert (event.method, event.target) == (b"CONNECT", b"[::1]:8443")
    assert dict(event.headers) == {b"host": b"[::1]:8443", b"proxy-authorization": b"Basic dTpw"}


# -- SOCKS ----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks_handshake_for_a_plan(scheme: str) -> None:
    plan = plan_proxy(URL("https://bücher.example:8443/"), f"{scheme}://u:p@s")
    hs = socks_handshake(plan)
    sent = b""
    replies = iter([b"\x05\x02", b"\x01\x00", b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"])
    for _ in itertools.count():
        step = hs.next_step()
        if step is socks.SEND:
            sent += hs.data_to_send()
        elif step is socks.RECEIVE:
            hs.receive_data(next(replies))
        else:
            assert step is socks.DONE
            break
    # The host name goes to the proxy (remote DNS), IDNA-encoded.
    assert sent == (
        b"\x05\x02\x00\x02" + b"\x01\x01u\x01p\x05\x01\x00\x03\x15xn--bcher-kva.example\x20\xfb"
    )


# -- ProxyConnector: what a new connection says before carrying requests -----------------


def run_connector(plan: Any, replies: list[bytes]) -> bytes:
    """Drive a connector against scripted proxy replies; returns what it sent."""
    connector = ProxyConnector(plan)
    sent = b""
    incoming = iter(replies)
    while (step := connector.next_step()) is not socks.DONE:
        if step is socks.SEND:
            sent += connector.data_to_send()
        else:
            connector.receive_data(next(incoming))
    assert connector.data_to_send() == b""
    return sent


def test_connector_forward_has_nothing_to_say() -> None:
    plan = plan_proxy(URL("http://example.com/"), "http://proxy:3128")
    assert run_connector(plan, []) == b""
    connector = ProxyConnector(plan)
    connector.receive_data(b"ignored")  # nothing is expected from a forward proxy here
    assert connector.next_step() is socks.DONE


@pytest.mark.parametrize("split", [1, 7, 1000])
def test_connector_opens_a_tunnel(split: int) -> None:
    plan = plan_proxy(URL("https://example.com/"), "http://u:p@proxy:3128")
    reply = b"HTTP/1.1 200 Connection established\r\n\r\n"
    sent = run_connector(plan, [reply[i : i + split] for i in range(0, len(reply), split)])
    assert sent.startswith(b"CONNECT example.com:443 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic dTpw\r\n" in sent


def test_connector_tunnel_refused_with_407() -> None:
    plan = plan_proxy(URL("https://example.com/"), "http://proxy:3128")
    with pytest.raises(ProxyError, match="407"):
        run_connector(plan, [b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"])


def test_connector_tunnel_malformed_answer_is_a_proxy_error() -> None:
    plan = plan_proxy(URL("https://example.com/"), "http://proxy:3128")
    with pytest.raises(ProxyError, match="malformed"):
        run_connector(plan, [b"NOT HTTP AT ALL\r\n\r\n"])
    with pytest.raises(ProxyError, match="malformed"):
        run_connector(plan, [b""])


def test_connector_tunnel_bytes_after_the_answer() -> None:
    plan = plan_proxy(URL("https://example.com/"), "http://proxy:3128")
    with pytest.raises(ProxyError, match="after opening the tunnel"):
        run_connector(plan, [b"HTTP/1.1 200 OK\r\n\r\nsurprise"])


def test_connector_socks5() -> None:
    plan = plan_proxy(URL("http://example.com/"), "socks5://proxy:1080")
    sent = run_connector(plan, [b"\x05\x00", b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"])
    assert sent.startswith(b"\x05")
    with pytest.raises(ProxyError, match="after its handshake"):
        run_connector(plan, [b"\x05\x00", b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50extra"])


# -- SOCKS4 and SOCKS4a ---------------------------------------------------------------

SOCKS4_OK = b"\x00\x5a\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("scheme", "url", "remote_dns", "resolve"),
    [
        ("socks4", "https://example.com/", False, True),  # the client resolves the name
        ("socks4", "http://192.0.2.7:8080/", False, False),  # an address needs nothing
        ("socks4a", "https://example.com/", True, False),  # the proxy resolves the name
        ("socks4a", "http://192.0.2.7/", True, False),
    ],
)
def test_socks4_plans(scheme: str, url: str, remote_dns: bool, resolve: bool) -> None:
    plan = plan_proxy(URL(url), f"{scheme}://alice@socks.test")
    assert plan.mode is ProxyMode.SOCKS4
    assert (plan.host, plan.port) == ("socks.test", 1080)
    assert plan.socks_auth == (b"alice", b"")  # the user id; SOCKS4 has no password
    assert plan.has_credentials
    assert plan.headers == ()
    assert plan.remote_dns is remote_dns
    assert plan.resolve_target is resolve
    assert (plan.origin_tls is not None) is url.startswith("https")


def test_socks4_keys_differ_from_4a_and_5() -> None:
    url = URL("https://example.com/")
    keys = {plan_proxy(url, f"{scheme}://s").key for scheme in ("socks4", "socks4a", "socks5")}
    assert len(keys) == 3
    assert plan_proxy(url, "socks4://a@s").key != plan_proxy(url, "socks4://b@s").key


def test_socks4_without_a_user_id() -> None:
    plan = plan_proxy(URL("http://example.com/"), "socks4a://s:1081")
    assert plan.port == 1081
    assert plan.socks_auth is None
    assert not plan.has_credentials
    sent = run_connector(plan, [SOCKS4_OK])
    assert sent == b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00"


@pytest.mark.parametrize(
    ("proxy", "match"),
    [
        (Proxy("socks4://alice:secret@s"), "SOCKS4 has no password"),
        (Proxy("socks4a://s", auth=("a\x00b", "")), "cannot contain NUL"),
        (Proxy("socks4://s", auth=("u" * 256, "")), "at most 255"),
    ],
)
def test_bad_socks4_settings(proxy: Proxy, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ProxyPlanner(proxy)


@pytest.mark.parametrize("scheme", ["socks4", "socks4a"])
def test_socks4_cannot_reach_ipv6(scheme: str) -> None:
    with pytest.raises(ProxyError, match=r"cannot reach the IPv6 address \[2001:db8::1\]"):
        plan_proxy(URL("https://[2001:db8::1]/"), f"{scheme}://s")
    # Through the planner a request fails the same way, before anything connects.
    with pytest.raises(ProxyError, match="use socks5://"):
        Planner(proxy=f"{scheme}://s").plan(Request("GET", "http://[::1]/"))


def test_socks4_connector_with_the_address_the_client_resolved() -> None:
    plan = plan_proxy(URL("https://example.com:8443/"), "socks4://alice@s")
    connector = ProxyConnector(plan, target_address="93.184.216.34")
    assert connector.next_step() is socks.SEND
    assert connector.data_to_send() == b"\x04\x01\x20\xfb\x5d\xb8\xd8\x22alice\x00"
    assert connector.next_step() is socks.RECEIVE
    connector.receive_data(SOCKS4_OK)
    assert connector.next_step() is socks.DONE


def test_socks4_connector_needs_the_resolved_address() -> None:
    plan = plan_proxy(URL("http://example.com/"), "socks4://s")
    with pytest.raises(ProxyError, match=r"needs 'example.com' resolved .* use socks4a://"):
        ProxyConnector(plan)
    with pytest.raises(ProxyError, match="resolved to '::1', not an IPv4 address"):
        ProxyConnector(plan, target_address="::1")
    with pytest.raises(ProxyError, match="not an IPv4 address"):
        ProxyConnector(plan, target_address="example.org")
    # An address target, or socks4a://, needs no resolving: the address is ignored.
    address_plan = plan_proxy(URL("http://192.0.2.1/"), "socks4://s")
    connector = ProxyConnector(address_plan, target_address="10.9.9.9")
    assert connector.data_to_send() == b"\x04\x01\x00\x50\xc0\x00\x02\x01\x00"


def test_socks4_connector_failures_name_the_proxy() -> None:
    plan = plan_proxy(URL("http://192.0.2.1/"), "socks4a://s")
    with pytest.raises(ProxyError, match="request rejected or failed"):
        run_connector(plan, [b"\x00\x5b" + bytes(6)])
    with pytest.raises(ProxyError, match=r"^the SOCKS4 proxy 'socks4a://s' sent bytes after"):
        run_connector(plan, [SOCKS4_OK + b"early"])


@pytest.mark.parametrize("scheme", ["socks4", "socks4a"])
def test_socks4_from_the_environment(scheme: str) -> None:
    table = build_proxy_map(environ={"ALL_PROXY": f"{scheme}://alice@proxy.test:1081"})
    proxy = table.lookup(URL("https://example.com/"), None)
    assert proxy is not None
    assert proxy.url == URL(f"{scheme}://proxy.test:1081")
    assert proxy.auth == ("alice", "")
    assert ProxyPlanner(proxy).plan(URL("https://example.com/")).mode is ProxyMode.SOCKS4
