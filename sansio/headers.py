"""HTTP headers: a case-insensitive, ordered multi-dict, validated once on the way in.

`Headers` has the API and behaviour of httpx 0.28's ``httpx.Headers``. What differs is
where the checking happens: every name and value that enters through the public API
(the constructor, ``__setitem__``, `Headers.update`, `Headers.setdefault`) is checked
here, once, so nothing downstream needs to look at the bytes again:

- a name must be an RFC 9110 token (``1*tchar``, section 5.6.2);
- a value must not contain a control character (RFC 9110 section 5.5): no C0 control
  but HTAB, and no DEL. CR, LF and NUL split or end a header line (header injection);
  the others are read differently by different parsers. A value loses leading and
  trailing spaces and tabs, as h11 does when parsing. Every other byte, obs-text
  (0x80-0xFF) included, is allowed.

A violation raises `LocalProtocolError` naming the header and the offending character
(never the value: it may be a credential). Every path to the wire (client and request
headers, auth, cookies, proxy headers, HTTP/1.1 and HTTP/2 alike) goes through here.

Headers coming out of a parser (h11, h2) were already checked there; the wire machines
build them with `Headers._from_validated` or `Headers._from_full_items`, which skip
all checks.

Storage is a list of ``(raw_name, lower_name, value)`` byte triples (``_list``), kept in
insertion order; lookups compare lower-cased byte names. Other conch modules may read
``_list`` but must not mutate it: the detected encoding is cached between mutations.

The module also has the small header-value parsers that several modules share:
`parse_header_params`, `parse_header_links` and `get_charset`.
"""

from __future__ import annotations

from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)

from ._typing_lite import Any, TypeAlias
from .exceptions import LocalProtocolError

__all__ = ["Headers", "get_charset", "parse_header_links", "parse_header_params"]

# RFC 9110 section 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
# / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. Deleting these from a name leaves exactly
# the bytes that are not allowed, in one C-level pass.
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 9110 section 5.5: field-value = *( VCHAR / obs-text / SP / HTAB ), so every C0
# control but HTAB, and DEL, is refused. CR and LF end a header line on the wire (request
# smuggling, header injection); NUL truncates strings in C servers and proxies; VT, FF
# and the rest are whitespace to some parsers and not to others, and reach logs and
# terminals (ESC). h11 and h2 refuse only CR, LF and NUL.
_FORBIDDEN_IN_VALUE = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
# Every byte to itself but the forbidden ones (to 0x80): a value is clean when this
# translation leaves it unchanged. One C-level pass with no per-call table to build,
# twice as fast as deleting even three bytes (about 55 ns for a typical value, against
# 115 ns for the old CR/LF/NUL check and 140 ns deleting this set).
_FLAG_FORBIDDEN = bytes(0x80 if byte in _FORBIDDEN_IN_VALUE else byte for byte in range(256))
# Optional whitespace around a value (RFC 9110 section 5.6.3, OWS = SP / HTAB).
_OWS = b" \t"
_OWS_STR = " \t"

# Error messages quote at most this many characters of a header name, so a huge name
# (from a bug or an attacker) cannot blow up logs. Values are never quoted at all: they
# may be credentials.
MAX_NAME_IN_MESSAGE = 40

# Checked names, str or bytes as given, mapped to their (raw, lower-cased) bytes: most
# programs use a few dozen names over and over, so checking, encoding and lower-casing
# each once is a large part of building Headers quickly. Distinct names beyond this
# bound (a proxy relaying arbitrary headers, a fuzzer) empty the cache and start over,
# so memory stays bounded without any bookkeeping on the hot path.
NAME_CACHE_SIZE = 512
_NAME_CACHE: dict[object, tuple[bytes, bytes]] = {}

# Values shown as "[secure]" by repr(), as httpx does.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization"})

_CHAR_NAMES = {
    0x00: "a NUL byte (\\x00)",
    0x09: "a tab (\\t)",
    0x0A: "a line feed (\\n)",
    0x0D: "a carriage return (\\r)",
    0x20: "a space",
    0x3A: "a colon (:)",
}


def _describe(char: int, *, text: bool = False) -> str:
    """Name one offending character (a code point if ``text``, else a byte) for a message."""
    known = _CHAR_NAMES.get(char)
    if known is not None:
        return known
    if char < 0x80:
        return f"the character {chr(char)!r}"
    if text:
        return f"the non-ASCII character {chr(char)!r}"
    return f"the non-ASCII byte 0x{char:02x}"


def _show_name(name: str | bytes) -> str:
    text = name if isinstance(name, str) else name.decode("ascii", "backslashreplace")
    if len(text) > MAX_NAME_IN_MESSAGE:
        return f"{text[:MAX_NAME_IN_MESSAGE]!r}... ({len(text)} characters)"
    return repr(text)


def _bad_name(name: str | bytes) -> LocalProtocolError:
    """The error for a name that is not a token (only called once a check has failed)."""
    if not name:
        return LocalProtocolError("header name must not be empty")
    if isinstance(name, str):
        offender = next(ch for ch in name if ord(ch) > 0x7F or ch.encode() not in _TCHARS)
        described = _describe(ord(offender), text=True)
    else:
        described = _describe(name.translate(None, _TCHARS)[0])
    return LocalProtocolError(
        f"header name {_show_name(name)} contains {described} (names must be RFC 9110 tokens)"
    )


def _check_name(name: object) -> tuple[bytes, bytes]:
    """Check a header name not seen before; return its raw and lower-cased bytes."""
    if isinstance(name, str):
        if not name.isascii():
            raise _bad_name(name)
        raw = name.encode("ascii")
    elif isinstance(name, bytes):
        raw = name
    else:
        raise TypeError(f"Header name must be str or bytes, not {type(name)}")
    if not raw or raw.translate(None, _TCHARS):
        raise _bad_name(name)
    names = (raw, raw.lower())
    if len(_NAME_CACHE) >= NAME_CACHE_SIZE:
        _NAME_CACHE.clear()
    _NAME_CACHE[name] = names
    return names


def _bad_value(raw_name: bytes, data: bytes) -> LocalProtocolError:
    offset = min(i for i in map(data.find, _FORBIDDEN_IN_VALUE) if i >= 0)
    return LocalProtocolError(
        f"header {_show_name(raw_name)} value contains {_describe(data[offset])} at offset {offset}"
    )


def _unencodable(raw_name: bytes, value: str, codec: str, offset: int) -> LocalProtocolError:
    return LocalProtocolError(
        f"header {_show_name(raw_name)} value cannot be encoded as {codec!r}:"
        f" it contains {_describe(ord(value[offset]), text=True)} at offset {offset}"
    )


def _validate(pairs: Iterable[Any], encoding: str | None) -> list[tuple[bytes, bytes, bytes]]:
    """Check ``(name, value)`` pairs and return storage triples: the one validation path.

    Kept in one loop with few calls, as it runs for every header of every request.
    """
    # ASCII falling back to UTF-8 (httpx's rule for str values) is just UTF-8.
    codec = encoding or "utf-8"
    cache = _NAME_CACHE
    entries: list[tuple[bytes, bytes, bytes]] = []
    append = entries.append
    for item in pairs:
        try:
            name, value = item
        except (TypeError, ValueError):
            # The item itself is not shown: it may hold credentials.
            raise TypeError(
                f"Header items must be (name, value) pairs, not {type(item).__name__}"
            ) from None
        try:
            names = cache.get(name)
        except TypeError:  # unhashable, so certainly not a str or bytes
            names = None
        if names is None:
            names = _check_name(name)
        raw = names[0]
        if isinstance(value, str):
            try:
                data = value.encode(codec)
            except UnicodeEncodeError as exc:
                raise _unencodable(raw, value, codec, exc.start) from None
        elif isinstance(value, bytes):
            data = value
        else:
            raise TypeError(f"Header value must be str or bytes, not {type(value)}")
        if data.translate(_FLAG_FORBIDDEN) != data:
            raise _bad_value(raw, data)
        append((raw, names[1], data.strip(_OWS)))
    return entries


def _entries(headers: object, encoding: str | None) -> list[tuple[bytes, bytes, bytes]]:
    """Validate any accepted header input into storage triples."""
    if type(headers) is dict:  # the common case, ahead of the slower ABC checks
        return _validate(headers.items(), encoding)
    if isinstance(headers, Headers):
        return headers._list.copy()
    if isinstance(headers, Mapping):
        return _validate(headers.items(), encoding)
    if isinstance(headers, str | bytes):
        if not headers:
            return []  # httpx iterates it and finds no pairs: code passes "" for "none"
        raise TypeError(f"Headers must be a mapping or a sequence of pairs, not {type(headers)}")
    if not isinstance(headers, Iterable):
        raise TypeError(f"Headers must be a mapping or a sequence of pairs, not {type(headers)}")
    return _validate(headers, encoding)


class Headers(MutableMapping[str, str]):
    """HTTP headers, as a case-insensitive multi-dict that keeps insertion order."""

    __slots__ = ("_detected", "_encoding", "_list")

    _list: list[tuple[bytes, bytes, bytes]]
    _encoding: str | None
    _detected: str | None

    def __init__(self, headers: HeaderTypes | None = None, encoding: str | None = None) -> None:
        if headers is None:
            self._list = []
        elif type(headers) is Headers:  # a request from a client's headers: a plain copy
            self._list = headers._list.copy()
        else:
            self._list = _entries(headers, encoding)
        self._encoding = encoding
        self._detected = None

    @classmethod
    def _from_validated(
        cls,
        raw: Iterable[tuple[bytes, bytes]],
        lower: Iterable[bytes] | None = None,
        *,
        encoding: str | None = None,
    ) -> Headers:
        """Build from ``(name, value)`` byte pairs a parser has already validated.

        For the wire machines: h11 checks names and values and strips values; h2 (with
        ``validate_inbound_headers``) refuses CR/LF/NUL and surrounding whitespace.
        Nothing is checked, stripped or copied beyond building the list; ``lower`` gives
        the lower-cased names if the caller already has them (h11 does; h2's names are
        lower-case already), saving a ``bytes.lower()`` per name.
        """
        self = cls.__new__(cls)
        if lower is None:
            self._list = [(name, name.lower(), value) for name, value in raw]
        else:
            self._list = [(name, low, value) for (name, value), low in zip(raw, lower, strict=True)]
        self._encoding = encoding
        self._detected = None
        return self

    @classmethod
    def _from_full_items(
        cls, items: list[tuple[bytes, bytes, bytes]], *, encoding: str | None = None
    ) -> Headers:
        """Adopt a list of validated ``(raw_name, lower_name, value)`` triples, uncopied.

        The layout of h11's parsed headers; the caller hands over ownership of ``items``.
        """
        self = cls.__new__(cls)
        self._list = items
        self._encoding = encoding
        self._detected = None
        return self

    # -- encoding ----------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        """The codec for names and values: ascii if all bytes fit, else utf-8, else latin-1.

        Set it to decode with another codec; str values set later are encoded with it.
        """
        if self._encoding is not None:
            return self._encoding
        detected = self._detected
        if detected is None:
            detected = self._detected = self._detect()
        return detected

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    def _detect(self) -> str:
        entries = self._list
        if all(raw.isascii() and value.isascii() for raw, _, value in entries):
            return "ascii"
        try:
            for raw, _, value in entries:
                raw.decode("utf-8")
                value.decode("utf-8")
        except UnicodeDecodeError:
            # ISO-8859-1 maps every byte to a code point, so decoding cannot fail.
            return "iso-8859-1"
        return "utf-8"

    def _changed(self) -> None:
        self._detected = None

    # -- views -------------------------------------------------------------------------

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The ``(name, value)`` byte pairs, names in their original case."""
        return [(raw, value) for raw, _, value in self._list]

    def raw_size(self) -> int:
        """Bytes these headers take in an HTTP/1.1 header block (``name: value\\r\\n`` each)."""
        return sum(len(raw) + len(value) for raw, _, value in self._list) + 4 * len(self._list)

    def _raw_values(self, lower_name: bytes) -> list[bytes]:
        """All values of one header, given its lower-cased byte name (for other modules)."""
        # A loop, not a comprehension: the usual answer (no such header) comes faster.
        values: list[bytes] = []
        for entry in self._list:
            if entry[1] == lower_name:
                values.append(entry[2])  # noqa: PERF401 - see above
        return values

    def _joined(self) -> dict[str, str]:
        enc = self.encoding
        joined: dict[str, str] = {}
        for _, low, value in self._list:
            name = low.decode(enc)
            text = value.decode(enc)
            if name in joined:
                joined[name] = f"{joined[name]}, {text}"
            else:
                joined[name] = text
        return joined

    def keys(self) -> KeysView[str]:
        enc = self.encoding
        return {low.decode(enc): None for _, low, _ in self._list}.keys()

    def values(self) -> ValuesView[str]:
        """One value per name; repeated headers joined with ``", "``."""
        return self._joined().values()

    def items(self) -> ItemsView[str, str]:
        """``(name, value)`` per lower-cased name; repeated headers joined with ``", "``."""
        return self._joined().items()

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair in order, names lower-cased, repeats kept apart."""
        enc = self.encoding
        return [(low.decode(enc), value.decode(enc)) for _, low, value in self._list]

    # -- lookups -----------------------------------------------------------------------

    def _key(self, key: object) -> bytes | None:
        """The lower-cased byte form of a lookup key, or None if nothing can match it."""
        if isinstance(key, str):
            if key.isascii():
                return key.lower().encode("ascii")
            try:
                return key.lower().encode(self.encoding)
            except UnicodeEncodeError:
                return None
        if isinstance(key, bytes):
            return key.lower()
        return None

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (repeats joined with ``", "``), or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """Every value of ``key``, in order; with ``split_commas``, each split on commas."""
        if type(key) is str and key.isascii():
            wanted: bytes | None = key.lower().encode("ascii")
        else:
            wanted = self._key(key)
        found = [value for _, low, value in self._list if low == wanted]
        if not found:
            # The usual answer (a client asks every response for its Set-Cookie): no
            # encoding to work out.
            return []
        enc = self._encoding or self._detected or self.encoding
        values = [value.decode(enc) for value in found]
        if not split_commas:
            return values
        return [part.strip() for value in values for part in value.split(",")]

    def __getitem__(self, key: str) -> str:
        """The value of ``key``; repeated headers are joined with ``", "`` (RFC 9110 5.3)."""
        # The common case (an ASCII str key) inline: this runs on every header access.
        if type(key) is str and key.isascii():
            wanted: bytes | None = key.lower().encode("ascii")
        else:
            wanted = self._key(key)
        found = [value for _, low, value in self._list if low == wanted]
        if not found:
            raise KeyError(key)
        value = found[0] if len(found) == 1 else b", ".join(found)
        return value.decode(self._encoding or self._detected or self.encoding)

    def __contains__(self, key: object) -> bool:
        if type(key) is str and key.isascii():
            wanted: bytes | None = key.lower().encode("ascii")
        else:
            wanted = self._key(key)
        for entry in self._list:  # noqa: SIM110 - a plain loop beats any() on a generator
            if entry[1] == wanted:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        """The number of ``(name, value)`` pairs, counting repeats (as httpx does)."""
        return len(self._list)

    # -- mutation ----------------------------------------------------------------------

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``, replacing every earlier value in the first one's place."""
        entry = _validate(((key, value),), self._encoding)[0]
        wanted = entry[1]
        entries = self._list
        self._detected = None
        for i, current in enumerate(entries):
            if current[1] == wanted:
                entries[i] = entry
                rest = entries[i + 1 :]
                kept = [later for later in rest if later[1] != wanted]
                if len(kept) != len(rest):
                    entries[i + 1 :] = kept
                return
        entries.append(entry)

    def __delitem__(self, key: str) -> None:
        """Remove every value of ``key``."""
        wanted = self._key(key)
        kept = [entry for entry in self._list if entry[1] != wanted]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list = kept
        self._changed()

    def clear(self) -> None:
        self._list = []
        self._changed()

    def update(self, headers: HeaderTypes | None = None) -> None:  # type: ignore[override]
        """Replace every value of each name in ``headers``; new pairs go at the end."""
        new = _entries(headers, self._encoding) if headers is not None else []
        replaced = {low for _, low, _ in new}
        if replaced:
            self._list = [entry for entry in self._list if entry[1] not in replaced]
            self._list.extend(new)
            self._changed()

    def setdefault(self, key: str, default: str = "") -> str:
        """The value of ``key``; if missing, set it to ``default`` first."""
        if key not in self:
            self[key] = default
        return self[key]

    def _add_validated(
        self, front: list[tuple[bytes, bytes, bytes]], back: list[tuple[bytes, bytes, bytes]]
    ) -> None:
        """Put validated storage triples before and after the others (for `Request`)."""
        entries = self._list
        entries[:0] = front
        entries += back
        self._detected = None

    def copy(self) -> Headers:
        copied = Headers._from_full_items(self._list.copy(), encoding=self._encoding)
        copied._detected = self._detected
        return copied

    # -- comparison and display --------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal to any accepted header input with the same pairs, in any order."""
        if isinstance(other, Headers):
            theirs = other._list
        else:
            try:
                theirs = _entries(other, None)
            except (TypeError, LocalProtocolError):
                return False
        mine = sorted((low, value) for _, low, value in self._list)
        return mine == sorted((low, value) for _, low, value in theirs)

    def __repr__(self) -> str:
        enc = self.encoding
        pairs = [
            (name, "[secure]" if name in SENSITIVE_HEADERS else value)
            for name, value in self.multi_items()
        ]
        suffix = "" if enc == "ascii" else f", encoding={enc!r}"
        as_dict = dict(pairs)
        shown: object = as_dict if len(as_dict) == len(pairs) else pairs
        return f"{type(self).__name__}({shown!r}{suffix})"


# -- header value parsers ---------------------------------------------------------------


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string whose opening quote is at ``pos`` (RFC 9110 section 5.6.4).

    Returns the unescaped content and the index after the closing quote. A missing
    closing quote takes the rest of the text, as browsers do.
    """
    end = len(text)
    pos += 1
    out: list[str] = []
    start = pos
    while pos < end:
        char = text[pos]
        if char == '"':
            out.append(text[start:pos])
            return "".join(out), pos + 1
        if char == "\\" and pos + 1 < end:
            out.append(text[start:pos])
            start = pos + 1  # the escaped character is kept literally
            pos += 2
        else:
            pos += 1
    out.append(text[start:])
    return "".join(out), end


def _params(text: str, pos: int, params: dict[str, str], in_list: bool) -> int:
    """Parse ``*( OWS ";" OWS [ name [ "=" value ] ] )`` from ``pos`` into ``params``.

    Stops at the end, or at a top-level comma when ``in_list`` (a list of elements such
    as the Link header). Names are lower-cased; the first occurrence of a name wins.
    A name without "=" gets the value "". Returns where parsing stopped.
    """
    end = len(text)
    stops = ";," if in_list else ";"
    while pos < end:
        char = text[pos]
        if char == "," and in_list:
            return pos
        if char in stops or char in _OWS_STR:
            pos += 1
            continue
        # A parameter name runs to "=" or the next separator.
        start = pos
        while pos < end and text[pos] not in "=;" and not (in_list and text[pos] == ","):
            pos += 1
        name = text[start:pos].strip(_OWS_STR).lower()
        value = ""
        if pos < end and text[pos] == "=":
            pos += 1
            while pos < end and text[pos] in _OWS_STR:
                pos += 1
            if pos < end and text[pos] == '"':
                value, pos = _quoted(text, pos)
                # Anything between the closing quote and the next separator is junk.
                while pos < end and text[pos] not in stops:
                    pos += 1
            else:
                start = pos
                while pos < end and text[pos] not in stops:
                    pos += 1
                value = text[start:pos].strip(_OWS_STR)
        if name and name not in params:
            params[name] = value
    return pos


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``text/html; charset="utf-8"; q=1`` into ``"text/html"`` and its parameters.

    Parameter names come back lower-cased, quoted values unquoted and unescaped. A name
    without "=" gets ``""``; empty parameters are skipped; the first of repeated names
    wins. The main value is returned stripped but otherwise as given (not lower-cased).
    """
    main, sep, rest = value.partition(";")
    params: dict[str, str] = {}
    if sep:
        _params(rest, 0, params, in_list=False)
    return main.strip(_OWS_STR), params


def parse_header_links(value: str) -> list[dict[str, str]]:
    """Parse a Link header (RFC 8288) into dicts with a ``"url"`` key plus the parameters.

    Commas inside ``<...>`` or inside quoted strings do not split links. Parameter names
    are lower-cased (they are case-insensitive); values in single quotes are unwrapped
    too, as httpx does. Empty elements are skipped.
    """
    links: list[dict[str, str]] = []
    end = len(value)
    pos = 0
    while pos < end:
        char = value[pos]
        if char == "," or char in _OWS_STR:
            pos += 1
            continue
        if char == "<":
            close = value.find(">", pos + 1)
            if close == -1:
                close = end
            url = value[pos + 1 : close].strip(_OWS_STR)
            pos = close + 1
        else:
            # No angle brackets: tolerate a bare URI up to the first ";" or ",".
            start = pos
            while pos < end and value[pos] not in ";,":
                pos += 1
            url = value[start:pos].strip(_OWS_STR)
        link = {"url": url}
        pos = _params(value, pos, link, in_list=True)
        for name, text in link.items():
            # Not RFC 8288, but seen in the wild and accepted by httpx: rel='next'.
            if len(text) > 1 and text[0] == text[-1] == "'":
                link[name] = text[1:-1]
        links.append(link)
    return links


def get_charset(content_type: str | None) -> str | None:
    """The lower-cased ``charset`` parameter of a Content-Type, as the server wrote it.

    Whether conch can decode text with it is `sansio.decoders.text_codec`'s answer.
    """
    if not content_type:
        return None
    charset = parse_header_params(content_type)[1].get("charset", "").strip(_OWS_STR)
    return charset.lower() if charset else None


# What a `Headers` is made from (httpx's ``HeaderTypes``, re-exported by `conch._types`).
HeaderTypes: TypeAlias = (
    Headers
    | Mapping[str, str]
    | Mapping[bytes, bytes]
    | Sequence[tuple[str, str]]
    | Sequence[tuple[bytes, bytes]]
)
