"""The ``conch`` command line, run through click's CliRunner against a loopback server."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import pytest

pytest.importorskip("click")
import click
from click.testing import CliRunner, Result

import conch
from conch import _cli
from sansio.headers import Headers

from .servers import Server, default_app, http_handler, tls_contexts

ROOT = Path(__file__).resolve().parents[1]
BINARY = bytes(range(256)) * 4
DOWNLOAD = b"0123456789abcdef" * 5000  # 80 kB: more than one read


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        summary = {
            "method": self.command,
            "target": self.path,
            "path": parts.path,
            "query": parse_qsl(parts.query),
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode("latin-1"),
        }
        self.reply(200, json.dumps(summary).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/echo" or self.path.startswith("http://"):
            self.echo()
        elif path == "/redirect":
            self.reply(302, b"", None, Location="/echo")
        elif path == "/loop":
            self.reply(302, b"", None, Location="/loop")
        elif path == "/auth":
            expected = "Basic " + base64.b64encode(b"user:secret").decode()
            if self.headers.get("Authorization") == expected:
                self.reply(200, b"welcome\n", "text/plain; charset=utf-8")
            else:
                self.reply(401, b"no\n", "text/plain", WWW_Authenticate='Basic realm="x"')
        elif path == "/binary":
            self.reply(200, BINARY, "image/png")
        elif path == "/unknown-text":
            self.reply(200, "plain words, caf\u00e9\n".encode(), "application/octet-stream")
        elif path == "/unknown-binary":
            self.reply(200, b"abc\x00def", None)
        elif path == "/bad-json":
            self.reply(200, b"{not json", "application/json")
        elif path == "/escape":
            self.reply(200, b"title\x1b]0;pwned\x07 done\n", "text/plain")
        elif path == "/download":
            self.reply(200, DOWNLOAD, "application/octet-stream")
        elif path == "/old":
            self.protocol_version = "HTTP/1.0"
            self.reply(200, b"old server\n", "text/plain")
        elif path == "/missing":
            self.reply(404, b"not here\n", "text/plain")
        elif path == "/slow":
            time.sleep(1.0)
            self.reply(200, b"late", "text/plain")
        else:
            self.reply(500, b"unknown test path", "text/plain")

    do_POST = do_PUT = do_DELETE = do_PATCH = echo

    def do_HEAD(self) -> None:
        self.reply(200, b"a body HEAD must not show", "text/plain")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the /slow handler writes to a client that gave up


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def run(*args: str, input: str | None = None, color: bool = False) -> Result:
    runner = CliRunner()
    return runner.invoke(cast("click.Command", conch.main), list(args), input=input, color=color)


def echoed(result: Result) -> dict[str, Any]:
    """The echo handler's JSON summary, from the body after the response head."""
    body = result.stdout.split("\n\n", 1)[1]
    return cast("dict[str, Any]", json.loads(body))


# -- requests ----------------------------------------------------------------------------


def test_get_with_params_and_headers(server: str) -> None:
    result = run(f"{server}/echo", "-p", "a", "1", "-p", "a", "2", "-h", "X-Test", "yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")
    assert "Content-Type: application/json\n" in result.stdout
    seen = echoed(result)
    assert seen["method"] == "GET"
    assert seen["query"] == [["a", "1"], ["a", "2"]]
    assert seen["headers"]["x-test"] == "yes"
    assert result.stderr == ""


def test_json_body_is_indented(server: str) -> None:
    result = run(f"{server}/echo", "--params", "q", "x")
    assert '\n    "method": "GET",\n' in result.stdout


def test_post_json(server: str) -> None:
    result = run(f"{server}/echo", "-j", '{"name": "conch", "n": [1, 2]}')
    assert result.exit_code == 0, result.output
    seen = echoed(result)
    assert seen["method"] == "POST"
    assert seen["headers"]["content-type"] == "application/json"
    assert json.loads(seen["body"]) == {"name": "conch", "n": [1, 2]}


def test_invalid_json_is_a_usage_error(server: str) -> None:
    result = run(f"{server}/echo", "--json", "{nope")
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_post_form_data_keeps_repeated_names(server: str) -> None:
    result = run(f"{server}/echo", "-d", "a", "1", "-d", "a", "2", "--data", "b", "x y")
    seen = echoed(result)
    assert seen["method"] == "POST"
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == "a=1&a=2&b=x+y"


def test_post_files_as_multipart(server: str, tmp_path: Path) -> None:
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"file body here")
    result = run(f"{server}/echo", "-f", "upload", str(upload), "-d", "field", "value")
    assert result.exit_code == 0, result.output
    seen = echoed(result)
    assert seen["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="upload"; filename="notes.txt"' in seen["body"]
    assert "file body here" in seen["body"]
    assert 'name="field"' in seen["body"]


def test_content_and_method(server: str) -> None:
    posted = echoed(run(f"{server}/echo", "-c", "raw text"))
    assert (posted["method"], posted["body"]) == ("POST", "raw text")
    put = echoed(run(f"{server}/echo", "--method", "PUT", "--content", "x"))
    assert (put["method"], put["body"]) == ("PUT", "x")


def test_cookies(server: str) -> None:
    seen = echoed(run(f"{server}/echo", "--cookies", "session", "abc", "--cookies", "b", "2"))
    assert seen["headers"]["cookie"] == "session=abc; b=2"


def test_head_shows_no_body(server: str) -> None:
    result = run(f"{server}/anything", "-m", "HEAD")
    assert result.exit_code == 0
    assert "must not show" not in result.stdout
    assert "Content-Length: 25" in result.stdout


def test_flags_are_accepted(server: str) -> None:
    # Over plain http, --http2 falls back to HTTP/1.1 and --no-verify has nothing to check.
    result = run(f"{server}/echo", "--http2", "--no-verify", "--timeout", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")


def test_proxy_is_used(server: str) -> None:
    # The loopback server plays a forward proxy: it sees the absolute-form target.
    result = run("http://proxied.invalid/echo", "--proxy", server)
    if isinstance(result.exception, NotImplementedError):
        pytest.skip(f"the HTTP transport does not take proxy= yet: {result.exception}")
    assert result.exit_code == 0, result.output
    assert echoed(result)["target"] == "http://proxied.invalid/echo"


# -- output --------------------------------------------------------------------------------


def test_verbose_shows_request_and_response_heads(server: str) -> None:
    port = server.rpartition(":")[2]
    result = run(f"{server}/echo", "-v", "-p", "a", "1", "-h", "X-Test", "yes")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # httpx's information lines, from the trace extension.
    assert lines[0] == "* Connecting to '127.0.0.1'"
    assert lines[1] == f"* Connected to '127.0.0.1' on port {port}"
    assert lines[2] == "GET /echo?a=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}" in lines
    assert "X-Test: yes" in lines
    request_head_end = lines.index("")
    assert lines[request_head_end + 1] == "HTTP/1.1 200 OK"


def test_verbose_request_line_is_what_was_sent(server: str) -> None:
    lines = run(f"{server}/old", "-v").stdout.splitlines()
    assert lines[2] == "GET /old HTTP/1.1"
    assert "HTTP/1.0 200 OK" in lines


def test_verbose_over_tls_shows_the_handshake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = tls_contexts()
    tls.server.set_alpn_protocols(["http/1.1"])
    ca_file = tmp_path / "ca.pem"
    tls.ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with Server(http_handler(default_app), tls=tls.server) as tls_server:
        url = tls_server.url(scheme="https", host="localhost")
        lines = run(url, "-v").stdout.splitlines()
        unverified = run(url, "-v", "--no-verify").stdout.splitlines()
    assert lines[:2] == [
        "* Connecting to 'localhost'",
        f"* Connected to '127.0.0.1' on port {tls_server.port}",
    ]
    assert lines[2].startswith("* SSL established using 'TLSv1.")
    assert lines[3] == "* Selected ALPN protocol: 'http/1.1'"
    assert lines[4] == "* Server certificate:"
    assert "*   subjectAltName:" in lines
    assert "*     DNS: 'localhost'" in lines
    assert "GET / HTTP/1.1" in lines
    # Not verified: no certificate to show (as httpx).
    assert unverified[3] == "* Selected ALPN protocol: 'http/1.1'"
    assert unverified[4] == "GET / HTTP/1.1"


def test_heads_for_http2_and_hostile_header_values() -> None:
    request = conch.Request("GET", "https://a.example/x?y=1", headers={"X-A": "1"})
    assert _cli.format_request_head(request, "HTTP/2") == (
        "GET /x?y=1 HTTP/2\nhost: a.example\nx-a: 1"
    )
    # As the wire machine builds it: h11 lets ESC and DEL through in a received value,
    # where Headers() would refuse them.
    received = Headers._from_validated([(b"X-Odd", b"a\x1bb\x7f")])
    response = conch.Response(200, headers=received, extensions={"reason_phrase": b"Fine"})
    response.request = request
    assert _cli.format_response_head(response) == "HTTP/1.1 200 Fine\nX-Odd: a\\x1bb\\x7f"


def test_not_verbose_hides_the_request(server: str) -> None:
    result = run(f"{server}/echo", "-h", "X-Test", "yes")
    assert "GET /echo" not in result.stdout.split("\n\n")[0]


def test_binary_body_is_summarised(server: str) -> None:
    result = run(f"{server}/binary")
    assert result.exit_code == 0
    assert result.stdout.endswith("\n\n<1024 bytes of binary data>\n")


def test_untyped_body_is_sniffed(server: str) -> None:
    assert run(f"{server}/unknown-text").stdout.endswith("\n\nplain words, caf\u00e9\n")
    assert run(f"{server}/unknown-binary").stdout.endswith("\n\n<7 bytes of binary data>\n")


def test_json_that_does_not_parse_is_shown_as_sent(server: str) -> None:
    assert run(f"{server}/bad-json").stdout.endswith("\n\n{not json\n")


def test_plain_output_is_faithful_but_a_terminal_gets_escapes(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "title\x1b]0;pwned\x07 done" in run(f"{server}/escape").stdout
    monkeypatch.setattr(_cli, "_stdout_is_tty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    shown = run(f"{server}/escape").stdout
    assert "\x1b" not in shown
    assert "title\\x1b]0;pwned\\x07 done" in shown


def test_terminal_output_is_highlighted(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    monkeypatch.setattr(_cli, "_stdout_is_tty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = run(f"{server}/echo", "-v", color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[" in result.stdout
    assert "method" in result.stdout


def test_sniff_size_limit() -> None:
    text = "é".encode()
    at_limit = b"a" * (_cli.SNIFF_SIZE - 1) + text  # a character cut by the sample's end
    assert _cli._looks_like_text(at_limit)
    assert _cli._looks_like_text(b"a" * _cli.SNIFF_SIZE + b"\x00")  # NUL past the sample
    assert not _cli._looks_like_text(b"a" * (_cli.SNIFF_SIZE - 1) + b"\x00")
    assert not _cli._looks_like_text(b"abc\xff")


# -- redirects, auth, status codes --------------------------------------------------------


def test_redirect_not_followed_by_default(server: str) -> None:
    result = run(f"{server}/redirect")
    # As httpx: any non-2xx final response exits 1.
    assert result.exit_code == 1
    assert result.stdout.startswith("HTTP/1.1 302 Found\n")
    assert "Location: /echo" in result.stdout


def test_follow_redirects_shows_every_hop(server: str) -> None:
    result = run(f"{server}/redirect", "--follow-redirects")
    assert result.exit_code == 0, result.output
    heads = [line for line in result.stdout.splitlines() if line.startswith("HTTP/1.1 ")]
    assert heads == ["HTTP/1.1 302 Found", "HTTP/1.1 200 OK"]
    assert echoed_last(result)["path"] == "/echo"


def echoed_last(result: Result) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(result.stdout.rsplit("\n\n", 1)[1]))


def test_redirect_loop_is_an_error(server: str) -> None:
    result = run(f"{server}/loop", "--follow-redirects")
    assert result.exit_code == 1
    assert result.stderr.startswith("TooManyRedirects: ")
    assert result.stderr.count("\n") == 1


def test_basic_auth(server: str) -> None:
    result = run(f"{server}/auth", "--auth", "user", "secret")
    assert result.exit_code == 0
    assert result.stdout.endswith("\n\nwelcome\n")
    denied = run(f"{server}/auth", "--auth", "user", "wrong")
    assert denied.exit_code == 1
    assert denied.stdout.startswith("HTTP/1.1 401 Unauthorized\n")


def test_auth_password_prompt(server: str) -> None:
    result = run(f"{server}/auth", "--auth", "user", "-", input="secret\n")
    assert result.exit_code == 0, result.output
    assert "welcome" in result.stdout
    assert "secret" not in result.stdout


def test_error_status_exits_1_and_still_shows_the_response(server: str) -> None:
    result = run(f"{server}/missing")
    assert result.exit_code == 1
    assert result.stdout == (
        "HTTP/1.1 404 Not Found\n"
        + "".join(f"{line}\n" for line in result.stdout.splitlines()[1:-2])
        + "\nnot here\n"
    )
    assert result.stderr == ""


# -- errors ---------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused(server: str) -> None:
    result = run(f"http://127.0.0.1:{closed_port()}/")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("ConnectError: ")
    assert result.stderr.count("\n") == 1


def test_timeout(server: str) -> None:
    result = run(f"{server}/slow", "--timeout", "0.1")
    assert result.exit_code == 1
    assert result.stderr.startswith("ReadTimeout: ")


@pytest.mark.parametrize(
    ("url", "error"),
    [("example.invalid/x", "UnsupportedProtocol"), ("http://[::1/", "InvalidURL")],
)
def test_bad_urls(url: str, error: str) -> None:
    result = run(url)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{error}: ")
    assert result.stderr.count("\n") == 1


def test_usage_errors() -> None:
    assert run().exit_code == 2
    assert run("http://x", "--timeout", "soon").exit_code == 2


def test_help() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--method", "--params", "--headers", "--download", "--verbose", "file://"):
        assert option in result.stdout


# -- downloads ------------------------------------------------------------------------------


def test_download(server: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    result = run(f"{server}/download", "--download", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == DOWNLOAD
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")
    assert result.stdout.endswith(f"\nDownloaded {len(DOWNLOAD)} bytes to {target}\n")


def test_download_with_progress_bar(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rich")
    monkeypatch.setattr(_cli, "_stdout_is_tty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    target = tmp_path / "bar.bin"
    result = run(f"{server}/download", "--download", str(target), color=True)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == DOWNLOAD
    assert "Downloading" in result.stdout


def test_terminal_without_rich_gets_plain_output(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli, "_stdout_is_tty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    target = tmp_path / "plain.bin"
    result = run(f"{server}/download", "--download", str(target), color=True)
    assert "\x1b" not in result.stdout
    assert result.stdout.endswith(f"Downloaded {len(DOWNLOAD)} bytes to {target}\n")


def test_download_to_unwritable_path(server: str, tmp_path: Path) -> None:
    result = run(f"{server}/download", "--download", str(tmp_path / "no-dir" / "x"))
    assert result.exit_code == 1
    assert "Could not open file" in result.stderr


# -- file:// ---------------------------------------------------------------------------------


def test_file_url(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nSome text.\n")
    result = run(readme.as_uri())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")
    assert "Content-Length: 20\n" in result.stdout
    assert result.stdout.endswith("\n\n# Title\n\nSome text.\n")


def test_file_url_localhost_and_missing(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"a":1}')
    shown = run(f"file://localhost{data}")
    assert shown.stdout.endswith('\n\n{\n    "a": 1\n}\n')
    missing = run((tmp_path / "absent.txt").as_uri())
    assert missing.exit_code == 1
    assert missing.stdout.startswith("HTTP/1.1 404 Not Found\n")


def test_file_url_highlighted_by_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    monkeypatch.setattr(_cli, "_stdout_is_tty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    source = tmp_path / "module.py"
    source.write_text("def f():\n    return 1\n")
    result = run(source.as_uri(), color=True)
    assert result.exit_code == 0
    assert "\x1b[" in result.stdout
    assert "return" in result.stdout


# -- the command object and its imports -------------------------------------------------------


def test_main_behaves_like_a_click_command() -> None:
    assert conch.main.name == "conch"
    assert conch.main.main is not None  # reached through the click command
    assert {p.name for p in conch.main.params} >= {"url", "method", "verbose"}
    with pytest.raises(AttributeError):
        conch.main.__wrapped__  # noqa: B018
    assert "conch.main" in repr(conch.main)


def test_main_called_directly(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        conch.main([f"{server}/missing"])
    assert exit_info.value.code == 1
    assert "404 Not Found" in capsys.readouterr().out


def test_main_without_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    monkeypatch.setattr(_cli, "_COMMAND", None)
    with pytest.raises(SystemExit) as exit_info:
        conch.main(["http://127.0.0.1/"])
    assert exit_info.value.code == "The conch command needs click: pip install 'conch[cli]'"


def test_import_conch_loads_no_cli_dependency() -> None:
    code = (
        "import sys, conch; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'click', 'rich', 'pygments'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_python_dash_m_conch(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("hello from a file\n")
    done = subprocess.run(
        [sys.executable, "-m", "conch", page.as_uri()],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n\nhello from a file\n")


# -- server-sent events --------------------------------------------------------------------

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-store\r\nconnection: close\r\n\r\n"
)


def _gated_sse(gate: threading.Event, released: list[bool]) -> Any:
    """A handler that sends one event, waits until the test has seen it printed (or 10 s),
    then sends two more and ends the stream."""

    def handler(server: Server, conn: socket.socket, index: int) -> None:
        conn.recv(65536)
        conn.sendall(SSE_HEAD + b"event: greeting\r\ndata: hello\r\nid: 1\r\n\r\n")
        released.append(gate.wait(10))
        conn.sendall(b': a comment\ndata: {"n": 2}\ndata: two lines\n\nretry: 500\ndata: x\x1b\n\n')
        conn.shutdown(socket.SHUT_WR)

    return handler


def test_an_event_stream_is_printed_event_by_event_as_it_arrives() -> None:
    gate, released = threading.Event(), list[bool]()
    with Server(_gated_sse(gate, released)) as sse_server:
        process = subprocess.Popen(
            [sys.executable, "-m", "conch", sse_server.url("/events")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            head = [process.stdout.readline() for _ in range(5)]
            first = [process.stdout.readline() for _ in range(4)]
            gate.set()  # the first event is on the screen while the stream is still open
            rest, errors = process.communicate(timeout=30)
        finally:
            gate.set()
            if process.poll() is None:
                process.kill()
                process.wait()
    assert released == [True]
    assert head[0] == "HTTP/1.1 200 OK\n"
    assert head[-1] == "\n"
    assert first == ["event: greeting\n", "id: 1\n", "data: hello\n", "\n"]
    # The last event ID carries over (WHATWG): shown only when it changes.
    assert rest == 'data: {"n": 2}\ndata: two lines\n\nretry: 500\ndata: x\\x1b\n\n'
    assert process.returncode == 0, errors


def test_verbose_event_stream_shows_the_request_head_first() -> None:
    gate, released = threading.Event(), list[bool]()
    gate.set()
    with Server(_gated_sse(gate, released)) as sse_server:
        result = run(sse_server.url("/events"), "-v")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("* Connecting to ")
    assert lines.index("GET /events HTTP/1.1") < lines.index("HTTP/1.1 200 OK")
    assert lines.index("HTTP/1.1 200 OK") < lines.index("event: greeting")
    assert result.stdout.endswith("\n\nretry: 500\ndata: x\\x1b\n\n")


def test_an_oversized_event_is_one_line_on_stderr() -> None:
    def endless(server: Server, conn: socket.socket, index: int) -> None:
        conn.recv(65536)
        conn.sendall(SSE_HEAD + b"data: one\n\n")
        chunk = b"data: " + b"x" * 65536 + b"\n"
        with contextlib.suppress(OSError):  # the client gives up at the limit
            for _ in range(200):  # 13 MiB, past sse.DEFAULT_MAX_EVENT_SIZE (8 MiB)
                conn.sendall(chunk)

    with Server(endless) as sse_server:
        result = run(sse_server.url("/events"))
    assert result.exit_code == 1
    assert result.stdout.endswith("\n\ndata: one\n\n")
    assert result.stderr.startswith("EventTooLarge: ")
    assert len(result.stderr.splitlines()) == 1
