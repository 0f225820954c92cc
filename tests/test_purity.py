"""The one rule: `sansio` touches nothing outside itself.

Two checks: an AST scan of every module for forbidden imports and calls, and a
fresh interpreter that imports every `sansio` module and reports which I/O
modules got loaded along the way (catching indirect imports the scan misses).
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SANSIO = ROOT / "sansio"

FORBIDDEN_IMPORTS = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "trio",
    "anyio",
    "sniffio",
    "threading",
    "time",
    "random",
    "secrets",
    "http.client",
    "http.cookiejar",
    "urllib.request",
    "email",
    "mimetypes",
    "subprocess",
    "multiprocessing",
    "concurrent",
    "io_common",
    "sync_io",
    "async_io",
    "conch",
}

# Attribute calls that read the world: the environment, entropy, files, the clock.
FORBIDDEN_ATTRIBUTES = {
    ("os", "environ"),
    ("os", "getenv"),
    ("os", "urandom"),
    ("os", "getrandom"),
    ("os", "listdir"),
    ("os", "stat"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("Path", "read_text"),
    ("Path", "read_bytes"),
    ("Path", "open"),
}
FORBIDDEN_NAMES = {"open", "input", "getenv", "urandom"}

IO_MODULES = ["socket", "ssl", "select", "selectors", "asyncio", "trio", "anyio", "sniffio"]


def _modules() -> list[pathlib.Path]:
    return sorted(SANSIO.rglob("*.py"))


def _is_forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def _violations(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    # Imports needed only by the type checker never run.
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: list[str] = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _is_forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_forbidden(node.module):
                found.append(f"from {node.module} import ...")
                continue
            found += [
                f"from {node.module} import {a.name}"
                for a in node.names
                if _is_forbidden(f"{node.module}.{a.name}")
                or (node.module, a.name) in FORBIDDEN_ATTRIBUTES
            ]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in {"read_text", "read_bytes"}:
            found.append(f".{node.attr}()")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(node.id)
    return [f"{path.name}: {v}" for v in found]


def test_there_are_modules_to_check() -> None:
    assert len(_modules()) > 5


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_module_has_no_io(path: pathlib.Path) -> None:
    assert _violations(path) == []


def test_scanner_catches_violations(tmp_path: pathlib.Path) -> None:
    # The scan itself must be able to fail.
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import socket\nfrom time import monotonic\nimport os\n"
        "x = os.environ\ny = open('f')\nfrom http import cookiejar\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ssl\n"
    )
    assert sorted(_violations(bad)) == [
        "probe.py: from http import cookiejar",
        "probe.py: from time import ...",
        "probe.py: import socket",
        "probe.py: open",
        "probe.py: os.environ",
    ]


def test_importing_sansio_loads_no_io_module() -> None:
    names = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in _modules()
    )
    # Only what importing sansio adds counts: site hooks may load things first.
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"before = {{m for m in {IO_MODULES!r} if m in sys.modules}}\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"after = {{m for m in {IO_MODULES!r} if m in sys.modules}}\n"
        "print(json.dumps(sorted(after - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


# -- the shells stay thin: they move bytes and never speak HTTP themselves ------------------

SHELLS = sorted((ROOT / "sync_io").rglob("*.py")) + sorted((ROOT / "async_io").rglob("*.py"))
PROTOCOL_LIBRARIES = {"h11", "h2", "hpack", "hyperframe", "httptools"}


def _speaks_http(source: str) -> list[str]:
    """Imports of protocol libraries and HTTP byte literals in `source`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            names = []
        found += [f"imports {n}" for n in names if n.split(".")[0] in PROTOCOL_LIBRARIES]
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, bytes) and b"\r\n" in value:
            found.append(f"HTTP bytes literal {value[:20]!r}")
    return found


@pytest.mark.parametrize("path", SHELLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shell_speaks_no_http(path: pathlib.Path) -> None:
    assert _speaks_http(path.read_text()) == []


def test_shell_scanner_catches_violations() -> None:
    source = 'import h11\nfrom h2.connection import H2Connection\nX = b"GET / HTTP/1.1\\r\\n"\n'
    assert _speaks_http(source) == [
        "imports h11",
        "imports h2.connection",
        "HTTP bytes literal b'GET / HTTP/1.1\\r\\n'",
    ]
