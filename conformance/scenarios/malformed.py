"""Malformed and adversarial responses: each is refused with a clean error (never parsed
leniently), and the connection that carried it is never reused."""

from __future__ import annotations

from ..model import Call, Close, Expect, Pause, Peer, Recv, Result, Scenario, Send, Step
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
        response(200, chunked(b"hello"), [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
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
    *_bad("head-at-limit", _big_head(MAX_HEAD), result=Result(body=b""), splits=["whole", "sevens"]),
    *_bad("head-over-limit", _big_head(MAX_HEAD + 1), splits=["whole", "sevens"]),
    *_bad("fields-at-limit", _fields(MAX_FIELDS), result=Result(body=b"ok")),
    *_bad("fields-over-limit", _fields(MAX_FIELDS + 1)),
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
