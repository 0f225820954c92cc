"""Tests for `sansio.urls`: httpx 0.28's URL and QueryParams behaviour on a strict parser."""

from __future__ import annotations

import ipaddress
import pickle
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sansio import urls
from sansio.exceptions import InvalidURL
from sansio.urls import MAX_URL_LENGTH, URL, QueryParams, RawURL

# -- components of parsed URLs -----------------------------------------------------------

# url -> (scheme, userinfo, host, raw_host, port, netloc, path, raw_path, query, fragment, str)
PARSED = [
    (
        "https://www.example.com/",
        ("https", b"", "www.example.com", b"www.example.com", None, b"www.example.com"),
        ("/", b"/", b"", ""),
        "https://www.example.com/",
    ),
    (
        "https://example.org:123/path/to/somewhere?abc=123#anchor",
        ("https", b"", "example.org", b"example.org", 123, b"example.org:123"),
        ("/path/to/somewhere", b"/path/to/somewhere?abc=123", b"abc=123", "anchor"),
        "https://example.org:123/path/to/somewhere?abc=123#anchor",
    ),
    (
        "HTTPS://jo%40email.com:a%20secret@M\u00fcller.DE:1234/pa%20th?search=ab#anchorlink",
        ("https", b"jo%40email.com:a%20secret", "m\u00fcller.de", b"xn--mller-kva.de", 1234),
        ("/pa th", b"/pa%20th?search=ab", b"search=ab", "anchorlink"),
        "https://jo%40email.com:a%20secret@xn--mller-kva.de:1234/pa%20th?search=ab#anchorlink",
    ),
    (
        "https://www.example.com/path?",
        ("https", b"", "www.example.com", b"www.example.com", None, b"www.example.com"),
        ("/path", b"/path?", b"", ""),
        "https://www.example.com/path?",
    ),
    (
        "HTTP://A.com:80",
        ("http", b"", "a.com", b"a.com", None, b"a.com"),
        ("/", b"/", b"", ""),
        "http://a.com",
    ),
    (
        "://example.com",
        ("", b"", "example.com", b"example.com", None, b"example.com"),
        ("/", b"/", b"", ""),
        "//example.com",
    ),
    ("http://", ("http", b"", "", b"", None, b""), ("/", b"/", b"", ""), "http:"),
    ("http://a:/", ("http", b"", "a", b"a", None, b"a"), ("/", b"/", b"", ""), "http://a/"),
    (
        "http://a:0080/",
        ("http", b"", "a", b"a", None, b"a"),
        ("/", b"/", b"", ""),
        "http://a/",
    ),
    (
        "wss://a:443/",
        ("wss", b"", "a", b"a", None, b"a"),
        ("/", b"/", b"", ""),
        "wss://a/",
    ),
    (
        "ftp://a:22/",
        ("ftp", b"", "a", b"a", 22, b"a:22"),
        ("/", b"/", b"", ""),
        "ftp://a:22/",
    ),
    (
        "custom+v1.0://a:80/",
        ("custom+v1.0", b"", "a", b"a", 80, b"a:80"),
        ("/", b"/", b"", ""),
        "custom+v1.0://a:80/",
    ),
    (
        "http://[::FFFF:192.168.0.1]:5678/",
        ("http", b"", "::ffff:192.168.0.1", b"::ffff:192.168.0.1", 5678),
        ("/", b"/", b"", ""),
        "http://[::ffff:192.168.0.1]:5678/",
    ),
    ("/path/to/x", ("", b"", "", b"", None, b""), ("/path/to/x", b"/path/to/x", b"", ""), None),
    ("../abc", ("", b"", "", b"", None, b""), ("../abc", b"../abc", b"", ""), None),
    ("", ("", b"", "", b"", None, b""), ("/", b"/", b"", ""), ""),
    ("?x=1", ("", b"", "", b"", None, b""), ("/", b"/?x=1", b"x=1", ""), None),
    ("#frag", ("", b"", "", b"", None, b""), ("/", b"/", b"", "frag"), None),
    ("http:example.com", ("http", b"", "", b"", None, b""), ("example.com", b"example.com"), None),
    ("localhost:8000", ("localhost", b"", "", b"", None, b""), ("8000", b"8000"), None),
    ("mailto:a@b.c", ("mailto", b"", "", b"", None, b""), ("a@b.c", b"a@b.c"), None),
    ("file:///etc/hosts", ("file", b"", "", b"", None, b""), ("/etc/hosts",), "file:/etc/hosts"),
    ("http:////x", ("http", b"", "", b"", None, b""), ("//x", b"//x"), "http:////x"),
    (
        " http://a",
        ("", b"", "", b"", None, b""),
        (" http://a", b"%20http://a"),
        "%20http://a",
    ),
    (
        "1abc:def",
        ("", b"", "", b"", None, b""),
        ("1abc:def", b"1abc:def"),
        None,
    ),
    (
        "http://a@b@c/",
        ("http", b"a%40b", "c", b"c", None, b"c"),
        ("/", b"/"),
        "http://a%40b@c/",
    ),
    (
        "http://user name:p[w]@a/",
        ("http", b"user%20name:p%5Bw%5D", "a", b"a", None, b"a"),
        ("/", b"/"),
        "http://user%20name:p%5Bw%5D@a/",
    ),
    (
        "http://a/a/b/c/./../../g",
        ("http", b"", "a", b"a", None, b"a"),
        ("/a/g", b"/a/g"),
        "http://a/a/g",
    ),
    ("http://a/b/c/..", ("http", b"", "a", b"a", None, b"a"), ("/b/", b"/b/"), "http://a/b/"),
    ("http://a/b/c/.", ("http", b"", "a", b"a", None, b"a"), ("/b/c/", b"/b/c/"), "http://a/b/c/"),
    ("http://a/../abc", ("http", b"", "a", b"a", None, b"a"), ("/abc", b"/abc"), "http://a/abc"),
    ("http://a/..", ("http", b"", "a", b"a", None, b"a"), ("/", b"/"), "http://a/"),
    ("http://a/.well-known/x", ("http", b"", "a", b"a", None, b"a"), ("/.well-known/x",), None),
    (
        "https://example.com/ /\U0001f31f/",
        ("https", b"", "example.com", b"example.com", None, b"example.com"),
        ("/ /\U0001f31f/", b"/%20/%F0%9F%8C%9F/"),
        "https://example.com/%20/%F0%9F%8C%9F/",
    ),
]


@pytest.mark.parametrize(("text", "authority", "rest", "expected_str"), PARSED)
def test_parsed_components(
    text: str, authority: tuple[Any, ...], rest: tuple[Any, ...], expected_str: str | None
) -> None:
    url = URL(text)
    got_authority = (url.scheme, url.userinfo, url.host, url.raw_host, url.port, url.netloc)
    assert got_authority[: len(authority)] == authority
    got_rest = (url.path, url.raw_path, url.query, url.fragment)
    assert got_rest[: len(rest)] == rest
    assert str(url) == (text if expected_str is None else expected_str)
    assert url.raw_scheme == url.scheme.encode()


def test_username_and_password_are_unescaped() -> None:
    url = URL("https://jo%40email.com:a%20secret@example.com/")
    assert url.username == "jo@email.com"
    assert url.password == "a secret"
    assert URL("http://u@h/").password == ""
    assert URL("http://:p@h/").username == ""


@pytest.mark.parametrize(
    ("text", "raw_path", "path", "query", "fragment"),
    [
        # Path, query and fragment each have their own WHATWG percent-encode set.
        (
            "https://e.com/!$&'()*+,;= :/[]@{}`|^\"<>\u00e9",
            b"/!$&'()*+,;=%20:/[]@%7B%7D%60|^%22%3C%3E%C3%A9",
            "/!$&'()*+,;= :/[]@{}`|^\"<>\u00e9",
            b"",
            "",
        ),
        (
            "https://e.com/?!$&'()*+,;= :/[]@?{}`|^\"<>\u00e9",
            b"/?!$&'()*+,;=%20:/[]@?{}`|^%22%3C%3E%C3%A9",
            "/",
            b"!$&'()*+,;=%20:/[]@?{}`|^%22%3C%3E%C3%A9",
            "",
        ),
        (
            "https://e.com/#!$&'()*+,;= :/[]@?#{}`|^\"<>\u00e9",
            b"/",
            "/",
            b"",
            "!$&'()*+,;= :/[]@?#{}`|^\"<>\u00e9",
        ),
        # Existing escapes stay; so does a "%" that starts no escape (WHATWG, httpx).
        ("http://a/%zz%41%", b"/%zz%41%", "/%zzA%", b"", ""),
        # Bytes that are not UTF-8 read back as U+FFFD.
        ("http://a/%C3%28%FFx%C3%A9", b"/%C3%28%FFx%C3%A9", "/\ufffd(\ufffdx\u00e9", b"", ""),
        ("http://a/%C3%A9%zz", b"/%C3%A9%zz", "/\u00e9%zz", b"", ""),
    ],
)
def test_percent_encoding(
    text: str, raw_path: bytes, path: str, query: bytes, fragment: str
) -> None:
    url = URL(text)
    assert (url.raw_path, url.path, url.query, url.fragment) == (raw_path, path, query, fragment)


# -- relative references (RFC 3986 §5.4) ---------------------------------------------------

RFC3986_BASE = "http://a/b/c/d;p?q"

RFC3986_NORMAL = [
    ("g:h", "g:h"),
    ("g", "http://a/b/c/g"),
    ("./g", "http://a/b/c/g"),
    ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"),
    ("//g", "http://g"),
    ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"),
    ("#s", "http://a/b/c/d;p?q#s"),
    ("g#s", "http://a/b/c/g#s"),
    ("g?y#s", "http://a/b/c/g?y#s"),
    (";x", "http://a/b/c/;x"),
    ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y#s"),
    ("", "http://a/b/c/d;p?q"),
    (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"),
    ("..", "http://a/b/"),
    ("../", "http://a/b/"),
    ("../g", "http://a/b/g"),
    ("../..", "http://a/"),
    ("../../", "http://a/"),
    ("../../g", "http://a/g"),
]

RFC3986_ABNORMAL = [
    ("../../../g", "http://a/g"),
    ("../../../../g", "http://a/g"),
    ("/./g", "http://a/g"),
    ("/../g", "http://a/g"),
    ("g.", "http://a/b/c/g."),
    (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."),
    ("..g", "http://a/b/c/..g"),
    ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"),
    ("g/./h", "http://a/b/c/g/h"),
    ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
    ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"),
    ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g#s/./x"),
    ("g#s/../x", "http://a/b/c/g#s/../x"),
    # The strict reading of §5.4.2: a scheme in the reference always wins.
    ("http:g", "http:g"),
]


@pytest.mark.parametrize(("reference", "target"), RFC3986_NORMAL + RFC3986_ABNORMAL)
def test_join_rfc3986_examples(reference: str, target: str) -> None:
    base = URL(RFC3986_BASE)
    assert str(base.join(reference)) == target
    assert str(base.join(URL(reference))) == target


@pytest.mark.parametrize(
    ("base", "reference", "target"),
    [
        ("https://example.org:123/path/to/somewhere", "/else", "https://example.org:123/else"),
        ("https://example.org:123/path/to/x", "../y", "https://example.org:123/path/y"),
        ("/path/to/somewhere", "somewhere-else", "/path/to/somewhere-else"),
        ("/path/to/somewhere", "../../x", "/x"),
        ("/path/to/somewhere", "/x", "/x"),
        ("https://example.com/?[]", "/", "https://example.com/"),
        # An empty base path under an authority merges as "/" (RFC 3986 §5.2.3).
        ("http://a", "g", "http://a/g"),
        ("http://a", "", "http://a"),
        ("http://a/b#f", "", "http://a/b"),
        ("http://a/b?q#f", "#g", "http://a/b?q#g"),
        # A reference authority takes the base scheme, and its default port with it.
        ("https://a/b", "//c:443/d/../e", "https://c/e"),
        ("https://a/b", "//u:p@c:8443", "https://u:p@c:8443"),
        ("http://a/b", "https://c/d", "https://c/d"),
        # A base with no authority: the merge keeps what is there.
        ("mailto:x/y", "z", "mailto:x/z"),
        ("foo:/a", ".//x", "foo:////x"),
        ("rel/dir/x", "../y", "rel/y"),
        ("a/b", "../../../c", "/c"),
    ],
)
def test_join_more(base: str, reference: str, target: str) -> None:
    joined = URL(base).join(reference)
    assert str(joined) == target
    assert URL(str(joined)) == joined


def test_join_refuses_an_unwritable_result() -> None:
    # No scheme, no authority and a "//" path would read back as a host.
    with pytest.raises(InvalidURL, match="'//'"):
        URL("/a").join(".//x")


def test_join_invalid_reference() -> None:
    with pytest.raises(InvalidURL):
        URL("http://a/").join("http://a b/")


# -- hosts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("1.", "0.0.0.1"),
        ("0x", "0.0.0.0"),
        ("0", "0.0.0.0"),
        ("00", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("4294967295", "255.255.255.255"),
        ("1.16777215", "1.255.255.255"),
        ("1.2.65535", "1.2.255.255"),
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),  # fullwidth digits map first
    ],
)
def test_ipv4_hosts_are_normalised(host: str, normalised: str) -> None:
    url = URL(f"http://{host}:8080/")
    assert url.host == normalised
    assert url.raw_host == normalised.encode()
    assert str(url) == f"http://{normalised}:8080/"


@pytest.mark.parametrize(
    "host",
    [
        "256.0.0.1",
        "999.999.999.999",
        "4294967296",
        "1.2.3.4.5",
        "1.2.3.256",
        "1.16777216",
        "1.2.65536",
        "0x100.0",
        "1.2.3.0x100",
        "1..2",
        "foo.123",
        "foo.0x1f",
        "09.1",
        "0x1g.1",
        "9" * 5000,  # int() would refuse this many digits: still a clean InvalidURL
    ],
)
def test_ipv4_out_of_range_or_malformed_is_refused(host: str) -> None:
    with pytest.raises(InvalidURL, match="Invalid IPv4 address"):
        URL(f"http://{host}/")


def test_ipv4_error_message_matches_httpx() -> None:
    with pytest.raises(InvalidURL) as info:
        URL("https://999.999.999.999/")
    assert str(info.value) == "Invalid IPv4 address: '999.999.999.999'"


@pytest.mark.parametrize(
    "host", ["023b76x43144", "1.2.3.a", "0x.a", "example.123a", "1.2.3.a.", "x0x1", "0x1g"]
)
def test_hosts_not_ending_in_a_number_are_names(host: str) -> None:
    assert URL(f"http://{host}/").host == host


@pytest.mark.parametrize(
    ("given", "host", "raw_host"),
    [
        ("\u4e2d\u56fd.icom.museum", "\u4e2d\u56fd.icom.museum", b"xn--fiqs8s.icom.museum"),
        ("xn--fiqs8s.icom.museum", "\u4e2d\u56fd.icom.museum", b"xn--fiqs8s.icom.museum"),
        ("K\u00f6nigsg\u00e4\u00dfchen.de", "k\u00f6nigsg\u00e4\u00dfchen.de", None),
        ("fa\u00df.de", "fa\u00df.de", b"xn--fa-hia.de"),
        ("\u03b2\u03cc\u03bb\u03bf\u03c2.com", "\u03b2\u03cc\u03bb\u03bf\u03c2.com", None),
        ("www.XN--MLLER-KVA.de", "www.m\u00fcller.de", b"www.xn--mller-kva.de"),
        ("www.m\u00fcller.de", "www.m\u00fcller.de", b"www.xn--mller-kva.de"),
        # UTS #46 mapping: fullwidth letters and the ideographic full stop.
        ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\u3002com", "example.com", b"example.com"),
        ("\u00dc.de", "\u00fc.de", b"xn--tda.de"),
        ("exa\u200bmple.com", "example.com", b"example.com"),  # UTS #46 drops ZWSP
    ],
)
def test_idna_hosts(given: str, host: str, raw_host: bytes | None) -> None:
    url = URL(f"https://{given}:4433/")
    assert url.host == host
    if raw_host is not None:
        assert url.raw_host == raw_host
    assert url.raw_host.isascii()
    assert URL(f"https://{url.raw_host.decode()}:4433/") == url
    assert url.port == 4433


@pytest.mark.parametrize(
    "host", ["\u2603.com", "\U0001f607", "xn--zz.com", "a.xn--zz", "a..\u00fc"]
)
def test_bad_idna_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidURL, match="Invalid IDNA hostname"):
        URL(f"https://{host}/")


@pytest.mark.parametrize("host", ["xn--tda.-", "xn--tda.a_b", "-.xn--tda", "xn--tda.x-.de"])
def test_a_display_host_no_parser_would_take_back_stays_ascii(host: str) -> None:
    # IDNA refuses the other labels, so "ü.-" could not be parsed back: URL.host must
    # name the same host as URL.raw_host, wherever it is compared (cookies, redirects).
    url = URL(f"http://{host}/")
    assert url.host == url.raw_host.decode() == host
    assert urls.canonical_host(url.host) == host
    assert URL("http://other/").copy_with(host=url.host) == url


def test_idna_error_message_matches_httpx() -> None:
    with pytest.raises(InvalidURL) as info:
        URL("https://\u2603.com/")
    assert str(info.value) == "Invalid IDNA hostname: '\u2603.com'"


@pytest.mark.parametrize(
    ("literal", "host"),
    [
        ("[::1]", "::1"),
        ("[2001:DB8::FF00:42:8329]", "2001:db8::ff00:42:8329"),
        ("[::ffff:192.168.0.1]", "::ffff:192.168.0.1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
    ],
)
def test_ipv6_literals(literal: str, host: str) -> None:
    url = URL(f"http://{literal}:8080/x")
    assert url.host == host
    assert url.raw_host == host.encode()
    assert url.netloc == f"[{host}]:8080".encode()
    assert str(url) == f"http://[{host}]:8080/x"
    assert URL(f"http://{literal}/").netloc == f"[{host}]".encode()


@pytest.mark.parametrize(
    ("authority", "message"),
    [
        ("[2001]", "Invalid IPv6 address: '[2001]'"),
        ("[]", "Invalid IPv6 address"),
        ("[::1", "Invalid IPv6 address"),
        ("[v1.fe]", "Invalid IPv6 address"),
        ("[::1%25eth0]", "Invalid IPv6 address"),  # zone identifiers are refused
        ("[fe80::1%eth0]", "Invalid IPv6 address"),
        ("[1.2.3.4]", "Invalid IPv6 address"),
        ("[::1]x", "after IPv6 address"),
        ("[::1]]", "after IPv6 address"),
        ("u:p@[invalid!]", "Invalid IPv6 address"),
    ],
)
def test_bad_ipv6_literals(authority: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message.replace("[", r"\[").replace("]", r"\]")):
        URL(f"https://{authority}/")


@pytest.mark.parametrize(
    ("literal", "canonical"),
    [
        # RFC 5952 §4: lower case, no leading zeros, the longest run of zero groups
        # compressed (the leftmost on a tie), a single zero group left alone.
        ("0:0::1", "::1"),
        ("0000:0000:0000:0000:0000:0000:0000:0001", "::1"),
        ("::", "::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::0:1", "2001:db8::1"),
        # §5: IPv4-mapped addresses keep the dotted quad, however they were written.
        ("::FFFF:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:0102:0304", "::ffff:1.2.3.4"),
        ("0:0:0:0:0:ffff:102:304", "::ffff:1.2.3.4"),
        ("::1.2.3.4", "::102:304"),  # IPv4-compatible (deprecated): plain hex
    ],
)
def test_ipv6_hosts_are_canonicalised(literal: str, canonical: str) -> None:
    url = URL(f"http://[{literal}]:8080/")
    assert url.host == canonical
    assert url.raw_host == canonical.encode()
    assert url.netloc == f"[{canonical}]:8080".encode()
    assert url.origin == ("http", canonical.encode(), 8080)
    assert url == URL(f"http://[{canonical}]:8080/")
    assert URL(host=literal).host == canonical
    assert URL("http://x/").copy_with(host=f"[{literal}]").host == canonical


def test_ipv6_zone_identifiers_are_refused_in_every_spelling() -> None:
    # A zone names an interface of the client machine; WHATWG refuses it, httpx passes
    # "%25eth0" through to the Host header. conch refuses it, whichever way it comes.
    for url in ("http://[fe80::1%25eth0]/", "http://[fe80::1%eth0]/", "http://[fe80::1%251]/"):
        with pytest.raises(InvalidURL, match="Invalid IPv6 address"):
            URL(url)
    with pytest.raises(InvalidURL, match="Invalid IPv6 address"):
        URL(host="fe80::1%eth0")
    with pytest.raises(InvalidURL, match="Invalid IPv6 address"):
        urls.canonical_host("fe80::1%eth0")


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("a..b", "empty label"),
        (".a", "empty label"),
        ("a..", "empty label"),
        (".", "empty label"),
        ("..", "empty label"),
        ("1.2.3.4..", "empty label"),
        ("a" * 64 + ".com", "a label longer than 63 characters"),
        ("www." + "b" * 64, "a label longer than 63 characters"),
        (".".join(["a" * 63] * 4), "longer than 253 characters"),
        ("a." * 127 + "a", "longer than 253 characters"),  # 255 characters
        ("xn--" + "a" * 60 + ".com", "a label longer than 63 characters"),
    ],
)
def test_host_names_dns_cannot_carry_are_refused(host: str, problem: str) -> None:
    # The stdlib's idna codec (used by socket and ssl) would raise UnicodeError later.
    with pytest.raises(InvalidURL, match=f"Invalid host name .*: {problem}"):
        URL(f"http://{host}/")
    with pytest.raises(InvalidURL, match=problem):
        URL("http://ok/").copy_with(host=host)
    with pytest.raises(InvalidURL, match=problem):
        URL("http://ok/").join(f"//{host}/")


@pytest.mark.parametrize(
    "host",
    [
        "a" * 63 + ".com",  # a label at the limit
        ".".join(["a" * 63] * 3) + "." + "a" * 61,  # 253 characters: the limit
        ".".join(["a" * 63] * 3) + "." + "a" * 61 + ".",  # and its root dot
        "example.com.",
        "a",
        "a.",
    ],
)
def test_host_names_at_the_dns_limits_are_kept(host: str) -> None:
    url = URL(f"http://{host}/")
    assert url.host == host
    assert url.raw_host.decode().encode("idna")  # what the resolver will do with it


def test_unicode_host_names_are_held_to_the_dns_limits_after_encoding() -> None:
    label = "\u00fc" * 57  # 57 characters, 63 once IDNA-encoded ("xn--" + 59)
    assert len(URL(f"http://{label}.de/").raw_host.split(b".")[0]) <= 63
    with pytest.raises(InvalidURL):
        URL(f"http://{label}\u00fc\u00fc\u00fc.de/")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("", ""),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com."),
        ("fa\u00df.de", "xn--fa-hia.de"),  # UTS #46 (IDNA 2008): not "fass.de"
        ("FASS.de", "fass.de"),
        ("\u03c3\u03bf\u03c6\u03bf\u03c2.gr", "xn--0xaajbq.gr"),  # final sigma kept
        ("\u03c3\u03bf\u03c6\u03bf\u03c3.gr", "xn--0xaakcn.gr"),  # IDNA 2003 gives both this
        ("xn--fa-hia.de", "xn--fa-hia.de"),
        ("0x7f.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[0:0::1]", "::1"),
        ("::FFFF:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_canonical_host_is_what_urls_hold(given: str, canonical: str) -> None:
    assert urls.canonical_host(given) == canonical
    if given:
        host = given if ":" not in given or given[0] == "[" else f"[{given}]"
        assert URL(f"http://{host}/").raw_host == canonical.encode()


@pytest.mark.parametrize(
    "host",
    ["a b", "a..b", "\u2603.com", "a\x00b", "\ud800", "[::1", "1.2.3.256", "a:b", "x" * 70000],
)
def test_canonical_host_refuses_what_urls_refuse(host: str) -> None:
    with pytest.raises(InvalidURL):
        urls.canonical_host(host)


def test_cve_2021_41945_copy_with_cannot_smuggle_a_host() -> None:
    with pytest.raises(InvalidURL):
        URL("https://u:p@[invalid!]//evilHost/path?t=w#tw")
    url = URL("https://example.com/path?t=w#tw")
    with pytest.raises(InvalidURL):
        url.copy_with(scheme="https://xxxx:xxxx@xxxxxxx/xxxxx/xxx?x=x#xxxxx")


@pytest.mark.parametrize("char", [*' %<>"`{}|^[]', "\u00a0x"])
def test_characters_not_allowed_in_a_host(char: str) -> None:
    with pytest.raises(InvalidURL, match="host"):
        URL(f"http://exa{char}mple.com/")


@pytest.mark.parametrize("host", ["a_b.example", "x~y", "*.example.com", "a!$&'()*+,;=b", "A-B"])
def test_reg_name_characters_are_allowed(host: str) -> None:
    assert URL(f"http://{host}/").host == host.lower()


def test_host_error_names_the_character() -> None:
    with pytest.raises(InvalidURL) as info:
        URL("http://exa mple.com/")
    assert str(info.value) == "Invalid character ' ' in host 'exa mple.com'"


def test_long_inputs_are_cut_short_in_messages() -> None:
    host = "a" * 200 + " "
    with pytest.raises(InvalidURL) as info:
        URL(f"http://{host}/")
    assert str(info.value) == f"Invalid character ' ' in host {'a' * 80!r}... (201 characters)"


@pytest.mark.parametrize(
    "url", ["http://evil.com\\@good.com/", "http://a\\b/", "http://u\\:p@h/", "//a\\b"]
)
def test_backslash_in_authority_is_refused(url: str) -> None:
    with pytest.raises(InvalidURL, match="backslash"):
        URL(url)


def test_backslash_in_path_is_data() -> None:
    assert URL("http://a/b\\c").raw_path == b"/b\\c"


# -- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "expected"),
    [("0", 0), ("1", 1), ("8080", 8080), ("65535", 65535), ("000065535", 65535), ("00", 0)],
)
def test_valid_ports(port: str, expected: int) -> None:
    assert URL(f"http://a:{port}/").port == expected


@pytest.mark.parametrize(
    "port",
    ["65536", "99999", "100000", "1" + "0" * 5000, "abc", "+80", "-1", " 80", "80 ", "8_0", "8.0",
     "\uff18\uff10", "\u0668\u0660", "80:90", "0x50"],
)  # fmt: skip
def test_invalid_ports(port: str) -> None:
    with pytest.raises(InvalidURL, match="Invalid port"):
        URL(f"http://a:{port}/")


def test_invalid_port_message_matches_httpx() -> None:
    with pytest.raises(InvalidURL) as info:
        URL("https://example.com:abc/")
    assert str(info.value) == "Invalid port: 'abc'"


@pytest.mark.parametrize("port", [-1, 65536, 10**30])
def test_invalid_port_component(port: int) -> None:
    with pytest.raises(InvalidURL, match="Invalid port"):
        URL("http://a/", port=port)


def test_port_component_bool_becomes_int() -> None:
    port = URL("http://a/", port=True).port
    assert port == 1
    assert type(port) is int


# -- control characters and limits ------------------------------------------------------

CONTROL_CHARS = [chr(i) for i in range(0x20)] + ["\x7f"]


@pytest.mark.parametrize("char", CONTROL_CHARS)
@pytest.mark.parametrize(
    "template", ["{}http://a/", "http{}://a/", "http://a{}/", "http://a/{}", "http://a/?{}", "/#{}"]
)
def test_control_characters_anywhere_are_refused(char: str, template: str) -> None:
    text = template.format(char)
    with pytest.raises(InvalidURL) as info:
        URL(text)
    assert str(info.value) == (
        f"Invalid non-printable ASCII character in URL, {char!r} at position {text.index(char)}."
    )


@pytest.mark.parametrize("char", CONTROL_CHARS)
@pytest.mark.parametrize("key", ["scheme", "host", "path", "fragment", "username", "password"])
def test_control_characters_in_components_are_refused(char: str, key: str) -> None:
    with pytest.raises(InvalidURL) as info:
        URL("http://a/", **{key: f"x{char}"})
    assert str(info.value) == (
        f"Invalid non-printable ASCII character in URL {key} component, {char!r} at position 1."
    )


@pytest.mark.parametrize("key", ["query", "userinfo", "raw_path", "netloc"])
def test_control_characters_in_bytes_components_are_refused(key: str) -> None:
    with pytest.raises(InvalidURL, match=f"in URL {key} component"):
        URL("http://a/", **{key: b"x\r\nInjected: yes"})


def test_unpaired_surrogates_are_refused() -> None:
    with pytest.raises(InvalidURL, match="surrogate"):
        URL("http://a/\ud800")
    with pytest.raises(InvalidURL, match="surrogate"):
        URL("http://a/", path="/\udfff")


def test_other_non_printable_unicode_is_escaped_not_refused() -> None:
    url = URL("http://a/\u00a0\u2028")
    assert url.raw_path == b"/%C2%A0%E2%80%A8"


def test_url_length_limit() -> None:
    prefix = "https://www.example.com/"
    at_limit = prefix + "x" * (MAX_URL_LENGTH - len(prefix))
    assert len(str(URL(at_limit))) == MAX_URL_LENGTH
    with pytest.raises(InvalidURL) as info:
        URL(at_limit + "x")
    assert str(info.value) == "URL too long"
    with pytest.raises(InvalidURL, match="URL too long"):
        URL(at_limit + "x", path="/")  # with components too


def test_component_length_limit() -> None:
    path = "/" + "x" * (MAX_URL_LENGTH - 1)
    assert URL("https://www.example.com", path=path).path == path
    with pytest.raises(InvalidURL) as info:
        URL("https://www.example.com", path=path + "x")
    assert str(info.value) == "URL component 'path' too long"


def test_url_length_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urls, "MAX_URL_LENGTH", 20)
    assert str(URL("http://example.com/x")) == "http://example.com/x"  # 20 characters
    with pytest.raises(InvalidURL, match="URL too long"):
        URL("http://example.com/xy")
    with pytest.raises(InvalidURL, match="component 'path' too long"):
        URL("http://a/", path="/" + "x" * 20)


# -- relative paths and path shapes ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "//abc"}, "Relative URLs cannot have a path starting with '//'"),
        ({"path": ":abc"}, "Relative URLs cannot have a path starting with ':'"),
        ({"path": "a:b"}, "would read back as scheme 'a'"),
        ({"host": "example.com", "path": "abc"}, "path must be empty or begin with '/'"),
    ],
)
def test_path_shape_rules(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        URL(**kwargs)


def test_relative_path_shapes_that_are_fine() -> None:
    assert URL(path="abc").path == "abc"
    assert URL(path="a/b:c").path == "a/b:c"
    assert URL(path="1a:b").path == "1a:b"  # "1a" is not a scheme


def test_a_colon_after_the_empty_scheme_is_refused() -> None:
    with pytest.raises(InvalidURL, match="':'"):
        URL("::")  # the leading ":" is httpx's empty scheme; then ":" starts the path


def test_leading_colon_is_an_empty_scheme_like_httpx() -> None:
    url = URL(":foo")
    assert (url.scheme, url.path, str(url)) == ("", "foo", "foo")


def test_dot_segments_stay_in_relative_urls() -> None:
    assert URL("../a/./b").path == "../a/./b"
    assert URL("a/..").raw_path == b"a/.."


def test_rootless_path_with_scheme_loses_dot_segments() -> None:
    assert URL("foo:a/../b").path == "/b"
    assert URL("foo:./x").path == "x"
    assert URL("foo:../x").path == "x"
    assert URL("foo:..").path == "/"
    assert URL("foo:a/.").path == "a/"


# -- constructor keywords and copy_with --------------------------------------------------


def test_url_from_components() -> None:
    url = URL(scheme="https", host="www.example.com", path="/")
    assert (url.scheme, url.userinfo, url.host, url.port, url.path) == (
        "https",
        b"",
        "www.example.com",
        None,
        "/",
    )
    assert (url.query, url.fragment, str(url)) == (b"", "", "https://www.example.com/")


def test_copy_with_sequence() -> None:
    url = URL("https://www.example.com/")
    assert url.copy_with() == url
    url = url.copy_with(scheme="HTTP")
    assert str(url) == "http://www.example.com/"
    url = url.copy_with(netloc=b"example.com")
    assert str(url) == "http://example.com/"
    url = url.copy_with(path="/abc")
    assert str(url) == "http://example.com/abc"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"username": "username", "password": "password", "port": 444, "host": "example.net"},
            "https://username:password@example.net:444",
        ),
        ({"netloc": b"example.net:444"}, "https://example.net:444"),
        ({"netloc": b"[::1]:444"}, "https://[::1]:444"),
        ({"netloc": None}, "https:"),
        ({"path": "/path to somewhere"}, "https://example.org/path%20to%20somewhere"),
        ({"query": b"a=123"}, "https://example.org?a=123"),
        ({"query": b"a b"}, "https://example.org?a%20b"),
        ({"raw_path": b"/some/path"}, "https://example.org/some/path"),
        ({"raw_path": b"/some/path?"}, "https://example.org/some/path?"),
        ({"raw_path": b"/some/path?a=123"}, "https://example.org/some/path?a=123"),
        ({"raw_path": None}, "https://example.org"),
        ({"fragment": "a#b c"}, "https://example.org#a#b%20c"),
        ({"host": "::ffff:192.168.0.1"}, "https://[::ffff:192.168.0.1]"),
        ({"host": "[::ffff:192.168.0.1]"}, "https://[::ffff:192.168.0.1]"),
        ({"host": "M\u00fcller.de"}, "https://xn--mller-kva.de"),
        ({"host": None}, "https:"),
        ({"port": 443}, "https://example.org"),
        ({"port": 8443}, "https://example.org:8443"),
        ({"scheme": "http", "port": 443}, "http://example.org:443"),
        ({"scheme": None}, "//example.org"),
        ({"userinfo": b"a:b"}, "https://a:b@example.org"),
        ({"userinfo": b"a b"}, "https://a%20b@example.org"),
        ({"userinfo": None}, "https://example.org"),
        ({"path": None}, "https://example.org"),
        ({"params": {"a": "b c", "d": "e/f"}}, "https://example.org?a=b+c&d=e%2Ff"),
        ({"params": "x=1"}, "https://example.org?x=1"),
        ({"params": {}}, "https://example.org"),
        ({"params": None}, "https://example.org"),
    ],
)
def test_copy_with_components(kwargs: dict[str, Any], expected: str) -> None:
    url = URL("https://example.org")
    assert str(url.copy_with(**kwargs)) == expected
    assert str(URL("https://example.org", **kwargs)) == expected


def test_copy_with_username_and_password_are_escaped_exactly() -> None:
    url = URL("https://example.org").copy_with(username="tom@example.org", password="a:b@ %41")
    assert str(url) == "https://tom%40example.org:a%3Ab%40%20%2541@example.org"
    assert url.userinfo == b"tom%40example.org:a%3Ab%40%20%2541"
    assert (url.username, url.password) == ("tom@example.org", "a:b@ %41")


def test_copy_with_keeps_the_other_credential() -> None:
    url = URL("http://alice:secret@h/")
    assert str(url.copy_with(password="new")) == "http://alice:new@h/"
    assert str(url.copy_with(username="bob")) == "http://bob:secret@h/"
    assert str(url.copy_with(password=None)) == "http://alice@h/"
    assert str(url.copy_with(username=None, password=None)) == "http://h/"
    assert str(url.copy_with(userinfo=b"x:y", password="z")) == "http://x:z@h/"
    assert str(URL("http://a@b:c@h/", password="z")) == "http://a%40b:z@h/"
    assert str(url.copy_with(userinfo=None, password="z")) == "http://:z@h/"


def test_params_replace_the_query_and_raw_path_wins() -> None:
    assert str(URL("https://a/p?b=456", params={"a": "123"})) == "https://a/p?a=123"
    assert str(URL("https://a/p?b=4", params=None)) == "https://a/p"
    assert str(URL("https://a/p", params={"a": 1}, raw_path=b"/q?z")) == "https://a/q?z"
    assert str(URL("https://a/p", query=b"x", params={"a": 1})) == "https://a/p?a=1"


def test_params_are_encoded_like_httpx() -> None:
    assert str(URL("http://w", params={"u": "with spaces"})) == "http://w?u=with+spaces"
    assert str(URL("http://w", params={"u": "with%20spaces"})) == "http://w?u=with%2520spaces"


def test_netloc_wins_over_host_and_port() -> None:
    url = URL("http://a/", host="b", port=1, netloc=b"c:2")
    assert (url.host, url.port) == ("c", 2)


def test_scheme_change_renormalises_the_port() -> None:
    assert URL("http://a:443/").copy_with(scheme="https").port is None
    assert URL("https://a/").copy_with(scheme="http").port is None
    assert URL("http://a:8080/").copy_with(scheme="https").port == 8080


def test_copy_with_relative_to_absolute_normalises_the_path() -> None:
    url = URL("/a/b/../c").copy_with(scheme="http", host="h")
    assert str(url) == "http://h/a/c"


def test_copy_with_leaves_the_original_alone() -> None:
    url = URL("http://a/?x=1")
    assert url.params["x"] == "1"
    str(url)
    url.copy_with(path="/b", params={"y": 2})
    assert str(url) == "http://a/?x=1"
    assert url.params == QueryParams("x=1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "/a?b"}, "Invalid URL component 'path'"),
        ({"path": "/a#b"}, "Invalid URL component 'path'"),
        ({"raw_path": b"/a#b"}, "Invalid URL component 'path'"),
        ({"query": b"a#b"}, "Invalid URL component 'query'"),
        ({"raw_path": b"/a?b#c"}, "Invalid URL component 'query'"),
        ({"userinfo": b"a@b"}, "Invalid URL component 'userinfo'"),
        ({"scheme": "1http"}, "Invalid URL component 'scheme'"),
        ({"scheme": "ht tp"}, "Invalid URL component 'scheme'"),
        ({"host": "a/b"}, "Invalid character '/' in host"),
        ({"host": "a@b"}, "Invalid character '@' in host"),
        ({"netloc": b"a:b"}, "Invalid port"),
        ({"netloc": b"u@h"}, "Invalid character '@' in host"),
        ({"host": "a:b"}, "Invalid IPv6 address"),
        ({"host": "[::1"}, "Invalid IPv6 address"),
        ({"query": b"\xff"}, "Invalid non-ASCII bytes in URL component 'query'"),
        ({"netloc": b"a" + b"\xc3\xa9"}, "Invalid non-ASCII bytes"),
    ],
)
def test_invalid_components(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        URL("http://a/").copy_with(**kwargs)


def test_keyword_type_errors() -> None:
    with pytest.raises(TypeError) as info:
        URL(scheme="https", host="www.example.com", incorrect="/")
    assert str(info.value) == "'incorrect' is an invalid keyword argument for URL()"
    url = URL("https://example.org")
    with pytest.raises(TypeError, match="'userinfo' must be bytes but got str"):
        url.copy_with(userinfo="should be bytes")
    with pytest.raises(TypeError, match="'port' must be int but got str"):
        url.copy_with(port="80")
    with pytest.raises(TypeError, match="'path' must be str but got bytes"):
        url.copy_with(path=b"/")


def test_url_type_error() -> None:
    class External:
        pass

    with pytest.raises(TypeError, match="Expected str or URL"):
        URL(External())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        URL(b"http://a/")  # type: ignore[arg-type]


def test_url_from_url() -> None:
    url = URL("http://a/?x=1")
    assert url.params  # cache filled
    copy = URL(url)
    assert copy == url
    assert copy.params is url.params  # immutable, so shared
    assert URL(url, path="/b") == "http://a/b?x=1"


# -- params helpers ----------------------------------------------------------------------


def test_param_copies() -> None:
    url = URL("https://example.org:123/?a=123")
    assert url.copy_set_param("a", "456") == "https://example.org:123/?a=456"
    assert url.copy_set_param("b", None) == "https://example.org:123/?a=123&b="
    assert url.copy_add_param("a", "456") == "https://example.org:123/?a=123&a=456"
    assert url.copy_add_param("a", True) == "https://example.org:123/?a=123&a=true"
    assert url.copy_remove_param("a") == "https://example.org:123/"
    assert url.copy_remove_param("zz") == url
    assert url.copy_merge_params({"b": "456"}) == "https://example.org:123/?a=123&b=456"
    assert url.copy_merge_params({"a": 1}) == "https://example.org:123/?a=1"


def test_params_property() -> None:
    url = URL("http://a/?a=1&a=2&b=%20x+y")
    assert url.params.multi_items() == [("a", "1"), ("a", "2"), ("b", " x y")]
    assert url.params is url.params
    assert URL("http://a/").params == QueryParams()


# -- text forms, equality, hashing -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:pass@example.com/", "URL('https://user:[secure]@example.com/')"),
        ("https://user:@example.com/", "URL('https://user:[secure]@example.com/')"),
        ("https://:pass@example.com/", "URL('https://:[secure]@example.com/')"),
        ("https://user@example.com/", "URL('https://user@example.com/')"),
        ("https://example.com:8443/a?b#c", "URL('https://example.com:8443/a?b#c')"),
        ("http://u:p@[::1]:1/", "URL('http://u:[secure]@[::1]:1/')"),
        ("/rel", "URL('/rel')"),
    ],
)
def test_repr_masks_the_password(text: str, shown: str) -> None:
    url = URL(text)
    assert repr(url) == shown
    assert "pass" not in repr(url).replace("[secure]", "")


def test_equality_and_hash() -> None:
    url = URL("https://example.org:123/path?abc=123#anchor")
    assert url == "https://example.org:123/path?abc=123#anchor"
    assert url == "HTTPS://EXAMPLE.org:123/path?abc=123#anchor"
    assert str(url) == url
    assert url == URL(str(url))
    assert hash(url) == hash(URL("HTTPS://example.ORG:123/path?abc=123#anchor"))
    assert hash(url) == hash(str(url))
    assert url != "https://example.org:123/other"
    assert url != "http://a b/"  # malformed: unequal, not an exception
    assert url != 123
    assert url != b"https://example.org:123/path?abc=123#anchor"
    assert URL("http://example.com") == URL("http://example.com:80")
    urls_ = {URL("http://a/x"), URL("http://a:80/x"), URL("http://a/y")}
    assert len(urls_) == 2


def test_pickle_round_trip() -> None:
    url = URL("https://u:p@m\u00fcller.de:8443/p?q=1#f")
    assert url.params
    copy = pickle.loads(pickle.dumps(url))
    assert copy == url
    assert copy.host == "m\u00fcller.de"
    assert copy.params == url.params


def test_slots_only() -> None:
    url = URL("http://a/")
    assert not hasattr(url, "__dict__")
    assert not hasattr(QueryParams(), "__dict__")


def test_is_absolute_url() -> None:
    assert URL("http://a/").is_absolute_url
    assert not URL("http://a/").is_relative_url
    assert URL("/a").is_relative_url
    assert URL("http:/a").is_relative_url  # no host to connect to
    assert URL("//a/").is_relative_url  # no scheme


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://Example.com/", ("http", b"example.com", 80)),
        ("https://example.com:443/", ("https", b"example.com", 443)),
        ("https://example.com:8443/", ("https", b"example.com", 8443)),
        ("ws://a/", ("ws", b"a", 80)),
        ("wss://a/", ("wss", b"a", 443)),
        ("ftp://a/", ("ftp", b"a", 21)),
        ("gopher://a/", ("gopher", b"a", 0)),
        ("http://m\u00fcller.de/", ("http", b"xn--mller-kva.de", 80)),
        ("http://[::1]:1/", ("http", b"::1", 1)),
    ],
)
def test_origin(text: str, origin: tuple[str, bytes, int]) -> None:
    assert URL(text).origin == origin
    assert hash(URL(text).origin) == hash(origin)


def test_raw_is_deprecated() -> None:
    url = URL("https://www.example.com/path")
    with pytest.deprecated_call():
        raw = url.raw
    assert raw == RawURL(b"https", b"www.example.com", None, b"/path")
    scheme, host, port, raw_path = raw
    assert (scheme, host, port, raw_path) == (b"https", b"www.example.com", None, b"/path")


# -- QueryParams -------------------------------------------------------------------------


def test_queryparams_mapping_interface() -> None:
    q = QueryParams("a=123&a=456&b=789")
    assert "a" in q
    assert "A" not in q
    assert "c" not in q
    assert q["a"] == "123"
    assert q.get("a") == "123"
    assert q.get("nope") is None
    assert q.get("nope", default=0) == 0
    assert q.get_list("a") == ["123", "456"]
    assert q.get_list("nope") == []
    assert list(q.keys()) == ["a", "b"]
    assert list(q.values()) == ["123", "789"]
    assert list(q.items()) == [("a", "123"), ("b", "789")]
    assert q.multi_items() == [("a", "123"), ("a", "456"), ("b", "789")]
    assert len(q) == 2
    assert bool(q)
    assert not QueryParams()
    assert list(q) == ["a", "b"]
    assert dict(q) == {"a": "123", "b": "789"}
    assert str(q) == "a=123&a=456&b=789"
    assert repr(q) == "QueryParams('a=123&a=456&b=789')"
    with pytest.raises(KeyError):
        q["nope"]


@pytest.mark.parametrize(
    ("value", "multi_items"),
    [
        (None, []),
        ("", []),
        (b"", []),
        ("a=1", [("a", "1")]),
        (b"a=1&b=2", [("a", "1"), ("b", "2")]),
        ("a=1&b&c=&&d=x+y%20z", [("a", "1"), ("b", ""), ("c", ""), ("d", "x y z")]),
        ("e=%zz&f=%C3%A9%FF&g==", [("e", "%zz"), ("f", "\u00e9\ufffd"), ("g", "=")]),
        ("a=1;b=2", [("a", "1;b=2")]),
        ("%61=%62&a=c", [("a", "b"), ("a", "c")]),
        ({"a": "123", "b": ["4", 5]}, [("a", "123"), ("b", "4"), ("b", "5")]),
        ({"a": ("x", "y")}, [("a", "x"), ("a", "y")]),
        ({1: 2}, [("1", "2")]),
        ([("a", "1"), ("b", 2), ("a", 3)], [("a", "1"), ("a", "3"), ("b", "2")]),
        ((("a", None),), [("a", "")]),
        ({"t": True, "f": False, "n": None, "x": 1.23, "i": 123, "s": ""}, None),
    ],
)
def test_queryparams_inputs(value: Any, multi_items: list[tuple[str, str]] | None) -> None:
    q = QueryParams(value)
    if multi_items is None:
        multi_items = [("t", "true"), ("f", "false"), ("n", ""), ("x", "1.23"), ("i", "123")]
        multi_items.append(("s", ""))
    assert q.multi_items() == multi_items


def test_queryparams_keywords_and_copies() -> None:
    assert QueryParams(a="1", b=True).multi_items() == [("a", "1"), ("b", "true")]
    q = QueryParams([("a", "1"), ("a", "2")])
    assert QueryParams(q) == q
    assert QueryParams(q) is not q


def test_queryparams_argument_errors() -> None:
    with pytest.raises(TypeError, match="at most one"):
        QueryParams("a=1", "b=2")
    with pytest.raises(TypeError, match="cannot mix"):
        QueryParams("a=1", b="2")
    with pytest.raises(InvalidURL, match="non-ASCII"):
        QueryParams(b"a=\xff")


def test_queryparams_modifiers_return_copies() -> None:
    q = QueryParams("a=1&a=2&b=3")
    assert q.set("a", 9).multi_items() == [("a", "9"), ("b", "3")]
    assert q.set("c", None).multi_items()[-1] == ("c", "")
    assert q.add("a", False).get_list("a") == ["1", "2", "false"]
    assert q.add("z", 0.5).multi_items()[-1] == ("z", "0.5")
    assert q.remove("a").multi_items() == [("b", "3")]
    assert q.remove("zz") == q
    assert q.merge({"a": "x", "z": True}).multi_items() == [("a", "x"), ("b", "3"), ("z", "true")]
    assert q.merge() == q
    assert q.multi_items() == [("a", "1"), ("a", "2"), ("b", "3")]


def test_queryparams_are_immutable() -> None:
    q = QueryParams({"a": 1})
    with pytest.raises(RuntimeError, match="merge"):
        q.update([])
    with pytest.raises(RuntimeError, match="set"):
        q["a"] = "3"
    assert str(q) == "a=1"


def test_queryparams_equality_and_hash() -> None:
    a = QueryParams({"a": "123", "b": "456"})
    assert a == QueryParams([("a", "123"), ("b", "456")])
    assert a == QueryParams("b=456&a=123")
    assert hash(a) == hash(QueryParams("b=456&a=123"))
    assert QueryParams() == QueryParams({})
    assert a != "a=123&b=456"
    assert a != {"a": "123", "b": "456"}
    assert a != QueryParams("a=123")


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"a": "b c"}, "a=b+c"),
        ({"k y": "v/w~*-._\u00e9"}, "k+y=v%2Fw~%2A-._%C3%A9"),
        ({"a": "%20&="}, "a=%2520%26%3D"),
        ({"a": "\ud800"}, "a=%ED%A0%80"),  # a lone surrogate is written out, not a crash
        ({"": ""}, "="),
    ],
)
def test_queryparams_encoding(params: dict[str, str], text: str) -> None:
    assert str(QueryParams(params)) == text


# -- module hygiene ----------------------------------------------------------------------


def test_public_names() -> None:
    assert set(urls.__all__) == {
        "MAX_HOST_LENGTH",
        "MAX_LABEL_LENGTH",
        "MAX_URL_LENGTH",
        "PARSE_CACHE_MAX_URL_LENGTH",
        "PARSE_CACHE_SIZE",
        "URL",
        "QueryParams",
        "canonical_host",
    }
    assert MAX_URL_LENGTH == 65536
    assert (urls.MAX_HOST_LENGTH, urls.MAX_LABEL_LENGTH) == (253, 63)


# -- the parse cache ---------------------------------------------------------------------


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    cache: dict[str, Any] = {}
    monkeypatch.setattr(urls, "_parse_cache", cache)
    return cache


def test_parse_cache_size_limit(
    empty_cache: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert urls.PARSE_CACHE_SIZE == 512
    monkeypatch.setattr(urls, "PARSE_CACHE_SIZE", 3)
    for i in range(3):
        URL(f"http://a/{i}")
    assert list(empty_cache) == ["http://a/0", "http://a/1", "http://a/2"]  # at the limit
    URL("http://a/3")  # one past: emptied, then this one kept
    assert list(empty_cache) == ["http://a/3"]


def test_parse_cache_url_length_limit(empty_cache: dict[str, Any]) -> None:
    prefix = "http://a/"
    at_limit = prefix + "x" * (urls.PARSE_CACHE_MAX_URL_LENGTH - len(prefix))
    URL(at_limit)
    URL(at_limit + "x")
    assert list(empty_cache) == [at_limit]


def test_parse_cache_hits_give_independent_equal_urls(empty_cache: dict[str, Any]) -> None:
    first = URL("HTTP://Example.com:80/a/../b?x=1")
    second = URL("HTTP://Example.com:80/a/../b?x=1")
    assert first == second == "http://example.com/b?x=1"
    assert first is not second
    assert second.params == QueryParams("x=1")
    assert len(empty_cache) == 1


def test_parse_cache_can_be_turned_off(
    empty_cache: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urls, "PARSE_CACHE_MAX_URL_LENGTH", 0)
    URL("http://a/")
    assert not empty_cache


def test_a_lowered_length_limit_applies_to_cached_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    URL("http://example.com/cached")
    monkeypatch.setattr(urls, "MAX_URL_LENGTH", 10)
    with pytest.raises(InvalidURL, match="URL too long"):
        URL("http://example.com/cached")


def test_invalid_urls_are_not_cached(empty_cache: dict[str, Any]) -> None:
    for _ in range(2):
        with pytest.raises(InvalidURL):
            URL("http://a b/")
    assert not empty_cache


# -- properties --------------------------------------------------------------------------

_SEGMENT_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#")
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)

_HOSTS = st.one_of(
    # Names whose last label starts with a letter, so they are not read as IPv4.
    st.lists(st.text("abcxyz019-_", min_size=1, max_size=6), max_size=3).map(
        lambda labels: ".".join([*labels, "example"])
    ),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: a.compressed),
    st.sampled_from(
        ["m\u00fcller.de", "\u4e2d\u56fd.icom.museum", "fa\u00df.de", "xn--fiqs8s.icom.museum", ""]
    ),
)


@st.composite
def _component_urls(draw: st.DrawFn) -> URL:
    scheme = draw(st.sampled_from(["http", "https", "ws", "wss", "ftp", "x-y+z.1"]))
    host = draw(_HOSTS)
    kwargs: dict[str, Any] = {
        "scheme": scheme,
        "host": host,
        "port": draw(st.none() | st.integers(0, 65535)),
        "path": "/" + "/".join(draw(st.lists(st.text(_SEGMENT_CHARS, max_size=6), max_size=4))),
        "fragment": draw(st.none() | _TEXT),
    }
    if host and draw(st.booleans()):
        kwargs["username"] = draw(_TEXT)
        kwargs["password"] = draw(_TEXT)
    params = draw(st.lists(st.tuples(_TEXT, _TEXT), max_size=3))
    if params:
        kwargs["params"] = params
    return URL(**kwargs)


@given(_component_urls())
def test_round_trip_from_components(url: URL) -> None:
    again = URL(str(url))
    assert again == url
    assert (again.scheme, again.userinfo, again.raw_host, again.port) == (
        url.scheme,
        url.userinfo,
        url.raw_host,
        url.port,
    )
    assert (again.host, again.raw_path, again.fragment) == (url.host, url.raw_path, url.fragment)
    assert (again.username, again.password) == (url.username, url.password)
    assert again.params == url.params
    if url.host and ":" in url.host:
        assert ipaddress.IPv6Address(url.host)


_PIECES = st.sampled_from(
    ["http:", "https:", "//", "/", "?", "#", "@", ":", "[", "]", "::1", "%", "%41", "0x", ".",
     "..", "a", "B", "1", "255", "\\", " ", "\u00fc", "xn--", "\uff0e", "\x00", "\x7f", "=", "&"]
)  # fmt: skip
_URLISH = st.one_of(st.text(), st.lists(_PIECES | st.text(max_size=3), max_size=12).map("".join))


@given(_URLISH)
@example("http://[::1]:8080/a/../b?c#d")
@example(":\x85")
def test_parsing_only_raises_invalid_url_and_is_idempotent(text: str) -> None:
    try:
        url = URL(text)
    except InvalidURL:
        return
    assert URL(str(url)) == url
    assert str(URL(str(url))) == str(url)
    assert url == text or str(url) != text


@given(_URLISH)
def test_join_only_raises_invalid_url(text: str) -> None:
    base = URL("http://a/b/c/d;p?q")
    try:
        joined = base.join(text)
    except InvalidURL:
        return
    assert URL(str(joined)) == joined


@given(st.lists(st.tuples(_TEXT, _TEXT | st.integers() | st.booleans() | st.none())))
def test_queryparams_round_trip(items: list[tuple[str, Any]]) -> None:
    q = QueryParams(items)
    assert QueryParams(str(q)) == q
    assert QueryParams(str(q).encode()) == q
