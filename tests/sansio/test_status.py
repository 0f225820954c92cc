"""Tests for sansio.status: the codes enum, reason phrases and range checks."""

from __future__ import annotations

import pickle

import pytest

from sansio.status import codes

# The members of httpx 0.28's codes, with the RFC 9110 reason phrases (and those of the
# RFCs that define the codes RFC 9110 does not).
EXPECTED = {
    "CONTINUE": (100, "Continue"),
    "SWITCHING_PROTOCOLS": (101, "Switching Protocols"),
    "PROCESSING": (102, "Processing"),
    "EARLY_HINTS": (103, "Early Hints"),
    "OK": (200, "OK"),
    "CREATED": (201, "Created"),
    "ACCEPTED": (202, "Accepted"),
    "NON_AUTHORITATIVE_INFORMATION": (203, "Non-Authoritative Information"),
    "NO_CONTENT": (204, "No Content"),
    "RESET_CONTENT": (205, "Reset Content"),
    "PARTIAL_CONTENT": (206, "Partial Content"),
    "MULTI_STATUS": (207, "Multi-Status"),
    "ALREADY_REPORTED": (208, "Already Reported"),
    "IM_USED": (226, "IM Used"),
    "MULTIPLE_CHOICES": (300, "Multiple Choices"),
    "MOVED_PERMANENTLY": (301, "Moved Permanently"),
    "FOUND": (302, "Found"),
    "SEE_OTHER": (303, "See Other"),
    "NOT_MODIFIED": (304, "Not Modified"),
    "USE_PROXY": (305, "Use Proxy"),
    "TEMPORARY_REDIRECT": (307, "Temporary Redirect"),
    "PERMANENT_REDIRECT": (308, "Permanent Redirect"),
    "BAD_REQUEST": (400, "Bad Request"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "PAYMENT_REQUIRED": (402, "Payment Required"),
    "FORBIDDEN": (403, "Forbidden"),
    "NOT_FOUND": (404, "Not Found"),
    "METHOD_NOT_ALLOWED": (405, "Method Not Allowed"),
    "NOT_ACCEPTABLE": (406, "Not Acceptable"),
    "PROXY_AUTHENTICATION_REQUIRED": (407, "Proxy Authentication Required"),
    "REQUEST_TIMEOUT": (408, "Request Timeout"),
    "CONFLICT": (409, "Conflict"),
    "GONE": (410, "Gone"),
    "LENGTH_REQUIRED": (411, "Length Required"),
    "PRECONDITION_FAILED": (412, "Precondition Failed"),
    "REQUEST_ENTITY_TOO_LARGE": (413, "Content Too Large"),
    "REQUEST_URI_TOO_LONG": (414, "URI Too Long"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "REQUESTED_RANGE_NOT_SATISFIABLE": (416, "Range Not Satisfiable"),
    "EXPECTATION_FAILED": (417, "Expectation Failed"),
    "IM_A_TEAPOT": (418, "I'm a teapot"),
    "MISDIRECTED_REQUEST": (421, "Misdirected Request"),
    "UNPROCESSABLE_ENTITY": (422, "Unprocessable Content"),
    "LOCKED": (423, "Locked"),
    "FAILED_DEPENDENCY": (424, "Failed Dependency"),
    "TOO_EARLY": (425, "Too Early"),
    "UPGRADE_REQUIRED": (426, "Upgrade Required"),
    "PRECONDITION_REQUIRED": (428, "Precondition Required"),
    "TOO_MANY_REQUESTS": (429, "Too Many Requests"),
    "REQUEST_HEADER_FIELDS_TOO_LARGE": (431, "Request Header Fields Too Large"),
    "UNAVAILABLE_FOR_LEGAL_REASONS": (451, "Unavailable For Legal Reasons"),
    "INTERNAL_SERVER_ERROR": (500, "Internal Server Error"),
    "NOT_IMPLEMENTED": (501, "Not Implemented"),
    "BAD_GATEWAY": (502, "Bad Gateway"),
    "SERVICE_UNAVAILABLE": (503, "Service Unavailable"),
    "GATEWAY_TIMEOUT": (504, "Gateway Timeout"),
    "HTTP_VERSION_NOT_SUPPORTED": (505, "HTTP Version Not Supported"),
    "VARIANT_ALSO_NEGOTIATES": (506, "Variant Also Negotiates"),
    "INSUFFICIENT_STORAGE": (507, "Insufficient Storage"),
    "LOOP_DETECTED": (508, "Loop Detected"),
    "NOT_EXTENDED": (510, "Not Extended"),
    "NETWORK_AUTHENTICATION_REQUIRED": (511, "Network Authentication Required"),
}


def test_members_are_exactly_httpx_members_in_order() -> None:
    assert [member.name for member in codes] == list(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items())
def test_member_value_and_phrase(name: str, expected: tuple[int, str]) -> None:
    value, phrase = expected
    member = codes[name]
    assert member == value
    assert member.value == value
    assert member.phrase == phrase
    assert codes(value) is member
    assert codes.get_reason_phrase(value) == phrase


@pytest.mark.parametrize("name", EXPECTED)
def test_lower_case_alias_is_the_member(name: str) -> None:
    assert getattr(codes, name.lower()) is codes[name]


def test_aliases_do_not_add_members() -> None:
    assert len(list(codes)) == len(EXPECTED)


def test_str_format_and_repr() -> None:
    assert str(codes.OK) == "200"
    assert f"{codes.NOT_FOUND}" == "404"
    assert "%s" % codes.NOT_FOUND == "404"  # noqa: UP031 - the old style must work too
    assert repr(codes.NOT_FOUND) == "<codes.NOT_FOUND: 404>"


def test_behaves_as_int() -> None:
    ok: int = codes.OK
    assert ok + 1 == 201
    assert ok == 200
    assert isinstance(codes.OK, int)
    assert {200: "yes"}[codes.OK] == "yes"
    assert codes.OK < codes.NOT_FOUND


def test_pickle_round_trip() -> None:
    assert pickle.loads(pickle.dumps(codes.IM_A_TEAPOT)) is codes.IM_A_TEAPOT


@pytest.mark.parametrize("value", [0, 99, 199, 299, 306, 420, 599, 600, 1000, -1])
def test_unknown_code_has_empty_phrase(value: int) -> None:
    assert codes.get_reason_phrase(value) == ""


def test_unknown_code_is_not_a_member() -> None:
    with pytest.raises(ValueError):
        codes(299)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (99, ""),
        (100, "informational"),
        (150, "informational"),
        (199, "informational"),
        (200, "success"),
        (299, "success"),
        (300, "redirect"),
        (399, "redirect"),
        (400, "client_error"),
        (499, "client_error"),
        (500, "server_error"),
        (599, "server_error"),
        (600, ""),
    ],
)
def test_range_checks(value: int, expected: str) -> None:
    kinds = ["informational", "success", "redirect", "client_error", "server_error"]
    for kind in kinds:
        assert getattr(codes, f"is_{kind}")(value) is (kind == expected)
    assert codes.is_error(value) is (expected in ("client_error", "server_error"))


def test_range_checks_accept_members() -> None:
    assert codes.is_redirect(codes.FOUND)
    assert codes.is_error(codes.BAD_GATEWAY)
    assert not codes.is_error(codes.OK)


def test_the_package_loads_codes_on_first_use() -> None:
    import sansio

    assert sansio.codes is codes
    assert "codes" in sansio.__all__
