"""Mount and proxy patterns: httpx's forms, specificity order, and bad keys."""

from __future__ import annotations

import pytest

from sansio.mounts import MountTable, URLPattern
from sansio.urls import URL


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("all://", "http://example.com", True),
        ("all://", "https://example.com:123", True),
        ("", "https://example.com", True),
        ("https://", "https://example.com", True),
        ("https://", "http://example.com", False),
        ("http://", "https://example.com", False),
        ("http://example.com", "http://example.com", True),
        ("http://example.com", "http://example.com:8080/path", True),
        ("http://example.com", "https://example.com", False),
        ("http://example.com", "http://www.example.com", False),
        ("http://example.com", "http://example.com.evil", False),
        ("all://example.com", "https://EXAMPLE.com", True),
        ("all://*.example.com", "http://www.example.com", True),
        ("all://*.example.com", "http://a.b.example.com", True),
        ("all://*.example.com", "http://example.com", False),
        ("all://*.example.com", "http://wwwexample.com", False),
        ("all://*example.com", "http://www.example.com", True),
        ("all://*example.com", "http://example.com", True),
        ("all://*example.com", "http://wwwexample.com", False),
        ("all://*", "http://anything.example", True),
        ("all://*:8080", "http://anything.example:8080", True),
        ("all://*:8080", "http://anything.example", False),
        ("https://example.com:8443", "https://example.com:8443", True),
        ("https://example.com:8443", "https://example.com", False),
        ("https://example.com:443", "https://example.com", True),
        ("https://example.com:443", "https://example.com:8443", False),
        ("http://example.com:80", "http://example.com:8080", False),
        ("all://example.com:443", "https://example.com", True),
        ("all://example.com:443", "http://example.com:443", True),
        ("all://example.com:443", "http://example.com", False),
        ("http://[::1]", "http://[::1]:8080", True),
        ("http://[::1]:8080", "http://[::1]:8080/", True),
        ("http://[::1]:8080", "http://[::1]:8081/", False),
        ("all://[::1]", "http://[::2]", False),
        # IPv6 hosts are compared in RFC 5952 form, however either side spells them.
        ("all://[::1]", "http://[0:0::1]", True),
        ("all://[0:0:0:0:0:0:0:1]", "http://[::1]", True),
        ("http://[2001:DB8::1]:8080", "http://[2001:db8:0::1]:8080/", True),
        ("all://[::ffff:1.2.3.4]", "http://[::ffff:102:304]", True),
        ("all://*.bücher.example", "https://shop.bücher.example", True),
        ("all://*.bücher.example", "https://shop.xn--bcher-kva.example", True),
        ("all://example.com/ignored/path", "https://example.com/other", True),
        ("ALL://Example.COM", "http://example.com", True),
    ],
)
def test_matches(pattern: str, url: str, matches: bool) -> None:
    assert URLPattern(pattern).matches(URL(url)) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        "http",  # a bare scheme, not a pattern
        "all",
        "example.com",
        "http://exa mple.com",
        "http://example.com:99999",
        "http://example.com:port",
        "http://[::1",
        "all://*.*.example.com",
        "all://www.*.example.com",
        "1http://example.com",  # not a scheme
        "ht tp://example.com",
        "://example.com",
    ],
)
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        URLPattern(pattern)


def test_a_bare_scheme_gets_a_hint() -> None:
    with pytest.raises(ValueError, match="'http://'"):
        URLPattern("http")


def test_patterns_must_be_str() -> None:
    with pytest.raises(TypeError):
        URLPattern(b"http://")  # type: ignore[arg-type]


def test_attributes_as_httpx_shows_them() -> None:
    pattern = URLPattern("all://*.example.com:8080")
    assert (pattern.scheme, pattern.host, pattern.port) == ("", "*.example.com", 8080)
    assert URLPattern("https://*example.com").host == "*example.com"
    assert URLPattern("all://*").host == ""
    assert URLPattern("all://").host == ""
    assert URLPattern("http://[::1]:1").host == "::1"
    assert URLPattern("https://h:443").port == 443
    assert URLPattern("https://h").port is None


def test_equality_hash_repr_and_order() -> None:
    assert URLPattern("all://") == URLPattern("all://")
    assert URLPattern("all://") != URLPattern("https://")
    assert URLPattern("all://") != "all://"
    assert len({URLPattern("all://"), URLPattern("all://")}) == 1
    assert repr(URLPattern("https://")) == "URLPattern('https://')"
    assert URLPattern("https://example.com") < URLPattern("https://")
    assert not URLPattern("all://") < URLPattern("all://")


def test_specificity_order() -> None:
    keys = [
        "all://",
        "http://",
        "https://",
        "all://*example.com",
        "all://example.com",
        "all://*.example.com",
        "https://example.com",
        "all://www.example.com",
        "all://*:8080",
        "all://example.com:8080",
    ]
    table = MountTable({key: key for key in keys})
    assert [pattern.pattern for pattern, _ in table.items()] == [
        "all://example.com:8080",  # a port first
        "all://*:8080",
        "all://www.example.com",  # then the longer host
        "all://*.example.com",  # ".example.com" is longer than "example.com"
        "https://example.com",  # an exact host before a wildcard of the same length...
        "all://example.com",  # ...and a longer scheme first
        "all://*example.com",
        "https://",  # longer schemes first
        "http://",
        "all://",  # "all" counts as no scheme
    ]
    assert table.values() == [pattern.pattern for pattern, _ in table.items()]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com:8080/", "port"),
        ("http://example.com:8080/", "port"),
        ("https://www.example.com/", "www"),
        ("https://api.example.com/", "subdomains"),
        ("https://example.com/", "exact"),
        ("http://example.com/", "domain"),
        ("https://other.example/", "https"),
        ("http://other.example/", "all"),
    ],
)
def test_lookup_takes_the_most_specific_match(url: str, expected: str) -> None:
    table = MountTable(
        [
            ("all://", "all"),
            ("https://", "https"),
            ("all://*example.com", "domain"),
            ("all://*.example.com", "subdomains"),
            ("https://example.com", "exact"),
            ("all://www.example.com", "www"),
            ("all://example.com:8080", "port"),
        ]
    )
    assert table.lookup(URL(url), "default") == expected


def test_equal_patterns_keep_the_order_given() -> None:
    table = MountTable([("http://a.example", 1), ("all://*.example", 2), ("http://b.example", 3)])
    assert table.values() == [1, 3, 2]


def test_lookup_falls_back_to_the_default() -> None:
    table: MountTable[str | None] = MountTable({"https://": None})
    assert table.lookup(URL("http://example.com"), "default") == "default"
    assert table.lookup(URL("https://example.com"), "default") is None


def test_an_empty_table() -> None:
    table: MountTable[int] = MountTable()
    assert not table
    assert len(table) == 0
    assert table.values() == []
    assert table.lookup(URL("https://example.com"), 7) == 7
    assert len(MountTable({"all://": 1})) == 1
    assert MountTable({"all://": 1})


# -- networks and the root dot (beyond httpx) ---------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("all://10.0.0.0/8", "http://10.0.0.0/", True),
        ("all://10.0.0.0/8", "http://10.255.255.255:8080/", True),
        ("all://10.0.0.0/8", "http://11.0.0.0/", False),
        ("all://10.0.0.0/8", "http://9.255.255.255/", False),
        ("all://10.1.2.3/8", "http://10.200.0.1/", True),  # host bits dropped, as requests
        ("all://192.168.0.0/16", "https://192.168.7.7/", True),
        ("all://192.168.0.0/16", "https://192.169.0.1/", False),
        ("all://192.168.1.1/32", "http://192.168.1.1/", True),
        ("all://192.168.1.1/32", "http://192.168.1.2/", False),
        ("all://0.0.0.0/0", "http://203.0.113.9/", True),
        ("all://0.0.0.0/0", "http://[::1]/", False),  # another family
        ("all://10.0.0.0/8", "http://ten.example/", False),  # names are not resolved
        ("all://10.0.0.0/8", "http://10.example/", False),
        ("all://[::1]/128", "http://[::1]/", True),
        ("all://[::1]/128", "http://[0:0::1]:8080/", True),
        ("all://[::1]/128", "http://[::2]/", False),
        ("all://[fd00::]/8", "http://[fd12:3456::1]/", True),
        ("all://[fd00::]/8", "http://[fe80::1]/", False),
        ("all://[fd00::]/8", "http://10.0.0.1/", False),
        ("all://[::ffff:0:0]/96", "http://[::ffff:10.0.0.1]/", True),
        ("all://[::ffff:0:0]/96", "http://10.0.0.1/", False),  # no mapping across families
        ("https://10.0.0.0/8", "http://10.0.0.1/", False),
        ("all://10.0.0.0:8080/8", "http://10.9.9.9:8080/", True),
        ("all://10.0.0.0:8080/8", "http://10.9.9.9/", False),
        # Any other path is ignored, as httpx ignores it: the address alone.
        ("all://10.0.0.0/8/x", "http://10.0.0.0/", True),
        ("all://10.0.0.0/8/x", "http://10.0.0.1/", False),
        ("all://10.0.0.0/x", "http://10.0.0.1/", False),
        ("all://10.0.0.0/0008", "http://10.0.0.1/", False),
        ("all://example.com/8", "http://example.com/", True),
        ("all://*example.com/8", "http://www.example.com/", True),
        # The DNS root's dot, on either side.
        ("all://example.com", "http://example.com./", True),
        ("all://example.com.", "http://example.com/", True),
        ("all://example.com.", "http://example.com./", True),
        ("all://*example.com", "http://www.example.com./", True),
        ("all://*.example.com", "http://www.example.com./", True),
        ("all://*.example.com", "http://example.com./", False),
        ("all://*example.com.", "http://example.com/", True),
        ("all://localhost", "http://localhost.:8000/", True),
    ],
)
def test_networks_and_root_dots(pattern: str, url: str, matches: bool) -> None:
    assert URLPattern(pattern).matches(URL(url)) is matches


@pytest.mark.parametrize(
    "pattern", ["all://10.0.0.0/33", "all://[::1]/129", "http://192.168.0.0/999"]
)
def test_a_prefix_too_long_for_its_family_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="Invalid URL pattern"):
        URLPattern(pattern)


def test_networks_show_as_networks() -> None:
    assert URLPattern("all://10.1.2.3/8").host == "10.0.0.0/8"
    assert URLPattern("all://[FD00::]/8").host == "fd00::/8"
    assert URLPattern("all://10.0.0.0/8/x").host == "10.0.0.0"


def test_networks_rank_below_hosts_and_longer_prefixes_first() -> None:
    keys = [
        "all://",
        "all://10.0.0.0/8",
        "https://10.0.0.0/8",
        "all://10.1.0.0/16",
        "all://10.1.2.3",
        "all://0.0.0.0/0",
        "all://10.0.0.0:8443/8",
        "all://*.example.com",
    ]
    table = MountTable({key: key for key in keys})
    assert table.values() == [
        "all://10.0.0.0:8443/8",  # a port first, as always
        "all://*.example.com",  # every pattern naming a host before any network
        "all://10.1.2.3",
        "all://10.1.0.0/16",  # the longer prefix first
        "https://10.0.0.0/8",  # then the longer scheme
        "all://10.0.0.0/8",
        "all://0.0.0.0/0",
        "all://",
    ]
    assert table.lookup(URL("http://10.1.2.3/"), None) == "all://10.1.2.3"
    assert table.lookup(URL("http://10.1.9.9/"), None) == "all://10.1.0.0/16"
    assert table.lookup(URL("https://10.9.9.9/"), None) == "https://10.0.0.0/8"
    assert table.lookup(URL("http://10.9.9.9/"), None) == "all://10.0.0.0/8"
    assert table.lookup(URL("http://192.0.2.1/"), None) == "all://0.0.0.0/0"
    assert table.lookup(URL("http://[::1]/"), None) == "all://"
