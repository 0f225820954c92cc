"""The request on the wire: request line, target encoding, headers as given or merged,
and requests refused before a byte is sent (header injection, control characters in
header values however they got there: the call, a cookie, an auth scheme; HTTP/1.1
and HTTP/2 alike)."""

from __future__ import annotations

from conformance.model import (
    Call,
    Credentials,
    Expect,
    H2Reply,
    Peer,
    Recv,
    Result,
    Scenario,
    Seen,
    Settings,
)

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


def _refused(
    name: str, call: Call, error: str, doc: str = "", message: str = "", h2: bool = False
) -> Scenario:
    refused = Result(status=None, error=error, message=message) if message else None
    return Scenario(
        name=f"requests/refused-{name}",
        doc=doc or "Refused before anything is sent: no connection is even opened.",
        settings=Settings(http2_prior_knowledge=h2),
        calls=(call, Call(path="/after")),
        peers=(
            Peer(connections=((Recv(), H2Reply(body=b"ok")),), h2=True)
            if h2
            else Peer(connections=(serve(OK),)),
        ),
        expect=Expect(
            results=(refused or Result(status=None, error=error), FINE),
            connections=(1,),
            seen=((Seen(target="/after"),),),
        ),
    )


def _control(name: str, char: str, *, h2: bool = False) -> Scenario:
    return _refused(
        f"{name}-in-header-value" + ("-h2" if h2 else ""),
        Call(headers=(("X-Evil", f"a{char}b"),)),
        "LocalProtocolError",
        doc="Every C0 control but HTAB, and DEL, is refused in a value (RFC 9110 §5.5); "
        "the message names the header, never the value.",
        message="header 'X-Evil' value contains",
        h2=h2,
    )


CHALLENGE = response(
    401,
    b"denied",
    [("WWW-Authenticate", 'Digest realm="conch", nonce="n-1", qop="auth"')],
    reason="Unauthorized",
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
        "target-extension-asterisk",
        Call(method="OPTIONS", path="/ignored", target="*"),
        Seen(method="OPTIONS", target="*"),
        doc="The 'target' request extension is sent as is: OPTIONS * (RFC 9112 §3.2.4).",
    ),
    _sent(
        "target-extension-absolute-form",
        Call(path="/ignored", target="http://example.org/x?y"),
        Seen(target="http://example.org/x?y"),
        doc="An absolute-form target from the 'target' extension, as httpcore sends it.",
    ),
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
    _control("vt", "\x0b"),
    _control("ff", "\x0c"),
    _control("backspace", "\x08"),
    _control("esc", "\x1b"),
    _control("soh", "\x01"),
    _control("del", "\x7f"),
    _control("vt", "\x0b", h2=True),
    _control("del", "\x7f", h2=True),
    _sent(
        "tab-in-header-value",
        Call(headers=(("X-Tab", "a\tb"),)),
        Seen(headers=(("x-tab", "a\tb"),)),
        doc="HTAB is the one control a field value may hold.",
    ),
    Scenario(
        name="requests/refused-control-in-cookie",
        doc="A cookie given to the client holding a control character: the Cookie header "
        "it would make is refused like any other header, before a connection opens.",
        settings=Settings(cookies=(("session", "a\x01b"),)),
        calls=(Call(),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(
                Result(
                    status=None,
                    error="LocalProtocolError",
                    message="header 'Cookie' value contains",
                ),
            ),
            connections=(0,),
            seen=((),),
        ),
    ),
    Scenario(
        name="requests/refused-control-in-digest-username",
        doc="Digest echoes the username in its Authorization header: a control character "
        "there is refused when the answer to the challenge is built; nothing more is sent.",
        calls=(Call(auth=Credentials("digest", "us\x01er", "secret")),),
        peers=(Peer(connections=(serve(CHALLENGE, OK),)),),
        expect=Expect(
            results=(
                Result(
                    status=None,
                    error="LocalProtocolError",
                    message="header 'Authorization' value contains",
                ),
            ),
            connections=(1,),
            seen=((Seen(absent=("authorization",)),),),
        ),
    ),
]
