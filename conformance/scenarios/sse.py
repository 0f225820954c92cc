"""Server-sent events (WHATWG HTML 9.2): ``Call(read="sse")`` reads the response through
`EventSource`, so every driver must parse the same events from bytes cut anywhere (the
BOM, CRLF pairs and UTF-8 characters included), over HTTP/1.1 (chunked, Content-Length,
close-delimited, gzip) and HTTP/2, and refuse a response that is not an event stream.
"""

from __future__ import annotations

import gzip

from conformance.model import (
    Call,
    Close,
    Expect,
    H2Reply,
    Peer,
    Recv,
    Result,
    Scenario,
    Script,
    Seen,
    Send,
    Settings,
)
from sansio.sse import ServerSentEvent

from ._kit import SPLITS, chunked, response

# A BOM, a comment, CRLF, CR and LF line ends, two UTF-8 data lines, an id that persists,
# an empty id and data, and an unfinished event that the end of the stream discards.
STREAM = (
    b"\xef\xbb\xbf: hello\r\nretry: 1000\r\nid: 1\r\n"
    b"data: caf\xc3\xa9\r\ndata: \xe2\x82\xac\r\n\r\n"
    b"event: add\rdata: 2\r\r"
    b"id\ndata\n\n"
    b"data: unfinished"
)
EVENTS = b"".join(
    repr(event).encode() + b"\n"
    for event in (
        ServerSentEvent(data="caf\u00e9\n\u20ac", id="1", retry=1000),
        ServerSentEvent(event="add", data="2", id="1"),
        ServerSentEvent(),
    )
)
EVENT_STREAM = ("Content-Type", "text/event-stream")
SSE = Call(read="sse")
# What connect_sse sends, and so what a "sse" call sends.
ASKED = Seen(headers=(("accept", "text/event-stream"), ("cache-control", "no-store")))


def _scenario(
    name: str, script: Script, result: Result, *, doc: str = "", h2: bool = False
) -> Scenario:
    return Scenario(
        name=f"sse/{name}",
        doc=doc,
        calls=(SSE,),
        peers=(Peer(connections=(script,), h2=h2),),
        expect=Expect(results=(result,), seen=((ASKED,),)),
        settings=Settings(http2_prior_knowledge=h2),
    )


_CHUNKED = response(
    200, chunked(STREAM[:40], STREAM[40:]), [EVENT_STREAM, ("Transfer-Encoding", "chunked")]
)
_LENGTH = response(200, STREAM, [EVENT_STREAM])
_GZIP = gzip.compress(STREAM, mtime=0)

SCENARIOS: list[Scenario] = [
    *(
        _scenario(
            f"chunked-{split}",
            (Recv(), Send(_CHUNKED, SPLITS[split](_CHUNKED))),
            Result(body=EVENTS),
            doc="The same events however the stream is cut.",
        )
        for split in ("whole", "bytewise", "crlf", "sevens")
    ),
    _scenario(
        "content-length-bytewise",
        (Recv(), Send(_LENGTH, SPLITS["bytewise"](_LENGTH))),
        Result(body=EVENTS),
    ),
    _scenario(
        "close-delimited",
        (Recv(), Send(response(200, STREAM, [EVENT_STREAM], length=False)), Close()),
        Result(body=EVENTS),
        doc="A body that ends when the server closes: the unfinished event is dropped.",
    ),
    _scenario(
        "gzip",
        (Recv(), Send(response(200, _GZIP, [EVENT_STREAM, ("Content-Encoding", "gzip")]), (9,))),
        Result(body=EVENTS),
    ),
    _scenario(
        "h2",
        (Recv(), H2Reply(headers=(("content-type", "text/event-stream"),), body=STREAM)),
        Result(body=EVENTS),
        h2=True,
    ),
    _scenario(
        "not-an-event-stream",
        (Recv(), Send(response(200, b"data: x\n\n", [("Content-Type", "text/plain")]))),
        Result(
            body=None,
            error="SSEError",
            message="Expected response header Content-Type to contain 'text/event-stream'",
        ),
        doc="httpx-sse's check: the content type must name text/event-stream.",
    ),
    _scenario(
        "cut-mid-event",
        (
            Recv(),
            Send(response(200, b"", [EVENT_STREAM, ("Transfer-Encoding", "chunked")])),
            Send(b"9\r\ndata: a\n\n\r\n5\r\ndata:"),
            Close(),
        ),
        Result(body=None, error="RemoteProtocolError"),
        doc="A chunked stream cut by the server is an error, not a quiet end.",
    ),
]
