"""Response body decoding: content codings, text and lines, all in bounded pieces.

Theory of operation. A `BodyDecoder` is a pull pipeline. Wire bytes go into a
buffer with `feed()`; `read(n)` asks the last decoding stage for at most ``n``
bytes, and each stage pulls its own input from the stage before it (or from the
wire buffer) in slices of `_INPUT_SLICE` bytes. No stage ever decodes more than a
small, fixed amount beyond what it was asked for, so a 64 KiB body that inflates
to a gigabyte costs one read's worth of memory and work per `read()` call:

- gzip, deflate: ``zlib`` with ``max_length`` gives exactly ``n`` bytes or fewer;
  input that was not used waits in ``unconsumed_tail``.
- br: brotli >= 1.2 accepts ``output_buffer_limit``; its output overshoots the
  limit by at most about half, which waits in the stage. Older brotli and
  brotlicffi have no output limit: they get 1 KiB input slices instead, which
  bounds each step only by the format's expansion ratio.
- zstd: ``zstandard`` has no output limit either, so the stage follows the frame
  and block headers itself (RFC 8878) and never hands the library input that ends
  more than one block, and a block never decodes to more than 128 KiB. The same
  walk tells whether a body ended inside a frame.

Totals are bounded as well: every stage's output is capped by
``max_decoded_size`` (`DecompressionLimitExceeded` past it), so a chain such as
``gzip, gzip`` cannot do unbounded work in an inner stage either.

Text. The server names the charset, so it chooses the codec: conch decodes text only
with the codecs in `TEXT_ENCODINGS`, those whose incremental decoder, with
``errors="replace"``, never raises, holds back at most a few bytes between chunks
(so decoding is linear in the body size, however the body is cut) and gives the same
text however the body is cut. Every other codec Python knows is refused, each for a
reason in `_REFUSED_TEXT_CODECS` (utf-7 re-decodes a whole base64 run on every chunk:
quadratic; idna, punycode and undefined raise; the ISO-2022 decoders raise on an
escape sequence split across chunks; the escape codecs are not charsets), and so is
any codec a package registers. A refused charset counts as unknown: the response
falls back to its default encoding. ``utf-16`` and ``utf-32`` read their byte order
from a BOM, as Python does, and without one are little-endian (WHATWG's answer for
utf-16, and Python's on the usual hosts) instead of raising.

Lines are bounded too: `LineDecoder` raises `LineTooLong` once a line passes
``max_line_length`` characters, so a small compressed body cannot grow one line
without end.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from importlib.util import find_spec
from types import ModuleType

from ._typing_lite import TYPE_CHECKING, Any
from .exceptions import DecodingError, DecompressionLimitExceeded, LineTooLong, StreamError

if TYPE_CHECKING:
    from typing import Protocol
    from zlib import _Decompress

    import zstandard

__all__ = [
    "DEFAULT_MAX_DECODED_SIZE",
    "DEFAULT_MAX_LINE_LENGTH",
    "MAX_CHAINED_ENCODINGS",
    "SUPPORTED_ENCODINGS",
    "TEXT_ENCODINGS",
    "ZSTD_MAX_WINDOW_SIZE",
    "BodyDecoder",
    "ByteChunker",
    "LineDecoder",
    "TextChunker",
    "TextDecoder",
    "require_text_codec",
    "text_codec",
]

# urllib3 2.6.0 caps a Content-Encoding chain at 5 codings: an unbounded chain let a
# server stack decompression bombs inside each other (CVE-2025-66418,
# GHSA-gm62-xv2j-4w53). Real servers send one coding, rarely two.
MAX_CHAINED_ENCODINGS = 5

# The cap on a decoded body read whole (`.read()`, `.content`): far above any page or
# API payload, far below what a bomb (1 GiB from 1 MiB of gzip) would take.
DEFAULT_MAX_DECODED_SIZE = 256 * 1024 * 1024

# The longest line `Response.iter_lines` hands out, in characters. asyncio's and
# aiohttp's stream readers stop at 64 KiB and 128 KiB, which real NDJSON and
# server-sent event streams outgrow (a JSON line carrying a base64 image is a few MB);
# 8 MiB leaves room for those, while a hostile line costs at most 32 MiB (four bytes a
# character) before `LineTooLong`, instead of all the memory there is.
DEFAULT_MAX_LINE_LENGTH = 8 * 1024 * 1024

# RFC 9659: zstd content coding must not need a window above 8 MiB, and decoders may
# refuse larger ones (Chromium does). The window is memory the decoder must allocate
# up front, on the server's word alone.
ZSTD_MAX_WINDOW_SIZE = 8 * 1024 * 1024

# How much input a stage hands its codec at a time. zlib copies unused input into
# `unconsumed_tail` on every call, so this also bounds the copying per read.
_INPUT_SLICE = 16 * 1024

# Input zlib is offered beyond the n output bytes asked for (see _ZlibStage._inflate).
_WINDOW_SLACK = 1024

# Input slice for brotli without an output limit (brotli < 1.2, brotlicffi).
_BROTLI_FALLBACK_SLICE = 1024

_EMPTY = memoryview(b"")
# zlib is imported by the first compressed body, not with conch (see `_ZlibStage`).
_MAX_WBITS = 15  # zlib.MAX_WBITS: a 32 KiB window, the largest deflate has
_GZIP_WBITS = 16 + _MAX_WBITS
_ZLIB_WBITS = _MAX_WBITS
_RAW_DEFLATE_WBITS = -_MAX_WBITS


if TYPE_CHECKING:  # pragma: no cover (a Protocol class costs its creation at import)

    class _Source(Protocol):
        def read(self, n: int, /) -> bytes | memoryview: ...


class _Wire:
    """Wire bytes waiting to be decoded; hands them out without copying."""

    __slots__ = ("_chunks", "_offset")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0

    def feed(self, data: bytes) -> None:
        # A shell may hand in a view of a buffer it reuses: keep a copy of those.
        self._chunks.append(data if type(data) is bytes else bytes(data))

    def read(self, n: int, /) -> bytes | memoryview:
        chunks = self._chunks
        if not chunks:
            return b""
        first = chunks[0]
        offset = self._offset
        end = offset + n
        if end >= len(first):
            chunks.popleft()
            self._offset = 0
            return first if offset == 0 else memoryview(first)[offset:]
        self._offset = end
        return memoryview(first)[offset:end]


class _Stage:
    """One content coding being undone. `read(n)` returns b"" only when starved."""

    __slots__ = ("_limit", "_name", "_pending", "_pending_pos", "_source", "_total")

    def __init__(self, name: str, source: _Source, limit: int | None) -> None:
        self._name = name
        self._source = source
        self._limit = limit
        self._total = 0
        # Output decoded beyond what the last read asked for (brotli, zstd only).
        self._pending = b""
        self._pending_pos = 0

    def read(self, n: int, /) -> bytes:
        limit = self._limit
        if limit is not None and n > limit - self._total:
            # Up to the limit exactly; once there, one byte more tells if it is passed.
            n = limit - self._total or 1
        out = self._decode(n)
        if out:
            self._total += len(out)
            if limit is not None and self._total > limit:
                raise DecompressionLimitExceeded(
                    f"The response body decodes ({self._name}) to more than "
                    f"max_decoded_size={limit} bytes. Raise max_decoded_size, or set it "
                    "to None to remove the limit, if this response is trusted."
                )
        return out

    def held(self) -> int:
        """Bytes this stage keeps between reads (not counting the codec's own state)."""
        return len(self._pending) - self._pending_pos

    def _take(self, n: int) -> bytes:
        pending = self._pending
        pos = self._pending_pos
        if pos == 0 and len(pending) <= n:
            self._pending = b""
            return pending
        out = pending[pos : pos + n]
        pos += len(out)
        if pos == len(pending):
            self._pending = b""
            pos = 0
        self._pending_pos = pos
        return out

    def _decode(self, n: int) -> bytes:
        raise NotImplementedError

    def finish(self) -> None:
        """The input has ended and the stage is starved: raise if the stream is incomplete."""
        raise NotImplementedError

    def _corrupt(self, exc: Exception) -> DecodingError:
        return DecodingError(f"{self._name}: the compressed body is corrupt ({exc})")

    def _truncated(self) -> DecodingError:
        return DecodingError(f"{self._name}: the compressed body is truncated")


@cache
def _zlib() -> ModuleType:
    # A response without Content-Encoding does not need zlib: it loads with the first
    # gzip or deflate body, not with conch.
    import zlib

    return zlib


class _ZlibStage(_Stage):
    """gzip and deflate: zlib's ``max_length`` bounds every step exactly."""

    __slots__ = ("_d", "_in", "_streams")

    def __init__(self, name: str, source: _Source, limit: int | None) -> None:
        super().__init__(name, source, limit)
        self._d: _Decompress | None = None
        self._in = _EMPTY
        self._streams = 0

    def held(self) -> int:
        return len(self._in)

    def _begin(self, data: memoryview) -> memoryview | None:
        """Start a stream at ``data``; None means: wait for more input."""
        raise NotImplementedError

    def _decode(self, n: int) -> bytes:
        while True:
            data = self._in
            if not data:
                pulled = self._source.read(_INPUT_SLICE)
                if not pulled:
                    # Starved, but a stream may still have output to flush.
                    return b"" if self._d is None else self._inflate(_EMPTY, n)
                data = memoryview(pulled)
            self._in = _EMPTY
            if self._d is None:
                started = self._begin(data)
                if started is None:
                    return b""
                data = started
            out = self._inflate(data, n)
            if out:
                return out

    def _inflate(self, data: memoryview, n: int) -> bytes:
        d = self._d
        assert d is not None
        # zlib copies the input it did not use on every call: offer it about n bytes,
        # so that a small read costs little even with a large input slice waiting.
        window = data[: n + _WINDOW_SLACK]
        try:
            out = d.decompress(window, n)
        except _zlib().error as exc:
            raise self._corrupt(exc) from exc
        if d.eof:
            self._d = None
            self._streams += 1
            self._in = data[len(window) - len(d.unused_data) :]
        else:
            self._in = data[len(window) - len(d.unconsumed_tail) :]
        return out

    def finish(self) -> None:
        if self._d is not None or self._in:
            raise self._truncated()


class _GzipStage(_ZlibStage):
    """gzip, with any number of members (RFC 1952 §2.2) and zero padding after them."""

    __slots__ = ()

    def _begin(self, data: memoryview) -> memoryview | None:
        if self._streams:
            # Python's gzip module and gzip(1) skip NUL padding after a member.
            rest = bytes(data).lstrip(b"\0")
            while not rest:
                more = self._source.read(_INPUT_SLICE)
                if not more:
                    return None
                rest = bytes(more).lstrip(b"\0")
            data = memoryview(rest)
        self._d = _zlib().decompressobj(_GZIP_WBITS)
        return data


class _DeflateStage(_ZlibStage):
    """deflate: zlib-wrapped (RFC 1950) as specified, or raw (RFC 1951) as some servers send.

    Browsers and httpx accept both; the first two bytes tell them apart.
    """

    __slots__ = ()

    def _begin(self, data: memoryview) -> memoryview | None:
        if self._streams:
            raise DecodingError(
                f"{self._name}: unexpected data after the end of the compressed body"
            )
        if len(data) < 2:
            more = self._source.read(_INPUT_SLICE)
            if not more:
                self._in = data
                return None
            data = memoryview(bytes(data) + bytes(more))
        cmf, flg = data[0], data[1]
        # A zlib header: method 8 (deflate), window <= 32 KiB, and a check value.
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and ((cmf << 8) | flg) % 31 == 0
        self._d = _zlib().decompressobj(_ZLIB_WBITS if wrapped else _RAW_DEFLATE_WBITS)
        return data


def _brotli_module() -> Any:
    try:
        import brotli
    except ImportError:  # pragma: no cover - only brotlicffi is installed (PyPy)
        import brotlicffi as brotli
    return brotli


class _BrotliStage(_Stage):
    """br (RFC 7932)."""

    __slots__ = ("_bounded", "_d", "_error", "_more", "_process", "_started")

    def __init__(self, name: str, source: _Source, limit: int | None) -> None:
        super().__init__(name, source, limit)
        module = _brotli_module()
        d = module.Decompressor()
        self._d = d
        self._error: type[Exception] = module.error
        # brotli >= 1.2 can stop at an output size; older brotli and brotlicffi cannot.
        self._bounded: bool = hasattr(d, "can_accept_more_data")
        self._process: Callable[..., bytes] = d.process if hasattr(d, "process") else d.decompress
        self._started = False
        # A limited step may leave output inside the decoder even once it has taken all
        # its input (can_accept_more_data() is then already true): ask again first.
        self._more = False

    def _decode(self, n: int) -> bytes:
        d = self._d
        bounded = self._bounded
        while True:
            if self._pending:
                return self._take(n)
            data: bytes | memoryview = b""
            if not bounded or (not self._more and d.can_accept_more_data()):
                data = self._source.read(_INPUT_SLICE if bounded else _BROTLI_FALLBACK_SLICE)
                if not data:
                    return b""
                if d.is_finished():
                    raise DecodingError(
                        f"{self._name}: unexpected data after the end of the compressed body"
                    )
                self._started = True
            try:
                if bounded:
                    out = self._process(data, output_buffer_limit=n)
                else:
                    out = self._process(data)
            except self._error as exc:
                raise self._corrupt(exc) from exc
            if out:
                self._pending = out
                self._pending_pos = 0
                self._more = bounded
            elif not data:
                if not d.can_accept_more_data():
                    # Output held back, yet none produced: never spin on it.
                    return b""
                self._more = False

    def finish(self) -> None:
        if self._started and not self._d.is_finished():
            raise self._truncated()


_ZSTD_LIB_MIN_WINDOW = 1 << 10
_ZSTD_LIB_MAX_WINDOW = 1 << 31
_ZSTD_FRAME_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE_MAGIC = 0x184D2A50  # the low 4 bits are free (RFC 8878 §3.1.2)
_ZSTD_FCS_SIZES = (0, 2, 4, 8)
_ZSTD_DICT_ID_SIZES = (0, 1, 2, 4)
# What the next header bytes are.
_Z_MAGIC, _Z_DESCRIPTOR, _Z_HEADER, _Z_BLOCK, _Z_SKIPPABLE_SIZE = range(5)


class _ZstdFrames:
    """Follows zstd frame and block boundaries (RFC 8878 §3.1) without decoding.

    The codec still checks every byte; this only says where blocks end, whether
    the input stopped between frames, and how large a window a frame wants.
    """

    __slots__ = (
        "_block_end",
        "_checksum",
        "_fcs_size",
        "_header",
        "_max_window",
        "_single_segment",
        "_skip",
        "_state",
        "_want",
    )

    def __init__(self, max_window: int) -> None:
        self._max_window = max_window
        self._state = _Z_MAGIC
        self._want = 4
        self._header = b""
        self._skip = 0
        self._block_end = False
        self._checksum = 0
        self._fcs_size = 0
        self._single_segment = False

    @property
    def between_frames(self) -> bool:
        return self._state == _Z_MAGIC and not self._header and not self._skip

    def cut(self, data: bytes | memoryview) -> int:
        """How many leading bytes of ``data`` to decode so that at most one block ends."""
        pos = 0
        end = len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                pos += take
                self._skip -= take
                if self._block_end and not self._skip:
                    self._block_end = False
                    return pos
                continue
            have = len(self._header)
            header = self._header + bytes(data[pos : pos + self._want - have])
            pos += len(header) - have
            if len(header) < self._want:
                self._header = header
                break
            self._header = b""
            self._parse(header)
        return pos

    def _parse(self, header: bytes) -> None:
        state = self._state
        if state == _Z_BLOCK:
            value = int.from_bytes(header, "little")
            kind = (value >> 1) & 3
            if kind == 3:
                raise DecodingError("zstd: the compressed body is corrupt (reserved block type)")
            size = 1 if kind == 1 else value >> 3  # an RLE block holds one byte
            last = value & 1
            self._skip = size + (self._checksum if last else 0)
            self._block_end = size > 0
            if last:
                self._state, self._want = _Z_MAGIC, 4
        elif state == _Z_MAGIC:
            magic = int.from_bytes(header, "little")
            if magic == _ZSTD_FRAME_MAGIC:
                self._state, self._want = _Z_DESCRIPTOR, 1
            elif magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE_MAGIC:
                self._state, self._want = _Z_SKIPPABLE_SIZE, 4
            else:
                raise DecodingError("zstd: the compressed body is corrupt (not a zstd frame)")
        elif state == _Z_DESCRIPTOR:
            descriptor = header[0]
            single = bool(descriptor & 0x20)
            fcs_size = _ZSTD_FCS_SIZES[descriptor >> 6] or int(single)
            self._single_segment = single
            self._fcs_size = fcs_size
            self._checksum = 4 if descriptor & 0x04 else 0
            window_size = 0 if single else 1
            self._state = _Z_HEADER
            self._want = window_size + _ZSTD_DICT_ID_SIZES[descriptor & 3] + fcs_size
        elif state == _Z_HEADER:
            if self._single_segment:
                # The window is the whole content (RFC 8878 §3.1.1.1.2).
                fcs_size = self._fcs_size
                window = int.from_bytes(header[len(header) - fcs_size :], "little")
                if fcs_size == 2:
                    window += 256
            else:
                base = 1 << (10 + (header[0] >> 3))
                window = base + (base >> 3) * (header[0] & 7)
            if window > self._max_window:
                raise DecompressionLimitExceeded(
                    f"zstd: a frame needs a {window}-byte window, more than "
                    f"zstd_max_window_size={self._max_window} (RFC 9659 caps zstd content "
                    "coding at 8 MiB)."
                )
            self._state, self._want = _Z_BLOCK, 3
        else:  # _Z_SKIPPABLE_SIZE
            self._skip = int.from_bytes(header, "little")
            self._block_end = False
            self._state, self._want = _Z_MAGIC, 4


class _ZstdStage(_Stage):
    """zstd (RFC 8878), any number of frames, each decoded one block per step."""

    __slots__ = ("_d", "_error", "_frames", "_in")

    def __init__(self, name: str, source: _Source, limit: int | None, max_window: int) -> None:
        super().__init__(name, source, limit)
        import zstandard

        # The frame walk enforces the exact limit; the library takes 1 KiB to 2 GiB only.
        lib_window = min(max(max_window, _ZSTD_LIB_MIN_WINDOW), _ZSTD_LIB_MAX_WINDOW)
        dctx = zstandard.ZstdDecompressor(max_window_size=lib_window)
        self._d: zstandard.ZstdDecompressionObj = dctx.decompressobj(read_across_frames=True)
        self._error: type[Exception] = zstandard.ZstdError
        self._frames = _ZstdFrames(max_window)
        self._in = _EMPTY

    def held(self) -> int:
        return super().held() + len(self._in)

    def _decode(self, n: int) -> bytes:
        while True:
            if self._pending:
                return self._take(n)
            data = self._in
            if not data:
                pulled = self._source.read(_INPUT_SLICE)
                if not pulled:
                    return b""
                data = memoryview(pulled)
            cut = self._frames.cut(data)
            self._in = data[cut:]
            try:
                out = self._d.decompress(data[:cut])
            except self._error as exc:
                raise self._corrupt(exc) from exc
            if out:
                self._pending = out
                self._pending_pos = 0

    def finish(self) -> None:
        if not self._frames.between_frames:
            raise self._truncated()


def _installed(module: str) -> bool:
    return find_spec(module) is not None


def _codec_table(installed: Callable[[str], bool]) -> dict[str, str]:
    """Content codings this process can undo, mapped to their canonical names."""
    table = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
    if installed("brotli") or installed("brotlicffi"):
        table["br"] = "br"
    if installed("zstandard"):
        table["zstd"] = "zstd"
    return table


# Found without importing: zstandard alone costs ~3 ms of import time.
_CODECS = _codec_table(_installed)

# For Accept-Encoding, most preferred first (the order httpx sends).
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(
    name for name in ("gzip", "deflate", "br", "zstd") if name in _CODECS
)


class BodyDecoder:
    """Undoes a response's Content-Encoding, in bounded steps.

    ``content_encoding`` is the raw header values (each may be a comma list);
    codings apply in order, so they are undone last first. Unknown codings and
    ``identity`` pass through unchanged, as in httpx. ``feed()`` wire bytes,
    ``read(n)`` up to ``n`` decoded bytes until it returns b"", then ``feed_eof()``
    and read again until b"". A corrupt or truncated body raises `DecodingError`;
    decoded output past ``max_decoded_size`` raises `DecompressionLimitExceeded`.
    """

    __slots__ = (
        "_checked",
        "_eof",
        "_failure",
        "_stages",
        "_starved",
        "_top",
        "_wire",
        "decoded_bytes",
    )

    def __init__(
        self,
        content_encoding: Sequence[str],
        *,
        max_decoded_size: int | None = DEFAULT_MAX_DECODED_SIZE,
        max_chained_encodings: int = MAX_CHAINED_ENCODINGS,
        zstd_max_window_size: int = ZSTD_MAX_WINDOW_SIZE,
    ) -> None:
        if max_decoded_size is not None and max_decoded_size < 0:
            raise ValueError(f"max_decoded_size must be >= 0 or None, not {max_decoded_size}")
        if isinstance(content_encoding, str):
            content_encoding = (content_encoding,)
        # Tokens as sent (lower-cased), so errors name what the server said.
        codings = [
            token
            for value in content_encoding
            for part in value.split(",")
            if (token := part.strip().lower()) in _CODECS
        ]
        if len(codings) > max_chained_encodings:
            raise DecodingError(
                f"Too many content encodings in the chain: {len(codings)} > "
                f"{max_chained_encodings} (max_chained_encodings)."
            )
        self._wire = _Wire()
        source: _Source = self._wire
        stages: list[_Stage] = []
        for name in reversed(codings):
            stage: _Stage
            codec = _CODECS[name]
            if codec == "zstd":
                stage = _ZstdStage(name, source, max_decoded_size, zstd_max_window_size)
            elif codec == "br":
                stage = _BrotliStage(name, source, max_decoded_size)
            elif codec == "deflate":
                stage = _DeflateStage(name, source, max_decoded_size)
            else:
                stage = _GzipStage(name, source, max_decoded_size)
            stages.append(stage)
            source = stage
        self._stages = stages
        self._top = source
        self._eof = False
        self._starved = True
        self._checked = False
        self._failure: DecodingError | None = None
        self.decoded_bytes = 0

    @property
    def is_identity(self) -> bool:
        """True when nothing needs decoding: the body is the wire bytes as they are."""
        return not self._stages

    def feed(self, data: bytes) -> None:
        """Add wire bytes. Decodes nothing yet."""
        if self._eof:
            raise StreamError("BodyDecoder.feed() called after feed_eof().")
        if data:
            self._wire.feed(data)
            self._starved = False

    def feed_eof(self) -> None:
        """No more wire bytes. Raises `DecodingError` now if the body is known to be cut short.

        If input is still waiting to be read, the read that runs out of it raises instead.
        """
        self._eof = True
        if self._starved and self._failure is None:
            self._finish()

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` decoded bytes; b"" when more input is needed, or at the end."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, not {max_bytes}")
        if self._failure is not None:
            raise self._failure
        try:
            out = self._top.read(max_bytes)
        except DecodingError as exc:
            # A codec that failed once is in no state to go on: fail the same way again.
            self._failure = exc
            raise
        if out:
            self._starved = False
            if type(out) is not bytes:
                out = bytes(out)
            self.decoded_bytes += len(out)
            return out
        self._starved = True
        if self._eof:
            self._finish()
        return b""

    def _finish(self) -> None:
        if not self._checked:
            try:
                for stage in self._stages:
                    stage.finish()
            except DecodingError as exc:
                self._failure = exc
                raise
            self._checked = True

    def _held(self) -> int:
        """Bytes held inside the stages between reads (wire input not counted)."""
        return sum(stage.held() for stage in self._stages)


# Codecs conch decodes text with (`codecs.lookup(name).name`), see the module header.
TEXT_ENCODINGS = frozenset(
    {
        "utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-16-le",
        "utf-32", "utf-32-be", "utf-32-le", "ascii",
        "iso8859-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6",
        "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-10", "iso8859-11", "iso8859-13",
        "iso8859-14", "iso8859-15", "iso8859-16",
        "cp037", "cp273", "cp424", "cp437", "cp500", "cp720", "cp737", "cp775", "cp850",
        "cp852", "cp855", "cp856", "cp857", "cp858", "cp860", "cp861", "cp862", "cp863",
        "cp864", "cp865", "cp866", "cp869", "cp874", "cp875", "cp1006", "cp1026",
        "cp1125", "cp1140", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255",
        "cp1256", "cp1257", "cp1258",
        "koi8-r", "koi8-t", "koi8-u", "kz1048", "ptcp154", "tis-620", "hp-roman8",
        "palmos", "mac-arabic", "mac-croatian", "mac-cyrillic", "mac-farsi", "mac-greek",
        "mac-iceland", "mac-latin2", "mac-roman", "mac-romanian", "mac-turkish",
        "big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213",
        "euc_jp", "euc_kr", "gb18030", "gb2312", "gbk", "hz", "johab", "shift_jis",
        "shift_jis_2004", "shift_jisx0213",
    }
)  # fmt: skip

_SPLIT_ESCAPE = "its incremental decoder raises on a long escape sequence cut by a chunk boundary"
_NOT_A_CHARSET = "it decodes Python escape sequences, not a character set"

# Text codecs of the standard library that conch refuses, and why.
_REFUSED_TEXT_CODECS = {
    "utf-7": "its incremental decoder decodes a whole base64 run again on every chunk, "
    "in time quadratic in the body size",
    "idna": "it is for host names: it raises instead of replacing bad bytes",
    "punycode": "it is for host names: it raises on bytes that are not ASCII",
    "undefined": "it raises on any input",
    "unicode-escape": _NOT_A_CHARSET,
    "raw-unicode-escape": _NOT_A_CHARSET,
    "charmap": "it is the machinery of the 8-bit codecs, not a character set",
    "iso2022_jp": _SPLIT_ESCAPE,
    "iso2022_jp_1": _SPLIT_ESCAPE,
    "iso2022_jp_2": _SPLIT_ESCAPE,
    "iso2022_jp_2004": _SPLIT_ESCAPE,
    "iso2022_jp_3": _SPLIT_ESCAPE,
    "iso2022_jp_ext": _SPLIT_ESCAPE,
    "iso2022_kr": _SPLIT_ESCAPE,
}

# Codecs that read the byte order from a BOM: (BOM, codec for the rest) pairs, and the
# codec without a BOM. Python's own utf-16 and utf-32 incremental decoders raise on a
# stream without a BOM, and utf-8-sig drops a lone b"\xef" at the end of the body.
_BOM_CODECS: dict[str, tuple[tuple[tuple[bytes, str], ...], str]] = {
    "utf-16": (
        ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")),
        "utf-16-le",
    ),
    "utf-32": (
        ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")),
        "utf-32-le",
    ),
    "utf-8-sig": (((codecs.BOM_UTF8, "utf-8"),), "utf-8"),
}


# `codecs.lookup` remembers every name it is asked, found or not (the `encodings` search
# function caches its misses forever): a server naming a new charset in each response
# would grow that cache without end. So a name from outside is first mapped, as the
# search function maps it, to one of a fixed set of codec module names, and only such a
# module name is ever looked up. Longer names than any alias are not even normalised.
_MAX_CODEC_NAME = 64
_CODEC_ALIASES = encodings.aliases.aliases


@cache
def _codec_modules() -> frozenset[str]:
    # Built when a charset is not an alias, not with conch: it normalises ~100 names.
    return frozenset(
        {
            *_CODEC_ALIASES.values(),
            *(
                encodings.normalize_encoding(name)
                for name in (*TEXT_ENCODINGS, *_REFUSED_TEXT_CODECS)
            ),
        }
    )


def _codec_module(encoding: str) -> str | None:
    """The `encodings` module a codec name stands for, without asking `codecs`."""
    if len(encoding) > _MAX_CODEC_NAME or not (encoding.isascii() and encoding.isprintable()):
        return None
    key = encodings.normalize_encoding(encoding.lower())
    module = _CODEC_ALIASES.get(key) or _CODEC_ALIASES.get(key.replace(".", "_"))
    if module is None and key in _codec_modules():
        module = key
    return module


def text_codec(encoding: object) -> str | None:
    """The codec conch decodes text named ``encoding`` with, or None if it refuses to.

    For names that come from the server (a charset, or what a detector read in the body).
    """
    if not isinstance(encoding, str) or (module := _codec_module(encoding)) is None:
        return None
    try:
        name = codecs.lookup(module).name
    except LookupError:  # a codec module the interpreter lacks
        return None
    return name if name in TEXT_ENCODINGS else None


def require_text_codec(encoding: str) -> str:
    """`text_codec`, for names the user gives: `LookupError` saying why one is refused."""
    name = text_codec(encoding)
    if name is None:
        try:
            reason = _REFUSED_TEXT_CODECS.get(codecs.lookup(encoding).name)
        except (LookupError, ValueError, TypeError):
            reason = None
        why = f": {reason}" if reason else ""
        raise LookupError(f"{encoding!r} is not a known text encoding that conch decodes{why}")
    return name


class TextDecoder:
    """Bytes to text, across chunk boundaries; undecodable bytes become U+FFFD.

    Only codecs in `TEXT_ENCODINGS` (`LookupError` for others). For utf-16, utf-32 and
    utf-8-sig the first bytes choose the codec, as in `_BOM_CODECS`.
    """

    __slots__ = ("_boms", "_decoder", "_head", "_plain")

    def __init__(self, encoding: str = "utf-8") -> None:
        codec = require_text_codec(encoding)
        self._head = b""
        bom_codec = _BOM_CODECS.get(codec)
        if bom_codec is None:
            self._decoder: codecs.IncrementalDecoder | None = _incremental(codec)
            self._boms: tuple[tuple[bytes, str], ...] = ()
            self._plain = codec
        else:
            self._decoder = None
            self._boms, self._plain = bom_codec

    def decode(self, data: bytes, final: bool = False) -> str:
        decoder = self._decoder
        if decoder is None:
            data = self._head + data
            if not final and any(
                len(data) < len(bom) and bom.startswith(data) for bom, _ in self._boms
            ):
                self._head = data  # could still be a BOM
                return ""
            self._head = b""
            codec = self._plain
            for bom, name in self._boms:
                if data.startswith(bom):
                    data = data[len(bom) :]
                    codec = name
                    break
            decoder = self._decoder = _incremental(codec)
        return decoder.decode(data, final)

    def flush(self) -> str:
        return self.decode(b"", True)

    def _held(self) -> int:
        """Input bytes kept for the next chunk (a partial character or BOM)."""
        if self._decoder is None:
            return len(self._head)
        return len(self._decoder.getstate()[0])


def _incremental(codec: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec)(errors="replace")


# The boundaries str.splitlines() splits on.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class LineDecoder:
    """Text to lines without their endings, like str.splitlines() over the whole text.

    A chunk ending in ``\\r`` keeps it until the next chunk shows whether ``\\n`` follows.
    A line longer than ``max_line_length`` characters raises `LineTooLong` (None: no limit).
    """

    __slots__ = ("_limit", "_partial", "_partial_length", "_trailing_cr")

    def __init__(self, max_line_length: int | None = DEFAULT_MAX_LINE_LENGTH) -> None:
        if max_line_length is not None and (
            isinstance(max_line_length, bool)
            or not isinstance(max_line_length, int)
            or max_line_length < 1
        ):
            raise ValueError(
                f"max_line_length must be a positive int or None, got {max_line_length!r}"
            )
        self._limit = max_line_length
        self._partial: list[str] = []
        self._partial_length = 0
        self._trailing_cr = False

    def decode(self, text: str) -> list[str]:
        if self._trailing_cr:
            text = "\r" + text
            self._trailing_cr = False
        if text.endswith("\r"):
            self._trailing_cr = True
            text = text[:-1]
        if not text:
            return []
        lines = text.splitlines()
        ends_line = text[-1] in _LINE_BREAKS
        if len(lines) == 1 and not ends_line:
            self._keep(text)
            return []
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial = []
            self._partial_length = 0
        if not ends_line:
            self._keep(lines.pop())
        limit = self._limit
        if limit is not None and max(map(len, lines)) > limit:
            raise self._too_long()
        return lines

    def _keep(self, text: str) -> None:
        # A line without its end yet: check as it grows, so it never grows far.
        self._partial.append(text)
        self._partial_length += len(text)
        if self._limit is not None and self._partial_length > self._limit:
            raise self._too_long()

    def _too_long(self) -> LineTooLong:
        return LineTooLong(
            f"A line of the response body is longer than max_line_length={self._limit} "
            "characters. Pass a larger max_line_length to iter_lines(), or None to remove "
            "the limit, if this response is trusted."
        )

    def flush(self) -> list[str]:
        if not self._partial and not self._trailing_cr:
            return []
        line = "".join(self._partial)
        self._partial = []
        self._partial_length = 0
        self._trailing_cr = False
        return [line]


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1 or None, not {chunk_size}")


class ByteChunker:
    """Regroups bytes into ``chunk_size`` pieces (the last one may be shorter)."""

    __slots__ = ("_pending", "_size")

    def __init__(self, chunk_size: int | None = None) -> None:
        _check_chunk_size(chunk_size)
        self._size = chunk_size
        self._pending = b""

    def decode(self, content: bytes) -> list[bytes]:
        size = self._size
        if size is None:
            return [content] if content else []
        data = self._pending + content if self._pending else content
        whole = len(data) - len(data) % size
        self._pending = data[whole:]
        return [data[i : i + size] for i in range(0, whole, size)]

    def flush(self) -> list[bytes]:
        pending = self._pending
        self._pending = b""
        return [pending] if pending else []


class TextChunker:
    """Regroups text into ``chunk_size`` pieces (the last one may be shorter)."""

    __slots__ = ("_pending", "_size")

    def __init__(self, chunk_size: int | None = None) -> None:
        _check_chunk_size(chunk_size)
        self._size = chunk_size
        self._pending = ""

    def decode(self, content: str) -> list[str]:
        size = self._size
        if size is None:
            return [content] if content else []
        data = self._pending + content if self._pending else content
        whole = len(data) - len(data) % size
        self._pending = data[whole:]
        return [data[i : i + size] for i in range(0, whole, size)]

    def flush(self) -> list[str]:
        pending = self._pending
        self._pending = ""
        return [pending] if pending else []
