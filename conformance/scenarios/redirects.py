"""Redirects: method and body rules per status, chains and limits, and what must not
follow a redirect to another origin (credentials, the caller's cookies).

Origin 0 and origin 1 are two loopback listeners on different ports: different
origins (RFC 6454), so credentials are stripped between them.
"""

from __future__ import annotations

from conformance.model import (
    Call,
    Credentials,
    Expect,
    Peer,
    Recv,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
)

from ._kit import response, serve

FOLLOW = Settings(follow_redirects=True)
LANDED = response(200, b"landed")
LANDED_RESULT = Result(body=b"landed")


def _redirect(
    status: int, location: str, body: bytes = b"", extra: list[tuple[str, str]] | None = None
) -> bytes:
    return response(status, body, [("Location", location), *(extra or [])], reason="Redirect")


def _method_rule(status: int, method: str, then: str, keeps_body: bool) -> Scenario:
    body = b"payload"
    return Scenario(
        name=f"redirects/{status}-{method.lower()}",
        doc=f"{method} answered with {status} is followed by {then}"
        + (" with the same body." if keeps_body else " without a body."),
        settings=FOLLOW,
        calls=(
            Call(method=method, path="/form", body=body, headers=(("Content-Type", "text/plain"),)),
        ),
        peers=(Peer(connections=(serve(_redirect(status, "/next"), LANDED),)),),
        expect=Expect(
            results=(Result(body=b"landed", history=(status,), url="http://{o0}/next"),),
            connections=(1,),
            seen=(
                (
                    Seen(method=method, target="/form", body=body),
                    Seen(
                        method=then,
                        target="/next",
                        body=body if keeps_body else b"",
                        headers=(("content-length", "7"), ("content-type", "text/plain"))
                        if keeps_body
                        else (),
                        absent=() if keeps_body else ("content-length", "content-type"),
                    ),
                ),
            ),
        ),
    )


def _cross_origin(
    name: str,
    settings: Settings,
    call: Call,
    kept: tuple[tuple[str, str], ...],
    stripped: tuple[str, ...],
    doc: str,
) -> Scenario:
    return Scenario(
        name=f"redirects/{name}",
        doc=doc,
        settings=settings,
        calls=(call,),
        peers=(
            Peer(connections=(serve(_redirect(302, "http://{o1}/there")),)),
            Peer(connections=(serve(LANDED),)),
        ),
        expect=Expect(
            results=(Result(body=b"landed", history=(302,), url="http://{o1}/there"),),
            connections=(1, 1),
            seen=(
                (Seen(),),
                (Seen(target="/there", headers=(("host", "{o1}"), *kept), absent=stripped),),
            ),
        ),
    )


SECRET = Credentials("basic", "user", "secret")
BASIC_VALUE = "Basic dXNlcjpzZWNyZXQ="

SCENARIOS: list[Scenario] = [
    _method_rule(301, "POST", "GET", False),
    _method_rule(301, "PUT", "PUT", True),
    _method_rule(302, "POST", "GET", False),
    _method_rule(302, "DELETE", "GET", False),
    _method_rule(303, "POST", "GET", False),
    _method_rule(303, "PUT", "GET", False),
    _method_rule(307, "POST", "POST", True),
    _method_rule(307, "PATCH", "PATCH", True),
    _method_rule(308, "POST", "POST", True),
    _method_rule(308, "PUT", "PUT", True),
    Scenario(
        name="redirects/303-head-stays-head",
        settings=FOLLOW,
        calls=(Call(method="HEAD"),),
        peers=(
            Peer(
                connections=(
                    serve(_redirect(303, "/next"), response(200, b"", [("Content-Length", "9")])),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"", history=(303,)),),
            seen=((Seen(method="HEAD"), Seen(method="HEAD", target="/next")),),
        ),
    ),
    Scenario(
        name="redirects/not-followed",
        doc="Without follow_redirects the redirect itself is the answer.",
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "/next", b"moved")),)),),
        expect=Expect(
            results=(
                Result(status=302, body=b"moved", history=(), headers=(("location", "/next"),)),
            ),
            seen=((Seen(),),),
        ),
    ),
    Scenario(
        name="redirects/followed-per-request",
        calls=(Call(follow_redirects=True),),
        peers=(Peer(connections=(serve(_redirect(307, "/next"), LANDED),)),),
        expect=Expect(results=(Result(body=b"landed", history=(307,)),)),
    ),
    Scenario(
        name="redirects/chain",
        settings=FOLLOW,
        calls=(Call(path="/a"),),
        peers=(
            Peer(
                connections=(
                    serve(
                        _redirect(301, "/b"),
                        _redirect(302, "c"),
                        _redirect(307, "../d?x=1"),
                        LANDED,
                    ),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"landed", history=(301, 302, 307), url="http://{o0}/d?x=1"),),
            connections=(1,),
            seen=(
                (Seen(target="/a"), Seen(target="/b"), Seen(target="/c"), Seen(target="/d?x=1")),
            ),
        ),
    ),
    Scenario(
        name="redirects/max-redirects",
        settings=Settings(follow_redirects=True, max_redirects=2),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(_redirect(302, "/1"), _redirect(302, "/2"), _redirect(302, "/3")),
                )
            ),
        ),
        expect=Expect(results=(Result(status=None, error="TooManyRedirects"),), connections=(1,)),
    ),
    Scenario(
        name="redirects/max-redirects-exactly",
        settings=Settings(follow_redirects=True, max_redirects=2),
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "/1"), _redirect(302, "/2"), LANDED),)),),
        expect=Expect(results=(Result(body=b"landed", history=(302, 302)),)),
    ),
    Scenario(
        name="redirects/loop",
        settings=Settings(follow_redirects=True, max_redirects=3),
        calls=(Call(),),
        peers=(Peer(connections=(serve(*[_redirect(302, "/")] * 4),)),),
        expect=Expect(results=(Result(status=None, error="TooManyRedirects"),)),
    ),
    Scenario(
        name="redirects/body-drained-connection-reused",
        doc="A redirect's body is read (not decoded) so its connection can be reused.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "/next", b"x" * 5000), LANDED),)),),
        expect=Expect(results=(LANDED_RESULT,), connections=(1,)),
    ),
    Scenario(
        name="redirects/body-over-drain-limit",
        doc="A redirect body longer than the drain limit (64 KiB) is not read: its "
        "connection is closed and the next hop opens another.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(
            Peer(
                connections=((Recv(), Send(_redirect(302, "/next", b"x" * 100_000))), serve(LANDED))
            ),
        ),
        expect=Expect(results=(LANDED_RESULT,), connections=(2,)),
    ),
    Scenario(
        name="redirects/connection-close",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    (Recv(), Send(_redirect(301, "/next", extra=[("Connection", "close")]))),
                    serve(LANDED),
                )
            ),
        ),
        expect=Expect(results=(LANDED_RESULT,), connections=(2,)),
    ),
    Scenario(
        name="redirects/fragment-kept",
        doc="RFC 9110 §10.2.2: a Location without a fragment inherits the request's.",
        settings=FOLLOW,
        calls=(Call(path="/page#section"),),
        peers=(Peer(connections=(serve(_redirect(302, "/other"), LANDED),)),),
        expect=Expect(
            results=(Result(body=b"landed", url="http://{o0}/other#section"),),
            seen=((Seen(target="/page"), Seen(target="/other")),),
        ),
    ),
    Scenario(
        name="redirects/location-not-followable",
        doc="Only http and https are followed.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "ftp://{o0}/file")),)),),
        expect=Expect(results=(Result(status=None, error="UnsupportedProtocol"),)),
    ),
    Scenario(
        name="redirects/location-invalid",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "http://[::1")),)),),
        expect=Expect(results=(Result(status=None, error="RemoteProtocolError"),)),
    ),
    Scenario(
        name="redirects/location-host-empty-label",
        doc="A Location host DNS cannot carry (an empty label) is the server's fault, "
        "refused before any connection is tried.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "http://a..b/")),)),),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError"),), connections=(1,)
        ),
    ),
    Scenario(
        name="redirects/location-host-label-too-long",
        doc="A 64-character DNS label in a Location (RFC 1035 allows 63).",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "http://" + "a" * 64 + ".example/")),)),),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError"),), connections=(1,)
        ),
    ),
    Scenario(
        name="redirects/location-host-too-long",
        doc="A Location host of 255 characters (RFC 1035 allows 253).",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(_redirect(302, "http://" + "a." * 127 + "a/")),)),),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError"),), connections=(1,)
        ),
    ),
    Scenario(
        name="redirects/no-location",
        doc="A 3xx without Location is an ordinary response.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(Peer(connections=(serve(response(300, b"choose", reason="Multiple Choices")),)),),
        expect=Expect(results=(Result(status=300, body=b"choose", history=()),)),
    ),
    Scenario(
        name="redirects/307-streamed-body",
        doc="A one-shot generator body cannot be sent again after a 307: StreamConsumed, "
        "raised before the second request's head goes out (httpx sends the head first).",
        settings=FOLLOW,
        calls=(Call(method="POST", chunks=(b"a", b"b")),),
        peers=(Peer(connections=(serve(_redirect(307, "/next"), LANDED),)),),
        expect=Expect(
            results=(Result(status=None, error="StreamConsumed"),),
            seen=((Seen(method="POST", body=b"ab"),),),
        ),
    ),
    Scenario(
        name="redirects/303-streamed-body",
        doc="After a 303 the body is dropped, so a generator body is no obstacle.",
        settings=FOLLOW,
        calls=(Call(method="POST", chunks=(b"a", b"b")),),
        peers=(Peer(connections=(serve(_redirect(303, "/next"), LANDED),)),),
        expect=Expect(
            results=(LANDED_RESULT,),
            seen=(
                (
                    Seen(method="POST", body=b"ab", headers=(("transfer-encoding", "chunked"),)),
                    Seen(target="/next", absent=("transfer-encoding", "content-length")),
                ),
            ),
        ),
    ),
    Scenario(
        name="redirects/set-cookie-on-redirect",
        doc="A cookie set by a redirect response goes out with the next hop.",
        settings=FOLLOW,
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(_redirect(302, "/next", extra=[("Set-Cookie", "hop=1; Path=/")]), LANDED),
                )
            ),
        ),
        expect=Expect(
            results=(LANDED_RESULT,),
            seen=(
                (Seen(absent=("cookie",)), Seen(target="/next", headers=(("cookie", "hop=1"),))),
            ),
            cookies=(("hop", "1"),),
        ),
    ),
    _cross_origin(
        "cross-origin-strips-authorization-header",
        FOLLOW,
        Call(headers=(("Authorization", "Bearer token"), ("X-Custom", "kept"))),
        (("x-custom", "kept"),),
        ("authorization",),
        "An Authorization header given by the caller stays with its origin.",
    ),
    _cross_origin(
        "cross-origin-strips-basic-auth",
        Settings(follow_redirects=True, auth=SECRET),
        Call(),
        (),
        ("authorization",),
        "auth= credentials are not sent to another origin either.",
    ),
    _cross_origin(
        "cross-origin-strips-cookie-header",
        FOLLOW,
        Call(headers=(("Cookie", "session=s3cret"),)),
        (),
        ("cookie",),
        "A Cookie header written by the caller is a credential: stripped too.",
    ),
    _cross_origin(
        "cross-origin-strips-proxy-authorization",
        FOLLOW,
        Call(headers=(("Proxy-Authorization", "Basic eDp5"),)),
        (),
        ("proxy-authorization",),
        "Proxy-Authorization never follows a redirect to another origin.",
    ),
    _cross_origin(
        "cross-origin-jar-cookies-follow-host",
        Settings(follow_redirects=True, cookies=(("jar", "1"),)),
        Call(),
        (("cookie", "jar=1"),),
        (),
        "Jar cookies follow cookie rules, not origin rules: the same host on another "
        "port gets them (RFC 6265 §8.5: cookies do not isolate by port).",
    ),
    Scenario(
        name="redirects/other-host-strips-authorization",
        doc="Another host name for the same listener still counts as another origin.",
        settings=Settings(follow_redirects=True, auth=SECRET),
        calls=(Call(),),
        peers=(
            Peer(connections=(serve(_redirect(302, "http://{o1}/there")),)),
            Peer(host="localhost", connections=(serve(LANDED),)),
        ),
        expect=Expect(
            results=(Result(body=b"landed", url="http://{o1}/there"),),
            seen=(
                (Seen(headers=(("authorization", BASIC_VALUE),)),),
                (Seen(target="/there", absent=("authorization",)),),
            ),
        ),
    ),
    Scenario(
        name="redirects/same-origin-keeps-authorization",
        settings=Settings(follow_redirects=True, auth=SECRET),
        calls=(Call(headers=(("Cookie", "mine=1"),)),),
        peers=(Peer(connections=(serve(_redirect(302, "http://{o0}/again"), LANDED),)),),
        expect=Expect(
            results=(LANDED_RESULT,),
            seen=(
                (
                    Seen(headers=(("authorization", BASIC_VALUE),)),
                    Seen(
                        target="/again",
                        headers=(("authorization", BASIC_VALUE), ("cookie", "mine=1")),
                    ),
                ),
            ),
        ),
    ),
    Scenario(
        name="redirects/stripped-stays-stripped",
        doc="Credentials removed at one hop do not come back when the chain returns home.",
        settings=FOLLOW,
        calls=(Call(headers=(("Authorization", "Bearer token"),)),),
        peers=(
            Peer(connections=(serve(_redirect(302, "http://{o1}/away"), LANDED),)),
            Peer(connections=(serve(_redirect(302, "http://{o0}/home")),)),
        ),
        expect=Expect(
            results=(Result(body=b"landed", history=(302, 302), url="http://{o0}/home"),),
            seen=(
                (
                    Seen(headers=(("authorization", "Bearer token"),)),
                    Seen(target="/home", absent=("authorization",)),
                ),
                (Seen(target="/away", absent=("authorization",)),),
            ),
        ),
    ),
]
