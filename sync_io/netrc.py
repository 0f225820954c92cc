"""`NetRCAuth` that reads its file: the shell's half of `sansio.auth.NetRCAuth`."""

from __future__ import annotations

import os

from sansio.auth import NetRCAuth as _CoreNetRCAuth

__all__ = ["NetRCAuth"]


class NetRCAuth(_CoreNetRCAuth):
    """Basic credentials by host from a netrc file, as `httpx.NetRCAuth`.

    ``file`` defaults to ``$NETRC``, then ``~/.netrc``. The file is read once, here;
    a missing file raises FileNotFoundError, as in httpx.
    """

    def __init__(self, file: str | None = None) -> None:
        path = file or os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        super().__init__(path, text=text)
