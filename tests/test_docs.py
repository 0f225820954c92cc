"""Every code example in docs/ and in README.md runs here, against servers on this
machine, so the docs cannot rot.

What runs, page by page, in the order the page shows it, in one namespace per page (an
example may use what an earlier one on the same page set up, as a reader would):

- ```` ```python ```` blocks are executed; their ``assert`` lines are the claims checked.
  A block preceded by ``<!-- docs-test: asyncio trio -->`` must end its program with
  ``asyncio.run(main())``: it runs as written, then once more with ``trio.run(main)``.
  ``<!-- docs-test: http2 -->`` sends that block's ``https://example.org`` to a server
  that offers HTTP/2; ``subprocess`` runs the block in a fresh interpreter (for what
  would change this one for good, such as the httpx alias). Options combine.
- ```` ```pycon ```` blocks (``>>>`` sessions) run through doctest: the output shown must
  be the output printed.
- ```` ```console ```` blocks hold ``$ conch ...`` command lines, each followed by its
  exact output; the command runs through the CLI in this process.
- ```` ```sh ```` blocks are commands for the reader's shell (installing, building the
  docs, running benchmarks): not run here. ``<!-- docs-test: not run: REASON -->`` before
  a python block makes it an illustration only; `test_illustrations_are_few` keeps
  those few and justified.

No example reaches the internet: ``https://example.org`` is uvicorn serving
tests/docs_app.py on 127.0.0.1 over TLS (its CA installed with SSL_CERT_FILE);
``http://example.org`` is hypercorn serving the same app over plain TCP (HTTP/1.1 and
h2c), and over TLS with ALPN h2 for the blocks marked ``http2``; ``wss://`` and
``ws://`` go where ``https://`` and ``http://`` go; ``proxy.example:3128`` is an HTTP
proxy, ``proxy.example:1080`` a SOCKS5 proxy and ``socks4.example:1080`` a SOCKS4 proxy
on loopback; ``127.0.0.1:8000`` (a local server) is hypercorn's plain port; any other
``example.org`` (a mount pattern, a netrc entry) is 127.0.0.1. The
examples' text is rewritten with those addresses before it runs, and output is
rewritten back before it is compared.
"""

from __future__ import annotations

import doctest
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.servers import Certificates, free_ports, make_certificates
from conformance.servers import _start as start_process  # the launcher the interop tests use
from tests.proxy_servers import http_proxy, socks4_proxy, socks5_proxy
from tests.servers import Server

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
HYPERCORN_CONFIG = "include_date_header = False\ninclude_server_header = False\n"
MAX_ILLUSTRATIONS = 8  # python blocks that are not run; each needs its reason

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)")
_ASYNCIO_RUN = re.compile(r"^asyncio\.run\(main\(\)\)", re.MULTILINE)
_DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<text>.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    page: str  # path relative to the repository, as tracebacks name it
    line: int  # 1-based line of the block's first code line
    lang: str
    code: str
    directive: str  # the text of a <!-- docs-test: ... --> right before the fence, or ""


def blocks_of(path: Path, root: Path = REPO) -> list[Block]:
    """The fenced code blocks of a markdown page, dedented, with their directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(root))
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match or not match["lang"]:
            index += 1
            continue
        indent, start = match["indent"], index + 1
        end = start
        while not lines[end].startswith(indent + "```"):
            end += 1
        code = "\n".join(line[len(indent) :] for line in lines[start:end]) + "\n"
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        directive = _DIRECTIVE.search(before)
        found.append(
            Block(page, start + 1, match["lang"], code, directive["text"] if directive else "")
        )
        index = end + 1
    return found


PAGES = [*sorted(DOCS.rglob("*.md")), REPO / "README.md"]
RUNNABLE = ("python", "pycon", "console")


def _runs(block: Block) -> bool:
    return block.lang in RUNNABLE and not block.directive.startswith("not run")


RUN_PAGES = [page for page in PAGES if any(_runs(block) for block in blocks_of(page))]


# --------------------------------------------------------------------------- the servers


@dataclass(frozen=True)
class Servers:
    certificates: Certificates
    forward: tuple[tuple[str, str], ...]  # placeholder -> address, replaced in this order
    http2: tuple[str, str]  # https://example.org in a block marked "http2"
    back: tuple[tuple[str, str], ...]  # address -> placeholder, for output

    def rewrite(self, text: str, *, http2: bool = False) -> str:
        for placeholder, address in (self.http2, *self.forward) if http2 else self.forward:
            text = text.replace(placeholder, address)
        return text

    def rewrite_back(self, text: str) -> str:
        for address, placeholder in self.back:
            text = text.replace(address, placeholder)
        return text


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """uvicorn over TLS for https://example.org (HTTP/1.1 with reason phrases, as most
    servers send them); hypercorn for http://example.org (HTTP/1.1 and h2c) and for
    https://example.org in blocks marked "http2" (TLS with ALPN h2)."""
    root = tmp_path_factory.mktemp("docs-servers")
    certificates = make_certificates(root)
    (root / "hypercorn.py").write_text(HYPERCORN_CONFIG)
    port, port_tls, port_h2 = free_ports(3)
    app, cert, key = "tests.docs_app:app", str(certificates.cert_file), str(certificates.key_file)
    uvicorn = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port_tls),
        "--ssl-certfile", cert, "--ssl-keyfile", key, "--log-level", "warning",
        "--no-access-log", "--no-server-header", "--no-date-header",
        "--timeout-graceful-shutdown", "1",
    ]  # fmt: skip
    hypercorn = [
        sys.executable, "-m", "hypercorn", app, "--config", f"file:{root / 'hypercorn.py'}",
        "--bind", f"127.0.0.1:{port_h2}", "--insecure-bind", f"127.0.0.1:{port}",
        "--certfile", cert, "--keyfile", key, "--log-level", "warning",
        "--graceful-timeout", "0",
    ]  # fmt: skip
    processes = [start_process("uvicorn", uvicorn, [root / "uvicorn.log"], [port_tls])]
    try:
        processes.append(
            start_process("hypercorn", hypercorn, [root / "hypercorn.log"], [port, port_h2])
        )
        with (
            Server(http_proxy()) as proxy,
            Server(socks5_proxy()) as socks,
            Server(socks4_proxy()) as socks4,
        ):
            forward = (
                ("https://example.org", f"https://127.0.0.1:{port_tls}"),
                ("http://example.org", f"http://127.0.0.1:{port}"),
                ("wss://example.org", f"wss://127.0.0.1:{port_tls}"),
                ("ws://example.org", f"ws://127.0.0.1:{port}"),
                ("proxy.example:3128", f"127.0.0.1:{proxy.port}"),
                ("proxy.example:1080", f"127.0.0.1:{socks.port}"),
                ("socks4.example:1080", f"127.0.0.1:{socks4.port}"),
                ("127.0.0.1:8000", f"127.0.0.1:{port}"),  # "a local server": hypercorn
                ("example.org", "127.0.0.1"),  # in mount patterns, netrc files...
            )
            http2 = ("https://example.org", f"https://127.0.0.1:{port_h2}")
            back = (
                (http2[1], http2[0]),
                # (Output naming hypercorn's plain port says example.org, not 127.0.0.1:8000.)
                *((a, p) for p, a in forward[:-1] if p != "127.0.0.1:8000"),
                *((f"127.0.0.1:{p}", "example.org") for p in (port_tls, port, port_h2)),
            )
            yield Servers(certificates, forward, http2, back)
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
def world(servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    """What a page may change is put back: the environment, the working directory
    (examples write files there), logging."""
    saved_environ = dict(os.environ)
    root = logging.getLogger()
    ours = logging.getLogger("conch")
    saved_logging = (root.level, list(root.handlers), ours.level, list(ours.handlers))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(servers.certificates.ca_file))
    monkeypatch.chdir(tmp_path)
    try:
        yield servers
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]
        ours.setLevel(saved_logging[2])
        ours.handlers[:] = saved_logging[3]


# --------------------------------------------------------------------------- running


_SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$', re.MULTILINE)


def expand_snippets(code: str) -> str:
    """A code block that includes a file (pymdownx.snippets) runs that file's text."""
    return _SNIPPET.sub(lambda m: (REPO / m["path"]).read_text(encoding="utf-8"), code)


def _compiled(block: Block, code: str) -> object:
    # Padding puts the block at its own line numbers: a traceback names the page's line.
    return compile("\n" * (block.line - 1) + code, block.page, "exec")


def _options(block: Block) -> set[str]:
    options = set(block.directive.split())
    unknown = options - {"asyncio", "trio", "http2", "subprocess"}
    assert not unknown, f"{block.page}:{block.line}: unknown docs-test option {unknown}"
    return options


def run_python(block: Block, servers: Servers, namespace: dict[str, object]) -> None:
    options = _options(block)
    code = servers.rewrite(expand_snippets(block.code), http2="http2" in options)
    if "subprocess" in options:
        # For what would change this process for good (the httpx alias): a fresh one.
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert done.returncode == 0, f"{block.page}:{block.line}:\n{done.stderr}"
        return
    exec(_compiled(block, code), namespace)
    if "trio" in options:
        assert "asyncio" in options, f"{block.page}:{block.line}: say 'asyncio trio'"
        trio_code, found = _ASYNCIO_RUN.subn("__import__('trio').run(main)", code)
        assert found == 1, f"{block.page}:{block.line}: no line starts with asyncio.run(main())"
        exec(_compiled(block, trio_code), namespace)


class _Checker(doctest.OutputChecker):
    def __init__(self, servers: Servers) -> None:
        self.servers = servers

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(want, self.servers.rewrite_back(got), optionflags)

    def output_difference(self, example: doctest.Example, got: str, optionflags: int) -> str:
        return super().output_difference(example, self.servers.rewrite_back(got), optionflags)


def run_pycon(block: Block, servers: Servers, namespace: dict[str, object]) -> None:
    http2 = "http2" in _options(block)
    examples = doctest.DocTestParser().get_examples(block.code)
    for example in examples:  # the input is rewritten; the output shown stays as it is
        example.source = servers.rewrite(example.source, http2=http2)
    test = doctest.DocTest(examples, namespace, block.page, block.page, block.line - 1, None)
    report: list[str] = []
    runner = doctest.DocTestRunner(checker=_Checker(servers), optionflags=doctest.ELLIPSIS)
    runner.run(test, out=report.append, clear_globs=False)
    if runner.failures:
        pytest.fail("".join(report), pytrace=False)


def run_console(block: Block, servers: Servers) -> None:
    from click.testing import CliRunner

    from conch._cli import command

    sessions = re.split(r"^\$ ", block.code, flags=re.MULTILINE)
    assert not sessions[0].strip(), f"{block.page}:{block.line}: text before the first '$ '"
    for session in sessions[1:]:
        command_line, _, want = session.partition("\n")
        argv = shlex.split(servers.rewrite(command_line))
        assert argv[0] == "conch", f"{block.page}:{block.line}: only conch runs here"
        result = CliRunner().invoke(command(), argv[1:])
        got = servers.rewrite_back(result.output)
        assert got == want, f"{block.page}:{block.line}: $ {command_line}\n{got}"


def _page_id(page: Path) -> str:
    return str(page.relative_to(DOCS if page.is_relative_to(DOCS) else REPO))


@pytest.mark.parametrize("page", RUN_PAGES, ids=[_page_id(p) for p in RUN_PAGES])
def test_examples_run(page: Path, world: Servers) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks_of(page):
        if not _runs(block):
            continue
        if block.lang == "python":
            run_python(block, world, namespace)
        elif block.lang == "pycon":
            run_pycon(block, world, namespace)
        else:
            run_console(block, world)


def test_illustrations_are_few() -> None:
    blocks = [block for page in PAGES for block in blocks_of(page)]
    illustrations = [block for block in blocks if block.directive.startswith("not run")]
    for block in illustrations:
        reason = block.directive.removeprefix("not run").strip(" :")
        assert reason, f"{block.page}:{block.line}: say why the block is not run"
    assert len(illustrations) <= MAX_ILLUSTRATIONS, [f"{b.page}:{b.line}" for b in illustrations]


def test_every_block_is_known() -> None:
    """A block in another language would silently escape the test: name the languages."""
    known = {*RUNNABLE, "sh", "text", "toml", "yaml", "ini", "http"}
    unknown = [
        f"{block.page}:{block.line} ({block.lang})"
        for page in PAGES
        for block in blocks_of(page)
        if block.lang not in known
    ]
    assert not unknown


def test_the_docs_have_examples() -> None:
    assert len(RUN_PAGES) >= 10, RUN_PAGES


def test_block_parser_reads_indented_fences_and_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# T\n\n<!-- docs-test: asyncio trio -->\n```python\nx = 1\n```\n\n"
        '=== "Tab"\n\n    ```pycon\n    >>> 1\n    1\n    ```\n'
    )
    assert [(b.lang, b.line, b.code, b.directive) for b in blocks_of(page, tmp_path)] == [
        ("python", 5, "x = 1\n", "asyncio trio"),
        ("pycon", 11, ">>> 1\n1\n", ""),
    ]


def test_the_api_reference_names_every_public_name() -> None:
    import conch

    text = (DOCS / "reference" / "conch.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: conch\.(\w+)", text, re.MULTILINE))
    # Named in the page's text instead: strings, the command, two aliases.
    in_text = {"__version__", "__title__", "__description__", "main"}
    in_text |= {"HTTPXWSException", "JSONMode"}
    for name in in_text:
        assert f"`{name}`" in text or f"`conch.{name}`" in text, name
    assert sorted(set(conch.__all__) - documented - in_text) == []
