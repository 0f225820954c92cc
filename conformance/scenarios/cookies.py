"""Cookies (RFC 6265): Set-Cookie stores, Cookie sends back, by domain, path and expiry.

The drivers fix the wall clock at 1_700_000_000 (2023-11-14), so Expires dates are
stable. Origin 0 is 127.0.0.1; a second host is "localhost" (the same loopback).
"""

from __future__ import annotations

from conformance.model import Call, Expect, Peer, Result, Scenario, Seen, Settings

from ._kit import response, serve

OK = response(200, b"ok")
FINE = Result(body=b"ok")
PER_DOMAIN = 50  # sansio.cookies.MAX_COOKIES_PER_DOMAIN
MAX_SIZE = 4096  # sansio.cookies.MAX_COOKIE_SIZE


def setting(*cookies: str, status: int = 200) -> bytes:
    return response(status, b"ok", [("Set-Cookie", value) for value in cookies])


def _then(
    name: str,
    set_cookie: list[str],
    paths: list[str],
    sent: list[str | None],
    *,
    first: str = "/",
    jar: tuple[tuple[str, str], ...] | None = None,
    doc: str = "",
) -> Scenario:
    """A response to `first` sets cookies; requests to `paths` then carry `sent`."""
    seen = [Seen(target=first, absent=("cookie",))]
    for path, value in zip(paths, sent, strict=True):
        if value is None:
            seen.append(Seen(target=path, absent=("cookie",)))
        else:
            seen.append(Seen(target=path, headers=(("cookie", value),)))
    return Scenario(
        name=f"cookies/{name}",
        doc=doc,
        calls=(Call(path=first), *(Call(path=path) for path in paths)),
        peers=(Peer(connections=(serve(setting(*set_cookie), *[OK] * len(paths)),)),),
        expect=Expect(
            results=(FINE,) * (1 + len(paths)),
            seen=(tuple(seen),),
            cookies=jar if jar is not None else (),
        ),
    )


SCENARIOS: list[Scenario] = [
    _then("set-then-sent", ["a=1"], ["/next"], ["a=1"], jar=(("a", "1"),)),
    _then(
        "several",
        ["a=1", "b=2; Path=/", "c=3"],
        ["/next"],
        ["a=1; b=2; c=3"],
        jar=(("a", "1"), ("b", "2"), ("c", "3")),
    ),
    _then(
        "path-attribute",
        ["p=1; Path=/docs"],
        ["/docs", "/docs/deep/page", "/other", "/docsx"],
        ["p=1", "p=1", None, None],
        jar=(("p", "1"),),
        doc="Path=/docs matches /docs and below, not /docsx (RFC 6265 §5.1.4).",
    ),
    _then(
        "default-path",
        ["d=1"],
        ["/a/b/other", "/a/c"],
        ["d=1", None],
        first="/a/b/page",
        jar=(("d", "1"),),
        doc="Without Path, the default path is the request path up to its last '/'.",
    ),
    _then(
        "longer-path-first",
        ["short=1; Path=/", "long=2; Path=/x/y"],
        ["/x/y/z"],
        ["long=2; short=1"],
        jar=(("long", "2"), ("short", "1")),
        doc="Cookies with longer paths are listed first (RFC 6265 §5.4).",
    ),
    _then(
        "foreign-domain-rejected",
        ["f=1; Domain=example.com"],
        ["/next"],
        [None],
        doc="A Domain the host does not belong to: the cookie is ignored.",
    ),
    _then(
        "ip-domain-attribute",
        ["i=1; Domain=127.0.0.1"],
        ["/next"],
        ["i=1"],
        jar=(("i", "1"),),
        doc="Domain equal to an IP host is accepted as host-only.",
    ),
    _then(
        "max-age-zero",
        ["m=1; Max-Age=0"],
        ["/next"],
        [None],
        doc="Max-Age=0 expires at once: nothing is stored.",
    ),
    _then(
        "expires-past",
        ["e=1; Expires=Wed, 09 Jun 1999 10:18:14 GMT"],
        ["/next"],
        [None],
    ),
    _then(
        "expires-future",
        ["e=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT"],
        ["/next"],
        ["e=1"],
        jar=(("e", "1"),),
    ),
    _then(
        "max-age-wins-over-expires",
        ["w=1; Expires=Wed, 09 Jun 1999 10:18:14 GMT; Max-Age=600"],
        ["/next"],
        ["w=1"],
        jar=(("w", "1"),),
        doc="RFC 6265 §5.3 step 3: Max-Age takes precedence over Expires.",
    ),
    _then(
        "attributes-ignored",
        ["h=1; HttpOnly; SameSite=Lax; Priority=High"],
        ["/next"],
        ["h=1"],
        jar=(("h", "1"),),
    ),
    _then(
        "quoted-value",
        ['q="a b"'],
        ["/next"],
        ['q="a b"'],
        jar=(("q", '"a b"'),),
    ),
    _then(
        "no-equals-ignored",
        ["garbage", "good=1"],
        ["/next"],
        ["good=1"],
        jar=(("good", "1"),),
    ),
    _then(
        "secure-not-sent-over-http",
        ["s=1; Secure", "plain=2"],
        ["/next"],
        ["plain=2"],
        jar=(("plain", "2"),),
        doc="A Secure cookie set over plain http is not even stored (RFC 6265bis §5.6).",
    ),
    _then(
        "path-with-trailing-slash",
        ["t=1; Path=/docs/"],
        ["/docs/page", "/docs"],
        ["t=1", None],
        jar=(("t", "1"),),
    ),
    _then(
        "per-domain-at-limit",
        [f"c{i}={i}" for i in range(PER_DOMAIN)],
        ["/next"],
        ["; ".join(f"c{i}={i}" for i in range(PER_DOMAIN))],
        jar=tuple((f"c{i}", str(i)) for i in range(PER_DOMAIN)),
        doc="RFC 6265 §6.1: at least 50 cookies per domain are kept.",
    ),
    _then(
        "per-domain-over-limit",
        [f"c{i}={i}" for i in range(PER_DOMAIN + 1)],
        ["/next"],
        ["; ".join(f"c{i}={i}" for i in range(1, PER_DOMAIN + 1))],
        jar=tuple((f"c{i}", str(i)) for i in range(1, PER_DOMAIN + 1)),
        doc="One more than the per-domain limit: the oldest cookie makes room.",
    ),
    _then(
        "size-at-limit",
        ["s=" + "v" * (MAX_SIZE - 1)],
        ["/next"],
        ["s=" + "v" * (MAX_SIZE - 1)],
        jar=(("s", "v" * (MAX_SIZE - 1)),),
        doc="Name plus value of 4096 bytes is kept (RFC 6265 §6.1).",
    ),
    _then(
        "size-over-limit",
        ["s=" + "v" * MAX_SIZE, "small=1"],
        ["/next"],
        ["small=1"],
        jar=(("small", "1"),),
        doc="A larger cookie is ignored, not truncated (RFC 6265bis §5.6).",
    ),
    _then(
        "host-prefix-needs-secure",
        ["__Host-id=1; Path=/", "ok=1"],
        ["/next"],
        ["ok=1"],
        jar=(("ok", "1"),),
        doc="A __Host- cookie must be Secure (RFC 6265bis §4.1.3.2).",
    ),
    Scenario(
        name="cookies/deleted-by-max-age",
        calls=(Call(), Call(path="/del"), Call(path="/after")),
        peers=(Peer(connections=(serve(setting("x=1"), setting("x=gone; Max-Age=0"), OK),)),),
        expect=Expect(
            results=(FINE,) * 3,
            seen=(
                (
                    Seen(absent=("cookie",)),
                    Seen(target="/del", headers=(("cookie", "x=1"),)),
                    Seen(target="/after", absent=("cookie",)),
                ),
            ),
            cookies=(),
        ),
    ),
    Scenario(
        name="cookies/replaced",
        calls=(Call(), Call(path="/2"), Call(path="/3")),
        peers=(Peer(connections=(serve(setting("v=old"), setting("v=new"), OK),)),),
        expect=Expect(
            results=(FINE,) * 3,
            seen=(
                (
                    Seen(absent=("cookie",)),
                    Seen(target="/2", headers=(("cookie", "v=old"),)),
                    Seen(target="/3", headers=(("cookie", "v=new"),)),
                ),
            ),
            cookies=(("v", "new"),),
        ),
    ),
    Scenario(
        name="cookies/set-on-error-response",
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=(serve(setting("err=1", status=404), OK),)),),
        expect=Expect(
            results=(Result(status=404), FINE),
            seen=((Seen(), Seen(target="/2", headers=(("cookie", "err=1"),))),),
        ),
    ),
    Scenario(
        name="cookies/set-on-streamed-response",
        calls=(Call(read="stream"), Call(path="/2")),
        peers=(Peer(connections=(serve(setting("st=1"), OK),)),),
        expect=Expect(
            results=(FINE, FINE),
            seen=((Seen(), Seen(target="/2", headers=(("cookie", "st=1"),))),),
        ),
    ),
    Scenario(
        name="cookies/other-port-same-host",
        doc="Cookies do not isolate by port (RFC 6265 §8.5).",
        calls=(Call(), Call(origin=1)),
        peers=(Peer(connections=(serve(setting("port=0")),)), Peer(connections=(serve(OK),))),
        expect=Expect(
            results=(FINE, FINE),
            seen=((Seen(),), (Seen(headers=(("cookie", "port=0"),)),)),
        ),
    ),
    Scenario(
        name="cookies/other-host",
        doc="A host-only cookie for 127.0.0.1 is not sent to localhost.",
        calls=(Call(), Call(origin=1)),
        peers=(
            Peer(connections=(serve(setting("host=1")),)),
            Peer(host="localhost", connections=(serve(OK),)),
        ),
        expect=Expect(
            results=(FINE, FINE),
            seen=((Seen(),), (Seen(absent=("cookie",)),)),
        ),
    ),
    Scenario(
        name="cookies/client-cookies",
        doc="Cookies given to the client go to every host.",
        settings=Settings(cookies=(("client", "c"),)),
        calls=(Call(), Call(origin=1)),
        peers=(Peer(connections=(serve(OK),)), Peer(host="localhost", connections=(serve(OK),))),
        expect=Expect(
            results=(FINE, FINE),
            seen=(
                (Seen(headers=(("cookie", "client=c"),)),),
                (Seen(headers=(("cookie", "client=c"),)),),
            ),
        ),
    ),
    Scenario(
        name="cookies/explicit-cookie-header",
        doc="A Cookie header given by the caller is sent as given.",
        calls=(Call(), Call(path="/2", headers=(("Cookie", "mine=1"),))),
        peers=(Peer(connections=(serve(setting("jar=1"), OK),)),),
        expect=Expect(
            results=(FINE, FINE),
            seen=((Seen(), Seen(target="/2", headers=(("cookie", "mine=1"),))),),
        ),
    ),
]
