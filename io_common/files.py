"""Local-file helpers shared by the ``file://`` transports of both shells.

Blocking OS calls on regular files (opened non-blocking, read in bounded chunks), so
the two file transports keep one copy of the rules for paths, status codes and headers.
"""

from __future__ import annotations

import errno
import io
import os
import stat

from sansio.exceptions import ConnectError, ReadError, UnsupportedProtocol
from sansio.headers import Headers
from sansio.models import Request

__all__ = [
    "FILE_CHUNK_SIZE",
    "FILE_METHODS",
    "check_chunk_size",
    "file_headers",
    "file_path",
    "open_file",
    "read_chunk",
    "short_file_error",
]

# Bytes read from a file per chunk of the response body: 64 KiB, like httpx's and
# urllib3's network reads and sansio.models.DECODE_PIECE_SIZE. One read syscall of
# this size from the page cache takes a few microseconds; memory stays bounded
# whatever the file's size. Per transport: (Async)FileTransport(chunk_size=...).
FILE_CHUNK_SIZE = 64 * 1024

# O_NONBLOCK so that opening a FIFO returns at once (it is then refused as not a
# regular file) instead of waiting for a writer; reads of regular files ignore it.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
# Open errors that mean "there is no file at this path".
_NOT_FOUND = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG})
FILE_METHODS = frozenset({"GET", "HEAD"})


def file_path(request: Request) -> str:
    """The local path a ``file://`` request names; `UnsupportedProtocol` for any other URL."""
    url = request.url
    if url.scheme != "file":
        raise UnsupportedProtocol(
            f"FileTransport serves file:// URLs only, not {url.scheme}://.", request=request
        )
    if url.host not in ("", "localhost") or url.port is not None:
        raise UnsupportedProtocol(
            "A file:// URL must name no host or 'localhost': conch reads local files only, "
            f"not files on {url.netloc.decode('ascii')!r}.",
            request=request,
        )
    raw = url.raw_path.partition(b"?")[0]
    if not raw.startswith(b"/"):
        raise UnsupportedProtocol("A file:// URL needs an absolute path.", request=request)
    # Imported here: urllib.parse (and its ipaddress) cost ~2 ms of `import conch`.
    from urllib.parse import unquote_to_bytes

    path = os.fsdecode(unquote_to_bytes(raw))
    if os.name == "nt" and path[2:3] == ":":  # pragma: no cover (Windows: /C:/x is C:/x)
        path = path[1:]
    return path


def open_file(path: str) -> tuple[int, io.FileIO | None, int]:
    """``(status, file, size)``: 200 with the open file and its size, else 403 or 404.

    Only regular files are served; directories and special files (FIFOs, devices,
    sockets) are 404, "no file here". Failures that say nothing about the path
    (out of file descriptors, I/O errors) raise `ConnectError`.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except ValueError:  # an embedded NUL: no such file can exist
        return 404, None, 0
    except PermissionError:
        # Windows refuses to open a directory with EACCES.
        return (404 if os.path.isdir(path) else 403), None, 0
    except OSError as exc:
        if exc.errno in _NOT_FOUND:
            return 404, None, 0
        raise ConnectError(f"Cannot open {path!r}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return 404, None, 0
        return 200, io.FileIO(fd, "r"), info.st_size
    except BaseException:
        os.close(fd)
        raise


# A compressed file is served as what it is, never with a Content-Encoding (which would
# make the client inflate a .gz the user asked for), as Python's http.server does.
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


def content_type(name: str) -> str:
    """The Content-Type for a file name, from the system's MIME tables (`mimetypes`)."""
    import mimetypes  # reads the system's tables when first asked, not at import

    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def file_headers(path: str, size: int) -> Headers:
    """Content-Type guessed from the file name, and Content-Length when the size is known."""
    headers = [(b"Content-Type", content_type(os.path.basename(path)).encode("latin-1"))]
    if size:
        # Files that report size 0 may still have content (/proc, /sys): no length.
        headers.append((b"Content-Length", str(size).encode("ascii")))
    return Headers(headers)


def read_chunk(file: io.FileIO, size: int) -> bytes:
    """Up to ``size`` bytes of ``file``, with OS errors mapped to `ReadError`."""
    try:
        data = file.read(size)
    except OSError as exc:
        raise ReadError(f"Cannot read {file.name!r}: {exc.strerror}") from exc
    assert data is not None  # a regular file is never "would block"
    return data


def short_file_error(remaining: int) -> ReadError:
    return ReadError(f"The file ended {remaining} bytes early (it shrank while being read).")


def check_chunk_size(chunk_size: int) -> int:
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, not {chunk_size!r}.")
    return chunk_size
