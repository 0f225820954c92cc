"""Tests for `sansio.cookies`: Set-Cookie parsing, the RFC 6265 jar and `Cookies`."""

from __future__ import annotations

import calendar
import datetime
import email.message
import email.utils
import http.cookiejar
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio import actions as act
from sansio import env
from sansio.cookies import (
    MAX_COOKIE_LIFETIME,
    MAX_COOKIE_SIZE,
    MAX_COOKIES,
    MAX_COOKIES_PER_DOMAIN,
    PUBLIC_SUFFIXES,
    Cookie,
    CookieJar,
    Cookies,
    is_public_suffix,
    parse_cookie_date,
)
from sansio.exceptions import CookieConflict
from sansio.flow import send_flow
from sansio.models import Request
from sansio.urls import URL

from .test_flow import options as flow_options
from .test_flow import play, respond

NOW = 1_000_000.0


def split_url(url: str) -> tuple[str, str, str]:
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return scheme, host, slash + path


def receive(jar: CookieJar, url: str, *values: str, now: float = NOW) -> None:
    scheme, host, path = split_url(url)
    jar.extract(values, scheme=scheme, host=host, path=path, now=now)


def header(jar: CookieJar, url: str, now: float = NOW) -> str | None:
    scheme, host, path = split_url(url)
    return jar.header_for(scheme=scheme, host=host, path=path, now=now)


def jar_with(*values: str, url: str = "http://example.com/", **kwargs: Any) -> CookieJar:
    jar = CookieJar(**kwargs)
    receive(jar, url, *values)
    return jar


def only(jar: CookieJar) -> Cookie:
    cookies = list(jar)
    assert len(cookies) == 1, cookies
    return cookies[0]


def utc(*fields: int) -> int:
    return calendar.timegm((*fields, 0, 0, 0))


# -- RFC 6265 §5.1.1 dates ----------------------------------------------------------------

NOV_6_1994 = utc(1994, 11, 6, 8, 49, 37)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", NOV_6_1994),  # RFC 1123
        ("Sunday, 06-Nov-94 08:49:37 GMT", NOV_6_1994),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", NOV_6_1994),  # asctime
        ("06 Nov 1994 08:49:37", NOV_6_1994),
        ("Sun, 06-Nov-1994 08:49:37 GMT", NOV_6_1994),
        ("sun, 6 NOVEMBER 1994 8:49:37 gmt", NOV_6_1994),
        ("1994 Nov 06 08:49:37", NOV_6_1994),  # a 4-digit year is no day-of-month
        ("08:49:37 6 Nov 1994", NOV_6_1994),
        ("Sun,06-Nov-1994/08:49:37", NOV_6_1994),  # any delimiter separates tokens
        ("Sun, 06 Nov 1994 08:49:37GMT", NOV_6_1994),  # time-field then non-digit
        ("Sun, 6th Nov 1994 08:49:37 GMT", NOV_6_1994),  # day then non-digit
        ("Sun, 06 Nov 1994 08:49:37 GMT; 07 Dec 1995 09:00:00", NOV_6_1994),  # first wins
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Thu, 01-Jan-70 00:00:01 GMT", 1),  # 70 -> 1970
        ("Wed, 31-Dec-99 23:59:59 GMT", utc(1999, 12, 31, 23, 59, 59)),  # 99 -> 1999
        ("Sat, 01-Jan-00 00:00:00 GMT", utc(2000, 1, 1, 0, 0, 0)),  # 00 -> 2000
        ("Tue, 01-Jan-69 00:00:00 GMT", utc(2069, 1, 1, 0, 0, 0)),  # 69 -> 2069
        ("1 Jan 0069 00:00:00", utc(2069, 1, 1, 0, 0, 0)),  # by value, not digit count
        ("Tue, 29 Feb 2000 12:00:00 GMT", utc(2000, 2, 29, 12, 0, 0)),  # leap (div by 400)
        ("29 Feb 2004 0:0:0", utc(2004, 2, 29, 0, 0, 0)),
        ("31 Dec 9999 23:59:59", utc(9999, 12, 31, 23, 59, 59)),
        ("1 Jan 1601 00:00:00", utc(1601, 1, 1, 0, 0, 0)),  # the earliest allowed year
        ("28 Feb 1900 00:00:00", utc(1900, 2, 28, 0, 0, 0)),
    ],
)
def test_cookie_date_formats(text: str, expected: int) -> None:
    assert parse_cookie_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "Sun, 06 Nov 1994",  # no time
        "Sun, 06 Nov 08:49:37",  # no year
        "Sun, Nov 1994 08:49:37",  # no day (1994 is taken as the year)
        "Sun, 06 Foo 1994 08:49:37 GMT",  # no month
        "32 Jan 2000 00:00:00",
        "0 Jan 2000 00:00:00",
        "123 Jan 2000 00:00:00",  # 3 digits: the year, then no day-of-month
        "1 Jan 19940 00:00:00",  # 5 digits: no year
        "1 Jan 1600 00:00:00",  # before 1601
        "1 Jan 2000 24:00:00",
        "1 Jan 2000 23:60:00",
        "1 Jan 2000 23:59:60",
        "1 Jan 2000 001:02:03",  # a time field has at most two digits
        "1 Jan 2000 1:2",  # two fields are no time
        "1 Jan 2000 1:2:",
        "1 Jan 2000 1::3",
        "29 Feb 1900 00:00:00",  # 1900 is not a leap year
        "30 Feb 2000 00:00:00",
        "31 Apr 2000 00:00:00",
        "1 Jan 2000 \u0661:\u0662:\u0663",  # only ASCII digits count
    ],
)
def test_invalid_cookie_dates(text: str) -> None:
    assert parse_cookie_date(text) is None


def test_cookie_date_control_characters_are_not_delimiters() -> None:
    # %x00-08 and %x0A-1F belong to tokens; only the delimiter set splits them.
    assert parse_cookie_date("Sun, 06\x1cNov 1994 08:49:37") is None
    assert parse_cookie_date("Sun,\t06\tNov\t1994\t08:49:37") == NOV_6_1994


@given(st.datetimes(min_value=datetime.datetime(1601, 1, 1)))
def test_cookie_date_agrees_with_email_utils_on_rfc1123(moment: datetime.datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=datetime.UTC)
    text = email.utils.format_datetime(moment, usegmt=True)
    assert parse_cookie_date(text) == calendar.timegm(moment.utctimetuple())


@given(
    st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2069, 12, 31))
)
def test_cookie_date_two_digit_years_and_asctime(moment: datetime.datetime) -> None:
    moment = moment.replace(microsecond=0)
    expected = calendar.timegm(moment.timetuple())
    month = calendar.month_abbr[moment.month]
    day = calendar.day_name[moment.weekday()]
    hms = f"{moment.hour:02}:{moment.minute:02}:{moment.second:02}"
    rfc850 = f"{day}, {moment.day:02}-{month}-{moment.year % 100:02} {hms} GMT"
    asctime = f"{day[:3]} {month} {moment.day:2} {hms} {moment.year}"
    assert parse_cookie_date(rfc850) == expected
    assert parse_cookie_date(asctime) == expected


@given(st.text())
def test_cookie_date_never_raises(text: str) -> None:
    result = parse_cookie_date(text)
    assert result is None or utc(1601, 1, 1, 0, 0, 0) <= result <= utc(9999, 12, 31, 23, 59, 59)


# -- Set-Cookie syntax --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("a=b", "a", "b"),
        ("  a  =  b  ", "a", "b"),
        ("\ta\t=\tb\t", "a", "b"),
        ("a=", "a", ""),
        ("a=b=c", "a", "b=c"),
        ('a="b c"', "a", '"b c"'),  # quotes are part of the value
        ("a=b\tc", "a", "b\tc"),  # HTAB is allowed inside
        ("a=é€", "a", "é€"),
        ("a=b;", "a", "b"),
        ("a=b;;;", "a", "b"),
        ("a=b; ; =x; Foo; unknown=1;", "a", "b"),
    ],
)
def test_set_cookie_name_and_value(text: str, name: str, value: str) -> None:
    cookie = only(jar_with(text))
    assert (cookie.name, cookie.value) == (name, value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",  # no "=" at all (RFC 6265 §5.2 step 2)
        "abc; Path=/",  # the "=" after the first ";" does not count
        "=abc",  # empty name (step 5)
        "  =abc",
        ";a=b",
        "a=b\x01c",  # control characters
        "a\x7f=b",
        "a=b\x00",
        "a\x1f=b",
    ],
)
def test_invalid_set_cookie_is_ignored(text: str) -> None:
    assert len(jar_with(text)) == 0


def test_attributes_odd_spacing_and_case() -> None:
    cookie = only(
        jar_with(
            "  a = b ;  ; PATH = /x ;; SECURE ; HTTPONLY;SameSite = LAX ; DOMAIN=Example.COM ;",
            url="https://www.example.com/",
        )
    )
    assert cookie.path == "/x"
    assert cookie.path_specified
    assert cookie.secure
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.domain == ".example.com"
    assert cookie.rest == {"HttpOnly": None, "SameSite": "Lax"}
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_attribute_values_are_case_insensitive_and_last_wins() -> None:
    cookie = only(jar_with("a=b; SameSite=Strict; samesite=none; Path=/one; Path=/two"))
    assert cookie.same_site == "None"
    assert cookie.path == "/two"
    cookie = only(jar_with("a=b; SameSite=Strict; SameSite=bogus"))
    assert cookie.same_site is None
    assert cookie.rest == {}
    cookie = only(jar_with("a=b; Secure=no", url="https://example.com/"))
    assert cookie.secure  # the attribute's value does not matter


def test_defaults_of_a_received_cookie() -> None:
    cookie = only(jar_with("a=b", url="http://Example.COM/dir/page"))
    assert cookie.domain == "example.com"
    assert cookie.host_only
    assert not cookie.domain_specified
    assert not cookie.domain_initial_dot
    assert cookie.path == "/dir"
    assert not cookie.path_specified
    assert not cookie.secure
    assert not cookie.http_only
    assert cookie.same_site is None
    assert cookie.expires is None
    assert cookie.discard
    assert cookie.creation_time == NOW
    assert (cookie.port, cookie.version, cookie.comment) == (None, 0, None)
    assert cookie.rest == {}


# -- domains ------------------------------------------------------------------------------


def test_host_only_cookie_goes_to_its_host_only() -> None:
    jar = jar_with("a=b")
    assert header(jar, "http://example.com/") == "a=b"
    assert header(jar, "http://EXAMPLE.com/x") == "a=b"
    assert header(jar, "http://www.example.com/") is None
    assert header(jar, "http://other.com/") is None


def test_domain_cookie_goes_to_subdomains() -> None:
    jar = jar_with("a=b; Domain=example.com", url="http://www.example.com/")
    cookie = only(jar)
    assert cookie.domain == ".example.com"
    assert not cookie.host_only
    assert cookie.domain_specified
    assert cookie.domain_initial_dot
    for url in ("http://example.com/", "http://www.example.com/", "http://a.b.example.com/"):
        assert header(jar, url) == "a=b", url
    for url in ("http://badexample.com/", "http://example.com.evil/", "http://com/"):
        assert header(jar, url) is None, url


@pytest.mark.parametrize("domain", [".example.com", "EXAMPLE.com", "example.com", ".Example.Com"])
def test_domain_attribute_leading_dot_and_case(domain: str) -> None:
    jar = jar_with(f"a=b; Domain={domain}")
    assert only(jar).domain == ".example.com"


def test_domain_equal_to_host_is_a_domain_cookie() -> None:
    jar = jar_with("a=b; Domain=example.com")
    assert header(jar, "http://www.example.com/") == "a=b"


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("http://example.com/", "other.com"),
        ("http://example.com/", "www.example.com"),  # a parent cannot set for a child
        ("http://example.com/", "ample.com"),  # not on a label boundary
        ("http://www.example.com/", "w.example.com"),
        ("http://example.com/", "."),
        ("http://example.com/", "..example.com"),  # only one leading dot is dropped
    ],
)
def test_domain_mismatch_is_rejected(url: str, domain: str) -> None:
    assert len(jar_with(f"a=b; Domain={domain}", url=url)) == 0


def test_empty_domain_attribute_is_ignored() -> None:
    assert only(jar_with("a=b; Domain=")).host_only
    # An empty Domain does not cancel an earlier one.
    assert only(jar_with("a=b; Domain=example.com; Domain=")).domain == ".example.com"


def test_public_suffix_domains_are_rejected() -> None:
    url = "http://www.example.co.uk/"
    assert len(jar_with("a=b; Domain=co.uk", url=url)) == 0
    assert len(jar_with("a=b; Domain=uk", url=url)) == 0
    assert len(jar_with("a=b; Domain=com", url="http://example.com/")) == 0
    assert len(jar_with("a=b; Domain=github.io", url="http://me.github.io/")) == 0
    assert only(jar_with("a=b; Domain=example.co.uk", url=url)).domain == ".example.co.uk"


def test_public_suffix_equal_to_host_becomes_host_only() -> None:
    jar = jar_with("a=b; Domain=co.uk", url="http://co.uk/")
    cookie = only(jar)
    assert cookie.domain == "co.uk"
    assert cookie.host_only
    assert not cookie.domain_specified
    assert header(jar, "http://www.co.uk/") is None
    jar = jar_with("a=b; Domain=localhost", url="http://localhost/")
    assert only(jar).host_only


def test_builtin_public_suffix_rule() -> None:
    assert is_public_suffix("localhost")
    assert is_public_suffix("com")
    assert is_public_suffix("co.uk")
    assert not is_public_suffix("example.com")
    assert not is_public_suffix("example.co.uk")
    assert len(PUBLIC_SUFFIXES) >= 50
    assert all(s == s.lower() and "." in s for s in PUBLIC_SUFFIXES)


def test_injected_public_suffix_check() -> None:
    seen: list[str] = []

    def psl(domain: str) -> bool:
        seen.append(domain)
        return domain == "example.com"

    url = "http://www.example.com/"
    assert len(jar_with("a=b; Domain=.EXAMPLE.com", url=url, is_public_suffix=psl)) == 0
    assert seen == ["example.com"]
    # The built-in single-label rule is replaced too.
    assert only(jar_with("a=b; Domain=local", url="http://x.local/", is_public_suffix=psl))


def test_ip_hosts_get_host_only_cookies() -> None:
    url = "http://192.168.0.1/"
    jar = jar_with("a=b; Domain=192.168.0.1", url=url)
    cookie = only(jar)
    assert cookie.domain == "192.168.0.1"
    assert cookie.host_only
    assert header(jar, url) == "a=b"
    for domain in ("168.0.1", "0.1", "1"):
        assert len(jar_with(f"a=b; Domain={domain}", url=url)) == 0


def test_ipv6_hosts() -> None:
    jar = CookieJar()
    jar.extract(["a=b; Domain=::1"], scheme="http", host="::1", path="/", now=NOW)
    jar.extract(["c=d; Domain=1"], scheme="http", host="::1", path="/", now=NOW)
    assert only(jar).domain == "::1"
    assert jar.header_for(scheme="http", host="::1", path="/", now=NOW) == "a=b"


def test_ip_hosts_do_not_match_parent_domains() -> None:
    jar = CookieJar()
    jar.set_cookie(Cookie("a", "b", domain=".0.0.1", domain_specified=True))
    assert header(jar, "http://127.0.0.1/") is None
    assert header(jar, "http://1.0.0.1/") is None


def test_international_host_names() -> None:
    jar = jar_with("a=b; Domain=xn--bcher-kva.example", url="http://www.BÜCHER.example/")
    assert only(jar).domain == ".xn--bcher-kva.example"
    assert header(jar, "http://bücher.example/") == "a=b"
    assert header(jar, "http://xn--bcher-kva.example/") == "a=b"
    jar = jar_with("a=b; Domain=bücher.example", url="http://www.xn--bcher-kva.example/")
    assert only(jar).domain == ".xn--bcher-kva.example"


def test_a_response_without_a_host_stores_nothing() -> None:
    # Host-only for "" would be the domain of cookies sent to every host.
    jar = CookieJar()
    jar.extract(["a=b", "c=d; Domain=example.com"], scheme="http", host="", path="/", now=NOW)
    assert len(jar) == 0
    assert header(jar, "http://example.com/") is None


@pytest.mark.parametrize(
    "host",
    ["É" + "é" * 70 + ".example", "a..b", "exa mple.com", "☃.com", "a" * 64 + ".com", "[::1"],
)
def test_a_host_the_url_parser_refuses_has_no_cookies(host: str) -> None:
    jar = jar_with("a=b", "c=d; Domain=example", url=f"http://{host}/")
    assert len(jar) == 0
    jar.set_cookie(Cookie("every", "host"))
    assert header(jar, f"http://{host}/") is None
    assert header(jar, "http://example/") == "every=host"


# -- names: the URL parser's canonicaliser, trailing dots, ".local" ----------------------


def url_receive(jar: CookieJar, url: str, *values: str) -> None:
    """As `Cookies.extract_cookies` calls the jar: with `URL.host` (the display form)."""
    parsed = URL(url)
    jar.extract(values, scheme=parsed.scheme, host=parsed.host, path=parsed.path, now=NOW)


def url_header(jar: CookieJar, url: str) -> str | None:
    parsed = URL(url)
    return jar.header_for(scheme=parsed.scheme, host=parsed.host, path=parsed.path, now=NOW)


# UTS #46 (IDNA 2008, what URL uses) keeps these apart; IDNA 2003 folds each pair into one.
IDNA_TWINS = [
    ("fa\u00df.de", "fass.de"),  # sharp s
    ("\u03c3\u03bf\u03c6\u03bf\u03c2.gr", "\u03c3\u03bf\u03c6\u03bf\u03c3.gr"),  # final sigma
    ("\u0646\u0627\u0645\u0647\u200c\u0627\u06cc.ir", "\u0646\u0627\u0645\u0647\u0627\u06cc.ir"),
    ("\u0915\u094d\u200d\u0937.in", "\u0915\u094d\u0937.in"),  # zero-width joiner
]


@pytest.mark.parametrize(("host", "twin"), IDNA_TWINS)
def test_idna_2008_hosts_do_not_share_cookies_with_their_idna_2003_twins(
    host: str, twin: str
) -> None:
    for first, second in ((host, twin), (twin, host)):
        jar = CookieJar()
        url_receive(jar, f"http://{first}/", "a=b")
        assert only(jar).domain == URL(f"http://{first}/").raw_host.decode()
        assert url_header(jar, f"http://{first}/x") == "a=b"
        assert url_header(jar, f"http://{second}/x") is None
        # Given the ASCII form, or the Unicode one, the jar finds the same host.
        ascii_host = URL(f"http://{first}/").raw_host.decode()
        assert header(jar, f"http://{ascii_host}/") == "a=b"


@pytest.mark.parametrize(("host", "twin"), IDNA_TWINS)
def test_domain_attributes_are_canonicalised_as_urls_are(host: str, twin: str) -> None:
    ascii_host = URL(f"http://{host}/").raw_host.decode()
    jar = CookieJar()
    url_receive(jar, f"http://www.{host}/", f"a=b; Domain={host}", f"c=d; Domain={twin}")
    assert only(jar).domain == "." + ascii_host  # the twin is another site
    jar = CookieJar()
    url_receive(jar, f"http://www.{twin}/", f"a=b; Domain={host}")
    assert len(jar) == 0


def test_a_domain_attribute_the_url_parser_refuses_is_ignored() -> None:
    for domain in ("exa mple.com", "example..com", "[::1", "example.com:80", "a\x01.com"):
        assert len(jar_with(f"a=b; Domain={domain}", url="http://www.example.com/")) == 0


def test_ip_hosts_and_domains_in_any_spelling() -> None:
    jar = CookieJar()
    url_receive(jar, "http://[0:0::1]/", "a=b; Domain=0::1", "c=d; Domain=[::1]")
    assert [c.domain for c in jar] == ["::1", "::1"]
    assert url_header(jar, "http://[::1]/") == "a=b; c=d"
    assert url_header(jar, "http://[0000::0001]/") == "a=b; c=d"
    assert header(jar, "http://0:0:0:0:0:0:0:1/") == "a=b; c=d"  # unbracketed, as URL.host
    jar = jar_with("a=b; Domain=0x7f.1", url="http://127.0.0.1/")
    assert only(jar).domain == "127.0.0.1"
    assert header(jar, "http://2130706433/") == "a=b"


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("http://evil.com./", "com."),
        ("http://evil.com./", ".com."),
        ("http://evil.com./", "com"),
        ("http://evil.co.uk./", "co.uk."),
        ("http://www.evil.co.uk./", "co.uk."),
        ("http://x.github.io./", "github.io."),
        ("http://evil.com/", "com."),
        ("http://www.example.com/", "example.com."),  # the dot must agree with the host's
        ("http://www.example.com./", "example.com"),
    ],
)
def test_trailing_dots_do_not_get_past_the_public_suffix_check(url: str, domain: str) -> None:
    jar = jar_with(f"a=b; Domain={domain}", url=url)
    assert len(jar) == 0
    for other in ("http://other.com./", "http://other.com/", "http://other.co.uk./"):
        assert header(jar, other) is None


def test_a_public_suffix_seen_through_the_trailing_dot() -> None:
    seen: list[str] = []

    def psl(domain: str) -> bool:
        seen.append(domain)
        return False

    assert only(
        jar_with("a=b; Domain=example.com.", url="http://www.example.com./", is_public_suffix=psl)
    )
    assert seen == ["example.com"]


def test_absolute_host_names_keep_their_own_cookies() -> None:
    # "example.com." is a host of its own (as browsers treat it): nothing set for one
    # spelling is sent to the other, while domain cookies work within each.
    jar = CookieJar()
    receive(jar, "http://example.com./", "fqdn=1")
    receive(jar, "http://www.example.com./", "fqdn_wide=1; Domain=example.com.")
    receive(jar, "http://example.com/", "plain=1")
    receive(jar, "http://www.example.com/", "plain_wide=1; Domain=example.com")
    assert sorted(c.domain for c in jar) == [
        ".example.com",
        ".example.com.",
        "example.com",
        "example.com.",
    ]
    assert header(jar, "http://example.com./") == "fqdn=1; fqdn_wide=1"
    assert header(jar, "http://a.example.com./") == "fqdn_wide=1"
    assert header(jar, "http://example.com/") == "plain=1; plain_wide=1"
    assert header(jar, "http://a.example.com/") == "plain_wide=1"


def test_cookies_for_every_host_are_sent_once_to_an_absolute_host_name() -> None:
    jar = CookieJar()
    jar.set_cookie(Cookie("every", "host"))
    assert header(jar, "http://example.com./") == "every=host"
    assert header(jar, "http://a./") == "every=host"


def test_ip_hosts_have_no_trailing_dot() -> None:
    jar = jar_with("a=b; Domain=192.168.0.1", url="http://192.168.0.1./")
    assert only(jar).domain == "192.168.0.1"
    assert header(jar, "http://192.168.0.1/") == "a=b"


class _StdlibResponse:
    """What `http.cookiejar.CookieJar.extract_cookies` reads of a response."""

    def __init__(self, set_cookies: list[str]) -> None:
        self.message = email.message.Message()
        for value in set_cookies:
            self.message["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self.message


def stdlib_outcome(url: str, set_cookie: str, targets: list[str]) -> tuple[bool, list[str]]:
    """(stored?, the targets the stdlib jar sends it to)."""
    jar = http.cookiejar.CookieJar()
    jar.extract_cookies(_StdlibResponse([set_cookie]), urllib.request.Request(url))  # type: ignore[arg-type]
    sent = []
    for target in targets:
        request = urllib.request.Request(target)
        jar.add_cookie_header(request)
        if request.get_header("Cookie"):
            sent.append(target)
    return len(jar) > 0, sent


def conch_outcome(url: str, set_cookie: str, targets: list[str]) -> tuple[bool, list[str]]:
    jar = CookieJar()
    url_receive(jar, url, set_cookie)
    return len(jar) > 0, [target for target in targets if url_header(jar, target)]


LOCAL_TARGETS = [
    "http://testserver/",
    "http://testserver.local/",
    "http://www.testserver.local/",
    "http://other/",
    "http://other.local/",
    "http://testserver.local.example/",
    "http://example.com/",
]


@pytest.mark.parametrize(
    "url",
    [
        "http://testserver/",
        "http://TestServer:8000/",
        "http://testserver.local/",
        "http://www.testserver.local/",
        "http://example.com/",
        "http://www.example.com/",
        "http://example.com./",
        "http://testserver./",
    ],
)
@pytest.mark.parametrize(
    "domain",
    [
        "testserver.local",
        ".testserver.local",
        "TESTSERVER.Local",
        "testserver.local.",
        "www.testserver.local",
        "other.local",
        "example.com.local",
        "www.example.com.local",
        "example.com",
    ],
)
def test_effective_request_host_agrees_with_http_cookiejar(url: str, domain: str) -> None:
    # http.cookiejar is the oracle: a dot-less host H is also "H.local" for domain
    # matching, so Starlette's TestClient (host "testserver") keeps its cookies, and
    # no dotted host ever gains a ".local" (example.com cannot set example.com.local).
    set_cookie = f"a=b; Domain={domain}"
    assert conch_outcome(url, set_cookie, LOCAL_TARGETS) == stdlib_outcome(
        url, set_cookie, LOCAL_TARGETS
    )


def test_testserver_cookies_round_trip_as_with_the_stdlib_jar() -> None:
    jar = CookieJar()
    url_receive(jar, "http://testserver/login", "session=1; Domain=testserver.local; Path=/")
    cookie = only(jar)
    assert (cookie.domain, cookie.host_only) == (".testserver.local", False)
    assert url_header(jar, "http://testserver/app") == "session=1"
    assert url_header(jar, "http://testserver.example/") is None
    assert url_header(jar, "http://127.0.0.1/") is None


@pytest.mark.parametrize(
    ("url", "set_cookie", "conch", "stdlib"),
    [
        # Host-only cookies stay on their host; the stdlib jar files them under
        # "testserver.local" and sends them to every name below it as well.
        ("http://testserver/", "a=b", ["http://testserver/"], LOCAL_TARGETS[:3]),
        # A single label is a public suffix here; the stdlib jar takes ".local" and
        # sends it to every dot-less host and every .local name.
        ("http://testserver/", "a=b; Domain=local", [], [*LOCAL_TARGETS[:5]]),
        # Domain equal to the host is a host-only cookie (RFC 6265 §5.3 step 6); the
        # stdlib jar stores ".testserver" and never sends it.
        ("http://testserver/", "a=b; Domain=testserver", ["http://testserver/"], []),
    ],
)
def test_deliberate_differences_from_http_cookiejar(
    url: str, set_cookie: str, conch: list[str], stdlib: list[str]
) -> None:
    assert conch_outcome(url, set_cookie, LOCAL_TARGETS)[1] == conch
    assert stdlib_outcome(url, set_cookie, LOCAL_TARGETS)[1] == stdlib


# -- paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_path", "default"),
    [
        ("", "/"),
        ("/", "/"),
        ("page", "/"),
        ("/page", "/"),
        ("/dir/page", "/dir"),
        ("/dir/", "/dir"),
        ("/a/b/c", "/a/b"),
        ("//", "/"),
    ],
)
def test_default_path(request_path: str, default: str) -> None:
    jar = CookieJar()
    jar.extract(["a=b"], scheme="http", host="example.com", path=request_path, now=NOW)
    assert only(jar).path == default


@pytest.mark.parametrize("attribute", ["Path", "Path=", "Path=docs", "Path= x/"])
def test_invalid_path_attribute_uses_default_path(attribute: str) -> None:
    cookie = only(jar_with(f"a=b; {attribute}", url="http://example.com/dir/page"))
    assert cookie.path == "/dir"
    assert not cookie.path_specified


def test_path_attribute_overrides_and_can_be_anything() -> None:
    assert only(jar_with("a=b; Path=/other/", url="http://example.com/dir/x")).path == "/other/"


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "sent"),
    [
        ("/docs", "/docs", True),
        ("/docs", "/docs/", True),
        ("/docs", "/docs/web", True),
        ("/docs", "/docsx", False),
        ("/docs", "/doc", False),
        ("/docs", "/", False),
        ("/docs/", "/docs/x", True),
        ("/docs/", "/docs", False),
        ("/", "/anything/at/all", True),
        ("/", "", True),  # an empty request path is "/"
        ("/", "no-slash", True),
        ("/docs", "docs", False),
    ],
)
def test_path_match(cookie_path: str, request_path: str, sent: bool) -> None:
    jar = jar_with(f"a=b; Path={cookie_path}")
    value = jar.header_for(scheme="http", host="example.com", path=request_path, now=NOW)
    assert (value == "a=b") is sent


# -- Secure and prefixes ------------------------------------------------------------------


def test_secure_cookies_need_a_secure_origin() -> None:
    assert len(jar_with("a=b; Secure", url="http://example.com/")) == 0
    assert len(jar_with("a=b; Secure", url="ws://example.com/")) == 0
    assert len(jar_with("a=b; Secure", url="HTTPS://example.com/")) == 1
    assert len(jar_with("a=b; Secure", url="wss://example.com/")) == 1


def test_secure_cookies_are_sent_over_https_only() -> None:
    jar = jar_with("a=b; Secure", "c=d", url="https://localhost/")
    assert header(jar, "https://localhost/") == "a=b; c=d"
    assert header(jar, "wss://localhost/") == "a=b; c=d"
    assert header(jar, "http://localhost/") == "c=d"  # not even for localhost
    assert header(jar, "ws://localhost/") == "c=d"


def test_plain_http_cannot_replace_or_delete_a_secure_cookie() -> None:
    jar = jar_with("a=1; Secure", url="https://example.com/")
    receive(jar, "http://example.com/", "a=2", "a=3; Max-Age=0")
    assert only(jar).value == "1"
    receive(jar, "https://example.com/", "a=4")
    assert only(jar).value == "4"
    assert not only(jar).secure
    receive(jar, "http://example.com/", "a=5")
    assert only(jar).value == "5"


# RFC 6265bis §5.7 step 15: from a non-secure origin, no cookie may shadow a Secure one.
@pytest.mark.parametrize(
    ("secure_url", "secure_cookie", "http_url", "http_cookie"),
    [
        # The case: a longer path would be sent first, over https too.
        ("https://example.com/", "sid=good; Secure", "http://example.com/", "sid=evil; Path=/app"),
        ("https://example.com/", "sid=good; Secure", "http://example.com/app/", "sid=evil"),
        # The new cookie's domain is the Secure one's parent, or its child.
        ("https://www.example.com/", "sid=good; Secure", "http://www.example.com/",
         "sid=evil; Domain=example.com"),
        ("https://example.com/", "sid=good; Secure; Domain=example.com", "http://a.example.com/",
         "sid=evil"),
        ("https://a.example.com/", "sid=good; Secure; Domain=example.com",
         "http://a.example.com/", "sid=evil; Domain=a.example.com; Path=/x"),
        # Through the ".local" rule: testserver and testserver.local are one name.
        ("https://testserver/", "sid=good; Secure", "http://testserver/",
         "sid=evil; Domain=testserver.local"),
        ("https://testserver/", "sid=good; Secure; Domain=testserver.local",
         "http://testserver/", "sid=evil"),
        # ws:// is no more secure than http://.
        ("wss://example.com/", "sid=good; Secure", "ws://example.com/", "sid=evil; Path=/a"),
    ],
)  # fmt: skip
def test_plain_http_cannot_shadow_a_secure_cookie(
    secure_url: str, secure_cookie: str, http_url: str, http_cookie: str
) -> None:
    jar = CookieJar()
    receive(jar, secure_url, secure_cookie)
    receive(jar, http_url, http_cookie)
    assert [c.value for c in jar] == ["good"]
    # Over https the jar still sends the Secure cookie alone.
    assert header(jar, "https://" + http_url.partition("://")[2] + "app/x") == "sid=good"


@pytest.mark.parametrize(
    ("http_url", "http_cookie"),
    [
        ("http://example.com/", "other=1; Path=/app"),  # another name
        ("http://example.com/", "sid=1; Path=/"),  # "/" does not path-match "/app"
        ("http://example.com/", "sid=1; Path=/application"),
        ("http://other.com/", "sid=1; Path=/app"),  # an unrelated host
        ("http://sibling.example.com/", "sid=1; Path=/app/x"),  # neither domain matches
        ("http://example.com./", "sid=1; Path=/app/x"),  # the absolute name is another host
    ],
)
def test_plain_http_may_set_cookies_that_shadow_nothing_secure(
    http_url: str, http_cookie: str
) -> None:
    jar = CookieJar()
    receive(jar, "https://www.example.com/", "sid=good; Secure; Path=/app")
    receive(jar, "https://www.example.com/", "plain=1; Path=/app")  # not Secure: no shield
    receive(jar, http_url, http_cookie)
    receive(jar, "http://www.example.com/", "plain=2; Path=/app/deeper")
    assert len(jar) == 4


def test_a_secure_origin_may_shadow_a_secure_cookie() -> None:
    jar = jar_with("sid=good; Secure", url="https://example.com/")
    receive(jar, "https://example.com/", "sid=other; Path=/app")
    assert header(jar, "https://example.com/app/x") == "sid=other; sid=good"


def test_a_secure_cookie_for_every_host_is_shielded_everywhere() -> None:
    jar = CookieJar()
    jar.set_cookie(Cookie("sid", "mine", secure=True))  # domain "": every host
    receive(jar, "http://any.example/", "sid=evil; Path=/x", "ok=1")
    assert [c.name for c in jar] == ["sid", "ok"]


def test_a_cookie_made_secure_after_it_was_stored_is_shielded() -> None:
    jar = jar_with("sid=good", url="https://example.com/")
    only(jar).secure = True
    receive(jar, "http://example.com/", "sid=evil; Path=/app")
    assert only(jar).value == "good"


def test_the_shield_leaves_with_the_secure_cookie() -> None:
    jar = jar_with("sid=good; Secure", url="https://example.com/")
    copy = jar.copy()
    receive(copy, "http://example.com/", "sid=evil; Path=/app")
    assert len(copy) == 1  # the copy is shielded too
    receive(jar, "https://example.com/", "sid=gone; Secure; Max-Age=0")
    receive(jar, "http://example.com/", "sid=new; Path=/app")
    assert [c.value for c in jar] == ["new"]
    copy.clear()
    receive(copy, "http://example.com/", "sid=new; Path=/app")
    assert [c.value for c in copy] == ["new"]


def test_plain_http_cannot_shadow_a_secure_cookie_through_the_client_flow() -> None:
    # Requests are built as Client.build_request builds them: with the client's jar.
    cookies = Cookies()
    play(
        send_flow(Request("GET", "https://example.com/login"), flow_options(cookies=cookies)),
        [(act.SendRequest, respond(200, {"Set-Cookie": "sid=good; Secure; Path=/"})),
         act.ReadResponse],
    )  # fmt: skip
    play(
        send_flow(Request("GET", "http://example.com/"), flow_options(cookies=cookies)),
        [(act.SendRequest, respond(200, {"Set-Cookie": "sid=evil; Path=/app"})),
         act.ReadResponse],
    )  # fmt: skip
    sent: list[str | None] = []
    play(
        send_flow(
            Request("GET", "https://example.com/app/page", cookies=cookies),
            flow_options(cookies=cookies),
        ),
        [(act.SendRequest, respond(check=lambda r: sent.append(r.headers.get("cookie")))),
         act.ReadResponse],
    )  # fmt: skip
    assert sent == ["sid=good"]


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("__Secure-a=b", False),
        ("__Secure-a=b; Secure", True),
        ("__secure-a=b", False),  # prefixes are matched case-insensitively
        ("__SECURE-a=b; Secure; Domain=example.com; Path=/x", True),
        ("__Host-a=b; Secure; Path=/", True),
        ("__Host-a=b; Secure", True),  # the default path of "/" is "/"
        ("__host-a=b; Path=/", False),
        ("__Host-a=b; Secure; Path=/x", False),
        ("__Host-a=b; Secure; Path=/; Domain=example.com", False),
        ("__Other-a=b", True),
        ("_Secure-a=b", True),
    ],
)
def test_cookie_name_prefixes(text: str, stored: bool) -> None:
    assert len(jar_with(text, url="https://example.com/")) == int(stored)


def test_prefixed_cookies_from_plain_http_are_rejected() -> None:
    assert len(jar_with("__Host-a=b; Secure; Path=/", url="http://example.com/")) == 0


# -- expiry -------------------------------------------------------------------------------


def test_max_age_sets_expiry_from_now() -> None:
    jar = jar_with("a=b; Max-Age=10")
    cookie = only(jar)
    assert cookie.expires == int(NOW) + 10
    assert not cookie.discard
    jar = CookieJar()
    jar.extract(["a=b; Max-Age=10"], scheme="http", host="example.com", path="/", now=NOW + 0.7)
    assert only(jar).expires == int(NOW) + 10


def test_expiry_boundary() -> None:
    jar = jar_with("a=b; Max-Age=10")
    cookie = only(jar)
    assert not cookie.is_expired(NOW + 9)
    assert not cookie.is_expired(NOW + 9.999)
    assert cookie.is_expired(NOW + 10)
    assert header(jar, "http://example.com/", now=NOW + 9) == "a=b"
    assert len(jar) == 1
    assert header(jar, "http://example.com/", now=NOW + 10) is None
    assert len(jar) == 0  # purged on the way


def test_expires_attribute() -> None:
    later = int(NOW) + 3600
    text = email.utils.formatdate(later, usegmt=True)
    cookie = only(jar_with(f"a=b; Expires={text}"))
    assert cookie.expires == later
    assert not cookie.discard


def test_expires_at_now_is_not_stored_and_one_second_later_is() -> None:
    at_now = email.utils.formatdate(NOW, usegmt=True)
    one_past = email.utils.formatdate(NOW + 1, usegmt=True)
    assert len(jar_with(f"a=b; Expires={at_now}")) == 0
    cookie = only(jar_with(f"a=b; Expires={one_past}"))
    assert cookie.expires == int(NOW) + 1


def test_invalid_expires_is_ignored() -> None:
    assert only(jar_with("a=b; Expires=tomorrow")).expires is None
    later = email.utils.formatdate(NOW + 60, usegmt=True)
    assert only(jar_with(f"a=b; Expires={later}; Expires=never")).expires == int(NOW) + 60


def test_max_age_wins_over_expires_in_any_order() -> None:
    later = email.utils.formatdate(NOW + 3600, usegmt=True)
    past = email.utils.formatdate(NOW - 3600, usegmt=True)
    assert only(jar_with(f"a=b; Max-Age=5; Expires={later}")).expires == int(NOW) + 5
    assert only(jar_with(f"a=b; Expires={later}; Max-Age=5")).expires == int(NOW) + 5
    assert only(jar_with(f"a=b; Expires={past}; Max-Age=5")).expires == int(NOW) + 5
    assert len(jar_with(f"a=b; Expires={later}; Max-Age=0")) == 0


@pytest.mark.parametrize(
    "max_age", ["", "abc", "+5", "-", "1.5", "5s", " ", "\u0661\u0662", "0x10"]
)
def test_invalid_max_age_is_ignored(max_age: str) -> None:
    later = email.utils.formatdate(NOW + 60, usegmt=True)
    assert only(jar_with(f"a=b; Max-Age={max_age}")).expires is None
    assert only(jar_with(f"a=b; Expires={later}; Max-Age={max_age}")).expires == int(NOW) + 60
    assert only(jar_with(f"a=b; Max-Age=7; Max-Age={max_age}")).expires == int(NOW) + 7


@pytest.mark.parametrize("attribute", ["Max-Age=0", "Max-Age=-1", "Max-Age=-99999999999999999999"])
def test_non_positive_max_age_deletes(attribute: str) -> None:
    jar = jar_with("a=b", "c=d")
    receive(jar, "http://example.com/", f"a=x; {attribute}")
    assert [c.name for c in jar] == ["c"]
    receive(jar, "http://example.com/", f"new=x; {attribute}")
    assert [c.name for c in jar] == ["c"]


def test_past_expires_deletes() -> None:
    jar = jar_with("a=b")
    receive(jar, "http://example.com/", "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert len(jar) == 0


def test_deletion_needs_the_same_domain_and_path() -> None:
    jar = jar_with("a=b; Path=/x")
    receive(jar, "http://example.com/", "a=; Max-Age=0")  # path "/" here
    assert len(jar) == 1


def test_lifetime_is_capped_at_the_limit() -> None:
    assert MAX_COOKIE_LIFETIME == 400 * 86400
    at_limit = only(jar_with(f"a=b; Max-Age={MAX_COOKIE_LIFETIME}"))
    past_limit = only(jar_with(f"a=b; Max-Age={MAX_COOKIE_LIFETIME + 1}"))
    huge = only(jar_with("a=b; Max-Age=" + "9" * 5000))  # beyond int()'s digit limit
    assert at_limit.expires == past_limit.expires == huge.expires == int(NOW) + MAX_COOKIE_LIFETIME
    far = email.utils.formatdate(NOW + MAX_COOKIE_LIFETIME + 1, usegmt=True)
    assert only(jar_with(f"a=b; Expires={far}")).expires == int(NOW) + MAX_COOKIE_LIFETIME
    far = "Fri, 31 Dec 9999 23:59:59 GMT"
    assert only(jar_with(f"a=b; Expires={far}")).expires == int(NOW) + MAX_COOKIE_LIFETIME


def test_lifetime_limit_is_configurable() -> None:
    assert only(jar_with("a=b; Max-Age=60", max_lifetime=30)).expires == int(NOW) + 30
    assert only(jar_with("a=b; Max-Age=30", max_lifetime=30)).expires == int(NOW) + 30
    assert only(jar_with("a=b; Max-Age=29", max_lifetime=30)).expires == int(NOW) + 29


# -- storage ------------------------------------------------------------------------------


def test_replacement_keeps_creation_time_and_order() -> None:
    jar = CookieJar()
    receive(jar, "http://example.com/", "a=1", "b=1", now=100.0)
    receive(jar, "http://example.com/", "a=2; HttpOnly", now=200.0)
    assert [(c.name, c.value, c.creation_time) for c in jar] == [
        ("a", "2", 100.0),
        ("b", "1", 100.0),
    ]
    assert jar.header_for(scheme="http", host="example.com", path="/", now=300.0) == "a=2; b=1"
    assert next(iter(jar)).http_only


def test_same_name_different_domain_or_path_are_different_cookies() -> None:
    jar = CookieJar()
    receive(jar, "http://www.example.com/", "a=host", "a=dom; Domain=example.com", "a=p; Path=/p")
    assert sorted((c.domain, c.path, c.value) for c in jar) == [
        (".example.com", "/", "dom"),
        ("www.example.com", "/", "host"),
        ("www.example.com", "/p", "p"),
    ]
    assert header(jar, "http://www.example.com/p/x") == "a=p; a=host; a=dom"
    assert header(jar, "http://example.com/p/x") == "a=dom"


def test_header_order_longest_path_then_oldest() -> None:
    jar = CookieJar()
    receive(jar, "http://example.com/", "root=1; Path=/", now=1.0)
    receive(jar, "http://example.com/", "deep=1; Path=/a/b", now=2.0)
    receive(jar, "http://example.com/", "mid=1; Path=/a", now=3.0)
    receive(jar, "http://example.com/", "root2=1; Path=/", now=4.0)
    receive(jar, "http://example.com/", "mid2=1; Path=/a", now=3.0)  # same time: storage order
    value = jar.header_for(scheme="http", host="example.com", path="/a/b/c", now=5.0)
    assert value == "deep=1; mid=1; mid2=1; root=1; root2=1"


def test_header_is_none_for_an_empty_jar_or_no_match() -> None:
    jar = CookieJar()
    assert header(jar, "http://example.com/") is None
    receive(jar, "http://example.com/", "a=b")
    assert header(jar, "http://example.org/") is None


def test_every_host_cookie_and_nameless_output() -> None:
    jar = CookieJar()
    jar.set_cookie(Cookie("", "just-a-value"))
    jar.set_cookie(Cookie("a", "b"))
    assert header(jar, "http://anything.example/") == "just-a-value; a=b"
    # An empty host must not see the every-host bucket twice.
    assert jar.header_for(scheme="http", host="", path="/", now=NOW) == "just-a-value; a=b"


def test_per_domain_limit_at_and_past_the_limit() -> None:
    assert MAX_COOKIES_PER_DOMAIN == 50
    jar = CookieJar()
    url = "http://example.com/"
    receive(jar, url, *(f"c{i}=v" for i in range(MAX_COOKIES_PER_DOMAIN)))
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    receive(jar, "http://www.example.com/", "sub=v")  # another domain is unaffected
    receive(jar, url, "c0=replaced")  # a replacement needs no room
    assert len(jar) == MAX_COOKIES_PER_DOMAIN + 1
    receive(jar, url, "one-past=v")
    names = [c.name for c in jar if c.domain == "example.com"]
    assert len(names) == MAX_COOKIES_PER_DOMAIN
    assert "c0" not in names  # the oldest went
    assert names[-1] == "one-past"


def test_per_domain_limit_counts_host_only_and_domain_cookies_together() -> None:
    jar = CookieJar(max_cookies_per_domain=2)
    receive(jar, "http://example.com/", "a=1", "b=1; Domain=example.com", "c=1")
    assert [c.name for c in jar] == ["b", "c"]


def test_eviction_takes_expired_cookies_before_the_oldest() -> None:
    jar = CookieJar(max_cookies_per_domain=3)
    receive(jar, "http://example.com/", "old=1", "short=1; Max-Age=5", "other=1")
    receive(jar, "http://example.com/", "new=1", now=NOW + 5)
    assert [c.name for c in jar] == ["old", "other", "new"]


def test_total_limit_at_and_past_the_limit() -> None:
    assert MAX_COOKIES == 3000
    jar = CookieJar()
    per_domain = MAX_COOKIES_PER_DOMAIN
    for d in range(MAX_COOKIES // per_domain):
        receive(jar, f"http://d{d}.example/", *(f"c{i}=v" for i in range(per_domain)))
    assert len(jar) == MAX_COOKIES
    receive(jar, "http://last.example/", "one-past=v")
    assert len(jar) == MAX_COOKIES
    first = next(iter(jar))
    assert (first.domain, first.name) == ("d0.example", "c1")


def test_total_limit_is_configurable_and_evicts_expired_first() -> None:
    jar = CookieJar(max_cookies=3)
    receive(jar, "http://a.example/", "a=1")
    receive(jar, "http://b.example/", "b=1; Max-Age=1")
    receive(jar, "http://c.example/", "c=1")
    receive(jar, "http://d.example/", "d=1", now=NOW + 1)
    assert [c.name for c in jar] == ["a", "c", "d"]
    receive(jar, "http://e.example/", "e=1", now=NOW + 1)
    assert [c.name for c in jar] == ["c", "d", "e"]


def test_cookie_size_at_and_past_the_limit() -> None:
    assert MAX_COOKIE_SIZE == 4096
    name = "n"
    assert len(jar_with(f"{name}={'v' * (MAX_COOKIE_SIZE - 1)}")) == 1
    assert len(jar_with(f"{name}={'v' * MAX_COOKIE_SIZE}")) == 0


def test_cookie_size_counts_utf8_bytes() -> None:
    # "é" is two bytes: 1 + 2 * 2047 = 4095 fits, 1 + 2 * 2048 = 4097 does not.
    assert len(jar_with("n=" + "é" * 2047)) == 1
    assert len(jar_with("n=" + "é" * 2048)) == 0
    assert len(jar_with("n=" + "é" * 2047 + "x")) == 1  # exactly 4096


def test_cookie_size_limit_is_configurable() -> None:
    assert len(jar_with("ab=cd", max_cookie_size=4)) == 1
    assert len(jar_with("ab=cde", max_cookie_size=4)) == 0


@pytest.mark.parametrize(
    "setting", ["max_cookies", "max_cookies_per_domain", "max_cookie_size", "max_lifetime"]
)
def test_limits_must_be_positive(setting: str) -> None:
    zero: dict[str, Any] = {setting: 0}
    one: dict[str, Any] = {setting: 1}
    with pytest.raises(ValueError, match=setting):
        CookieJar(**zero)
    assert getattr(CookieJar(**one), setting) == 1


def test_cookies_set_by_the_program_are_never_dropped() -> None:
    jar = CookieJar(max_cookies=2, max_cookies_per_domain=2, max_cookie_size=4)
    for i in range(5):
        jar.set_cookie(Cookie(f"c{i}", "a long value", domain="example.com"))
    assert len(jar) == 5


# -- direct jar access --------------------------------------------------------------------


def make_jar() -> CookieJar:
    jar = CookieJar()
    jar.set_cookie(Cookie("a", "1", domain="example.com", path="/"))
    jar.set_cookie(Cookie("b", "2", domain="example.com", path="/x"))
    jar.set_cookie(Cookie("c", "3", domain=".other.com", path="/"))
    return jar


def names(jar: CookieJar) -> list[str]:
    return [c.name for c in jar]


def test_clear_everything() -> None:
    jar = make_jar()
    jar.clear()
    assert len(jar) == 0
    assert header(jar, "http://example.com/x") is None


def test_clear_by_domain_path_and_name() -> None:
    jar = make_jar()
    jar.clear("example.com", "/x")
    assert names(jar) == ["a", "c"]
    jar.clear(".other.com", "/", "c")
    assert names(jar) == ["a"]
    jar.clear("example.com")
    assert names(jar) == []


@pytest.mark.parametrize(
    "args",
    [("nowhere.com",), ("example.com", "/nowhere"), ("example.com", "/", "nobody")],
)
def test_clear_raises_key_error_when_nothing_matches(args: tuple[str, ...]) -> None:
    jar = make_jar()
    with pytest.raises(KeyError):
        jar.clear(*args)
    assert len(jar) == 3


def test_clear_needs_domain_and_path_for_narrower_arguments() -> None:
    jar = make_jar()
    with pytest.raises(ValueError, match="domain and path"):
        jar.clear("example.com", None, "a")
    with pytest.raises(ValueError, match="domain and path"):
        jar.clear(None, "/", "a")
    with pytest.raises(ValueError, match="domain must be given"):
        jar.clear(None, "/")


def test_iteration_is_a_snapshot() -> None:
    jar = make_jar()
    for cookie in jar:
        jar.clear(cookie.domain, cookie.path, cookie.name)
    assert len(jar) == 0


def test_copy_is_independent_and_keeps_settings() -> None:
    jar = CookieJar(max_cookies_per_domain=2)
    receive(jar, "http://example.com/", "a=1", "b=1")
    clone = jar.copy()
    receive(clone, "http://example.com/", "c=1")
    assert names(jar) == ["a", "b"]
    assert names(clone) == ["b", "c"]
    clone.clear()
    assert names(jar) == ["a", "b"]
    assert header(jar, "http://example.com/") == "a=1; b=1"


def test_jar_repr() -> None:
    jar = make_jar()
    assert repr(jar) == (
        "<CookieJar[<Cookie a=1 for example.com/>, <Cookie b=2 for example.com/x>, "
        "<Cookie c=3 for .other.com/>]>"
    )


def test_set_cookie_replaces_in_place() -> None:
    jar = make_jar()
    jar.set_cookie(Cookie("a", "new", domain="example.com", path="/"))
    assert next(iter(jar)).value == "new"


def test_set_cookie_accepts_a_stdlib_cookie() -> None:
    jar = CookieJar()
    jar.set_cookie(stdlib_cookie("a", "b", ".example.com"))
    cookie = only(jar)
    assert isinstance(cookie, Cookie)
    assert header(jar, "http://www.example.com/") == "a=b"


# -- the Cookie value ---------------------------------------------------------------------


def test_cookie_defaults_and_properties() -> None:
    cookie = Cookie("a", "b")
    assert cookie.domain == ""
    assert cookie.path == "/"
    assert cookie.expires is None
    assert cookie.discard
    assert not cookie.host_only  # "" is every host
    assert Cookie("a", "b", domain="x.com").host_only
    assert not Cookie("a", "b", domain="x.com", domain_specified=True).host_only
    assert not Cookie("a", "b", domain=".x.com").host_only
    assert Cookie("a", "b", domain=".x.com").domain_initial_dot


def test_cookie_is_expired() -> None:
    assert not Cookie("a", "b").is_expired(NOW)
    assert not Cookie("a", "b").is_expired()
    cookie = Cookie("a", "b", expires=1_700_000_000)
    assert cookie.is_expired(1_700_000_000)
    assert not cookie.is_expired(1_699_999_999.5)
    assert cookie.is_expired()  # the installed wall clock says 1_700_000_000.0
    assert not Cookie("a", "b", expires=1_700_000_001).is_expired()


def test_cookie_nonstandard_attributes() -> None:
    cookie = Cookie("a", "b")
    assert not cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("HttpOnly", "x") == "x"
    cookie.set_nonstandard_attr("HttpOnly", None)
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("HttpOnly", "x") is None
    assert Cookie("a", "b").rest == {}  # not shared


def test_cookie_equality_and_repr() -> None:
    assert Cookie("a", "b", domain="x") == Cookie("a", "b", domain="x", rest={"k": "v"})
    assert Cookie("a", "b") != Cookie("a", "c")
    assert Cookie("a", "b") != ("a", "b")
    with pytest.raises(TypeError):
        hash(Cookie("a", "b"))
    assert repr(Cookie("a", "b", domain="x", expires=5)) == (
        "Cookie(name='a', value='b', domain='x', path='/', secure=False, expires=5)"
    )


def stdlib_cookie(
    name: str,
    value: str | None,
    domain: str,
    path: str = "/",
    *,
    secure: bool = False,
    expires: int | None = None,
    rest: dict[str, Any] | None = None,
) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=path,
        path_specified=True,
        secure=secure,
        expires=expires,
        discard=expires is None,
        comment="note",
        comment_url=None,
        rest=rest or {},
    )


def test_coerce_a_stdlib_cookie() -> None:
    original = stdlib_cookie(
        "a",
        "b",
        ".example.com",
        "/x",
        secure=True,
        expires=1234,
        rest={"HttpOnly": None, "SameSite": "Strict"},
    )
    cookie = Cookie.coerce(original)
    assert (cookie.name, cookie.value, cookie.domain, cookie.path) == (
        "a",
        "b",
        ".example.com",
        "/x",
    )
    assert cookie.secure
    assert cookie.expires == 1234
    assert not cookie.discard
    assert cookie.http_only
    assert cookie.same_site == "Strict"
    assert cookie.domain_specified
    assert cookie.path_specified
    assert cookie.comment == "note"
    assert cookie.version == 0
    assert cookie.rest == {"HttpOnly": None, "SameSite": "Strict"}
    assert Cookie.coerce(cookie) is cookie


def test_coerce_a_stdlib_cookie_without_value() -> None:
    cookie = Cookie.coerce(stdlib_cookie("flag", None, "example.com"))
    assert cookie.value == ""
    assert not cookie.http_only
    assert cookie.same_site is None


def test_coerce_a_minimal_duck() -> None:
    cookie = Cookie.coerce(SimpleNamespace(name="a", value="b", rest=None, expires=5.9))
    assert (cookie.domain, cookie.path, cookie.expires, cookie.rest) == ("", "/", 5, {})
    assert not cookie.discard
    cookie = Cookie.coerce(SimpleNamespace(name="a", value="b", rest={"httponly": ""}))
    assert cookie.http_only
    assert cookie.discard


def test_coerce_rejects_non_cookies() -> None:
    with pytest.raises(TypeError, match=r"name and \.value"):
        Cookie.coerce(("a", "b"))


# -- Cookies: the public mapping ----------------------------------------------------------


def test_cookies_from_nothing_dict_and_pairs() -> None:
    assert len(Cookies()) == 0
    assert not Cookies()
    assert dict(Cookies({"a": "1", "b": "2"})) == {"a": "1", "b": "2"}
    assert dict(Cookies([("a", "1"), ("b", "2")])) == {"a": "1", "b": "2"}
    assert dict(Cookies((("a", "1"),))) == {"a": "1"}
    assert Cookies({"a": "1"})


def test_cookies_from_cookies_is_a_copy() -> None:
    original = Cookies({"a": "1"})
    copy = Cookies(original)
    copy["b"] = "2"
    assert dict(original) == {"a": "1"}
    assert dict(copy) == {"a": "1", "b": "2"}


def test_cookies_from_a_jar_shares_it() -> None:
    jar = CookieJar()
    cookies = Cookies(jar)
    assert cookies.jar is jar
    cookies["a"] = "1"
    assert len(jar) == 1


def test_cookies_from_a_stdlib_cookie_jar() -> None:
    stdlib_jar = http.cookiejar.CookieJar()
    stdlib_jar.set_cookie(stdlib_cookie("a", "1", ".example.com"))
    stdlib_jar.set_cookie(stdlib_cookie("b", "2", "example.com", "/x", secure=True))
    cookies = Cookies(stdlib_jar)
    assert dict(cookies) == {"a": "1", "b": "2"}
    assert cookies.get("b", domain="example.com", path="/x") == "2"
    request = FakeRequest(FakeURL("http", "www.example.com", "/x"))
    cookies.set_cookie_header(request, now=NOW)
    assert request.headers.get("Cookie") == "a=1"
    request = FakeRequest(FakeURL("https", "example.com", "/x/y"))
    cookies.set_cookie_header(request, now=NOW)
    assert request.headers.get("Cookie") == "b=2; a=1"


def test_cookies_from_an_iterable_of_ducks() -> None:
    cookies = Cookies(iter([SimpleNamespace(name="a", value="1", domain="x.com")]))
    assert cookies.get("a", domain="x.com") == "1"


def test_cookies_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="cookies must be"):
        Cookies(42)
    with pytest.raises(TypeError, match=r"name and \.value"):
        Cookies({1, 2})


def test_cookies_set_get_and_item_access() -> None:
    cookies = Cookies()
    cookies.set("a", "1")
    cookies.set("a", "2", domain="example.com")
    cookies.set("a", "3", domain="example.com", path="/x")
    cookies["b"] = "4"
    assert cookies["b"] == "4"
    assert cookies.get("a", domain="") == "1"
    assert cookies.get("a", domain="example.com", path="/") == "2"
    assert cookies.get("a", path="/x") == "3"
    assert cookies.get("missing") is None
    assert cookies.get("missing", "default") == "default"
    with pytest.raises(KeyError):
        cookies["missing"]
    with pytest.raises(CookieConflict, match="name=a"):
        cookies.get("a")
    with pytest.raises(CookieConflict):
        cookies["a"]
    with pytest.raises(CookieConflict):
        cookies.get("a", domain="example.com")
    assert list(cookies) == ["a", "a", "a", "b"]
    assert len(cookies) == 4


def test_cookies_empty_value_is_a_value() -> None:
    cookies = Cookies({"a": ""})
    assert cookies.get("a", "default") == ""
    assert cookies["a"] == ""


def test_cookies_set_matches_httpx_cookie_fields() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain=".example.com", path="/x")
    cookie = only(cookies.jar)
    assert (cookie.domain, cookie.path) == (".example.com", "/x")
    assert cookie.domain_specified
    assert cookie.path_specified
    assert cookie.discard
    assert cookie.expires is None
    assert not cookie.secure
    cookies.set("b", "2", path="")
    assert not next(c for c in cookies.jar if c.name == "b").path_specified


def test_cookies_set_domain_reaches_subdomains_and_no_domain_reaches_all() -> None:
    cookies = Cookies()
    cookies.set("everywhere", "1")
    cookies.set("dom", "2", domain="example.com")
    for host, expected in [
        ("example.com", "everywhere=1; dom=2"),
        ("www.example.com", "everywhere=1; dom=2"),
        ("other.org", "everywhere=1"),
    ]:
        request = FakeRequest(FakeURL("http", host, "/"))
        cookies.set_cookie_header(request, now=NOW)
        assert request.headers.get("Cookie") == expected, host


def test_cookies_delete() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="x.com")
    cookies.set("a", "2", domain="y.com")
    cookies.set("a", "3", domain="y.com", path="/p")
    cookies.set("b", "4", domain="y.com")
    cookies.delete("a", domain="y.com", path="/p")
    assert len(cookies) == 3
    with pytest.raises(KeyError):
        cookies.delete("a", domain="y.com", path="/p")
    cookies.delete("a", domain="y.com")
    assert cookies.get("a") == "1"
    cookies.delete("a", path="/nowhere")
    assert cookies.get("a") == "1"
    del cookies["a"]
    assert dict(cookies) == {"b": "4"}
    del cookies["missing"]  # as in httpx, deleting an absent name is quiet
    cookies.delete("b", path="/")
    assert not cookies


def test_cookies_delete_every_name_while_iterating() -> None:
    cookies = Cookies({"a": "1", "b": "2"})
    for name in cookies:
        del cookies[name]
    assert len(cookies) == 0


def test_cookies_clear() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="x.com")
    cookies.set("b", "2", domain="x.com", path="/p")
    cookies.set("c", "3", domain="y.com")
    cookies.clear("x.com", "/p")
    assert list(cookies) == ["a", "c"]
    cookies.clear("x.com")
    assert list(cookies) == ["c"]
    with pytest.raises(KeyError):
        cookies.clear("x.com")
    with pytest.raises(ValueError, match="domain must be given"):
        cookies.clear(path="/")
    cookies.clear()
    assert not cookies


def test_cookies_update() -> None:
    cookies = Cookies({"a": "1", "b": "2"})
    cookies.update({"b": "3", "c": "4"})
    assert dict(cookies) == {"a": "1", "b": "3", "c": "4"}
    cookies.update(Cookies([("d", "5")]))
    cookies.update(None)
    assert dict(cookies) == {"a": "1", "b": "3", "c": "4", "d": "5"}


def test_cookies_repr() -> None:
    cookies = Cookies()
    assert repr(cookies) == "<Cookies[]>"
    cookies.set("a", "b", domain="example.com")
    cookies.set("c", "d")
    assert repr(cookies) == "<Cookies[<Cookie a=b for example.com />, <Cookie c=d for  />]>"


def test_cookies_is_a_mutable_mapping() -> None:
    cookies = Cookies({"a": "1"})
    assert "a" in cookies
    assert "b" not in cookies
    assert cookies == {"a": "1"}
    assert cookies.setdefault("b", "2") == "2"
    assert dict(cookies.items()) == {"a": "1", "b": "2"}


# -- Cookies with requests and responses (duck-typed) -------------------------------------


class FakeURL:
    def __init__(self, scheme: str, host: str, path: str) -> None:
        self.scheme = scheme
        self.host = host
        self.path = path


class FakeHeaders:
    """Just enough of sansio.headers.Headers: case-insensitive, multi-valued."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.items = list(items or [])

    def get_list(self, key: str) -> list[str]:
        return [v for k, v in self.items if k.lower() == key.lower()]

    def get(self, key: str) -> str | None:
        found = self.get_list(key)
        return ", ".join(found) if found else None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.get_list(key))

    def __setitem__(self, key: str, value: str) -> None:
        self.items = [(k, v) for k, v in self.items if k.lower() != key.lower()]
        self.items.append((key, value))


class FakeRequest:
    def __init__(self, url: FakeURL, headers: FakeHeaders | None = None) -> None:
        self.url = url
        self.headers = headers or FakeHeaders()


class FakeResponse:
    def __init__(self, request: FakeRequest, set_cookies: list[str]) -> None:
        self.request = request
        self.headers = FakeHeaders([("Content-Type", "text/plain")])
        self.headers.items += [("Set-Cookie", value) for value in set_cookies]


def response_from(url: FakeURL, *set_cookies: str) -> FakeResponse:
    return FakeResponse(FakeRequest(url), list(set_cookies))


@pytest.fixture
def no_clock() -> Iterator[None]:
    """An Env whose clock raises, to prove a fast path never reads it."""
    previous = env.install(env.Env())
    try:
        yield
    finally:
        env.install(previous)


def test_extract_cookies_and_send_them_back() -> None:
    cookies = Cookies()
    url = FakeURL("https", "www.example.com", "/login/form")
    response = response_from(url, "session=abc; Secure; HttpOnly", "pref=1; Domain=example.com")
    cookies.extract_cookies(response, now=NOW)
    assert dict(cookies) == {"session": "abc", "pref": "1"}
    assert {c.name: c.path for c in cookies.jar} == {"session": "/login", "pref": "/login"}
    request = FakeRequest(FakeURL("https", "www.example.com", "/login/next"))
    cookies.set_cookie_header(request, now=NOW)
    assert request.headers.get("Cookie") == "session=abc; pref=1"
    request = FakeRequest(FakeURL("http", "api.example.com", "/login"))
    cookies.set_cookie_header(request, now=NOW)
    assert request.headers.get("Cookie") == "pref=1"
    request = FakeRequest(FakeURL("http", "api.example.com", "/"))
    cookies.set_cookie_header(request, now=NOW)
    assert "Cookie" not in request.headers


def test_extract_cookies_reads_the_wall_clock_when_now_is_omitted() -> None:
    cookies = Cookies()
    cookies.extract_cookies(response_from(FakeURL("http", "example.com", "/"), "a=b; Max-Age=60"))
    cookie = only(cookies.jar)
    assert cookie.creation_time == 1_700_000_000.0
    assert cookie.expires == 1_700_000_060


@pytest.mark.usefixtures("no_clock")
def test_extract_cookies_without_set_cookie_does_nothing() -> None:
    cookies = Cookies()
    cookies.extract_cookies(response_from(FakeURL("http", "example.com", "/")))
    assert len(cookies) == 0


@pytest.mark.usefixtures("no_clock")
def test_set_cookie_header_with_an_empty_jar_does_nothing() -> None:
    request = FakeRequest(FakeURL("http", "example.com", "/"))
    Cookies().set_cookie_header(request)
    assert "Cookie" not in request.headers


def test_set_cookie_header_reads_the_wall_clock_when_now_is_omitted() -> None:
    cookies = Cookies()
    cookies.jar.set_cookie(Cookie("old", "1", expires=1_700_000_000))
    cookies.jar.set_cookie(Cookie("new", "2", expires=1_700_000_001))
    request = FakeRequest(FakeURL("http", "example.com", "/"))
    cookies.set_cookie_header(request)
    assert request.headers.get("Cookie") == "new=2"
    assert list(cookies) == ["new"]


def test_set_cookie_header_keeps_an_explicit_cookie_header() -> None:
    cookies = Cookies({"a": "1"})
    request = FakeRequest(FakeURL("http", "example.com", "/"), FakeHeaders([("cookie", "x=y")]))
    cookies.set_cookie_header(request, now=NOW)
    assert request.headers.get_list("Cookie") == ["x=y"]


def test_set_cookie_header_with_no_matching_cookie_adds_nothing() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="other.com")
    request = FakeRequest(FakeURL("http", "example.com", "/"))
    cookies.set_cookie_header(request, now=NOW)
    assert "Cookie" not in request.headers


# -- properties ---------------------------------------------------------------------------

_hosts = st.sampled_from(
    ["example.com", "www.example.com", "co.uk", "a.co.uk", "127.0.0.1", "::1", "localhost", ""]
)


@given(
    st.lists(st.text(max_size=80), max_size=4),
    st.sampled_from(["http", "https", "ws", "wss", "ftp", ""]),
    _hosts,
    st.text(max_size=20),
    st.floats(min_value=0, max_value=1e10),
)
def test_parsing_never_raises(
    values: list[str], scheme: str, host: str, path: str, now: float
) -> None:
    jar = CookieJar()
    jar.extract(values, scheme=scheme, host=host, path=path, now=now)
    assert len(jar) <= len(values)
    jar.header_for(scheme=scheme, host=host, path=path, now=now)


_attribute = st.sampled_from(
    [
        "Path=/",
        "Path=/a",
        "Domain=example.com",
        "Domain=.co.uk",
        "Secure",
        "HttpOnly",
        "Max-Age=0",
        "Max-Age=10",
        "Max-Age=-1",
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "Expires=Fri, 31 Dec 9999 23:59:59 GMT",
        "SameSite=Lax",
        "",
        "=",
        "junk",
    ]
)


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";="),
        min_size=1,
        max_size=10,
    ),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";"),
        max_size=10,
    ),
    st.lists(_attribute, max_size=5),
    st.sampled_from([" ", "", "  ", "\t"]),
)
def test_wellformed_cookies_round_trip(
    name: str, value: str, attributes: list[str], space: str
) -> None:
    text = f"{space};{space}".join([f"{name}={value}", *attributes]) + space
    jar = CookieJar()
    receive(jar, "https://www.example.com/a/b", text)
    for cookie in jar:
        assert (cookie.name, cookie.value) == (name, value)
        sent = header(jar, "https://www.example.com/a/b")
        assert sent is not None
        assert f"{name}={value}" in sent.split("; ")


# -- a user's http.cookiejar jar, mirrored ---------------------------------------------------


def _stdlib_jar() -> Any:
    import http.cookiejar

    return http.cookiejar.CookieJar()


def test_mirror_takes_in_writes_through_and_follows_changes() -> None:
    user = _stdlib_jar()
    seeded = CookieJar()
    seeded.set_cookie(Cookie("seed", "1", domain="example.com", path="/"))
    for cookie in seeded:
        user.set_cookie(cookie)
    jar = CookieJar()
    jar.mirror(user)
    assert [c.name for c in jar] == ["seed"]
    jar.extract(["a=1", "b=2; Max-Age=0"], scheme="https", host="example.com", path="/", now=NOW)
    assert sorted(c.name for c in user) == ["a", "seed"]
    # The user removes one directly: this jar follows, and dropping it later is fine.
    user.clear("example.com", "/", "seed")
    assert jar.header_for(scheme="https", host="example.com", path="/", now=NOW) == "a=1"
    jar.extract(["a=; Max-Age=0"], scheme="https", host="example.com", path="/", now=NOW)
    assert list(user) == []
    jar.extract(["c=3"], scheme="https", host="example.com", path="/", now=NOW)
    jar.clear()
    assert list(user) == []
    assert len(jar) == 0
    copy = jar.copy()
    copy.extract(["d=4"], scheme="https", host="example.com", path="/", now=NOW)
    assert list(user) == []  # a copy does not mirror


def test_mirror_keeps_this_jars_rules() -> None:
    user = _stdlib_jar()
    jar = CookieJar()
    jar.mirror(user)
    jar.extract(["x=1; Domain=com"], scheme="https", host="example.com", path="/", now=NOW)
    assert list(user) == []


def test_removing_a_cookie_the_user_removed_first() -> None:
    user = _stdlib_jar()
    jar = CookieJar()
    jar.mirror(user)
    jar.extract(["x=1; Max-Age=10"], scheme="https", host="example.com", path="/", now=NOW)
    stored = next(iter(jar))
    user.clear()
    jar._remove((stored.domain, stored.path, stored.name))  # the user's copy is gone: fine
    assert list(user) == []
    assert len(jar) == 0
