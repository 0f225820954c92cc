"""`sansio.ws`: the opening handshake and the message machine, byte for byte, against
wsproto in the server role (an independent implementation checks both directions).

The conftest's random source gives 00 01 02 03 ... so every key and masking key is known.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

from sansio import ws
from sansio.exceptions import NetworkError, ProtocolError, RemoteProtocolError, TransportError
from sansio.models import Request as HTTPRequest
from sansio.models import Response
from sansio.urls import URL
from sansio.ws import (
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_QUEUE_SIZE,
    PING_PAYLOAD_SIZE,
    Accepted,
    ASGIWebSocket,
    DeflateParams,
    Handshake,
    HTTPXWSException,
    WebSocketConnection,
    WebSocketDisconnect,
    WebSocketError,
    WebSocketInvalidTypeReceived,
    WebSocketMessageTooLarge,
    WebSocketNetworkError,
    WebSocketProtocolError,
    WebSocketUpgradeError,
    accept_value,
    as_bytes,
    as_json,
    as_text,
    check_close,
    http_url,
    timeout_of,
)

KEY = "AAECAwQFBgcICQoLDA0ODw=="  # base64 of bytes 0..15, the conftest's random bytes
MASK = b"\x00\x01\x02\x03"


# -- helpers ----------------------------------------------------------------------------


def masked(first: int, payload: bytes, key: bytes = MASK) -> bytes:
    """A client frame: ``first`` is FIN/RSV/opcode; the payload masked with ``key``."""
    return length_header(first, len(payload), mask=True) + key + xor(payload, key)


def xor(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def length_header(first: int, length: int, mask: bool = False) -> bytes:
    bit = 0x80 if mask else 0
    if length < 126:
        return bytes([first, bit | length])
    if length < 65536:
        return bytes([first, bit | 126]) + struct.pack("!H", length)
    return bytes([first, bit | 127]) + struct.pack("!Q", length)


def frame(first: int, payload: bytes = b"") -> bytes:
    """A server frame (unmasked)."""
    return length_header(first, len(payload)) + payload


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def server(*extensions: Any) -> Connection:
    return Connection(ConnectionType.SERVER, extensions=list(extensions))


def deflate_server(
    offer: str = "permessage-deflate; client_max_window_bits",
) -> tuple[Connection, str]:
    """wsproto's server with permessage-deflate accepted for ``offer``; and its answer."""
    extension = PerMessageDeflate()
    answer = extension.accept(offer)
    assert isinstance(answer, str)
    return server(extension), answer


def sent_to(client: WebSocketConnection, peer: Connection) -> list[Event]:
    """What ``peer`` makes of what the client has to send."""
    peer.receive_data(client.data_to_send())
    return list(peer.events())


def feed(client: WebSocketConnection, data: bytes) -> None:
    if data:  # b"" would mean the end of the stream
        client.receive_data(data)


def messages(client: WebSocketConnection) -> list[Any]:
    found = []
    while (message := client.next_message()) is not None:
        found.append(message)
    return found


def upgrade_response(handshake: Handshake, *extra: tuple[str, str], status: int = 101) -> Response:
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_value(handshake.key)),
        *extra,
    ]
    return Response(status, headers=headers, request=HTTPRequest("GET", "http://a.test/ws"))


class Flag:
    """A pong waiter."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True


# -- the opening handshake --------------------------------------------------------------


def test_accept_value_is_rfc_6455_example() -> None:
    assert accept_value("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_request_headers_byte_for_byte() -> None:
    handshake = Handshake(subprotocols=["chat", "v2.json"], compression=True)
    headers = handshake.headers([("X-Trace", "1"), ("sec-websocket-key", "mine")])
    assert headers.raw == [
        (b"X-Trace", b"1"),
        (b"Sec-WebSocket-Key", KEY.encode()),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Version", b"13"),
        (b"Sec-WebSocket-Protocol", b"chat, v2.json"),
        (b"Sec-WebSocket-Extensions", b"permessage-deflate; client_max_window_bits"),
    ]


def test_plain_request_offers_nothing() -> None:
    headers = Handshake(key="k").headers()
    assert "sec-websocket-protocol" not in headers
    assert "sec-websocket-extensions" not in headers
    assert headers["sec-websocket-key"] == "k"


def test_key_comes_from_the_given_random_source() -> None:
    assert Handshake(random_bytes=lambda n: b"\xff" * n).key == "/////////////////////w=="


@pytest.mark.parametrize("bad", [["a b"], [""], ["x,y"], [b"chat"], ["chat", "chat"]])
def test_subprotocols_must_be_distinct_tokens(bad: list[Any]) -> None:
    with pytest.raises(ValueError, match=r"[Ss]ubprotocol"):
        Handshake(subprotocols=bad)


def test_accept_plain_answer() -> None:
    handshake = Handshake()
    assert handshake.accept(upgrade_response(handshake)) == Accepted()


def test_accept_subprotocol_and_deflate() -> None:
    handshake = Handshake(subprotocols=["a", "chat"], compression=True)
    response = upgrade_response(
        handshake,
        ("Sec-WebSocket-Protocol", " chat "),
        (
            "Sec-WebSocket-Extensions",
            ", permessage-deflate; server_no_context_takeover; "
            'client_no_context_takeover;client_max_window_bits="10"; server_max_window_bits=9',
        ),
    )
    assert handshake.accept(response) == Accepted(
        subprotocol="chat",
        deflate=DeflateParams(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            client_max_window_bits=10,
        ),
    )


def test_accept_tolerates_case_and_token_lists() -> None:
    handshake = Handshake(compression=True)
    response = Response(
        101,
        headers=[
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, UPGRADE"),
            ("sec-websocket-accept", accept_value(handshake.key)),
        ],
    )
    assert handshake.accept(response) == Accepted()  # compression offered, not taken


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": 200}, "refused the WebSocket: 200 OK"),
        ({"status": 403}, "refused the WebSocket: 403 Forbidden"),
        ({"upgrade": None}, "Upgrade header"),
        ({"upgrade": "h2c"}, "Upgrade header"),
        ({"upgrade": "websocket, h2c"}, "Upgrade header"),
        ({"connection": None}, "Connection header"),
        ({"connection": "keep-alive"}, "Connection header"),
        ({"accept": None}, "Sec-WebSocket-Accept"),
        ({"accept": accept_value("other")}, "Sec-WebSocket-Accept"),
        ({"protocol": "mqtt"}, "subprotocol 'mqtt'"),
        ({"protocol": "chat, a"}, "subprotocol 'chat, a'"),
        ({"protocol": ""}, "subprotocol ''"),
        ({"extensions": "x-webkit-deflate-frame"}, "extension 'x-webkit-deflate-frame'"),
        ({"extensions": "permessage-deflate, permessage-deflate"}, "twice"),
        ({"extensions": "permessage-deflate; mystery"}, "unknown permessage-deflate parameter"),
        (
            {
                "extensions": "permessage-deflate; server_no_context_takeover; "
                "server_no_context_takeover"
            },
            "given twice",
        ),
        ({"extensions": "permessage-deflate; client_no_context_takeover=1"}, "takes no value"),
        ({"extensions": "permessage-deflate; server_max_window_bits"}, "is invalid"),
        ({"extensions": "permessage-deflate; server_max_window_bits=7"}, "is invalid"),
        ({"extensions": "permessage-deflate; server_max_window_bits=16"}, "is invalid"),
        ({"extensions": "permessage-deflate; client_max_window_bits=010"}, "is invalid"),
        ({"extensions": "permessage-deflate; client_max_window_bits=ten"}, "is invalid"),
        ({"extensions": "permessage-deflate; client_max_window_bits=8"}, "not supported"),
    ],
)
def test_accept_refuses(change: dict[str, Any], problem: str) -> None:
    handshake = Handshake(subprotocols=["chat"], compression=True)
    values = {
        "upgrade": "websocket",
        "connection": "Upgrade",
        "accept": accept_value(handshake.key),
        "protocol": None,
        "extensions": None,
    }
    values.update(change)
    names = {
        "upgrade": "Upgrade",
        "connection": "Connection",
        "accept": "Sec-WebSocket-Accept",
        "protocol": "Sec-WebSocket-Protocol",
        "extensions": "Sec-WebSocket-Extensions",
    }
    headers = [(names[k], v) for k, v in values.items() if k in names and v is not None]
    request = HTTPRequest("GET", "http://a.test/ws")
    response = Response(change.get("status", 101), headers=headers, request=request)
    with pytest.raises(WebSocketUpgradeError, match=problem) as caught:
        handshake.accept(response)
    assert caught.value.response is response
    assert caught.value.request is request


def test_accept_over_http2_is_a_2xx_without_upgrade_or_accept() -> None:
    # RFC 8441 §5: no Sec-WebSocket-Key was sent, so no Sec-WebSocket-Accept comes back;
    # subprotocol and extensions are checked as over HTTP/1.1.
    handshake = Handshake(subprotocols=["chat"], compression=True)
    h2 = {"http_version": b"HTTP/2"}
    response = Response(200, headers=[("Sec-WebSocket-Protocol", "chat")], extensions=h2)
    assert handshake.accept(response) == Accepted(subprotocol="chat")
    with pytest.raises(WebSocketUpgradeError, match="subprotocol 'mqtt'"):
        handshake.accept(Response(200, headers=[("Sec-WebSocket-Protocol", "mqtt")], extensions=h2))


@pytest.mark.parametrize("status", [101, 403])
def test_accept_over_http2_refuses_anything_but_a_2xx(status: int) -> None:
    response = Response(status, extensions={"http_version": b"HTTP/2"})
    with pytest.raises(WebSocketUpgradeError, match="refused the WebSocket"):
        Handshake().accept(response)


def test_extension_not_offered_is_refused() -> None:
    handshake = Handshake()
    response = upgrade_response(handshake, ("Sec-WebSocket-Extensions", "permessage-deflate"))
    with pytest.raises(WebSocketUpgradeError, match="not offered"):
        handshake.accept(response)


def test_subprotocol_when_none_offered_is_refused() -> None:
    handshake = Handshake()
    response = upgrade_response(handshake, ("Sec-WebSocket-Protocol", "chat"))
    with pytest.raises(WebSocketUpgradeError, match="not offered"):
        handshake.accept(response)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("ws://a.test:81/p?q=1", "http://a.test:81/p?q=1"),
        ("wss://a.test/p", "https://a.test/p"),
        ("http://a.test/", "http://a.test/"),
        ("https://a.test/", "https://a.test/"),
    ],
)
def test_http_url(url: str, sent: str) -> None:
    assert http_url(url) == URL(sent)
    assert http_url(URL(url)) == URL(sent)


def test_timeout_of() -> None:
    request = HTTPRequest("GET", "http://a.test/", extensions={"timeout": {"write": 2.5}})
    assert timeout_of(request, "write") == 2.5
    assert timeout_of(request, "read") is None
    assert timeout_of(Response(101, request=request), "write") == 2.5
    assert timeout_of(Response(101), "write") is None
    assert timeout_of(None, "write") is None
    assert timeout_of(HTTPRequest("GET", "http://a.test/"), "read") is None


# -- errors ----------------------------------------------------------------------------


def test_error_tree() -> None:
    assert HTTPXWSException is WebSocketError
    assert issubclass(WebSocketError, TransportError)
    assert issubclass(WebSocketProtocolError, WebSocketDisconnect)
    assert issubclass(WebSocketProtocolError, RemoteProtocolError)
    assert issubclass(WebSocketMessageTooLarge, WebSocketProtocolError)
    assert issubclass(WebSocketNetworkError, NetworkError)
    error = WebSocketDisconnect(4000, "done")
    assert (error.code, error.reason, str(error)) == (
        4000,
        "done",
        "The WebSocket is closed (code 4000: done).",
    )
    assert WebSocketDisconnect().reason == ""
    assert str(WebSocketDisconnect()) == "The WebSocket is closed (code 1000)."
    assert str(WebSocketNetworkError()) == "The WebSocket connection failed."
    assert isinstance(WebSocketProtocolError(1002), ProtocolError)


def test_invalid_type_received() -> None:
    with pytest.raises(WebSocketInvalidTypeReceived, match="Expected a text message") as caught:
        as_text(BytesMessage(b"x"))
    assert caught.value.event == BytesMessage(b"x")
    with pytest.raises(WebSocketInvalidTypeReceived, match="Expected a binary message"):
        as_bytes(TextMessage("x"))
    with pytest.raises(WebSocketInvalidTypeReceived):
        as_json(TextMessage("1"), "binary")
    assert as_json(TextMessage('{"a": [1]}'), "text") == {"a": [1]}
    assert as_json(BytesMessage(b'"x"'), "binary") == "x"
    with pytest.raises(ValueError, match="mode"):
        as_json(TextMessage("1"), "bytes")
    assert "another message" in str(WebSocketInvalidTypeReceived(Ping(b"")))


# -- sending: the exact bytes ------------------------------------------------------------


def test_text_frame_byte_for_byte() -> None:
    client = WebSocketConnection()
    client.send_text("hello")
    assert client.data_to_send() == masked(0x81, b"hello")
    assert client.data_to_send() == b""


def test_frames_in_order_with_each_length_form() -> None:
    client = WebSocketConnection()
    client.send_bytes(b"\x00" * 125)
    client.send_bytes(bytearray(b"\x01" * 126))
    client.send_text("\u00e9" * 40000)  # 80000 bytes of UTF-8: the 8-byte length form
    client.ping(b"p")
    client.send(Pong(b"q"))
    assert client.data_to_send() == (
        masked(0x82, b"\x00" * 125)
        + masked(0x82, b"\x01" * 126)
        + masked(0x81, "\u00e9".encode() * 40000)
        + masked(0x89, b"p")
        + masked(0x8A, b"q")
    )


def test_every_mask_comes_from_the_random_source() -> None:
    keys = iter([b"\x10\x20\x30\x40", b"\xaa\xbb\xcc\xdd"])
    client = WebSocketConnection(random_bytes=lambda n: next(keys))
    client.send_text("ab")
    client.send_text("cd")
    assert client.data_to_send() == masked(0x81, b"ab", b"\x10\x20\x30\x40") + masked(
        0x81, b"cd", b"\xaa\xbb\xcc\xdd"
    )


def test_wsproto_server_reads_what_is_sent() -> None:
    client, peer = WebSocketConnection(), server()
    client.send_text("h\u00e9")
    client.send_bytes(b"\x00\xff")
    client.send_json({"a": 1})
    client.send_json([1], mode="binary")
    client.send(TextMessage("par", message_finished=False))
    client.send(TextMessage("t"))
    assert sent_to(client, peer) == [
        TextMessage("h\u00e9"),
        BytesMessage(b"\x00\xff"),
        TextMessage('{"a": 1}'),
        BytesMessage(b"[1]"),
        TextMessage("par", message_finished=False),
        TextMessage("t"),
    ]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.send_text(b"x"), TypeError),
        (lambda c: c.send_bytes("x"), TypeError),
        (lambda c: c.send(Request(host="h", target="/")), TypeError),
        (lambda c: c.send_json(1, mode="bytes"), ValueError),
        (lambda c: c.ping(b"x" * 126), ValueError),
        (lambda c: c.send(Ping(b"x" * 126)), ValueError),
    ],
)
def test_sending_refuses_misuse(call: Any, error: type[Exception]) -> None:
    client = WebSocketConnection()
    with pytest.raises(error):
        call(client)
    assert client.data_to_send() == b""


@pytest.mark.parametrize(
    "option",
    [
        {"max_message_size": -1},
        {"max_message_size": 1.5},
        {"queue_size": 0},
        {"queue_size": True},
        {"keepalive_interval": 0},
        {"keepalive_timeout": -1.0},
    ],
)
def test_options_are_checked(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(option)).split("_")[0]):
        WebSocketConnection(**option)


# -- receiving ----------------------------------------------------------------------------

# A fragmented text message (3 frames, a ping between two), a binary one, a pong for
# nobody, and a text message in one frame.
STREAM = (
    frame(0x01, b"fra")
    + frame(0x89, b"pp")
    + frame(0x00, "g\u00e9".encode()[:2])
    + frame(0x80, "g\u00e9".encode()[2:] + b"!")
    + frame(0x82, b"\x00\x01")
    + frame(0x8A, b"nobody")
    + frame(0x81, b"x" * 200)
)
STREAM_MESSAGES = [TextMessage("frag\u00e9!"), BytesMessage(b"\x00\x01"), TextMessage("x" * 200)]


def test_fragments_join_and_pings_are_answered() -> None:
    client = WebSocketConnection()
    client.receive_data(STREAM)
    assert messages(client) == STREAM_MESSAGES
    assert client.data_to_send() == masked(0x8A, b"pp")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_any_chunking_gives_the_same_messages(size: int) -> None:
    client = WebSocketConnection()
    got = []
    for i in range(0, len(STREAM), size):
        client.receive_data(STREAM[i : i + size])
        got += messages(client)
    assert got == STREAM_MESSAGES
    assert client.data_to_send() == masked(0x8A, b"pp")


def test_every_split_point_gives_the_same_messages() -> None:
    for cut in range(len(STREAM) + 1):
        client = WebSocketConnection()
        feed(client, STREAM[:cut])
        got = messages(client)
        feed(client, STREAM[cut:])
        assert got + messages(client) == STREAM_MESSAGES, cut


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.booleans(), st.lists(st.binary(max_size=40), min_size=1, max_size=4)),
        max_size=6,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=20),
    compress=st.booleans(),
)
def test_messages_survive_fragmentation_splits_and_compression(
    parts: list[tuple[bool, list[bytes]]], cuts: list[int], compress: bool
) -> None:
    if compress:
        peer, _ = deflate_server()
        client = WebSocketConnection(Accepted(deflate=DeflateParams()))
    else:
        peer, client = server(), WebSocketConnection()
    wire, expected = b"", []
    for is_text, fragments in parts:
        if is_text:
            texts = [fragment.hex() for fragment in fragments]
            for i, text in enumerate(texts):
                wire += peer.send(TextMessage(text, message_finished=i == len(texts) - 1))
            expected.append(TextMessage("".join(texts)))
        else:
            for i, data in enumerate(fragments):
                wire += peer.send(BytesMessage(data, message_finished=i == len(fragments) - 1))
            expected.append(BytesMessage(b"".join(fragments)))
        wire += peer.send(Ping(b"k"))
    got, start = [], 0
    for cut in cuts:
        feed(client, wire[start : start + cut])
        start += cut
        got += messages(client)
    feed(client, wire[start:])
    got += messages(client)
    assert got == expected
    assert sent_to(client, peer) == [Pong(b"k")] * len(parts)


# -- ping and pong ------------------------------------------------------------------------


def test_pong_wakes_its_ping_and_every_earlier_one() -> None:
    client, peer = WebSocketConnection(), server()
    first, second, third = Flag(), Flag(), Flag()
    client.ping(b"1", first)
    client.ping(b"2", second)
    client.ping(b"3", third)
    assert sent_to(client, peer) == [Ping(b"1"), Ping(b"2"), Ping(b"3")]
    client.receive_data(peer.send(Pong(b"zz")))  # unsolicited: ignored
    assert client.take_pongs() == []
    client.receive_data(peer.send(Pong(b"2")))
    assert client.take_pongs() == [first, second]
    assert client.take_pongs() == []
    client.receive_data(peer.send(Pong(b"3")))
    assert client.take_pongs() == [third]


def test_ping_without_payload_gets_random_bytes() -> None:
    client, peer = WebSocketConnection(), server()
    waiter = Flag()
    payload = client.ping(waiter=waiter)
    assert payload == bytes(range(PING_PAYLOAD_SIZE))
    assert sent_to(client, peer) == [Ping(payload)]
    client.receive_data(peer.send(Pong(payload)))
    assert client.take_pongs() == [waiter]


def test_send_ping_event_is_not_tracked() -> None:
    client, peer = WebSocketConnection(), server()
    client.send(Ping(b"x"))
    assert sent_to(client, peer) == [Ping(b"x")]
    client.receive_data(peer.send(Pong(b"x")))
    assert client.take_pongs() == []


# -- closing -----------------------------------------------------------------------------


def test_server_close_is_answered_and_ends_the_session_after_its_messages() -> None:
    client = WebSocketConnection()
    client.receive_data(frame(0x81, b"last") + frame(0x88, close_payload(4001, b"bye")) + b"xx")
    assert client.closed
    assert client.data_to_send() == masked(0x88, close_payload(4001))
    assert client.next_message() == TextMessage("last")
    for _ in range(2):  # the same error again, a fresh one each time
        with pytest.raises(WebSocketDisconnect) as caught:
            client.next_message()
        assert (caught.value.code, caught.value.reason) == (4001, "bye")
        assert type(caught.value) is WebSocketDisconnect
    with pytest.raises(WebSocketDisconnect):
        client.send_text("late")
    client.receive_data(frame(0x81, b"ignored"))
    client.close()  # a no-op now
    assert client.data_to_send() == b""


def test_server_close_without_code() -> None:
    client = WebSocketConnection()
    client.receive_data(frame(0x88))
    assert client.data_to_send() == masked(0x88, b"")
    with pytest.raises(WebSocketDisconnect) as caught:
        client.next_message()
    assert caught.value.code == 1005


def test_our_close_waits_for_the_server_and_drops_what_comes_meanwhile() -> None:
    client, peer = WebSocketConnection(), server()
    client.receive_data(frame(0x81, b"queued"))
    client.close(4000, "done")
    assert client.closing
    assert not client.closed
    assert sent_to(client, peer) == [CloseConnection(4000, "done")]
    with pytest.raises(WebSocketDisconnect, match="4000: done"):
        client.next_message()  # the queued message went with the close
    with pytest.raises(WebSocketDisconnect):
        client.ping()
    client.receive_data(frame(0x81, b"late") + frame(0x89, b"p"))
    assert client.data_to_send() == b""  # no pong once closing
    client.receive_data(peer.send(CloseConnection(4000)))
    assert client.closed
    assert not client.closing
    with pytest.raises(WebSocketDisconnect, match="4000: done"):
        client.next_message()


def test_send_close_event_is_close() -> None:
    client, peer = WebSocketConnection(), server()
    client.send(CloseConnection(1001))
    assert sent_to(client, peer) == [CloseConnection(1001, "")]
    assert client.closing


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (999, None),
        (1004, None),
        (1005, None),
        (1006, None),
        (1015, None),
        (2000, None),
        (5000, None),
        (True, None),
        ("1000", None),
        (1000, "x" * 124),
        (1000, "\u00e9" * 62),
    ],
)
def test_close_codes_and_reasons_are_checked(code: Any, reason: str | None) -> None:
    client = WebSocketConnection()
    with pytest.raises(ValueError, match="close"):
        client.close(code, reason)
    assert not client.closing


@pytest.mark.parametrize("code", [1000, 1003, 1007, 1014, 3000, 4999])
def test_close_codes_an_endpoint_may_send(code: int) -> None:
    check_close(code, "x" * 123)


def test_end_of_stream_without_close_frame() -> None:
    client = WebSocketConnection()
    client.receive_data(frame(0x81, b"kept") + frame(0x01, b"half"))
    client.receive_data(b"")
    assert client.closed
    assert client.next_message() == TextMessage("kept")
    with pytest.raises(WebSocketNetworkError, match="without a Close frame"):
        client.next_message()


def test_end_of_stream_after_our_close_keeps_the_close() -> None:
    client = WebSocketConnection()
    client.close()
    client.receive_data(b"")
    assert client.closed
    with pytest.raises(WebSocketDisconnect) as caught:
        client.next_message()
    assert type(caught.value) is WebSocketDisconnect


def test_network_failure_ends_the_session() -> None:
    client = WebSocketConnection()
    error = client.network_failed(OSError("reset"))
    assert isinstance(error, WebSocketNetworkError)
    assert "reset" in str(error)
    assert client.closed
    with pytest.raises(WebSocketNetworkError):
        client.send_text("x")
    client.close()
    assert client.data_to_send() == b""


def test_network_failure_after_the_end_reports_the_end() -> None:
    client = WebSocketConnection()
    client.receive_data(frame(0x88, close_payload(1001)))
    assert type(client.network_failed(OSError())) is WebSocketDisconnect


# -- protocol errors: the connection fails with the right code ------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(0x83, b"x"), 1002),  # a reserved opcode
        (bytes([0x81, 0x81]) + MASK + b"x", 1002),  # a masked server frame
        (frame(0x80, b"x"), 1002),  # a continuation with nothing to continue
        (frame(0x01, b"a") + frame(0x81, b"b"), 1002),  # a new message inside one
        (frame(0xC1, b"x"), 1002),  # RSV1 without permessage-deflate
        (frame(0x09, b"x"), 1002),  # a fragmented control frame
        (bytes([0x89, 126]) + struct.pack("!H", 126) + b"x" * 126, 1002),  # a long ping
        (frame(0x88, b"\x03"), 1002),  # a one-byte close payload
        (frame(0x88, close_payload(999)), 1002),  # an invalid close code
        (frame(0x88, close_payload(1006)), 1002),  # a code only for local use
        (frame(0x81, b"\xc3\x28"), 1007),  # invalid UTF-8
        (frame(0x88, close_payload(1000, b"\xff")), 1007),  # an invalid close reason
        (bytes([0x82, 126, 0, 5]) + b"12345", 1002),  # a length not in its shortest form
    ],
)
def test_protocol_errors_fail_the_connection(data: bytes, code: int) -> None:
    client, peer = WebSocketConnection(), server()
    client.receive_data(data)
    assert client.closed
    [close] = sent_to(client, peer)
    assert isinstance(close, CloseConnection)
    assert close.code == code
    with pytest.raises(WebSocketProtocolError) as caught:
        client.next_message()
    assert caught.value.code == code
    assert caught.value.reason == close.reason
    assert "broke the WebSocket protocol" in str(caught.value)
    client.receive_data(frame(0x81, b"more"))  # ignored: the connection is done
    assert client.data_to_send() == b""


def test_protocol_error_while_closing_sends_nothing_more() -> None:
    client = WebSocketConnection()
    client.close()
    client.data_to_send()
    client.receive_data(frame(0x83))
    assert client.closed
    assert client.data_to_send() == b""
    with pytest.raises(WebSocketDisconnect):
        client.next_message()


# -- the size bound ----------------------------------------------------------------------


@pytest.mark.parametrize("fragments", [1, 3])
def test_message_at_the_limit_is_taken(fragments: int) -> None:
    client = WebSocketConnection(max_message_size=30)
    data = b"x" * 30
    size = 30 // fragments
    wire = b"".join(
        frame(
            (0x80 if i == fragments - 1 else 0) | (0x02 if i == 0 else 0),
            data[i * size : (i + 1) * size],
        )
        for i in range(fragments)
    )
    client.receive_data(wire + wire)  # the count starts again for the next message
    assert messages(client) == [BytesMessage(data), BytesMessage(data)]


@pytest.mark.parametrize("fragments", [1, 3])
def test_message_past_the_limit_fails_the_connection(fragments: int) -> None:
    client, peer = WebSocketConnection(max_message_size=30), server()
    data = b"x" * 31
    size = 11
    wire = b"".join(
        frame(
            (0x80 if i == fragments - 1 else 0) | (0x01 if i == 0 else 0),
            data[i * size : (i + 1) * size] if fragments > 1 else data,
        )
        for i in range(fragments)
    )
    client.receive_data(wire)
    [close] = sent_to(client, peer)
    assert close == CloseConnection(1009, "a message passed max_message_size (30 bytes)")
    with pytest.raises(WebSocketMessageTooLarge) as caught:
        client.next_message()
    assert caught.value.code == 1009
    assert "larger than the limit" in str(caught.value)


def test_oversized_frame_is_refused_by_its_header() -> None:
    client = WebSocketConnection(max_message_size=1000)
    client.receive_data(bytes([0x82, 127]) + struct.pack("!Q", 2**40))  # no payload yet
    with pytest.raises(WebSocketMessageTooLarge):
        client.next_message()


def test_control_frames_do_not_count_towards_the_limit() -> None:
    client = WebSocketConnection(max_message_size=4)
    client.receive_data(frame(0x01, b"ab") + frame(0x89, b"p" * 100) + frame(0x80, b"cd"))
    assert messages(client) == [TextMessage("abcd")]


def test_default_limit() -> None:
    assert DEFAULT_MAX_MESSAGE_SIZE == 1024 * 1024
    client = WebSocketConnection()
    client.receive_data(length_header(0x82, DEFAULT_MAX_MESSAGE_SIZE + 1))
    with pytest.raises(WebSocketMessageTooLarge):
        client.next_message()


# -- permessage-deflate --------------------------------------------------------------------


def compressed_client(**params: Any) -> WebSocketConnection:
    return WebSocketConnection(Accepted(deflate=DeflateParams(**params)), max_message_size=100)


def deflate_raw(data: bytes, final: bool = False) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    if final:
        return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def test_compressed_messages_both_ways() -> None:
    peer, answer = deflate_server()
    assert answer == "client_max_window_bits=15"
    client = compressed_client()
    client.send_text("a" * 1000)
    client.send_bytes(b"")
    wire = client.data_to_send()
    assert len(wire) < 50
    assert wire[0] == 0xC1  # FIN, RSV1, text
    peer.receive_data(wire)
    assert list(peer.events()) == [TextMessage("a" * 1000), BytesMessage(b"")]
    client.receive_data(peer.send(TextMessage("b" * 100)) + peer.send(BytesMessage(b"c" * 50)))
    assert messages(client) == [TextMessage("b" * 100), BytesMessage(b"c" * 50)]


def test_empty_compressed_message_is_one_zero_byte() -> None:
    client = compressed_client()
    client.send_bytes(b"")
    assert client.data_to_send() == masked(0xC2, b"\x00")


def test_context_takeover_and_its_absence() -> None:
    taking = compressed_client()
    taking.send_text("same words " * 5)
    taking.send_text("same words " * 5)
    first, second = (len(taking.data_to_send()),) * 2
    fresh = compressed_client(client_no_context_takeover=True)
    fresh.send_text("same words " * 5)
    one = fresh.data_to_send()
    fresh.send_text("same words " * 5)
    assert fresh.data_to_send() == one  # the compressor started afresh
    peer, _ = deflate_server("permessage-deflate; client_no_context_takeover")
    fresh.send_text("ok")
    assert sent_to(fresh, peer) == [TextMessage("ok")]
    taking.send_text("same words " * 5)
    assert len(taking.data_to_send()) < first == second


def test_compressed_message_sent_in_fragments() -> None:
    peer, _ = deflate_server()
    client = compressed_client()
    client.send(BytesMessage(b"ab" * 50, message_finished=False))
    client.send(BytesMessage(b"cd" * 50))
    wire = client.data_to_send()
    assert wire[0] == 0x42  # RSV1 on the first frame only
    peer.receive_data(wire)
    assert b"".join(event.data for event in peer.events()) == b"ab" * 50 + b"cd" * 50


def test_extensions_offer_what_the_handshake_sends() -> None:
    inbound = ws._Inbound(10)
    deflate = ws._Deflate(DeflateParams(), inbound)
    offer = Handshake(compression=True).headers()["sec-websocket-extensions"]
    assert offer == f"{deflate.name}; {deflate.offer()}"
    assert ws._SizeLimit(inbound).offer() is False  # never offered: it uses no reserved bit


def test_server_without_context_takeover() -> None:
    peer, _ = deflate_server("permessage-deflate; server_no_context_takeover")
    client = compressed_client(server_no_context_takeover=True)
    for _ in range(3):
        client.receive_data(peer.send(TextMessage("x" * 60)))
    assert messages(client) == [TextMessage("x" * 60)] * 3


def test_small_client_window() -> None:
    peer, _ = deflate_server("permessage-deflate; client_max_window_bits=9")
    client = compressed_client(client_max_window_bits=9)
    client.send_text("abc" * 300)
    assert sent_to(client, peer) == [TextMessage("abc" * 300)]


def test_fragmented_compressed_message_with_a_ping_inside() -> None:
    data = deflate_raw(b"hello " * 10)
    client = compressed_client()
    client.receive_data(
        frame(0x41, data[:3]) + frame(0x89, b"p") + frame(0x00, data[3:7]) + frame(0x80, data[7:])
    )
    assert messages(client) == [TextMessage("hello " * 10)]
    assert client.data_to_send() == masked(0x8A, b"p")


def test_compressed_message_at_the_limit_and_past_it() -> None:
    client = compressed_client()
    client.receive_data(frame(0xC2, deflate_raw(b"z" * 100)))
    assert messages(client) == [BytesMessage(b"z" * 100)]
    client.receive_data(frame(0xC2, deflate_raw(b"z" * 101)))
    with pytest.raises(WebSocketMessageTooLarge):
        client.next_message()


def test_compression_bomb_is_stopped_at_the_limit() -> None:
    bomb = deflate_raw(b"\x00" * (64 * 1024 * 1024))  # 64 MiB in about 64 KiB
    assert len(bomb) < 100_000
    client = WebSocketConnection(Accepted(deflate=DeflateParams()))  # the default limit
    tracemalloc.start()
    try:
        client.receive_data(frame(0xC2, bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * DEFAULT_MAX_MESSAGE_SIZE
    with pytest.raises(WebSocketMessageTooLarge):
        client.next_message()


def test_bomb_split_over_frames_is_stopped_too() -> None:
    bomb = deflate_raw(b"\x00" * 10_000)
    client = compressed_client()
    client.receive_data(frame(0x42, bomb[:10]) + frame(0x80, bomb[10:]))
    with pytest.raises(WebSocketMessageTooLarge):
        client.next_message()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(0xC9, b"x"), 1002),  # RSV1 on a control frame
        (frame(0x41, deflate_raw(b"ab")) + frame(0xC0, b""), 1002),  # RSV1 on a continuation
        (frame(0xC1, b"\xff\xff\xff"), 1007),  # not deflate data
        (frame(0xC1, deflate_raw(b"ab", final=True) + b"junk"), 1007),  # bytes after the end
    ],
)
def test_compression_errors_fail_the_connection(data: bytes, code: int) -> None:
    client, peer = compressed_client(), server()
    client.receive_data(data)
    [close] = sent_to(client, peer)
    assert isinstance(close, CloseConnection)
    assert close.code == code
    with pytest.raises(WebSocketProtocolError):
        client.next_message()


def test_deflate_stream_ended_by_the_server_starts_afresh() -> None:
    client = compressed_client()
    client.receive_data(frame(0xC1, deflate_raw(b"one", final=True)))
    client.receive_data(frame(0xC1, deflate_raw(b"two", final=True)))
    client.receive_data(frame(0x81, b"three"))
    assert messages(client) == [TextMessage("one"), TextMessage("two"), TextMessage("three")]


# -- the queue ---------------------------------------------------------------------------


def test_queue_holds_at_most_queue_size_messages() -> None:
    client = WebSocketConnection(queue_size=2)
    client.receive_data(
        frame(0x81, b"1") + frame(0x81, b"2") + frame(0x89, b"p") + frame(0x81, b"3")
    )
    assert not client.wants_data
    assert client.data_to_send() == b""  # the ping waits behind the full queue
    assert client.next_message() == TextMessage("1")
    assert client.wants_data
    assert client.next_message() == TextMessage("2")
    assert client.data_to_send() == b""
    assert client.next_message() == TextMessage("3")
    assert client.data_to_send() == masked(0x8A, b"p")
    assert client.next_message() is None
    assert DEFAULT_QUEUE_SIZE == 512


def test_wants_no_data_once_closed() -> None:
    client = WebSocketConnection()
    assert client.wants_data
    client.receive_data(b"")
    assert not client.wants_data


# -- keepalive ----------------------------------------------------------------------------


def test_keepalive_ping_pong_and_schedule() -> None:
    client, peer = WebSocketConnection(keepalive_interval=20, keepalive_timeout=5), server()
    assert client.next_wait(100.0, None) == (20.0, True)
    assert client.next_wait(110.0, 115.0) == (5.0, False)  # the caller's deadline is sooner
    assert client.next_wait(110.0, 140.0) == (10.0, True)
    assert client.next_wait(125.0, None) == (0.0, True)  # overdue
    client.timer_expired(125.0)
    [ping] = sent_to(client, peer)
    assert ping == Ping(bytes(range(8)))
    assert client.next_wait(126.0, None) == (4.0, True)  # now the pong's deadline
    client.receive_data(peer.send(Pong(bytes(range(8)))))
    assert client.take_pongs() == []
    assert client.next_wait(127.0, None) == (20.0, True)  # the next ping, from now


def test_keepalive_without_pong_fails_the_connection() -> None:
    client, peer = WebSocketConnection(keepalive_interval=1, keepalive_timeout=2), server()
    client.next_wait(0.0, None)
    client.timer_expired(1.0)
    client.timer_expired(3.0)
    assert client.closed
    assert sent_to(client, peer)[1] == CloseConnection(1011, "keepalive ping timeout")
    with pytest.raises(WebSocketNetworkError, match="keepalive ping within 2 seconds"):
        client.next_message()
    assert client.next_wait(3.0, None) == (None, False)
    client.timer_expired(4.0)  # nothing left to do
    assert client.data_to_send() == b""


def test_keepalive_without_timeout_waits_for_the_pong_forever() -> None:
    client = WebSocketConnection(keepalive_interval=1, keepalive_timeout=None)
    client.next_wait(0.0, None)
    client.timer_expired(1.0)
    assert client.next_wait(1.0, None) == (None, False)
    assert client.next_wait(1.0, 9.0) == (8.0, False)


def test_keepalive_off_or_closing_sets_no_timer() -> None:
    off = WebSocketConnection(keepalive_interval=None)
    assert off.next_wait(0.0, None) == (None, False)
    assert off.next_wait(5.0, 4.0) == (0.0, False)
    closing = WebSocketConnection()
    closing.close()
    assert closing.next_wait(0.0, None) == (None, False)


# -- the server's half for ASGI apps ---------------------------------------------------


def asgi_request(**headers: str) -> HTTPRequest:
    base = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    base.update(headers)
    return HTTPRequest("GET", "http://a.test/ws", headers={k: v for k, v in base.items() if v})


def open_bridge(**accept: Any) -> tuple[ASGIWebSocket, WebSocketConnection]:
    bridge = ASGIWebSocket(asgi_request())
    assert bridge.next_app_message() == {"type": "websocket.connect"}
    bridge.app_sent({"type": "websocket.accept", **accept})
    return bridge, WebSocketConnection()


def test_bridge_scope_and_accept() -> None:
    bridge = ASGIWebSocket(asgi_request(**{"Sec-WebSocket-Protocol": "a, b"}))
    http_scope = {"type": "http", "method": "GET", "scheme": "https", "path": "/ws"}
    assert bridge.scope(http_scope) == {
        "type": "websocket",
        "scheme": "wss",
        "path": "/ws",
        "subprotocols": ["a", "b"],
        "extensions": {"websocket.http.response": {}},
    }
    assert bridge.next_app_message() == {"type": "websocket.connect"}
    assert bridge.next_app_message() is None
    assert not bridge.answered
    bridge.app_sent({"type": "websocket.accept", "subprotocol": "b", "headers": [(b"x", b"1")]})
    assert (bridge.status, bridge.answered) == (101, True)
    assert bridge.headers == [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", accept_value(KEY).encode()),
        (b"sec-websocket-protocol", b"b"),
        (b"x", b"1"),
    ]
    handshake = Handshake(subprotocols=["a", "b"], key=KEY)
    response = Response(101, headers=bridge.headers)
    assert handshake.accept(response) == Accepted(subprotocol="b")


@pytest.mark.parametrize("headers", [{"Sec-WebSocket-Key": ""}, {"Sec-WebSocket-Version": "8"}])
def test_bridge_refuses_a_bad_handshake(headers: dict[str, str]) -> None:
    bridge = ASGIWebSocket(asgi_request(**headers))
    assert (bridge.status, bridge.answered) == (400, True)


def test_bridge_close_before_accept_is_403() -> None:
    bridge = ASGIWebSocket(asgi_request())
    bridge.app_sent({"type": "websocket.close", "code": 1000})
    assert (bridge.status, bridge.answered, bridge.finished) == (403, True, False)


def test_bridge_denial_response() -> None:
    bridge = ASGIWebSocket(asgi_request())
    bridge.app_sent(
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", b"Basic")],
        }
    )
    assert not bridge.answered
    bridge.app_sent({"type": "websocket.http.response.body", "body": b"no", "more_body": True})
    bridge.app_sent({"type": "websocket.http.response.body", "body": bytearray(b"pe")})
    assert (bridge.status, bridge.answered, bridge.body) == (401, True, [b"no", b"pe"])
    assert bridge.headers == [(b"www-authenticate", b"Basic")]
    with pytest.raises(RuntimeError, match="after refusing"):
        bridge.app_sent({"type": "websocket.http.response.body", "body": b"more"})


@pytest.mark.parametrize(
    "message",
    [{"type": "websocket.send", "text": "x"}, {"type": "http.response.start", "status": 200}],
)
def test_bridge_refuses_messages_before_the_answer(message: dict[str, Any]) -> None:
    bridge = ASGIWebSocket(asgi_request())
    with pytest.raises(RuntimeError, match="before accepting"):
        bridge.app_sent(message)


def test_bridge_carries_messages_both_ways() -> None:
    bridge, client = open_bridge()
    bridge.app_sent({"type": "websocket.send", "text": "hi"})
    bridge.app_sent({"type": "websocket.send", "bytes": bytearray(b"\x00")})
    assert bridge.has_data
    client.receive_data(bridge.data_to_send())
    assert not bridge.has_data
    assert messages(client) == [TextMessage("hi"), BytesMessage(b"\x00")]
    client.send(TextMessage("a", message_finished=False))
    client.send(TextMessage("b"))
    client.send_bytes(b"c")
    client.ping(b"p", Flag())
    client.send(Pong(b"unasked"))
    bridge.receive_data(client.data_to_send())
    bridge.receive_data(b"")
    assert bridge.next_app_message() == {"type": "websocket.receive", "text": "ab"}
    assert bridge.next_app_message() == {"type": "websocket.receive", "bytes": b"c"}
    assert bridge.next_app_message() is None
    client.receive_data(bridge.data_to_send())
    assert len(client.take_pongs()) == 1


@pytest.mark.parametrize(
    "message",
    [
        {"type": "websocket.send"},
        {"type": "websocket.send", "text": "x", "bytes": b"x"},
        {"type": "websocket.accept"},
    ],
)
def test_bridge_refuses_bad_messages_after_accepting(message: dict[str, Any]) -> None:
    bridge, _ = open_bridge()
    with pytest.raises(RuntimeError):
        bridge.app_sent(message)


def test_bridge_client_closes() -> None:
    bridge, client = open_bridge()
    client.close(4002, "bye")
    bridge.receive_data(client.data_to_send())
    disconnect = {"type": "websocket.disconnect", "code": 4002, "reason": "bye"}
    assert bridge.next_app_message() == disconnect
    assert bridge.next_app_message() == disconnect  # it repeats
    assert bridge.finished
    client.receive_data(bridge.data_to_send())
    assert client.closed
    bridge.receive_data(b"\x81\x80" + MASK)  # ignored
    bridge.client_gone()
    assert bridge.next_app_message() == disconnect
    with pytest.raises(OSError, match="disconnected"):
        bridge.app_sent({"type": "websocket.send", "text": "late"})


def test_bridge_app_closes() -> None:
    bridge, client = open_bridge()
    bridge.app_sent({"type": "websocket.close", "code": 4003, "reason": "done"})
    with pytest.raises(RuntimeError, match="after closing"):
        bridge.app_sent({"type": "websocket.send", "text": "late"})
    assert not bridge.finished
    client.receive_data(bridge.data_to_send())
    with pytest.raises(WebSocketDisconnect, match="4003: done"):
        client.next_message()
    bridge.receive_data(client.data_to_send())  # the client's answering Close
    assert bridge.finished
    assert bridge.next_app_message() == {"type": "websocket.disconnect", "code": 4003, "reason": ""}


def test_bridge_answers_no_ping_once_the_app_closed() -> None:
    bridge, client = open_bridge()
    bridge.app_sent({"type": "websocket.close"})
    bridge.data_to_send()
    client.ping(b"p")
    client.send_text("dropped")
    bridge.receive_data(client.data_to_send())
    assert not bridge.has_data
    assert bridge.next_app_message() is None


def test_bridge_client_breaks_the_protocol() -> None:
    bridge, client = open_bridge()
    bridge.receive_data(frame(0x81, b"unmasked"))
    assert bridge.next_app_message() == {
        "type": "websocket.disconnect",
        "code": 1002,
        "reason": "server received unexpected unmasked frame",
    }
    client.receive_data(bridge.data_to_send())
    with pytest.raises(WebSocketDisconnect) as caught:
        client.next_message()
    assert caught.value.code == 1002


def test_bridge_client_gone_and_app_finished() -> None:
    bridge, client = open_bridge()
    bridge.client_gone()
    assert bridge.next_app_message() == {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    bridge.app_finished(failed=False)
    assert bridge.finished
    client.receive_data(bridge.data_to_send())
    with pytest.raises(WebSocketDisconnect) as caught:
        client.next_message()
    assert caught.value.code == 1000


def test_bridge_failed_app_closes_with_1011() -> None:
    bridge, client = open_bridge()
    bridge.app_finished(failed=True)
    client.receive_data(bridge.data_to_send())
    with pytest.raises(WebSocketDisconnect) as caught:
        client.next_message()
    assert caught.value.code == 1011


def test_bridge_app_finished_before_answering_sends_nothing() -> None:
    bridge = ASGIWebSocket(asgi_request())
    bridge.app_finished(failed=True)
    assert bridge.finished
    assert not bridge.has_data
