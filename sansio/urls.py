"""`URL` and `QueryParams`: httpx 0.28's URL model on conch's own strict RFC 3986 parser.

A URL is parsed once, into canonical ASCII components kept in slots; every property reads
those, and ``copy_with`` re-checks only the components it changes. There is one parser and
no lenient second path, so what conch sends is what it checked. Where httpx is lenient,
conch refuses with `InvalidURL` (the message names the problem):

* ASCII control characters or DEL anywhere, unpaired surrogates, and URLs or components
  longer than `MAX_URL_LENGTH`.
* A port that is not ASCII digits or is above 65535 (``"http://a:"`` is still "no port").
* A host character outside RFC 3986's ``reg-name`` (unreserved and sub-delims): spaces,
  ``%``, ``<>"`{}|\\^`` and so on. A backslash anywhere in the authority is refused
  because browsers read it as ``/``, which would send the two parsers to different hosts.
* Hosts ending in a number are IPv4 addresses and are normalised as WHATWG does
  (``127.1``, ``0x7f.0.0.1``, ``0177.0.0.1`` and ``2130706433`` all become
  ``127.0.0.1``); one out of range is refused, never passed through to a resolver.
* IPv6 literals are checked with `ipaddress` and written in RFC 5952's one canonical
  form (lower case, the longest run of zero groups compressed, IPv4-mapped addresses as
  ``::ffff:1.2.3.4``), so ``[0:0::1]`` and ``[::1]`` are the same host everywhere a host
  is compared (pool, mounts, NO_PROXY, cookies). Zone identifiers (``[fe80::1%25eth0]``)
  are refused: they name an interface of this machine, meaningless in a Host header.
* Unicode hosts are IDNA-encoded (UTS #46), and ``xn--`` labels must decode.
* A host name must be one DNS can carry (RFC 1035 §2.3.4): no empty label (``a..b``,
  ``.a``), no label over `MAX_LABEL_LENGTH`, at most `MAX_HOST_LENGTH` characters; one
  trailing dot (the root label) is allowed. Such names would otherwise fail later, inside
  the resolver, with an error outside conch's hierarchy.

`canonical_host` exposes the host canonicaliser on its own: the cookie jar compares hosts
and Domain attributes through it, so cookies and URLs never disagree about a name.

Deliberate differences from httpx 0.28, all fixes: dot segments are removed exactly as
RFC 3986 §5.2.4 says (``/a/b/..`` is ``/a/``, not ``/a``); `URL.join` follows RFC 3986
§5.2 strictly (``http:g`` against an ``http`` base stays ``http:g``); ``copy_with(password=)``
keeps the username (and vice versa); a given username or password has every ``%``
escaped, so it reads back unchanged; the default port is dropped whatever the scheme's
case; every ``xn--`` label of `URL.host` is decoded, not only a leading one; a relative
path that would read back as a scheme (``URL(path="a:b")``) and a scheme-less path
starting ``//`` are refused, and an empty authority is kept before a ``//`` path, so
``str(url)`` always parses back to ``url``; ``QueryParams`` hashes agree with equality;
comparing a URL with a malformed string is False rather than an exception; IPv6 hosts
are canonicalised (httpx keeps ``[0:0::1]`` as written) and zone identifiers refused
(httpx passes ``%25eth0`` through); a host DNS cannot carry is refused (httpx accepts
``a..b`` and the resolver then raises `UnicodeError`).

Recently parsed strings are remembered (`PARSE_CACHE_SIZE`), so a client asking for the
same URL again pays a dict lookup instead of a parse.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from functools import cache

from ._frozen import NamedTuple
from ._typing_lite import Any, TypeAlias
from .exceptions import InvalidURL

__all__ = [
    "MAX_HOST_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_URL_LENGTH",
    "PARSE_CACHE_MAX_URL_LENGTH",
    "PARSE_CACHE_SIZE",
    "URL",
    "QueryParams",
    "canonical_host",
]

# httpx's limit (httpx._urlparse.MAX_URL_LENGTH). Servers refuse request lines far shorter
# (nginx: 8 KiB by default), so nothing useful is lost, and it bounds the cost of a parse.
# Read at call time: assign ``sansio.urls.MAX_URL_LENGTH`` to change it.
MAX_URL_LENGTH = 65536
# RFC 1035 §2.3.4: a label is at most 63 octets and a name at most 255 on the wire, which
# is 253 characters written out (without the root's trailing dot). These are DNS's own
# limits, not a policy: no resolver accepts more.
MAX_LABEL_LENGTH = 63
MAX_HOST_LENGTH = 253

# WHATWG's "special scheme" default ports; a URL that names one has its port set to None.
_DEFAULT_PORTS: dict[str, int] = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}

_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_LETTERS = _LOWER + _LOWER.upper()
_SCHEME_CHARS = frozenset(_LETTERS + _DIGITS + "+-.")
_HEX = frozenset(_DIGITS + "abcdefABCDEF")
# RFC 3986 reg-name without percent-encoding, after lower-casing.
_HOST_CHARS = frozenset(_LOWER + _DIGITS + "-._~" + "!$&'()*+,;=")


def _encoder(extra: str) -> frozenset[str]:
    """What a WHATWG percent-encode set keeps: all but C0 controls, space, DEL,
    non-ASCII and ``extra``."""
    return frozenset(chr(b) for b in range(0x21, 0x7F) if chr(b) not in extra)


@cache
def _escapes(keep: frozenset[str]) -> dict[int, str]:
    # Built by the first text that needs escaping, not with conch: most URLs need none.
    return {b: f"%{b:02X}" for b in range(256) if chr(b) not in keep}


# "%" stays as it is in these (as in WHATWG and httpx), so existing escapes survive.
_FRAGMENT = _encoder('"<>`')
_QUERY = _encoder('"#<>')
_PATH = _encoder('"#<>?`{}')
_USERINFO = _encoder('"#<>?`{}/;=@[\\]^|')  # ":" kept: it separates username and password
# A username or password is given unescaped, so its "%" and ":" are data.
_USERNAME = _encoder('"#<>?`{}/;=@[\\]^|:%')
# QueryParams values as `urllib.parse.urlencode` writes them: all but unreserved.
_FORM_KEEP = frozenset(_LETTERS + _DIGITS + "-._~")


@cache
def _form_escapes() -> dict[int, str]:
    return {b: "+" if b == 0x20 else f"%{b:02X}" for b in range(256) if chr(b) not in _FORM_KEEP}


def _quote(text: str, keep: frozenset[str]) -> str:
    if keep.issuperset(text):
        return text
    # Latin-1 maps each UTF-8 byte to one code point, so one C-level translate does it all.
    return text.encode("utf-8").decode("latin-1").translate(_escapes(keep))


def _quote_form(text: str) -> str:
    if _FORM_KEEP.issuperset(text):
        return text
    # surrogatepass: a lone surrogate in a value is written out rather than crashing str().
    return text.encode("utf-8", "surrogatepass").decode("latin-1").translate(_form_escapes())


def _unquote(text: str) -> str:
    """Decode %XX escapes as UTF-8 (bad bytes become U+FFFD); malformed escapes stay."""
    if "%" not in text:
        return text
    pieces = text.split("%")
    out = [pieces[0]]
    pending = bytearray()
    for piece in pieces[1:]:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            pending.append(int(piece[:2], 16))
            if len(piece) == 2:
                continue
            piece = piece[2:]
        else:
            piece = "%" + piece
        if pending:
            out.append(pending.decode("utf-8", "replace"))
            pending.clear()
        out.append(piece)
    if pending:
        out.append(pending.decode("utf-8", "replace"))
    return "".join(out)


def _unquote_plus(text: str) -> str:
    return _unquote(text.replace("+", " ")) if "+" in text else _unquote(text)


def _is_scheme(text: str) -> bool:
    return bool(text) and text[0] in _LETTERS and _SCHEME_CHARS.issuperset(text)


def _shown(text: str) -> str:
    """``repr(text)``, cut short so that an error message stays readable."""
    if len(text) <= 100:
        return repr(text)
    return f"{text[:80]!r}... ({len(text)} characters)"


def _check_text(text: str, where: str) -> None:
    """Refuse ASCII controls, DEL and unpaired surrogates; ``where`` names the input."""
    if text.isprintable():  # the common case, at C speed
        return
    for index, char in enumerate(text):
        if char < " " or char == "\x7f":
            raise InvalidURL(
                f"Invalid non-printable ASCII character in {where}, {char!r} at position {index}."
            )
        if "\ud800" <= char <= "\udfff":
            raise InvalidURL(
                f"Invalid unpaired surrogate in {where}, {char!r} at position {index}."
            )


# -- hosts -------------------------------------------------------------------------------


def _ipv4_number(part: str) -> int | None:
    """WHATWG's IPv4 number parser: decimal, 0x hex or 0-prefixed octal; None if invalid."""
    if not part:
        return None
    radix = 10
    if part[:2] == "0x":
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    allowed = _HEX if radix == 16 else _DIGITS[:radix]
    if not all(char in allowed for char in part):
        return None
    if len(part.lstrip("0")) > 12:
        # Far past 2**32 already; and int() refuses very long decimal strings anyway.
        return 1 << 64
    return int(part, radix)


def _ends_in_number(host: str) -> bool:
    """WHATWG's "ends in a number" test: such hosts must parse as IPv4."""
    last = host[:-1] if host.endswith(".") else host
    last = last.rpartition(".")[2]
    if not last:
        return False
    if last.isdigit():  # host is ASCII here
        return True
    return last[:2] == "0x" and _HEX.issuperset(last[2:])


def _parse_ipv4(host: str) -> str:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or None in numbers:
        raise InvalidURL(f"Invalid IPv4 address: {_shown(host)}")
    values = [n for n in numbers if n is not None]
    last = values.pop()
    if any(n > 255 for n in values) or last >= 256 ** (4 - len(values)):
        raise InvalidURL(f"Invalid IPv4 address: {_shown(host)}")
    address = last
    for index, number in enumerate(values):
        address += number << (8 * (3 - index))
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _encode_host(host: str) -> tuple[str, str]:
    """Return (ASCII host, display host) for a raw host; brackets are removed from IPv6."""
    if not host:
        return "", ""
    if host[0] == "[":
        inner = host[1:-1]
        if host[-1] != "]" or "%" in inner:
            # A zone id ("%25eth0") names an interface of this machine: meaningless in a
            # Host header and refused by WHATWG, so it is refused here too.
            raise InvalidURL(f"Invalid IPv6 address: {_shown(host)}")
        inner = _canonical_ipv6(inner, host)
        return inner, inner
    if host.isascii():
        ascii_host = host.lower()
    else:
        import idna  # only Unicode hosts need it, and its tables are slow to import

        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:  # IDNAError and its kin
            raise InvalidURL(f"Invalid IDNA hostname: {_shown(host)}") from None
    if not _HOST_CHARS.issuperset(ascii_host):
        bad = next(char for char in ascii_host if char not in _HOST_CHARS)
        raise InvalidURL(f"Invalid character {bad!r} in host {_shown(host)}")
    if _ends_in_number(ascii_host):
        ascii_host = _parse_ipv4(ascii_host)
        return ascii_host, ascii_host
    _check_dns_name(ascii_host, host)
    if "xn--" not in ascii_host:
        return ascii_host, ascii_host
    return ascii_host, _decode_idna(ascii_host)


def _canonical_ipv6(address: str, host: str) -> str:
    """RFC 5952 §4 text for an IPv6 address; ``host`` (as given) names it in errors."""
    import ipaddress  # only IPv6 literals need it

    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        raise InvalidURL(f"Invalid IPv6 address: {_shown(host)}") from None
    mapped = ip.ipv4_mapped
    if mapped is not None:
        # RFC 5952 §5; `str()` writes this form only from Python 3.13 on.
        return f"::ffff:{mapped}"
    return ip.compressed  # lower case, longest zero run compressed, leftmost on ties


def _check_dns_name(name: str, host: str) -> None:
    """Refuse a name DNS cannot carry (see `MAX_HOST_LENGTH`); one trailing dot is fine."""
    if name[-1] == ".":
        name = name[:-1]
    if not name or name[0] == "." or name[-1] == "." or ".." in name:
        raise InvalidURL(f"Invalid host name {_shown(host)}: empty label")
    if len(name) > MAX_HOST_LENGTH:
        raise InvalidURL(
            f"Invalid host name {_shown(host)}: longer than {MAX_HOST_LENGTH} characters"
        )
    if len(name) > MAX_LABEL_LENGTH and any(
        len(label) > MAX_LABEL_LENGTH for label in name.split(".")
    ):
        raise InvalidURL(
            f"Invalid host name {_shown(host)}: a label longer than {MAX_LABEL_LENGTH} characters"
        )


def canonical_host(host: str) -> str:
    """The ASCII form of ``host`` that `URL.raw_host` would hold, for comparing hosts.

    Lower case, IDNA-encoded (UTS #46), IPv4 in dotted decimal, IPv6 in RFC 5952 form
    without brackets (given with or without them). ``""`` stays ``""``. Raises
    `InvalidURL` for anything `URL` would refuse as a host.
    """
    if len(host) > MAX_URL_LENGTH:
        raise InvalidURL("Host too long")
    _check_text(host, "host")
    if ":" in host and host[0] != "[":
        host = f"[{host}]"
    return _encode_host(host)[0]


def _decode_idna(host: str) -> str:
    """The display form of an ASCII host: its ``xn--`` labels decoded.

    The display form must encode back to ``host`` (`canonical_host(url.host)` is
    ``url.raw_host``), so a host whose other labels IDNA would refuse (``xn--tda.-``)
    is shown in ASCII rather than in a Unicode form no parser would take back.
    """
    import idna

    labels = host.split(".")
    for index, label in enumerate(labels):
        if label.startswith("xn--"):
            try:
                labels[index] = idna.decode(label)
            except UnicodeError:
                raise InvalidURL(f"Invalid IDNA hostname: {_shown(host)}") from None
    display = ".".join(labels)
    try:
        # Each decoded label passed idna's checks, so when the whole name encodes at
        # all it encodes back to ``host`` (tests/sansio/test_hostile_names.py checks).
        idna.encode(display, uts46=True)
    except UnicodeError:
        return host
    return display


def _split_hostport(hostport: str) -> tuple[str, str | None]:
    if hostport.startswith("["):
        close = hostport.find("]")
        if close == -1:
            raise InvalidURL(f"Invalid IPv6 address: {_shown(hostport)}")
        host, rest = hostport[: close + 1], hostport[close + 1 :]
        if not rest:
            return host, None
        if rest[0] != ":":
            raise InvalidURL(f"Invalid characters after IPv6 address in {_shown(hostport)}")
        return host, rest[1:]
    host, colon, port = hostport.partition(":")
    return host, port if colon else None


def _normalise_port(port: str | int | None) -> int | None:
    if port is None or port == "":
        return None
    if isinstance(port, int):
        value = int(port)  # a bool becomes a plain int
    elif port.isascii() and port.isdigit():
        digits = port.lstrip("0")
        value = int(digits or "0") if len(digits) <= 5 else 65536
    else:
        raise InvalidURL(f"Invalid port: {_shown(port)}")
    if not 0 <= value <= 65535:
        raise InvalidURL(f"Invalid port: {port} (must be 0 to 65535)")
    return value


# -- paths -------------------------------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, in one linear pass."""
    if not path.startswith(".") and "/." not in path:
        return path
    output: list[str] = []
    i, end = 0, len(path)
    while i < end:
        if path.startswith("../", i):
            i += 3
        elif path.startswith(("./", "/./"), i):  # "./" is dropped, "/./" becomes "/"
            i += 2
        elif path.startswith("/../", i):
            i += 3
            if output:
                output.pop()
        elif path.startswith("/.", i) and i + 2 == end:
            output.append("/")
            break
        elif path.startswith("/..", i) and i + 3 == end:
            if output:
                output.pop()
            output.append("/")
            break
        elif path[i:] in (".", ".."):
            break
        else:
            j = path.find("/", i + 1)
            if j == -1:
                j = end
            output.append(path[i:j])
            i = j
    return "".join(output)


def _finish_path(path: str, has_scheme: bool, has_authority: bool) -> str:
    """RFC 3986 §3.3 shape rules; absolute URLs also lose their dot segments."""
    if has_authority:
        if path and path[0] != "/":
            raise InvalidURL("For absolute URLs, path must be empty or begin with '/'")
    elif not has_scheme:
        if path.startswith("//"):
            raise InvalidURL("Relative URLs cannot have a path starting with '//'")
        if path.startswith(":"):
            raise InvalidURL("Relative URLs cannot have a path starting with ':'")
        colon = path.find(":")
        if colon != -1 and _is_scheme(path[:colon]):
            # Only components can build this; written out, it would read back as a scheme.
            raise InvalidURL(
                f"Relative URL path {_shown(path)} would read back as scheme {_shown(path[:colon])}"
            )
        return path
    return _remove_dot_segments(path)


# -- splitting ---------------------------------------------------------------------------

# Canonical components: scheme, userinfo, ASCII host, display host, port, path, query, fragment.
_Parts = tuple[str, str, str, str, int | None, str, str | None, str | None]

_Raw = dict[str, Any]  # raw (unchecked) components by name
_FIELDS = ("scheme", "userinfo", "host", "port", "path", "query", "fragment")


def _split(url: str) -> list[Any]:
    """Cut a URL string into raw components, in `_FIELDS` order (RFC 3986 appendix B)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL("URL too long")
    _check_text(url, "URL")
    if url.startswith("https:"):  # the common cases skip the scheme scan
        scheme, start = "https", 6
    elif url.startswith("http:"):
        scheme, start = "http", 5
    else:
        scheme, start = "", 0
        colon = url.find(":")
        if colon == 0:
            start = 1  # httpx reads "://host" as an empty scheme
        elif colon > 0 and _is_scheme(url[:colon]):
            scheme, start = url[:colon], colon + 1
    end = len(url)
    fragment = query = None
    mark = url.find("#", start)
    if mark != -1:
        fragment, end = url[mark + 1 :], mark
    mark = url.find("?", start, end)
    if mark != -1:
        query, end = url[mark + 1 : end], mark
    userinfo = host = ""
    port = None
    if url.startswith("//", start):
        slash = url.find("/", start + 2, end)
        if slash == -1:
            slash = end
        authority = url[start + 2 : slash]
        start = slash
        if "\\" in authority:
            raise InvalidURL(f"Invalid backslash in URL authority {_shown(authority)}")
        userinfo, _, hostport = authority.rpartition("@")
        host, port = _split_hostport(hostport)
    return [scheme, userinfo, host, port, url[start:end], query, fragment]


def _finish(parts: list[Any]) -> _Parts:
    """Default port to None, check the path's shape, and freeze (in `_Parts` order)."""
    scheme, userinfo, host, uhost, port, path, query, fragment = parts
    if port is not None and port == _DEFAULT_PORTS.get(scheme):
        port = None
    path = _finish_path(path, bool(scheme), bool(userinfo or host or port is not None))
    return (scheme, userinfo, host, uhost, port, path, query, fragment)


def _canonical(raw: list[Any]) -> _Parts:
    """Check and normalise raw components (in `_FIELDS` order)."""
    scheme, userinfo, host, port, path, query, fragment = raw
    ascii_host, display_host = _encode_host(host or "")
    return _finish(
        [
            scheme.lower(),
            _quote(userinfo or "", _USERINFO),
            ascii_host,
            display_host,
            _normalise_port(port),
            _quote(path or "", _PATH),
            None if query is None else _quote(query, _QUERY),
            None if fragment is None else _quote(fragment, _FRAGMENT),
        ]
    )


# Canonical parts of recently parsed URL strings: clients ask for the same URLs over and
# over, and a dict hit is ~10x cheaper than a parse. Bounded in entries and in the length
# of URL kept, so it holds at most ~1 MiB; it is emptied when full (no LRU bookkeeping on
# the hot path). Results are immutable, so sharing them is safe. Both bounds are read at
# call time; PARSE_CACHE_MAX_URL_LENGTH = 0 turns the cache off.
PARSE_CACHE_SIZE = 512
PARSE_CACHE_MAX_URL_LENGTH = 2048
_parse_cache: dict[str, _Parts] = {}


_KWARG_TYPES: dict[str, type] = {
    "scheme": str,
    "username": str,
    "password": str,
    "userinfo": bytes,
    "host": str,
    "port": int,
    "netloc": bytes,
    "path": str,
    "query": bytes,
    "raw_path": bytes,
    "fragment": str,
    "params": object,
}


def _kwargs_to_raw(kwargs: dict[str, Any], userinfo: str) -> _Raw:
    """Turn URL() keyword arguments into raw components, checking types as httpx does."""
    given: dict[str, Any] = {}
    for key, value in kwargs.items():
        expected = _KWARG_TYPES.get(key)
        if expected is None:
            raise TypeError(f"{key!r} is an invalid keyword argument for URL()")
        if value is not None and not isinstance(value, expected):
            raise TypeError(
                f"Argument {key!r} must be {expected.__name__} but got {type(value).__name__}"
            )
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidURL(f"Invalid non-ASCII bytes in URL component {key!r}") from None
        if isinstance(value, str):
            if len(value) > MAX_URL_LENGTH:
                raise InvalidURL(f"URL component {key!r} too long")
            _check_text(value, f"URL {key} component")
        given[key] = value

    raw: _Raw = {}
    for key in ("scheme", "userinfo", "host", "port", "path", "query", "fragment"):
        if key in given:
            raw[key] = given[key]
    # Later steps win, in httpx's order: params, netloc, username/password, raw_path.
    if "params" in given:
        params = given["params"]
        raw["query"] = str(QueryParams(params)) if params else None
    if "netloc" in given:
        raw["host"], raw["port"] = _split_hostport(given["netloc"] or "")
    if "username" in given or "password" in given:
        old_user, _, old_password = (raw.get("userinfo", userinfo) or "").partition(":")
        user = _quote(given["username"] or "", _USERNAME) if "username" in given else old_user
        password = (
            _quote(given["password"] or "", _USERNAME) if "password" in given else old_password
        )
        raw["userinfo"] = f"{user}:{password}" if password else user
    if "raw_path" in given:
        path, question, query = (given["raw_path"] or "").partition("?")
        raw["path"], raw["query"] = path, query if question else None

    if "scheme" in raw:
        scheme = raw["scheme"] or ""
        if scheme and not _is_scheme(scheme):
            raise InvalidURL(f"Invalid URL component 'scheme': {_shown(scheme)}")
        raw["scheme"] = scheme.lower()
    if "host" in raw:
        host = raw["host"] or ""
        if ":" in host and not (host.startswith("[") and host.endswith("]")):
            host = f"[{host}]"
        raw["host"] = host
    if "@" in (given.get("userinfo") or ""):
        raise InvalidURL("Invalid URL component 'userinfo': '@' must be escaped")
    path = raw.get("path") or ""
    if "?" in path or "#" in path:
        raise InvalidURL("Invalid URL component 'path': '?' and '#' must be escaped")
    if "#" in (raw.get("query") or ""):
        raise InvalidURL("Invalid URL component 'query': '#' must be escaped")
    return raw


class RawURL(NamedTuple):
    """What the deprecated `URL.raw` returns."""

    raw_scheme: bytes
    raw_host: bytes
    port: int | None
    raw_path: bytes


class URIReference(NamedTuple):
    """A URL's components as parsed and escaped: httpx's private ``URL._uri_reference``,
    which libraries built on httpx read. ``path`` is ``""`` for a URL written without
    one (`URL.path` says ``"/"``), ``host`` is the ASCII form, ``query`` and
    ``fragment`` are None when absent."""

    scheme: str
    userinfo: str
    host: str
    port: int | None
    path: str
    query: str | None
    fragment: str | None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.userinfo}@{self.netloc}" if self.userinfo else self.netloc

    def __str__(self) -> str:
        authority = self.authority
        return "".join(
            (
                f"{self.scheme}:" if self.scheme else "",
                f"//{authority}" if authority else "",
                self.path,
                "" if self.query is None else f"?{self.query}",
                "" if self.fragment is None else f"#{self.fragment}",
            )
        )


class URL:
    """An absolute or relative URL, parsed once into canonical components.

    ``URL("HTTPS://user:pw@Example.COM:443/a%20b?q=1#top")`` has scheme ``"https"``,
    userinfo ``b"user:pw"``, host ``"example.com"``, port None (the default),
    path ``"/a b"``, raw_path ``b"/a%20b?q=1"``, query ``b"q=1"`` and fragment ``"top"``.
    Keyword arguments (scheme, username, password, userinfo, host, port, netloc, path,
    query, raw_path, fragment, params) replace components, as in httpx.
    """

    __slots__ = (
        "_fragment",
        "_host",
        "_params",
        "_path",
        "_port",
        "_query",
        "_scheme",
        "_str",
        "_uhost",
        "_userinfo",
    )

    _scheme: str
    _userinfo: str
    _host: str  # ASCII form, no brackets
    _uhost: str  # display form: IDNA labels decoded
    _port: int | None
    _path: str
    _query: str | None
    _fragment: str | None
    _str: str | None
    _params: QueryParams | None

    def __init__(self, url: URL | str = "", **kwargs: Any) -> None:
        if isinstance(url, str):
            if kwargs:
                raw = _split(url)
                overrides = _kwargs_to_raw(kwargs, raw[1])
                parts = _canonical([overrides.get(f, r) for f, r in zip(_FIELDS, raw, strict=True)])
            elif len(url) > MAX_URL_LENGTH:
                raise InvalidURL("URL too long")  # before the cache, so a lowered limit holds
            else:
                cached = _parse_cache.get(url)
                if cached is None:
                    parts = _canonical(_split(url))
                    if len(url) <= PARSE_CACHE_MAX_URL_LENGTH:
                        if len(_parse_cache) >= PARSE_CACHE_SIZE:
                            _parse_cache.clear()
                        _parse_cache[url] = parts
                else:
                    parts = cached
            (
                self._scheme,
                self._userinfo,
                self._host,
                self._uhost,
                self._port,
                self._path,
                self._query,
                self._fragment,
            ) = parts
            self._str = self._params = None
        elif isinstance(url, URL):
            if kwargs:
                self._update(url, _kwargs_to_raw(kwargs, url._userinfo))
            else:
                self._scheme = url._scheme
                self._userinfo = url._userinfo
                self._host = url._host
                self._uhost = url._uhost
                self._port = url._port
                self._path = url._path
                self._query = url._query
                self._fragment = url._fragment
                self._str = url._str
                self._params = url._params
        else:
            raise TypeError(f"Invalid type for url. Expected str or URL, got {type(url)}: {url!r}")

    def _update(self, url: URL, raw: _Raw) -> None:
        """``url`` with the components in ``raw`` checked and replaced; the rest are canonical."""
        host, uhost = url._host, url._uhost
        if "host" in raw:
            host, uhost = _encode_host(raw["host"])
        userinfo, port, path = url._userinfo, url._port, url._path
        if "userinfo" in raw:
            userinfo = _quote(raw["userinfo"] or "", _USERINFO)
        if "port" in raw:
            port = _normalise_port(raw["port"])
        if "path" in raw:
            path = _quote(raw["path"] or "", _PATH)
        query, fragment = url._query, url._fragment
        if "query" in raw:
            query = raw["query"]
            query = None if query is None else _quote(query, _QUERY)
        if "fragment" in raw:
            fragment = raw["fragment"]
            fragment = None if fragment is None else _quote(fragment, _FRAGMENT)
        (
            self._scheme,
            self._userinfo,
            self._host,
            self._uhost,
            self._port,
            self._path,
            self._query,
            self._fragment,
        ) = _finish(
            [raw.get("scheme", url._scheme), userinfo, host, uhost, port, path, query, fragment]
        )
        self._str = self._params = None

    @classmethod
    def _make(
        cls,
        scheme: str,
        userinfo: str,
        host: str,
        uhost: str,
        port: int | None,
        path: str,
        query: str | None,
        fragment: str | None,
    ) -> URL:
        """Build from components that are already canonical (no checks)."""
        url = object.__new__(cls)
        url._scheme, url._userinfo, url._host, url._uhost = scheme, userinfo, host, uhost
        url._port, url._path, url._query, url._fragment = port, path, query, fragment
        url._str = url._params = None
        return url

    # -- components ------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """The scheme, lower-cased: ``"https"``; ``""`` for a relative URL."""
        return self._scheme

    @property
    def raw_scheme(self) -> bytes:
        return self._scheme.encode("ascii")

    @property
    def userinfo(self) -> bytes:
        """The escaped ``username:password`` part, e.g. ``b"jo%40email.com:a%20secret"``."""
        return self._userinfo.encode("ascii")

    @property
    def username(self) -> str:
        """The unescaped username."""
        return _unquote(self._userinfo.partition(":")[0])

    @property
    def password(self) -> str:
        """The unescaped password."""
        return _unquote(self._userinfo.partition(":")[2])

    @property
    def host(self) -> str:
        """The host, lower-cased, IDNA labels decoded: ``"müller.de"``, ``"::1"``."""
        return self._uhost

    @property
    def raw_host(self) -> bytes:
        """The host as sent: ASCII, IDNA-encoded: ``b"xn--mller-kva.de"``."""
        return self._host.encode("ascii")

    @property
    def port(self) -> int | None:
        """The port, or None when absent or the scheme's default."""
        return self._port

    @property
    def netloc(self) -> bytes:
        """``host`` or ``host:port`` as ASCII bytes, as for a Host header."""
        return self._netloc().encode("ascii")

    @property
    def path(self) -> str:
        """The unescaped path; ``"/"`` when empty."""
        return _unquote(self._path or "/")

    @property
    def query(self) -> bytes:
        """The escaped query without ``?``; ``b""`` when absent."""
        return (self._query or "").encode("ascii")

    @property
    def params(self) -> QueryParams:
        """The query parsed into an immutable multi-dict."""
        params = self._params
        if params is None:
            params = self._params = QueryParams(self._query)
        return params

    @property
    def raw_path(self) -> bytes:
        """Path and query, escaped, as in a request line: ``b"/a%20b?q=1"``."""
        path = self._path or "/"
        if self._query is not None:
            path = f"{path}?{self._query}"
        return path.encode("ascii")

    @property
    def fragment(self) -> str:
        """The unescaped fragment without ``#``."""
        return _unquote(self._fragment or "")

    @property
    def is_absolute_url(self) -> bool:
        """True when there is both a scheme and a host to connect to."""
        return bool(self._scheme and self._host)

    @property
    def is_relative_url(self) -> bool:
        return not (self._scheme and self._host)

    @property
    def origin(self) -> tuple[str, bytes, int]:
        """conch extra: ``(scheme, raw_host, port)`` with the default port filled in.

        The port is 0 when neither the URL nor its scheme has one. Hashable, for pool
        keys and same-origin checks.
        """
        port = self._port
        if port is None:
            port = _DEFAULT_PORTS.get(self._scheme, 0)
        return (self._scheme, self._host.encode("ascii"), port)

    @property
    def raw(self) -> RawURL:
        """Deprecated in httpx: ``(raw_scheme, raw_host, port, raw_path)``."""
        import warnings

        warnings.warn("URL.raw is deprecated.", DeprecationWarning, stacklevel=2)
        return RawURL(self.raw_scheme, self.raw_host, self._port, self.raw_path)

    # -- copies ----------------------------------------------------------------------

    @property
    def _uri_reference(self) -> URIReference:
        return URIReference(
            self._scheme,
            self._userinfo,
            self._host,
            self._port,
            self._path,
            self._query,
            self._fragment,
        )

    def copy_with(self, **kwargs: Any) -> URL:
        """A copy with some components replaced; same keywords as the constructor."""
        return URL(self, **kwargs)

    def copy_set_param(self, key: str, value: Any = None) -> URL:
        return self.copy_with(params=self.params.set(key, value))

    def copy_add_param(self, key: str, value: Any = None) -> URL:
        return self.copy_with(params=self.params.add(key, value))

    def copy_remove_param(self, key: str) -> URL:
        return self.copy_with(params=self.params.remove(key))

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        return self.copy_with(params=self.params.merge(params))

    def join(self, url: URL | str) -> URL:
        """Resolve ``url`` against this URL as RFC 3986 §5.2.2 says (strict form)."""
        ref = url if isinstance(url, URL) else URL(url)
        if ref._scheme:
            return ref  # its path already lost its dot segments when it was parsed
        scheme = self._scheme
        if ref._userinfo or ref._host or ref._port is not None:
            port = ref._port
            if port is not None and port == _DEFAULT_PORTS.get(scheme):
                port = None
            return URL._make(
                scheme,
                ref._userinfo,
                ref._host,
                ref._uhost,
                port,
                _remove_dot_segments(ref._path),
                ref._query,
                ref._fragment,
            )
        has_authority = bool(self._userinfo or self._host or self._port is not None)
        query = ref._query
        if not ref._path:
            path = self._path
            if query is None:
                query = self._query
        elif ref._path[0] == "/":
            path = _remove_dot_segments(ref._path)
        else:
            if has_authority and not self._path:
                merged = "/" + ref._path
            else:
                merged = self._path[: self._path.rfind("/") + 1] + ref._path
            path = _remove_dot_segments(merged)
        path = _finish_path(path, bool(scheme), has_authority)
        return URL._make(
            scheme,
            self._userinfo,
            self._host,
            self._uhost,
            self._port,
            path,
            query,
            ref._fragment,
        )

    # -- text, equality --------------------------------------------------------------

    def _netloc(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return host if self._port is None else f"{host}:{self._port}"

    def _compose(self, userinfo: str) -> str:
        parts: list[str] = []
        if self._scheme:
            parts.append(self._scheme + ":")
        authority = self._netloc()
        if userinfo:
            authority = f"{userinfo}@{authority}"
        if authority or self._path.startswith("//"):
            # An empty authority is written out before a "//" path, so it cannot be
            # misread as a host.
            parts.append("//" + authority)
        parts.append(self._path)
        if self._query is not None:
            parts.append("?" + self._query)
        if self._fragment is not None:
            parts.append("#" + self._fragment)
        return "".join(parts)

    def __str__(self) -> str:
        text = self._str
        if text is None:
            text = self._str = self._compose(self._userinfo)
        return text

    def __repr__(self) -> str:
        userinfo = self._userinfo
        if ":" in userinfo:
            userinfo = userinfo.partition(":")[0] + ":[secure]"
        return f"{self.__class__.__name__}({self._compose(userinfo)!r})"

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL):
            return str(self) == str(other)
        if isinstance(other, str):
            text = str(self)
            if other == text:
                return True
            try:
                return text == str(URL(other))
            except InvalidURL:
                return False
        return False


def _primitive(value: PrimitiveData) -> str:
    """httpx's value coercion: JSON-style booleans, None as empty."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _parse_query(text: str) -> dict[str, list[str]]:
    """`urllib.parse.parse_qs(keep_blank_values=True)`, as httpx uses it."""
    result: dict[str, list[str]] = {}
    for field in text.split("&"):
        if field:
            key, _, value = field.partition("=")
            result.setdefault(_unquote_plus(key), []).append(_unquote_plus(value))
    return result


class QueryParams(Mapping[str, str]):
    """Immutable query parameters: a multi-dict whose plain lookups give the first value.

    Built from a query string (str or bytes), a mapping (values may be lists or tuples),
    a list or tuple of pairs, another QueryParams, or keyword arguments. Values are
    coerced as httpx does: True -> "true", False -> "false", None -> "", others -> str().
    """

    __slots__ = ("_dict",)

    _dict: dict[str, list[str]]

    def __init__(self, *args: QueryParamTypes | None, **kwargs: Any) -> None:
        if len(args) > 1:
            raise TypeError("QueryParams() takes at most one positional argument")
        if args and kwargs:
            raise TypeError("QueryParams() cannot mix positional and keyword arguments")
        value: Any = args[0] if args else kwargs
        if value is None or isinstance(value, str):
            self._dict = _parse_query(value) if value else {}
        elif isinstance(value, bytes):
            try:
                self._dict = _parse_query(value.decode("ascii"))
            except UnicodeDecodeError:
                raise InvalidURL("Invalid non-ASCII bytes in query string") from None
        elif isinstance(value, QueryParams):
            self._dict = {k: list(v) for k, v in value._dict.items()}
        else:
            grouped: dict[Any, list[Any]] = {}
            if isinstance(value, (list, tuple)):
                for item in value:
                    grouped.setdefault(item[0], []).append(item[1])
            else:
                grouped = {
                    k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in value.items()
                }
            self._dict = {str(k): [_primitive(item) for item in v] for k, v in grouped.items()}

    def keys(self) -> KeysView[str]:
        """Each key once, in first-seen order."""
        return self._dict.keys()

    def values(self) -> ValuesView[str]:
        """The first value of each key."""
        return {k: v[0] for k, v in self._dict.items()}.values()

    def items(self) -> ItemsView[str, str]:
        """(key, first value) for each key."""
        return {k: v[0] for k, v in self._dict.items()}.items()

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (key, value) pair, duplicates included."""
        return [(k, item) for k, v in self._dict.items() for item in v]

    def get(self, key: Any, default: Any = None) -> Any:
        """The first value for ``key``, or ``default``."""
        values = self._dict.get(key)
        return default if values is None else values[0]

    def get_list(self, key: str) -> list[str]:
        """Every value for ``key``."""
        return list(self._dict.get(str(key), []))

    def set(self, key: str, value: Any = None) -> QueryParams:
        """A copy with ``key`` holding only ``value``."""
        q = QueryParams()
        q._dict = dict(self._dict)
        q._dict[str(key)] = [_primitive(value)]
        return q

    def add(self, key: str, value: Any = None) -> QueryParams:
        """A copy with ``value`` appended to ``key``'s values."""
        q = QueryParams()
        q._dict = dict(self._dict)
        q._dict[str(key)] = [*self.get_list(key), _primitive(value)]
        return q

    def remove(self, key: str) -> QueryParams:
        """A copy without ``key``."""
        q = QueryParams()
        q._dict = dict(self._dict)
        q._dict.pop(str(key), None)
        return q

    def merge(self, params: QueryParamTypes | None = None) -> QueryParams:
        """A copy where each key in ``params`` replaces this one's values for that key."""
        q = QueryParams(params)
        q._dict = {**self._dict, **q._dict}
        return q

    def __getitem__(self, key: Any) -> str:
        return self._dict[key][0]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[Any]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __bool__(self) -> bool:
        return bool(self._dict)

    def __hash__(self) -> int:
        # Order-insensitive, like __eq__ (httpx hashes str(self), which is not).
        return hash(tuple(sorted(self.multi_items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, self.__class__):
            return False
        return sorted(self.multi_items()) == sorted(other.multi_items())

    def __str__(self) -> str:
        return "&".join(
            f"{_quote_form(k)}={_quote_form(item)}" for k, v in self._dict.items() for item in v
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"

    def update(self, params: QueryParamTypes | None = None) -> None:
        raise RuntimeError(
            "QueryParams are immutable since httpx 0.18.0. "
            "Use `q = q.merge(...)` to create an updated copy."
        )

    def __setitem__(self, key: str, value: str) -> None:
        raise RuntimeError(
            "QueryParams are immutable since httpx 0.18.0. "
            "Use `q = q.set(key, value)` to create an updated copy."
        )


# The arguments a URL or query parameters are made from (httpx's ``URLTypes`` and
# ``QueryParamTypes``, re-exported by `conch._types`): each beside its class.
URLTypes: TypeAlias = URL | str
# A query parameter's value (httpx's ``PrimitiveData``, re-exported by `conch._types`).
PrimitiveData: TypeAlias = str | int | float | bool | None
QueryParamTypes: TypeAlias = (
    QueryParams
    | Mapping[str, PrimitiveData | Sequence[PrimitiveData]]
    | list[tuple[str, PrimitiveData]]
    | tuple[tuple[str, PrimitiveData], ...]
    | str
    | bytes
)
