"""Run programs and libraries written for httpx on conch, without changing their imports.

`alias_httpx()` makes ``import httpx`` (and ``import httpx2``, the name httpx's maintained
fork is imported under) give the `conch` module itself, and ``import httpx._client``,
``httpx._transports.default`` and every other ``httpx.<sub>`` give ``conch.<sub>``: the
same module object, so what a library patches there (``Client._transport_for_url``, a
transport's ``handle_request``) is patched for everyone.

Rules:

- It must run before anything imports the real httpx: if a different ``httpx`` module is
  already loaded, `alias_httpx` raises `RuntimeError` rather than leave two libraries
  side by side (objects of one would fail ``isinstance`` checks of the other).
- It is idempotent, and it never imports httpx.
- A submodule conch does not have fails to import as it would in httpx
  (``ModuleNotFoundError``), naming the conch module it looked for.
- What a program sees is httpx's: its logger names (httpcore's for connection events),
  its User-Agent, and its exceptions' names in tracebacks (``httpx.ConnectError``: the
  classes' ``__module__`` becomes the first alias name).

Three ways to turn it on (see the README): call ``conch.alias_httpx()`` first thing;
``import conch.httpx_alias`` (in a ``sitecustomize.py``, say); or, for a test suite,
``pytest -p conch.httpx_alias``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterable, Sequence
from types import ModuleType

from sansio import client as client_module
from sansio import exceptions as exceptions_module
from sansio.engine import trace as trace_module

__all__ = ["ALIASES", "alias_httpx"]

ALIASES = ("httpx", "httpx2")
"""The module names `alias_httpx` points at conch by default."""


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``<alias>.<sub>`` as the already imported (or importable) ``conch.<sub>``."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        alias, dot, sub = fullname.partition(".")
        if not dot or alias not in self.names:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=f"conch.{sub}")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The conch module itself, not a copy: its __name__ stays "conch.<sub>".
        return importlib.import_module(f"conch.{spec.name.partition('.')[2]}")

    def exec_module(self, module: ModuleType) -> None:
        return None  # already executed as conch.<sub>


def _import_decoders() -> None:
    # httpx imports its optional decoders when it is imported, and test suites of
    # libraries built on httpx look in sys.modules for them ("is br advertised?");
    # conch loads them on first use, so under the alias they are loaded now.
    for module in ("brotli", "zstandard"):
        try:
            importlib.import_module(module)
        except ImportError:
            if module == "brotli":
                with contextlib.suppress(ImportError):
                    importlib.import_module("brotlicffi")


def alias_httpx(names: Iterable[str] = ALIASES) -> None:
    """Make ``import <name>`` and ``import <name>.<sub>`` give conch, for each name."""
    conch = sys.modules["conch"]
    names = tuple(names)
    for name in names:
        loaded = sys.modules.get(name)
        if loaded is not None and loaded is not conch:
            raise RuntimeError(
                f"{name!r} was imported before conch.alias_httpx() ran "
                f"({getattr(loaded, '__file__', loaded)!r}): call it first thing "
                "(sitecustomize, or `pytest -p conch.httpx_alias`)."
            )
    for finder in sys.meta_path:
        if isinstance(finder, _AliasFinder):
            finder.names |= frozenset(names)
            break
    else:
        sys.meta_path.insert(0, _AliasFinder(names))
    _import_decoders()
    client_module.LOGGER_NAME = "httpx"  # logging configured for httpx applies
    trace_module.LOGGER_PREFIX = "httpcore"  # and for httpcore's connection events
    # httpx's own rule, f"python-httpx/{httpx.__version__}", where httpx is now conch.
    client_module.USER_AGENT = f"python-httpx/{conch.__version__}"
    # A traceback names an exception by its class's module. The program raised and caught
    # httpx.X, and what reads the text (pytest's output matchers, log parsers, error
    # trackers grouping by type) expects that name, not conch's.
    if names:
        for exc_name in exceptions_module.__all__:
            exc = getattr(exceptions_module, exc_name)
            if isinstance(exc, type) and exc.__module__ == "conch":
                exc.__module__ = names[0]
    for name in names:
        sys.modules[name] = conch
        # Submodules already imported answer at once, and as attributes of the alias.
        for loaded_name, module in list(sys.modules.items()):
            if loaded_name.startswith("conch._"):
                sys.modules.setdefault(f"{name}.{loaded_name[6:]}", module)
