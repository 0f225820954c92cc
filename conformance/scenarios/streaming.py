"""Streaming: generator bodies go out chunked; large bodies come in, in many pieces."""

from __future__ import annotations

from conformance.model import Call, Close, Expect, Peer, Recv, Result, Scenario, Seen, Send

from ._kit import chunked, response, serve

OK = response(200, b"ok")
FINE = Result(body=b"ok")
BIG = bytes(range(256)) * 4096  # 1 MiB
CHUNKS = tuple(BIG[i : i + 65536] for i in range(0, len(BIG), 65536))


def _upload(name: str, call: Call, seen: Seen, doc: str = "") -> Scenario:
    return Scenario(
        name=f"streaming/{name}",
        doc=doc,
        calls=(call, Call(path="/after")),
        peers=(Peer(connections=(serve(OK, OK),)),),
        expect=Expect(
            results=(FINE, FINE), connections=(1,), seen=((seen, Seen(target="/after")),)
        ),
    )


def _download(
    name: str, data: bytes, body: bytes, *, every: int, read: str = "stream", close: bool = False
) -> Scenario:
    cuts = tuple(range(every, len(data), every))
    script = (Recv(), Send(data, cuts), Close()) if close else (Recv(), Send(data, cuts))
    return Scenario(
        name=f"streaming/{name}",
        calls=(Call(read=read),),  # type: ignore[arg-type]
        peers=(Peer(connections=(script,)),),
        expect=Expect(results=(Result(body=body),), connections=(1,)),
    )


CHUNKED_UPLOAD = (("transfer-encoding", "chunked"),)

SCENARIOS: list[Scenario] = [
    _upload(
        "generator-upload-is-chunked",
        Call(method="POST", chunks=(b"first ", b"second ", b"third")),
        Seen(
            method="POST",
            body=b"first second third",
            headers=CHUNKED_UPLOAD,
            absent=("content-length",),
        ),
    ),
    _upload(
        "empty-generator-upload",
        Call(method="POST", chunks=()),
        Seen(method="POST", body=b"", headers=CHUNKED_UPLOAD),
        doc="A generator that yields nothing: just the last-chunk.",
    ),
    _upload(
        "generator-with-empty-chunks",
        Call(method="POST", chunks=(b"a", b"", b"b", b"", b"c")),
        Seen(method="POST", body=b"abc", headers=CHUNKED_UPLOAD),
        doc="An empty piece must not be framed as the last-chunk.",
    ),
    _upload(
        "large-generator-upload",
        Call(method="PUT", chunks=CHUNKS),
        Seen(method="PUT", body=BIG, headers=CHUNKED_UPLOAD),
    ),
    _upload(
        "generator-with-content-length",
        Call(method="POST", chunks=(b"12345", b"67890"), headers=(("Content-Length", "10"),)),
        Seen(
            method="POST",
            body=b"1234567890",
            headers=(("content-length", "10"),),
            absent=("transfer-encoding",),
        ),
        doc="A Content-Length given by the caller frames a generator body.",
    ),
    _upload(
        "bytes-upload",
        Call(method="POST", body=b"payload"),
        Seen(
            method="POST",
            body=b"payload",
            headers=(("content-length", "7"),),
            absent=("transfer-encoding",),
        ),
    ),
    _upload(
        "empty-bytes-upload",
        Call(method="POST", body=b""),
        Seen(method="POST", body=b"", headers=(("content-length", "0"),)),
    ),
    _upload(
        "put-large-bytes",
        Call(method="PUT", body=BIG),
        Seen(method="PUT", body=BIG, headers=(("content-length", str(len(BIG))),)),
    ),
    Scenario(
        name="streaming/early-response-during-upload",
        doc="The server answers 401 after the head and hangs up: the client stops "
        "uploading and reports the 401 (RFC 9112 §9.5).",
        calls=(Call(method="PUT", chunks=CHUNKS), Call(path="/after")),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(head_only=True),
                        Send(
                            response(401, b"no", [("Connection", "close")], reason="Unauthorized")
                        ),
                        Close(),
                    ),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(results=(Result(status=401, body=b"no"), FINE), connections=(2,)),
    ),
    _download("download-content-length", response(200, BIG), BIG, every=9973),
    _download(
        "download-chunked",
        response(
            200,
            chunked(*(BIG[i : i + 4096] for i in range(0, 262144, 4096))),
            [("Transfer-Encoding", "chunked")],
        ),
        BIG[:262144],
        every=5000,
    ),
    _download(
        "download-chunked-raw",
        response(200, chunked(BIG[:50000], BIG[50000:100000]), [("Transfer-Encoding", "chunked")]),
        BIG[:100000],
        every=3001,
        read="raw",
    ),
    _download(
        "download-close-delimited",
        response(200, BIG[:200000], length=False),
        BIG[:200000],
        every=7919,
        close=True,
    ),
    _download("download-read-whole", response(200, BIG), BIG, every=65536, read="read"),
    _download("download-bytewise", response(200, b"tiny body"), b"tiny body", every=1),
]
