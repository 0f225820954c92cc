"""Tests for sansio.headers: the Headers multi-dict, its validation, and the value parsers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio import headers as headers_module
from sansio.exceptions import LocalProtocolError
from sansio.headers import (
    MAX_NAME_IN_MESSAGE,
    Headers,
    get_charset,
    parse_header_links,
    parse_header_params,
)

TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- construction ------------------------------------------------------------------------


def test_empty() -> None:
    for headers in (Headers(), Headers(None), Headers({}), Headers([])):
        assert len(headers) == 0
        assert headers.raw == []
        assert headers.multi_items() == []
        assert dict(headers) == {}
        assert headers.encoding == "ascii"
        assert not headers


@pytest.mark.parametrize(
    "given",
    [
        {"Content-Type": "text/html", "X-Trace": "1"},
        {b"Content-Type": b"text/html", b"X-Trace": b"1"},
        [("Content-Type", "text/html"), ("X-Trace", "1")],
        [(b"Content-Type", b"text/html"), (b"X-Trace", b"1")],
        ((b"Content-Type", "text/html"), ("X-Trace", b"1")),
        [["Content-Type", "text/html"], ["X-Trace", "1"]],
    ],
)
def test_accepted_inputs(given: Any) -> None:
    headers = Headers(given)
    assert headers.raw == [(b"Content-Type", b"text/html"), (b"X-Trace", b"1")]
    assert headers.multi_items() == [("content-type", "text/html"), ("x-trace", "1")]
    assert headers == given


def test_generator_input() -> None:
    headers = Headers((name, "v") for name in ("A", "B"))  # type: ignore[arg-type]
    assert headers.raw == [(b"A", b"v"), (b"B", b"v")]


def test_custom_mapping_input() -> None:
    class Custom(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            return {"a": "1"}[key]

        def __iter__(self) -> Any:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    assert Headers(Custom()).raw == [(b"a", b"1")]


@pytest.mark.parametrize("kind", ["Headers", "a subclass"])
def test_from_headers_is_an_independent_copy(kind: str) -> None:
    class MyHeaders(Headers):
        pass

    original = Headers({"a": "1"}) if kind == "Headers" else MyHeaders({"a": "1"})
    copied = Headers(original)
    copied["b"] = "2"
    del copied["a"]
    assert original.raw == [(b"a", b"1")]
    assert copied.raw == [(b"b", b"2")]
    copied.update(original)  # taken as a copy here too
    original["a"] = "3"
    assert copied.raw == [(b"b", b"2"), (b"a", b"1")]


def test_from_headers_takes_the_given_encoding() -> None:
    original = Headers({"a": "1"}, encoding="cp1252")
    assert Headers(original).encoding == "ascii"
    assert Headers(original, encoding="iso-8859-1").encoding == "iso-8859-1"


def test_is_a_mutable_mapping_and_unhashable() -> None:
    headers = Headers()
    assert isinstance(headers, MutableMapping)
    with pytest.raises(TypeError):
        hash(headers)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (1, "Headers must be a mapping or a sequence of pairs, not <class 'int'>"),
        ("a: b", "Headers must be a mapping or a sequence of pairs, not <class 'str'>"),
        (b"a: b", "Headers must be a mapping or a sequence of pairs, not <class 'bytes'>"),
        ([1], "Header items must be (name, value) pairs, not int"),
        ([("a",)], "Header items must be (name, value) pairs, not tuple"),
        ([("a", "b", "c")], "Header items must be (name, value) pairs, not tuple"),
        ([(1, "b")], "Header name must be str or bytes, not <class 'int'>"),
        ([(["a"], "b")], "Header name must be str or bytes, not <class 'list'>"),
        ([(bytearray(b"a"), "b")], "Header name must be str or bytes, not <class 'bytearray'>"),
        ({"a": 1}, "Header value must be str or bytes, not <class 'int'>"),
        ({"a": None}, "Header value must be str or bytes, not <class 'NoneType'>"),
        ({"a": bytearray(b"x")}, "Header value must be str or bytes, not <class 'bytearray'>"),
    ],
)
def test_wrong_types_raise_type_error(given: Any, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        Headers(given)


def test_pair_errors_do_not_echo_the_item() -> None:
    with pytest.raises(TypeError) as info:
        Headers(["Authorization: secret-token"])  # type: ignore[arg-type]
    assert "secret" not in str(info.value)


# -- encodings ---------------------------------------------------------------------------


def test_str_values_are_utf8_when_not_ascii() -> None:
    headers = Headers({"X-Name": "Zoë"})
    assert headers.raw == [(b"X-Name", "Zoë".encode())]
    assert headers.encoding == "utf-8"
    assert headers["x-name"] == "Zoë"


def test_explicit_encoding_encodes_and_decodes() -> None:
    headers = Headers({"X-Name": "Zoë"}, encoding="iso-8859-1")
    assert headers.raw == [(b"X-Name", b"Zo\xeb")]
    assert headers.encoding == "iso-8859-1"
    assert headers["X-Name"] == "Zoë"
    headers["X-Other"] = "é"
    assert headers.raw[-1] == (b"X-Other", b"\xe9")


def test_value_the_encoding_cannot_hold() -> None:
    with pytest.raises(
        LocalProtocolError,
        match=re.escape(
            "header 'X-Price' value cannot be encoded as 'iso-8859-1':"
            " it contains the non-ASCII character '€' at offset 2"
        ),
    ):
        Headers({"X-Price": "5 €"}, encoding="iso-8859-1")


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(LocalProtocolError, match="cannot be encoded as 'utf-8'"):
        Headers({"X-A": "a\ud800"})


def test_bytes_are_kept_as_given() -> None:
    headers = Headers({b"X-A": b"caf\xc3\xa9"}, encoding="iso-8859-1")
    assert headers.raw == [(b"X-A", b"caf\xc3\xa9")]


@pytest.mark.parametrize(
    ("values", "encoding"),
    [
        ([b"plain"], "ascii"),
        ([b"plain", "é".encode()], "utf-8"),
        ([b"plain", "é".encode(), b"\xff"], "iso-8859-1"),
        ([b"\xff", "é".encode()], "iso-8859-1"),
    ],
)
def test_encoding_detection(values: list[bytes], encoding: str) -> None:
    headers = Headers([(b"x", value) for value in values])
    assert headers.encoding == encoding
    assert headers.get_list("x") == [value.decode(encoding) for value in values]


def test_encoding_detection_follows_changes() -> None:
    headers = Headers({"a": "b"})
    assert headers.encoding == "ascii"
    headers["x"] = "é"
    assert headers.encoding == "utf-8"
    del headers["x"]
    assert headers.encoding == "ascii"
    headers.update({b"y": b"\xff"})
    assert headers.encoding == "iso-8859-1"
    headers.clear()
    assert headers.encoding == "ascii"
    headers.setdefault("z", "ü")
    assert headers.encoding == "utf-8"


def test_encoding_setter() -> None:
    headers = Headers({"x": "é"})
    assert headers["x"] == "é"
    headers.encoding = "iso-8859-1"
    assert headers.encoding == "iso-8859-1"
    assert headers["x"] == "Ã©"
    headers["y"] = "é"
    assert headers.raw[-1] == (b"y", b"\xe9")


def test_detected_encoding_is_not_frozen_in() -> None:
    # Reading a value of an ASCII-only instance must not stop later non-ASCII values.
    headers = Headers({"a": "b"})
    assert headers["a"] == "b"
    headers["c"] = "é"
    assert headers["c"] == "é"
    copied = headers.copy()
    del copied["c"]
    copied["d"] = "ü"
    assert copied["d"] == "ü"


# -- views -------------------------------------------------------------------------------


@pytest.fixture
def repeated() -> Headers:
    return Headers(
        [
            ("Set-Cookie", "a=1"),
            ("Accept", "text/html, application/json"),
            ("set-cookie", "b=2"),
            ("X-Empty", ""),
        ]
    )


def test_views_join_repeats(repeated: Headers) -> None:
    assert list(repeated.keys()) == ["set-cookie", "accept", "x-empty"]
    assert list(repeated.values()) == ["a=1, b=2", "text/html, application/json", ""]
    assert list(repeated.items()) == [
        ("set-cookie", "a=1, b=2"),
        ("accept", "text/html, application/json"),
        ("x-empty", ""),
    ]
    assert list(repeated) == ["set-cookie", "accept", "x-empty"]
    assert dict(repeated) == dict(repeated.items())


def test_multi_items_and_raw_keep_every_pair(repeated: Headers) -> None:
    assert repeated.multi_items() == [
        ("set-cookie", "a=1"),
        ("accept", "text/html, application/json"),
        ("set-cookie", "b=2"),
        ("x-empty", ""),
    ]
    assert repeated.raw == [
        (b"Set-Cookie", b"a=1"),
        (b"Accept", b"text/html, application/json"),
        (b"set-cookie", b"b=2"),
        (b"X-Empty", b""),
    ]
    assert len(repeated) == 4  # pairs, not names (as httpx counts)


def test_getitem(repeated: Headers) -> None:
    assert repeated["SET-COOKIE"] == "a=1, b=2"
    assert repeated["Accept"] == "text/html, application/json"
    assert repeated["x-empty"] == ""
    assert repeated[b"Accept"] == "text/html, application/json"  # type: ignore[index]
    with pytest.raises(KeyError) as info:
        repeated["Missing"]
    assert info.value.args == ("Missing",)


def test_get(repeated: Headers) -> None:
    assert repeated.get("set-cookie") == "a=1, b=2"
    assert repeated.get("missing") is None
    assert repeated.get("missing", "fallback") == "fallback"


def test_get_list(repeated: Headers) -> None:
    assert repeated.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert repeated.get_list("accept") == ["text/html, application/json"]
    assert repeated.get_list("accept", split_commas=True) == ["text/html", "application/json"]
    assert repeated.get_list("missing") == []
    assert repeated.get_list("missing", split_commas=True) == []
    trailing = Headers({"Vary": "a,, b ,"})
    assert trailing.get_list("vary", split_commas=True) == ["a", "", "b", ""]
    assert repeated.get_list(b"SET-COOKIE") == ["a=1", "b=2"]  # type: ignore[arg-type]
    assert repeated.get_list("caf\xe9") == []  # no name is ever non-ASCII


def test_contains(repeated: Headers) -> None:
    assert "set-cookie" in repeated
    assert "SET-COOKIE" in repeated
    assert "missing" not in repeated
    loose: Any = repeated  # other key types are answered, not rejected
    assert b"Set-Cookie" in loose
    assert 1 not in loose
    assert None not in loose


def test_non_ascii_lookup_keys() -> None:
    headers = Headers({"a": "1"})
    assert "é" not in headers
    assert headers.get("€") is None
    # A parser may hand over a latin-1 name; lookups then encode the key the same way.
    legacy = Headers._from_validated([(b"X-\xe9", b"1")])
    assert legacy.encoding == "iso-8859-1"
    assert legacy["X-\xe9"] == "1"
    assert "X-\xc9" in legacy  # the key goes through str.lower()
    # ... but stored names through bytes.lower(), which folds ASCII only (as in httpx).
    assert "X-\xc9" not in Headers._from_validated([(b"X-\xc9", b"1")])
    assert "X-€" not in legacy


# -- mutation ----------------------------------------------------------------------------


def test_setitem_appends_new_names() -> None:
    headers = Headers({"a": "1"})
    headers["B"] = "2"
    assert headers.raw == [(b"a", b"1"), (b"B", b"2")]


def test_setitem_replaces_all_values_in_place_of_the_first() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("A", "3"), ("c", "4"), ("a", "5")])
    headers["A"] = "new"
    assert headers.raw == [(b"A", b"new"), (b"b", b"2"), (b"c", b"4")]


def test_setitem_replaces_a_single_value_in_place() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("c", "3")])
    headers["B"] = "new"
    assert headers.raw == [(b"a", b"1"), (b"B", b"new"), (b"c", b"3")]


def test_setitem_accepts_bytes() -> None:
    headers = Headers()
    headers[b"X-Bin"] = b"\x80\xff"  # type: ignore[index, assignment]
    assert headers.raw == [(b"X-Bin", b"\x80\xff")]


def test_delitem() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("A", "3")])
    del headers["A"]
    assert headers.raw == [(b"b", b"2")]
    with pytest.raises(KeyError) as info:
        del headers["a"]
    assert info.value.args == ("a",)
    assert headers.raw == [(b"b", b"2")]


def test_pop_popitem_clear() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    assert headers.pop("A") == "1, 3"
    assert headers.pop("a", None) is None
    assert headers.popitem() == ("b", "2")
    headers["c"] = "1"
    headers.clear()
    assert headers.raw == []


def test_update_replaces_names_and_appends() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("A", "3"), ("c", "4")])
    headers.update([("A", "x"), ("d", "y"), ("a", "z")])
    assert headers.raw == [(b"b", b"2"), (b"c", b"4"), (b"A", b"x"), (b"d", b"y"), (b"a", b"z")]


@pytest.mark.parametrize("given", [{"b": "9"}, Headers({"b": "9"}), [(b"b", b"9")]])
def test_update_accepts_every_input(given: Any) -> None:
    headers = Headers({"a": "1", "b": "2"})
    headers.update(given)
    assert headers.raw == [(b"a", b"1"), (b"b", b"9")]


@pytest.mark.parametrize("given", [None, {}, []])
def test_update_with_nothing(given: Any) -> None:
    headers = Headers({"a": "1"})
    headers.update(given)
    assert headers.raw == [(b"a", b"1")]


def test_update_uses_the_explicit_encoding() -> None:
    headers = Headers(encoding="iso-8859-1")
    headers.update({"a": "é"})
    assert headers.raw == [(b"a", b"\xe9")]


def test_setdefault() -> None:
    headers = Headers([("a", "1"), ("a", "2")])
    assert headers.setdefault("A", "x") == "1, 2"
    assert headers.setdefault("b", "  two  ") == "two"
    assert headers.setdefault("c") == ""
    assert headers.raw == [(b"a", b"1"), (b"a", b"2"), (b"b", b"two"), (b"c", b"")]


def test_copy() -> None:
    headers = Headers({"a": "é"}, encoding="iso-8859-1")
    copied = headers.copy()
    assert copied == headers
    assert copied.encoding == "iso-8859-1"
    copied["b"] = "2"
    assert "b" not in headers
    detected = Headers({"a": "é"})
    assert detected.encoding == "utf-8"
    assert detected.copy().encoding == "utf-8"


# -- equality and repr -------------------------------------------------------------------


def test_equality() -> None:
    headers = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert headers == Headers([("b", "2"), ("a", "1"), ("A", "3")])
    assert headers == [("a", "3"), ("B", "2"), ("a", "1")]
    assert headers == [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    assert headers != [("a", "1"), ("b", "2")]
    assert headers != [("a", "1"), ("b", "2"), ("a", "3"), ("a", "3")]
    assert headers != [("a", "1"), ("b", "X"), ("a", "3")]
    assert Headers({"a": "1"}) == {"A": "1"}
    assert Headers({"a": " 1 "}) == {"A": "1"}
    assert Headers() == {}
    assert Headers() == []


@pytest.mark.parametrize(
    "other",
    [None, 1, "a", b"a", [1], [("bad name", "x")], [("a", "b\n")], {"a": 1}, object()],
)
def test_not_equal_to_unacceptable_input(other: object) -> None:
    assert Headers({"a": "1"}) != other
    assert not Headers({"a": "1"}).__eq__(other)


def test_repr() -> None:
    assert repr(Headers()) == "Headers({})"
    assert repr(Headers({"Content-Type": "text/html"})) == "Headers({'content-type': 'text/html'})"
    assert repr(Headers([("a", "1"), ("A", "2")])) == "Headers([('a', '1'), ('a', '2')])"
    assert repr(Headers({"a": "é"})) == "Headers({'a': 'é'}, encoding='utf-8')"
    assert repr(Headers({"a": "1"}, encoding="iso-8859-1")) == (
        "Headers({'a': '1'}, encoding='iso-8859-1')"
    )


def test_repr_masks_credentials() -> None:
    headers = Headers(
        {"Authorization": "Bearer s3cret", "Proxy-Authorization": "Basic eA==", "Cookie": "c=1"}
    )
    assert repr(headers) == (
        "Headers({'authorization': '[secure]', 'proxy-authorization': '[secure]', 'cookie': 'c=1'})"
    )
    repeated = Headers([("AUTHORIZATION", "one"), ("authorization", "two")])
    assert repr(repeated) == (
        "Headers([('authorization', '[secure]'), ('authorization', '[secure]')])"
    )
    # Masking is only for display.
    assert headers["authorization"] == "Bearer s3cret"


def test_repr_of_subclass() -> None:
    class MyHeaders(Headers):
        pass

    assert repr(MyHeaders({"a": "1"})) == "MyHeaders({'a': '1'})"


# -- internal API for the other modules ---------------------------------------------------


def test_from_validated_skips_checks_and_keeps_order() -> None:
    headers = Headers._from_validated([(b"Content-Length", b"5"), (b"X-A", b" b ")])
    assert headers.raw == [(b"Content-Length", b"5"), (b"X-A", b" b ")]
    assert headers.multi_items() == [("content-length", "5"), ("x-a", " b ")]
    assert headers._list == [
        (b"Content-Length", b"content-length", b"5"),
        (b"X-A", b"x-a", b" b "),
    ]


def test_from_validated_with_lower_names() -> None:
    raw = [(b"Host", b"a"), (b"Accept", b"*/*")]
    headers = Headers._from_validated(raw, [b"host", b"accept"], encoding="utf-8")
    assert headers._list == [(b"Host", b"host", b"a"), (b"Accept", b"accept", b"*/*")]
    assert headers.encoding == "utf-8"
    assert headers["HOST"] == "a"


def test_from_full_items_adopts_the_list() -> None:
    items = [(b"Host", b"host", b"a")]
    headers = Headers._from_full_items(items)
    assert headers._list is items
    assert headers["host"] == "a"
    assert Headers._from_full_items([], encoding="latin-1").encoding == "latin-1"


def test_raw_values() -> None:
    headers = Headers([("Content-Length", "5"), ("x", "1"), ("content-length", "5")])
    assert headers._raw_values(b"content-length") == [b"5", b"5"]
    assert headers._raw_values(b"missing") == []


def test_raw_size() -> None:
    headers = Headers([("Host", "example.org"), ("Accept", "*/*")])
    wire = b"".join(name + b": " + value + b"\r\n" for name, value in headers.raw)
    assert headers.raw_size() == len(wire) == 32
    assert Headers().raw_size() == 0


# -- the name cache ----------------------------------------------------------------------


def test_name_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[object, tuple[bytes, bytes]] = {}
    monkeypatch.setattr(headers_module, "_NAME_CACHE", cache)
    monkeypatch.setattr(headers_module, "NAME_CACHE_SIZE", 3)
    mixed: Any = [("A", "1"), (b"B", "2"), ("c", "3")]
    Headers(mixed)
    assert cache == {"A": (b"A", b"a"), b"B": (b"B", b"b"), "c": (b"c", b"c")}  # at the limit
    headers = Headers([("A", "1"), ("D", "4")])  # a hit, then one past the limit
    assert cache == {"D": (b"D", b"d")}
    assert headers.raw == [(b"A", b"1"), (b"D", b"4")]


def test_name_cache_only_holds_valid_names(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[object, tuple[bytes, bytes]] = {}
    monkeypatch.setattr(headers_module, "_NAME_CACHE", cache)
    for _ in range(2):
        with pytest.raises(LocalProtocolError):
            Headers({"bad name": "v"})
    assert cache == {}


def test_default_name_cache_size() -> None:
    assert headers_module.NAME_CACHE_SIZE == 512


# -- validation --------------------------------------------------------------------------

Setter = Callable[[Headers, Any, Any], Headers]


def _via_dict(headers: Headers, name: Any, value: Any) -> Headers:
    return Headers({name: value})


def _via_list(headers: Headers, name: Any, value: Any) -> Headers:
    return Headers([("Ok", "1"), (name, value)])


def _via_setitem(headers: Headers, name: Any, value: Any) -> Headers:
    headers[name] = value
    return headers


def _via_update(headers: Headers, name: Any, value: Any) -> Headers:
    headers.update([("Ok", "2"), (name, value)])
    return headers


def _via_setdefault(headers: Headers, name: Any, value: Any) -> Headers:
    headers.setdefault(name, value)
    return headers


ENTRY_POINTS = [_via_dict, _via_list, _via_setitem, _via_update, _via_setdefault]


@pytest.mark.parametrize("enter", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("name", "described"),
    [
        ("X A", "a space"),
        (b"X A", "a space"),
        ("X:A", "a colon (:)"),
        ("Host:", "a colon (:)"),
        (" Host", "a space"),
        ("X-A\r", "a carriage return (\\r)"),
        ("X-A\n", "a line feed (\\n)"),
        (b"X-A\x00", "a NUL byte (\\x00)"),
        ("X\tA", "a tab (\\t)"),
        ("X(A)", "the character '('"),
        ('X"', "the character '\"'"),
        ("X\x7f", "the character '\\x7f'"),
        ("Zoë", "the non-ASCII character 'ë'"),
        ("a b\u20ac", "a space"),
        (b"Zo\xc3\xab", "the non-ASCII byte 0xc3"),
    ],
)
def test_bad_names(enter: Setter, name: str | bytes, described: str) -> None:
    headers = Headers({"Keep": "me"})
    with pytest.raises(LocalProtocolError) as info:
        enter(headers, name, "value")
    shown = name if isinstance(name, str) else name.decode("ascii", "backslashreplace")
    assert str(info.value) == (
        f"header name {shown!r} contains {described} (names must be RFC 9110 tokens)"
    )
    assert headers.raw == [(b"Keep", b"me")]  # nothing half-applied


@pytest.mark.parametrize("enter", ENTRY_POINTS)
@pytest.mark.parametrize("name", ["", b""])
def test_empty_name(enter: Setter, name: str | bytes) -> None:
    headers = Headers({"Keep": "me"})
    with pytest.raises(LocalProtocolError, match=r"^header name must not be empty$"):
        enter(headers, name, "value")
    assert headers.raw == [(b"Keep", b"me")]


@pytest.mark.parametrize("enter", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("value", "described", "offset"),
    [
        ("a\nb", "a line feed (\\n)", 1),
        ("a\rb", "a carriage return (\\r)", 1),
        ("a\x00b", "a NUL byte (\\x00)", 1),
        ("ok\r\nX-Injected: 1", "a carriage return (\\r)", 2),
        ("\n", "a line feed (\\n)", 0),
        ("tail\r", "a carriage return (\\r)", 4),
        ("a\x00b\rc\n", "a NUL byte (\\x00)", 1),
        ("ab\nc\r", "a line feed (\\n)", 2),
        (b"\xff\r", "a carriage return (\\r)", 1),
        (b" \x00", "a NUL byte (\\x00)", 1),
        # Every other C0 control but HTAB, and DEL (RFC 9110 section 5.5).
        ("a\x0bb", "the character '\\x0b'", 1),  # VT
        ("a\x0cb", "the character '\\x0c'", 1),  # FF
        ("a\x08b", "the character '\\x08'", 1),  # BS
        ("\x1b[31mred", "the character '\\x1b'", 0),  # ESC: a terminal escape
        ("a\x01", "the character '\\x01'", 1),
        ("a\x1f", "the character '\\x1f'", 1),
        ("a\x7fb", "the character '\\x7f'", 1),  # DEL
        (b"\xff\x0b", "the character '\\x0b'", 1),
        (b"\x7f", "the character '\\x7f'", 0),
        ("\x0bpadded\x0c", "the character '\\x0b'", 0),  # not whitespace: refused
    ],
)
def test_bad_values(enter: Setter, value: str | bytes, described: str, offset: int) -> None:
    headers = Headers({"Keep": "me"})
    with pytest.raises(LocalProtocolError) as info:
        enter(headers, "X-A", value)
    assert str(info.value) == f"header 'X-A' value contains {described} at offset {offset}"
    assert headers.raw == [(b"Keep", b"me")]


@pytest.mark.parametrize("bad", ["\n", "\x0b", "\x1b", "\x7f"])
def test_bad_value_message_never_shows_the_value(bad: str) -> None:
    secret = "Bearer " + "s" * 10_000 + bad + "t" * 10
    with pytest.raises(LocalProtocolError) as info:
        Headers({"Authorization": secret})
    assert "sss" not in str(info.value)
    assert "ttt" not in str(info.value)
    assert "'Authorization'" in str(info.value)
    assert len(str(info.value)) < 100


def test_every_control_but_htab_is_refused_in_values_and_names() -> None:
    for code in [*range(0x20), 0x7F]:
        char = chr(code)
        for value in (f"a{char}b", f"a{char}b".encode()):
            if char == "\t":
                assert Headers({"X": value})["X"] == "a\tb"
            else:
                with pytest.raises(LocalProtocolError, match=r"^header 'X' value contains"):
                    Headers({"X": value})
        with pytest.raises(LocalProtocolError, match="names must be RFC 9110 tokens"):
            Headers({f"X{char}": "v"})


def test_long_names_are_truncated_in_messages_at_the_limit() -> None:
    at_limit = "X" * (MAX_NAME_IN_MESSAGE - 1) + " "
    with pytest.raises(LocalProtocolError) as info:
        Headers({at_limit: "v"})
    assert f"header name {at_limit!r} contains a space" in str(info.value)

    past_limit = "X" * MAX_NAME_IN_MESSAGE + " "
    with pytest.raises(LocalProtocolError) as info:
        Headers({past_limit: "v"})
    expected = f"header name {past_limit[:MAX_NAME_IN_MESSAGE]!r}... ({len(past_limit)} characters)"
    assert str(info.value).startswith(expected)

    with pytest.raises(LocalProtocolError) as info:
        Headers({"X" * 100_000: "\n"})
    assert len(str(info.value)) < 150


@pytest.mark.parametrize("enter", ENTRY_POINTS)
def test_every_token_character_is_a_valid_name(enter: Setter) -> None:
    assert enter(Headers(), TCHARS, "v")[TCHARS] == "v"
    assert enter(Headers(), TCHARS.encode(), b"v")[TCHARS] == "v"


@pytest.mark.parametrize(
    "value",
    [
        "text/html; charset=utf-8",
        "a\tb",
        "a  b",
        "é€𝄞",
        "\x85\xa0",  # C1 controls and NBSP are not C0: UTF-8 encodes them above 0x7f
        b"\x80\xff\xfe\x85",
        "",
        '"quoted" (comment) <angle>',
    ],
)
def test_allowed_values(value: str | bytes) -> None:
    headers = Headers([("X-A", value)])  # type: ignore[arg-type]
    expected = value if isinstance(value, bytes) else value.encode()
    assert headers.raw == [(b"X-A", expected)]


@pytest.mark.parametrize("enter", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (" a", b"a"),
        ("a ", b"a"),
        ("\t a b \t", b"a b"),
        ("   ", b""),
        (b" \t\xff\t ", b"\xff"),
    ],
)
def test_values_lose_surrounding_whitespace(
    enter: Setter, value: str | bytes, stored: bytes
) -> None:
    headers = enter(Headers(), "X-A", value)
    assert headers._raw_values(b"x-a") == [stored]


# -- Hypothesis properties ---------------------------------------------------------------

names = st.text(alphabet=TCHARS, min_size=1, max_size=20)
# The controls a value must not hold: every C0 control but HTAB, and DEL.
CONTROLS = "".join(chr(c) for c in [*range(0x09), *range(0x0A, 0x20), 0x7F])
# Values without them, and no surrogates (not encodable as UTF-8).
text_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=CONTROLS), max_size=30
)
byte_values = st.binary(max_size=30).map(lambda b: b.translate(None, CONTROLS.encode()))


@given(st.lists(st.tuples(names, text_values), max_size=8))
def test_str_pairs_round_trip(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(pairs)
    expected = [(name.lower(), value.strip(" \t")) for name, value in pairs]
    assert headers.multi_items() == expected
    assert headers.raw == [(name.encode(), value.strip(" \t").encode()) for name, value in pairs]
    assert headers == pairs
    assert len(headers) == len(pairs)
    for name, _ in pairs:
        assert name in headers
        assert headers.get_list(name) == [v for n, v in expected if n == name.lower()]


@given(st.lists(st.tuples(names.map(str.encode), byte_values), max_size=8))
def test_byte_pairs_round_trip(pairs: list[tuple[bytes, bytes]]) -> None:
    headers = Headers(pairs)
    assert headers.raw == [(name, value.strip(b" \t")) for name, value in pairs]
    encoding = headers.encoding
    assert encoding in ("ascii", "utf-8", "iso-8859-1")
    assert headers.multi_items() == [
        (name.lower().decode(), value.strip(b" \t").decode(encoding)) for name, value in pairs
    ]


forbidden = st.sampled_from(CONTROLS)


@given(text_values, forbidden, text_values, st.sampled_from(ENTRY_POINTS), st.booleans())
def test_never_accepts_controls_in_values(
    before: str, bad: str, after: str, enter: Setter, as_bytes: bool
) -> None:
    text = before + bad + after
    value = text.encode() if as_bytes else text
    headers = Headers()
    with pytest.raises(LocalProtocolError):
        enter(headers, "X-A", value)
    assert headers.raw == []


@given(st.text(max_size=10), forbidden, st.text(max_size=10))
def test_never_accepts_controls_in_names(before: str, bad: str, after: str) -> None:
    with pytest.raises(LocalProtocolError):
        Headers({before + bad + after: "v"})


# -- parse_header_params -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('text/html; charset="utf-8"; q=1', ("text/html", {"charset": "utf-8", "q": "1"})),
        ("text/html", ("text/html", {})),
        ("  text/html  ", ("text/html", {})),
        ("", ("", {})),
        (";", ("", {})),
        ("; a=1", ("", {"a": "1"})),
        ("text/plain;CHARSET=UTF-8", ("text/plain", {"charset": "UTF-8"})),
        ("a; x = 1 ; y\t=\t2", ("a", {"x": "1", "y": "2"})),
        ('a; x = "1" ', ("a", {"x": "1"})),
        # quoted strings and escapes (RFC 9110 section 5.6.4)
        (r'a; x="a\"b"', ("a", {"x": 'a"b'})),
        (r'a; x="back\\slash"', ("a", {"x": "back\\slash"})),
        (r'a; x="\q\u\o\t\e"', ("a", {"x": "quote"})),
        ('a; x="semi;colon, comma"; y=2', ("a", {"x": "semi;colon, comma", "y": "2"})),
        ('a; x=""', ("a", {"x": ""})),
        ('a; x="unterminated; y=2', ("a", {"x": "unterminated; y=2"})),
        ('a; x="ends in backslash\\', ("a", {"x": "ends in backslash\\"})),
        ('a; x="a"junk; y=2', ("a", {"x": "a", "y": "2"})),
        ('a; x=un"quoted"', ("a", {"x": 'un"quoted"'})),
        # missing values
        ("a; flag", ("a", {"flag": ""})),
        ("a; flag; x=1", ("a", {"flag": "", "x": "1"})),
        ("a; x=", ("a", {"x": ""})),
        ("a; x= ; y=1", ("a", {"x": "", "y": "1"})),
        # empty parameters and names
        ("a;;; x=1;", ("a", {"x": "1"})),
        ("a; ; ;", ("a", {})),
        ("a; =v; x=1", ("a", {"x": "1"})),
        # commas are plain characters in a parameter value
        ("a; x=1,2", ("a", {"x": "1,2"})),
        # the first of repeated names wins
        ("a; x=1; X=2", ("a", {"x": "1"})),
        (
            'form-data; name="file"; filename="a b.txt"',
            ("form-data", {"name": "file", "filename": "a b.txt"}),
        ),
    ],
)
def test_parse_header_params(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_header_params(value) == expected


TRICKY_PARAMS = [
    r'text/html; charset="ut\"f-8"; q=1',
    'multipart/form-data; boundary="a;b,c"; x',
    r'a;;x="\\";y=";"',
    'a; x="unterminated',
]


def _top_level(value: str, chars: str) -> list[int]:
    """Positions of ``chars`` outside quoted strings."""
    found = []
    in_quotes = escaped = False
    for i, char in enumerate(value):
        if in_quotes:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char in chars:
            found.append(i)
    return found


@pytest.mark.parametrize("value", TRICKY_PARAMS)
def test_parse_header_params_every_prefix(value: str) -> None:
    whole_main, whole = parse_header_params(value)
    separators = _top_level(value, ";")
    for cut in range(len(value) + 1):
        # Cut anywhere: parsing never fails.
        main, params = parse_header_params(value[:cut])
        assert whole_main.startswith(main)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
        if cut in separators:
            # Cut between parameters: those before the cut are parsed as in the whole.
            assert main == whole_main
            assert params == {name: whole[name] for name in params}


@pytest.mark.parametrize("value", TRICKY_PARAMS)
def test_parse_header_params_whitespace_at_every_separator(value: str) -> None:
    expected = parse_header_params(value)
    for i in _top_level(value, ";="):
        spaced = value[:i] + " \t" + value[i] + " " + value[i + 1 :]
        assert parse_header_params(spaced) == expected, spaced


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    names,
    st.dictionaries(names.map(str.lower), st.text(max_size=20), max_size=6),
)
def test_parse_header_params_round_trip(main: str, params: dict[str, str]) -> None:
    value = main + "".join(f"; {name}={_quote(text)}" for name, text in params.items())
    assert parse_header_params(value) == (main, params)


@given(st.text(max_size=40))
def test_parse_header_params_never_fails(value: str) -> None:
    main, params = parse_header_params(value)
    assert ";" not in main
    assert all(name == name.lower() and name for name in params)


# -- parse_header_links ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        (" , ,", []),
        (
            '<http:/.../front.jpeg>; type="image/jpeg",<http://.../back.jpeg>;',
            [
                {"url": "http:/.../front.jpeg", "type": "image/jpeg"},
                {"url": "http://.../back.jpeg"},
            ],
        ),
        (
            '<https://api.example/items?page=2>; rel="next",'
            ' <https://api.example/items?page=9>; rel="last"',
            [
                {"url": "https://api.example/items?page=2", "rel": "next"},
                {"url": "https://api.example/items?page=9", "rel": "last"},
            ],
        ),
        ("<https://a.example/>", [{"url": "https://a.example/"}]),
        ("<https://a.example/x,y>; rel=next", [{"url": "https://a.example/x,y", "rel": "next"}]),
        (
            '<a>; title="one, two; three"; REL=Next',
            [{"url": "a", "title": "one, two; three", "rel": "Next"}],
        ),
        ("<a>; crossorigin, <b>", [{"url": "a", "crossorigin": ""}, {"url": "b"}]),
        ("<a>; rel=x=y", [{"url": "a", "rel": "x=y"}]),
        ("https://bare.example/; rel=next", [{"url": "https://bare.example/", "rel": "next"}]),
        ("bare, <b>", [{"url": "bare"}, {"url": "b"}]),
        ("<unterminated; rel=x", [{"url": "unterminated; rel=x"}]),
        ("< spaced >", [{"url": "spaced"}]),
        ("<>", [{"url": ""}]),
        ("<a>; url=override", [{"url": "a"}]),
        (
            "<a>; rel='next'; x=''; y='; z=\"'q'\"",
            [{"url": "a", "rel": "next", "x": "", "y": "'", "z": "q"}],
        ),
    ],
)
def test_parse_header_links(value: str, expected: list[dict[str, str]]) -> None:
    assert parse_header_links(value) == expected


TRICKY_LINKS = [
    '<http://a/x,y>; rel="next, prev"; title=t, <b>; rel=last',
    r'<a>; title="q\"uote", <b>',
]


@pytest.mark.parametrize("value", TRICKY_LINKS)
def test_parse_header_links_every_prefix(value: str) -> None:
    whole = parse_header_links(value)
    for cut in range(len(value) + 1):
        links = parse_header_links(value[:cut])
        assert len(links) <= len(whole)
        assert all("url" in link for link in links)
        # Links that were complete before the cut are parsed as in the whole value.
        for link, full in zip(links[:-1], whole, strict=False):
            assert link == full


@given(st.text(max_size=40))
def test_parse_header_links_never_fails(value: str) -> None:
    for link in parse_header_links(value):
        assert isinstance(link["url"], str)


# -- get_charset -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, None),
        ("", None),
        ("text/html", None),
        ("text/html; charset=utf-8", "utf-8"),
        ("text/html; charset=UTF-8", "utf-8"),
        ('text/html; Charset="ISO-8859-1"', "iso-8859-1"),
        ("text/plain; charset=Shift_JIS; format=flowed", "shift_jis"),
        ("text/plain; charset=latin1", "latin1"),
        ('text/html; charset=" utf-8 "', "utf-8"),
        ('text/html; charset=""', None),
        ("text/html; charset=", None),
        ("text/html; charset", None),
        ("text/html; charset=no-such-codec", "no-such-codec"),
        ("text/html; charset=base64", "base64"),
    ],
)
def test_get_charset(content_type: str | None, expected: str | None) -> None:
    assert get_charset(content_type) == expected
