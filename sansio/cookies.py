"""Cookies: an RFC 6265 cookie jar of conch's own, and the public `Cookies` mapping.

``http.cookiejar`` is out of reach for the core (it imports socket and ssl, and reads
the clock), so this module parses ``Set-Cookie`` (RFC 6265 §5.2, with its §5.1.1 date
algorithm), stores cookies (§5.3) and builds the ``Cookie`` header (§5.4) itself.
Time is always an argument (``now``, seconds since the epoch); `Cookies` falls back to
``sansio.env.current().wall_clock()`` only when a caller leaves it out.

Stricter than the stdlib jar, as browsers are: host-only cookies stay on their host,
Domain must domain-match the request host and may not be a public suffix, an IP host
gets host-only cookies, ``Secure`` needs https/wss both ways, the ``__Secure-`` and
``__Host-`` prefixes are enforced (RFC 6265bis §4.1.3), a plain-http response can neither
replace a ``Secure`` cookie nor shadow one with a same-named cookie on a related domain
and path (RFC 6265bis §5.7), and lifetimes are capped (RFC 6265bis §5.6).

Names. Hosts and Domain attributes go through the URL parser's own canonicaliser
(`sansio.urls.canonical_host`): IDNA 2008 / UTS #46, RFC 5952 IPv6, WHATWG IPv4, so the
jar and `URL` never disagree about a name (``faß.de`` is ``xn--fa-hia.de``, not
``fass.de``); a host or Domain that `URL` refuses gets no cookies. A host written with
the root's trailing dot (``example.com.``) is a host of its own, as in browsers: its
cookies are kept apart from ``example.com``'s, its Domain attributes must carry the dot
too, and the public-suffix and domain-match checks see the name without it. As in
``http.cookiejar``, a dot-less host H (``testserver``, the host of Starlette's test
client) is also ``H.local`` for domain matching, so it may set ``Domain=H.local``;
dotted hosts never get ``.local``.

The limits below bound what *servers* can make a jar hold. Cookies a program stores
itself (`CookieJar.set_cookie`, `Cookies.set`) are never dropped or rejected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping

from . import env
from ._typing_lite import TYPE_CHECKING, Any, TypeAlias
from .exceptions import CookieConflict, InvalidURL
from .urls import canonical_host

if TYPE_CHECKING:  # pragma: no cover
    from typing import Protocol

__all__ = [
    "MAX_COOKIES",
    "MAX_COOKIES_PER_DOMAIN",
    "MAX_COOKIE_LIFETIME",
    "MAX_COOKIE_SIZE",
    "PUBLIC_SUFFIXES",
    "Cookie",
    "CookieJar",
    "Cookies",
    "is_public_suffix",
    "parse_cookie_date",
]

# RFC 6265 §6.1 asks user agents to keep at least 50 cookies per domain and 3000 in all.
# Browsers keep a little more (Chrome 180 per domain, 3300 in all); the RFC minimums are
# plenty for an HTTP client and keep what a hostile server can pile up small.
MAX_COOKIES_PER_DOMAIN = 50
MAX_COOKIES = 3000
# RFC 6265 §6.1: at least 4096 bytes per cookie; RFC 6265bis §5.6 counts name + value and
# ignores (rather than truncates) a larger cookie, as Chrome and Firefox do.
MAX_COOKIE_SIZE = 4096
# RFC 6265bis §5.6.1/§5.6.2: Expires and Max-Age are capped at 400 days (Chrome since 2022,
# Firefox likewise), so no server can pin a cookie in the jar forever.
MAX_COOKIE_LIFETIME = 400 * 24 * 60 * 60

# Multi-label public suffixes that real sites commonly sit under (ICANN second levels and
# the big hosting platforms from the Public Suffix List). Any single-label domain counts
# as a public suffix too. This is deliberately small; pass a full PSL lookup as
# ``CookieJar(is_public_suffix=...)`` for complete coverage.
PUBLIC_SUFFIXES = frozenset(
    {
        # United Kingdom
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "net.uk", "ltd.uk", "plc.uk",
        "sch.uk", "nhs.uk", "police.uk",
        # Australia
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
        # Japan
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "ad.jp", "ed.jp", "gr.jp", "lg.jp",
        # New Zealand
        "co.nz", "net.nz", "org.nz", "govt.nz", "ac.nz", "geek.nz",
        # Americas
        "com.br", "net.br", "org.br", "gov.br", "com.mx", "org.mx", "net.mx", "gob.mx",
        "com.ar", "com.co",
        # Asia
        "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "co.in", "net.in", "org.in",
        "gov.in", "ac.in", "firm.in", "gen.in", "ind.in", "com.tw", "org.tw", "net.tw",
        "com.hk", "org.hk", "net.hk", "com.sg", "org.sg", "com.my", "co.kr", "or.kr",
        "ne.kr", "co.id", "com.ph", "com.vn", "com.pk", "co.th", "in.th", "ac.th",
        "co.il", "org.il", "ac.il", "com.sa", "com.tr",
        # Africa and Europe
        "co.za", "org.za", "gov.za", "ac.za", "web.za", "net.za", "com.ng", "co.ke",
        "com.eg", "com.ua", "com.es", "org.es", "co.at", "or.at", "com.pl", "net.pl",
        "org.pl",
        # Hosting platforms (PSL private section)
        "github.io", "githubusercontent.com", "gitlab.io", "herokuapp.com", "appspot.com",
        "blogspot.com", "cloudfront.net", "amazonaws.com", "s3.amazonaws.com",
        "elasticbeanstalk.com", "azurewebsites.net", "cloudapp.net",
        "blob.core.windows.net", "netlify.app", "vercel.app", "pages.dev", "workers.dev",
        "web.app", "firebaseapp.com", "fly.dev", "onrender.com", "readthedocs.io",
        "myshopify.com", "pythonanywhere.com", "ngrok.io", "glitch.me",
    }
)  # fmt: skip

_SECURE_SCHEMES = frozenset({"https", "wss"})
_WSP = " \t"
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def is_public_suffix(domain: str) -> bool:
    """The built-in public suffix rule: any single label, or one of `PUBLIC_SUFFIXES`.

    ``domain`` is lower-case ASCII (IDNA) without a leading or trailing dot.
    """
    return "." not in domain or domain in PUBLIC_SUFFIXES


# -- the cookie-date algorithm (RFC 6265 §5.1.1) ----------------------------------------

# delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E; all become one space.
_DATE_DELIMITERS = dict.fromkeys(
    [0x09, *range(0x20, 0x30), *range(0x3B, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x7F)], " "
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


_DIGITS = "0123456789"


def _leading_number(token: str, least: int, most: int) -> int | None:
    """``least*most DIGIT [ non-digit *OCTET ]`` at the start of ``token``, as a number."""
    end = len(token) - len(token.lstrip(_DIGITS))
    if least <= end <= most:
        return int(token[:end])
    return None


def _time_of_day(token: str) -> tuple[int, int, int] | None:
    """``hms-time [ non-digit *OCTET ]``, where each field is ``1*2DIGIT``."""
    parts = token.split(":", 2)
    if len(parts) != 3:
        return None
    hour, minute, rest = parts
    second = _leading_number(rest, 1, 2)
    if (
        second is None
        or not 1 <= len(hour) <= 2
        or not 1 <= len(minute) <= 2
        or hour.strip(_DIGITS)
        or minute.strip(_DIGITS)
    ):
        return None
    return int(hour), int(minute), second


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's method)."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_cookie_date(text: str) -> int | None:
    """Seconds since the epoch for a cookie date (RFC 6265 §5.1.1), or None if invalid.

    Accepts every format servers send: RFC 1123 (``Sun, 06 Nov 1994 08:49:37 GMT``),
    RFC 850 (``Sunday, 06-Nov-94 08:49:37 GMT``), asctime (``Sun Nov  6 08:49:37 1994``)
    and their many variations. Two-digit years 70-99 are 19xx, 00-69 are 20xx.
    """
    time_of_day = day = month = year = None
    for token in text.translate(_DATE_DELIMITERS).split(" "):
        if not token:
            continue
        if time_of_day is None and ":" in token:
            time_of_day = _time_of_day(token)
            if time_of_day is not None:
                continue
        if day is None:
            day = _leading_number(token, 1, 2)
            if day is not None:
                continue
        if month is None:
            month = _MONTHS.get(token[:3].lower())
            if month is not None:
                continue
        if year is None:
            year = _leading_number(token, 2, 4)
    if time_of_day is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = time_of_day
    if year < 1601 or hour > 23 or minute > 59 or second > 59 or day < 1:
        return None
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] + leap:
        return None
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


# -- the Cookie value -------------------------------------------------------------------


class Cookie:
    """One stored cookie, with the attributes of ``http.cookiejar.Cookie`` people read.

    ``domain`` is ``".example.com"`` for a cookie sent to example.com and its subdomains,
    ``"example.com"`` for a host-only cookie, and ``""`` for a cookie sent to every host
    (what ``Cookies.set(name, value)`` stores, as in httpx). ``expires`` is whole seconds
    since the epoch, None for a session cookie. ``creation_time`` is 0.0 for cookies set
    by the program rather than received.

    Attributes are plain slots, as in the stdlib; a jar files a cookie under its
    ``(domain, path, name)``, so leave those three alone while it is stored.
    """

    # A hand-written class, not a dataclass: with twenty fields the dataclass machinery
    # costs milliseconds at import and a slower __init__, for no gain here.
    __slots__ = (
        "comment",
        "comment_url",
        "creation_time",
        "discard",
        "domain",
        "domain_specified",
        "expires",
        "http_only",
        "name",
        "path",
        "path_specified",
        "port",
        "port_specified",
        "rest",
        "rfc2109",
        "same_site",
        "secure",
        "value",
        "version",
    )

    def __init__(
        self,
        name: str,
        value: str,
        *,
        domain: str = "",
        path: str = "/",
        secure: bool = False,
        expires: int | None = None,
        http_only: bool = False,
        same_site: str | None = None,
        creation_time: float = 0.0,
        domain_specified: bool = False,
        path_specified: bool = False,
        discard: bool = True,
        port: str | None = None,
        port_specified: bool = False,
        version: int = 0,
        comment: str | None = None,
        comment_url: str | None = None,
        rfc2109: bool = False,
        rest: dict[str, str | None] | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.path = path
        self.secure = secure
        self.expires = expires
        self.http_only = http_only
        self.same_site = same_site
        self.creation_time = creation_time
        self.domain_specified = domain_specified
        self.path_specified = path_specified
        self.discard = discard
        self.port = port
        self.port_specified = port_specified
        self.version = version
        self.comment = comment
        self.comment_url = comment_url
        self.rfc2109 = rfc2109
        self.rest: dict[str, str | None] = {} if rest is None else rest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cookie):
            return NotImplemented
        return all(
            getattr(self, slot) == getattr(other, slot)
            for slot in Cookie.__slots__
            if slot != "rest"
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable

    def __repr__(self) -> str:
        return (
            f"Cookie(name={self.name!r}, value={self.value!r}, domain={self.domain!r}, "
            f"path={self.path!r}, secure={self.secure!r}, expires={self.expires!r})"
        )

    @property
    def host_only(self) -> bool:
        """True when the cookie goes to its exact host only, not to subdomains."""
        domain = self.domain
        return bool(domain) and domain[0] != "." and not self.domain_specified

    @property
    def domain_initial_dot(self) -> bool:
        return self.domain.startswith(".")

    def is_expired(self, now: float | None = None) -> bool:
        """True once ``now`` (default: the installed wall clock) reaches ``expires``."""
        if self.expires is None:
            return False
        if now is None:
            now = env.current().wall_clock()
        return self.expires <= now

    def has_nonstandard_attr(self, name: str) -> bool:
        return name in self.rest

    def get_nonstandard_attr(self, name: str, default: str | None = None) -> str | None:
        return self.rest.get(name, default)

    def set_nonstandard_attr(self, name: str, value: str | None) -> None:
        self.rest[name] = value

    @classmethod
    def coerce(cls, cookie: Any) -> Cookie:
        """A `Cookie` from any object shaped like ``http.cookiejar.Cookie``."""
        if isinstance(cookie, Cookie):
            return cookie
        try:
            name = cookie.name
            value = cookie.value
        except AttributeError:
            raise TypeError(
                f"expected a cookie with .name and .value, got {type(cookie).__name__}"
            ) from None
        rest_source = getattr(cookie, "rest", None)
        if rest_source is None:
            # http.cookiejar keeps the extra attributes (HttpOnly, SameSite...) here.
            rest_source = getattr(cookie, "_rest", None)
        rest = dict(rest_source) if isinstance(rest_source, Mapping) else {}
        lowered = {str(key).lower(): v for key, v in rest.items()}
        expires = getattr(cookie, "expires", None)
        return cls(
            str(name),
            "" if value is None else str(value),
            domain=getattr(cookie, "domain", None) or "",
            path=getattr(cookie, "path", None) or "/",
            secure=bool(getattr(cookie, "secure", False)),
            expires=None if expires is None else int(expires),
            http_only=bool(getattr(cookie, "http_only", "httponly" in lowered)),
            same_site=getattr(cookie, "same_site", lowered.get("samesite")),
            creation_time=float(getattr(cookie, "creation_time", 0.0)),
            domain_specified=bool(getattr(cookie, "domain_specified", False)),
            path_specified=bool(getattr(cookie, "path_specified", False)),
            discard=bool(getattr(cookie, "discard", expires is None)),
            port=getattr(cookie, "port", None),
            port_specified=bool(getattr(cookie, "port_specified", False)),
            version=getattr(cookie, "version", None) or 0,
            comment=getattr(cookie, "comment", None),
            comment_url=getattr(cookie, "comment_url", None),
            rfc2109=bool(getattr(cookie, "rfc2109", False)),
            rest=rest,
        )


# -- Set-Cookie parsing (RFC 6265 §5.2) -------------------------------------------------


class _SetCookie:
    """The syntax of one Set-Cookie value; `CookieJar._receive` applies the rules."""

    __slots__ = (
        "domain",
        "expires",
        "http_only",
        "max_age",
        "name",
        "path",
        "same_site",
        "secure",
        "value",
    )

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value
        self.expires: int | None = None
        self.max_age: int | None = None
        self.domain: str | None = None
        self.path: str | None = None  # None: use the default path
        self.secure = False
        self.http_only = False
        self.same_site: str | None = None


def _has_ctl(text: str) -> bool:
    """A control character other than HTAB (RFC 6265bis §5.6 rejects those)."""
    if text.isascii() and text.isprintable():
        return False
    return any((c < " " and c != "\t") or c == "\x7f" for c in text)


def _parse_max_age(text: str) -> int | None:
    if not text:
        return None
    negative = text[0] == "-"
    digits = text[1:] if negative else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    if negative:
        return 0  # any delta <= 0 means "expire now"
    # Anything this long is capped to the maximum lifetime anyway; skip the huge int.
    return int(digits) if len(digits) <= 18 else 10**18


def _parse_set_cookie(text: str) -> _SetCookie | None:
    pair, _, attributes = text.partition(";")
    name, equals, value = pair.partition("=")
    if not equals:
        return None  # §5.2 step 2: no "=" at all
    name = name.strip(_WSP)
    value = value.strip(_WSP)
    if not name or _has_ctl(name) or _has_ctl(value):
        return None  # §5.2 step 5; RFC 6265bis §5.6 step 4
    parsed = _SetCookie(name, value)
    for attribute in attributes.split(";"):
        key, _, raw = attribute.partition("=")
        key = key.strip(_WSP).lower()
        raw = raw.strip(_WSP)
        # The last valid occurrence of each attribute wins (§5.3).
        if key == "expires":
            expires = parse_cookie_date(raw)
            if expires is not None:
                parsed.expires = expires
        elif key == "max-age":
            max_age = _parse_max_age(raw)
            if max_age is not None:
                parsed.max_age = max_age
        elif key == "domain":
            if raw:  # §5.2.3: an empty Domain is ignored
                parsed.domain = raw
        elif key == "path":
            parsed.path = raw if raw.startswith("/") else None
        elif key == "secure":
            parsed.secure = True
        elif key == "httponly":
            parsed.http_only = True
        elif key == "samesite":
            parsed.same_site = _SAME_SITE.get(raw.lower())
    return parsed


# -- hosts, domains and paths -----------------------------------------------------------


def _canonical_host(host: str) -> str | None:
    """The host as `URL.raw_host` spells it (RFC 6265 §5.1.2), or None if URL refuses it.

    The URL parser's own canonicaliser, so the jar and the URL always agree on a name
    (IDNA 2008 / UTS #46: ``faß.de`` is ``xn--fa-hia.de``, never ``fass.de``).
    """
    try:
        return canonical_host(host)
    except InvalidURL:
        return None


def _domain_attribute(value: str) -> str | None:
    """A Domain attribute ready to compare: canonical, without its leading dot."""
    return _canonical_host(value[1:] if value[0] == "." else value) or None


def _is_ip(host: str) -> bool:
    # A canonical name never ends in a numeric label (URL parses that as IPv4).
    last = host[host.rfind(".") + 1 :]
    return ":" in host or (last.isascii() and last.isdigit())


def _effective_host(host: str) -> str:
    """http.cookiejar's "effective request-host": ``H.local`` for a dot-less name H.

    Test clients talk to hosts such as ``testserver``, whose apps set
    ``Domain=testserver.local``. A dotted name (``example.com``, ``example.com.``) and an
    IP address are their own effective host, so no real site ever gains a ``.local``.
    """
    if host and "." not in host and ":" not in host:
        return host + ".local"
    return host


def _domain_matches(name: str, domain: str) -> bool:
    """RFC 6265 §5.1.3, where a dot-less ``name`` H also matches ``H.local`` exactly."""
    if name == domain or (name.endswith("." + domain) and not _is_ip(name)):
        return True
    return _effective_host(name) == domain


def _path_matches(path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4: ``path`` is ``cookie_path`` or below it."""
    return path == cookie_path or (
        path.startswith(cookie_path)
        and (cookie_path.endswith("/") or path[len(cookie_path)] == "/")
    )


def _default_path(path: str) -> str:
    """RFC 6265 §5.1.4: the request path up to, not including, its last "/"."""
    if not path.startswith("/"):
        return "/"
    last = path.rfind("/")
    return path[:last] if last > 0 else "/"


def _bucket(domain: str) -> str:
    """The storage bucket (and per-domain limit unit) of a cookie domain."""
    return (domain[1:] if domain.startswith(".") else domain).lower()


_Key = tuple[str, str, str]  # (domain, path, name)
_Entry = tuple[int, Cookie]  # (order of first storage, cookie)


class CookieJar:
    """An RFC 6265 cookie store; pure: the caller passes the request URL parts and ``now``.

    ``is_public_suffix(domain) -> bool`` decides which Domain attributes are too broad;
    ``domain`` arrives lower-case, IDNA-encoded and without a leading or trailing dot.
    The built-in rule (`is_public_suffix`) knows single labels and a short list of common
    suffixes; plug in a full Public Suffix List lookup for complete protection, for
    example::

        from publicsuffixlist import PublicSuffixList
        psl = PublicSuffixList()
        jar = CookieJar(is_public_suffix=lambda d: psl.publicsuffix(d) == d)

    Limits: at most ``max_cookies_per_domain`` cookies per domain and ``max_cookies`` in
    all (expired ones go first, then the oldest), received cookies whose name and value
    exceed ``max_cookie_size`` UTF-8 bytes are ignored, and lifetimes are capped at
    ``max_lifetime`` seconds. Cookies stored with `set_cookie` are exempt.
    """

    __slots__ = (
        "_all",
        "_buckets",
        "_by_name",
        "_is_public_suffix",
        "_mirror",
        "_mirror_seen",
        "_order",
        "max_cookie_size",
        "max_cookies",
        "max_cookies_per_domain",
        "max_lifetime",
    )

    def __init__(
        self,
        *,
        is_public_suffix: Callable[[str], bool] = is_public_suffix,
        max_cookies: int = MAX_COOKIES,
        max_cookies_per_domain: int = MAX_COOKIES_PER_DOMAIN,
        max_cookie_size: int = MAX_COOKIE_SIZE,
        max_lifetime: int = MAX_COOKIE_LIFETIME,
    ) -> None:
        for label, limit in (
            ("max_cookies", max_cookies),
            ("max_cookies_per_domain", max_cookies_per_domain),
            ("max_cookie_size", max_cookie_size),
            ("max_lifetime", max_lifetime),
        ):
            if limit < 1:
                raise ValueError(f"{label} must be at least 1, got {limit!r}")
        self._is_public_suffix = is_public_suffix
        self.max_cookies = max_cookies
        self.max_cookies_per_domain = max_cookies_per_domain
        self.max_cookie_size = max_cookie_size
        self.max_lifetime = max_lifetime
        # Both dicts share entries and stay in storage order, so the first entry of
        # each is its oldest cookie.
        self._all: dict[_Key, _Entry] = {}
        self._buckets: dict[str, dict[_Key, _Entry]] = {}
        # The keys of each cookie name (an ordered set), for the Secure shadowing rule.
        self._by_name: dict[str, dict[_Key, None]] = {}
        self._order = 0
        self._mirror: Any = None  # a user's http.cookiejar jar kept in step (see `mirror`)
        self._mirror_seen: tuple[int, ...] = ()

    # -- receiving ----------------------------------------------------------------------

    def extract(
        self, set_cookie_values: Iterable[str], *, scheme: str, host: str, path: str, now: float
    ) -> None:
        """Store the cookies of a response's Set-Cookie values; invalid ones are skipped.

        A ``host`` that `URL` would refuse, or none at all, stores nothing (a host-only
        cookie for ``""`` would go to every host).
        """
        self._refresh()
        canonical = _canonical_host(host)
        if not canonical:
            return
        host = canonical
        secure_origin = scheme.lower() in _SECURE_SCHEMES
        for text in set_cookie_values:
            parsed = _parse_set_cookie(text)
            if parsed is not None:
                self._receive(parsed, host, secure_origin, path, now)

    def _receive(
        self, parsed: _SetCookie, host: str, secure_origin: bool, request_path: str, now: float
    ) -> None:
        name = parsed.name
        value = parsed.value
        size = len(name) + len(value)
        if not (name.isascii() and value.isascii()):
            size = len((name + value).encode("utf-8", "surrogatepass"))
        if size > self.max_cookie_size:
            return

        base = int(now)
        if parsed.max_age is not None:  # Max-Age wins over Expires (§5.3 step 3)
            expires: int | None = base + min(parsed.max_age, self.max_lifetime)
        elif parsed.expires is not None:
            expires = min(parsed.expires, base + self.max_lifetime)
        else:
            expires = None

        host_only = True
        cookie_domain = host
        if parsed.domain is not None:  # §5.3 steps 4-6
            domain = _domain_attribute(parsed.domain)
            if domain is None:
                return
            # "example.com." (absolute) and "example.com" are different hosts, as in
            # browsers: a Domain matches only a host written the same way. The
            # public-suffix check sees the name without the root's dot, so
            # "Domain=com." from "evil.com." is refused as "com" would be.
            if domain.endswith(".") is not host.endswith("."):
                return
            if _is_ip(host) or self._is_public_suffix(domain.removesuffix(".")):
                if domain != host:
                    return
            elif not _domain_matches(host, domain):
                return
            else:
                host_only = False
                cookie_domain = "." + domain
        cookie_path = parsed.path if parsed.path is not None else _default_path(request_path)

        secure = parsed.secure
        if secure and not secure_origin:
            return
        if name[:2] == "__":  # RFC 6265bis §4.1.3 prefixes, matched case-insensitively
            lowered = name.lower()
            if lowered.startswith("__secure-") and not secure:
                return
            # As Chrome does, __Host- allows no Domain attribute at all.
            if lowered.startswith("__host-") and (
                not secure or parsed.domain is not None or cookie_path != "/"
            ):
                return

        if not secure_origin and self._shadows_secure(name, cookie_domain, cookie_path):
            return
        key = (cookie_domain, cookie_path, name)
        old = self._all.get(key)
        if expires is not None and expires <= now:
            if old is not None:
                self._remove(key)
            return
        rest: dict[str, str | None] = {}
        if parsed.http_only:
            rest["HttpOnly"] = None
        if parsed.same_site is not None:
            rest["SameSite"] = parsed.same_site
        cookie = Cookie(
            name,
            value,
            domain=cookie_domain,
            path=cookie_path,
            secure=secure,
            expires=expires,
            http_only=parsed.http_only,
            same_site=parsed.same_site,
            creation_time=now if old is None else old[1].creation_time,
            domain_specified=not host_only,
            path_specified=parsed.path is not None,
            discard=expires is None,
            rest=rest,
        )
        if old is None:
            self._make_room(cookie_domain, now)
        self._store(key, cookie)

    def _shadows_secure(self, name: str, domain: str, path: str) -> bool:
        """RFC 6265bis §5.7 step 15: would a cookie from a non-secure origin shadow a
        Secure one?

        True when a Secure cookie of the same name has a domain that domain-matches
        ``domain`` or is domain-matched by it, and ``path`` path-matches its path; a
        cookie set for every host (domain ``""``) covers every domain. This also keeps
        plain http from replacing or deleting a Secure cookie (§5.7 step 16).
        """
        keys = self._by_name.get(name)
        if not keys:
            return False
        domain = domain.lstrip(".")
        for key in keys:
            cookie = self._all[key][1]
            if not cookie.secure or not _path_matches(path, key[1]):
                continue
            other = key[0].lstrip(".")
            if not other or _domain_matches(other, domain) or _domain_matches(domain, other):
                return True
        return False

    def _make_room(self, domain: str, now: float) -> None:
        bucket = self._buckets.get(_bucket(domain))
        if bucket is not None and len(bucket) >= self.max_cookies_per_domain:
            self._evict(bucket, self.max_cookies_per_domain, now)
        if len(self._all) >= self.max_cookies:
            self._evict(self._all, self.max_cookies, now)

    def _evict(self, entries: dict[_Key, _Entry], limit: int, now: float) -> None:
        """Free one slot under ``limit``: expired cookies first, then the oldest."""
        expired = [
            key
            for key, (_, cookie) in entries.items()
            if cookie.expires is not None and cookie.expires <= now
        ]
        for key in expired:
            self._remove(key)
        # RFC 6265 §5.3 evicts the least recently used; creation order is a close,
        # cheaper stand-in (the stdlib jar keeps no access times either).
        while len(entries) >= limit:
            self._remove(next(iter(entries)))

    def _store(self, key: _Key, cookie: Cookie) -> None:
        old = self._all.get(key)
        if old is None:
            self._order += 1
            entry = (self._order, cookie)
        else:
            entry = (old[0], cookie)  # a replacement keeps its place in the order
        self._all[key] = entry
        self._buckets.setdefault(_bucket(key[0]), {})[key] = entry
        self._by_name.setdefault(key[2], {})[key] = None
        if self._mirror is not None:
            self._mirror.set_cookie(cookie)  # conch's cookies are stdlib-shaped
            self._mirror_seen = self._mirror_state()

    def _remove(self, key: _Key) -> None:
        del self._all[key]
        name = _bucket(key[0])
        bucket = self._buckets[name]
        del bucket[key]
        if not bucket:
            del self._buckets[name]
        same_name = self._by_name[key[2]]
        del same_name[key]
        if not same_name:
            del self._by_name[key[2]]
        if self._mirror is not None:
            with contextlib.suppress(KeyError):  # the user may have removed it already
                self._mirror.clear(*key)
            self._mirror_seen = self._mirror_state()

    # -- a user's http.cookiejar jar, kept in step --------------------------------------

    def mirror(self, target: Any) -> None:
        """Keep ``target`` (an ``http.cookiejar.CookieJar``, or one shaped like it) in step
        with this jar, both ways: its cookies are taken in now, and again whenever it
        changes (a ``load()``); every cookie this jar stores or drops is stored in or
        dropped from it, so its ``save()`` keeps what responses set. This jar's rules
        still decide what is stored and sent. A `copy` does not mirror."""
        self._mirror = None
        for cookie in list(target):
            self.set_cookie(cookie)
        self._mirror = target
        self._mirror_seen = self._mirror_state()

    def _mirror_state(self) -> tuple[int, ...]:
        return tuple(map(id, self._mirror))

    def _refresh(self) -> None:
        """Take in the mirrored jar again if it changed since this jar last wrote to it."""
        mirror = self._mirror
        if mirror is None or self._mirror_state() == self._mirror_seen:
            return
        self._mirror = None
        self.clear()
        self.mirror(mirror)

    # -- sending ------------------------------------------------------------------------

    def header_for(self, *, scheme: str, host: str, path: str, now: float) -> str | None:
        """The Cookie header value for a request (RFC 6265 §5.4), or None if none match.

        Expired cookies met on the way are dropped from the jar.
        """
        self._refresh()
        if not self._all:
            return None
        canonical = _canonical_host(host)
        if canonical is None:
            return None  # a host URL refuses has no cookies
        host = canonical
        secure = scheme.lower() in _SECURE_SCHEMES
        if not path.startswith("/"):
            path = "/"
        buckets = self._buckets
        # (bucket, whether only domain cookies in it may match)
        candidates = [(buckets.get(host), False)]
        if not _is_ip(host):
            dot = host.find(".")
            while dot != -1:
                # The last dot of "example.com." leaves "": that is the bucket of
                # cookies for every host, added once below.
                parent = host[dot + 1 :]
                if parent:
                    candidates.append((buckets.get(parent), True))
                dot = host.find(".", dot + 1)
            effective = _effective_host(host)
            if effective != host:
                candidates.append((buckets.get(effective), True))
        if host:
            candidates.append((buckets.get(""), False))
        found: list[_Entry] = []
        expired: list[_Key] = []
        for bucket, domain_only in candidates:
            if not bucket:
                continue
            for key, entry in bucket.items():
                cookie = entry[1]
                if domain_only and cookie.host_only:
                    continue
                if cookie.expires is not None and cookie.expires <= now:
                    expired.append(key)
                    continue
                if cookie.secure and not secure:
                    continue
                if not _path_matches(path, cookie.path):
                    continue
                found.append(entry)
        for key in expired:
            self._remove(key)
        if not found:
            return None
        # Longer paths first, then earlier-stored cookies (§5.4 step 2).
        found.sort(key=lambda entry: (-len(entry[1].path), entry[0]))
        return "; ".join(
            f"{cookie.name}={cookie.value}" if cookie.name else cookie.value for _, cookie in found
        )

    # -- direct access ------------------------------------------------------------------

    def set_cookie(self, cookie: Any) -> None:
        """Store a `Cookie` (or a cookiejar-like cookie), replacing one with its key."""
        self._refresh()
        cookie = Cookie.coerce(cookie)
        self._store((cookie.domain, cookie.path, cookie.name), cookie)

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:
        """Remove cookies, as ``http.cookiejar.CookieJar.clear`` does.

        No arguments: everything. ``domain``: that domain's cookies; with ``path``: that
        path's; with ``name`` too: that one cookie. KeyError when nothing matches.
        """
        self._refresh()
        if name is not None:
            if domain is None or path is None:
                raise ValueError("domain and path must be given to remove one named cookie")
            key = (domain, path, name)
            if key not in self._all:
                raise KeyError(name)
            self._remove(key)
        elif domain is not None:
            keys = [k for k in self._all if k[0] == domain and (path is None or k[1] == path)]
            if not keys:
                raise KeyError(domain if path is None else path)
            for key in keys:
                self._remove(key)
        elif path is not None:
            raise ValueError("domain must be given to remove cookies by path")
        else:
            self._all.clear()
            self._buckets.clear()
            self._by_name.clear()
            if self._mirror is not None:
                self._mirror.clear()
                self._mirror_seen = ()

    def copy(self) -> CookieJar:
        """A new jar with the same settings and cookies (cookies are immutable: shared)."""
        self._refresh()
        new = CookieJar(
            is_public_suffix=self._is_public_suffix,
            max_cookies=self.max_cookies,
            max_cookies_per_domain=self.max_cookies_per_domain,
            max_cookie_size=self.max_cookie_size,
            max_lifetime=self.max_lifetime,
        )
        new._all = dict(self._all)
        new._buckets = {name: dict(bucket) for name, bucket in self._buckets.items()}
        new._by_name = {name: dict(keys) for name, keys in self._by_name.items()}
        new._order = self._order
        return new

    def __iter__(self) -> Iterator[Cookie]:
        # A snapshot, so callers may delete cookies while they iterate.
        self._refresh()
        return iter([entry[1] for entry in self._all.values()])

    def __len__(self) -> int:
        if self._mirror is not None:  # (asked of every request: no call without a mirror)
            self._refresh()
        return len(self._all)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"<Cookie {c.name}={c.value} for {c.domain}{c.path}>" for _, c in self._all.values()
        )
        return f"<CookieJar[{inner}]>"


# -- the public mapping -----------------------------------------------------------------


# What `Cookies` reads from the requests and responses it is given (httpx's or conch's),
# for type checkers only: a Protocol class costs its creation at import.
if TYPE_CHECKING:  # pragma: no cover

    class _URLLike(Protocol):
        @property
        def scheme(self) -> str: ...
        @property
        def host(self) -> str: ...
        @property
        def path(self) -> str: ...

    class _ResponseHeaders(Protocol):
        def __contains__(self, key: object) -> bool: ...
        def get_list(self, key: str) -> list[str]: ...

    class _RequestHeaders(Protocol):
        def __contains__(self, key: object) -> bool: ...
        def __setitem__(self, key: str, value: str) -> None: ...

    class _RequestLike(Protocol):
        @property
        def url(self) -> _URLLike: ...
        @property
        def headers(self) -> _RequestHeaders: ...

    class _RequestOfResponse(Protocol):
        @property
        def url(self) -> _URLLike: ...

    class _ResponseLike(Protocol):
        @property
        def request(self) -> _RequestOfResponse: ...
        @property
        def headers(self) -> _ResponseHeaders: ...


class Cookies(MutableMapping[str, str]):
    """HTTP cookies as a mutable mapping of name to value (httpx's ``Cookies``).

    Accepts another `Cookies` (copied), a `CookieJar` (shared, not copied), a mapping,
    a list of ``(name, value)`` pairs, or any iterable of cookiejar-like cookies such as
    an ``http.cookiejar.CookieJar`` (copied).
    """

    __slots__ = ("jar",)

    def __init__(self, cookies: CookieTypes | None = None) -> None:
        if cookies is None:
            self.jar = CookieJar()
        elif isinstance(cookies, CookieJar):
            self.jar = cookies
        elif isinstance(cookies, Cookies):
            self.jar = cookies.jar.copy()
        else:
            self.jar = CookieJar()
            if isinstance(cookies, Mapping):
                for name, value in cookies.items():
                    self.set(name, value)
            elif isinstance(cookies, list | tuple):
                for name, value in cookies:
                    self.set(name, value)
            else:
                try:
                    items = iter(cookies)
                except TypeError:
                    raise TypeError(
                        "cookies must be a Cookies, dict, list of (name, value) pairs or "
                        f"an iterable of cookies, not {type(cookies).__name__}"
                    ) from None
                if callable(getattr(cookies, "set_cookie", None)) and callable(
                    getattr(cookies, "clear", None)
                ):
                    # A live http.cookiejar jar (MozillaCookieJar...): the client keeps
                    # using it, as httpx does, so its save() has what responses set.
                    self.jar.mirror(cookies)
                else:
                    for cookie in items:
                        self.jar.set_cookie(cookie)

    def extract_cookies(self, response: _ResponseLike, *, now: float | None = None) -> None:
        """Store the cookies the response's Set-Cookie headers carry."""
        headers = response.headers
        # Most responses set no cookie: one scan of the names, nothing decoded.
        if "set-cookie" not in headers:
            return
        values = headers.get_list("set-cookie")
        url = response.request.url
        if now is None:
            now = env.current().wall_clock()
        self.jar.extract(values, scheme=url.scheme, host=url.host, path=url.path, now=now)

    def set_cookie_header(self, request: _RequestLike, *, now: float | None = None) -> None:
        """Add a Cookie header for the request's URL, unless it already has one."""
        if not self.jar:
            return
        headers = request.headers
        if "Cookie" in headers:
            return  # as http.cookiejar does: a Cookie header given explicitly wins
        url = request.url
        if now is None:
            now = env.current().wall_clock()
        value = self.jar.header_for(scheme=url.scheme, host=url.host, path=url.path, now=now)
        if value is not None:
            headers["Cookie"] = value

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie; without a domain it is sent to every host."""
        self.jar.set_cookie(
            Cookie(
                name,
                value,
                domain=domain,
                path=path,
                domain_specified=bool(domain),
                path_specified=bool(path),
            )
        )

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | None:
        """A cookie's value by name, optionally narrowed by domain and path.

        Raises `CookieConflict` when more than one cookie matches.
        """
        value: str | None = None
        found = False
        for cookie in self.jar:
            if (
                cookie.name == name
                and (domain is None or cookie.domain == domain)
                and (path is None or cookie.path == path)
            ):
                if found:
                    raise CookieConflict(f"Multiple cookies exist with name={name}")
                found = True
                value = cookie.value
        return value if found else default

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Delete cookies by name, optionally narrowed by domain and path.

        With both ``domain`` and ``path`` given, a missing cookie raises KeyError.
        """
        if domain is not None and path is not None:
            self.jar.clear(domain, path, name)
            return
        for cookie in self.jar:
            if (
                cookie.name == name
                and (domain is None or cookie.domain == domain)
                and (path is None or cookie.path == path)
            ):
                self.jar.clear(cookie.domain, cookie.path, cookie.name)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Delete every cookie, or those of one domain (and path)."""
        if path is not None and domain is None:
            raise ValueError("domain must be given to clear cookies by path")
        self.jar.clear(domain, path)

    def update(self, cookies: CookieTypes | None = None) -> None:  # type: ignore[override]
        for cookie in Cookies(cookies).jar:
            self.jar.set_cookie(cookie)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __delitem__(self, name: str) -> None:
        self.delete(name)

    def __len__(self) -> int:
        return len(self.jar)

    def __iter__(self) -> Iterator[str]:
        return (cookie.name for cookie in self.jar)

    def __bool__(self) -> bool:
        return len(self.jar) > 0

    def __repr__(self) -> str:
        inner = ", ".join(
            f"<Cookie {cookie.name}={cookie.value} for {cookie.domain} />" for cookie in self.jar
        )
        return f"<Cookies[{inner}]>"


# What a `Cookies` is made from (httpx's ``CookieTypes``, re-exported by `conch._types`).
# Any object with the http.cookiejar.CookieJar iteration protocol is accepted too (duck
# typed: the core does not import http.cookiejar, which pulls in socket).
CookieTypes: TypeAlias = Cookies | dict[str, str] | list[tuple[str, str]] | Any
