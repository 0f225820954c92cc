"""Tests for `sansio.config`: Timeout, Limits, Proxy and the client-default marker."""

from __future__ import annotations

from typing import Any

import pytest

from sansio import config
from sansio.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    USE_CLIENT_DEFAULT,
    Limits,
    Proxy,
    Timeout,
    UseClientDefault,
)
from sansio.exceptions import LocalProtocolError
from sansio.headers import Headers
from sansio.urls import URL

# -- UseClientDefault --------------------------------------------------------------------


def test_use_client_default_marker() -> None:
    assert isinstance(USE_CLIENT_DEFAULT, UseClientDefault)
    assert repr(USE_CLIENT_DEFAULT) == "<UseClientDefault>"
    assert USE_CLIENT_DEFAULT is not None
    assert not hasattr(USE_CLIENT_DEFAULT, "__dict__")


def test_unset_marker_repr() -> None:
    assert repr(config._UNSET) == "<UNSET>"


def test_all_names_exist() -> None:
    for name in config.__all__:
        assert hasattr(config, name)


# -- Timeout -----------------------------------------------------------------------------


def _parts(timeout: Timeout) -> tuple[float | None, ...]:
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)


def test_timeout_single_value_sets_all_four() -> None:
    timeout = Timeout(5.0)
    assert _parts(timeout) == (5.0, 5.0, 5.0, 5.0)
    assert timeout.as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert repr(timeout) == "Timeout(timeout=5.0)"


def test_timeout_none_disables_all() -> None:
    timeout = Timeout(None)
    assert _parts(timeout) == (None, None, None, None)
    assert repr(timeout) == "Timeout(timeout=None)"


def test_timeout_keyword_timeout() -> None:
    assert Timeout(timeout=2) == Timeout(2.0)


def test_timeout_default_with_overrides() -> None:
    timeout = Timeout(5.0, connect=1.0)
    assert _parts(timeout) == (1.0, 5.0, 5.0, 5.0)
    assert repr(timeout) == "Timeout(connect=1.0, read=5.0, write=5.0, pool=5.0)"
    assert _parts(Timeout(None, read=3.0)) == (None, 3.0, None, None)
    assert _parts(Timeout(5.0, pool=None)) == (5.0, 5.0, 5.0, None)
    assert _parts(Timeout(5.0, write=2.0)) == (5.0, 5.0, 2.0, 5.0)


def test_timeout_all_four_explicit() -> None:
    timeout = Timeout(connect=1, read=2, write=3, pool=4)
    assert _parts(timeout) == (1, 2, 3, 4)
    assert Timeout(connect=None, read=None, write=None, pool=None) == Timeout(None)


def test_timeout_all_four_explicit_wins_over_default() -> None:
    assert _parts(Timeout(9.0, connect=1, read=2, write=3, pool=4)) == (1, 2, 3, 4)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"connect": 1.0}, {"connect": 1.0, "read": 2.0, "write": 3.0}],
)
def test_timeout_without_default_needs_all_four(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="all four"):
        Timeout(**kwargs)


def test_timeout_from_four_tuple() -> None:
    assert _parts(Timeout((1.0, 2.0, 3.0, 4.0))) == (1.0, 2.0, 3.0, 4.0)


def test_timeout_from_short_tuples_like_httpx() -> None:
    assert _parts(Timeout((1.0, 2.0))) == (1.0, 2.0, None, None)  # type: ignore[arg-type]
    assert _parts(Timeout((1.0, 2.0, 3.0))) == (1.0, 2.0, 3.0, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [(), (1.0,), (1.0, 2.0, 3.0, 4.0, 5.0)])
def test_timeout_tuple_of_wrong_length(value: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="tuple"):
        Timeout(value)  # type: ignore[arg-type]


def test_timeout_tuple_takes_no_other_arguments() -> None:
    with pytest.raises(ValueError, match="no other arguments"):
        Timeout((1.0, 2.0, 3.0, 4.0), connect=5.0)


def test_timeout_from_timeout_copies() -> None:
    original = Timeout(5.0, connect=1.0)
    copy = Timeout(original)
    assert copy == original
    assert copy is not original


def test_timeout_from_timeout_takes_no_other_arguments() -> None:
    with pytest.raises(ValueError, match="no other arguments"):
        Timeout(Timeout(5.0), read=1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": "5"},
        {"timeout": True},
        {"timeout": 5.0, "connect": "1"},
        {"timeout": 5.0, "pool": object()},
        {"timeout": (1.0, "2", None, None)},
    ],
)
def test_timeout_values_must_be_numbers(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="must be a number or None"):
        Timeout(**kwargs)


@pytest.mark.parametrize("name", ["connect", "read", "write", "pool"])
def test_timeout_values_must_not_be_negative(name: str) -> None:
    with pytest.raises(ValueError, match=f"timeout {name} must not be negative"):
        Timeout(5.0, **{name: -0.1})


def test_timeout_zero_is_allowed() -> None:
    assert Timeout(0).connect == 0


def test_timeout_equality_and_hash() -> None:
    assert Timeout(5.0) == Timeout(5.0)
    assert Timeout(5.0) != Timeout(5.0, pool=None)
    assert Timeout(5.0) != 5.0
    assert hash(Timeout(5.0)) == hash(Timeout(connect=5.0, read=5.0, write=5.0, pool=5.0))
    assert len({Timeout(1), Timeout(1.0), Timeout(2)}) == 2


def test_default_timeout() -> None:
    assert Timeout(5.0) == DEFAULT_TIMEOUT_CONFIG


def test_timeout_total_is_off_by_default_and_invisible_then() -> None:
    timeout = Timeout(5.0)
    assert timeout.total is None
    # httpx's as_dict, repr and equality, unchanged when total is not used.
    assert timeout.as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert timeout == Timeout(5.0, total=None)


def test_timeout_total_with_every_form() -> None:
    assert Timeout(5.0, total=30).total == 30
    assert Timeout(connect=1, read=2, write=3, pool=4, total=10).total == 10
    assert Timeout((1.0, 2.0), total=3.0).total == 3.0  # type: ignore[arg-type]
    assert Timeout(None, total=0).total == 0
    timeout = Timeout(5.0, connect=1.0, total=30.0)
    assert timeout.as_dict() == {
        "connect": 1.0, "read": 5.0, "write": 5.0, "pool": 5.0, "total": 30.0
    }  # fmt: skip
    assert repr(timeout) == "Timeout(connect=1.0, read=5.0, write=5.0, pool=5.0, total=30.0)"
    assert repr(Timeout(5.0, total=30.0)) == "Timeout(timeout=5.0, total=30.0)"


def test_timeout_copy_keeps_total_unless_given() -> None:
    original = Timeout(5.0, total=30.0)
    assert Timeout(original).total == 30.0
    assert Timeout(original, total=None).total is None
    assert Timeout(Timeout(5.0), total=9.0) == Timeout(5.0, total=9.0)


def test_timeout_total_in_equality_and_hash() -> None:
    assert Timeout(5.0, total=30) == Timeout(5.0, total=30.0)
    assert Timeout(5.0, total=30) != Timeout(5.0)
    assert Timeout(5.0, total=30) != Timeout(5.0, total=31)
    assert hash(Timeout(5.0, total=30)) == hash(Timeout(5.0, total=30.0))
    assert len({Timeout(5.0), Timeout(5.0, total=1), Timeout(5.0, total=2)}) == 3


@pytest.mark.parametrize("value", ["30", True, object()])
def test_timeout_total_must_be_a_number(value: object) -> None:
    with pytest.raises(TypeError, match="timeout total must be a number or None"):
        Timeout(5.0, total=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["connect", "read", "write", "pool", "total"])
@pytest.mark.parametrize("value", [-0.001, float("nan")])
def test_timeout_negative_or_nan_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"timeout {name} must not be negative"):
        Timeout(5.0, **{name: value})


# -- Limits ------------------------------------------------------------------------------


def test_limits_defaults() -> None:
    limits = Limits()
    assert limits.max_connections is None
    assert limits.max_keepalive_connections is None
    assert limits.keepalive_expiry == 5.0
    assert repr(limits) == (
        "Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=5.0)"
    )


def test_limits_values_and_default() -> None:
    assert Limits(max_connections=100, max_keepalive_connections=20) == DEFAULT_LIMITS
    assert DEFAULT_MAX_REDIRECTS == 20
    limits = Limits(max_connections=1, max_keepalive_connections=0, keepalive_expiry=None)
    assert (limits.max_connections, limits.max_keepalive_connections) == (1, 0)
    assert limits.keepalive_expiry is None
    assert Limits(keepalive_expiry=0).keepalive_expiry == 0


def test_limits_equality_and_hash() -> None:
    assert Limits(max_connections=5) == Limits(max_connections=5)
    assert Limits(max_connections=5) != Limits(max_connections=6)
    assert Limits() != "Limits()"
    assert hash(Limits(max_connections=5)) == hash(Limits(max_connections=5))


@pytest.mark.parametrize("name", ["max_connections", "max_keepalive_connections"])
@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_limits_counts_must_be_non_negative_ints(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a non-negative int or None"):
        Limits(**{name: value})  # type: ignore[arg-type]


def test_limits_max_connections_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limits(max_connections=0)


def test_limits_keepalive_expiry_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="keepalive_expiry must not be negative"):
        Limits(keepalive_expiry=-1)


@pytest.mark.parametrize("value", ["5", True])
def test_limits_keepalive_expiry_must_be_a_number(value: object) -> None:
    with pytest.raises(TypeError, match="keepalive_expiry must be a number"):
        Limits(keepalive_expiry=value)  # type: ignore[arg-type]


def test_limits_extras_default_to_at_least_httpxs_effective_limits() -> None:
    limits = Limits()
    assert limits.max_connections_per_host is None
    # httpx parses any head up to 100 KiB (more when the last read completes it), with
    # no count limit: 150 Set-Cookie fields or an 80 KB head must pass.
    assert limits.max_header_bytes == DEFAULT_MAX_HEADER_BYTES >= 164 * 1024
    assert limits.max_header_count == DEFAULT_MAX_HEADER_COUNT >= 100 * 1024 // 4
    assert DEFAULT_LIMITS.max_header_bytes == DEFAULT_MAX_HEADER_BYTES


def test_limits_extras_are_set_and_shown_only_when_changed() -> None:
    limits = Limits(max_connections_per_host=4, max_header_bytes=1, max_header_count=2)
    assert (limits.max_connections_per_host, limits.max_header_bytes) == (4, 1)
    assert limits.max_header_count == 2
    assert repr(limits) == (
        "Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=5.0, "
        "max_connections_per_host=4, max_header_bytes=1, max_header_count=2)"
    )
    assert repr(Limits(max_header_count=7)) == (
        "Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=5.0, "
        "max_header_count=7)"
    )
    explicit_defaults = Limits(
        max_header_bytes=DEFAULT_MAX_HEADER_BYTES, max_header_count=DEFAULT_MAX_HEADER_COUNT
    )
    assert explicit_defaults == Limits()
    assert repr(explicit_defaults) == repr(Limits())


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections_per_host": 3}, {"max_header_bytes": 1024}, {"max_header_count": 10}],
)
def test_limits_extras_take_part_in_equality_and_hash(kwargs: dict[str, int]) -> None:
    assert Limits(**kwargs) == Limits(**kwargs)
    assert hash(Limits(**kwargs)) == hash(Limits(**kwargs))
    assert Limits(**kwargs) != Limits()


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", True])
def test_limits_per_host_is_a_positive_int_or_none(value: object) -> None:
    with pytest.raises(ValueError, match="max_connections_per_host must be an int of at least 1"):
        Limits(max_connections_per_host=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["max_header_bytes", "max_header_count"])
@pytest.mark.parametrize("value", [0, -1, None, 2.0, "9", True])
def test_limits_header_limits_are_positive_ints_never_none(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name} must be an int of at least 1, got"):
        Limits(**{name: value})  # type: ignore[arg-type]


# -- Proxy -------------------------------------------------------------------------------


def test_proxy_plain() -> None:
    proxy = Proxy("http://proxy.example:8080")
    assert proxy.url == URL("http://proxy.example:8080")
    assert proxy.auth is None
    assert proxy.raw_auth is None
    assert proxy.headers == Headers()
    assert proxy.ssl_context is None
    assert repr(proxy) == "Proxy('http://proxy.example:8080')"


@pytest.mark.parametrize("bad", ["\x0b", "\x1b", "\x7f", "\r\nX: y"])
def test_proxy_headers_with_control_characters_are_refused(bad: str) -> None:
    # They go out on CONNECT and on forwarded requests, unchecked by the wire machine.
    with pytest.raises(LocalProtocolError, match=r"^header 'X-Proxy' value contains"):
        Proxy("http://proxy.example", headers={"X-Proxy": f"a{bad}"})


def test_proxy_accepts_a_url() -> None:
    url = URL("https://proxy.example")
    assert Proxy(url).url == url


@pytest.mark.parametrize("scheme", ["http", "https", "socks4", "socks4a", "socks5", "socks5h"])
def test_proxy_schemes(scheme: str) -> None:
    assert Proxy(f"{scheme}://proxy.example").url.scheme == scheme


@pytest.mark.parametrize("url", ["ftp://proxy.example", "socks://proxy.example"])
def test_proxy_bad_scheme(url: str) -> None:
    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        Proxy(url)


def test_proxy_credentials_in_url_become_auth() -> None:
    proxy = Proxy("http://user:s%40cret@proxy.example:3128")
    assert proxy.auth == ("user", "s@cret")
    assert proxy.raw_auth == (b"user", b"s@cret")
    assert proxy.url == URL("http://proxy.example:3128")
    assert proxy.url.username == ""
    assert "cret" not in str(proxy.url)
    assert repr(proxy) == "Proxy('http://proxy.example:3128', auth=('user', '********'))"


def test_proxy_username_only_in_url() -> None:
    proxy = Proxy("http://user@proxy.example")
    assert proxy.auth == ("user", "")
    assert proxy.url == URL("http://proxy.example")


def test_proxy_url_credentials_override_auth_argument() -> None:
    proxy = Proxy("http://a:b@proxy.example", auth=("c", "d"))
    assert proxy.auth == ("a", "b")


def test_proxy_explicit_auth_non_ascii() -> None:
    proxy = Proxy("http://proxy.example", auth=("usér", "pässword"))
    assert proxy.auth == ("usér", "pässword")
    assert proxy.raw_auth == ("usér".encode(), "pässword".encode())
    assert "pässword" not in repr(proxy)


def test_proxy_headers_and_context() -> None:
    context: Any = object()
    proxy = Proxy(
        "http://proxy.example",
        headers={"X-Proxy": "1", "Proxy-Authorization": "Basic c2VjcmV0"},
        ssl_context=context,
    )
    assert proxy.headers["x-proxy"] == "1"
    assert proxy.ssl_context is context
    assert repr(proxy) == (
        "Proxy('http://proxy.example', headers={'x-proxy': '1', 'proxy-authorization': '[secure]'})"
    )
    assert "c2VjcmV0" not in repr(proxy)


def test_proxy_bad_url_is_invalid_url() -> None:
    from sansio.exceptions import InvalidURL

    with pytest.raises(InvalidURL):
        Proxy("http://[::1")
