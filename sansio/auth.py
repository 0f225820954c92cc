"""Authentication schemes as sans-I/O generators.

An `Auth.auth_flow` yields requests and receives responses; the client flow
(`sansio.flow`) drives it without any I/O. Randomness (the Digest cnonce) and
file contents (netrc) are injected, never read here.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Callable, Generator

from . import env as _env
from ._frozen import Frozen, set_field
from ._typing_lite import TYPE_CHECKING, TypeAlias
from .exceptions import RemoteProtocolError

if TYPE_CHECKING:  # pragma: no cover
    from .models import Request, Response

__all__ = [
    "DIGEST_CNONCE_BYTES",
    "Auth",
    "BasicAuth",
    "DigestAuth",
    "DigestChallenge",
    "FunctionAuth",
    "NetRCAuth",
    "basic_auth_header",
    "parse_auth_params",
    "parse_digest_challenge",
    "parse_netrc",
    "split_challenges",
]


class Auth:
    """Base class for authentication schemes.

    Subclasses implement `auth_flow`, a generator that yields a request, receives
    its response, and may yield further requests (a challenge answered). Set
    `requires_request_body` / `requires_response_body` when the flow needs the
    bodies in memory. Overriding `sync_auth_flow` / `async_auth_flow` is possible
    for schemes that must do their own I/O; the client then drives those directly.
    """

    requires_request_body = False
    requires_response_body = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield request

    def _auth_flow(self, request: Request, env: _env.Env) -> Generator[Request, Response, None]:
        """`auth_flow` as the client flow runs it: with the client's `Env` (its clock
        and randomness), for the schemes that need them (Digest)."""
        return self.auth_flow(request)

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Run `auth_flow`, reading bodies synchronously when the scheme needs them."""
        if self.requires_request_body:
            request.read()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self.requires_response_body:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                break

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """Run `auth_flow`, reading bodies asynchronously when the scheme needs them."""
        if self.requires_request_body:
            await request.aread()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self.requires_response_body:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                break


class FunctionAuth(Auth):
    """Auth from a plain callable that takes a request and returns it (modified)."""

    def __init__(self, func: Callable[[Request], Request]) -> None:
        self._func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield self._func(request)


def basic_auth_header(username: str | bytes, password: str | bytes) -> str:
    """The ``Basic`` credentials value for an Authorization header."""
    # UTF-8, as RFC 7617's charset="UTF-8" and httpx do.
    user = username.encode("utf-8") if isinstance(username, str) else username
    pw = password.encode("utf-8") if isinstance(password, str) else password
    return "Basic " + base64.b64encode(user + b":" + pw).decode("ascii")


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617)."""

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._auth_header = basic_auth_header(username, password)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = self._auth_header
        yield request


# -- challenges (RFC 9110 §11) -------------------------------------------------


def _split_commas(value: str) -> list[str]:
    """Split on commas outside quoted strings."""
    items: list[str] = []
    start = 0
    quoted = False
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1  # a quoted-pair: the next character is literal
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == ",":
            items.append(value[start:i])
            start = i + 1
        i += 1
    items.append(value[start:])
    return items


def split_challenges(value: str) -> list[tuple[str, str]]:
    """Split one WWW-Authenticate value into ``(scheme, parameters)`` challenges.

    A value may hold several challenges (``Basic realm="a", Digest realm="b", ...``);
    an element whose first word is not followed by ``=`` starts a new one.
    """
    challenges: list[tuple[str, list[str]]] = []
    for item in _split_commas(value):
        item = item.strip()
        if not item:
            continue
        head, _, rest = item.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if "=" not in head and not rest.startswith("="):
            challenges.append((head, [rest] if rest else []))
        elif challenges:
            challenges[-1][1].append(item)
        # An auth-param before any scheme belongs to nothing and is dropped.
    return [(scheme, ", ".join(params)) for scheme, params in challenges]


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse ``a=b, c="d \\"e\\""`` auth-params (RFC 9110 §11.2) into lower-cased names.

    Raises ValueError on malformed input.
    """
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise ValueError(f"auth parameter without a value at {text[i:]!r}")
        name = text[i:eq].strip().lower()
        if not name or any(c in name for c in ' \t",;'):
            raise ValueError(f"invalid auth parameter name {name!r}")
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted string in auth parameters")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            value = "".join(chars)
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        params[name] = value
    return params


# -- Digest (RFC 7616) ---------------------------------------------------------


def _hexdigest(name: str, secure: bool = True) -> Callable[[bytes], str]:
    def digest(data: bytes) -> str:
        import hashlib  # Digest auth is rare: not loaded with conch

        return hashlib.new(name, data, usedforsecurity=secure).hexdigest()

    return digest


_DIGEST_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": _hexdigest("md5", secure=False),
    "SHA": _hexdigest("sha1", secure=False),
    "SHA-256": _hexdigest("sha256"),
    "SHA-512": _hexdigest("sha512"),
}
_DIGEST_QOPS = frozenset({"auth", "auth-int"})
# Bytes of randomness in a client nonce: 64 bits, as httpx's 16 hex digits.
DIGEST_CNONCE_BYTES = 8


class DigestChallenge(Frozen, kw_only=True):
    """A parsed ``WWW-Authenticate: Digest ...`` challenge (algorithm upper-cased)."""

    __slots__ = ("algorithm", "nonce", "opaque", "qop", "realm", "stale", "userhash")
    realm: str
    nonce: str
    algorithm: str
    opaque: str | None
    qop: tuple[str, ...]
    stale: bool
    userhash: bool

    def __init__(
        self,
        *,
        realm: str,
        nonce: str,
        algorithm: str = "MD5",
        opaque: str | None = None,
        qop: tuple[str, ...] = (),
        stale: bool = False,
        userhash: bool = False,
    ) -> None:
        set_field(self, "realm", realm)
        set_field(self, "nonce", nonce)
        set_field(self, "algorithm", algorithm)
        set_field(self, "opaque", opaque)
        set_field(self, "qop", qop)
        set_field(self, "stale", stale)
        set_field(self, "userhash", userhash)


def parse_digest_challenge(text: str) -> DigestChallenge:
    """Parse the parameters of a Digest challenge.

    `RemoteProtocolError` when it is malformed, lacks realm or nonce, carries a
    control character, or asks for an algorithm or qop this module cannot do.
    """
    try:
        params = parse_auth_params(text)
    except ValueError as exc:
        raise RemoteProtocolError(f"Malformed Digest challenge: {exc}") from None
    for name, value in params.items():
        # We echo some of these back: a CR or LF would split our header.
        if any(c in value for c in "\r\n\0"):
            raise RemoteProtocolError(
                f"Digest challenge parameter {name!r} contains a control character"
            )
    if "realm" not in params or "nonce" not in params:
        raise RemoteProtocolError("Malformed Digest challenge: realm and nonce are required")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm.removesuffix("-SESS") not in _DIGEST_HASHES:
        raise RemoteProtocolError(f"Unsupported Digest algorithm {algorithm!r}")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    if qop and _DIGEST_QOPS.isdisjoint(qop):
        raise RemoteProtocolError(f"Unsupported Digest qop {params['qop']!r}")
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=algorithm,
        opaque=params.get("opaque"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
        userhash=params.get("userhash", "").lower() == "true",
    )


def _digest_challenge(response: Response) -> DigestChallenge | None:
    """The first usable Digest challenge of a 401 (RFC 7616 §3.7: the topmost one we
    support), None if there is no Digest challenge, else the first one's error."""
    error: RemoteProtocolError | None = None
    for value in response.headers.get_list("www-authenticate"):
        for scheme, params in split_challenges(value):
            if scheme.lower() != "digest":
                continue
            try:
                return parse_digest_challenge(params)
            except RemoteProtocolError as exc:
                error = error or exc
    if error is not None:
        raise error
    return None


def _quote(value: str) -> str:
    # Every value we echo goes out as a quoted-string with `"` and `\` escaped,
    # so a hostile server cannot smuggle extra parameters into our header.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cookie_pairs(value: str) -> list[str]:
    return [pair for part in value.split(";") if (pair := part.strip())]


def _carry_cookies(request: Request, response: Response, now: float) -> None:
    """Add the cookies a challenge set to the retry (they may be a session), replacing
    same-named ones the request already carries."""
    url = request.url
    value = response.cookies.jar.header_for(
        scheme=url.scheme, host=url.host, path=url.path, now=now
    )
    if not value:
        return
    pairs = _cookie_pairs(value)
    existing = request.headers.get("cookie")
    if existing:
        names = {pair.partition("=")[0].strip() for pair in pairs}
        kept = [p for p in _cookie_pairs(existing) if p.partition("=")[0].strip() not in names]
        pairs = kept + pairs
    request.headers["Cookie"] = "; ".join(pairs)


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616): MD5, SHA, SHA-256, SHA-512 and their
    ``-sess`` variants, qop ``auth`` and ``auth-int`` (and RFC 2069's no-qop form),
    ``userhash``, nonce counting, and one retry on a ``stale=true`` challenge.

    The client nonce comes from `random_bytes` when given, else from the client's
    `sansio.env.Env` (``os.urandom`` in the conch shells). After a
    challenge, later requests to the same origin answer it up front (no 401 round
    trip) while its nonce lasts; unlike httpx, other origins never see it.
    """

    def __init__(
        self,
        username: str | bytes,
        password: str | bytes,
        *,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self._username = username.decode("utf-8") if isinstance(username, bytes) else username
        self._password = password.decode("utf-8") if isinstance(password, bytes) else password
        self._random_bytes = random_bytes
        self._challenge: DigestChallenge | None = None
        self._origin: tuple[str, bytes, int] | None = None
        self._nonce_count = 0

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        return self._auth_flow(request, _env.current())

    def _auth_flow(self, request: Request, env: _env.Env) -> Generator[Request, Response, None]:
        # `sent`: the challenge our last request answered (None: no credentials sent).
        sent = self._challenge if self._origin == request.url.origin else None
        random_bytes = self._random_bytes or env.random_bytes
        if sent is not None:
            request.headers["Authorization"] = self._authorization(request, sent, random_bytes)
        response = yield request
        answered = stale_retried = False
        while response.status_code == 401:
            try:
                challenge = _digest_challenge(response)
            except RemoteProtocolError as exc:
                exc.request = request
                raise
            if challenge is None:
                return
            if sent is not None:
                if challenge.stale:
                    # The credentials were right but the nonce expired: one retry.
                    if stale_retried:
                        return
                    stale_retried = True
                elif answered or challenge.nonce == sent.nonce:
                    return  # the credentials were refused: the caller gets the 401
            answered = True
            self._use(challenge, request.url.origin)
            request.headers["Authorization"] = self._authorization(request, challenge, random_bytes)
            sent = challenge
            if response.headers.get_list("set-cookie"):
                _carry_cookies(request, response, env.wall_clock())
            response = yield request

    def _use(self, challenge: DigestChallenge, origin: tuple[str, bytes, int]) -> None:
        previous = self._challenge
        if previous is None or previous.nonce != challenge.nonce or self._origin != origin:
            self._nonce_count = 0  # nc counts requests per nonce (RFC 7616 §3.4)
        self._challenge = challenge
        self._origin = origin
        # auth-int hashes the body: have later requests read theirs up front.
        self.requires_request_body = bool(challenge.qop) and "auth" not in challenge.qop

    def _authorization(
        self, request: Request, challenge: DigestChallenge, random_bytes: Callable[[int], bytes]
    ) -> str:
        algorithm = challenge.algorithm
        session = algorithm.endswith("-SESS")
        digest = _DIGEST_HASHES[algorithm.removesuffix("-SESS")]
        qop = ("auth" if "auth" in challenge.qop else "auth-int") if challenge.qop else None
        self._nonce_count += 1
        nc = f"{self._nonce_count:08x}"
        cnonce = random_bytes(DIGEST_CNONCE_BYTES).hex()
        uri = request.url.raw_path.decode("ascii")
        realm, nonce = challenge.realm, challenge.nonce

        ha1 = digest(f"{self._username}:{realm}:{self._password}".encode())
        if session:
            ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
        a2 = f"{request.method}:{uri}"
        if qop == "auth-int":
            a2 += ":" + digest(request.content)
        ha2 = digest(a2.encode())
        if qop is None:
            response = digest(f"{ha1}:{nonce}:{ha2}".encode())
        else:
            response = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())

        if challenge.userhash:
            user = f"username={_quote(digest(f'{self._username}:{realm}'.encode()))}"
        elif self._username.isascii():
            user = f"username={_quote(self._username)}"
        else:
            # RFC 7616 §3.4.4: a non-ASCII name goes in the extended form. (Imported
            # here: urllib.parse and the ipaddress it loads cost ~2 ms of `import conch`.)
            from urllib.parse import quote

            user = f"username*=UTF-8''{quote(self._username, safe='')}"
        parts = [
            user,
            f"realm={_quote(realm)}",
            f"nonce={_quote(nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={algorithm}",
        ]
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={nc}"]
        if qop is not None or session:
            parts.append(f"cnonce={_quote(cnonce)}")
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


# -- netrc ---------------------------------------------------------------------

_NETRC_SPACE = " \t\n"
_NETRC_ENTRY_KEYWORDS = ("machine", "default", "macdef")


class _NetrcLexer:
    """Tokens of netrc text as Python's `netrc` module reads them: whitespace
    separated, ``"quoted"`` with backslash escapes, ``#`` comments where a keyword
    is expected."""

    __slots__ = ("pos", "pushed", "text")

    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.pos = 0
        self.pushed: str | None = None

    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def token(self, *, keyword: bool = False) -> str | None:
        if self.pushed is not None:
            token, self.pushed = self.pushed, None
            return token
        text, n, i = self.text, len(self.text), self.pos
        while True:
            while i < n and text[i] in _NETRC_SPACE:
                i += 1
            if i >= n:
                self.pos = n
                return None
            if not (keyword and text[i] == "#"):
                break
            end = text.find("\n", i)
            i = n if end < 0 else end
        chars: list[str] = []
        quoted = text[i] == '"'
        i += quoted
        while i < n and (text[i] != '"' if quoted else text[i] not in _NETRC_SPACE):
            if text[i] == "\\" and i + 1 < n:
                i += 1
            chars.append(text[i])
            i += 1
        self.pos = i + quoted  # past the closing quote
        return "".join(chars)

    def skip_macro(self) -> None:
        # A macro body runs to the first empty line (or, leniently, to the end).
        end = self.text.find("\n\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 2


def parse_netrc(text: str) -> dict[str, tuple[str, str]]:
    """Parse netrc text into ``{host: (login, password)}``; "default" keys the fallback.

    Follows Python's `netrc` module: ``machine``/``default`` entries with ``login``
    (or ``user``), ``password`` and ``account``; ``macdef`` bodies skipped; a later
    entry for the same machine wins. Machine names are lower-cased (host names are
    case-insensitive). ValueError, naming the line, on anything else. Only the
    file's text is handled here; reading the file is the shell's job.
    """
    lexer = _NetrcLexer(text)
    entries: dict[str, tuple[str, str]] = {}
    while (token := lexer.token(keyword=True)) is not None:
        if token == "macdef":
            if lexer.token() is None:
                raise ValueError(f"netrc line {lexer.line()}: 'macdef' without a name")
            lexer.skip_macro()
            continue
        if token == "machine":
            name = lexer.token()
            if name is None:
                raise ValueError(f"netrc line {lexer.line()}: 'machine' without a name")
            host = name.lower()
        elif token == "default":
            host = "default"
        else:
            raise ValueError(f"netrc line {lexer.line()}: unexpected {token!r}")
        login = password = ""
        while (key := lexer.token(keyword=True)) is not None:
            if key in _NETRC_ENTRY_KEYWORDS:
                lexer.pushed = key
                break
            value = lexer.token()
            if value is None:
                raise ValueError(f"netrc line {lexer.line()}: {key!r} without a value")
            if key in ("login", "user"):
                login = value
            elif key == "password":
                password = value
            elif key != "account":
                raise ValueError(f"netrc line {lexer.line()}: unknown keyword {key!r}")
        entries[host] = (login, password)
    return entries


class NetRCAuth(Auth):
    """Basic credentials looked up by host in netrc text.

    `sansio` takes the text (``text=``, else the ``netrc_text`` of the client's
    `sansio.env.Env`, read when a request is sent: ``sansio.env.current()`` outside a
    client); the shells' ``conch.NetRCAuth(file=None)`` reads the file (``$NETRC`` or
    ``~/.netrc``) and passes its text here. As with httpx, an entry without a
    password sends nothing.
    """

    def __init__(self, file: str | None = None, *, text: str | None = None) -> None:
        if text is None and file is not None:
            raise ValueError(
                "sansio cannot read files: pass the netrc file's contents as text=..., "
                "or use conch.NetRCAuth(file=...), which reads it"
            )
        self._file = file
        self._entries = None if text is None else parse_netrc(text)
        self._parsed: tuple[str, dict[str, tuple[str, str]]] | None = None  # (env text, entries)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        return self._auth_flow(request, _env.current())

    def _auth_flow(self, request: Request, env: _env.Env) -> Generator[Request, Response, None]:
        entries = self._entries if self._entries is not None else self._from(env)
        entry = entries.get(request.url.host) or entries.get("default")
        if entry is not None and entry[1]:
            request.headers["Authorization"] = basic_auth_header(*entry)
        yield request

    def _from(self, env: _env.Env) -> dict[str, tuple[str, str]]:
        """The entries of ``env``'s netrc text (parsed again only if the text changes)."""
        text = env.netrc_text
        if text is None:
            raise ValueError(
                "NetRCAuth in sansio needs the netrc text: pass text=..., give the client an"
                " Env with netrc_text, or use conch.NetRCAuth, which reads the file"
            )
        parsed = self._parsed
        if parsed is None or parsed[0] != text:
            parsed = self._parsed = (text, parse_netrc(text))
        return parsed[1]


# What ``auth=`` takes (httpx's ``AuthTypes``, re-exported by `conch._types`).
AuthTypes: TypeAlias = tuple[str | bytes, str | bytes] | Callable[["Request"], "Request"] | Auth
