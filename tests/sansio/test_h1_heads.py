"""The two response-head parsers against each other, and the request-head writer
against h11.

llhttp (the fast path) must give h11's answer for every head: the same `Head`, or the
same refusal with the same message (llhttp never refuses on its own: what it refuses,
h11 decides). The request writer must write the bytes h11 writes, or refuse what h11
refuses. Random, mutated and hostile heads, whole and cut anywhere.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio import h1_heads
from sansio.exceptions import LocalProtocolError, RemoteProtocolError
from sansio.exchange import Planner
from sansio.h1 import H1Connection
from sansio.h1_heads import PARSERS, Head, parse_head_h11, write_request_head
from sansio.models import Request
from sansio.streams import ByteStream
from sansio.wire import NEED_BODY, RECEIVE, SEND, BodyChunk, EndOfBody, RequestHead, ResponseHead

ROOT = Path(__file__).resolve().parent.parent.parent

_BLANK_LINE = re.compile(rb"\n\r?\n")


def parsed(parser: str, head: bytes) -> Head | tuple[str, str]:
    try:
        return PARSERS[parser](head)
    except RemoteProtocolError as exc:
        return ("refused", str(exc))


def assert_same(head: bytes) -> Head | tuple[str, str]:
    expected = parsed("h11", head)
    assert parsed("llhttp", head) == expected, head
    return expected


# -- what each screen is for -----------------------------------------------------------

# Heads on which llhttp alone answers otherwise than h11: each must come out as h11's.
DIFFERENCES = [
    # llhttp refuses, h11 accepts.
    b"HTTP/1.1 200 OK\nA: b\n\n",  # bare LF line ends
    b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",  # obs-fold
    b"HTTP/1.1 200 OK\r\nA: \r\n\tc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x01c\r\n\r\n",  # controls in a value
    b"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",  # 20 digits
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.5 200 OK\r\n\r\n",
    b"HTTP/3.0 200 OK\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    # llhttp accepts, h11 refuses.
    b"RTSP/1.0 200 OK\r\n\r\n",
    b"ICE/1.0 200 OK\r\n\r\n",
    b"HTTP/1.1 099 Too Low\r\n\r\n",
    b"HTTP/1.1 000 Zero\r\n\r\n",
    b"HTTP/1.1 200 O\x00K\r\n\r\n",
    b"HTTP/1.1 200 O\x0bK\r\n\r\n",
    b"HTTP/1.1 200 O\x0cK\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 000000000000000000005\r\n\r\n",  # 21 digits
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\nTransfer-Encoding: gzip\r\n\r\n",
    # Both accept, llhttp parses otherwise.
    b"HTTP/1.1 200 OK\r\nA: b \t\r\n\r\n",  # h11 strips trailing whitespace
    b"HTTP/1.1 200 OK\r\nContent-Length: 5 \r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n",  # h11 lowercases it
    b"HTTP/1.1 200\r\n\r\n",  # no reason: b"", not None
]


@pytest.mark.parametrize("head", DIFFERENCES)
def test_where_llhttp_differs_h11_answers(head: bytes) -> None:
    assert_same(head)


# Heads as real servers send them: llhttp answers alone (h11 is never asked).
FAST = [
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n"
    b'Connection: keep-alive\r\nETag: "6753c0a8-400"\r\nAccept-Ranges: bytes\r\n\r\n',
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=b; Path=/\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length:5\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: /x\r\nConnection: Keep-Alive, Close\r\n\r\n",
]


@pytest.mark.parametrize("head", FAST)
def test_heads_real_servers_send_never_reach_h11(
    head: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = parse_head_h11(head)

    def unexpected(head: bytes) -> Head:
        raise AssertionError(f"h11 was asked to parse {head!r}")

    monkeypatch.setattr(h1_heads, "parse_head_h11", unexpected)
    assert PARSERS["llhttp"](head) == expected


def test_keep_alive_as_h11_reads_it() -> None:
    def keep_alive(head: bytes) -> bool:
        result = assert_same(head)
        assert isinstance(result, Head)
        return result.keep_alive

    assert keep_alive(b"HTTP/1.1 200 OK\r\n\r\n")
    assert not keep_alive(b"HTTP/1.1 200 OK\r\nConnection: x, CLOSE \r\n\r\n")
    assert not keep_alive(b"HTTP/1.1 200 OK\r\nConnection: x\r\nConnection: close\r\n\r\n")
    assert keep_alive(b"HTTP/1.1 200 OK\r\nConnection: closed, enclose\r\n\r\n")
    assert not keep_alive(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")
    assert keep_alive(b"HTTP/1.0 100 Continue\r\n\r\n")  # h11 asks final heads only
    assert keep_alive(b"HTTP/1.1 103 Early\r\nConnection: close\r\n\r\n")


# -- random and hostile heads ------------------------------------------------------------

# Bytes a hostile server would try, and every other byte now and then.
NASTY = [b"\r", b"\n", b"\r\n", b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x1b", b"\x7f", b"\x80"]
NASTY += [b"\xff", b" ", b"\t", b":", b";", b",", b"=", b'"', b"0", b"9", b"a", b"Z", b"-", b"/"]
nasty_byte = st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=1))
nasty_text = st.lists(nasty_byte, max_size=6).map(b"".join)


def pick(draw: st.DrawFn, good: list[bytes], odd: st.SearchStrategy[bytes]) -> bytes:
    """One of ``good`` mostly, once in 20 something ``odd`` (shrinks to ``good``)."""
    return draw(odd) if draw(st.integers(0, 19)) == 19 else draw(st.sampled_from(good))


# The lists of "good" parts hold the shapes on which llhttp alone and h11 disagree.
VERSIONS = [b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.5", b"RTSP/1.0", b"ICE/1.0"]
ODD_VERSIONS = [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.5", b"HTTP/3.0", b"RTSP/1.0"]
ODD_VERSIONS += [b"ICE/1.0", b"http/1.1", b"HTTP/1.10", b"HTTP/11", b"", b"HTTP/1.1 "]
STATUSES = [b"200", b"204", b"304", b"100", b"101", b"103", b"404", b"999", b"099", b"000"]
REASONS = [b" OK", b" Not Found", b"", b" ", b"  OK", b" caf\xc3\xa9", b" O\x00K", b" \x0b"]
REASONS += [b" \x0c", b" OK\t", b" \x01\x7f"]
# Field values by name: mostly what h11 accepts, in every spelling llhttp reads otherwise.
VALUES = {
    b"Content-Length": [b"5", b"0", b"05", b"5, 5", b" 5 ", b"1" * 20, b"0" * 20 + b"1", b"5,6"],
    b"Transfer-Encoding": [b"chunked", b"Chunked", b"chunked ", b"gzip, chunked", b"identity"],
    b"Connection": [b"close", b"keep-alive", b"Keep-Alive, Close", b" close ", b"closed"],
    b"X-A": [b"v", b"a b", b"a\tb", b"", b"  ", b"\xc3\xa9", b"v \t", b"\x01", b"\x7f"],
}
VALUES[b"content-length"] = VALUES[b"Content-Length"]
VALUES[b"TRANSFER-ENCODING"] = VALUES[b"Transfer-Encoding"]
VALUES[b"Upgrade"] = VALUES[b"Set-Cookie"] = VALUES[b"X-A"]
NAMES = list(VALUES)
ALL_VALUES = sorted({value for values in VALUES.values() for value in values})
SEPARATORS = [b": ", b":", b":\t"]
ODD_SEPARATORS = [b" : ", b" :", b"::", b""]
LINE_END = [b"\r\n"]
ODD_LINE_ENDS = [b"\n", b"\r", b"\r\r\n", b"\n\r"]


@st.composite
def fields(draw: st.DrawFn) -> bytes:
    name = pick(draw, NAMES, nasty_text)
    value = pick(
        draw, VALUES.get(name, ALL_VALUES), st.one_of(st.sampled_from(ALL_VALUES), nasty_text)
    )
    if draw(st.integers(0, 15)) == 15:  # obs-fold
        value += draw(st.sampled_from([b"\r\n ", b"\r\n\t", b"\n  "])) + draw(nasty_text)
    separator = pick(draw, SEPARATORS, st.sampled_from(ODD_SEPARATORS))
    return name + separator + value + pick(draw, LINE_END, st.sampled_from(ODD_LINE_ENDS))


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """Response heads, mostly well formed, with every kind of flaw now and then."""
    version = pick(draw, VERSIONS, st.sampled_from(ODD_VERSIONS))
    status = pick(
        draw, STATUSES, st.one_of(st.integers(0, 1200).map(lambda n: b"%03d" % n), nasty_text)
    )
    reason = pick(draw, REASONS, nasty_text.map(lambda text: b" " + text))
    separator = pick(draw, [b" "], st.sampled_from([b"  ", b"\t", b""]))
    line_end = pick(draw, LINE_END, st.sampled_from(ODD_LINE_ENDS))
    lines = draw(st.lists(fields(), max_size=5))
    end = pick(draw, LINE_END, st.just(b"\n"))
    return version + separator + status + reason + line_end + b"".join(lines) + end


def mutate(data: bytes, changes: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for at, kind, token in changes:
        at %= len(out) + 1
        if kind == 0:
            out[at : at + len(token)] = token
        elif kind == 1:
            out[at:at] = token
        else:
            del out[at : at + len(token)]
    return bytes(out)


changes = st.one_of(
    st.just([]),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(0, 2), st.sampled_from(NASTY)), max_size=3
    ),
)


def first_head(raw: bytes) -> bytes | None:
    """Up to the first empty line, as `sansio.h1` cuts a head out of what arrived."""
    match = _BLANK_LINE.search(raw)
    return None if match is None else raw[: match.end()]


@settings(max_examples=500, deadline=None)
@given(heads(), changes)
def test_both_parsers_give_the_same_answer(
    raw: bytes, mutations: list[tuple[int, int, bytes]]
) -> None:
    head = first_head(mutate(raw, mutations))
    if head is not None:
        assert_same(head)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120).map(lambda data: b"HTTP/1.1 200 OK\r\n" + data + b"\r\n\r\n"))
def test_random_bytes_in_the_fields(raw: bytes) -> None:
    head = first_head(raw)
    assert head is not None
    assert_same(head)


VALUE_BYTES = [b"a", b"5", b" ", b"\t", b",", b"\x80", b"\xff", b"\x01", b"\x7f", b"\x00", b"\r"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"X-A", b"Content-Length", b"Transfer-Encoding", b"Connection"]),
    st.lists(st.sampled_from([*VALUE_BYTES, b"chunked", b"close", b"Close"]), max_size=8),
    st.sampled_from([b"200 OK", b"100 Continue", b"101 S", b"204 N"]),
    st.sampled_from([b"1.1", b"1.0"]),
)
def test_field_values_of_every_shape(
    name: bytes, value: list[bytes], status: bytes, version: bytes
) -> None:
    """Whitespace inside and around values, separators, controls, case: the same fields
    (h11 strips, lowercases, and checks the framing fields) and the same keep-alive."""
    head = b"HTTP/" + version + b" " + status + b"\r\n" + name + b":" + b"".join(value)
    assert_same(head + b"\r\n\r\n")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.binary(max_size=3))
def test_random_bytes_in_the_status_line(line: bytes, version: bytes) -> None:
    for head in (line + b"\r\n\r\n", b"HTTP/1.1 " + line + b"\r\n\r\n", b"HTTP/" + version + line):
        if (cut := first_head(head + b"\r\n\r\n")) is not None:
            assert_same(cut)


# -- through the machine, cut anywhere -----------------------------------------------------


def play(parser: str, method: bytes, pieces: list[bytes]) -> tuple[object, ...]:
    """Everything a user of the machine sees: head, body, trailers, error, reuse."""
    conn = H1Connection(parser=parser, max_header_bytes=200, max_header_count=6)
    request = RequestHead(
        method=method, target=b"/", headers=[(b"Host", b"a")], authority=b"a", scheme=b"http"
    )
    sid = conn.start_request(request, has_body=False)
    incoming = iter(pieces)
    seen: list[object] = []
    try:
        for _ in range(len(pieces) + sum(map(len, pieces)) + 8):
            step = conn.next_step(sid)
            if step is SEND:
                conn.data_to_send()
            elif step is RECEIVE:
                conn.receive_data(next(incoming, b""))
            elif isinstance(step, ResponseHead | BodyChunk):
                seen.append(step)
            else:
                assert step is not NEED_BODY
                assert isinstance(step, EndOfBody)
                seen.append(step)
                trailing = conn.trailing_data()
                conn.release(sid)
                return ("ok", seen, trailing, conn.is_reusable)
        raise AssertionError("no end")
    except RemoteProtocolError as exc:
        return ("error", seen, str(exc))


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


BODIES = [
    b"",
    b"hello",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"0\r\nT: v\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(heads(), min_size=1, max_size=3),
    changes,
    st.sampled_from(BODIES),
    st.lists(st.integers(min_value=0), max_size=8),
    st.sampled_from([b"GET", b"HEAD", b"CONNECT"]),
)
def test_the_machine_answers_the_same_on_both_parsers(
    raws: list[bytes],
    mutations: list[tuple[int, int, bytes]],
    body: bytes,
    cuts: list[int],
    method: bytes,
) -> None:
    """1xx before the final head, limits (200 bytes, 6 fields), every cut: the same
    steps, bytes, errors (and messages) and reuse."""
    raw = mutate(b"".join(raws), mutations) + body
    pieces = cut(raw, cuts)
    assert play("llhttp", method, pieces) == play("h11", method, pieces)


def test_llhttp_hands_over_the_names_it_lowered() -> None:
    """The llhttp path lowers each field name once, for its own framing checks and for
    the response's `Headers`, which adopt the triples: the same headers as h11's head
    gives, each response with its own list."""
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Two: 1\r\nx-TWO: 2\r\n"
        b"CONTENT-LENGTH: 4\r\nConnection: Keep-Alive\r\n\r\n"
    )
    head = PARSERS["llhttp"](raw)
    assert head == PARSERS["h11"](raw)
    fields = head.fields
    assert type(fields) is h1_heads.LoweredFields
    assert fields.items == [(name, name.lower(), value) for name, value in fields]
    request = Request("GET", "http://a/")
    responses = [
        Planner.response(
            ResponseHead(200, head.reason, head.fields, "HTTP/1.1"), request, ByteStream(b""), None
        )
        for head in (PARSERS["llhttp"](raw), PARSERS["h11"](raw), PARSERS["llhttp"](raw))
    ]
    via_llhttp, via_h11, again = responses
    assert via_llhttp.headers.multi_items() == via_h11.headers.multi_items()
    assert via_llhttp.headers.raw == via_h11.headers.raw == fields
    assert via_llhttp.headers.get_list("x-two") == ["1", "2"]
    assert via_llhttp.headers["content-length"] == "4"
    via_llhttp.headers["x-new"] = "1"
    del via_llhttp.headers["x-two"]
    assert fields.items == [(name, name.lower(), value) for name, value in fields]
    assert again.headers.multi_items() == via_h11.headers.multi_items()


# -- the request head against h11 --------------------------------------------------------


def h11_request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], has_body: bool, validate: bool
) -> bytes:
    """The bytes of the old path: h11 wrote the head (and the end of an empty body)."""
    names = [name.lower() for name, _ in headers]
    has_length, has_chunked = b"content-length" in names, b"transfer-encoding" in names
    if has_length and has_chunked:
        raise LocalProtocolError("both")
    if has_body and not (has_length or has_chunked):
        headers = [*headers, (b"Transfer-Encoding", b"chunked")]
    conn = h11.Connection(h11.CLIENT)
    try:
        request = h11.Request(method=method, target=target, headers=headers, _parsed=not validate)
        data = conn.send(request)
        assert data is not None
        if not has_body:
            data += conn.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError as exc:
        raise LocalProtocolError(str(exc)) from exc
    return data


def conch_request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], has_body: bool, validate: bool
) -> bytes:
    data, framing = write_request_head(
        method, target, headers, has_body=has_body, validate=validate
    )
    if not has_body and framing.chunked:
        data += b"0\r\n\r\n"
    return data


def outcome(write: Callable[..., bytes], *args: object) -> bytes | str:
    try:
        return write(*args)
    except LocalProtocolError:
        return "refused"


# Request fields by name: mostly valid, in the spellings h11 normalises.
REQUEST_VALUES = {
    b"Host": [b"example.com", b"example.com:8080"],
    b"Content-Length": [b"5", b"0", b"05", b"5, 5", b"5,6", b"1" * 21],
    b"Transfer-Encoding": [b"chunked", b"CHUNKED", b"gzip"],
    b"Connection": [b"close", b"keep-alive", b"Keep-Alive, close"],
    b"Upgrade": [b"websocket", b",", b" , "],
    b"Accept": [b"*/*", b"", b"a\tb", b"\xc3\xa9", b" a", b"a ", b"a\r\nX: y", b"\x01"],
}
for _name in (b"host", b"HOST"):
    REQUEST_VALUES[_name] = REQUEST_VALUES[b"Host"]
for _name in (b"content-length", b"transfer-encoding", b"X-A", b"Bad Name", b"", b"A\x00"):
    REQUEST_VALUES[_name] = REQUEST_VALUES[b"Accept"]
REQUEST_NAMES = list(REQUEST_VALUES)
ALL_REQUEST_VALUES = sorted({v for values in REQUEST_VALUES.values() for v in values})


@st.composite
def request_heads(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    method = pick(draw, [b"GET", b"POST", b"CONNECT", b"PUT"], nasty_text)
    target = pick(draw, [b"/", b"/a?b=c", b"example.com:443", b"*"], nasty_text)
    headers = []
    for _ in range(draw(st.integers(0, 6))):
        name = pick(draw, REQUEST_NAMES, nasty_text)
        values = REQUEST_VALUES.get(name, ALL_REQUEST_VALUES)
        headers.append((name, pick(draw, values, nasty_text)))
    if draw(st.integers(0, 3)):
        headers.insert(draw(st.integers(0, len(headers))), (b"Host", b"example.com"))
    return method, target, headers


VALID_REQUEST_FIELDS = [
    (b"Content-Length", b"5"),
    (b"content-length", b"5, 5"),
    (b"CONTENT-LENGTH", b"05"),
    (b"Transfer-Encoding", b"CHUNKED"),
    (b"Connection", b"Keep-Alive, close"),
    (b"Connection", b"keep-alive"),
    (b"Upgrade", b"websocket"),
    (b"Accept", b"*/*"),
    (b"X-Empty", b""),
    (b"X-Tab", b"a\tb"),
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(VALID_REQUEST_FIELDS), max_size=5),
    st.integers(min_value=0),
    st.booleans(),
    st.booleans(),
)
def test_valid_request_heads_are_the_bytes_h11_writes(
    fields: list[tuple[bytes, bytes]], host_at: int, has_body: bool, validate: bool
) -> None:
    """Valid fields in every order and repetition: Host moved first, Content-Length
    repeats written once, chunked lowercased, or the same refusal."""
    fields.insert(host_at % (len(fields) + 1), (b"Host", b"example.com"))
    args = (b"POST", b"/", fields, has_body, validate)
    assert outcome(conch_request, *args) == outcome(h11_request, *args)


@settings(max_examples=500, deadline=None)
@given(request_heads(), st.booleans(), st.booleans())
def test_request_heads_are_the_bytes_h11_writes(
    request: tuple[bytes, bytes, list[tuple[bytes, bytes]]], has_body: bool, validate: bool
) -> None:
    """The same bytes (Host first, Content-Length repeats written once, chunked
    lowercased, chunked added for a body), or both refuse. The one difference on
    purpose: a Content-Length request without a body is refused by both, but h11 only
    once the head had gone into its buffer."""
    args = (*request, has_body, validate)
    assert outcome(conch_request, *args) == outcome(h11_request, *args)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.binary(max_size=20), st.none()), max_size=5),
    st.sampled_from([None, 0, 3, 10, 40]),
)
def test_request_bodies_are_the_bytes_h11_writes(
    chunks: list[bytes | None], length: int | None
) -> None:
    """Chunked, or counted against a Content-Length (too much or too little refused)."""
    headers = [(b"Host", b"a")] + ([] if length is None else [(b"Content-Length", b"%d" % length)])
    ours = H1Connection()
    reference = h11.Connection(h11.CLIENT)
    head = RequestHead(method=b"POST", target=b"/", headers=headers, authority=b"a", scheme=b"h")
    sid = ours.start_request(head, has_body=True)
    framing = [] if length is not None else [(b"Transfer-Encoding", b"chunked")]
    expected = reference.send(h11.Request(method=b"POST", target=b"/", headers=headers + framing))
    assert expected is not None
    sent = b""
    for chunk in [*chunks, None]:
        if chunk is not None and not chunk:
            continue
        try:
            event = h11.EndOfMessage() if chunk is None else h11.Data(data=chunk)
            expected += reference.send(event) or b""
        except h11.LocalProtocolError:
            with pytest.raises(LocalProtocolError, match="data for declared Content-Length"):
                ours.send_body(sid, chunk)
            assert not ours.is_reusable
            return
        ours.send_body(sid, chunk)
        while (step := ours.next_step(sid)) is SEND:
            sent += ours.data_to_send()
        if chunk is None:
            assert step is RECEIVE
            break
        assert step is NEED_BODY
    assert sent == expected


def test_request_head_is_one_join_with_host_first() -> None:
    data, framing = write_request_head(
        b"POST",
        b"/upload",
        [(b"Accept", b"*/*"), (b"hOsT", b"example.com"), (b"Content-Length", b"5, 5")],
        has_body=True,
        validate=True,
    )
    assert data == (
        b"POST /upload HTTP/1.1\r\nhOsT: example.com\r\nAccept: */*\r\nContent-Length: 5\r\n\r\n"
    )
    assert framing == h1_heads.RequestFraming(5, False, False, False)


HOST = (b"Host", b"a")


@pytest.mark.parametrize(
    ("method", "target", "fields", "message"),
    [
        (b"GET", b"/", [HOST, (b"Content-Length", b"5,6")], "conflicting Content-Length"),
        (b"GET", b"/", [HOST, (b"Content-Length", b"5"), (b"Content-Length", b"6")], "conflict"),
        (b"GET", b"/", [HOST, (b"Content-Length", b"x")], "bad Content-Length"),
        (b"GET", b"/", [HOST, (b"Content-Length", b"1" * 21)], "bad Content-Length"),
        (b"GET", b"/", [HOST, (b"Transfer-Encoding", b"gzip")], "Only Transfer-Encoding"),
        (
            b"GET",
            b"/",
            [HOST, (b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")],
            "multiple Transfer-Encoding",
        ),
        (b"GET", b"/", [], "Missing mandatory Host"),
        (b"GET", b"/", [HOST, HOST], "Found multiple Host"),
        (b"G T", b"/", [HOST], "Illegal method characters"),
        (b"GET", b"/ x", [HOST], "Illegal target characters"),
        (b"GET", b"/", [HOST, (b"A B", b"v")], "Illegal header name"),
        (b"GET", b"/", [HOST, (b"A", b"v\r\nB: w")], "Illegal header value"),
    ],
)
def test_request_heads_refused_as_h11_refuses(
    method: bytes, target: bytes, fields: list[tuple[bytes, bytes]], message: str
) -> None:
    for write in (conch_request, h11_request):
        with pytest.raises(LocalProtocolError, match=message):
            write(method, target, fields, False, True)


def test_request_fields_named_like_framing_fields_are_not_framing() -> None:
    # Same lengths as Host, Connection, Upgrade, Content-Length, Transfer-Encoding.
    fields = [(b"Host", b"a"), (b"From", b"b"), (b"User-Agent", b"c"), (b"Referer", b"d")]
    fields += [(b"Accept-Charset", b"e"), (b"If-Modified-Since", b"f")]
    data, framing = write_request_head(b"GET", b"/", fields, has_body=False, validate=True)
    assert data == h11_request(b"GET", b"/", fields, has_body=False, validate=True)
    assert framing == h1_heads.RequestFraming(None, False, False, False)


# -- where httptools is missing --------------------------------------------------------------


def test_without_httptools_h11_parses_every_head() -> None:
    """A CPython without httptools (or PyPy): h11 is the default, and it works."""
    script = (
        "import sys\n"
        "sys.modules['httptools'] = None\n"
        "from sansio import h1, h1_heads\n"
        "from sansio.wire import RequestHead, ResponseHead\n"
        "assert h1.DEFAULT_PARSER == 'h11' and list(h1_heads.PARSERS) == ['h11']\n"
        "conn = h1.H1Connection()\n"
        "head = RequestHead(method=b'GET', target=b'/', headers=[(b'Host', b'a')],\n"
        "                   authority=b'a', scheme=b'http')\n"
        "sid = conn.start_request(head, has_body=False)\n"
        "conn.data_to_send()\n"
        "conn.receive_data(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n')\n"
        "step = conn.next_step(sid)\n"
        "assert isinstance(step, ResponseHead) and step.status_code == 200, step\n"
        "try:\n"
        "    h1.H1Connection(parser='llhttp')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "no response-head parser 'llhttp' here" in out.stdout


def test_a_parser_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="no response-head parser 'fast'"):
        H1Connection(parser="fast")
