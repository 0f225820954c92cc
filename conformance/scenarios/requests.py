"""The request on the wire: request line, target encoding, headers as given or merged,
and requests refused before a byte is sent (header injection)."""

from __future__ import annotations

from conformance.model import Call, Expect, Peer, Result, Scenario, Seen, Settings

from ._kit import response, serve

OK = response(200, b"ok")
FINE = Result(body=b"ok")


def _target(name: str, path: str, target: str, doc: str = "") -> Scenario:
    return Scenario(
        name=f"requests/target-{name}",
        doc=doc,
        calls=(Call(path=path),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(results=(FINE,), seen=((Seen(target=target),),)),
    )


def _sent(
    name: str, call: Call, seen: Seen, settings: Settings | None = None, doc: str = ""
) -> Scenario:
    return Scenario(
        name=f"requests/{name}",
        doc=doc,
        settings=settings or Settings(),
        calls=(call,),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(results=(FINE,), seen=((seen,),)),
    )


def _refused(name: str, call: Call, error: str, doc: str = "") -> Scenario:
    return Scenario(
        name=f"requests/refused-{name}",
        doc=doc or "Refused before anything is sent: no connection is even opened.",
        calls=(call, Call(path="/after")),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(Result(status=None, error=error), FINE),
            connections=(1,),
            seen=((Seen(target="/after"),),),
        ),
    )


SCENARIOS: list[Scenario] = [
    _target("root", "/", "/"),
    _target("empty-path", "", "/", doc="An empty path is sent as '/'."),
    _target("query", "/search?q=a+b&x=1", "/search?q=a+b&x=1"),
    _target("space", "/a b", "/a%20b", doc="Characters not allowed in a path are escaped."),
    _target("unicode", "/ümlaut", "/%C3%BCmlaut"),
    _target("escapes-kept", "/a%2Fb", "/a%2Fb", doc="Existing escapes are not decoded."),
    _target("fragment-dropped", "/page#top", "/page"),
    _target("empty-query", "/path?", "/path?"),
    _target(
        "dot-segments", "/a/./b/../c", "/a/c", doc="Dot segments are removed (RFC 3986 §5.2.4)."
    ),
    _sent(
        "custom-method",
        Call(method="PURGE", path="/cache"),
        Seen(method="PURGE", target="/cache"),
    ),
    _sent("lower-case-method", Call(method="get"), Seen(method="GET")),
    _sent(
        "headers-merged",
        Call(headers=(("X-Call", "call"), ("User-Agent", "mine/1.0"))),
        Seen(headers=(("x-client", "client"), ("x-call", "call"), ("user-agent", "mine/1.0"))),
        Settings(headers=(("X-Client", "client"),)),
        doc="Client headers, then the call's, which win for the same name.",
    ),
    _sent(
        "host-override",
        Call(headers=(("Host", "example.org"),)),
        Seen(headers=(("host", "example.org"),)),
        doc="A Host header given by the caller is sent as given.",
    ),
    _sent(
        "repeated-header",
        Call(headers=(("X-Many", "1"), ("X-Many", "2"))),
        Seen(headers=(("x-many", "1"), ("x-many", "2"))),
    ),
    _sent(
        "header-value-non-ascii",
        Call(headers=(("X-Name", "Jürgen"),)),
        Seen(headers=(("x-name", "Jürgen".encode().decode("latin-1")),)),
        doc="A non-ASCII str value goes out as UTF-8 (httpx 0.28 raises UnicodeEncodeError, "
        "requests sends latin-1). The peer shows the bytes as latin-1.",
    ),
    _sent(
        "post-content-type-kept",
        Call(method="POST", body=b'{"a": 1}', headers=(("Content-Type", "application/json"),)),
        Seen(method="POST", body=b'{"a": 1}', headers=(("content-type", "application/json"),)),
    ),
    _sent(
        "delete-without-body",
        Call(method="DELETE"),
        Seen(method="DELETE", absent=("content-length", "transfer-encoding")),
    ),
    _sent(
        "post-without-body",
        Call(method="POST"),
        Seen(method="POST", headers=(("content-length", "0"),)),
        doc="A POST with no body says Content-Length: 0 (servers may need a length).",
    ),
    _refused(
        "crlf-in-header-value",
        Call(headers=(("X-Evil", "a\r\nInjected: 1"),)),
        "LocalProtocolError",
    ),
    _refused("lf-in-header-value", Call(headers=(("X-Evil", "a\nb"),)), "LocalProtocolError"),
    _refused("nul-in-header-value", Call(headers=(("X-Evil", "a\x00b"),)), "LocalProtocolError"),
    _refused("space-in-header-name", Call(headers=(("X Evil", "a"),)), "LocalProtocolError"),
    _refused("colon-in-header-name", Call(headers=(("X-Evil:", "a"),)), "LocalProtocolError"),
    _refused("space-in-method", Call(method="GET /x"), "LocalProtocolError"),
]
