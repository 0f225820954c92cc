"""The ``conch`` command: send one request and show the response, as ``httpx``'s CLI does.

``conch URL [OPTIONS]`` takes httpx 0.28's options and also reads ``file://`` URLs.
click is needed (``pip install 'conch[cli]'``); rich, with its pygments, is optional and
only adds colour and a download progress bar when stdout is a terminal. None of them is
imported until the command runs, so ``import conch`` stays fast and dependency-free.

Differences from httpx, on purpose: errors go to stderr as one line (and an invalid URL
is such an error, not a traceback); bodies without a known text type are shown as text
when they decode as UTF-8 with no NUL byte, so local source files print; control
characters in header values (and in bodies written to a terminal) are escaped, so a
server cannot drive the terminal; ``file:///path`` URLs work; a ``text/event-stream``
response is shown event by event as each arrives (parsed by the core, `sansio.sse`).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    import click

    from sansio import Request, Response
    from sansio.sse import ServerSentEvent

__all__ = ["command", "main"]

NEEDS_CLICK = "The conch command needs click: pip install 'conch[cli]'"

# Bytes of a body looked at to tell text from binary when its Content-Type does not say:
# 8 KiB, about what git reads (its first 8000 bytes) to decide a file is binary.
SNIFF_SIZE = 8 * 1024

# Media types shown as text besides text/*, *+json and *+xml.
_TEXT_TYPES = frozenset(
    {
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/x-sh",
        "application/toml",
        "application/yaml",
        "application/x-yaml",
        "application/sql",
        "application/graphql",
    }
)
# Types that say nothing about the bytes: the body itself is sniffed.
_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "application/unknown"})

# C0 controls (but tab) and DEL, shown as \xNN: they could move the cursor or retitle
# the terminal if printed raw. Newlines are kept in bodies (see _BODY_ESCAPES).
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F) if code != 0x09}
_BODY_ESCAPES = {code: text for code, text in _ESCAPES.items() if code not in (0x0A, 0x0D)}

_COMMAND: click.Command | None = None


def _stdout_is_tty() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


class _Screen:
    """Writes heads and bodies to stdout: highlighted on a terminal when rich is installed."""

    def __init__(self) -> None:
        self.terminal = _stdout_is_tty()
        self.console: Any = None
        if self.terminal and not os.environ.get("NO_COLOR"):
            try:
                import rich.console
            except ImportError:
                pass
            else:
                self.console = rich.console.Console(force_terminal=True, highlight=False)

    def line(self, text: str) -> None:
        import click

        click.echo(text)

    def head(self, text: str) -> None:
        self.show(text, "http")
        self.line("")

    def show(self, text: str, lexer: str) -> None:
        if self.console is None:
            self.line(text[:-1] if text.endswith("\n") else text)
            return
        import rich.syntax

        self.console.print(rich.syntax.Syntax(text, lexer, theme="ansi_dark", word_wrap=True))


def _lexer(mime: str, path: str) -> str:
    """A pygments lexer name for the body, from its media type, else its file name."""
    import fnmatch
    import importlib

    # pygments' own get_lexer_for_* import every lexer module on a miss (over a second);
    # its table of names, patterns and types answers without importing any. Imported by
    # name because pygments ships no type information (rich, which needs it, does).
    lexers: Any = importlib.import_module("pygments.lexers")
    name = path.rpartition("/")[2]
    by_name = ""
    for _, aliases, patterns, mimetypes in lexers.get_all_lexers(plugins=False):
        if not aliases:
            continue
        if mime in mimetypes:
            return str(aliases[0])
        if not by_name and name and any(fnmatch.fnmatch(name, p) for p in patterns):
            by_name = str(aliases[0])
    return by_name or "text"


def _media_type(response: Response) -> tuple[str, bool]:
    """The lower-cased media type of the body, and whether it names a charset."""
    value = response.headers.get("Content-Type", "")
    mime, _, parameters = value.partition(";")
    return mime.strip().lower(), "charset=" in parameters.lower()


def _looks_like_text(content: bytes) -> bool:
    import codecs

    sample = content[:SNIFF_SIZE]
    if b"\x00" in sample:
        return False
    try:
        # Incremental, so a character cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(content) <= SNIFF_SIZE)
    except UnicodeDecodeError:
        return False
    return True


def _body_kind(mime: str, has_charset: bool, content: bytes) -> str:
    """``"json"``, ``"text"`` or ``"binary"``: how the body is shown."""
    if mime == "application/json" or mime.endswith("+json"):
        return "json"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+xml") or has_charset:
        return "text"
    if mime in _UNKNOWN_TYPES and _looks_like_text(content):
        return "text"
    return "binary"


def _header_lines(pairs: Sequence[tuple[bytes, bytes]], lower: bool) -> list[str]:
    lines = []
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1").translate(_ESCAPES)
        lines.append(f"{name.lower() if lower else name}: {value}")
    return lines


def format_request_head(request: Request, http_version: str = "HTTP/1.1") -> str:
    """The request line and headers as sent (names lower-cased for HTTP/2)."""
    target = request.url.raw_path.decode("ascii", errors="replace")
    lines = [f"{request.method} {target} {http_version}"]
    lines += _header_lines(request.headers.raw, lower=http_version == "HTTP/2")
    return "\n".join(lines)


def format_response_head(response: Response) -> str:
    """The status line and headers as received."""
    status = f"{response.http_version} {response.status_code} {response.reason_phrase}"
    return "\n".join([status.translate(_ESCAPES), *_header_lines(response.headers.raw, False)])


def _show_body(response: Response, screen: _Screen) -> None:
    content = response.content
    if not content:
        return
    mime, has_charset = _media_type(response)
    kind = _body_kind(mime, has_charset, content)
    if kind == "binary":
        screen.line(f"<{len(content)} bytes of binary data>")
        return
    text = response.text
    if kind == "json":
        import contextlib
        import json

        with contextlib.suppress(ValueError):  # if it does not parse, show it as sent
            text = json.dumps(json.loads(text), indent=4, ensure_ascii=False)
    if screen.terminal:
        text = text.translate(_BODY_ESCAPES)
    lexer = _lexer(mime, response.url.path) if screen.console is not None else "text"
    screen.show(text, lexer)


def format_event(event: ServerSentEvent, previous_id: str = "") -> str:
    """An event as event-stream text: ``event`` (unless "message"), ``id`` (when it is not
    ``previous_id``, the last event ID already shown), ``retry``, then one ``data`` line
    per line of data; control characters escaped as in heads."""
    lines = [] if event.event == "message" else [f"event: {event.event}"]
    if event.id != previous_id:
        lines.append(f"id: {event.id}")
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    lines += [f"data: {line}" for line in event.data.split("\n")]
    return "\n".join(line.translate(_ESCAPES) for line in lines)


def _show_events(response: Response, screen: _Screen) -> None:
    """Each event of an event stream as soon as it has arrived (click flushes each)."""
    from sansio.sse import EventSource

    last_id = ""
    for event in EventSource(response).iter_sse():
        screen.line(format_event(event, last_id) + "\n")
        last_id = event.id


def _download(response: Response, path: str, screen: _Screen) -> None:
    import click

    try:
        file = open(path, "wb")  # noqa: SIM115 (closed below, whatever happens)
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror or str(exc)) from exc
    with file:
        if screen.console is None:
            for chunk in response.iter_bytes():
                file.write(chunk)
            screen.line(f"Downloaded {response.num_bytes_downloaded} bytes to {path}")
            return
        import rich.markup
        import rich.progress

        length = response.headers.get("Content-Length", "")
        columns = (
            "[progress.description]{task.description}",
            "[progress.percentage]{task.percentage:>3.0f}%",
            rich.progress.BarColumn(bar_width=None),
            rich.progress.DownloadColumn(),
            rich.progress.TransferSpeedColumn(),
        )
        with rich.progress.Progress(*columns, console=screen.console) as progress:
            task = progress.add_task(
                f"Downloading [bold]{rich.markup.escape(path)}",
                total=int(length) if length.isdigit() else None,
            )
            for chunk in response.iter_bytes():
                file.write(chunk)
                progress.update(task, completed=response.num_bytes_downloaded)


class _Trace:
    """The ``trace`` extension of ``-v``: httpx's information lines about the connection,
    shown as each new one is opened (none for a connection reused)."""

    def __init__(self, screen: _Screen) -> None:
        self.screen = screen

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        line = self.screen.line
        if name == "connection.connect_tcp.started":
            line(f"* Connecting to {info['host']!r}")
        elif name == "connection.connect_tcp.complete":
            address = info["return_value"].get_extra_info("server_addr")
            line(f"* Connected to {address[0]!r} on port {address[1]}")
        elif name == "connection.start_tls.complete":
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            line(f"* SSL established using {ssl_object.version()!r} / {ssl_object.cipher()[0]!r}")
            line(f"* Selected ALPN protocol: {ssl_object.selected_alpn_protocol()!r}")
            certificate = ssl_object.getpeercert()
            if certificate:  # (none when it was not verified)
                line("* Server certificate:")
                line(_format_certificate(certificate))


def _format_certificate(certificate: dict[str, Any]) -> str:
    """A peer certificate as httpx's ``-v`` shows it: one ``*`` line per field."""
    lines = []
    for key, value in certificate.items():
        if isinstance(value, (list, tuple)):
            lines.append(f"*   {key}:")
            for item in value:
                if key in ("subject", "issuer"):
                    lines += [f"*     {part[0]}: {part[1]!r}" for part in item]
                elif isinstance(item, tuple) and len(item) == 2:
                    lines.append(f"*     {item[0]}: {item[1]!r}")
                else:
                    lines.append(f"*     {item!r}")
        else:
            lines.append(f"*   {key}: {value!r}")
    return "\n".join(lines)


def _resolve_url(url: str) -> Any:
    from sansio import URL

    parsed = URL(url)
    if parsed.scheme == "file" and not parsed.host:
        # Clients treat a URL without a host as relative to base_url and drop its scheme
        # (httpx does the same); "localhost" names the same local file and keeps it absolute.
        return parsed.copy_with(host="localhost")
    return parsed


def _run(
    url: str,
    method: str | None,
    params: Sequence[tuple[str, str]],
    content: str | None,
    data: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, Any]],
    json_body: Any,
    headers: Sequence[tuple[str, str]],
    cookies: Sequence[tuple[str, str]],
    auth: tuple[str, str] | None,
    proxy: str | None,
    timeout: float,
    follow_redirects: bool,
    verify: bool,
    http2: bool,
    download: str | None,
    verbose: bool,
) -> None:
    """Send one request and show the response head and body."""
    import click

    from sansio import HTTPError, InvalidURL
    from sync_io import Client, FileTransport

    screen = _Screen()
    if not method:
        has_body = content is not None or data or files or json_body is not None
        method = "POST" if has_body else "GET"
    form: dict[str, list[str]] = {}
    for name, value in data:
        form.setdefault(name, []).append(value)

    def show_heads(response: Response) -> None:
        if verbose:
            # Requests go out as HTTP/1.1 unless HTTP/2 was negotiated, whatever the
            # server answers with (an HTTP/1.0 server still got an HTTP/1.1 request).
            version = "HTTP/2" if response.http_version == "HTTP/2" else "HTTP/1.1"
            screen.head(format_request_head(response.request, version))
        screen.head(format_response_head(response))

    try:
        with (
            Client(
                auth=auth,
                cookies=dict(cookies),
                proxy=proxy,
                timeout=timeout,
                verify=verify,
                http2=http2,
                mounts={"file://": FileTransport()},
                event_hooks={"response": [show_heads]},
            ) as client,
            client.stream(
                method,
                _resolve_url(url),
                params=list(params),
                content=content,
                data=form or None,
                files=list(files) or None,
                json=json_body,
                headers=list(headers),
                follow_redirects=follow_redirects,
                extensions={"trace": _Trace(screen)} if verbose else None,
            ) as response,
        ):
            if download is not None:
                _download(response, download, screen)
            elif _media_type(response)[0] == "text/event-stream":
                _show_events(response, screen)
            else:
                response.read()
                _show_body(response, screen)
    except (HTTPError, InvalidURL) as exc:
        message = " ".join(str(exc).split())
        click.echo(f"{type(exc).__name__}: {message}", err=True)
        sys.exit(1)
    # As httpx: anything but a 2xx answer is a failure for the shell.
    sys.exit(0 if response.is_success else 1)


def _parse_json(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    import json

    import click

    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})") from None


def _check_auth(
    ctx: click.Context, param: click.Parameter, value: tuple[str | None, str | None]
) -> tuple[str, str] | None:
    import click

    user, password = value
    if user is None or password is None:
        return None
    if password == "-":
        password = click.prompt("Password", hide_input=True)
    return user, password


def command() -> click.Command:
    """The click command behind `main`, built on first use; `ModuleNotFoundError` without click."""
    global _COMMAND
    if _COMMAND is not None:
        return _COMMAND
    try:
        import click
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(NEEDS_CLICK, name="click") from exc

    pair = click.Tuple([str, str])
    params: list[click.Parameter] = [
        click.Argument(["url"]),
        click.Option(
            ["-m", "--method"],
            metavar="METHOD",
            help="Request method, such as GET, POST, PUT, PATCH, DELETE, OPTIONS or HEAD. "
            "[default: POST when a body is given, else GET]",
        ),
        click.Option(
            ["-p", "--params"], type=pair, multiple=True, metavar="NAME VALUE",
            help="Add a query parameter to the URL (repeatable).",
        ),
        click.Option(["-c", "--content"], metavar="TEXT", help="Send TEXT as the request body."),
        click.Option(
            ["-d", "--data"], type=pair, multiple=True, metavar="NAME VALUE",
            help="Add a form field to the request body (repeatable).",
        ),
        click.Option(
            ["-f", "--files"], type=click.Tuple([str, click.File("rb")]), multiple=True,
            metavar="NAME FILENAME", help="Upload a file as a multipart form field (repeatable).",
        ),
        click.Option(
            ["-j", "--json", "json_body"], metavar="TEXT", callback=_parse_json,
            help="Send TEXT, which must be valid JSON, as a JSON request body.",
        ),
        click.Option(
            ["-h", "--headers"], type=pair, multiple=True, metavar="NAME VALUE",
            help="Add a request header (repeatable).",
        ),
        click.Option(
            ["--cookies"], type=pair, multiple=True, metavar="NAME VALUE",
            help="Send a cookie (repeatable).",
        ),
        click.Option(
            ["--auth"], type=pair, default=(None, None), metavar="USER PASS", callback=_check_auth,
            help="Basic authentication; a PASS of '-' asks for it at a prompt. "
            "--verbose shows the Authorization header, which reveals the password.",
        ),
        click.Option(["--proxy"], metavar="URL", help="Send the request through this proxy."),
        click.Option(
            ["--timeout"], type=float, default=5.0, show_default=True, metavar="SECONDS",
            help="Give up on connecting, reading or writing after this long.",
        ),
        click.Option(["--follow-redirects"], is_flag=True, help="Follow redirects."),
        click.Option(
            ["--no-verify", "verify"], is_flag=True, flag_value=False, default=True,
            help="Do not verify the server's TLS certificate.",
        ),
        click.Option(["--http2"], is_flag=True, help="Use HTTP/2 if the server offers it."),
        click.Option(
            ["--download"], type=click.Path(dir_okay=False), metavar="FILE",
            help="Save the response body to FILE instead of showing it.",
        ),
        click.Option(
            ["-v", "--verbose"], is_flag=True,
            help="Show the request head as well as the response.",
        ),
    ]  # fmt: skip
    _COMMAND = click.Command(
        "conch",
        callback=_run,
        params=params,
        help="Send an HTTP request to URL and show the response.\n\n"
        "URL may be http://, https:// or file:// (a local file).",
        epilog="Example: conch https://www.example.org -v",
    )
    return _COMMAND


class _Main:
    """`conch.main`: the command line, as `httpx.main`; click loads when first used.

    Call it (``main()`` reads ``sys.argv``, ``main(["URL", "-v"])`` takes arguments) or
    use it where click expects a command; other attributes are the click command's.
    """

    name = "conch"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            cli = command()
        except ModuleNotFoundError as exc:
            if exc.name != "click":
                raise
            sys.exit(NEEDS_CLICK)
        return cli(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # keep copy, pickle and inspect probes away from click
            raise AttributeError(name)
        return getattr(command(), name)

    def __repr__(self) -> str:
        return "<conch command line: conch.main>"


main = _Main()
