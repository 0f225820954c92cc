"""Basic and Digest authentication (RFC 7617, RFC 7616).

Digest answers are computed here independently with hashlib: the drivers install a
deterministic random source, so conch's cnonce is always the hex of bytes 0..7.
"""

from __future__ import annotations

import base64
import hashlib

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

CNONCE = bytes(range(8)).hex()  # DIGEST_CNONCE_BYTES of the installed random source
USER, PASSWORD = "user", "pass word"
DIGEST = Credentials("digest", USER, PASSWORD)
BASIC = Credentials("basic", USER, PASSWORD)
OK = response(200, b"welcome")
WELCOME = Result(body=b"welcome")

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}


def _h(algorithm: str, text: str) -> str:
    return _HASHES[algorithm.removesuffix("-SESS")](text.encode()).hexdigest()


def digest_answer(
    *,
    nonce: str,
    realm: str = "conch",
    uri: str = "/",
    method: str = "GET",
    algorithm: str = "MD5",
    qop: str | None = "auth",
    opaque: str | None = None,
    nc: int = 1,
    body: bytes = b"",
    username: str = USER,
    password: str = PASSWORD,
) -> str:
    """The Authorization value a client must send (field order as httpx sends it)."""
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    if algorithm.endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{CNONCE}")
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + _h(algorithm, body.decode("latin-1"))
    ha2 = _h(algorithm, a2)
    count = f"{nc:08x}"
    if qop:
        answer = _h(algorithm, f"{ha1}:{nonce}:{count}:{CNONCE}:{qop}:{ha2}")
    else:
        answer = _h(algorithm, f"{ha1}:{nonce}:{ha2}")

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    parts = [
        f"username={quoted(username)}",
        f"realm={quoted(realm)}",
        f"nonce={quoted(nonce)}",
        f"uri={quoted(uri)}",
        f"response={quoted(answer)}",
        f"algorithm={algorithm}",
    ]
    if opaque is not None:
        parts.append(f"opaque={quoted(opaque)}")
    if qop:
        parts += [f"qop={qop}", f"nc={count}"]
    if qop or algorithm.endswith("-SESS"):
        parts.append(f"cnonce={quoted(CNONCE)}")
    return "Digest " + ", ".join(parts)


def challenge(
    value: str, extra: list[tuple[str, str]] | None = None, body: bytes = b"denied"
) -> bytes:
    return response(401, body, [("WWW-Authenticate", value), *(extra or [])], reason="Unauthorized")


def _digest_case(
    name: str,
    header: str,
    answer: str,
    *,
    method: str = "GET",
    path: str = "/",
    body: bytes | None = None,
    doc: str = "",
) -> Scenario:
    return Scenario(
        name=f"auth/digest-{name}",
        doc=doc,
        settings=Settings(auth=DIGEST),
        calls=(Call(method=method, path=path, body=body),),
        peers=(Peer(connections=(serve(challenge(header), OK),)),),
        expect=Expect(
            results=(Result(body=b"welcome", history=(401,)),),
            connections=(1,),
            seen=(
                (
                    Seen(method=method, target=path, absent=("authorization",)),
                    Seen(method=method, target=path, headers=(("authorization", answer),)),
                ),
            ),
        ),
    )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SCENARIOS: list[Scenario] = [
    _digest_case(
        "md5-auth",
        'Digest realm="conch", nonce="n-1", qop="auth", opaque="op-aque"',
        digest_answer(nonce="n-1", opaque="op-aque", uri="/private?q=1"),
        path="/private?q=1",
        doc="The uri field is the request target, query included.",
    ),
    _digest_case(
        "sha256",
        'Digest realm="conch", nonce="n-2", qop="auth", algorithm=SHA-256',
        digest_answer(nonce="n-2", algorithm="SHA-256"),
    ),
    _digest_case(
        "sha512",
        'Digest realm="conch", nonce="n-2b", qop="auth", algorithm=SHA-512',
        digest_answer(nonce="n-2b", algorithm="SHA-512"),
    ),
    _digest_case(
        "md5-sess",
        'Digest realm="conch", nonce="n-3", qop="auth", algorithm=MD5-sess',
        digest_answer(nonce="n-3", algorithm="MD5-SESS"),
    ),
    _digest_case(
        "rfc2069-no-qop",
        'Digest realm="conch", nonce="n-4"',
        digest_answer(nonce="n-4", qop=None),
        doc="No qop: the RFC 2069 form, with neither nc nor cnonce.",
    ),
    _digest_case(
        "qop-list",
        'Digest realm="conch", nonce="n-5", qop="auth-int, auth"',
        digest_answer(nonce="n-5"),
        doc="When offered both, qop=auth is chosen.",
    ),
    _digest_case(
        "auth-int",
        'Digest realm="conch", nonce="n-6", qop="auth-int"',
        digest_answer(nonce="n-6", qop="auth-int", method="POST", body=b"the body"),
        method="POST",
        body=b"the body",
        doc="auth-int hashes the request body.",
    ),
    _digest_case(
        "escaped-realm",
        'Digest realm="a \\"quoted\\" realm", nonce="n-7", qop="auth"',
        digest_answer(nonce="n-7", realm='a "quoted" realm'),
        doc="Quoted-string escapes are undone for hashing and redone when echoed.",
    ),
    _digest_case(
        "case-insensitive-scheme",
        'DIGEST Realm="conch", NONCE="n-8", QOP="auth"',
        digest_answer(nonce="n-8"),
    ),
    _digest_case(
        "after-basic-challenge",
        'Basic realm="conch", Digest realm="conch", nonce="n-9", qop="auth"',
        digest_answer(nonce="n-9"),
        doc="Several challenges in one field: the Digest one is answered.",
    ),
    Scenario(
        name="auth/digest-separate-challenge-fields",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(
                        challenge(
                            'Basic realm="x"',
                            [
                                (
                                    "WWW-Authenticate",
                                    'Digest realm="conch", nonce="n-10", qop="auth"',
                                )
                            ],
                        ),
                        OK,
                    ),
                )
            ),
        ),
        expect=Expect(
            results=(WELCOME,),
            seen=((Seen(), Seen(headers=(("authorization", digest_answer(nonce="n-10")),))),),
        ),
    ),
    Scenario(
        name="auth/digest-stale-nonce",
        doc="stale=true: the credentials were right, the nonce expired; one new try.",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(
                        challenge('Digest realm="conch", nonce="old", qop="auth"'),
                        challenge('Digest realm="conch", nonce="new", qop="auth", stale=true'),
                        OK,
                    ),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"welcome", history=(401, 401)),),
            seen=(
                (
                    Seen(absent=("authorization",)),
                    Seen(headers=(("authorization", digest_answer(nonce="old")),)),
                    Seen(headers=(("authorization", digest_answer(nonce="new")),)),
                ),
            ),
        ),
    ),
    Scenario(
        name="auth/digest-wrong-password",
        doc="A second challenge for the same nonce: the 401 is the answer, no loop.",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(
                        challenge('Digest realm="conch", nonce="n-11", qop="auth"'),
                        challenge('Digest realm="conch", nonce="n-11", qop="auth"', body=b"again"),
                    ),
                )
            ),
        ),
        expect=Expect(
            results=(Result(status=401, body=b"again", history=(401,)),),
            connections=(1,),
        ),
    ),
    Scenario(
        name="auth/digest-reused-for-next-request",
        doc="After one challenge, the next request answers it up front with nc=2.",
        settings=Settings(auth=DIGEST),
        calls=(Call(), Call(path="/again")),
        peers=(
            Peer(
                connections=(
                    serve(challenge('Digest realm="conch", nonce="n-12", qop="auth"'), OK, OK),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"welcome", history=(401,)), Result(body=b"welcome", history=())),
            seen=(
                (
                    Seen(absent=("authorization",)),
                    Seen(headers=(("authorization", digest_answer(nonce="n-12")),)),
                    Seen(
                        target="/again",
                        headers=(
                            ("authorization", digest_answer(nonce="n-12", uri="/again", nc=2)),
                        ),
                    ),
                ),
            ),
        ),
    ),
    Scenario(
        name="auth/digest-challenge-closes-connection",
        doc="A 401 with Connection: close: the answer goes out on a new connection.",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(),
                        Send(
                            challenge(
                                'Digest realm="conch", nonce="n-13"', [("Connection", "close")]
                            )
                        ),
                    ),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"welcome", history=(401,)),),
            connections=(2,),
            seen=(
                (
                    Seen(connection=0),
                    Seen(
                        connection=1,
                        headers=(("authorization", digest_answer(nonce="n-13", qop=None)),),
                    ),
                ),
            ),
        ),
    ),
    Scenario(
        name="auth/digest-basic-only-challenge",
        doc="Digest credentials and only a Basic challenge: the 401 is returned.",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(Peer(connections=(serve(challenge('Basic realm="conch"')),)),),
        expect=Expect(
            results=(Result(status=401, body=b"denied"),),
            seen=((Seen(absent=("authorization",)),),),
        ),
    ),
    Scenario(
        name="auth/digest-no-challenge-needed",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(results=(WELCOME,), seen=((Seen(absent=("authorization",)),),)),
    ),
    Scenario(
        name="auth/digest-missing-nonce",
        doc="A Digest challenge without a nonce is the server's error.",
        settings=Settings(auth=DIGEST),
        calls=(Call(),),
        peers=(Peer(connections=(serve(challenge('Digest realm="conch", qop="auth"')),)),),
        expect=Expect(results=(Result(status=None, error="RemoteProtocolError"),)),
    ),
    Scenario(
        name="auth/digest-streamed-body",
        doc="A generator body is gone after the first try: the answer to the challenge "
        "cannot be sent (StreamConsumed), as in httpx, but conch refuses before the "
        "second request's head goes out.",
        settings=Settings(auth=DIGEST),
        calls=(Call(method="POST", chunks=(b"a", b"b")),),
        peers=(
            Peer(
                connections=(
                    serve(challenge('Digest realm="conch", nonce="n-14", qop="auth"'), OK),
                )
            ),
        ),
        expect=Expect(
            results=(Result(status=None, error="StreamConsumed"),),
            seen=((Seen(method="POST", body=b"ab"),),),
        ),
    ),
    Scenario(
        name="auth/basic",
        settings=Settings(auth=BASIC),
        calls=(Call(),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(WELCOME,),
            seen=((Seen(headers=(("authorization", _basic(USER, PASSWORD)),)),),),
        ),
    ),
    Scenario(
        name="auth/basic-per-request",
        doc="auth= on the request wins over the client's.",
        settings=Settings(auth=BASIC),
        calls=(Call(auth=Credentials("basic", "other", "pw")),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(WELCOME,), seen=((Seen(headers=(("authorization", _basic("other", "pw")),)),),)
        ),
    ),
    Scenario(
        name="auth/basic-utf8",
        calls=(Call(auth=Credentials("basic", "jürgen", "pässwörd")),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(WELCOME,),
            seen=((Seen(headers=(("authorization", _basic("jürgen", "pässwörd")),)),),),
        ),
    ),
    Scenario(
        name="auth/basic-rejected",
        doc="Basic sends its credentials up front; a 401 is simply returned.",
        settings=Settings(auth=BASIC),
        calls=(Call(),),
        peers=(Peer(connections=(serve(challenge('Basic realm="conch"')),)),),
        expect=Expect(results=(Result(status=401, body=b"denied", history=()),), connections=(1,)),
    ),
    Scenario(
        name="auth/basic-over-explicit-header",
        doc="auth= replaces an Authorization header given by hand.",
        settings=Settings(auth=BASIC),
        calls=(Call(headers=(("Authorization", "Bearer x"),)),),
        peers=(Peer(connections=(serve(OK),)),),
        expect=Expect(
            results=(WELCOME,),
            seen=((Seen(headers=(("authorization", _basic(USER, PASSWORD)),)),),),
        ),
    ),
]
