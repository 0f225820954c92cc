"""Auth schemes: Basic, function, custom flows, Digest (RFC 7616) and netrc."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio import actions as act
from sansio import env
from sansio.auth import (
    DIGEST_CNONCE_BYTES,
    Auth,
    BasicAuth,
    DigestAuth,
    DigestChallenge,
    FunctionAuth,
    NetRCAuth,
    basic_auth_header,
    parse_auth_params,
    parse_digest_challenge,
    parse_netrc,
    split_challenges,
)
from sansio.exceptions import RemoteProtocolError, RequestNotRead
from sansio.flow import send_flow
from sansio.headers import Headers
from sansio.models import Request, Response
from sansio.streams import AsyncByteStream, SyncByteStream

from .test_flow import assert_header, options, play, respond


def drive(auth: Auth, request: Request, *responses: Response) -> tuple[list[Request], bool]:
    """Run `auth.auth_flow`, answering each yielded request with the next response.

    Returns the requests it yielded and whether it finished after the last response.
    """
    flow = auth.auth_flow(request)
    sent = [next(flow)]
    for response in responses:
        try:
            sent.append(flow.send(response))
        except StopIteration:
            return sent, True
    return sent, False


def challenge(request: Request, value: str | list[str], **extra: str) -> Response:
    values = [value] if isinstance(value, str) else value
    headers = [("WWW-Authenticate", v) for v in values] + list(extra.items())
    return Response(401, headers=headers, request=request)


# -- Basic, function and custom schemes --------------------------------------------------


def test_basic_auth_header() -> None:
    request = Request("GET", "https://example.com/")
    sent, _ = drive(BasicAuth("Aladdin", "open sesame"), request)
    assert sent == [request]
    assert request.headers["Authorization"] == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_basic_auth_is_utf8() -> None:
    value = basic_auth_header("jürgen", "pässwörd")
    assert base64.b64decode(value.removeprefix("Basic ")) == "jürgen:pässwörd".encode()
    assert basic_auth_header(b"j\xc3\xbcrgen", b"p") == basic_auth_header("jürgen", "p")


def test_function_auth() -> None:
    def sign(request: Request) -> Request:
        request.headers["X-Signature"] = "signed"
        return request

    request = Request("GET", "https://example.com/")
    sent, finished = drive(FunctionAuth(sign), request, Response(200, request=request))
    assert sent == [request]
    assert finished
    assert request.headers["x-signature"] == "signed"


def test_the_base_auth_changes_nothing() -> None:
    request = Request("GET", "https://example.com/")
    sent, finished = drive(Auth(), request, Response(200, request=request))
    assert sent == [request]
    assert finished
    assert "authorization" not in request.headers


class TokenAuth(Auth):
    """Answers one 401 with the token in its body."""

    requires_request_body = True
    requires_response_body = True

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = "Token " + response.text
            yield request


class Body(SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data


class AsyncBody(AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


def test_sync_auth_flow_reads_bodies_the_scheme_needs() -> None:
    request = Request("POST", "https://example.com/", content=iter([b"up", b"load"]))
    flow = TokenAuth().sync_auth_flow(request)
    assert next(flow) is request
    assert request.content == b"upload"
    retry = flow.send(Response(401, stream=Body(b"abc"), request=request))
    assert retry.headers["authorization"] == "Token abc"
    final = Response(200, stream=Body(b"ok"), request=request)
    with pytest.raises(StopIteration):
        flow.send(final)
    assert final.content == b"ok"


def test_sync_auth_flow_without_body_requirements_reads_nothing() -> None:
    request = Request("POST", "https://example.com/", content=iter([b"x"]))
    flow = BasicAuth("a", "b").sync_auth_flow(request)
    next(flow)
    response = Response(200, stream=Body(b"ok"), request=request)
    with pytest.raises(StopIteration):
        flow.send(response)
    with pytest.raises(RequestNotRead):
        _ = request.content
    assert not response.is_stream_consumed


def test_async_auth_flow_reads_bodies_the_scheme_needs() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"async body"

    async def main() -> None:
        request = Request("POST", "https://example.com/", content=chunks())
        flow = TokenAuth().async_auth_flow(request)
        assert await flow.__anext__() is request
        assert request.content == b"async body"
        retry = await flow.asend(Response(401, stream=AsyncBody(b"xyz"), request=request))
        assert retry.headers["authorization"] == "Token xyz"
        with pytest.raises(StopAsyncIteration):
            await flow.asend(Response(200, stream=AsyncBody(b""), request=request))

        plain = BasicAuth("a", "b").async_auth_flow(Request("GET", "https://example.com/"))
        await plain.__anext__()
        untouched = Response(200, stream=AsyncBody(b"x"), request=request)
        with pytest.raises(StopAsyncIteration):
            await plain.asend(untouched)
        assert not untouched.is_stream_consumed

    asyncio.run(main())


# -- auth-params and challenges ----------------------------------------------------------


def test_parse_auth_params() -> None:
    assert parse_auth_params('realm="a b", NONCE=xyz , qop="auth,auth-int",') == {
        "realm": "a b",
        "nonce": "xyz",
        "qop": "auth,auth-int",
    }
    assert parse_auth_params(r'a="q\"uote\\d", b = "", c=') == {"a": 'q"uote\\d', "b": "", "c": ""}
    assert parse_auth_params("  ,, ") == {}


@pytest.mark.parametrize(
    "text",
    ["novalue", 'a="unterminated', 'a="ends in backslash\\', "=x", 'a b="c"', 'a="b"junk, c=d'],
)
def test_parse_auth_params_rejects_malformed_input(text: str) -> None:
    with pytest.raises(ValueError):
        parse_auth_params(text)


_names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@given(st.dictionaries(_names, st.text(), max_size=5))
def test_quoted_auth_params_round_trip(params: dict[str, str]) -> None:
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = ", ".join(f"{name}={quote(value)}" for name, value in params.items())
    assert parse_auth_params(text) == params


def test_split_challenges() -> None:
    assert split_challenges('Basic realm="a, b", Digest realm="x", nonce="y"') == [
        ("Basic", 'realm="a, b"'),
        ("Digest", 'realm="x", nonce="y"'),
    ]
    assert split_challenges('Negotiate, Bearer realm = "r", error=x, NTLM abc==') == [
        ("Negotiate", ""),
        ("Bearer", 'realm = "r", error=x'),
        ("NTLM", "abc=="),
    ]
    assert split_challenges('stray=1, Digest\trealm="r"') == [("Digest", 'realm="r"')]
    assert split_challenges('Digest realm="\\"quoted, comma\\""') == [
        ("Digest", 'realm="\\"quoted, comma\\""')
    ]
    assert split_challenges(" , ") == []


def test_parse_digest_challenge() -> None:
    parsed = parse_digest_challenge(
        'realm="r", nonce="n", algorithm=sha-256-sess, opaque="o", qop="auth-int, auth", '
        "stale=TRUE, userhash=true"
    )
    assert parsed == DigestChallenge(
        realm="r",
        nonce="n",
        algorithm="SHA-256-SESS",
        opaque="o",
        qop=("auth-int", "auth"),
        stale=True,
        userhash=True,
    )
    assert parse_digest_challenge('realm="", nonce=n') == DigestChallenge(realm="", nonce="n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('realm="r"', "realm and nonce"),
        ('nonce="n"', "realm and nonce"),
        ('realm="r", nonce="n', "Malformed"),
        ("abc==", "Malformed"),
        ('realm="r", nonce="n", algorithm=SHA-512-256', "algorithm"),
        ('realm="r", nonce="n", algorithm=MD4', "algorithm"),
        ('realm="r", nonce="n", qop="auth-conf"', "qop"),
    ],
)
def test_unusable_digest_challenges(text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse_digest_challenge(text)


# -- Digest ----------------------------------------------------------------------------

# RFC 7616 section 3.9.1.
RFC_USER = "Mufasa"
RFC_PASSWORD = "Circle of Life"
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_URL = "http://www.example.org/dir/index.html"
RFC_CHALLENGE = (
    f'Digest realm="{RFC_REALM}", qop="auth, auth-int", algorithm={{algorithm}}, '
    f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
)

HASHES = {"MD5": "md5", "SHA": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}


def reference_response(
    algorithm: str,
    *,
    username: str = RFC_USER,
    password: str = RFC_PASSWORD,
    realm: str = RFC_REALM,
    nonce: str = RFC_NONCE,
    method: str = "GET",
    uri: str = "/dir/index.html",
    nc: str = "00000001",
    cnonce: str,
    qop: str | None = "auth",
    body: bytes = b"",
) -> str:
    """RFC 7616 section 3.4.1, written out independently with hashlib."""
    name = HASHES[algorithm.upper().removesuffix("-SESS")]

    def h(data: str | bytes) -> str:
        return hashlib.new(name, data.encode() if isinstance(data, str) else data).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}:{h(body)}" if qop == "auth-int" else f"{method}:{uri}"
    if qop is None:
        return h(f"{ha1}:{nonce}:{h(a2)}")
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{h(a2)}")


def test_the_reference_computation_reproduces_rfc_7616() -> None:
    assert reference_response("MD5", cnonce=RFC_CNONCE) == "8ca523f5e9506fed4657c9700eebdbec"
    assert (
        reference_response("SHA-256", cnonce=RFC_CNONCE)
        == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


FIXED = bytes(range(0xA0, 0xA0 + DIGEST_CNONCE_BYTES))
FIXED_CNONCE = FIXED.hex()


def fixed_random(n: int) -> bytes:
    assert n == DIGEST_CNONCE_BYTES
    return FIXED


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc_7616_example_exchange(algorithm: str) -> None:
    request = Request("GET", RFC_URL)
    auth = DigestAuth(RFC_USER, RFC_PASSWORD, random_bytes=fixed_random)
    sent, _ = drive(auth, request, challenge(request, RFC_CHALLENGE.format(algorithm=algorithm)))
    assert len(sent) == 2
    expected = reference_response(algorithm, cnonce=FIXED_CNONCE)
    assert request.headers["Authorization"] == (
        f'Digest username="Mufasa", realm="http-auth@example.org", nonce="{RFC_NONCE}", '
        f'uri="/dir/index.html", response="{expected}", algorithm={algorithm}, '
        f'opaque="{RFC_OPAQUE}", qop=auth, nc=00000001, cnonce="{FIXED_CNONCE}"'
    )


@pytest.mark.parametrize(
    "algorithm",
    ["MD5", "MD5-sess", "SHA", "SHA-sess", "SHA-256", "SHA-256-sess", "SHA-512", "SHA-512-sess"],
)
def test_every_algorithm(algorithm: str) -> None:
    request = Request("GET", "https://example.com/dir/index.html?q=1")
    auth = DigestAuth("user", "pass", random_bytes=fixed_random)
    drive(
        auth,
        request,
        challenge(request, f'Digest realm="r", nonce="n", algorithm={algorithm}, qop=auth'),
    )
    params = parse_auth_params(request.headers["authorization"].removeprefix("Digest "))
    assert params["algorithm"] == algorithm.upper()
    assert params["uri"] == "/dir/index.html?q=1"
    assert params["response"] == reference_response(
        algorithm,
        username="user",
        password="pass",
        realm="r",
        nonce="n",
        uri="/dir/index.html?q=1",
        cnonce=FIXED_CNONCE,
    )


def test_the_cnonce_comes_from_the_installed_random_source() -> None:
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth("u", "p"), request, challenge(request, 'Digest realm="r", nonce="n", qop=auth')
    )
    params = parse_auth_params(request.headers["authorization"].removeprefix("Digest "))
    assert params["cnonce"] == env.current().random_bytes(DIGEST_CNONCE_BYTES).hex()
    assert params["cnonce"] == "0001020304050607"


def test_auth_int_hashes_the_body() -> None:
    body = b'{"a": 1}'
    request = Request("POST", "https://example.com/api", content=body)
    auth = DigestAuth("u", "p", random_bytes=fixed_random)
    assert not auth.requires_request_body
    drive(auth, request, challenge(request, 'Digest realm="r", nonce="n", qop="auth-int"'))
    params = parse_auth_params(request.headers["authorization"].removeprefix("Digest "))
    assert params["qop"] == "auth-int"
    assert params["response"] == reference_response(
        "MD5",
        username="u",
        password="p",
        realm="r",
        nonce="n",
        method="POST",
        uri="/api",
        cnonce=FIXED_CNONCE,
        qop="auth-int",
        body=body,
    )
    # Later requests answer up front, so their bodies are wanted in memory first.
    assert auth.requires_request_body


def test_auth_is_preferred_over_auth_int() -> None:
    request = Request("POST", "https://example.com/", content=iter([b"streamed"]))
    auth = DigestAuth("u", "p")
    drive(auth, request, challenge(request, 'Digest realm="r", nonce="n", qop="auth-int,auth"'))
    assert "qop=auth," in request.headers["authorization"]
    assert not auth.requires_request_body


def test_auth_int_needs_the_body_in_memory() -> None:
    request = Request("POST", "https://example.com/", content=iter([b"streamed"]))
    with pytest.raises(RequestNotRead):
        drive(
            DigestAuth("u", "p"),
            request,
            challenge(request, 'Digest realm="r", nonce="n", qop="auth-int"'),
        )


def test_rfc_2069_form_without_qop() -> None:
    request = Request("GET", "https://example.com/x")
    drive(DigestAuth("u", "p"), request, challenge(request, 'Digest realm="r", nonce="n"'))
    expected = reference_response(
        "MD5", username="u", password="p", realm="r", nonce="n", uri="/x", cnonce="", qop=None
    )
    assert request.headers["authorization"] == (
        f'Digest username="u", realm="r", nonce="n", uri="/x", response="{expected}", algorithm=MD5'
    )


def test_a_session_algorithm_without_qop_still_sends_its_cnonce() -> None:
    request = Request("GET", "https://example.com/x")
    auth = DigestAuth("u", "p", random_bytes=fixed_random)
    drive(auth, request, challenge(request, 'Digest realm="r", nonce="n", algorithm=MD5-sess'))
    params = parse_auth_params(request.headers["authorization"].removeprefix("Digest "))
    assert params["cnonce"] == FIXED_CNONCE
    assert "qop" not in params
    assert "nc" not in params
    assert params["response"] == reference_response(
        "MD5-sess",
        username="u",
        password="p",
        realm="r",
        nonce="n",
        uri="/x",
        cnonce=FIXED_CNONCE,
        qop=None,
    )


def nc_of(request: Request) -> str:
    return parse_auth_params(request.headers["authorization"].removeprefix("Digest "))["nc"]


def test_nonce_count_grows_across_requests_and_resets_with_a_new_nonce() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://example.com/1")
    sent, _ = drive(auth, first, challenge(first, 'Digest realm="r", nonce="one", qop=auth'))
    assert len(sent) == 2
    assert nc_of(first) == "00000001"

    # Later requests answer the known challenge up front, counting on.
    for count in (2, 3):
        request = Request("GET", f"https://example.com/{count}")
        sent, finished = drive(auth, request, Response(200, request=request))
        assert sent == [request]
        assert finished
        assert nc_of(request) == f"{count:08x}"

    # Up-front credentials refused for the very nonce they answered: the 401 is final.
    again = Request("GET", "https://example.com/again")
    sent, finished = drive(auth, again, challenge(again, 'Digest realm="r", nonce="one", qop=auth'))
    assert sent == [again]
    assert finished
    assert nc_of(again) == "00000004"

    # A new nonce resets the count.
    fresh = Request("GET", "https://example.com/fresh")
    sent, _ = drive(auth, fresh, challenge(fresh, 'Digest realm="r", nonce="two", qop=auth'))
    assert len(sent) == 2
    assert nc_of(fresh) == "00000001"


def test_a_known_challenge_is_answered_up_front_only_on_its_origin() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://a.example/")
    drive(auth, first, challenge(first, 'Digest realm="r", nonce="n", qop=auth'))
    for url in ("https://b.example/", "http://a.example/", "https://a.example:8443/"):
        other = Request("GET", url)
        sent, finished = drive(auth, other, Response(200, request=other))
        assert sent == [other]
        assert finished
        assert "authorization" not in other.headers
    same = Request("GET", "https://A.example:443/page")
    drive(auth, same, Response(200, request=same))
    assert nc_of(same) == "00000002"


def test_the_same_nonce_from_another_origin_starts_a_new_count() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://a.example/")
    drive(auth, first, challenge(first, 'Digest realm="r", nonce="n", qop=auth'))
    other = Request("GET", "https://b.example/")
    sent, _ = drive(auth, other, challenge(other, 'Digest realm="r", nonce="n", qop=auth'))
    assert len(sent) == 2
    assert nc_of(other) == "00000001"


def test_the_same_nonce_rechallenged_keeps_counting() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://example.com/")
    drive(auth, first, challenge(first, 'Digest realm="r", nonce="n", qop=auth'))
    second = Request("GET", "https://example.com/")
    sent, _ = drive(
        auth,
        second,
        challenge(second, 'Digest realm="r", nonce="n", qop=auth, stale=true'),
    )
    assert len(sent) == 2
    assert nc_of(second) == "00000003"


def test_stale_nonce_is_retried_once_and_not_more() -> None:
    request = Request("GET", "https://example.com/")
    auth = DigestAuth("u", "p")
    sent, finished = drive(
        auth,
        request,
        challenge(request, 'Digest realm="r", nonce="a", qop=auth'),
        challenge(request, 'Digest realm="r", nonce="b", qop=auth, stale=true'),
        challenge(request, 'Digest realm="r", nonce="c", qop=auth, stale=true'),
    )
    assert len(sent) == 3
    assert finished
    assert 'nonce="b"' in request.headers["authorization"]


def test_stale_retry_after_an_up_front_answer() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://example.com/")
    drive(auth, first, challenge(first, 'Digest realm="r", nonce="a", qop=auth'))
    second = Request("GET", "https://example.com/")
    sent, finished = drive(
        auth,
        second,
        challenge(second, 'Digest realm="r", nonce="b", qop=auth, stale=true'),
        Response(200, request=second),
    )
    assert len(sent) == 2
    assert finished
    assert 'nonce="b"' in second.headers["authorization"]


def test_an_expired_nonce_without_stale_is_answered_once() -> None:
    auth = DigestAuth("u", "p")
    first = Request("GET", "https://example.com/")
    drive(auth, first, challenge(first, 'Digest realm="r", nonce="a", qop=auth'))
    second = Request("GET", "https://example.com/")
    sent, finished = drive(
        auth,
        second,
        challenge(second, 'Digest realm="r", nonce="b", qop=auth'),
        challenge(second, 'Digest realm="r", nonce="c", qop=auth'),
    )
    assert len(sent) == 2
    assert finished


def test_wrong_credentials_give_back_the_401() -> None:
    request = Request("GET", "https://example.com/")
    sent, finished = drive(
        DigestAuth("u", "wrong"),
        request,
        challenge(request, 'Digest realm="r", nonce="a", qop=auth'),
        challenge(request, 'Digest realm="r", nonce="a2", qop=auth'),
    )
    assert len(sent) == 2
    assert finished


def test_wrong_credentials_through_the_flow_return_the_401() -> None:
    final = play(
        send_flow(Request("GET", "https://example.com/"), options(auth=DigestAuth("u", "bad"))),
        [
            (act.SendRequest, respond(401, {"WWW-Authenticate": 'Digest realm="r", nonce="a"'})),
            act.ReadResponse,
            (act.SendRequest, respond(401, {"WWW-Authenticate": 'Digest realm="r", nonce="b"'})),
            act.ReadResponse,
        ],
    )
    assert final.status_code == 401
    assert [r.status_code for r in final.history] == [401]


def test_no_retry_without_a_digest_challenge_or_a_401() -> None:
    request = Request("GET", "https://example.com/")
    sent, finished = drive(DigestAuth("u", "p"), request, challenge(request, 'Basic realm="r"'))
    assert sent == [request]
    assert finished
    sent, finished = drive(DigestAuth("u", "p"), request, Response(403, request=request))
    assert sent == [request]
    assert finished
    assert "authorization" not in request.headers


def test_digest_is_found_among_several_challenges() -> None:
    for values in (
        ['Basic realm="b"', 'Digest realm="d", nonce="n", qop=auth'],
        ['Basic realm="b", Digest realm="d", nonce="n", qop=auth'],
        ['Digest realm="x", nonce="n", algorithm=SHA-512-256', 'Digest realm="d", nonce="n"'],
    ):
        request = Request("GET", "https://example.com/")
        sent, _ = drive(DigestAuth("u", "p"), request, challenge(request, values))
        assert len(sent) == 2
        assert 'realm="d"' in request.headers["authorization"]


def test_only_unusable_digest_challenges_raise_the_first_error() -> None:
    request = Request("GET", "https://example.com/")
    with pytest.raises(RemoteProtocolError, match="algorithm") as info:
        drive(
            DigestAuth("u", "p"),
            request,
            challenge(
                request,
                ['Digest realm="x", nonce="n", algorithm=MD4', 'Digest realm="y"'],
            ),
        )
    assert info.value.request is request


def test_challenge_values_are_escaped_when_echoed() -> None:
    realm = 'evil", response="forged'
    nonce = 'n\\", qop=auth, x="'
    opaque = 'o"\\'
    values = {"realm": realm, "nonce": nonce, "opaque": opaque}
    quoted = {k: v.replace("\\", "\\\\").replace('"', '\\"') for k, v in values.items()}
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth('we"ird\\user', "p"),
        request,
        challenge(
            request,
            f'Digest realm="{quoted["realm"]}", nonce="{quoted["nonce"]}", '
            f'opaque="{quoted["opaque"]}"',
        ),
    )
    header = request.headers["authorization"]
    params = parse_auth_params(header.removeprefix("Digest "))
    assert params["realm"] == realm
    assert params["nonce"] == nonce
    assert params["opaque"] == opaque
    assert params["username"] == 'we"ird\\user'
    assert params["response"] != "forged"
    assert set(params) == {"username", "realm", "nonce", "uri", "response", "algorithm", "opaque"}


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "\n", "\r", "\x00"])
def test_control_characters_in_a_challenge_are_refused(bad: str) -> None:
    request = Request("GET", "https://example.com/")
    # Built the way a wire machine hands over headers it has already checked.
    headers = Headers._from_validated(
        [(b"WWW-Authenticate", f'Digest realm="r{bad}", nonce="n"'.encode())]
    )
    with pytest.raises(RemoteProtocolError, match="control character") as info:
        drive(DigestAuth("u", "p"), request, Response(401, headers=headers, request=request))
    assert info.value.request is request
    assert "authorization" not in request.headers


def test_userhash() -> None:
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth("Mufasa", "p"),
        request,
        challenge(request, 'Digest realm="r", nonce="n", userhash=true'),
    )
    params = parse_auth_params(request.headers["authorization"].removeprefix("Digest "))
    assert params["username"] == hashlib.md5(b"Mufasa:r").hexdigest()
    assert params["userhash"] == "true"


def test_a_non_ascii_username_uses_the_extended_form() -> None:
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth("J\u00e4s\u00f8n Doe", "p"),
        request,
        challenge(request, 'Digest realm="r", nonce="n"'),
    )
    header = request.headers["authorization"]
    assert header.startswith("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ")
    expected = reference_response(
        "MD5",
        username="J\u00e4s\u00f8n Doe",
        password="p",
        realm="r",
        nonce="n",
        uri="/",
        cnonce="",
        qop=None,
    )
    assert f'response="{expected}"' in header


def test_bytes_credentials() -> None:
    request = Request("GET", "https://example.com/")
    drive(DigestAuth(b"u", b"p"), request, challenge(request, 'Digest realm="r", nonce="n"'))
    assert 'username="u"' in request.headers["authorization"]


def test_a_cookie_set_by_the_challenge_rides_on_the_retry() -> None:
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth("u", "p"),
        request,
        challenge(request, 'Digest realm="r", nonce="n"', **{"Set-Cookie": "session=1"}),
    )
    assert request.headers["cookie"] == "session=1"


def test_a_challenge_cookie_replaces_a_same_named_one() -> None:
    request = Request("GET", "https://example.com/", headers={"Cookie": "session=old; keep=1"})
    drive(
        DigestAuth("u", "p"),
        request,
        challenge(request, 'Digest realm="r", nonce="n"', **{"Set-Cookie": "session=new"}),
    )
    assert request.headers["cookie"] == "keep=1; session=new"


def test_a_challenge_cookie_for_another_path_is_not_sent() -> None:
    request = Request("GET", "https://example.com/")
    drive(
        DigestAuth("u", "p"),
        request,
        challenge(request, 'Digest realm="r", nonce="n"', **{"Set-Cookie": "s=1; Path=/other"}),
    )
    assert "cookie" not in request.headers


def test_digest_through_the_flow() -> None:
    auth = DigestAuth(RFC_USER, RFC_PASSWORD, random_bytes=fixed_random)
    expected = reference_response("SHA-256", cnonce=FIXED_CNONCE)

    def check(request: Request) -> None:
        assert f'response="{expected}"' in request.headers["authorization"]

    final = play(
        send_flow(Request("GET", RFC_URL), options(auth=auth)),
        [
            (
                act.SendRequest,
                respond(
                    401,
                    {"WWW-Authenticate": RFC_CHALLENGE.format(algorithm="SHA-256")},
                    check=lambda r: assert_header(r, "authorization", None),
                ),
            ),
            act.ReadResponse,
            (act.SendRequest, respond(200, check=check)),
            act.ReadResponse,
        ],
    )
    assert final.status_code == 200


# -- netrc -----------------------------------------------------------------------------

NETRC = """\
# a comment line
machine example.com login alice password "secret pass"
machine Other.Example
    user bob
    account ignored
    password 'p\\'w'   # a trailing comment

macdef init
cd /pub
machine not.an.entry login x password y

default login anon password guest
"""


def test_parse_netrc() -> None:
    assert parse_netrc(NETRC) == {
        "example.com": ("alice", "secret pass"),
        "other.example": ("bob", "'p'w'"),
        "default": ("anon", "guest"),
    }


def test_parse_netrc_details() -> None:
    assert parse_netrc("") == {}
    assert parse_netrc("machine a login x password y\nmachine a login z password w") == {
        "a": ("z", "w")
    }
    assert parse_netrc("machine a\r\n  login x\r\n  password #notacomment\r\n") == {
        "a": ("x", "#notacomment")
    }
    assert parse_netrc("machine a login x") == {"a": ("x", "")}
    assert parse_netrc('machine a password "open') == {"a": ("", "open")}
    assert parse_netrc("machine a login a\\ b") == {"a": ("a b", "")}
    assert parse_netrc("macdef m\nbody runs to the end") == {}
    assert parse_netrc("default\nmachine b") == {"default": ("", ""), "b": ("", "")}
    assert parse_netrc("#only a comment") == {}
    assert parse_netrc("macdef m\n\nmachine c password p") == {"c": ("", "p")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("machine", "line 1: 'machine' without a name"),
        ("macdef", "'macdef' without a name"),
        ("machine a\nlogin", "line 2: 'login' without a value"),
        ("machine a port 21", "unknown keyword 'port'"),
        ("login x", "unexpected 'login'"),
    ],
)
def test_parse_netrc_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_netrc(text)


def test_netrc_auth() -> None:
    auth = NetRCAuth(text=NETRC)
    for url, expected in [
        ("https://example.com/", basic_auth_header("alice", "secret pass")),
        ("https://OTHER.example/", basic_auth_header("bob", "'p'w'")),
        ("https://elsewhere.example/", basic_auth_header("anon", "guest")),
    ]:
        request = Request("GET", url)
        sent, _ = drive(auth, request)
        assert sent == [request]
        assert request.headers["authorization"] == expected


def test_netrc_auth_without_a_match_or_a_password_sends_nothing() -> None:
    auth = NetRCAuth(text="machine a.example login only\n")
    for url in ("https://a.example/", "https://b.example/"):
        request = Request("GET", url)
        drive(auth, request)
        assert "authorization" not in request.headers


def test_netrc_text_comes_from_the_environment() -> None:
    auth = NetRCAuth()  # the text is read when a request is sent
    previous = env.install(netrc_text="default login u password p")
    try:
        request = Request("GET", "https://x.example/")
        drive(auth, request)
    finally:
        env.install(previous)
    assert request.headers["authorization"] == basic_auth_header("u", "p")


def test_netrc_text_comes_from_the_clients_env() -> None:
    # Two clients with their own Env: each one's netrc text, not the installed one.
    auth = NetRCAuth()
    previous = env.install(netrc_text="default login global password g")
    try:
        for login in ("u", "u", "v"):  # (parsed again only when the text changes)
            world = env.Env(netrc_text=f"machine x.example login {login} password p")
            request = Request("GET", "https://x.example/")
            flow = auth._auth_flow(request, world)
            assert next(flow).headers["authorization"] == basic_auth_header(login, "p")
    finally:
        env.install(previous)


def test_netrc_auth_cannot_read_files() -> None:
    with pytest.raises(ValueError, match="cannot read files"):
        NetRCAuth("/home/me/.netrc")
    auth = NetRCAuth()  # no text anywhere: the error comes when it is used
    with pytest.raises(ValueError, match="needs the netrc text"):
        drive(auth, Request("GET", "https://x.example/"))
    assert NetRCAuth("/home/me/.netrc", text="")._file == "/home/me/.netrc"
