"""Small builders shared by the scenario modules: response bytes, scripts, split patterns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from conformance.model import Close, Recv, Script, Send, Step

__all__ = [
    "SPLITS",
    "chunked",
    "exchange",
    "head_end",
    "response",
    "serve",
    "split_names",
]


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    reason: str = "OK",
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """Response bytes; a Content-Length for `body` is added unless ``length=False``
    or the headers already frame the body."""
    lines = [f"{version} {status} {reason}".rstrip(" ") if reason else f"{version} {status} "]
    names = {name.lower() for name, _ in headers}
    if length and not names & {"content-length", "transfer-encoding"}:
        headers = [*headers, ("Content-Length", str(len(body)))]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*chunks: bytes, trailers: Sequence[tuple[str, str]] = (), ext: str = "") -> bytes:
    """A chunked body: each chunk framed, the last-chunk, optional trailers."""
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c) for c in chunks if c)
    out += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
    return out


def exchange(data: bytes, cuts: tuple[int, ...] = ()) -> tuple[Step, ...]:
    """Read one request, answer with `data`."""
    return (Recv(), Send(data, cuts))


def serve(*answers: bytes, close: bool = False) -> Script:
    """One connection answering each request in turn, then (optionally) closing."""
    steps: list[Step] = []
    for data in answers:
        steps += exchange(data)
    if close:
        steps.append(Close())
    return tuple(steps)


def head_end(data: bytes) -> int:
    return data.index(b"\r\n\r\n") + 4


def _bytewise(data: bytes) -> tuple[int, ...]:
    return tuple(range(1, len(data)))


def _head_body(data: bytes) -> tuple[int, ...]:
    # Around the blank line: inside the final CRLF pair and right after it.
    end = head_end(data)
    return tuple(cut for cut in (end - 3, end - 1, end) if 0 < cut < len(data))


def _crlf(data: bytes) -> tuple[int, ...]:
    # Between every CR and its LF.
    return tuple(i + 1 for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n")


def _sevens(data: bytes) -> tuple[int, ...]:
    return tuple(range(7, len(data), 7))


def _kilo(data: bytes) -> tuple[int, ...]:
    # For large heads: many reads, at offsets that fall anywhere in a line.
    return tuple(range(1000, len(data), 1000))


# Split patterns: name -> the cut offsets for a byte string.
SPLITS: dict[str, Callable[[bytes], tuple[int, ...]]] = {
    "whole": lambda data: (),
    "bytewise": _bytewise,
    "head_body": _head_body,
    "crlf": _crlf,
    "sevens": _sevens,
    "kilo": _kilo,
}


def split_names(data: bytes, names: Iterable[str] | None = None) -> list[str]:
    """The split patterns worth running for `data` (bytewise only for short data)."""
    chosen = list(names) if names is not None else [name for name in SPLITS if name != "kilo"]
    return [name for name in chosen if name != "bytewise" or len(data) <= 400]
