"""A throwaway nginx on 127.0.0.1 for the benchmarks: config, files and certificate in a
temporary directory, stopped and removed on exit (also on Ctrl-C and SIGTERM).

nginx (master and its one worker) is pinned to one core, the clients to another; the
worker's pid and the stub_status port let each client process read nginx's CPU time and
accepted connections around its timed window.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx.conf.template"

SMALL_SIZE = 1024  # "a small static body": about one KiB
MEDIUM_SIZE = 1024 * 1024  # the 1 MiB download, repeated on one connection
BIG_SIZE = 100 * 1024 * 1024  # the 100 MiB streamed download
_WRITE_CHUNK = 1024 * 1024  # the big file is written in 1 MiB pieces to keep memory flat
STARTUP_TIMEOUT = 10.0  # seconds for nginx to accept connections on every port
STOP_TIMEOUT = 5.0  # seconds for nginx to exit after SIGTERM before it is killed


class NginxMissing(RuntimeError):
    """nginx is not installed (or cannot start)."""


def find_nginx() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def install_nginx() -> str | None:
    """Install Debian's nginx when we may (root with apt-get); None when that fails."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    print("nginx is missing: installing Debian's package (apt-get install nginx)", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        if subprocess.run(command, env=environment, check=False).returncode != 0:
            return None
    return find_nginx()


def nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    if match is None:
        return (0, 0, 0)
    return tuple(int(part) for part in match.groups())


def _free_ports(count: int) -> list[int]:
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


def _write_certificates(root: Path) -> Path:
    """Write server.pem/server.key for 127.0.0.1 and return the CA file clients trust."""
    ca_path = root / "ca.pem"
    try:
        import trustme
    except ImportError:
        trustme = None
    if trustme is not None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(root / "server.key"))
        cert.cert_chain_pems[0].write_to_path(str(root / "server.pem"))
        ca.cert_pem.write_to_path(str(ca_path))
        return ca_path
    # Without trustme: a self-signed certificate that is its own CA.
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(root / "server.key"),
            "-out",
            str(root / "server.pem"),
        ],
        check=True,
        capture_output=True,
    )
    shutil.copyfile(root / "server.pem", ca_path)
    return ca_path


def _write_files(www: Path) -> None:
    (www / "small").write_bytes(bytes(i % 251 for i in range(SMALL_SIZE)))
    piece = os.urandom(_WRITE_CHUNK)  # incompressible, so no layer can cheat
    (www / "medium").write_bytes(piece[:MEDIUM_SIZE])
    with open(www / "big", "wb") as f:
        for _ in range(BIG_SIZE // _WRITE_CHUNK):
            f.write(piece)


def _children(pid: int) -> list[int]:
    """The pids whose parent is `pid` (nginx's worker), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _wait_for_worker(master: int, deadline: float) -> int:
    while True:
        children = _children(master)
        if len(children) == 1:
            return children[0]
        if time.monotonic() > deadline:
            raise NginxMissing(f"nginx master {master} has {len(children)} workers, expected 1")
        time.sleep(0.02)


def _pin(cores: set[int] | None) -> None:
    if cores:
        os.sched_setaffinity(0, cores)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise NginxMissing(f"nginx exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise NginxMissing(f"nginx did not listen on port {port} in time") from None
            time.sleep(0.02)


@dataclass
class Nginx:
    """A running nginx; `stop()` is idempotent."""

    binary: str
    version: tuple[int, ...]
    root: Path
    port_h1: int
    port_tls: int
    port_h2: int
    port_h2c: int
    port_status: int
    ca_file: str
    cores: set[int] | None = None  # where nginx runs; None: not pinned
    proc: subprocess.Popen[bytes] | None = None
    worker_pid: int = 0

    def url(self, kind: str, path: str) -> str:
        """`kind`: h1 (plain HTTP/1.1), tls (HTTP/1.1 over TLS), h2 (TLS, ALPN) or h2c."""
        scheme, port = {
            "h1": ("http", self.port_h1),
            "tls": ("https", self.port_tls),
            "h2": ("https", self.port_h2),
            "h2c": ("http", self.port_h2c),
        }[kind]
        return f"{scheme}://127.0.0.1:{port}/{path}"

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            # nginx runs in its own session: signal the master, which stops its worker.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_nginx(binary: str, cores: set[int] | None = None) -> Nginx:
    version = nginx_version(binary)
    # In memory when possible: the files are served and the uploads written without a disk.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="conch-bench-", dir=shm))
    server = None
    try:
        # nginx's worker drops root privileges: let it read the temporary tree.
        root.chmod(0o755)
        www = root / "www"
        (root / "tmp").mkdir()
        www.mkdir()
        www.chmod(0o755)
        (www / "upload").mkdir()
        (www / "upload").chmod(0o777)  # the worker (an unprivileged user) writes uploads here
        _write_files(www)
        ca_file = _write_certificates(root)
        for name in ("server.pem", "server.key"):
            (root / name).chmod(0o644)
        ports = _free_ports(5)
        server = Nginx(binary, version, root, *ports, ca_file=str(ca_file), cores=cores)
        if version >= (1, 25, 1):  # "listen ... http2" became "http2 on;" in 1.25.1
            listen_flag, directive = "", "http2 on;"
        else:
            listen_flag, directive = "http2", ""
        config = TEMPLATE.read_text()
        for key, value in {
            "@ROOT@": str(root),
            "@PORT_H1@": str(server.port_h1),
            "@PORT_TLS@": str(server.port_tls),
            "@PORT_H2@": str(server.port_h2),
            "@PORT_H2C@": str(server.port_h2c),
            "@PORT_STATUS@": str(server.port_status),
            "@H2_LISTEN_FLAG@": listen_flag,
            "@H2_DIRECTIVE@": directive,
            "@HTTP2_LIMITS@": "http2_max_concurrent_streams 128;",
        }.items():
            config = config.replace(key, value)
        conf_path = root / "nginx.conf"
        conf_path.write_text(config)
        with open(root / "stderr.log", "wb") as stderr:
            server.proc = subprocess.Popen(
                [binary, "-p", str(root), "-c", str(conf_path)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches us, and we stop nginx ourselves
                # The worker inherits the master's affinity when it is forked.
                preexec_fn=partial(_pin, cores),
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for port in ports:
            _wait_for_port(port, server.proc, deadline)
        server.worker_pid = _wait_for_worker(server.proc.pid, deadline)
        return server
    except BaseException as exc:
        log = ""
        for name in ("stderr.log", "error.log"):
            path = root / name
            if path.exists():
                log += path.read_text(errors="replace")
        if server is not None:
            server.stop()
        else:
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, NginxMissing) and log:
            raise NginxMissing(f"{exc}\n{log.strip()}") from None
        raise
