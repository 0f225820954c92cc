"""Authentication schemes as sans-I/O generators.

An `Auth.auth_flow` yields requests and receives responses; the client flow
(`sansio.flow`) drives it without any I/O. Randomness (the Digest cnonce) and
file contents (netrc) are injected, never read here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import env as _env
from .exceptions import RemoteProtocolError

if TYPE_CHECKING:  # pragma: no cover
    from .models import Request, Response

__all__ = [
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


# -- Digest (RFC 7616) ---------------------------------------------------------

_DIGEST_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b, usedforsecurity=False).hexdigest(),
    "SHA": lambda b: hashlib.sha1(b, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512": lambda b: hashlib.sha512(b).hexdigest(),
}
# Bytes of randomness in a client nonce: 64 bits, as curl and httpx use.
DIGEST_CNONCE_BYTES = 8


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A parsed ``WWW-Authenticate: Digest ...`` challenge."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    opaque: str | None = None
    qop: tuple[str, ...] = ()
    stale: bool = False


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


def _quote(value: str) -> str:
    # Every value we echo goes out as a quoted-string with `"` and `\` escaped,
    # so a hostile server cannot smuggle extra parameters into our header.
    if any(c in value for c in "\r\n\0"):
        raise RemoteProtocolError("Digest challenge value contains a control character")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _find_digest_challenge(values: list[str]) -> str | None:
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "digest":
            return rest
    return None


def parse_digest_challenge(text: str) -> DigestChallenge:
    """Parse the parameters of a Digest challenge; RemoteProtocolError when unusable."""
    try:
        params = parse_auth_params(text)
    except ValueError as exc:
        raise RemoteProtocolError(f"Malformed Digest challenge: {exc}") from None
    if "realm" not in params or "nonce" not in params:
        raise RemoteProtocolError("Malformed Digest challenge: realm and nonce are required")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5").upper(),
        opaque=params.get("opaque"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
    )


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616): MD5, SHA, SHA-256, SHA-512 and their
    ``-sess`` variants, qop ``auth`` and ``auth-int``, nonce counting, and one
    retry on a ``stale=true`` challenge.

    The client nonce comes from `random_bytes` when given, else from the random
    source installed in `sansio.env` (``os.urandom`` in the conch shells).
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
        self._nonce_count = 0

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if self._challenge is not None:
            # Pre-emptive: reuse the last challenge instead of paying a 401 first.
            request.headers["Authorization"] = self._authorization(request, self._challenge)
        response = yield request
        retried_stale = False
        while response.status_code == 401:
            text = _find_digest_challenge(response.headers.get_list("www-authenticate"))
            if text is None:
                return
            challenge = parse_digest_challenge(text)
            sent_credentials = "authorization" in request.headers
            if sent_credentials and not challenge.stale:
                return  # our credentials were refused: hand the 401 to the caller
            if challenge.stale and retried_stale:
                return
            retried_stale = retried_stale or (sent_credentials and challenge.stale)
            self._challenge = challenge
            self._nonce_count = 0
            request.headers["Authorization"] = self._authorization(request, challenge)
            if response.headers.get_list("set-cookie"):
                # The challenge may have set a session cookie the retry must carry.
                response.cookies.set_cookie_header(request)
            response = yield request

    def _authorization(self, request: Request, challenge: DigestChallenge) -> str:
        algorithm = challenge.algorithm
        session = algorithm.endswith("-SESS")
        base = algorithm[: -len("-SESS")] if session else algorithm
        digest = _DIGEST_HASHES.get(base)
        if digest is None:
            raise RemoteProtocolError(f"Unsupported Digest algorithm {algorithm!r}")
        self._nonce_count += 1
        nc = f"{self._nonce_count:08x}"
        random_bytes = self._random_bytes or _env.current().random_bytes
        cnonce = random_bytes(DIGEST_CNONCE_BYTES).hex()
        uri = request.url.raw_path.decode("ascii")

        ha1 = digest(f"{self._username}:{challenge.realm}:{self._password}".encode())
        if session:
            ha1 = digest(f"{ha1}:{challenge.nonce}:{cnonce}".encode())
        if "auth" in challenge.qop or not challenge.qop:
            qop = "auth" if challenge.qop else None
            ha2 = digest(f"{request.method}:{uri}".encode())
        elif "auth-int" in challenge.qop:
            qop = "auth-int"
            ha2 = digest(f"{request.method}:{uri}:".encode() + digest(request.content).encode())
        else:
            raise RemoteProtocolError(f"Unsupported Digest qop {','.join(challenge.qop)!r}")
        if qop is None:
            response = digest(f"{ha1}:{challenge.nonce}:{ha2}".encode())
        else:
            response = digest(f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())

        parts = [
            f"username={_quote(self._username)}",
            f"realm={_quote(challenge.realm)}",
            f"nonce={_quote(challenge.nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={algorithm}",
        ]
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        return "Digest " + ", ".join(parts)


# -- netrc ---------------------------------------------------------------------


def parse_netrc(text: str) -> dict[str, tuple[str, str]]:
    """Parse netrc text into ``{host: (login, password)}``; "default" keys the fallback.

    Only the file's text is handled here; reading the file is the shell's job.
    """
    tokens = text.split()
    entries: dict[str, tuple[str, str]] = {}
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token in ("machine", "default"):
            host = tokens[i + 1] if token == "machine" and i + 1 < n else "default"
            i += 2 if token == "machine" else 1
            login = password = ""
            while i < n and tokens[i] not in ("machine", "default", "macdef"):
                key = tokens[i]
                value = tokens[i + 1] if i + 1 < n else ""
                if key == "login":
                    login = value
                elif key == "password":
                    password = value
                i += 2
            entries.setdefault(host, (login, password))
        elif token == "macdef":
            # A macro body runs to the next blank line; in split() tokens that
            # boundary is lost, so skip to the next entry keyword instead.
            i += 1
            while i < n and tokens[i] not in ("machine", "default"):
                i += 1
        else:
            i += 1
    return entries


class NetRCAuth(Auth):
    """Basic credentials looked up by host in netrc text.

    `sansio` takes the text; the shells' `conch.NetRCAuth(file=None)` reads the
    file (``$NETRC`` or ``~/.netrc``) and passes its text here.
    """

    def __init__(self, file: str | None = None, *, text: str | None = None) -> None:
        if text is None:
            text = _env.current().netrc_text
        if text is None:
            raise ValueError(
                "NetRCAuth in sansio needs the netrc text: pass text=..., or use "
                "conch.NetRCAuth, which reads the file"
            )
        self._file = file
        self._entries = parse_netrc(text)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        entry = self._entries.get(request.url.host) or self._entries.get("default")
        if entry is not None:
            request.headers["Authorization"] = basic_auth_header(*entry)
        yield request
