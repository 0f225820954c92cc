"""Real servers on 127.0.0.1 for the interop tests: nginx, hypercorn and uvicorn.

Each launcher writes what its server needs into a directory it is given (config, files,
logs), starts the server as the current user, waits until every port accepts, and returns
a handle whose ``stop()`` ends the process. When a server cannot be found or started, the
launcher raises `ServerUnavailable` with a message naming the server and the reason (with
the tail of its log), which the tests turn into a visible skip.

- `start_nginx`: Debian's nginx, single process (``master_process off``), serving static
  files with gzip, redirects and a keep-alive HTTP/1.1 port, a TLS port offering h2 and
  http/1.1 through ALPN, and an h2c (prior knowledge) port. Every response carries the
  server's connection serial number (``X-Connection``), so tests count connections from
  the server's side.
- `start_hypercorn`: ``conformance/asgi_app.py`` over TLS (ALPN h2, http/1.1) and plain
  TCP (HTTP/1.1, and h2c by prior knowledge or Upgrade).
- `start_uvicorn`: the same app over plain HTTP/1.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

__all__ = [
    "AsgiServer",
    "Certificates",
    "Nginx",
    "ServerUnavailable",
    "make_certificates",
    "start_hypercorn",
    "start_nginx",
    "start_retrying",
    "start_uvicorn",
]

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0  # seconds until every port accepts: Python servers import for ~1 s
STOP_TIMEOUT = 5.0  # seconds to exit after SIGTERM before the process is killed
LOG_TAIL = 2000  # characters of a server's log quoted when it fails to start
PORT_ATTEMPTS = 3  # a port found free may be taken by another process before the server binds

SMALL_TEXT = "".join(f"line {i:04}: conch fetches this text file from nginx.\n" for i in range(100))
BIG_SIZE = 5 * 1024 * 1024  # the HTTP/1.1 large download
HUGE_SIZE = 10 * 1024 * 1024  # the HTTP/2 download: well past every flow-control window
UPLOAD_LIMIT = 16 * 1024 * 1024  # nginx's client_max_body_size: room for a 10 MiB upload
H2_SYNTAX_CHANGE = (1, 25, 1)  # nginx moved "listen ... http2" to "http2 on;" here


class ServerUnavailable(RuntimeError):
    """A server is not installed or did not start; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Certificates:
    """A trustme CA and a certificate for 127.0.0.1/localhost, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(root: Path) -> Certificates:
    """Write a fresh CA and a server certificate issued by it under ``root``."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    certs = Certificates(root / "ca.pem", root / "server.pem", root / "server.key")
    ca.cert_pem.write_to_path(str(certs.ca_file))
    issued.private_key_pem.write_to_path(str(certs.key_file))
    # The leaf and its chain, as servers expect in one certificate file.
    with open(certs.cert_file, "wb") as f:
        for blob in issued.cert_chain_pems:
            f.write(blob.bytes())
    return certs


@dataclass
class _Process:
    """A started server process with its log file."""

    name: str
    proc: subprocess.Popen[bytes] | None
    logs: list[Path]  # the first one receives the process's stdout and stderr

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self) -> str:
        text = ""
        for path in self.logs:
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return text[-LOG_TAIL:].strip()

    def wait_for_ports(self, ports: list[int]) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for port in ports:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    self._fail(f"exited with status {code} while starting")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        self._fail(f"did not accept on 127.0.0.1:{port} in {STARTUP_TIMEOUT} s")
                    time.sleep(0.02)

    def _fail(self, reason: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise ServerUnavailable(
            f"{self.name} {reason}" + (f"; its log ends:\n{tail}" if tail else "")
        )


def _start(name: str, argv: list[str], logs: list[Path], ports: list[int]) -> _Process:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with open(logs[0], "wb") as out:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=REPO, env=env
            )
        except OSError as exc:
            raise ServerUnavailable(f"{name} could not be started: {exc}") from None
    process = _Process(name, proc, logs)
    process.wait_for_ports(ports)
    return process


def start_retrying(start: Callable[[Path], T], new_root: Callable[[], Path]) -> T:
    """``start(new_root())``, again with a fresh directory (and fresh ports) when another
    process took a port between `free_ports` and the server's bind."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return start(new_root())
        except ServerUnavailable as exc:
            if attempt == PORT_ATTEMPTS or "address already in use" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# -- nginx ----------------------------------------------------------------------------

_NGINX_CONF = """\
# Written by conformance/servers.py for one test session; @NAME@ are placeholders.
worker_processes 1;
daemon off;
master_process off;
pid @ROOT@/nginx.pid;
error_log @ROOT@/error.log info;  # info: includes why nginx closed a connection

events {
    worker_connections 1024;
}

http {
    types {
        text/plain txt;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    access_log off;
    server_tokens off;
    keepalive_requests 10000;
    keepalive_timeout 60s;
    client_max_body_size @UPLOAD_LIMIT@;
    http2_max_concurrent_streams 128;

    gzip on;
    gzip_types text/plain;
    gzip_min_length 256;

    client_body_temp_path @ROOT@/tmp/body;
    proxy_temp_path @ROOT@/tmp/proxy;
    fastcgi_temp_path @ROOT@/tmp/fastcgi;
    uwsgi_temp_path @ROOT@/tmp/uwsgi;
    scgi_temp_path @ROOT@/tmp/scgi;

    # HTTP/1.1 over TCP.
    server {
        listen 127.0.0.1:@PORT_H1@;
        include @ROOT@/site.conf;
    }

    # TLS: ALPN offers h2 and http/1.1.
    server {
        listen 127.0.0.1:@PORT_TLS@ ssl @H2_LISTEN_FLAG@;
        @H2_DIRECTIVE@
        ssl_certificate @CERT@;
        ssl_certificate_key @KEY@;
        ssl_protocols TLSv1.2 TLSv1.3;
        include @ROOT@/site.conf;
    }

    # h2c with prior knowledge (nginx does not implement Upgrade: h2c).
    server {
        listen 127.0.0.1:@PORT_H2C@ @H2_LISTEN_FLAG@;
        @H2_DIRECTIVE@
        include @ROOT@/site.conf;
    }
}
"""

_SITE_CONF = """\
root @ROOT@/www;
# The connection's serial number and its request count, on every response.
add_header X-Connection $connection always;
add_header X-Connection-Requests $connection_requests always;

location = /redirect-301 { return 301 /target.txt; }
location = /redirect-302 {
    absolute_redirect off;  # a relative Location, resolved by the client
    return 302 /target.txt;
}
location = /redirect-loop { return 302 /redirect-loop; }
# WebDAV PUT/DELETE: nginx reads a whole request body and stores it, so an upload can be
# read back and compared.
location /dav/ {
    dav_methods PUT DELETE;
    create_full_put_path on;
}
"""


@dataclass
class Nginx:
    """A running nginx; ``files`` maps each served path to its bytes."""

    version: tuple[int, ...]
    port_h1: int
    port_tls: int
    port_h2c: int
    certificates: Certificates
    files: dict[str, bytes]
    _process: _Process = field(repr=False)

    def url(self, path: str, kind: str = "h1") -> str:
        """The URL of ``path`` on the HTTP/1.1 (``h1``), ``tls`` or ``h2c`` port."""
        if kind == "tls":
            return f"https://127.0.0.1:{self.port_tls}{path}"
        port = self.port_h2c if kind == "h2c" else self.port_h1
        return f"http://127.0.0.1:{port}{path}"

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()

    def stop(self) -> None:
        self._process.stop()


def find_nginx() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    return tuple(int(part) for part in match.groups()) if match else (0, 0, 0)


def start_nginx(root: Path, certificates: Certificates) -> Nginx:
    """Start nginx with its files, config and logs in ``root`` (an empty directory)."""
    binary = find_nginx()
    if binary is None:
        raise ServerUnavailable(
            "nginx is not installed (on Debian: apt-get install nginx); "
            "looked on PATH, /usr/sbin and /usr/local/sbin"
        )
    version = _nginx_version(binary)
    www = root / "www"
    (www / "dav").mkdir(parents=True)
    (root / "tmp").mkdir()
    files = {
        "/hello.txt": SMALL_TEXT.encode("ascii"),
        "/target.txt": b"you were redirected here\n",
        "/big.bin": os.urandom(BIG_SIZE),  # incompressible, so no layer can cheat
        "/huge.bin": os.urandom(HUGE_SIZE),
    }
    for name, content in files.items():
        (www / name.lstrip("/")).write_bytes(content)
    ports = free_ports(3)
    if version >= H2_SYNTAX_CHANGE:
        listen_flag, directive = "", "http2 on;"
    else:
        listen_flag, directive = "http2", ""
    values = {
        "@ROOT@": str(root),
        "@PORT_H1@": str(ports[0]),
        "@PORT_TLS@": str(ports[1]),
        "@PORT_H2C@": str(ports[2]),
        "@H2_LISTEN_FLAG@": listen_flag,
        "@H2_DIRECTIVE@": directive,
        "@UPLOAD_LIMIT@": str(UPLOAD_LIMIT),
        "@CERT@": str(certificates.cert_file),
        "@KEY@": str(certificates.key_file),
    }
    for name, template in (("nginx.conf", _NGINX_CONF), ("site.conf", _SITE_CONF)):
        for key, value in values.items():
            template = template.replace(key, value)
        (root / name).write_text(template)
    argv = [binary, "-p", f"{root}/", "-c", str(root / "nginx.conf")]
    if version >= (1, 19, 5):  # -e: no attempt to open /var/log/nginx/error.log first
        argv[1:1] = ["-e", str(root / "error.log")]
    name = f"nginx {'.'.join(map(str, version))}"
    process = _start(name, argv, [root / "stderr.log", root / "error.log"], ports)
    port_h1, port_tls, port_h2c = ports
    return Nginx(version, port_h1, port_tls, port_h2c, certificates, files, process)


# -- hypercorn and uvicorn --------------------------------------------------------------

ASGI_APP = "conformance.asgi_app:app"


@dataclass
class AsgiServer:
    """A running ASGI server; ``port_tls`` is None when it serves plain TCP only."""

    name: str
    port: int
    port_tls: int | None
    _process: _Process = field(repr=False)

    def url(self, path: str, kind: str = "h1") -> str:
        """The URL of ``path`` on the plain port (``h1`` or ``h2c``) or the ``tls`` port."""
        if kind == "tls":
            assert self.port_tls is not None, f"{self.name} has no TLS port"
            return f"https://127.0.0.1:{self.port_tls}{path}"
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self._process.stop()


def _require(module: str, name: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ServerUnavailable(
            f"{name} is not installed in {sys.executable} (it comes with the test extra: "
            "pip install -e '.[test]')"
        )


def start_hypercorn(root: Path, certificates: Certificates) -> AsgiServer:
    """hypercorn serving the test app: TLS with ALPN h2/http/1.1, and plain TCP (HTTP/1.1,
    h2c by prior knowledge or Upgrade)."""
    _require("hypercorn", "hypercorn")
    port, port_tls = free_ports(2)
    argv = [
        sys.executable, "-m", "hypercorn", ASGI_APP,
        "--bind", f"127.0.0.1:{port_tls}",
        "--insecure-bind", f"127.0.0.1:{port}",
        "--certfile", str(certificates.cert_file),
        "--keyfile", str(certificates.key_file),
        "--log-level", "warning",
        "--graceful-timeout", "0",
    ]  # fmt: skip
    process = _start("hypercorn", argv, [root / "hypercorn.log"], [port, port_tls])
    return AsgiServer("hypercorn", port, port_tls, process)


def start_uvicorn(root: Path) -> AsgiServer:
    """uvicorn serving the test app over plain HTTP/1.1."""
    _require("uvicorn", "uvicorn")
    (port,) = free_ports(1)
    argv = [
        sys.executable, "-m", "uvicorn", ASGI_APP,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--log-level", "warning",
        "--no-access-log",
        "--lifespan", "on",
        "--timeout-graceful-shutdown", "1",
    ]  # fmt: skip
    process = _start("uvicorn", argv, [root / "uvicorn.log"], [port])
    return AsgiServer("uvicorn", port, None, process)
