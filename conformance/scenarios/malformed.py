"""Malformed and adversarial responses: each is refused with a clean error (never parsed
leniently), and the connection that carried it is never reused."""

from __future__ import annotations

from conformance.model import Call, Close, Expect, Pause, Peer, Recv, Result, Scenario, Send, Step
from sansio.h1 import MAX_INFORMATIONAL_RESPONSES

from ._kit import SPLITS, chunked, response, serve, split_names

OK = response(200, b"ok")
RPE = Result(status=None, error="RemoteProtocolError")


def _bad(
    name: str,
    data: bytes,
    *,
    splits: list[str] | None = None,
    result: Result = RPE,
    doc: str = "",
) -> list[Scenario]:
    """`data` answers the first request and the peer closes; the second request must
    go out on a new connection and succeed. With a `result` that is not an error the
    response is acceptable (a limit exactly reached) and the connection is reused."""
    out = []
    good = result.error is None
    for split in splits or ["whole", "bytewise"]:
        if split not in split_names(data, [split]):
            continue
        first: tuple[Step, ...] = (Recv(), Send(data, SPLITS[split](data)))
        scripts = ((*first, *serve(OK)),) if good else ((*first, Close()), serve(OK))
        out.append(
            Scenario(
                name=f"malformed/{name}/{split}",
                doc=doc,
                calls=(Call(), Call(path="/next")),
                peers=(Peer(connections=scripts),),
                expect=Expect(
                    results=(result, Result(body=b"ok")), connections=(1 if good else 2,)
                ),
            )
        )
    return out


def _big_head(size: int, *, fields: int = 1) -> bytes:
    """A response head of exactly `size` bytes (status line to blank line)."""
    base = response(200, b"", [("X-Fill", "")] * fields + [("Content-Length", "0")])
    pad = size - len(base)
    assert pad >= 0
    return base.replace(b"X-Fill: \r\n", b"X-Fill: " + b"a" * pad + b"\r\n", 1)


MAX_HEAD = 64 * 1024  # sansio.h1.MAX_HEADER_BYTES
MAX_FIELDS = 100  # sansio.h1.MAX_HEADER_COUNT


def _fields(count: int) -> bytes:
    return response(200, b"ok", [(f"X-F{i}", "v") for i in range(count - 1)])


SCENARIOS: list[Scenario] = [
    *_bad(
        "content-length-and-chunked",
        response(
            200, chunked(b"hello"), [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
        ),
        doc="Both framings: the classic request-smuggling shape (RFC 9112 §6.3), refused.",
    ),
    *_bad(
        "conflicting-content-length",
        response(200, b"hello", [("Content-Length", "5"), ("Content-Length", "6")]),
    ),
    *_bad(
        "content-length-list-conflict",
        response(200, b"hello", [("Content-Length", "5, 6")]),
    ),
    *_bad("content-length-negative", response(200, b"hello", [("Content-Length", "-5")])),
    *_bad("content-length-not-a-number", response(200, b"hello", [("Content-Length", "5x")])),
    *_bad("content-length-plus-sign", response(200, b"hello", [("Content-Length", "+5")])),
    *_bad(
        "transfer-encoding-not-chunked",
        response(200, b"hello", [("Transfer-Encoding", "gzip")], length=False),
    ),
    *_bad(
        "transfer-encoding-chunked-not-last",
        response(200, chunked(b"hello"), [("Transfer-Encoding", "chunked, gzip")]),
    ),
    *_bad(
        "http10-chunked",
        response(200, chunked(b"hello"), [("Transfer-Encoding", "chunked")], version="HTTP/1.0"),
        doc="HTTP/1.0 has no chunked coding: faulty framing (RFC 9112 §6.1).",
    ),
    *_bad(
        "chunk-size-not-hex",
        response(200, b"zz\r\nhello\r\n0\r\n\r\n", [("Transfer-Encoding", "chunked")]),
    ),
    *_bad(
        "chunk-size-negative",
        response(200, b"-5\r\nhello\r\n0\r\n\r\n", [("Transfer-Encoding", "chunked")]),
    ),
    *_bad(
        "chunk-size-too-short",
        response(200, b"3\r\nhello\r\n0\r\n\r\n", [("Transfer-Encoding", "chunked")]),
        doc="The chunk is longer than its size line says: no CRLF where it must be.",
    ),
    *_bad(
        "chunk-missing-crlf",
        response(200, b"5\r\nhello0\r\n\r\n", [("Transfer-Encoding", "chunked")]),
    ),
    *(
        scenario
        for name, line, doc in [
            ("cr", b"5;a\rb", "A CR inside an extension (h11 let it through)."),
            ("nul", b"5;a\x00", "A NUL inside an extension (h11 let it through)."),
            ("control", b"5;a=\x01", "A control character where a value belongs."),
            ("control-quoted", b'5;a="\x0b"', "A control character in a quoted value."),
            ("open-quote", b'5;a="x', "A quoted value that never closes."),
            ("empty-name", b"5;=b", "No extension name (it must be a token)."),
            ("empty", b"5;", 'Nothing after the ";".'),
            ("space-in-name", b"5;a b", "Two tokens with no separator."),
        ]
        for scenario in _bad(
            f"chunk-extension-{name}",
            response(200, line + b"\r\nhello\r\n0\r\n\r\n", [("Transfer-Encoding", "chunked")]),
            doc=doc + " RFC 9112 §7.1.1's grammar, refused.",
        )
    ),
    *_bad(
        "chunk-size-line-bare-lf",
        response(200, b'5;a="x\ny"\r\nhello\r\n0\r\n\r\n', [("Transfer-Encoding", "chunked")]),
        doc="A chunk-size line ends at its first LF, which must follow a CR (here inside "
        "a quoted value).",
    ),
    *_bad(
        "truncated-content-length",
        response(200, b"hel", [("Content-Length", "5")]),
        doc="EOF before Content-Length bytes arrived.",
    ),
    *_bad(
        "truncated-chunked",
        response(200, b"5\r\nhello\r\n", [("Transfer-Encoding", "chunked")]),
        doc="EOF before the last-chunk.",
    ),
    *_bad(
        "truncated-head",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        doc="EOF inside the head.",
    ),
    *_bad("empty-response", b"", splits=["whole"], doc="The server closes without a word."),
    *_bad("not-http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
    *_bad("http2-status-line", b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("http3-version", b"HTTP/3 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("status-not-a-number", b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("status-four-digits", b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("header-without-colon", b"HTTP/1.1 200 OK\r\nBroken\r\nContent-Length: 2\r\n\r\nok"),
    *_bad(
        "header-space-before-colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        doc="Whitespace between name and colon (RFC 9112 §5.1: must be rejected).",
    ),
    *_bad("header-nul", b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"),
    *_bad(
        "unsolicited-101",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        doc="A 101 without an Upgrade request.",
    ),
    *_bad("head-at-limit", _big_head(MAX_HEAD), result=Result(body=b""), splits=["whole", "kilo"]),
    *_bad("head-over-limit", _big_head(MAX_HEAD + 1), splits=["whole", "kilo"]),
    *_bad("fields-at-limit", _fields(MAX_FIELDS), result=Result(body=b"ok")),
    *_bad("fields-over-limit", _fields(MAX_FIELDS + 1)),
    *_bad(
        "content-length-huge",
        response(200, b"hello", [("Content-Length", "9" * 30)]),
        splits=["whole"],
        doc="An absurd Content-Length; the body then ends early (EOF).",
    ),
    *_bad(
        "chunk-size-huge",
        response(200, b"ffffffffffffffffffffffff\r\nhello", [("Transfer-Encoding", "chunked")]),
        splits=["whole"],
    ),
    *_bad(
        "chunk-extension-endless",
        response(200, b"5;" + b"x" * (MAX_HEAD + 10), [("Transfer-Encoding", "chunked")]),
        splits=["whole", "kilo"],
        doc="A chunk-size line that never ends is bounded like a head.",
    ),
    *_bad(
        "chunk-extension-at-limit",
        response(
            200,
            b"2;" + b"x" * (MAX_HEAD - 4) + b"\r\nok\r\n0\r\n\r\n",
            [("Transfer-Encoding", "chunked")],
        ),
        result=Result(body=b"ok"),
        splits=["whole", "kilo"],
        doc="A chunk-size line of exactly max_header_bytes (CRLF included) is accepted.",
    ),
    *_bad(
        "chunk-extension-over-limit",
        response(
            200,
            b"2;" + b"x" * (MAX_HEAD - 3) + b"\r\nok\r\n0\r\n\r\n",
            [("Transfer-Encoding", "chunked")],
        ),
        splits=["whole", "kilo"],
        doc="One byte longer: refused, however it is cut.",
    ),
    *_bad(
        "trailers-over-limit",
        response(
            200,
            chunked(b"hi", trailers=[(f"T{i}", "v") for i in range(MAX_FIELDS + 1)]),
            [("Transfer-Encoding", "chunked")],
        ),
        splits=["whole"],
    ),
    *_bad(
        "trailers-at-limit",
        response(
            200,
            chunked(b"ok", trailers=[(f"T{i}", "v") for i in range(MAX_FIELDS)]),
            [("Transfer-Encoding", "chunked")],
        ),
        result=Result(body=b"ok"),
        splits=["whole"],
    ),
    *_bad(
        "content-length-duplicate-agreeing",
        response(200, b"hello", [("Content-Length", "5"), ("Content-Length", "5")]),
        result=Result(body=b"hello"),
        doc="Repeated identical Content-Length values are one value (RFC 9110 §8.6).",
    ),
    *_bad(
        "content-length-leading-zeros",
        response(200, b"hello", [("Content-Length", "0005")]),
        result=Result(body=b"hello"),
    ),
    *_bad(
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
        result=Result(body=b"ok", headers=(("x-folded", "one two"),)),
        doc="Obsolete line folding is unfolded into one space (RFC 9112 §5.2).",
    ),
    *_bad(
        "bare-lf-line-endings",
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
        result=Result(body=b"ok"),
        doc="Bare LF line endings in a response are tolerated (RFC 9112 §2.2 allows it).",
    ),
    # Heads on which llhttp alone would answer otherwise than h11 (sansio/h1_heads.py):
    # on either parser they come out as h11's.
    *_bad(
        "trailing-whitespace-in-values",
        b"HTTP/1.1 200 OK\r\nX-Pad: v \t\r\nContent-Length: 2 \r\n\r\nok",
        result=Result(body=b"ok", headers=(("x-pad", "v"), ("content-length", "2"))),
        doc="Whitespace before a field's line end is not part of its value.",
    ),
    *_bad(
        "transfer-encoding-in-capitals",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n" + chunked(b"ok"),
        result=Result(body=b"ok", headers=(("transfer-encoding", "chunked"),)),
        doc="Transfer codings are case-insensitive (RFC 9112 §7).",
    ),
    *_bad(
        "control-character-in-value",
        b"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\nContent-Length: 2\r\n\r\nok",
        result=Result(body=b"ok", headers=(("x-ctl", "a\x01b"),)),
        doc="h11 keeps a control character other than NUL, CR and LF in a value.",
    ),
    *_bad("status-below-100", b"HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("rtsp-status-line", b"RTSP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    *_bad("nul-in-reason", b"HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok"),
    *_bad(
        "content-length-21-digits",
        response(200, b"ok", [("Content-Length", "000000000000000000002")]),
    ),
    *_bad(
        "latin1-header-value",
        b"HTTP/1.1 200 OK\r\nX-Name: J\xfcrgen\r\nContent-Length: 2\r\n\r\nok",
        result=Result(body=b"ok", headers=(("x-name", "J\xfcrgen"),)),
    ),
    *_bad(
        "informational-at-limit",
        b"HTTP/1.1 100 Continue\r\n\r\n" * MAX_INFORMATIONAL_RESPONSES + OK,
        result=Result(body=b"ok"),
        splits=["whole", "kilo"],
        doc="Informational responses are skipped, up to MAX_INFORMATIONAL_RESPONSES.",
    ),
    *_bad(
        "informational-past-limit",
        b"HTTP/1.1 100 Continue\r\n\r\n" * 2000 + OK,
        splits=["whole", "kilo"],
        doc="An endless stream of 1xx heads is an error, not a request waiting forever.",
    ),
    *_bad(
        "informational-then-big-head",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + _big_head(MAX_HEAD),
        result=Result(body=b""),
        splits=["whole", "kilo"],
        doc="The head limit counts from the final head, not from the first 1xx.",
    ),
    Scenario(
        name="malformed/garbage-while-idle",
        doc="Bytes arriving on an idle connection: it is dropped, the next request goes "
        "out on a new one, and the bytes are never read as a response.",
        calls=(Call(), Call(path="/next", pause_before=0.05)),
        peers=(
            Peer(
                connections=(
                    (Recv(), Send(response(200, b"a")), Pause(0.01), Send(response(200, b"bad"))),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(results=(Result(body=b"a"), Result(body=b"ok")), connections=(2,)),
    ),
    Scenario(
        name="malformed/response-before-request-finished-then-close",
        doc="An answer with Connection: close while the upload goes on.",
        calls=(Call(method="POST", chunks=(b"x" * 1000,) * 5),),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(head_only=True),
                        Send(response(413, b"too big", [("Connection", "close")])),
                        Close(),
                    ),
                )
            ),
        ),
        expect=Expect(results=(Result(status=413, body=b"too big"),), connections=(1,)),
    ),
]
