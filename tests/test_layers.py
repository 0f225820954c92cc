"""`sansio` is built in layers, and imports only go down (or sideways, within a layer).

    base    exceptions, env, status, _version, _types, _typing_lite, _frozen, _logcache,
            streams, transports, deadline
    model   urls, headers, config, cookies, decoders, multipart, content, models, tls,
            mounts, sse
    wire    wire, h1, h1_heads, h2, socks, ws: the connection machines
    engine  pool, exchange (the planner), proxy, retry, happy_eyeballs, engine/*: one
            request on the machines
    flow    actions, flow, auth, redirects, client: one send(), auth and redirects
    top     sansio (the package's namespace), testing

A module may import (at run time; imports for the type checker only do not count) from
its own layer and the layers below, never from above: the pool knows nothing of
requests, the wire machines nothing of the pool, the models nothing of either. Every
module must have a layer here, so a new one is placed on purpose.

Above `sansio`, the packages are layered too: ``sansio < io_common < sync_io, async_io <
conch``. `io_common` holds what both shells share on the I/O side (TLS contexts, local
files, record/replay files, the real world), so neither shell imports the other, not even
for the type checker; nothing below `conch` imports it.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SANSIO = ROOT / "sansio"

LAYERS = ["base", "model", "wire", "engine", "flow", "top"]
LAYER_OF = {
    **dict.fromkeys(
        [
            "exceptions",
            "env",
            "status",
            "_version",
            "_types",
            "_typing_lite",
            "_frozen",
            "_logcache",
            "streams",
            "transports",
            "deadline",
        ],
        "base",
    ),
    **dict.fromkeys(
        [
            "urls",
            "headers",
            "config",
            "cookies",
            "decoders",
            "multipart",
            "content",
            "models",
            "tls",
            "mounts",
            "sse",
        ],
        "model",
    ),
    **dict.fromkeys(["wire", "h1", "h1_heads", "h2", "socks", "ws"], "wire"),
    **dict.fromkeys(
        [
            "pool",
            "exchange",
            "proxy",
            "retry",
            "replay",
            "happy_eyeballs",
            "engine",
            "engine.actions",
            "engine.conn",
            "engine.engine",
            "engine.exchange",
            "engine.trace",
            "engine.mux",
            "engine.drive",
            "engine.poolview",
        ],
        "engine",
    ),
    **dict.fromkeys(["actions", "flow", "auth", "redirects", "client"], "flow"),
    **dict.fromkeys(["", "testing"], "top"),
}


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(SANSIO.rglob("*.py")):
        parts = path.relative_to(SANSIO).with_suffix("").parts
        name = ".".join(parts).removesuffix("__init__").rstrip(".")
        found[name] = path
    return found


def _imports(name: str, path: pathlib.Path, type_checking: bool = False) -> set[str]:
    """The sansio modules ``name`` imports at run time (names relative to sansio), and
    for the type checker too if ``type_checking``."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if not type_checking
        and isinstance(branch, ast.If)
        and "TYPE_CHECKING" in ast.unparse(branch.test)
        for stmt in branch.body
        for node in ast.walk(stmt)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "sansio":
                module = node.module.removeprefix("sansio").lstrip(".")
            else:
                continue
            # "from . import env" imports modules; "from .x import y" the module x.
            submodules = [f"{module}.{a.name}".lstrip(".") for a in node.names]
            submodules = [m for m in submodules if m in LAYER_OF]
            if submodules:
                found.update(submodules)
            else:
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("sansio").lstrip(".")
                for a in node.names
                if a.name.split(".")[0] == "sansio"
            )
    found.discard(name)
    return found


def test_every_module_has_a_layer() -> None:
    assert set(_modules()) == set(LAYER_OF)


@pytest.mark.parametrize("name", sorted(set(_modules()) & set(LAYER_OF)))
def test_imports_only_go_down(name: str) -> None:
    rank = LAYERS.index(LAYER_OF[name])
    upward = sorted(
        f"{name or 'sansio'} ({LAYER_OF[name]}) imports {other} ({LAYER_OF[other]})"
        for other in _imports(name, _modules()[name])
        if LAYERS.index(LAYER_OF.get(other, "top")) > rank
    )
    assert not upward, "\n".join(upward)


# Imports for the type checker only may go up here alone: an exception and a transport
# name the `Request` they carry (a cycle the type checker resolves; httpx has it too).
TYPE_CHECKING_UP = {("exceptions", "models"), ("transports", "models")}


def test_imports_for_the_type_checker_go_up_only_where_listed() -> None:
    # No typing-only cycle through `_types`: each alias naming a class lives beside it.
    modules = _modules()
    upward = {
        (name, other)
        for name, path in modules.items()
        for other in _imports(name, path, type_checking=True)
        if LAYERS.index(LAYER_OF.get(other, "top")) > LAYERS.index(LAYER_OF[name])
    }
    assert upward == TYPE_CHECKING_UP


def test_the_check_sees_an_upward_import(tmp_path: pathlib.Path) -> None:
    probe = tmp_path / "pool.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\nfrom .flow import send_flow\nfrom . import env\n"
        "if TYPE_CHECKING:\n    from .client import BaseClient\n"
    )
    assert _imports("pool", probe) == {"flow", "env"}
    assert _imports("pool", probe, type_checking=True) == {"flow", "env", "client"}


# -- the packages above sansio ---------------------------------------------------------------

PACKAGES = ["sansio", "io_common", "sync_io", "async_io", "conch"]
# What each package may import (besides itself and third-party or standard modules).
MAY_IMPORT = {
    "sansio": set(),
    "io_common": {"sansio"},
    "sync_io": {"sansio", "io_common"},
    "async_io": {"sansio", "io_common"},
    "conch": {"sansio", "io_common", "sync_io", "async_io"},
}


def _package_imports(source: str) -> set[str]:
    """The first-party packages ``source`` imports, anywhere (typing-only imports too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_what_is_below_them(package: str) -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)} imports {other}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for other in _package_imports(path.read_text()) - MAY_IMPORT[package] - {package}
    )
    assert not wrong, "\n".join(wrong)


def test_the_package_check_sees_a_shell_importing_the_other() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sync_io.tls\n"
    assert _package_imports(source) - MAY_IMPORT["async_io"] == {"sync_io"}
