"""Message framing (RFC 9112 §6): how the end of each response body is found.

Each case runs whole and cut at awkward places (every byte, around the blank line,
between CR and LF, every seventh byte); all cuts must give the same result.
"""

from __future__ import annotations

from conformance.model import Call, Close, Expect, Peer, Recv, Result, Scenario, Send

from ._kit import SPLITS, chunked, response, split_names

HELLO = b"hello, world"


def _case(
    name: str,
    data: bytes,
    result: Result,
    *,
    method: str = "GET",
    close: bool = False,
    splits: list[str] | None = None,
    read: str = "read",
    doc: str = "",
) -> list[Scenario]:
    """One response, served on one connection, under each split pattern; then a second
    request shows whether the connection was kept (``close``: it must not be)."""
    out = []
    for split in splits or split_names(data):
        first = (Recv(), Send(data, SPLITS[split](data)))
        second = response(200, b"again")
        scripts = (
            ((*first, Close()), (Recv(), Send(second)))
            if close
            else ((*first, Recv(), Send(second)),)
        )
        out.append(
            Scenario(
                name=f"framing/{name}/{split}",
                doc=doc,
                calls=(Call(method=method, read=read), Call(path="/again")),  # type: ignore[arg-type]
                peers=(Peer(connections=scripts),),
                expect=Expect(
                    results=(result, Result(body=b"again")),
                    connections=(2 if close else 1,),
                ),
            )
        )
    return out


CL = response(200, HELLO, [("Content-Type", "text/plain")])
CL_ZERO = response(200, b"")
CHUNKED = response(200, chunked(b"hello", b", ", b"world"), [("Transfer-Encoding", "chunked")])
CHUNK_EXT = response(
    200, chunked(b"hello", b", world", ext=';name="value";flag'), [("Transfer-Encoding", "chunked")]
)
# RFC 9112 §7.1.1: BWS around ";" and "=", quoted values with escapes (h11 refused
# the whitespace before ";").
CHUNK_EXT_BWS = response(
    200,
    b'5 ;a = b ; q = "x \\"y\\" \\\\ ;z"\r\nhello\r\n7\t;\tflag\t\r\n, world\r\n0 ; end=1\r\n\r\n',
    [("Transfer-Encoding", "chunked")],
)
CHUNK_TRAILERS = response(
    200,
    chunked(b"hello, world", trailers=[("Digest", "sha-256=abc"), ("X-Done", "1")]),
    [("Transfer-Encoding", "chunked"), ("Trailer", "Digest, X-Done")],
)
CHUNK_HEX = response(
    200,
    b"0000C\r\nhello, world\r\n0\r\n\r\n",
    [("Transfer-Encoding", "chunked")],
)
CHUNK_UPPER = response(
    200, b"A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", [("transfer-encoding", "CHUNKED")]
)
CLOSE_DELIMITED = response(200, HELLO, [("Connection", "close")], length=False)
CLOSE_DELIMITED_NO_HEADER = response(200, HELLO, length=False)
HTTP10 = response(200, HELLO, version="HTTP/1.0")
HTTP10_KEEPALIVE = response(200, HELLO, [("Connection", "keep-alive")], version="HTTP/1.0")
HEAD = response(200, b"", [("Content-Length", "1000")])
HEAD_CHUNKED = response(200, b"", [("Transfer-Encoding", "chunked")])
INFORMATIONAL = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + CL
)
NO_CONTENT = response(204, b"", reason="No Content", length=False)
NOT_MODIFIED = response(
    304, b"", [("Content-Length", "12"), ("ETag", '"x"')], reason="Not Modified"
)
EMPTY_REASON = response(200, HELLO, reason="")
MANY_HEADERS = response(
    200,
    HELLO,
    [("Set-Cookie", "a=1"), ("X-Repeat", "one"), ("X-Repeat", "two"), ("x-Mixed-Case", "yes")],
)
WHITESPACE = b"HTTP/1.1 200 OK\r\nContent-Length:  12  \r\nX-Pad: \t padded \t\r\n\r\n" + HELLO
HTTP11_MINOR = response(200, HELLO, version="HTTP/1.1")

OK = Result(body=HELLO)

SCENARIOS: list[Scenario] = [
    *_case("content-length", CL, Result(body=HELLO, headers=(("content-type", "text/plain"),))),
    *_case("content-length-zero", CL_ZERO, Result(body=b"")),
    *_case("chunked", CHUNKED, OK),
    *_case("chunked-extensions", CHUNK_EXT, OK, doc="Chunk extensions are ignored."),
    *_case(
        "chunked-extensions-whitespace",
        CHUNK_EXT_BWS,
        OK,
        doc='Whitespace around ";" and "=", and quoted values with escaped quotes and '
        "backslashes, are valid chunk extensions (RFC 9112 §7.1.1), ignored.",
    ),
    *_case(
        "chunked-trailers",
        CHUNK_TRAILERS,
        Result(
            body=HELLO,
            absent_headers=("digest", "x-done"),
            trailers=(("digest", "sha-256=abc"), ("x-done", "1")),
        ),
        doc="Trailers end the body, in `Response.trailers`; they are not merged into the headers.",
    ),
    *_case("chunked-leading-zeros", CHUNK_HEX, OK),
    *_case(
        "chunked-hex-case",
        CHUNK_UPPER,
        Result(body=b"0123456789abcdefghij"),
        doc="Chunk sizes in either hex case; 'CHUNKED' is a case-insensitive token.",
    ),
    *_case("close-delimited", CLOSE_DELIMITED, OK, close=True),
    *_case(
        "close-delimited-no-connection-header",
        CLOSE_DELIMITED_NO_HEADER,
        OK,
        close=True,
        doc="No Content-Length, no chunking: the body runs to EOF and the connection ends.",
    ),
    *_case("http10", HTTP10, Result(body=HELLO), close=True),
    *_case(
        "http10-keep-alive-header",
        HTTP10_KEEPALIVE,
        Result(body=HELLO),
        close=True,
        doc="HTTP/1.0 keep-alive is not honoured (as h11 and httpx): a new connection.",
    ),
    *_case(
        "head",
        HEAD,
        Result(body=b"", headers=(("content-length", "1000"),)),
        method="HEAD",
        doc="A HEAD response has no body whatever its Content-Length says.",
    ),
    *_case("head-chunked", HEAD_CHUNKED, Result(body=b""), method="HEAD"),
    *_case(
        "informational",
        INFORMATIONAL,
        Result(body=HELLO, absent_headers=("link",), informational=(100, 103), hooked=(100, 103)),
        doc="100 and 103 come before the final response (`Response.informational`); the "
        "final response's headers alone are kept.",
    ),
    *_case("204", NO_CONTENT, Result(status=204, body=b"")),
    *_case(
        "304-with-content-length",
        NOT_MODIFIED,
        Result(status=304, body=b"", headers=(("etag", '"x"'),)),
        doc="304 has no body: its Content-Length describes the cached representation.",
    ),
    *_case(
        "empty-reason",
        EMPTY_REASON,
        Result(body=HELLO, reason=""),
        splits=["whole", "bytewise"],
    ),
    *_case(
        "non-ascii-reason",
        b"HTTP/1.1 200 \xd6kay\r\nContent-Length: 12\r\n\r\n" + HELLO,
        Result(body=HELLO, reason="kay"),
        splits=["whole"],
        doc="obs-text in the reason phrase is accepted; reason_phrase keeps ASCII only (as httpx).",
    ),
    *_case(
        "repeated-headers",
        MANY_HEADERS,
        Result(
            body=HELLO, headers=(("x-repeat", "one"), ("x-repeat", "two"), ("x-mixed-case", "yes"))
        ),
        splits=["whole", "crlf"],
    ),
    *_case(
        "header-whitespace",
        WHITESPACE,
        Result(body=HELLO, headers=(("x-pad", "padded"),)),
        splits=["whole", "bytewise"],
        doc="Optional whitespace around field values is not part of the value.",
    ),
    *_case("stream-content-length", CL, OK, read="stream", splits=["whole", "sevens"]),
    *_case("stream-chunked", CHUNKED, OK, read="stream", splits=["whole", "bytewise"]),
    *_case(
        "stream-close-delimited",
        CLOSE_DELIMITED,
        OK,
        read="stream",
        close=True,
        splits=["whole", "sevens"],
    ),
    *_case("raw-chunked", CHUNKED, OK, read="raw", splits=["whole", "crlf"]),
    Scenario(
        name="framing/informational-live",
        doc="The informational hook sees each 1xx as it arrives, before any final head "
        "(here none comes: the connection closes).",
        calls=(Call(),),
        peers=(
            Peer(
                connections=((Recv(), Send(INFORMATIONAL.partition(b"HTTP/1.1 200")[0]), Close()),)
            ),
        ),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError", hooked=(100, 103)),),
        ),
    ),
]
