"""Tests for `sansio.decoders`: content codings, text, lines and chunking."""

from __future__ import annotations

import codecs
import functools
import gzip
import itertools
import struct
import tracemalloc
import types
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio import decoders
from sansio.decoders import (
    DEFAULT_MAX_DECODED_SIZE,
    DEFAULT_MAX_LINE_LENGTH,
    MAX_CHAINED_ENCODINGS,
    SUPPORTED_ENCODINGS,
    ZSTD_MAX_WINDOW_SIZE,
    BodyDecoder,
    ByteChunker,
    LineDecoder,
    TextChunker,
    TextDecoder,
    require_text_codec,
    text_codec,
)
from sansio.exceptions import (
    DecodingError,
    DecompressionLimitExceeded,
    LineTooLong,
    StreamError,
)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# -- compressors -------------------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def zstd(data: bytes, **options: Any) -> bytes:
    return zstandard.ZstdCompressor(**options).compress(data)


def zstd_stream(data: bytes, window_log: int = 20) -> bytes:
    """A frame without a content size (as a streaming server sends), two or more blocks."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return compressor.compress(data) + compressor.flush()


# Cached: brotli at its default quality is slow, and the payloads repeat.
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": functools.cache(gzip.compress),
    "x-gzip": functools.cache(gzip.compress),
    "deflate": functools.cache(zlib.compress),
    "br": functools.cache(brotli.compress),
    "zstd": functools.cache(zstd),
}
CODINGS = ["gzip", "deflate", "br", "zstd"]

TEXT = b"".join(b"line %d of a fairly ordinary response body\n" % i for i in range(2000))
SMALL = b"Hello, world! " * 3


def decode(
    encodings: Iterable[str] | str,
    pieces: Iterable[bytes],
    *,
    read_size: int = 65536,
    read_between: bool = True,
    **options: Any,
) -> bytes:
    """Feed ``pieces`` and read everything, the way a Response drives the decoder."""
    decoder = BodyDecoder(
        list(encodings) if not isinstance(encodings, str) else encodings, **options
    )
    out = []
    for piece in pieces:
        decoder.feed(piece)
        if read_between:
            while chunk := decoder.read(read_size):
                assert len(chunk) <= read_size
                out.append(chunk)
    decoder.feed_eof()
    while chunk := decoder.read(read_size):
        assert len(chunk) <= read_size
        out.append(chunk)
    result = b"".join(out)
    assert decoder.decoded_bytes == len(result)
    return result


def drain(decoder: BodyDecoder, read_size: int = 65536) -> None:
    while decoder.read(read_size):
        pass


def two_way_splits(body: bytes) -> Iterator[list[bytes]]:
    for i in range(len(body) + 1):
        yield [body[:i], body[i:]]


def byte_by_byte(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


# -- what is supported -------------------------------------------------------------------


def test_supported_encodings_list_what_is_installed() -> None:
    assert SUPPORTED_ENCODINGS == ("gzip", "deflate", "br", "zstd")


def test_codec_table_without_optional_libraries() -> None:
    assert decoders._codec_table(lambda module: False) == {
        "gzip": "gzip",
        "x-gzip": "gzip",
        "deflate": "deflate",
    }
    table = decoders._codec_table(lambda module: module == "brotlicffi")
    assert table["br"] == "br"
    assert "zstd" not in table


def test_limits_have_their_documented_values() -> None:
    assert MAX_CHAINED_ENCODINGS == 5
    assert 256 * MiB == DEFAULT_MAX_DECODED_SIZE
    assert 8 * MiB == ZSTD_MAX_WINDOW_SIZE


# -- identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [[], ["identity"], ["IDENTITY"], ["x-unknown"], ["identity, x-custom"], [""], [" , "]],
)
def test_identity_and_unknown_codings_pass_bytes_through(header: list[str]) -> None:
    decoder = BodyDecoder(header)
    assert decoder.is_identity
    body = b"\x1f\x8b not really gzip"
    decoder.feed(body)
    assert decoder.read(1000) is body  # untouched: the very same object
    assert decoder.read(1000) == b""
    decoder.feed_eof()
    assert decoder.read(1000) == b""


def test_identity_read_splits_and_joins_pieces() -> None:
    decoder = BodyDecoder([])
    decoder.feed(b"abcdefg")
    decoder.feed(bytearray(b"hij"))  # type: ignore[arg-type]
    got = []
    while chunk := decoder.read(3):
        assert type(chunk) is bytes
        got.append(chunk)
    assert got == [b"abc", b"def", b"g", b"hij"]
    assert decoder.decoded_bytes == 10


def test_identity_is_not_limited_by_max_decoded_size() -> None:
    assert decode([], [b"x" * 100], max_decoded_size=0) == b"x" * 100


def test_fed_buffers_are_copied_so_reuse_by_the_caller_is_harmless() -> None:
    buffer = bytearray(gzip.compress(SMALL))
    decoder = BodyDecoder(["gzip"])
    decoder.feed(memoryview(buffer))  # type: ignore[arg-type]
    buffer[:] = bytes(len(buffer))
    decoder.feed_eof()
    assert decoder.read(1000) == SMALL


def test_a_single_string_is_one_header_value() -> None:
    assert decode("gzip", [gzip.compress(SMALL)]) == SMALL


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("coding", list(COMPRESS))
@pytest.mark.parametrize(
    ("payload", "read_size"),
    [
        (b"", 65536),
        (b"x", 1),
        (SMALL, 1),
        (SMALL, 7),
        (TEXT, 7),
        (TEXT, 1000),
        (TEXT, 65536),
    ],
    ids=["empty", "one-byte", "small-1", "small-7", "text-7", "text-1000", "text-65536"],
)
def test_round_trip(coding: str, payload: bytes, read_size: int) -> None:
    body = COMPRESS[coding](payload)
    assert decode([coding], [body], read_size=read_size) == payload


@pytest.mark.parametrize("coding", list(COMPRESS))
def test_header_tokens_are_case_and_space_insensitive(coding: str) -> None:
    body = COMPRESS[coding](SMALL)
    assert decode([f"  {coding.upper()} "], [body]) == SMALL


@pytest.mark.parametrize("coding", CODINGS)
def test_incompressible_data_round_trips(coding: str) -> None:
    payload = bytes(decoders_random(300_000))
    assert decode([coding], [COMPRESS[coding](payload)], read_size=10_000) == payload


def decoders_random(n: int) -> bytes:
    """Deterministic noise that no codec can shrink."""
    state = 0x2545F491
    out = bytearray()
    for _ in range(n // 4):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out += state.to_bytes(4, "little")
    return bytes(out)


@pytest.mark.parametrize("coding", CODINGS)
def test_every_split_point_gives_the_same_body(coding: str) -> None:
    body = COMPRESS[coding](SMALL)
    for pieces in two_way_splits(body):
        assert decode([coding], pieces) == SMALL
        assert decode([coding], pieces, read_between=False) == SMALL
    assert decode([coding], byte_by_byte(body)) == SMALL
    assert decode([coding], byte_by_byte(body), read_size=1) == SMALL
    assert decode([coding], byte_by_byte(body), read_between=False) == SMALL


@pytest.mark.parametrize("coding", CODINGS)
def test_an_empty_body_with_a_coding_is_empty(coding: str) -> None:
    # HEAD responses, 204 and 304 carry Content-Encoding but no body.
    decoder = BodyDecoder([coding])
    decoder.feed(b"")
    decoder.feed_eof()
    assert decoder.read(100) == b""
    assert decode([coding, "gzip"], []) == b""


@settings(max_examples=60, deadline=None)
@given(
    coding=st.sampled_from(CODINGS),
    unit=st.binary(min_size=1, max_size=300),
    repeat=st.integers(1, 300),
    cuts=st.lists(st.integers(0, 200_000), max_size=12),
    read_size=st.integers(1, 70_000),
)
def test_random_data_random_splits(
    coding: str, unit: bytes, repeat: int, cuts: list[int], read_size: int
) -> None:
    payload = unit * repeat
    body = COMPRESS[coding](payload)
    points = sorted({min(cut, len(body)) for cut in cuts} | {0, len(body)})
    pieces = [body[a:b] for a, b in itertools.pairwise(points)]
    assert decode([coding], pieces, read_size=read_size) == payload


# -- gzip --------------------------------------------------------------------------------


def test_concatenated_gzip_members_all_decode() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"") + gzip.compress(b"second")
    for pieces in two_way_splits(body):
        assert decode(["gzip"], pieces) == b"first second"
    assert decode(["gzip"], byte_by_byte(body)) == b"first second"


def test_zero_padding_after_gzip_members_is_skipped() -> None:
    # gzip(1) and Python's gzip module skip NUL padding (tape-block style) too.
    body = gzip.compress(b"a") + bytes(5) + gzip.compress(b"b") + bytes(3)
    for pieces in two_way_splits(body):
        assert decode(["gzip"], pieces) == b"ab"
        assert decode(["gzip"], pieces, read_between=False) == b"ab"
    assert decode(["gzip"], byte_by_byte(body)) == b"ab"
    assert decode(["gzip"], byte_by_byte(body), read_between=False) == b"ab"


def test_garbage_after_a_gzip_member_is_an_error() -> None:
    with pytest.raises(DecodingError, match=r"^gzip: the compressed body is corrupt"):
        decode(["gzip"], [gzip.compress(b"a") + b"<html>"])


def test_a_partial_second_gzip_member_is_truncation() -> None:
    with pytest.raises(DecodingError, match=r"^gzip: the compressed body is truncated"):
        decode(["gzip"], [gzip.compress(b"a") + b"\x1f"])


def test_x_gzip_errors_name_the_coding_as_sent() -> None:
    with pytest.raises(DecodingError, match=r"^x-gzip: "):
        decode(["x-gzip"], [b"not gzip at all"])


# -- deflate -----------------------------------------------------------------------------


def test_deflate_accepts_zlib_wrapped_and_raw_streams() -> None:
    wrapped, raw = zlib.compress(TEXT), raw_deflate(TEXT)
    assert wrapped[:2] != raw[:2]
    assert decode(["deflate"], [wrapped]) == TEXT
    assert decode(["deflate"], [raw]) == TEXT
    for pieces in two_way_splits(raw_deflate(SMALL)):
        assert decode(["deflate"], pieces) == SMALL


def test_deflate_with_data_after_the_end_is_an_error() -> None:
    with pytest.raises(DecodingError, match=r"^deflate: unexpected data after the end"):
        decode(["deflate"], [zlib.compress(SMALL), b"junk"])


def test_a_one_byte_deflate_body_is_truncation() -> None:
    with pytest.raises(DecodingError, match=r"^deflate: the compressed body is truncated"):
        decode(["deflate"], [b"\x78"])


# -- brotli ------------------------------------------------------------------------------


def test_brotli_data_after_the_end_is_an_error() -> None:
    decoder = BodyDecoder(["br"])
    decoder.feed(brotli.compress(SMALL))
    assert decoder.read(1000) == SMALL
    assert decoder.read(1000) == b""
    decoder.feed(b"more")
    with pytest.raises(DecodingError, match=r"^br: unexpected data after the end"):
        decoder.read(1000)


class _OldBrotliDecompressor:
    """brotli < 1.2: ``process`` without an output limit."""

    def __init__(self) -> None:
        self._inner = brotli.Decompressor()

    def process(self, data: bytes) -> bytes:
        out: bytes = self._inner.process(data)
        return out

    def is_finished(self) -> bool:
        return bool(self._inner.is_finished())


class _CffiBrotliDecompressor:
    """brotlicffi: the same, but the method is called ``decompress``."""

    def __init__(self) -> None:
        self._inner = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        out: bytes = self._inner.process(data)
        return out

    def is_finished(self) -> bool:
        return bool(self._inner.is_finished())


@pytest.mark.parametrize("decompressor", [_OldBrotliDecompressor, _CffiBrotliDecompressor])
def test_brotli_without_an_output_limit_uses_small_input_slices(
    monkeypatch: pytest.MonkeyPatch, decompressor: type
) -> None:
    module = types.SimpleNamespace(Decompressor=decompressor, error=brotli.error)
    monkeypatch.setattr(decoders, "_brotli_module", lambda: module)
    body = brotli.compress(TEXT)
    assert decode(["br"], [body], read_size=1000) == TEXT
    for pieces in two_way_splits(brotli.compress(SMALL)):
        assert decode(["br"], pieces) == SMALL
    with pytest.raises(DecodingError, match=r"^br: the compressed body is truncated"):
        decode(["br"], [body[:-3]])


def test_a_brotli_decoder_that_stalls_is_not_spun_on(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stalled:
        def can_accept_more_data(self) -> bool:
            return False

        def process(self, data: bytes, output_buffer_limit: int) -> bytes:
            return b""

        def is_finished(self) -> bool:
            return False

    module = types.SimpleNamespace(Decompressor=Stalled, error=brotli.error)
    monkeypatch.setattr(decoders, "_brotli_module", lambda: module)
    decoder = BodyDecoder(["br"])
    decoder.feed(b"\x0b")
    assert decoder.read(100) == b""


# -- zstd --------------------------------------------------------------------------------


def skippable_frame(payload: bytes, nibble: int = 0) -> bytes:
    return struct.pack("<II", 0x184D2A50 | nibble, len(payload)) + payload


def test_zstd_concatenated_frames_all_decode() -> None:
    body = zstd(b"one ") + zstd_stream(b"two ") + zstd(b"three", write_checksum=True)
    for pieces in two_way_splits(body):
        assert decode(["zstd"], pieces) == b"one two three"
    assert decode(["zstd"], byte_by_byte(body), read_size=2) == b"one two three"


def test_zstd_skippable_frames_are_skipped() -> None:
    body = (
        skippable_frame(b"meta")
        + zstd(b"one ")
        + skippable_frame(b"", nibble=0xF)
        + zstd(b"two")
        + skippable_frame(b"tail")
    )
    for pieces in two_way_splits(body):
        assert decode(["zstd"], pieces) == b"one two"


@pytest.mark.parametrize("size", [0, 100, 300, 70_000, 3 * 128 * KiB + 5])
def test_zstd_frame_header_variants(size: int) -> None:
    # Content sizes written in 1, 2 and 4 bytes, single-segment and windowed frames,
    # with and without checksums, RLE, raw and compressed blocks.
    payload = (TEXT * (size // len(TEXT) + 1))[:size]
    noise = decoders_random(size)[:size]
    for data in (payload, noise, b"\0" * size):
        for body in (zstd(data), zstd(data, write_checksum=True), zstd_stream(data)):
            assert decode(["zstd"], [body], read_size=50_000) == data


def test_zstd_garbage_is_an_error() -> None:
    with pytest.raises(DecodingError, match=r"^zstd: .*not a zstd frame"):
        decode(["zstd"], [zstd(b"ok") + b"junk"])


def test_zstd_reserved_block_type_is_an_error() -> None:
    frame = zstd_stream(b"abc")
    header_end = 6  # magic, descriptor, window byte
    block = int.from_bytes(frame[header_end : header_end + 3], "little") | 0b110
    bad = frame[:header_end] + block.to_bytes(3, "little") + frame[header_end + 3 :]
    with pytest.raises(DecodingError, match=r"^zstd: .*reserved block type"):
        decode(["zstd"], [bad])


def test_zstd_corrupt_block_contents_are_an_error() -> None:
    frame = bytearray(zstd(TEXT, write_checksum=True))
    frame[len(frame) // 2] ^= 0xFF
    with pytest.raises(DecodingError, match=r"^zstd: the compressed body is corrupt"):
        decode(["zstd"], [bytes(frame)])


def test_zstd_window_at_the_limit_passes_and_past_it_is_refused() -> None:
    body = zstd_stream(b"windowed", window_log=23)
    assert zstandard.get_frame_parameters(body).window_size == ZSTD_MAX_WINDOW_SIZE
    assert decode(["zstd"], [body]) == b"windowed"
    with pytest.raises(DecompressionLimitExceeded, match="zstd_max_window_size=8388607"):
        decode(["zstd"], [body], zstd_max_window_size=ZSTD_MAX_WINDOW_SIZE - 1)
    bigger = zstd_stream(b"windowed", window_log=24)
    with pytest.raises(DecompressionLimitExceeded, match="16777216-byte window"):
        decode(["zstd"], [bigger])
    assert decode(["zstd"], [bigger], zstd_max_window_size=16 * MiB) == b"windowed"


def test_zstd_single_segment_window_is_the_content_size() -> None:
    body = zstd(b"y" * 300)  # a two-byte content size field: 300 - 256 is stored
    assert zstandard.get_frame_parameters(body).content_size == 300
    assert decode(["zstd"], [body], zstd_max_window_size=300) == b"y" * 300
    with pytest.raises(DecompressionLimitExceeded, match="300-byte window"):
        decode(["zstd"], [body], zstd_max_window_size=299)
    small = zstd(b"y" * 20)  # a one-byte content size field
    with pytest.raises(DecompressionLimitExceeded, match="20-byte window"):
        decode(["zstd"], [small], zstd_max_window_size=19)


# -- truncation and corruption, every codec ----------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_every_truncation_is_an_error(coding: str) -> None:
    body = COMPRESS[coding](SMALL)
    for cut in range(1, len(body)):
        with pytest.raises(DecodingError, match=rf"^{coding}: "):
            decode([coding], [body[:cut]])


@pytest.mark.parametrize("coding", CODINGS)
def test_truncation_found_while_reading_after_feed_eof(coding: str) -> None:
    decoder = BodyDecoder([coding])
    decoder.feed(COMPRESS[coding](TEXT)[:-5])
    decoder.feed_eof()  # input still waiting: the read that runs out of it raises
    with pytest.raises(DecodingError, match="truncated"):
        drain(decoder)
    # The failure sticks: no silently short body on a retry.
    with pytest.raises(DecodingError, match="truncated"):
        decoder.read(65536)


def test_truncation_at_feed_eof_sticks() -> None:
    decoder = BodyDecoder(["gzip"])
    decoder.feed(gzip.compress(SMALL)[:-1])
    assert decoder.read(1000) == SMALL
    assert decoder.read(1000) == b""
    with pytest.raises(DecodingError, match="truncated"):
        decoder.feed_eof()
    with pytest.raises(DecodingError, match="truncated"):
        decoder.read(1000)


@pytest.mark.parametrize("coding", CODINGS)
def test_corrupt_streams_are_errors_naming_the_coding(coding: str) -> None:
    body = bytearray(COMPRESS[coding](TEXT))
    for i in range(12):
        body[i] ^= 0x5A
    decoder = BodyDecoder([coding])
    decoder.feed(bytes(body))
    decoder.feed_eof()
    with pytest.raises(DecodingError, match=rf"^{coding}: "):
        drain(decoder)
    with pytest.raises(DecodingError, match=rf"^{coding}: "):
        decoder.read(65536)  # and it stays failed


# -- chains ------------------------------------------------------------------------------


def test_chained_codings_are_undone_last_first() -> None:
    body = brotli.compress(gzip.compress(TEXT))
    assert decode(["gzip, br"], [body]) == TEXT
    assert decode(["gzip", "br"], [body]) == TEXT
    assert decode(["gzip", "identity", "br"], [body]) == TEXT
    with pytest.raises(DecodingError):
        decode(["br, gzip"], [body])


def test_a_chain_at_every_split_point() -> None:
    body = zstd(zlib.compress(gzip.compress(SMALL)))
    for pieces in two_way_splits(body):
        assert decode(["gzip", "deflate", "zstd"], pieces) == SMALL
    assert decode(["gzip", "deflate", "zstd"], byte_by_byte(body), read_size=1) == SMALL


def test_chain_limit_is_five_and_six_is_an_error() -> None:
    body = SMALL
    for _ in range(6):
        body = gzip.compress(body)
    five = gzip.decompress(body)
    assert decode(["gzip"] * MAX_CHAINED_ENCODINGS, [five]) == SMALL
    with pytest.raises(DecodingError, match="Too many content encodings in the chain: 6 > 5"):
        BodyDecoder(["gzip, gzip, gzip", "gzip, gzip, gzip"])
    assert decode(["gzip"] * 6, [body], max_chained_encodings=6) == SMALL
    # identity and unknown codings do no work and do not count
    assert decode(["identity"] * 10 + ["gzip"] * 5, [five]) == SMALL


def test_a_truncated_inner_coding_is_an_error() -> None:
    inner = gzip.compress(SMALL)[:-4]
    with pytest.raises(DecodingError, match=r"^gzip: the compressed body is truncated"):
        decode(["gzip", "br"], [brotli.compress(inner)])


# -- the decoded-size limit --------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_max_decoded_size_at_the_limit_passes_and_one_past_fails(coding: str) -> None:
    body = COMPRESS[coding](TEXT)
    for read_size in (1000, 65536):
        assert decode([coding], [body], max_decoded_size=len(TEXT), read_size=read_size) == TEXT
        with pytest.raises(DecompressionLimitExceeded) as info:
            decode([coding], [body], max_decoded_size=len(TEXT) - 1, read_size=read_size)
    message = str(info.value)
    assert f"max_decoded_size={len(TEXT) - 1}" in message
    assert "Raise max_decoded_size, or set it to None" in message
    assert isinstance(info.value, DecodingError)


def test_max_decoded_size_zero_allows_only_empty_bodies() -> None:
    assert decode(["gzip"], [gzip.compress(b"")], max_decoded_size=0) == b""
    with pytest.raises(DecompressionLimitExceeded):
        decode(["gzip"], [gzip.compress(b"a")], max_decoded_size=0)


def test_max_decoded_size_none_means_no_limit() -> None:
    body = gzip.compress(bytes(DEFAULT_MAX_DECODED_SIZE // 64))
    assert len(decode(["gzip"], [body], max_decoded_size=None)) == DEFAULT_MAX_DECODED_SIZE // 64


def test_the_limit_binds_inner_stages_of_a_chain_too() -> None:
    # The outer gzip holds 2,000 empty gzip members: the final body is empty, yet the
    # inner stage would chew through ~40 KB of them. Each stage answers to the cap.
    members = gzip.compress(b"", mtime=0) * 2000
    body = gzip.compress(members)
    assert decode(["gzip", "gzip"], [body], max_decoded_size=None) == b""
    assert decode(["gzip", "gzip"], [body], max_decoded_size=len(members)) == b""
    with pytest.raises(DecompressionLimitExceeded, match=r"\(gzip\)"):
        decode(["gzip", "gzip"], [body], max_decoded_size=len(members) - 1)


# -- decompression bombs -----------------------------------------------------------------


def _gf2_apply(matrix: list[int], vector: int) -> int:
    result = 0
    row = 0
    while vector:
        if vector & 1:
            result ^= matrix[row]
        vector >>= 1
        row += 1
    return result


def crc32_of_zeros(length: int) -> int:
    """CRC-32 of ``length`` zero bytes without touching them (the register is linear)."""
    operator = [0xEDB88320] + [1 << (bit - 1) for bit in range(1, 32)]  # one zero bit
    for _ in range(3):  # square up to one zero byte
        operator = [_gf2_apply(operator, column) for column in operator]
    register = 0xFFFFFFFF
    while length:
        if length & 1:
            register = _gf2_apply(operator, register)
        length >>= 1
        operator = [_gf2_apply(operator, column) for column in operator]
    return register ^ 0xFFFFFFFF


def test_crc32_of_zeros_helper() -> None:
    for length in (0, 1, 2, 3, 1000, 65537):
        assert crc32_of_zeros(length) == zlib.crc32(bytes(length))


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of zeros in one gzip member (~1 MiB), built in milliseconds.

    After a full flush deflate forgets its history, so every further MiB of zeros
    compresses to the very same bytes: compress three, repeat the middle one.
    """
    zeros = bytes(MiB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == middle
    end = compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc32_of_zeros(GiB), GiB & 0xFFFFFFFF)
    return header + first + middle * 1023 + end + trailer


@pytest.fixture(scope="module")
def br_bomb() -> bytes:
    compressor = brotli.Compressor(quality=1)
    zeros = bytes(MiB)
    body: bytes = b"".join(compressor.process(zeros) for _ in range(1024)) + compressor.finish()
    return body


@pytest.fixture(scope="module")
def zstd_bomb() -> bytes:
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    zeros = bytes(MiB)
    return b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()


def test_gzip_bomb_is_one_member_of_about_one_mib(gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 1.1 * MiB
    assert gzip_bomb[:2] == b"\x1f\x8b"
    head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(gzip_bomb[: 64 * KiB], 4096)
    assert head == bytes(4096)


@pytest.mark.parametrize(
    ("coding", "bomb", "held_bound"),
    [
        ("gzip", "gzip_bomb", 16 * KiB),  # unread input only: zlib stops at n exactly
        ("br", "br_bomb", 2 * 65536),  # brotli overshoots its output limit by up to half
        ("zstd", "zstd_bomb", 128 * KiB + 16 * KiB),  # one block plus unread input
    ],
)
def test_bomb_reads_stay_bounded(
    coding: str, bomb: str, held_bound: int, request: pytest.FixtureRequest
) -> None:
    body: bytes = request.getfixturevalue(bomb)
    decoder = BodyDecoder([coding])
    decoder.feed(body)
    decoder.feed_eof()
    tracemalloc.start()
    try:
        for _ in range(300):
            chunk = decoder.read(65536)
            assert 0 < len(chunk) <= 65536
            assert chunk.count(0) == len(chunk)
            assert decoder._held() <= held_bound
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # ~19 MiB were decoded; the decoder never held more than a few reads' worth.
    assert decoder.decoded_bytes >= 300 * 32 * KiB
    assert peak < 1 * MiB


@pytest.mark.parametrize("bomb", ["gzip_bomb", "br_bomb", "zstd_bomb"])
def test_bomb_stops_exactly_at_max_decoded_size(bomb: str, request: pytest.FixtureRequest) -> None:
    body: bytes = request.getfixturevalue(bomb)
    coding = bomb.split("_")[0]
    limit = 16 * MiB + 123
    decoder = BodyDecoder([coding], max_decoded_size=limit)
    decoder.feed(body)
    decoder.feed_eof()
    with pytest.raises(DecompressionLimitExceeded, match=f"max_decoded_size={limit}"):
        drain(decoder)
    assert decoder.decoded_bytes == limit


def test_the_default_limit_stops_a_bomb(zstd_bomb: bytes) -> None:
    decoder = BodyDecoder(["zstd"])
    decoder.feed(zstd_bomb)
    decoder.feed_eof()
    with pytest.raises(DecompressionLimitExceeded, match=f"max_decoded_size={256 * MiB}"):
        drain(decoder, 1 * MiB)
    assert decoder.decoded_bytes == DEFAULT_MAX_DECODED_SIZE


# -- misuse ------------------------------------------------------------------------------


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="max_decoded_size"):
        BodyDecoder(["gzip"], max_decoded_size=-1)
    with pytest.raises(ValueError, match="max_bytes"):
        BodyDecoder(["gzip"]).read(0)
    with pytest.raises(ValueError, match="chunk_size"):
        ByteChunker(0)
    with pytest.raises(ValueError, match="chunk_size"):
        TextChunker(-1)


def test_feeding_after_eof_is_a_stream_error() -> None:
    decoder = BodyDecoder(["gzip"])
    decoder.feed_eof()
    with pytest.raises(StreamError, match="after feed_eof"):
        decoder.feed(b"x")


# -- text --------------------------------------------------------------------------------


def test_text_decoder_joins_multibyte_characters_split_anywhere() -> None:
    text = "naïve café → 日本語 🐍 done"
    data = text.encode("utf-8")
    for i in range(len(data) + 1):
        decoder = TextDecoder("utf-8")
        assert decoder.decode(data[:i]) + decoder.decode(data[i:]) + decoder.flush() == text
    decoder = TextDecoder("utf-8")
    assert "".join(decoder.decode(data[i : i + 1]) for i in range(len(data))) == text


def test_text_decoder_replaces_bad_bytes() -> None:
    decoder = TextDecoder("utf-8")
    assert decoder.decode(b"ok \xff then \xe6\x97") == "ok \ufffd then "
    assert decoder.flush() == "\ufffd"


def test_text_decoder_other_encodings() -> None:
    decoder = TextDecoder("utf-16")
    data = "héllo".encode("utf-16")
    assert decoder.decode(data[:3]) + decoder.decode(data[3:]) + decoder.flush() == "héllo"
    assert TextDecoder("latin-1").decode(b"\xe9") == "é"


def decode_in_two(encoding: str, data: bytes, cut: int) -> str:
    decoder = TextDecoder(encoding)
    return decoder.decode(data[:cut]) + decoder.decode(data[cut:]) + decoder.flush()


@pytest.mark.parametrize(
    ("encoding", "data", "text"),
    [
        # The BOM says the byte order, and is not part of the text (as Python does it).
        ("utf-16", codecs.BOM_UTF16_LE + "hé☃".encode("utf-16-le"), "hé☃"),
        ("utf-16", codecs.BOM_UTF16_BE + "hé☃".encode("utf-16-be"), "hé☃"),
        # Without one: little-endian, where Python's incremental decoder raises.
        ("utf-16", "hé☃".encode("utf-16-le"), "hé☃"),
        ("utf-16", b"\xff", "\ufffd"),
        ("utf-16", b"", ""),
        ("utf-32", codecs.BOM_UTF32_LE + "h☃🐍".encode("utf-32-le"), "h☃🐍"),
        ("utf-32", codecs.BOM_UTF32_BE + "h☃🐍".encode("utf-32-be"), "h☃🐍"),
        ("utf-32", "h☃🐍".encode("utf-32-le"), "h☃🐍"),
        ("utf-32", b"\xff\xfe\x00", "\ufffd"),
        ("utf-8-sig", codecs.BOM_UTF8 + "é".encode(), "é"),
        ("utf-8-sig", "é".encode(), "é"),
        # A lone start of a BOM at the end is a bad byte: Python's utf-8-sig drops it.
        ("utf-8-sig", b"\xef", "\ufffd"),
        ("utf-8-sig", b"\xef\xbb", "\ufffd"),
        # Only the first BOM is one; a second is text (U+FEFF).
        ("utf-16", (codecs.BOM_UTF16_LE * 2) + b"a\x00", "\ufeffa"),
    ],
)
def test_text_decoder_reads_the_byte_order_from_the_bom(
    encoding: str, data: bytes, text: str
) -> None:
    for cut in range(len(data) + 1):
        assert decode_in_two(encoding, data, cut) == text
    decoder = TextDecoder(encoding)
    assert (
        "".join(decoder.decode(data[i : i + 1]) for i in range(len(data))) + (decoder.flush())
        == text
    )
    assert TextDecoder(encoding).decode(data, final=True) == text


def test_text_decoder_holds_back_only_a_partial_character() -> None:
    decoder = TextDecoder("utf-16")
    assert decoder.decode(b"\xff") == ""
    assert decoder._held() == 1  # maybe a BOM
    assert decoder.decode(b"\xfea") == ""
    assert decoder._held() == 1  # half a code unit
    assert decoder.decode(b"\x00") == "a"
    assert decoder._held() == 0


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ("latin-1", "iso8859-1"),
        ("Shift_JIS", "shift_jis"),
        ("windows-1252", "cp1252"),
        ("utf-7", None),
        ("idna", None),
        ("iso-2022-jp", None),
        ("rot13", None),
        ("base64", None),
        ("no-such-codec", None),
        ("utf\x008", None),
        ("utf-8\u00a0", None),
        ("ansi", None),  # an alias of mbcs, a Windows-only codec
        ("", None),
        ("utf-8" + " " * 64, None),
        (None, None),
        (8, None),
    ],
)
def test_text_codec(name: Any, codec: str | None) -> None:
    assert text_codec(name) == codec


def test_server_charset_names_never_grow_the_codec_cache() -> None:
    # Python's codec search remembers every name it is asked, found or not: a hostile
    # server naming a new charset per response must not make the client's memory grow.
    import encodings

    text_codec("latin-1")
    before = dict(encodings._cache)  # type: ignore[attr-defined]
    for i in range(500):
        assert text_codec(f"x-charset-{i}") is None
        assert text_codec(f"UTF-{'-' * (i % 7)}8 ") == "utf-8"  # spellings Python takes too
        assert text_codec("Latin_1" if i % 2 else "LATIN 1") == "iso8859-1"
    assert dict(encodings._cache) == before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("utf-7", "quadratic"),
        ("IDNA", "raises instead of replacing"),
        ("iso-2022-jp", "escape sequence"),
        ("unicode_escape", "not a character set"),
        ("rot13", None),
        ("nonsense", None),
        ("utf\x008", None),
    ],
)
def test_refused_encodings_say_why(name: str, reason: str | None) -> None:
    with pytest.raises(LookupError, match="not a known text encoding that conch decodes") as info:
        require_text_codec(name)
    with pytest.raises(LookupError):
        TextDecoder(name)
    if reason is None:
        assert ":" not in str(info.value).split("decodes")[1]
    else:
        assert reason in str(info.value)


# -- lines -------------------------------------------------------------------------------


def lines_of(chunks: Iterable[str], decoder: LineDecoder | None = None) -> list[str]:
    decoder = decoder or LineDecoder()
    out: list[str] = []
    for chunk in chunks:
        out += decoder.decode(chunk)
    return out + decoder.flush()


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["a\r", "\nb"], ["a", "b"]),
        (["a\r", "b"], ["a", "b"]),
        (["a\r"], ["a"]),
        (["\r"], [""]),
        (["\r", "\r"], ["", ""]),
        (["a\r\n"], ["a"]),
        (["a\n\n", "b"], ["a", "", "b"]),
        (["ab", "cd", "e\nf"], ["abcde", "f"]),
        (["", "x", ""], ["x"]),
        ([], []),
        (["a\u2028b\x85c"], ["a", "b", "c"]),
    ],
)
def test_line_decoder_cases(chunks: list[str], expected: list[str]) -> None:
    assert lines_of(chunks) == expected


def test_crlf_split_across_chunks_is_one_break() -> None:
    decoder = LineDecoder()
    assert decoder.decode("one\r") == []
    assert decoder.decode("\ntwo\r") == ["one"]
    assert decoder.decode("\n") == ["two"]
    assert decoder.flush() == []


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab\r\n \x0b\u2028é")), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=8),
)
def test_lines_match_splitlines_for_any_chunking(text: str, cuts: list[int]) -> None:
    points = sorted({min(cut, len(text)) for cut in cuts} | {0, len(text)})
    chunks = [text[a:b] for a, b in itertools.pairwise(points)]
    assert lines_of(chunks) == text.splitlines()


@pytest.mark.parametrize(
    "chunks",
    [
        ["abcde"],
        ["abcde\n"],
        ["ab", "cd", "e"],
        ["ab", "cde\r", "\n"],
        ["x\nabcde\nyz"],
        ["abc", "de\nabcde"],
    ],
)
def test_lines_up_to_the_limit_pass(chunks: list[str]) -> None:
    assert lines_of(chunks, LineDecoder(5)) == "".join(chunks).splitlines()


@pytest.mark.parametrize(
    "chunks",
    [
        ["abcdef"],  # still open, in one chunk
        ["abcdef\n"],  # complete, in one chunk
        ["x\nabcdef\ny"],  # in the middle of a chunk
        ["ab", "cd", "ef"],  # growing chunk by chunk
        ["abc", "def\n"],  # completed by the chunk that passes the limit
        ["ok\n", "abcdefgh"],
    ],
)
def test_a_line_past_the_limit_raises(chunks: list[str]) -> None:
    with pytest.raises(LineTooLong, match="max_line_length=5 characters"):
        lines_of(chunks, LineDecoder(5))


def test_line_limit_stops_a_line_as_it_grows() -> None:
    # One piece past the limit, never the rest of an endless line.
    fed: list[str] = []

    def endless() -> Iterator[str]:
        while True:
            fed.append("a" * 30)
            yield fed[-1]

    with pytest.raises(LineTooLong):
        lines_of(endless(), LineDecoder(100))
    assert len(fed) == 4


def test_default_line_limit() -> None:
    line = "a" * DEFAULT_MAX_LINE_LENGTH
    assert LineDecoder().decode(line + "\n") == [line]
    with pytest.raises(LineTooLong, match=f"max_line_length={DEFAULT_MAX_LINE_LENGTH} "):
        LineDecoder().decode(line + "a")
    unlimited = LineDecoder(None)
    assert unlimited.decode(line) == []
    assert unlimited.decode(line + "\n") == [line + line]


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "5"])
def test_bad_line_limits(limit: Any) -> None:
    with pytest.raises(ValueError, match="max_line_length must be a positive int or None"):
        LineDecoder(limit)


def test_lines_from_utf8_bytes_split_in_a_character_and_a_crlf() -> None:
    data = "first é\r\nsecond ☃\rthird".encode()
    for i in range(len(data) + 1):
        text = TextDecoder("utf-8")
        lines = LineDecoder()
        got = lines.decode(text.decode(data[:i]))
        got += lines.decode(text.decode(data[i:]))
        got += lines.decode(text.flush()) + lines.flush()
        assert got == ["first é", "second ☃", "third"]


# -- chunkers ----------------------------------------------------------------------------


def test_chunkers_without_a_size_pass_pieces_through() -> None:
    chunker = ByteChunker(None)
    assert chunker.decode(b"abc") == [b"abc"]
    assert chunker.decode(b"") == []
    assert chunker.flush() == []
    text_chunker = TextChunker()
    assert text_chunker.decode("abc") == ["abc"]
    assert text_chunker.decode("") == []
    assert text_chunker.flush() == []


def test_byte_chunker_regroups() -> None:
    chunker = ByteChunker(4)
    assert chunker.decode(b"ab") == []
    assert chunker.decode(b"cdefghij") == [b"abcd", b"efgh"]
    assert chunker.decode(b"kl") == [b"ijkl"]
    assert chunker.flush() == []
    assert chunker.decode(b"xyz") == []
    assert chunker.flush() == [b"xyz"]
    assert chunker.flush() == []
    whole = b"1234"
    assert ByteChunker(4).decode(whole)[0] is whole  # no copy when it already fits


def test_text_chunker_regroups() -> None:
    chunker = TextChunker(3)
    assert chunker.decode("é") == []
    assert chunker.decode("☃ab") == ["é☃a"]
    assert chunker.flush() == ["b"]


@given(
    pieces=st.lists(st.binary(max_size=20), max_size=10),
    size=st.integers(1, 9),
)
def test_byte_chunker_property(pieces: list[bytes], size: int) -> None:
    chunker = ByteChunker(size)
    out = [chunk for piece in pieces for chunk in chunker.decode(piece)] + chunker.flush()
    assert b"".join(out) == b"".join(pieces)
    assert all(len(chunk) == size for chunk in out[:-1])
    assert all(0 < len(chunk) <= size for chunk in out)


@given(
    pieces=st.lists(st.text(max_size=20), max_size=10),
    size=st.integers(1, 9),
)
def test_text_chunker_property(pieces: list[str], size: int) -> None:
    chunker = TextChunker(size)
    out = [chunk for piece in pieces for chunk in chunker.decode(piece)] + chunker.flush()
    assert "".join(out) == "".join(pieces)
    assert all(len(chunk) == size for chunk in out[:-1])
    assert all(0 < len(chunk) <= size for chunk in out)
