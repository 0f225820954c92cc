"""The README's "Embedding the core" loop runs as written, against a loopback server."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import socket

import pytest

import sansio
from tests.servers import Server, default_app, http_handler

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _snippet() -> str:
    text = README.read_text()
    section = text.split("## Embedding the core", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_embedding_loop_of_the_readme_runs() -> None:
    with Server(http_handler(default_app)) as server:
        code = _snippet().replace("http://example.org/", server.url("/"))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), {})
    assert printed.getvalue() == "b'Hello, world!'\n"


def test_the_readme_loop_maps_a_refused_connection_to_connect_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = _snippet().replace("http://example.org/", f"http://127.0.0.1:{port}/")
    with pytest.raises(sansio.ConnectError):
        exec(compile(code, "README.md", "exec"), {})
