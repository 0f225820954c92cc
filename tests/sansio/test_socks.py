"""The SOCKS5 and SOCKS4/4a handshake machines against scripted proxy bytes, whole and
split at every byte, and against hostile replies."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.exceptions import ProxyError
from sansio.socks import (
    DONE,
    MAX_FIELD_LENGTH,
    RECEIVE,
    REPLY_CODES,
    SEND,
    SOCKS4_REPLY_CODES,
    Socks4Handshake,
    Socks5Handshake,
    socks4_address,
    socks4_user_id,
    socks5_address,
    socks5_credentials,
)

GREETING = b"\x05\x01\x00"  # version 5, one method: no authentication
GREETING_AUTH = b"\x05\x02\x00\x02"  # no authentication, username/password
CONNECT_EXAMPLE = b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"  # CONNECT example.com:443
REPLY_OK = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"  # succeeded, bound 127.0.0.1:1080


def feeds(data: bytes) -> Iterator[list[bytes]]:
    """``data`` whole, cut in two at every byte, and one byte at a time."""
    yield [data]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


def drive(hs: Socks5Handshake | Socks4Handshake, incoming: list[bytes]) -> bytes:
    """Run the handshake to DONE, feeding `incoming` then EOF; return what was sent."""
    sent = bytearray()
    chunks = iter(incoming)
    while True:
        step = hs.next_step()
        if step is SEND:
            sent += hs.data_to_send()
        elif step is RECEIVE:
            hs.receive_data(next(chunks, b""))
        else:
            assert step is DONE
            return bytes(sent)


def fails(hs: Socks5Handshake | Socks4Handshake, incoming: list[bytes]) -> str:
    with pytest.raises(ProxyError) as info:
        drive(hs, incoming)
    # A failure sticks: asking again raises the same error.
    with pytest.raises(ProxyError, match="^" + re.escape(str(info.value)) + "$"):
        hs.next_step()
    assert hs.data_to_send() == b""
    return str(info.value)


# -- successful handshakes ------------------------------------------------------------


@pytest.mark.parametrize("chunks", list(feeds(b"\x05\x00" + REPLY_OK)))
def test_no_auth_split_anywhere(chunks: list[bytes]) -> None:
    hs = Socks5Handshake("example.com", 443)
    assert drive(hs, chunks) == GREETING + CONNECT_EXAMPLE
    assert hs.method == 0
    assert hs.bound_address == ("127.0.0.1", 1080)
    assert hs.trailing_data() == b""
    assert hs.next_step() is DONE


AUTH_REQUEST = b"\x01\x04user\x06secret"


@pytest.mark.parametrize("chunks", list(feeds(b"\x05\x02" + b"\x01\x00" + REPLY_OK)))
def test_username_password_split_anywhere(chunks: list[bytes]) -> None:
    hs = Socks5Handshake("example.com", 443, auth=("user", "secret"))
    assert drive(hs, chunks) == GREETING_AUTH + AUTH_REQUEST + CONNECT_EXAMPLE
    assert hs.method == 2
    assert hs.bound_address == ("127.0.0.1", 1080)


def test_messages_go_out_one_reply_at_a_time() -> None:
    hs = Socks5Handshake("example.com", 443, auth=(b"user", b"secret"))
    assert hs.next_step() is SEND
    assert hs.data_to_send() == GREETING_AUTH
    assert hs.data_to_send() == b""
    assert hs.next_step() is RECEIVE
    hs.receive_data(b"\x05")
    assert hs.next_step() is RECEIVE
    hs.receive_data(b"\x02")
    assert hs.next_step() is SEND
    assert hs.data_to_send() == AUTH_REQUEST  # the password only once the proxy asks
    assert hs.next_step() is RECEIVE
    hs.receive_data(b"\x01\x00")
    assert hs.next_step() is SEND
    assert hs.data_to_send() == CONNECT_EXAMPLE
    assert hs.next_step() is RECEIVE
    hs.receive_data(REPLY_OK + b"GET")
    assert hs.next_step() is DONE
    assert hs.trailing_data() == b"GET"


def test_credentials_stay_home_when_the_proxy_needs_none() -> None:
    hs = Socks5Handshake("example.com", 443, auth=("user", "secret"))
    sent = drive(hs, [b"\x05\x00", REPLY_OK])
    assert sent == GREETING_AUTH + CONNECT_EXAMPLE
    assert b"secret" not in sent


def test_auth_reply_with_version_5_is_tolerated() -> None:
    hs = Socks5Handshake("example.com", 443, auth=("user", "secret"))
    drive(hs, [b"\x05\x02\x05\x00" + REPLY_OK])
    assert hs.bound_address == ("127.0.0.1", 1080)


@pytest.mark.parametrize(
    ("host", "port", "request_bytes"),
    [
        ("93.184.216.34", 80, b"\x05\x01\x00\x01\x5d\xb8\xd8\x22\x00\x50"),
        ("::1", 8443, b"\x05\x01\x00\x04" + b"\x00" * 15 + b"\x01\x20\xfb"),
        ("2001:db8::1", 0, b"\x05\x01\x00\x04\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01\x00\x00"),
        ("xn--bcher-kva.example", 65535, b"\x05\x01\x00\x03\x15xn--bcher-kva.example\xff\xff"),
        ("a" * 255, 1, b"\x05\x01\x00\x03\xff" + b"a" * 255 + b"\x00\x01"),
    ],
)
def test_address_types(host: str, port: int, request_bytes: bytes) -> None:
    hs = Socks5Handshake(host, port)
    assert drive(hs, [b"\x05\x00", REPLY_OK]) == GREETING + request_bytes


@pytest.mark.parametrize("host", ["10.0.0.1", "::1"])
def test_without_remote_dns_addresses_are_fine(host: str) -> None:
    hs = Socks5Handshake(host, 80, remote_dns=False)
    drive(hs, [b"\x05\x00", REPLY_OK])


@pytest.mark.parametrize(
    ("reply", "bound"),
    [
        (b"\x05\x00\x00\x01\x0a\x00\x00\x02\x00\x50", ("10.0.0.2", 80)),
        (b"\x05\x00\x00\x04" + b"\x00" * 15 + b"\x01\x1f\x90", ("::1", 8080)),
        (b"\x05\x00\x00\x03\x05proxy\x04\x38", ("proxy", 1080)),
        (b"\x05\x00\x00\x03\x00\x00\x00", ("", 0)),
        (b"\x05\x00\x07\x01\x00\x00\x00\x00\x00\x00", ("0.0.0.0", 0)),  # RSV is ignored
    ],
)
def test_bound_address_types(reply: bytes, bound: tuple[str, int]) -> None:
    for chunks in feeds(b"\x05\x00" + reply + b"\x16"):
        hs = Socks5Handshake("example.com", 443)
        drive(hs, chunks)
        assert hs.bound_address == bound
        # Bytes after the reply are kept when they came with it, and never read for.
        assert hs.trailing_data() == (b"" if chunks[-1] == b"\x16" else b"\x16")


# -- failures -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [*range(1, 10), 0xFF])
def test_every_failure_reply_code(code: int) -> None:
    name = REPLY_CODES.get(code, "unassigned reply code")
    reply = b"\x05" + bytes([code]) + b"\x00\x01\x00\x00\x00\x00\x00\x00"
    for chunks in feeds(b"\x05\x00" + reply):
        hs = Socks5Handshake("example.com", 443)
        message = fails(hs, chunks)
        assert message == (
            f"the SOCKS5 proxy could not connect to example.com:443: {name} "
            f"(reply code 0x{code:02x})"
        )


def test_failure_names_follow_rfc_1928() -> None:
    assert REPLY_CODES[5] == "connection refused"
    assert REPLY_CODES[2] == "connection not allowed by ruleset"
    hs = Socks5Handshake("::1", 80)
    message = fails(hs, [b"\x05\x00\x05\x04"])
    assert message.startswith("the SOCKS5 proxy could not connect to [::1]:80: host unreachable")


def test_failure_is_seen_before_the_rest_of_the_reply() -> None:
    hs = Socks5Handshake("example.com", 443)
    drive_until_receive(hs, b"\x05\x00")
    hs.receive_data(b"\x05\x05")  # the proxy may close right after the code
    with pytest.raises(ProxyError, match="connection refused"):
        hs.next_step()


def drive_until_receive(hs: Socks5Handshake, data: bytes) -> None:
    while hs.next_step() is SEND:
        hs.data_to_send()
    hs.receive_data(data)
    while hs.next_step() is SEND:
        hs.data_to_send()


@pytest.mark.parametrize(
    ("auth", "method", "message"),
    [
        (
            None,
            b"\xff",
            "the SOCKS5 proxy requires authentication: give the proxy a username and "
            "password (socks5://user:password@host:port)",
        ),
        (
            ("u", "p"),
            b"\xff",
            "the SOCKS5 proxy accepted none of the offered authentication methods "
            "(no authentication, username/password)",
        ),
        (
            None,
            b"\x01",
            "the SOCKS5 proxy chose authentication method 0x01 (GSSAPI), which conch did not offer",
        ),
        (
            None,
            b"\x02",
            "the SOCKS5 proxy chose authentication method 0x02 (username/password), "
            "which conch did not offer",
        ),
        (
            ("u", "p"),
            b"\x80",
            "the SOCKS5 proxy chose authentication method 0x80 (unknown), "
            "which conch did not offer",
        ),
    ],
)
def test_method_selection_failures(
    auth: tuple[str, str] | None, method: bytes, message: str
) -> None:
    for chunks in feeds(b"\x05" + method):
        assert fails(Socks5Handshake("example.com", 443, auth), chunks) == message


def test_credentials_refused() -> None:
    for chunks in feeds(b"\x05\x02\x01\x01"):
        hs = Socks5Handshake("example.com", 443, auth=("user", "wrong"))
        message = fails(hs, chunks)
        assert message == "the SOCKS5 proxy refused the username and password (status 0x01)"


@pytest.mark.parametrize(
    ("auth", "incoming", "message"),
    [
        (
            None,
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            "malformed SOCKS5 reply: version byte 0x48, expected 0x05 (is this a SOCKS5 proxy?)",
        ),
        (None, b"\x04\x00", "malformed SOCKS5 reply: version byte 0x04, expected 0x05"),
        (
            ("u", "p"),
            b"\x05\x02\x02\x00",
            "malformed SOCKS5 authentication reply: version byte 0x02, expected 0x01",
        ),
        (None, b"\x05\x00\x04\x00", "malformed SOCKS5 reply: version byte 0x04, expected 0x05"),
        (None, b"\x05\x00\x05\x00\x00\x02", "malformed SOCKS5 reply: unknown address type 0x02"),
    ],
)
def test_malformed_replies(auth: tuple[str, str] | None, incoming: bytes, message: str) -> None:
    for chunks in feeds(incoming):
        assert fails(Socks5Handshake("example.com", 443, auth), chunks).startswith(message)


def test_wrong_version_fails_on_the_first_byte() -> None:
    hs = Socks5Handshake("example.com", 443)
    assert hs.next_step() is SEND
    hs.data_to_send()
    hs.receive_data(b"H")
    with pytest.raises(ProxyError, match="version byte 0x48"):
        hs.next_step()


@pytest.mark.parametrize(
    ("auth", "script"),
    [
        (None, b"\x05\x00" + REPLY_OK),
        (("user", "secret"), b"\x05\x02\x01\x00" + REPLY_OK),
        (None, b"\x05\x00\x05\x00\x00\x03\x05proxy\x04\x38"),
    ],
)
def test_eof_at_every_point(auth: tuple[str, str] | None, script: bytes) -> None:
    phases = ["the method selection"] * 2
    if auth is not None:
        phases += ["the authentication reply"] * 2
    phases += ["the connect reply"] * (len(script) - len(phases))
    for cut in range(len(script)):
        hs = Socks5Handshake("example.com", 443, auth)
        message = fails(hs, [script[:cut]] if cut else [])
        assert message == (
            f"the SOCKS5 proxy closed the connection while conch was waiting for {phases[cut]}"
        )


def test_eof_then_data_is_a_caller_bug() -> None:
    hs = Socks5Handshake("example.com", 443)
    hs.receive_data(b"")
    hs.receive_data(b"")  # EOF twice is still EOF
    with pytest.raises(RuntimeError, match="after EOF"):
        hs.receive_data(b"\x05")


def test_trailing_data_only_when_done() -> None:
    hs = Socks5Handshake("example.com", 443)
    with pytest.raises(RuntimeError, match="not finished"):
        hs.trailing_data()


# -- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "kwargs", "error", "match"),
    [
        ("example.com", "443", {}, TypeError, "port is an int"),
        ("example.com", True, {}, TypeError, "port is an int"),
        ("example.com", -1, {}, ValueError, "0..65535"),
        ("example.com", 65536, {}, ValueError, "0..65535"),
        (b"example.com", 443, {}, TypeError, "host is a str"),
        ("", 443, {}, ValueError, "invalid host name"),
        ("bücher.example", 443, {}, ValueError, "ASCII form"),
        ("exa mple.com", 443, {}, ValueError, "invalid host name"),
        ("example.com\x00", 443, {}, ValueError, "invalid host name"),
        ("example.com\x7f", 443, {}, ValueError, "invalid host name"),
        ("a" * 256, 443, {}, ValueError, "at most 255 bytes"),
        ("[::1]", 443, {}, ValueError, "without brackets"),
        ("fe80::1%eth0", 443, {}, ValueError, "invalid IPv6"),
        ("1:2:3", 443, {}, ValueError, "invalid IPv6"),
        ("example.com", 443, {"remote_dns": False}, ValueError, "resolve it first"),
        ("example.com", 443, {"auth": ["u", "p"]}, TypeError, "tuple"),
        ("example.com", 443, {"auth": ("u",)}, TypeError, "tuple"),
        ("example.com", 443, {"auth": ("u", 1)}, TypeError, "password is str or bytes"),
        ("example.com", 443, {"auth": ("u" * 256, "p")}, ValueError, "username is at most 255"),
        ("example.com", 443, {"auth": ("u", "p" * 256)}, ValueError, "password is at most 255"),
        ("example.com", 443, {"auth": ("u", "é" * 128)}, ValueError, "got 256"),
    ],
)
def test_bad_arguments(
    host: object, port: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Socks5Handshake(host, port, **kwargs)  # type: ignore[arg-type]


def test_credentials_at_the_limit() -> None:
    user, password = "u" * MAX_FIELD_LENGTH, "é" * (MAX_FIELD_LENGTH // 2)
    assert socks5_credentials((user, password)) == (user.encode(), password.encode("utf-8"))
    hs = Socks5Handshake("example.com", 443, auth=(user, password))
    sent = drive(hs, [b"\x05\x02\x01\x00", REPLY_OK])
    assert sent[4:] == (
        b"\x01\xff" + user.encode() + b"\xfe" + password.encode("utf-8") + CONNECT_EXAMPLE
    )


def test_empty_credentials_are_sent_as_given() -> None:
    hs = Socks5Handshake("example.com", 443, auth=("", ""))
    assert drive(hs, [b"\x05\x02\x01\x00", REPLY_OK]) == (
        GREETING_AUTH + b"\x01\x00\x00" + CONNECT_EXAMPLE
    )


# -- properties -----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    incoming=st.lists(st.binary(max_size=12), max_size=6),
    with_auth=st.booleans(),
)
def test_any_reply_bytes_end_in_done_or_proxy_error(incoming: list[bytes], with_auth: bool) -> None:
    hs = Socks5Handshake("example.com", 443, ("u", "p") if with_auth else None)
    try:
        drive(hs, incoming)
    except ProxyError:
        return
    assert hs.bound_address is not None


# Valid replies of every shape, to mutate: method selections, RFC 1929 statuses, and
# connect replies with each address type (a domain up to 255 bytes, odd bytes in it).
_METHODS = [b"\x05\x00", b"\x05\x02", b"\x05\xff", b"\x05\x01"]
_STATUSES = [b"\x01\x00", b"\x05\x00", b"\x01\x01"]
_REPLIES = [
    REPLY_OK,
    b"\x05\x00\x00\x04" + bytes(range(16)) + b"\x00\x50",
    b"\x05\x00\x00\x03\x0bexample.com\x01\xbb",
    b"\x05\x00\x00\x03\xff" + bytes(range(1, 256)) + b"\xff\xff",
    b"\x05\x00\x00\x03\x00\x00\x00",
    b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00",
]


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(_METHODS),
    status=st.sampled_from(_STATUSES),
    reply=st.sampled_from(_REPLIES),
    extra=st.binary(max_size=8),
    mutations=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=4
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    with_auth=st.booleans(),
)
def test_mutated_replies_end_in_done_or_proxy_error(
    method: bytes,
    status: bytes,
    reply: bytes,
    extra: bytes,
    mutations: list[tuple[int, int]],
    cuts: list[int],
    with_auth: bool,
) -> None:
    """Hostile proxies: valid replies with bytes changed, cut anywhere, followed by junk
    or EOF. Nothing but `ProxyError` comes out, and the machine always ends."""
    script = bytearray(method + (status if with_auth else b"") + reply + extra)
    for at, value in mutations:
        script[at % len(script)] = value
    points = sorted({min(c, len(script)) for c in cuts} | {0, len(script)})
    chunks = [bytes(script[a:b]) for a, b in itertools.pairwise(points) if b > a]
    hs = Socks5Handshake("example.com", 443, ("u", "p") if with_auth else None)
    incoming = iter(chunks)
    try:
        # Three messages out, each chunk in, then EOF: anything more is a loop.
        for _ in range(len(chunks) + 6):
            step = hs.next_step()
            if step is SEND:
                assert hs.data_to_send()
            elif step is RECEIVE:
                hs.receive_data(next(incoming, b""))
            else:
                break
        else:
            raise AssertionError("the handshake never ended")
    except ProxyError:
        with pytest.raises(ProxyError):
            hs.next_step()
        return
    assert step is DONE
    host, port = hs.bound_address or ("", -1)
    assert isinstance(host, str)
    assert 0 <= port <= 0xFFFF


def test_socks5_address_checks_what_a_request_can_carry() -> None:
    assert socks5_address("example.com") == b"\x03\x0bexample.com"
    assert socks5_address("a" * 255) == b"\x03\xff" + b"a" * 255
    assert socks5_address("127.0.0.1", remote_dns=False) == b"\x01\x7f\x00\x00\x01"
    with pytest.raises(ValueError, match=r"at most 255 bytes \(RFC 1928\), got 256"):
        socks5_address("a" * 256)


@settings(max_examples=100, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
    host=st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20),
        min_size=1,
        max_size=4,
    )
    .map(".".join)
    .filter(lambda h: not h.replace(".", "").isdigit()),  # names, not IPv4 addresses
    port=st.integers(min_value=0, max_value=65535),
    extra=st.binary(max_size=5),
)
def test_valid_script_split_anywhere(cuts: list[int], host: str, port: int, extra: bytes) -> None:
    script = b"\x05\x02\x01\x00" + REPLY_OK + extra
    points = sorted({min(c, len(script)) for c in cuts} | {0, len(script)})
    chunks = [script[a:b] for a, b in itertools.pairwise(points) if b > a]
    hs = Socks5Handshake(host, port, ("u", "p"))
    sent = drive(hs, chunks)
    name = host.encode()
    assert sent.endswith(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
    assert hs.bound_address == ("127.0.0.1", 1080)
    # What came in the same read as the reply's last byte stays; later reads never happen.
    end = len(script) - len(extra)
    last = next(b for a, b in itertools.pairwise(points) if a < end <= b)
    assert hs.trailing_data() == script[end:last]


# -- SOCKS4 and SOCKS4a ---------------------------------------------------------------

# CONNECT 93.184.216.34:80 as "alice"; the 4a form names example.com:443 instead.
SOCKS4_CONNECT = b"\x04\x01\x00\x50\x5d\xb8\xd8\x22alice\x00"
SOCKS4A_CONNECT = b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00example.com\x00"
SOCKS4_OK = b"\x00\x5a\x04\x38\x7f\x00\x00\x01"  # granted, bound 127.0.0.1:1080


@pytest.mark.parametrize("chunks", list(feeds(SOCKS4_OK)))
def test_socks4_split_anywhere(chunks: list[bytes]) -> None:
    hs = Socks4Handshake("93.184.216.34", 80, "alice")
    assert drive(hs, chunks) == SOCKS4_CONNECT
    assert hs.bound_address == ("127.0.0.1", 1080)
    assert hs.trailing_data() == b""
    assert hs.next_step() is DONE


@pytest.mark.parametrize("chunks", list(feeds(SOCKS4_OK + b"HTTP")))
def test_socks4a_sends_the_name(chunks: list[bytes]) -> None:
    hs = Socks4Handshake("example.com", 443)
    assert drive(hs, chunks) == SOCKS4A_CONNECT
    # What came with the reply's last byte is kept; nothing is read after it.
    assert b"HTTP".startswith(hs.trailing_data())


def test_socks4_one_message_each_way() -> None:
    hs = Socks4Handshake("example.com", 443, b"")
    with pytest.raises(RuntimeError, match="not finished"):
        hs.trailing_data()
    assert hs.next_step() is SEND
    assert hs.data_to_send() == SOCKS4A_CONNECT
    assert hs.next_step() is RECEIVE
    hs.receive_data(SOCKS4_OK[:7])
    assert hs.next_step() is RECEIVE
    hs.receive_data(SOCKS4_OK[7:] + b"\x16\x03")
    assert hs.next_step() is DONE
    assert hs.trailing_data() == b"\x16\x03"
    assert hs.data_to_send() == b""


@pytest.mark.parametrize(
    ("host", "remote_dns", "address", "tail"),
    [
        ("10.0.0.1", True, b"\x0a\x00\x00\x01", b""),  # an address goes as one, 4a or not
        ("10.0.0.1", False, b"\x0a\x00\x00\x01", b""),
        ("xn--bcher-kva.example", True, b"\x00\x00\x00\x01", b"xn--bcher-kva.example\x00"),
        ("a" * 255, True, b"\x00\x00\x00\x01", b"a" * 255 + b"\x00"),
    ],
)
def test_socks4_addresses(host: str, remote_dns: bool, address: bytes, tail: bytes) -> None:
    assert socks4_address(host, remote_dns) == (address, tail)
    hs = Socks4Handshake(host, 65535, "u", remote_dns=remote_dns)
    assert drive(hs, [SOCKS4_OK]) == b"\x04\x01\xff\xff" + address + b"u\x00" + tail


@pytest.mark.parametrize(
    ("host", "remote_dns", "error", "match"),
    [
        ("::1", True, ValueError, "IPv4 addresses only, not '::1': use a socks5://"),
        ("2001:db8::1", False, ValueError, "IPv4 addresses only"),
        ("example.com", False, ValueError, "needs an IPv4 address, not the host name"),
        ("a" * 256, True, ValueError, "at most 255 bytes, got 256"),
        ("bad host", True, ValueError, "invalid host name"),
        ("", True, ValueError, "invalid host name"),
        ("bücher.example", True, ValueError, "invalid host name"),
        ("nul\x00", True, ValueError, "invalid host name"),
        (b"example.com", True, TypeError, "host is a str"),
    ],
)
def test_socks4_refuses_what_it_cannot_carry(
    host: Any, remote_dns: bool, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Socks4Handshake(host, 80, remote_dns=remote_dns)


@pytest.mark.parametrize(
    ("user_id", "error", "match"),
    [
        ("a\x00b", ValueError, "cannot contain NUL"),
        ("u" * 256, ValueError, "at most 255 bytes, got 256"),
        (42, TypeError, "is str or bytes"),
    ],
)
def test_socks4_user_id_checks(user_id: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        socks4_user_id(user_id)
    with pytest.raises(error, match=match):
        Socks4Handshake("10.0.0.1", 80, user_id)


def test_socks4_user_id_at_the_limit() -> None:
    assert socks4_user_id("u" * 255) == b"u" * 255
    assert socks4_user_id("é") == b"\xc3\xa9"
    assert socks4_user_id(b"\xff") == b"\xff"


@pytest.mark.parametrize(
    ("port", "error"), [(-1, ValueError), (65536, ValueError), ("80", TypeError)]
)
def test_socks4_port_checks(port: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Socks4Handshake("10.0.0.1", port)


@pytest.mark.parametrize("code", [0x5B, 0x5C, 0x5D])
def test_socks4_reply_codes_are_proxy_errors(code: int) -> None:
    message = fails(Socks4Handshake("example.com", 443), [bytes([0, code]) + bytes(6)])
    assert message == (
        "the SOCKS4 proxy could not connect to example.com:443: "
        f"{SOCKS4_REPLY_CODES[code]} (reply code 0x{code:02x})"
    )


def test_socks4_unknown_code_fails_before_the_rest_arrives() -> None:
    hs = Socks4Handshake("10.0.0.1", 80)
    assert fails(hs, [b"\x00\x01"]).endswith("unassigned reply code (reply code 0x01)")


@pytest.mark.parametrize(
    "reply", [b"\x05\x00", b"HTTP/1.1 400 Bad Request\r\n\r\n", b"\x04\x5a" + bytes(6)]
)
def test_socks4_another_protocol_fails_at_the_first_byte(reply: bytes) -> None:
    message = fails(Socks4Handshake("10.0.0.1", 80), [reply[:1]])
    assert message == (
        f"malformed SOCKS4 reply: version byte 0x{reply[0]:02x}, expected 0x00 "
        "(is this a SOCKS4 proxy?)"
    )


@pytest.mark.parametrize("received", [b"", b"\x00", b"\x00\x5a\x00\x50\x7f\x00\x00"])
def test_socks4_eof_before_the_reply_ends(received: bytes) -> None:
    message = fails(Socks4Handshake("10.0.0.1", 80), [received] if received else [])
    assert message == (
        "the SOCKS4 proxy closed the connection while conch was waiting for the connect reply"
    )


def test_socks4_data_after_eof_is_a_bug() -> None:
    hs = Socks4Handshake("10.0.0.1", 80)
    hs.receive_data(b"")
    with pytest.raises(RuntimeError, match="after EOF"):
        hs.receive_data(b"x")


@settings(max_examples=300, deadline=None)
@given(
    reply=st.sampled_from([SOCKS4_OK, b"\x00\x5b" + bytes(6), b"\x00\x5a" + bytes(6)]),
    extra=st.binary(max_size=8),
    mutations=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=3
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=20), max_size=5),
    eof_at=st.none() | st.integers(min_value=0, max_value=20),
    name=st.booleans(),
)
def test_socks4_hostile_replies_end_in_done_or_proxy_error(
    reply: bytes,
    extra: bytes,
    mutations: list[tuple[int, int]],
    cuts: list[int],
    eof_at: int | None,
    name: bool,
) -> None:
    """Any bytes, cut anywhere, with EOF anywhere: DONE after a granted reply (and only
    then), or a `ProxyError` that sticks; never another exception, never a loop."""
    script = bytearray(reply + extra)
    for at, value in mutations:
        script[at % len(script)] = value
    if eof_at is not None:
        del script[eof_at:]
    points = sorted({min(c, len(script)) for c in cuts} | {0, len(script)})
    chunks = [bytes(script[a:b]) for a, b in itertools.pairwise(points) if b > a]
    hs = Socks4Handshake("example.com" if name else "10.0.0.1", 443, "u")
    incoming = iter(chunks)
    try:
        for _ in range(len(chunks) + 4):
            step = hs.next_step()
            if step is SEND:
                assert hs.data_to_send()
            elif step is RECEIVE:
                hs.receive_data(next(incoming, b""))
            else:
                break
        else:
            raise AssertionError("the handshake never ended")
    except ProxyError:
        assert script[:1] != b"\x00" or script[1:2] != b"\x5a" or len(script) < 8
        with pytest.raises(ProxyError):
            hs.next_step()
        return
    assert step is DONE
    assert script[:2] == b"\x00\x5a"
    assert hs.bound_address == (".".join(str(b) for b in script[4:8]), int.from_bytes(script[2:4]))
    # Only bytes that came with the reply's last chunk are kept; nothing is read after.
    assert script[8:].startswith(hs.trailing_data())
