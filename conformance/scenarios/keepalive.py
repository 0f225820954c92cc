"""Keep-alive: when a connection is reused, when it is closed, and the one safe retry."""

from __future__ import annotations

from conformance.model import (
    Call,
    Close,
    Expect,
    Peer,
    Recv,
    Reset,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
)

from ._kit import chunked, response, serve

OK = response(200, b"ok")
AGAIN = Result(body=b"ok")


def _reuse(name: str, first: bytes, result: Result, method: str = "GET") -> Scenario:
    return Scenario(
        name=f"keepalive/reuse-after-{name}",
        calls=(Call(method=method), Call(path="/2"), Call(path="/3")),
        peers=(Peer(connections=(serve(first, OK, OK),)),),
        expect=Expect(
            results=(result, AGAIN, AGAIN),
            connections=(1,),
            seen=((Seen(method=method), Seen(target="/2"), Seen(target="/3")),),
        ),
    )


def _new_connection(name: str, first: bytes, doc: str, *, close: bool = True) -> Scenario:
    script = (Recv(), Send(first), Close()) if close else (Recv(), Send(first))
    return Scenario(
        name=f"keepalive/{name}",
        doc=doc,
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=(script, serve(OK))),),
        expect=Expect(
            results=(Result(body=b"hi"), AGAIN),
            connections=(2,),
            seen=((Seen(connection=0), Seen(target="/2", connection=1)),),
        ),
    )


SCENARIOS: list[Scenario] = [
    _reuse("content-length", response(200, b"hello"), Result(body=b"hello")),
    _reuse(
        "chunked",
        response(200, chunked(b"hel", b"lo"), [("Transfer-Encoding", "chunked")]),
        Result(body=b"hello"),
    ),
    _reuse("empty", response(200, b""), Result(body=b"")),
    _reuse("204", response(204, b"", reason="No Content", length=False), Result(status=204)),
    _reuse("304", response(304, b"", reason="Not Modified", length=False), Result(status=304)),
    _reuse("head", response(200, b"", [("Content-Length", "50")]), Result(body=b""), "HEAD"),
    _reuse("404", response(404, b"missing", reason="Not Found"), Result(status=404)),
    _reuse("post", response(201, b"made", reason="Created"), Result(status=201), "POST"),
    _new_connection(
        "connection-close-header",
        response(200, b"hi", [("Connection", "close")]),
        "Connection: close from the server: the next request opens a new connection.",
    ),
    _new_connection(
        "connection-close-mixed-case",
        response(200, b"hi", [("connection", "Keep-Alive, CLOSE")]),
        "The close token is found case-insensitively in a list.",
    ),
    _new_connection(
        "idle-close-by-server",
        response(200, b"hi"),
        "The server closes an idle keep-alive connection (FIN): the client notices before "
        "reusing it and opens a new one, without an error.",
    ),
    _new_connection(
        "bytes-after-response",
        response(200, b"hi") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra",
        "Bytes after a complete response are never served as the next response.",
    ),
    _new_connection(
        "body-longer-than-content-length",
        response(200, b"hi", [("Content-Length", "2")]) + b"junk",
        "A body longer than its Content-Length: the extra bytes spoil the connection.",
    ),
    Scenario(
        name="keepalive/stale-connection-retried",
        doc="The keep-alive race: the server closes a reused connection on the request "
        "without answering. A GET is sent once more on a new connection.",
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=((Recv(), Send(response(200, b"hi"))), serve(OK))),),
        expect=Expect(
            results=(Result(body=b"hi"), AGAIN),
            connections=(2,),
            seen=((Seen(connection=0), Seen(target="/2", connection=0), Seen(target="/2")),),
        ),
    ),
    Scenario(
        name="keepalive/stale-connection-reset-retried",
        doc="As above, with a reset instead of a close.",
        calls=(Call(), Call(method="PUT", path="/2", body=b"data")),
        peers=(
            Peer(connections=((Recv(), Send(response(200, b"hi")), Recv(), Reset()), serve(OK))),
        ),
        expect=Expect(
            results=(Result(body=b"hi"), AGAIN),
            connections=(2,),
            seen=(
                (
                    Seen(connection=0),
                    Seen(method="PUT", target="/2", body=b"data", connection=0),
                    Seen(method="PUT", target="/2", body=b"data", connection=1),
                ),
            ),
        ),
    ),
    Scenario(
        name="keepalive/stale-connection-post-not-retried",
        doc="A POST is never replayed: the server may have acted on it.",
        calls=(Call(), Call(method="POST", path="/2", body=b"x")),
        peers=(Peer(connections=((Recv(), Send(response(200, b"hi"))), serve(OK))),),
        expect=Expect(
            results=(Result(body=b"hi"), Result(status=None, error="RemoteProtocolError")),
            connections=(1,),
        ),
    ),
    Scenario(
        name="keepalive/stale-connection-streamed-body-not-retried",
        doc="A generator body cannot be sent twice, so even a PUT is not replayed.",
        calls=(Call(), Call(method="PUT", path="/2", chunks=(b"a", b"b"))),
        peers=(Peer(connections=((Recv(), Send(response(200, b"hi"))), serve(OK))),),
        expect=Expect(
            results=(Result(body=b"hi"), Result(status=None, error="RemoteProtocolError")),
            connections=(1,),
        ),
    ),
    Scenario(
        name="keepalive/fresh-connection-not-retried",
        doc="Only a reused connection is retried: a new one that fails is a real failure.",
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Close()), serve(OK))),),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError"),), connections=(1,)
        ),
    ),
    Scenario(
        name="keepalive/reset-on-fresh-connection",
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=((Recv(), Reset()), serve(OK))),),
        expect=Expect(results=(Result(status=None, error="ReadError"), AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/expiry",
        doc="An idle connection older than keepalive_expiry is closed, not reused.",
        settings=Settings(keepalive_expiry=0.02),
        calls=(Call(), Call(path="/2", pause_before=0.06)),
        peers=(Peer(connections=(serve(OK, OK), serve(OK))),),
        expect=Expect(results=(AGAIN, AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/no-idle-connections-kept",
        settings=Settings(max_keepalive_connections=0),
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=(serve(OK, OK), serve(OK))),),
        expect=Expect(results=(AGAIN, AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/two-origins",
        doc="Connections are pooled per origin; each origin keeps its own.",
        calls=(Call(), Call(origin=1), Call(path="/2"), Call(origin=1, path="/2")),
        peers=(Peer(connections=(serve(OK, OK),)), Peer(connections=(serve(OK, OK),))),
        expect=Expect(results=(AGAIN,) * 4, connections=(1, 1)),
    ),
    Scenario(
        name="keepalive/refused",
        doc="Nothing listens: ConnectError, and the pool slot is free again.",
        calls=(Call(origin=1), Call()),
        peers=(Peer(connections=(serve(OK),)), Peer(listening=False)),
        expect=Expect(
            results=(Result(status=None, error="ConnectError"), AGAIN), connections=(1, 0)
        ),
    ),
    Scenario(
        name="keepalive/closed-early-not-reused",
        doc="A response closed before its end: the connection is dropped, not drained.",
        calls=(Call(read="peek"), Call(path="/2")),
        peers=(Peer(connections=((Recv(), Send(response(200, b"0123456789"))), serve(OK))),),
        expect=Expect(results=(Result(body=b"01234"), AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/read-to-end-then-reused",
        doc="The same response read to its end leaves the connection reusable.",
        calls=(Call(read="stream"), Call(path="/2")),
        peers=(Peer(connections=(serve(response(200, b"0123456789"), OK),)),),
        expect=Expect(results=(Result(body=b"0123456789"), AGAIN), connections=(1,)),
    ),
    Scenario(
        name="keepalive/one-idle-connection-kept",
        doc="max_keepalive_connections=1 across two origins: the older idle one is closed.",
        settings=Settings(max_keepalive_connections=1),
        calls=(Call(), Call(origin=1), Call(path="/2"), Call(origin=1, path="/2")),
        peers=(
            Peer(connections=(serve(OK), serve(OK))),
            Peer(connections=(serve(OK), serve(OK))),
        ),
        expect=Expect(results=(AGAIN,) * 4, connections=(2, 2)),
    ),
    Scenario(
        name="keepalive/bytes-after-204",
        doc="A 204 has no body whatever it says: bytes after its head spoil the connection.",
        calls=(Call(), Call(path="/2")),
        peers=(
            Peer(
                connections=(
                    (Recv(), Send(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello")),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(results=(Result(status=204, body=b""), AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/body-after-head-response",
        doc="A server that sends a body to HEAD: the bytes spoil the connection.",
        calls=(Call(method="HEAD"), Call(path="/2")),
        peers=(Peer(connections=((Recv(), Send(response(200, b"body!"))), serve(OK))),),
        expect=Expect(results=(Result(body=b""), AGAIN), connections=(2,)),
    ),
    Scenario(
        name="keepalive/request-headers",
        doc="What a default client sends, byte for byte the same in every shell.",
        calls=(Call(),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(AGAIN,),
            seen=(
                (
                    Seen(
                        headers=(
                            ("host", "{o0}"),
                            ("accept", "*/*"),
                            ("connection", "keep-alive"),
                        ),
                        absent=("content-length", "transfer-encoding"),
                        body=b"",
                    ),
                ),
            ),
        ),
    ),
]
