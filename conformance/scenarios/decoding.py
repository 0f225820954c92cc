"""Content-Encoding: gzip, deflate, br, zstd, chains, corruption and the size cap.

Each encoding runs whole and split every seven bytes, with Content-Length and with
chunked framing, read in full and streamed; raw reads give the encoded bytes.
"""

from __future__ import annotations

import gzip
import zlib

import brotli
import zstandard

from conformance.model import Call, Expect, Peer, Recv, Result, Scenario, Send, Settings

from ._kit import SPLITS, chunked, response, serve

TEXT = b"The quick brown fox jumps over the lazy dog. " * 40


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODERS = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,  # RFC 9110: the zlib format
    "deflate-raw": _deflate_raw,  # what some servers send as "deflate"
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _encoded(data: bytes, encodings: list[str]) -> bytes:
    for name in encodings:
        data = ENCODERS[name](data)
    return data


def _one(
    name: str,
    header: str,
    body: bytes,
    result: Result,
    *,
    framing: str = "length",
    split: str = "whole",
    read: str = "read",
    settings: Settings | None = None,
    doc: str = "",
) -> Scenario:
    if framing == "chunked":
        half = len(body) // 2
        data = response(
            200,
            chunked(body[:half], body[half:]),
            [("Content-Encoding", header), ("Transfer-Encoding", "chunked")],
        )
    else:
        data = response(200, body, [("Content-Encoding", header)])
    script = (Recv(), Send(data, SPLITS[split](data)))
    return Scenario(
        name=f"decoding/{name}",
        doc=doc,
        settings=settings or Settings(),
        calls=(Call(read=read),),  # type: ignore[arg-type]
        peers=(Peer(connections=(script,)),),
        expect=Expect(results=(result,), connections=(1,)),
    )


def _family(label: str, header: str, encodings: list[str]) -> list[Scenario]:
    body = _encoded(TEXT, encodings)
    out = [
        _one(
            f"{label}/{framing}/{split}",
            header,
            body,
            Result(body=TEXT),
            framing=framing,
            split=split,
        )
        for framing in ("length", "chunked")
        for split in ("whole", "sevens")
    ]
    out.append(
        _one(f"{label}/stream", header, body, Result(body=TEXT), read="stream", split="sevens")
    )
    out.append(_one(f"{label}/raw", header, body, Result(body=body), read="raw"))
    out.append(_one(f"{label}/peek", header, body, Result(body=TEXT[:5]), read="peek"))
    return out


GZIP = _encoded(TEXT, ["gzip"])
PLAIN = response(200, TEXT)
BROTLI = _encoded(TEXT, ["br"])
ZSTD = _encoded(TEXT, ["zstd"])
DECODING_ERROR = Result(status=None, error="DecodingError")

SCENARIOS: list[Scenario] = [
    *_family("gzip", "gzip", ["gzip"]),
    *_family("deflate", "deflate", ["deflate"]),
    *_family("deflate-raw", "deflate", ["deflate-raw"]),
    *_family("br", "br", ["br"]),
    *_family("zstd", "zstd", ["zstd"]),
    *_family("gzip-then-br", "gzip, br", ["gzip", "br"]),
    _one("x-gzip", "x-gzip", GZIP, Result(body=TEXT)),
    _one("upper-case", "GZIP", GZIP, Result(body=TEXT)),
    _one("identity", "identity", TEXT, Result(body=TEXT)),
    _one("gzip-identity-chain", "identity, gzip", GZIP, Result(body=TEXT)),
    _one("zstd-then-gzip", "zstd, gzip", _encoded(TEXT, ["zstd", "gzip"]), Result(body=TEXT)),
    _one(
        "unknown-encoding",
        "compress",
        b"opaque bytes",
        Result(body=b"opaque bytes"),
        doc="An unknown coding is passed through as is (httpx does the same).",
    ),
    _one("gzip-truncated", "gzip", GZIP[:-10], DECODING_ERROR),
    _one(
        "gzip-truncated/stream",
        "gzip",
        GZIP[:-10],
        Result(status=200, body=None, error="DecodingError"),
        read="stream",
    ),
    _one("gzip-corrupt", "gzip", b"\x1f\x8b" + b"not gzip at all", DECODING_ERROR),
    _one("deflate-corrupt", "deflate", b"\x00\x01\x02 not deflate", DECODING_ERROR),
    _one("br-truncated", "br", BROTLI[:-5], DECODING_ERROR),
    _one("br-corrupt", "br", b"definitely not brotli", DECODING_ERROR),
    _one("zstd-truncated", "zstd", ZSTD[:-5], DECODING_ERROR),
    _one("zstd-corrupt", "zstd", b"\x28\xb5\x2f\xfd garbage", DECODING_ERROR),
    _one(
        "gzip-trailing-garbage",
        "gzip",
        GZIP + b"junk",
        DECODING_ERROR,
        doc="Bytes after the gzip member that are not another member.",
    ),
    _one(
        "gzip-two-members",
        "gzip",
        GZIP + GZIP,
        Result(body=TEXT + TEXT),
        doc="Concatenated gzip members decode to the concatenation (RFC 1952 §2.2).",
    ),
    _one(
        "too-many-codings",
        "gzip, gzip, gzip, gzip, gzip, gzip",
        _encoded(TEXT, ["gzip"] * 6),
        DECODING_ERROR,
        doc="More than five chained codings are refused (urllib3 2.6, CVE-2025-66418).",
    ),
    _one(
        "five-codings",
        "gzip, gzip, gzip, gzip, gzip",
        _encoded(TEXT, ["gzip"] * 5),
        Result(body=TEXT),
    ),
    _one(
        "decoded-size-at-limit",
        "gzip",
        GZIP,
        Result(body=TEXT),
        settings=Settings(max_decoded_size=len(TEXT)),
    ),
    _one(
        "decoded-size-over-limit",
        "gzip",
        GZIP,
        Result(status=None, error="DecompressionLimitExceeded"),
        settings=Settings(max_decoded_size=len(TEXT) - 1),
    ),
    _one(
        "identity-size-at-limit",
        "identity",
        TEXT,
        Result(body=TEXT),
        split="sevens",
        settings=Settings(max_decoded_size=len(TEXT)),
    ),
    _one(
        "identity-size-over-limit",
        "identity",
        TEXT,
        Result(status=None, error="DecompressionLimitExceeded"),
        split="sevens",
        settings=Settings(max_decoded_size=len(TEXT) - 1),
        doc="max_decoded_size bounds a read body that is not content-encoded too.",
    ),
    Scenario(
        name="decoding/plain-size-over-limit",
        doc="A body without Content-Encoding read into memory stops at max_decoded_size.",
        settings=Settings(max_decoded_size=len(TEXT) - 1),
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Send(PLAIN, SPLITS["sevens"](PLAIN))),)),),
        expect=Expect(
            results=(Result(status=None, error="DecompressionLimitExceeded"),), connections=(1,)
        ),
    ),
    _one(
        "raw-never-decoded",
        "gzip",
        b"not gzip, never decoded",
        Result(body=b"not gzip, never decoded"),
        read="raw",
    ),
    Scenario(
        name="decoding/redirect-body-not-decoded",
        doc="A redirect's body is thrown away without decoding: corrupt gzip is harmless.",
        settings=Settings(follow_redirects=True),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    serve(
                        response(
                            302,
                            b"\x1f\x8bcorrupt",
                            [("Location", "/next"), ("Content-Encoding", "gzip")],
                        ),
                        response(200, GZIP, [("Content-Encoding", "gzip")]),
                    ),
                )
            ),
        ),
        expect=Expect(results=(Result(body=TEXT, history=(302,)),), connections=(1,)),
    ),
    Scenario(
        name="decoding/head-with-encoding",
        doc="A HEAD response names a coding but has no body: nothing to decode.",
        calls=(Call(method="HEAD"),),
        peers=(
            Peer(
                connections=(
                    serve(
                        response(200, b"", [("Content-Encoding", "gzip"), ("Content-Length", "99")])
                    ),
                )
            ),
        ),
        expect=Expect(results=(Result(body=b""),)),
    ),
    Scenario(
        name="decoding/empty-gzip-body",
        doc="An empty body with a coding decodes to nothing (as httpx).",
        calls=(Call(),),
        peers=(Peer(connections=(serve(response(200, b"", [("Content-Encoding", "gzip")])),)),),
        expect=Expect(results=(Result(body=b""),)),
    ),
]
