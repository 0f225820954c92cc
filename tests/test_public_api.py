"""conch's public surface matches httpx 0.28's, so ``import conch as httpx`` works.

httpx itself is the reference for names and signatures (it is a test dependency; conch's
code never imports it).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import sysconfig
from collections.abc import Collection
from pathlib import Path
from typing import Any

import httpx
import pytest

import conch

from .servers import Server, default_app, http_handler

HTTPX_ALL = set(httpx.__all__)
ROOT = Path(__file__).resolve().parent.parent

# Parameters conch accepts beyond httpx's: all keyword-only with defaults.
EXTRAS = {
    "allow_redirects",
    "env",
    "happy_eyeballs_delay",
    "max_connections_per_host",
    "max_decoded_size",
    "max_header_bytes",
    "max_header_count",
    "max_line_length",
    "now",
    "proxies",
    "random_bytes",
    "record",
    "replay",
    "retries",
    "text",
    "total",
}


def test_all_covers_httpx() -> None:
    assert HTTPX_ALL - set(conch.__all__) == set()
    assert "FunctionAuth" in conch.__all__


def test_every_name_in_all_exists() -> None:
    for name in conch.__all__:
        assert hasattr(conch, name), name


@pytest.mark.parametrize("name", sorted(n for n in conch.__all__ if not n.startswith("__")))
def test_public_objects_report_conch_module(name: str) -> None:
    obj = getattr(conch, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__ == "conch"


def _callables() -> list[tuple[str, Any, Any]]:
    pairs: list[tuple[str, Any, Any]] = []
    for name in sorted(HTTPX_ALL):
        ours, theirs = getattr(conch, name), getattr(httpx, name)
        if inspect.isfunction(theirs):
            pairs.append((name, ours, theirs))
        elif inspect.isclass(theirs):
            if "__init__" in vars(theirs) and theirs.__init__ is not object.__init__:
                pairs.append((f"{name}.__init__", ours.__init__, theirs.__init__))
            for attr, value in vars(theirs).items():
                if attr.startswith("_") or not inspect.isfunction(value):
                    continue
                pairs.append((f"{name}.{attr}", getattr(ours, attr, None), value))
    return pairs


def _params(fn: Any, theirs: Collection[str] = ()) -> list[tuple[str, Any]]:
    """The parameters compared with httpx's: ours that httpx lacks left out (an extra
    such as ``retries`` counts where httpx has it, on its transports)."""
    sig = inspect.signature(fn)
    return [
        (p.name, p.kind)
        for p in sig.parameters.values()
        if p.name not in EXTRAS or p.name in theirs
    ]


@pytest.mark.parametrize(
    ("name", "ours", "theirs"), _callables(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_signatures_match_httpx(name: str, ours: Any, theirs: Any) -> None:
    assert ours is not None, f"conch lacks {name}"
    if inspect.signature(theirs).parameters.keys() == {"self", "args", "kwargs"}:
        return
    known = inspect.signature(theirs).parameters.keys()
    assert _params(ours, known) == _params(theirs, known), name
    extras = [
        p
        for p in inspect.signature(ours).parameters.values()
        if p.name in EXTRAS and p.name not in known
    ]
    for p in extras:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert p.default is not p.empty, name


def test_types_module_has_the_usual_aliases() -> None:
    from conch import _types

    for alias in ("URLTypes", "HeaderTypes", "QueryParamTypes", "CookieTypes", "TimeoutTypes",
                  "AuthTypes", "RequestContent", "RequestFiles", "ProxyTypes"):  # fmt: skip
        assert hasattr(_types, alias), alias


# What `import conch` must not load: each is loaded when first used. A plain sync request
# needs the core and the blocking shell (socket, ssl, select); the rest waits: httptools
# (the first response head; it loads typing, which the core's modules replace with
# `sansio._typing_lite`), threading (its locks are `_thread`'s; an event is made only for
# a request that waits for a connection), the async shell and its event loops, HTTP/2, JSON, the CA
# bundle (certifi, on the first verified TLS connection), datetime (read
# `response.elapsed`), logging (only if the program imports it), SSE, the httpx alias,
# the CLI and `codes` (a response without a reason phrase on the wire). The core's values
# are `sansio._frozen.Frozen` classes: `dataclasses` would load inspect, ast, dis and
# tokenize.
NOT_LOADED_BY_IMPORT = [
    "typing",
    "httptools",
    "threading",
    "dataclasses",
    "inspect",
    "email",
    "http.client",
    "urllib.request",
    "logging",
    "asyncio",
    "trio",
    "sniffio",
    "async_io",
    "h2",
    "hpack",
    "hyperframe",
    "json",
    "certifi",
    "importlib.resources",
    "tempfile",
    "datetime",
    "brotli",
    "brotlicffi",
    "zstandard",
    "sansio.sse",
    "sync_io.sse",
    "conch._alias",
    "conch._cli",
    "click",
    "rich",
    "pygments",
    "h11",
    "hashlib",
    "sansio.retry",
    "wsproto",
    "sansio.ws",
    "sansio.status",
    "sync_io.transports",
    "sync_io._files",
    "zlib",
    "sansio._types",
    "sansio.engine.mux",
    "sansio.socks",
    "sansio.multipart",
]


def _loaded_by(code: str, modules: list[str]) -> list[str]:
    script = f"import sys; {code}; print(repr([m for m in {modules!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout.strip()))


def test_import_is_light() -> None:
    # Import time is a feature: conch keeps what a plain sync request does not need off
    # the import path.
    assert _loaded_by("import conch", NOT_LOADED_BY_IMPORT) == []


def test_a_request_loads_no_logging_until_the_program_does() -> None:
    # No logger takes DEBUG records before logging is imported, so a request does not load
    # it (~7 ms); a logger configured later gets the next request's records.
    with Server(http_handler(default_app)) as server:
        script = (
            "import sys, conch\n"
            f"conch.get({server.url()!r})\n"
            "print('logging' in sys.modules, flush=True)\n"
            "import logging\n"
            "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\n"
            f"conch.get({server.url()!r})\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
        )
    first, *logged = out.stdout.splitlines()
    assert first == "False"
    assert "DEBUG:conch.http11:send_request_headers.started request=" in "\n".join(logged)


# Module-level work a plain request does not need, done on first use instead: cached
# builders that `import conch` must leave unbuilt (the chunk-extension pattern alone
# takes ~0.4 ms to compile, the percent-escape tables ~0.4 ms to build).
NOT_BUILT_BY_IMPORT = [
    "sansio.h1._extensions",
    "sansio.h1_heads._field_value",
    "sansio.urls._escapes",
    "sansio.urls._form_escapes",
    "sansio.decoders._codec_modules",
    "sansio.decoders._zlib",
]


def test_import_builds_no_rare_tables() -> None:
    script = (
        "import importlib, conch; built = []\n"
        f"for name in {NOT_BUILT_BY_IMPORT!r}:\n"
        "    module, _, attr = name.rpartition('.')\n"
        "    if getattr(importlib.import_module(module), attr).cache_info().currsize:\n"
        "        built.append(name)\n"
        "print(repr(built))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout.strip()) == []


def test_import_builds_no_typing_named_tuple() -> None:
    # typing.NamedTuple compiles every field's annotation (a string under `from __future__
    # import annotations`) into a ForwardRef: ~0.4 ms a class. The core's tuple classes
    # use `sansio._frozen.NamedTuple`, which keeps the strings.
    script = (
        "import sys, typing, conch\n"
        "print(repr(sorted(f'{cls.__module__}.{cls.__qualname__}'"
        " for module in list(sys.modules.values())"
        " if module.__name__.split('.')[0] in {'sansio', 'sync_io', 'conch'}"
        " for cls in vars(module).values()"
        " if isinstance(cls, type) and issubclass(cls, tuple)"
        " and any(isinstance(a, typing.ForwardRef)"
        " for a in vars(cls).get('__annotations__', {}).values()))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout.strip()) == []


def test_import_compiles_no_forward_reference() -> None:
    # typing compiles a string annotation it must evaluate at run time (a TypeVar's
    # bound, a NamedTuple field) into a ForwardRef; the first compile of a process
    # costs ~1 ms. Names the core's type checking needs stay under TYPE_CHECKING.
    script = (
        "import builtins, sys\n"
        "compiled = []\n"
        "original = builtins.compile\n"
        "def compile(source, *args, **kwargs):\n"
        "    if sys._getframe(1).f_code.co_filename.endswith('typing.py'):\n"
        "        compiled.append(source)\n"
        "    return original(source, *args, **kwargs)\n"
        "builtins.compile = compile\n"
        "import conch\n"
        "print(repr(compiled))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout.strip()) == []


def test_import_compiles_no_pattern() -> None:
    # A pattern costs ~0.1-0.4 ms to compile: the core compiles those it needs on first
    # use (`NOT_BUILT_BY_IMPORT`) or checks bytes without one.
    script = (
        "import re, socket, ssl\n"
        "compiled = []\n"
        "original = re.compile\n"
        "def compile(pattern, *args, **kwargs):\n"
        "    compiled.append(pattern)\n"
        "    return original(pattern, *args, **kwargs)\n"
        "re.compile = compile\n"
        "import conch\n"
        "print(repr(compiled))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout.strip()) == []


def test_import_defines_no_protocol_class() -> None:
    # A Protocol class used in annotations only is defined under TYPE_CHECKING: making
    # one costs its creation at import. The public `sansio.wire.WireConnection` is one to
    # type checkers and a plain base class at run time (`sansio._typing_lite`).
    script = (
        "import sys, typing, conch\n"
        "print(repr(sorted(f'{cls.__module__}.{cls.__qualname__}'"
        " for module in list(sys.modules.values())"
        " if module.__name__.split('.')[0] in {'sansio', 'sync_io', 'conch'}"
        " for cls in vars(module).values()"
        " if isinstance(cls, type) and typing.Protocol in cls.__bases__"
        " and cls.__module__ == module.__name__)))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout.strip()) == []


# Loaded only on the rare paths that need them (a non-ASCII Digest username, a form value
# to percent-encode, file:// and WSGI paths): urllib.parse and its ipaddress cost ~2 ms.
NOT_LOADED_BY_IMPORT_ITSELF = ["urllib.parse", "ipaddress"]


def test_import_itself_is_light() -> None:
    # Without site (-S): this interpreter's .pth files (the editable install's finder,
    # coverage's hook) load urllib.parse and more at startup; site-packages is added by
    # hand, and conch comes from the source tree (the working directory).
    purelib = sysconfig.get_paths()["purelib"]
    script = (
        f"import sys; sys.path.append({purelib!r}); import conch; "
        f"print(repr([m for m in {NOT_LOADED_BY_IMPORT_ITSELF!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert ast.literal_eval(out.stdout.strip()) == []


def test_lazy_names_load_on_first_use() -> None:
    code = "import conch; conch.AsyncClient; conch.connect_sse; conch.main; conch.alias_httpx"
    loaded = _loaded_by(
        code, ["async_io", "sansio.sse", "sync_io.sse", "conch._cli", "conch._alias"]
    )
    assert loaded == ["async_io", "sansio.sse", "sync_io.sse", "conch._cli", "conch._alias"]


LAZY_NAMES = [
    "ASGITransport",
    "AsyncClient",
    "AsyncFileTransport",
    "AsyncHTTPTransport",
    "EventSource",
    "FileTransport",
    "MockTransport",
    "Retry",
    "SSEError",
    "ServerSentEvent",
    "WSGITransport",
    "aconnect_sse",
    "alias_httpx",
    "codes",
    "connect_sse",
    "main",
]


@pytest.mark.parametrize("name", LAZY_NAMES)
def test_a_lazy_name_imports_from_a_fresh_interpreter(name: str) -> None:
    # `from conch import X` with nothing loaded before it, and `conch.X` is then the same.
    script = f"from conch import {name}; import conch; assert getattr(conch, {name!r}) is {name}"
    subprocess.run([sys.executable, "-c", script], check=True)


def test_dir_lists_the_lazy_names() -> None:
    assert set(conch.__all__) <= set(dir(conch))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        conch.nonexistent  # noqa: B018
