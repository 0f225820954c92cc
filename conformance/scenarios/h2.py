"""HTTP/2 by prior knowledge (h2c, RFC 9113 §3.3): ``Client(http1=False, http2=True)``
against a peer speaking HTTP/2 on plain TCP (`conformance.h2peer`).

Exchanges, uploads and downloads larger than the flow-control windows (so both sides
wait for WINDOW_UPDATEs), trailers, several requests multiplexed over one connection,
stream resets, GOAWAY, server SETTINGS and PINGs, content decoding and redirects; a
server that allows no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) and the limits a
response must keep (1xx heads, header fields and bytes, as for HTTP/1.1); extended
CONNECT (RFC 8441), allowed or not.
"""

from __future__ import annotations

import gzip

import hyperframe.frame as hf
from h2.settings import SettingCodes
from hpack import Encoder, NeverIndexedHeaderTuple

from conformance.model import (
    Call,
    Close,
    Expect,
    H2GoAway,
    H2Ping,
    H2Reply,
    H2Reset,
    H2Settings,
    Hold,
    Pause,
    Peer,
    Recv,
    Reset,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
    Step,
)
from sansio.h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_INFORMATIONAL_RESPONSES

H2 = Settings(http2_prior_knowledge=True)
HELLO = b"hello, world"

# Bodies larger than a window: the client's stream window is 1 MiB (conch's
# STREAM_WINDOW_SIZE); a server's is 65535 unless its SETTINGS say otherwise.
LARGE = bytes(i % 251 for i in range(1_500_000))
UPLOAD = bytes(i % 253 for i in range(200_000))


def _peer(*connections: tuple[Step, ...], settings: tuple[tuple[int, int], ...] = ()) -> Peer:
    return Peer(connections=connections, h2=True, h2_settings=settings)


def _scenario(
    name: str,
    calls: tuple[Call, ...],
    peers: tuple[Peer, ...],
    expect: Expect,
    *,
    settings: Settings = H2,
    doc: str = "",
) -> Scenario:
    return Scenario(
        name=f"h2/{name}", calls=calls, peers=peers, expect=expect, settings=settings, doc=doc
    )


def _exchanges() -> list[Scenario]:
    out = [
        _scenario(
            f"get/{read}",
            (Call(read=read),),
            (_peer((Recv(), H2Reply(headers=(("content-type", "text/plain"),), body=HELLO))),),
            Expect(
                results=(
                    Result(body=HELLO, headers=(("content-type", "text/plain"),), reason="OK"),
                ),
                seen=(
                    (
                        Seen(
                            target="/",
                            headers=(
                                (":method", "GET"),
                                (":scheme", "http"),
                                (":authority", "{o0}"),
                                (":path", "/"),
                            ),
                            absent=("host", "connection", "transfer-encoding"),
                            body=b"",
                            connection=0,
                        ),
                    ),
                ),
                connections=(1,),
            ),
            doc="A GET over h2c: pseudo-headers, no Host or hop-by-hop headers.",
        )
        for read in ("read", "stream", "raw")
    ]
    for status, body in ((204, b""), (404, b"not here"), (500, b"broken")):
        out.append(
            _scenario(
                f"status/{status}",
                (Call(path="/x?q=1"),),
                (_peer((Recv(), H2Reply(status=status, body=body))),),
                Expect(
                    results=(Result(status=status, body=body),),
                    seen=((Seen(target="/x?q=1", body=b""),),),
                ),
            )
        )
    out.append(
        _scenario(
            "head",
            (Call(method="HEAD"),),
            (_peer((Recv(), H2Reply(headers=(("content-length", "1000"),)))),),
            Expect(
                results=(Result(body=b"", headers=(("content-length", "1000"),)),),
                seen=((Seen(method="HEAD", body=b""),),),
            ),
            doc="HEAD: the head says 1000 bytes; the stream ends with the head.",
        )
    )
    out.append(
        _scenario(
            "informational",
            (Call(),),
            (_peer((Recv(), H2Reply(informational=(103,), body=HELLO))),),
            Expect(results=(Result(body=HELLO, informational=(103,), hooked=(103,)),)),
            doc="A 103 head comes before the final one (`Response.informational`); the "
            "informational hook sees it once.",
        ),
    )
    out.append(
        _scenario(
            "informational/live",
            (Call(), Call(path="/after")),
            (_peer((Recv(), H2Reset(informational=(103,)), Recv(), H2Reply())),),
            Expect(
                results=(
                    Result(status=None, error="RemoteProtocolError", hooked=(103,)),
                    Result(body=b"", hooked=()),
                ),
                connections=(1,),
            ),
            doc="The informational hook sees a 103 as it arrives, before any final head "
            "(here none comes: the stream is reset); the connection goes on.",
        )
    )
    out.append(
        _scenario(
            "request-headers",
            (Call(headers=(("X-Custom", "Value"), ("Accept", "text/html"))),),
            (_peer((Recv(), H2Reply(body=HELLO))),),
            Expect(
                results=(Result(body=HELLO),),
                seen=(
                    (
                        Seen(
                            headers=(("x-custom", "Value"), ("accept", "text/html")),
                            absent=("host",),
                        ),
                    ),
                ),
            ),
            doc="Header names go out lower-case (RFC 9113 §8.2.1).",
        )
    )
    return out


def _uploads() -> list[Scenario]:
    out = []
    small_window = ((SettingCodes.INITIAL_WINDOW_SIZE, 1000),)
    cases = (
        ("small", (), HELLO, False),
        ("window", (), UPLOAD, False),  # past the server's 65535-byte windows
        ("window/chunks", (), UPLOAD, True),
        ("small-window", small_window, UPLOAD[:50_000], False),
        ("small-window/chunks", small_window, UPLOAD[:50_000], True),
    )
    for label, settings, body, chunked in cases:
        chunks = tuple(body[i : i + 7000] for i in range(0, len(body), 7000))
        call = (
            Call(method="POST", path="/upload", chunks=chunks)
            if chunked
            else Call(method="POST", path="/upload", body=body)
        )
        out.append(
            _scenario(
                f"upload/{label}",
                (call, Call(path="/after")),
                (
                    _peer(
                        (Recv(), H2Reply(body=b"stored"), Recv(), H2Reply(body=b"after")),
                        settings=settings,
                    ),
                ),
                Expect(
                    results=(Result(body=b"stored"), Result(body=b"after")),
                    seen=(
                        (
                            Seen(method="POST", target="/upload", body=body, connection=0),
                            Seen(target="/after", body=b"", connection=0),
                        ),
                    ),
                    connections=(1,),
                ),
                doc="The body goes out in DATA frames within the server's windows.",
            )
        )
    return out


def _downloads() -> list[Scenario]:
    out = [
        _scenario(
            f"download/large/{read}",
            (Call(read=read), Call(path="/after")),
            (_peer((Recv(), H2Reply(body=LARGE), Recv(), H2Reply(body=b"after"))),),
            Expect(
                results=(Result(body=LARGE), Result(body=b"after")),
                connections=(1,),
            ),
            doc="1.5 MB: past the client's 1 MiB stream window (WINDOW_UPDATEs).",
        )
        for read in ("read", "stream", "raw")
    ]
    out.append(
        _scenario(
            "download/peek-then-reuse",
            (Call(read="peek"), Call(path="/after")),
            (_peer((Recv(), H2Reply(body=UPLOAD), Recv(), H2Reply(body=b"after"))),),
            Expect(
                results=(Result(body=UPLOAD[:5]), Result(body=b"after")),
                seen=((Seen(connection=0), Seen(target="/after", connection=0)),),
                connections=(1,),
            ),
            doc="A response closed unread resets its stream only: the connection stays.",
        )
    )
    out.append(
        _scenario(
            "trailers",
            (Call(),),
            (
                _peer(
                    (
                        Recv(),
                        H2Reply(
                            headers=(("trailer", "x-checksum"),),
                            body=HELLO,
                            trailers=(("x-checksum", "abc"),),
                        ),
                    )
                ),
            ),
            Expect(results=(Result(body=HELLO, trailers=(("x-checksum", "abc"),)),)),
            doc="Trailers end the stream, in `Response.trailers`; the body is whole.",
        )
    )
    for label, body in (("small", HELLO), ("large", LARGE)):
        out.append(
            _scenario(
                f"ping/mid-response/{label}",
                (Call(read="stream"), Call(path="/after")),
                (_peer((Recv(), H2Reply(body=body, ping=True), Recv(), H2Reply(body=b"ok"))),),
                Expect(results=(Result(body=body), Result(body=b"ok")), connections=(1,)),
                doc="A PING from the server in the middle of a body is answered in passing.",
            )
        )
    out.append(
        _scenario(
            "ping/before-response",
            (Call(),),
            (_peer((Recv(), H2Ping(), H2Reply(body=HELLO))),),
            Expect(results=(Result(body=HELLO),), connections=(1,)),
        )
    )
    out.append(
        _scenario(
            "settings/max-frame-size",
            (Call(method="POST", body=UPLOAD), Call()),
            (
                _peer(
                    (Recv(), H2Reply(body=LARGE[:100_000]), Recv(), H2Reply(body=HELLO)),
                    settings=(
                        (SettingCodes.MAX_FRAME_SIZE, 16384),
                        (SettingCodes.INITIAL_WINDOW_SIZE, 4096),
                        (SettingCodes.MAX_CONCURRENT_STREAMS, 1),
                        (SettingCodes.HEADER_TABLE_SIZE, 0),
                    ),
                ),
            ),
            Expect(
                results=(Result(body=LARGE[:100_000]), Result(body=HELLO)),
                seen=((Seen(method="POST", body=UPLOAD), Seen(body=b"")),),
                connections=(1,),
            ),
            doc="The smallest frames, a 4 KiB stream window, one stream, no HPACK table.",
        )
    )
    gz = gzip.compress(HELLO * 100, mtime=0)
    out.append(
        _scenario(
            "gzip",
            (Call(), Call(read="raw")),
            (
                _peer(
                    (
                        Recv(),
                        H2Reply(headers=(("content-encoding", "gzip"),), body=gz),
                        Recv(),
                        H2Reply(headers=(("content-encoding", "gzip"),), body=gz),
                    )
                ),
            ),
            Expect(results=(Result(body=HELLO * 100), Result(body=gz)), connections=(1,)),
            doc="Decoded for `read`, as sent for `iter_raw`.",
        )
    )
    return out


def _connections() -> list[Scenario]:
    out = []
    answers: list[Step] = []
    for index in range(4):
        answers += (Recv(), H2Reply(body=b"answer %d" % index))
    out.append(
        _scenario(
            "several-requests",
            tuple(Call(path=f"/{index}") for index in range(4)),
            (_peer(tuple(answers)),),
            Expect(
                results=tuple(Result(body=b"answer %d" % index) for index in range(4)),
                seen=(tuple(Seen(target=f"/{index}", connection=0) for index in range(4)),),
                connections=(1,),
            ),
            doc="Requests one after another share one connection (streams 1, 3, 5, 7).",
        )
    )
    for label, after_head, read, status in (
        ("before-head", False, "read", None),
        ("after-head", True, "read", None),
        ("after-head/stream", True, "stream", 200),
    ):
        out.append(
            _scenario(
                f"rst-stream/{label}",
                (Call(read=read), Call(path="/after")),  # type: ignore[arg-type]
                (_peer((Recv(), H2Reset(after_head=after_head), Recv(), H2Reply(body=b"ok"))),),
                Expect(
                    results=(
                        Result(
                            status=status,
                            error="RemoteProtocolError",
                            message="the server reset the stream (INTERNAL_ERROR)",
                        ),
                        Result(body=b"ok"),
                    ),
                    seen=((Seen(connection=0), Seen(target="/after", connection=0)),),
                    connections=(1,),
                ),
                doc="RST_STREAM fails that request only: the connection goes on.",
            )
        )
    out.append(
        _scenario(
            "goaway/after-response",
            (Call(), Call(path="/after", pause_before=0.05)),
            (
                _peer(
                    (Recv(), H2Reply(body=HELLO), H2GoAway(), Close()),
                    (Recv(), H2Reply(body=b"fresh")),
                ),
            ),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            doc="After a GOAWAY the next request opens a new connection.",
        )
    )
    out.append(
        _scenario(
            "goaway/before-response",
            (Call(), Call(path="/after")),
            (
                _peer(
                    (Recv(), H2GoAway(), H2Reply(body=HELLO), Close()),
                    (Recv(), H2Reply(body=b"fresh")),
                ),
            ),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            doc="A graceful GOAWAY naming the stream: its response still comes.",
        )
    )
    out.append(
        _scenario(
            "closed-after-response",
            (Call(), Call(path="/after", pause_before=0.05)),
            (
                _peer(
                    (Recv(), H2Reply(body=HELLO), Close()),
                    (Recv(), H2Reply(body=b"fresh")),
                ),
            ),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            doc="EOF on an idle connection: the next request opens another.",
        )
    )
    out.append(
        _scenario(
            "tcp-reset",
            (Call(),),
            (_peer((Recv(), Pause(0.02), Reset())),),
            Expect(results=(Result(status=None, error="ReadError"),)),
        )
    )
    out.append(
        _scenario(
            "read-timeout",
            (Call(),),
            (_peer((Recv(), Hold())),),
            Expect(results=(Result(status=None, error="ReadTimeout"),)),
            settings=Settings(http2_prior_knowledge=True, read_timeout=0.05),
        )
    )
    return out


def _redirects() -> list[Scenario]:
    out = []
    for status, method, landing_method in ((302, "GET", "GET"), (303, "POST", "GET"),
                                           (307, "POST", "POST")):  # fmt: skip
        body = b"data" if method == "POST" else None
        out.append(
            _scenario(
                f"redirect/{status}",
                (Call(method=method, path="/start", body=body),),
                (
                    _peer(
                        (
                            Recv(),
                            H2Reply(status=status, headers=(("location", "/landing"),)),
                            Recv(),
                            H2Reply(body=b"landed"),
                        )
                    ),
                ),
                Expect(
                    results=(Result(body=b"landed", history=(status,), url="http://{o0}/landing"),),
                    seen=(
                        (
                            Seen(method=method, target="/start", connection=0),
                            Seen(
                                method=landing_method,
                                target="/landing",
                                body=body or b"" if landing_method == "POST" else b"",
                                connection=0,
                            ),
                        ),
                    ),
                    connections=(1,),
                ),
                settings=Settings(http2_prior_knowledge=True, follow_redirects=True),
            )
        )
    out.append(
        _scenario(
            "redirect/cross-origin",
            (Call(path="/start"),),
            (
                _peer((Recv(), H2Reply(status=302, headers=(("location", "http://{o1}/there"),)))),
                _peer((Recv(), H2Reply(body=b"there"))),
            ),
            Expect(
                results=(Result(body=b"there", history=(302,), url="http://{o1}/there"),),
                seen=((Seen(target="/start"),), (Seen(target="/there"),)),
                connections=(1, 1),
            ),
            settings=Settings(http2_prior_knowledge=True, follow_redirects=True),
        )
    )
    return out


NO_STREAMS = H2Settings(((SettingCodes.MAX_CONCURRENT_STREAMS, 0),))
STREAMS_AGAIN = H2Settings(((SettingCodes.MAX_CONCURRENT_STREAMS, 100),))


def _stream_limits() -> list[Scenario]:
    """SETTINGS_MAX_CONCURRENT_STREAMS 0 (RFC 9113 §5.1.2): no new stream on that
    connection, never a busy loop; another connection, a wait bounded by the pool
    timeout, or the same connection once the server allows streams again."""
    after = Call(path="/after", pause_before=0.05)  # the SETTINGS frame is in by then
    one = {"http2_prior_knowledge": True, "max_connections": 1}
    return [
        _scenario(
            "no-streams/another-connection",
            (Call(), after),
            (_peer((Recv(), H2Reply(body=HELLO), NO_STREAMS), (Recv(), H2Reply(body=b"fresh"))),),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            doc="The idle connection allows no stream: the next request opens another.",
        ),
        _scenario(
            "no-streams/while-answering",
            (Call(), after),
            (_peer((Recv(), NO_STREAMS, H2Reply(body=HELLO)), (Recv(), H2Reply(body=b"fresh"))),),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            doc="A stream already running goes on; the next request opens a connection.",
        ),
        _scenario(
            "no-streams/pool-timeout",
            (Call(), after),
            (_peer((Recv(), H2Reply(body=HELLO), NO_STREAMS, Hold())),),
            Expect(
                results=(Result(body=HELLO), Result(status=None, error="PoolTimeout")),
                seen=((Seen(connection=0),),),
                connections=(1,),
            ),
            settings=Settings(**one, pool_timeout=0.1),
            doc="No other connection allowed: PoolTimeout after the pool timeout.",
        ),
        _scenario(
            "no-streams/allowed-again",
            (Call(), after),
            (
                _peer(
                    (
                        Recv(),
                        H2Reply(body=HELLO),
                        NO_STREAMS,
                        Pause(0.1),
                        STREAMS_AGAIN,
                        Recv(),
                        H2Reply(body=b"after"),
                    )
                ),
            ),
            Expect(
                results=(Result(body=HELLO), Result(body=b"after")),
                seen=((Seen(connection=0), Seen(target="/after", connection=0)),),
                connections=(1,),
            ),
            settings=Settings(**one, pool_timeout=2.0),
            doc="The waiting request looks again and goes once the server allows streams.",
        ),
        _scenario(
            "goaway/while-idle/one-connection",
            (Call(), after),
            (
                _peer(
                    (Recv(), H2Reply(body=HELLO), H2GoAway(), Hold()),
                    (Recv(), H2Reply(body=b"fresh")),
                ),
            ),
            Expect(
                results=(Result(body=HELLO), Result(body=b"fresh")),
                seen=((Seen(connection=0), Seen(target="/after", connection=1)),),
                connections=(2,),
            ),
            settings=Settings(**one),
            doc="A connection that sent GOAWAY is closed, never reused: its slot opens another.",
        ),
    ]


def _fields(count: int, prefix: str = "x-f") -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", "v") for i in range(count))


def _header_block(value_size: int) -> bytes:
    """A response head on stream 1 (the first request) with one large field, framed by
    hand: hpack's pure-Python Huffman coder takes a second for 64 KiB, and literals that
    are never indexed leave the peer's HPACK table as the client's."""
    block = Encoder().encode(
        [
            NeverIndexedHeaderTuple(b":status", b"200"),
            NeverIndexedHeaderTuple(b"x-big", b"v" * value_size),
        ],
        huffman=False,
    )
    size = 16384  # SETTINGS_MAX_FRAME_SIZE
    pieces = [block[i : i + size] for i in range(0, len(block), size)]
    frames = [hf.HeadersFrame(1, data=pieces[0], flags=["END_STREAM"])]
    frames += [hf.ContinuationFrame(1, data=piece) for piece in pieces[1:]]
    frames[-1].flags.add("END_HEADERS")
    return b"".join(frame.serialize() for frame in frames)


def _response_limits() -> list[Scenario]:
    """What a response may hold: HTTP/1.1's limits, with its errors (`sansio.h1`)."""
    out = []
    after = (Recv(), H2Reply(body=b"after"))
    stream_failures = (
        (
            "informational",
            H2Reply(informational=(103,) * MAX_INFORMATIONAL_RESPONSES, body=HELLO),
            H2Reply(informational=(100,) * (MAX_INFORMATIONAL_RESPONSES + 1), body=HELLO),
            f"more than {MAX_INFORMATIONAL_RESPONSES} informational (1xx) responses before "
            "the final response",
        ),
        (
            "header-count",
            H2Reply(headers=_fields(MAX_HEADER_COUNT), body=HELLO),
            H2Reply(headers=_fields(MAX_HEADER_COUNT + 1), body=HELLO),
            f"response has more than {MAX_HEADER_COUNT} header fields",
        ),
        (
            "trailer-count",
            H2Reply(body=HELLO, trailers=_fields(MAX_HEADER_COUNT)),
            H2Reply(body=HELLO, trailers=_fields(MAX_HEADER_COUNT + 1)),
            f"response has more than {MAX_HEADER_COUNT} trailer fields",
        ),
    )
    for label, at, past, message in stream_failures:
        out.append(
            _scenario(
                f"limits/{label}",
                (Call(), Call(), Call(path="/after")),
                (_peer((Recv(), at, Recv(), past, *after)),),
                Expect(
                    results=(
                        Result(body=HELLO),
                        Result(status=None, error="RemoteProtocolError", message=message),
                        Result(body=b"after"),
                    ),
                    connections=(1,),
                ),
                doc="At the limit, fine; one past it fails that stream, not the connection.",
            )
        )
    # RFC 9113 §6.5.2: name + value + 32 bytes per field, :status included.
    at_limit = MAX_HEADER_BYTES - (7 + 3 + 32) - (5 + 32)
    out.append(
        _scenario(
            "limits/header-bytes/at-limit",
            (Call(),),
            (_peer((Recv(), Send(_header_block(at_limit)), Hold())),),
            Expect(results=(Result(body=b"", headers=(("x-big", "v" * at_limit),)),)),
        )
    )
    out.append(
        _scenario(
            "limits/header-bytes/past-limit",
            (Call(), Call(path="/after")),
            (_peer((Recv(), Send(_header_block(at_limit + 1)), Hold()), after),),
            Expect(
                results=(
                    Result(
                        status=None,
                        error="RemoteProtocolError",
                        message=f"response head larger than {MAX_HEADER_BYTES} bytes",
                    ),
                    Result(body=b"after"),
                ),
                connections=(2,),
            ),
            doc="Past the byte limit HPACK's state is lost: the connection fails.",
        )
    )
    return out


ALLOW_TUNNELS = ((SettingCodes.ENABLE_CONNECT_PROTOCOL, 1),)


def _tunnels() -> list[Scenario]:
    """Extended CONNECT (RFC 8441): a request with the ``protocol`` extension."""
    tunnel = Call(path="/chat", protocol="websocket", headers=(("sec-websocket-version", "13"),))
    return [
        _scenario(
            "extended-connect",
            (tunnel, Call(path="/beside")),
            (
                _peer(
                    (
                        Recv(),
                        H2Reply(body=b"tunnel bytes"),
                        Recv(),
                        H2Reply(body=HELLO),
                    ),
                    settings=ALLOW_TUNNELS,
                ),
            ),
            Expect(
                results=(Result(body=b"tunnel bytes"), Result(body=HELLO)),
                seen=(
                    (
                        Seen(
                            method="CONNECT",
                            target="/chat",
                            headers=(
                                (":method", "CONNECT"),
                                (":protocol", "websocket"),
                                (":scheme", "http"),
                                (":authority", "{o0}"),
                                (":path", "/chat"),
                                ("sec-websocket-version", "13"),
                            ),
                            body=b"",
                            connection=0,
                        ),
                        Seen(target="/beside", connection=0),
                    ),
                ),
                connections=(1,),
            ),
            doc="A server that allows extended CONNECT: the request becomes CONNECT with "
            ":protocol on a stream of the shared connection; the 2xx's bytes are the "
            "tunnel's, read as a body until the server ends its side.",
        ),
        _scenario(
            "extended-connect/refused",
            (tunnel,),
            (_peer((Recv(), H2Reply(status=403, body=b"no")), settings=ALLOW_TUNNELS),),
            Expect(results=(Result(status=403, body=b"no"),)),
            doc="A non-2xx answer is an ordinary response.",
        ),
        _scenario(
            "extended-connect/not-allowed",
            (tunnel, Call(path="/beside")),
            (_peer((Recv(), H2Reply(body=HELLO))),),
            Expect(
                results=(
                    Result(
                        status=None,
                        error="LocalProtocolError",
                        message="SETTINGS_ENABLE_CONNECT_PROTOCOL",
                    ),
                    Result(body=HELLO),
                ),
                seen=((Seen(target="/beside", connection=0),),),
                connections=(1,),
            ),
            doc="Without the server's SETTINGS_ENABLE_CONNECT_PROTOCOL and without HTTP/1.1 "
            "to fall back on, no stream is started; the connection serves on.",
        ),
    ]


SCENARIOS: list[Scenario] = [
    *_exchanges(),
    *_tunnels(),
    *_uploads(),
    *_downloads(),
    *_connections(),
    *_redirects(),
    *_stream_limits(),
    *_response_limits(),
]
