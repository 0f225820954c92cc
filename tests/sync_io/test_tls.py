"""SSL contexts: httpx's create_ssl_context, and context_for with its cache."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from io_common import tls
from sansio.exceptions import ConnectError
from sansio.tls import ALPN_H1, ALPN_H2_H1, TLSConfig
from sync_io.backend import connect_tcp
from sync_io.tls import context_for, create_ssl_context
from tests.sync_io.test_backend import Server, TLSFiles, echo, serve, tls_files

__all__ = ["serve", "tls_files"]  # fixtures shared with test_backend


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    tls._cache.clear()
    yield
    tls._cache.clear()


def handshake(server: Server, ctx: ssl.SSLContext, hostname: str = "localhost") -> str | None:
    """Connects and handshakes; returns the ALPN protocol chosen."""
    stream = connect_tcp(server.host, server.port, timeout=2.0)
    stream = stream.start_tls(ctx, hostname, 2.0)
    try:
        stream.send_all(b"ok", timeout=2.0)
        assert stream.recv(2, timeout=2.0) == b"ok"
        return stream.alpn_protocol
    finally:
        stream.close()


def hashed_ca_dir(files: TLSFiles, directory: Path) -> str:
    """A directory in OpenSSL's capath layout (<subject hash>.0) holding the CA."""
    openssl = shutil.which("openssl")
    if openssl is None:  # pragma: no cover - depends on the machine
        pytest.skip("the openssl command is needed to name a capath file")
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", files.ca_file],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    directory.mkdir(exist_ok=True)
    shutil.copy(files.ca_file, directory / f"{digest}.0")
    return str(directory)


# --------------------------------------------------------------------------- create_ssl_context


def test_default_context_verifies_with_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = create_ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    reference = ssl.create_default_context(cafile=certifi.where())
    assert len(ctx.get_ca_certs()) == len(reference.get_ca_certs()) > 0


def test_verify_false_checks_nothing(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    ctx = create_ssl_context(verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert not ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    server = serve(echo, tls=tls_files.server_context())
    handshake(server, ctx, hostname="wrong.example")


def test_verify_path_file_and_directory(
    serve: Callable[..., Server], tls_files: TLSFiles, tmp_path: Path
) -> None:
    server = serve(echo, tls=tls_files.server_context())
    with pytest.warns(DeprecationWarning, match="verify=<str>"):
        ctx = create_ssl_context(verify=tls_files.ca_file)
    handshake(server, ctx)
    capath = hashed_ca_dir(tls_files, tmp_path / "capath")
    with pytest.warns(DeprecationWarning, match="deprecated"):
        ctx = create_ssl_context(verify=capath)
    handshake(server, ctx)
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(FileNotFoundError):
        create_ssl_context(verify=str(tmp_path / "missing.pem"))


def test_verify_context_is_returned_as_is() -> None:
    given = ssl.create_default_context()
    assert create_ssl_context(verify=given) is given
    with pytest.raises(TypeError, match="verify must be"):
        create_ssl_context(verify=None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("client@example.org")
    directory = tmp_path_factory.mktemp("client")
    paths = {
        "ca": str(directory / "ca.pem"),
        "combined": str(directory / "combined.pem"),
        "cert": str(directory / "cert.pem"),
        "key": str(directory / "key.pem"),
        "encrypted_key": str(directory / "encrypted.pem"),
    }
    ca.cert_pem.write_to_path(paths["ca"])
    leaf.private_key_and_cert_chain_pem.write_to_path(paths["combined"])
    leaf.cert_chain_pems[0].write_to_path(paths["cert"])
    leaf.private_key_pem.write_to_path(paths["key"])
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    Path(paths["encrypted_key"]).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"sesame"),
        )
    )
    return paths


def requires_client_cert(conn: socket.socket) -> None:
    assert isinstance(conn, ssl.SSLSocket)
    peer = conn.getpeercert()
    assert peer is not None
    assert peer["subjectAltName"] == (("email", "client@example.org"),)
    conn.sendall(b"client@example.org")
    echo(conn)


def test_client_certificates(
    serve: Callable[..., Server], tls_files: TLSFiles, client_cert: dict[str, str]
) -> None:
    server_ctx = tls_files.server_context()
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(client_cert["ca"])
    server = serve(requires_client_cert, tls=server_ctx)
    forms: list[str | tuple[str, str] | tuple[str, str, str]] = [
        client_cert["combined"],
        (client_cert["cert"], client_cert["key"]),
        (client_cert["cert"], client_cert["encrypted_key"], "sesame"),
    ]
    for cert in forms:
        given = tls_files.client_context()
        with pytest.warns(DeprecationWarning, match="cert="):
            ctx = create_ssl_context(verify=given, cert=cert)
        assert ctx is given
        stream = connect_tcp(server.host, server.port, timeout=2.0).start_tls(ctx, "localhost", 2.0)
        name = b""
        while len(name) < len(b"client@example.org"):
            chunk = stream.recv(100, timeout=2.0)
            assert chunk, "the server hung up"
            name += chunk
        assert name == b"client@example.org"
        stream.close()
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(ssl.SSLError):
        create_ssl_context(cert=(client_cert["cert"], client_cert["encrypted_key"], "wrong"))


def test_environment_ca_honoured_only_with_trust_env(
    serve: Callable[..., Server],
    tls_files: TLSFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(echo, tls=tls_files.server_context())
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.ca_file)
    handshake(server, create_ssl_context())
    with pytest.raises(ConnectError):
        handshake(server, create_ssl_context(trust_env=False))

    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", hashed_ca_dir(tls_files, tmp_path / "capath"))
    handshake(server, create_ssl_context())
    with pytest.raises(ConnectError):
        handshake(server, create_ssl_context(trust_env=False))

    monkeypatch.setenv("SSL_CERT_FILE", "")  # empty counts as unset, as in httpx
    handshake(server, create_ssl_context())


# --------------------------------------------------------------------------- context_for


def test_context_for_sets_alpn(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    server = serve(echo, tls=tls_files.server_context(alpn=["h2", "http/1.1"]))
    environ = {"SSL_CERT_FILE": tls_files.ca_file}
    assert handshake(server, context_for(TLSConfig(alpn=ALPN_H2_H1), environ)) == "h2"
    assert handshake(server, context_for(TLSConfig(alpn=ALPN_H1), environ)) == "http/1.1"
    unverified = context_for(TLSConfig(verify=False, alpn=ALPN_H2_H1), {})
    assert handshake(server, unverified, hostname="other.example") == "h2"


def test_context_for_environment(serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    server = serve(echo, tls=tls_files.server_context())
    environ = {"SSL_CERT_FILE": tls_files.ca_file}
    handshake(server, context_for(TLSConfig(), environ))
    with pytest.raises(ConnectError):
        handshake(server, context_for(TLSConfig(trust_env=False), environ))
    with pytest.raises(ConnectError):
        handshake(server, context_for(TLSConfig(), {}))


def test_default_context_is_built_once_and_shared() -> None:
    environ = {"HOME": "/root"}
    first = context_for(TLSConfig(), environ)
    started = time.perf_counter()
    for _ in range(1000):
        assert context_for(TLSConfig(), environ) is first
    elapsed = time.perf_counter() - started
    # Building one context parses ~150 certificates (milliseconds); 1000 lookups must not.
    assert elapsed < 0.5
    assert len(tls._cache) == 1
    # Each trust setting and ALPN list gets its own context.
    others = [
        context_for(TLSConfig(alpn=ALPN_H2_H1), environ),
        context_for(TLSConfig(trust_env=False), environ),
        context_for(TLSConfig(verify=False), environ),
        context_for(TLSConfig(verify=False, alpn=ALPN_H2_H1), environ),
    ]
    assert len({id(ctx) for ctx in [first, *others]}) == 5
    assert context_for(TLSConfig(verify=False), {}) is others[2]
    assert context_for(TLSConfig(trust_env=False), {"SSL_CERT_FILE": "x"}) is others[1]


def test_cache_key_follows_environment(tls_files: TLSFiles, tmp_path: Path) -> None:
    plain = context_for(TLSConfig(), {})
    from_file = context_for(TLSConfig(), {"SSL_CERT_FILE": tls_files.ca_file})
    assert from_file is not plain
    assert from_file is context_for(TLSConfig(), {"SSL_CERT_FILE": tls_files.ca_file})
    # SSL_CERT_DIR is ignored when SSL_CERT_FILE is set, as in httpx.
    both = {"SSL_CERT_FILE": tls_files.ca_file, "SSL_CERT_DIR": str(tmp_path)}
    assert context_for(TLSConfig(), both) is from_file
    from_dir = context_for(TLSConfig(), {"SSL_CERT_DIR": str(tmp_path)})
    assert from_dir is not plain
    assert from_dir is not from_file


def test_cache_size_limit(tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls, "CONTEXT_CACHE_SIZE", 3)
    alpns = [("p1",), ("p2",), ("p3",), ("p4",)]
    contexts = [context_for(TLSConfig(verify=False, alpn=alpn), {}) for alpn in alpns[:3]]
    assert len(tls._cache) == 3  # at the limit: all kept
    assert context_for(TLSConfig(verify=False, alpn=alpns[0]), {}) is contexts[0]
    context_for(TLSConfig(verify=False, alpn=alpns[3]), {})  # one past: starts over
    assert len(tls._cache) == 1
    assert context_for(TLSConfig(verify=False, alpn=alpns[0]), {}) is not contexts[0]


def test_user_context_gets_alpn_and_is_not_copied(
    serve: Callable[..., Server], tls_files: TLSFiles
) -> None:
    server = serve(echo, tls=tls_files.server_context(alpn=["h2", "http/1.1"]))
    given = tls_files.client_context()
    ctx = context_for(TLSConfig(verify=given, alpn=ALPN_H2_H1), {})
    assert ctx is given
    assert handshake(server, ctx) == "h2"
    assert not tls._cache  # never shared with another configuration


def test_file_configs_are_shared_until_a_file_changes(
    serve: Callable[..., Server], tls_files: TLSFiles, client_cert: dict[str, str], tmp_path: Path
) -> None:
    server = serve(echo, tls=tls_files.server_context())
    ca_file = tmp_path / "ca.pem"
    shutil.copy(tls_files.ca_file, ca_file)
    config = TLSConfig(verify=str(ca_file))
    first = context_for(config, {})
    assert context_for(config, {}) is first
    handshake(server, first)
    os.utime(ca_file, ns=(0, 0))  # rewritten (here: touched) since: read again
    second = context_for(config, {})
    assert second is not first
    handshake(server, second)
    assert context_for(config, {}) is second

    with_cert = context_for(TLSConfig(cert=client_cert["combined"]), {})
    assert with_cert.verify_mode == ssl.CERT_REQUIRED
    assert context_for(TLSConfig(cert=client_cert["combined"]), {}) is with_cert
    pair = (client_cert["cert"], client_cert["key"])
    assert context_for(TLSConfig(cert=pair), {}) is context_for(TLSConfig(cert=pair), {})
    assert context_for(TLSConfig(cert=pair), {}) is not with_cert

    with pytest.raises(FileNotFoundError):
        context_for(TLSConfig(verify=str(tmp_path / "missing.pem")), {})


def test_no_context_is_built_at_import() -> None:
    code = (
        "import sys, ssl\n"
        "calls = []\n"
        "real = ssl.create_default_context\n"
        "ssl.create_default_context = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        "import sync_io.tls\n"
        "assert not calls, calls\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
