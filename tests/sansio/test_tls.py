"""TLSConfig: plain, hashable TLS settings; alpn_for."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest

from sansio.tls import ALPN_H1, ALPN_H2, ALPN_H2_H1, DEFAULT_TLS_CONFIG, TLSConfig, alpn_for


def context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class OddContext(ssl.SSLContext):
    """Claims equality with everything and cannot be hashed."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return True


class DuckContext:
    """Anything with wrap_socket passes: the core checks by duck typing, not by ssl."""

    def wrap_socket(self) -> None:  # pragma: no cover - never called
        raise AssertionError


def test_alpn_for() -> None:
    assert alpn_for(http1=True, http2=False) == ("http/1.1",)
    assert alpn_for(http1=True, http2=True) == ("h2", "http/1.1")
    assert alpn_for(http1=False, http2=True) == ("h2",)
    assert alpn_for(True, False) is ALPN_H1
    assert alpn_for(True, True) is ALPN_H2_H1
    assert alpn_for(False, True) is ALPN_H2
    with pytest.raises(ValueError, match="at least one"):
        alpn_for(http1=False, http2=False)


def test_defaults() -> None:
    config = TLSConfig()
    assert config.verify is True
    assert config.cert is None
    assert config.trust_env is True
    assert config.alpn == ("http/1.1",)
    assert config.server_hostname is None
    assert config == DEFAULT_TLS_CONFIG
    assert hash(config) == hash(DEFAULT_TLS_CONFIG)


def test_replace_gives_an_equal_fresh_key() -> None:
    base = TLSConfig(alpn=ALPN_H2_H1)
    named = base.__replace__(server_hostname="example.org")
    assert named == TLSConfig(alpn=ALPN_H2_H1, server_hostname="example.org")
    assert hash(named) == hash(TLSConfig(alpn=ALPN_H2_H1, server_hostname="example.org"))
    assert named != base
    assert "_key" not in repr(named)


def test_frozen_and_keyword_only() -> None:
    config = TLSConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.verify = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        TLSConfig(False)  # type: ignore[call-arg]
    assert not hasattr(config, "__dict__")


@pytest.mark.parametrize(
    "changes",
    [
        {"verify": False},
        {"verify": "/etc/ssl/ca.pem"},
        {"cert": "client.pem"},
        {"cert": ("client.pem", "key.pem")},
        {"cert": ("client.pem", "key.pem", "password")},
        {"trust_env": False},
        {"alpn": ALPN_H2_H1},
        {"server_hostname": "example.org"},
    ],
)
def test_every_setting_is_part_of_the_key(changes: dict[str, object]) -> None:
    changed = TLSConfig(**changes)  # type: ignore[arg-type]
    assert changed != TLSConfig()
    assert changed == TLSConfig(**changes)  # type: ignore[arg-type]
    assert hash(changed) == hash(TLSConfig(**changes))  # type: ignore[arg-type]
    pool = {TLSConfig(): "default", changed: "changed"}
    assert pool[TLSConfig(**changes)] == "changed"  # type: ignore[arg-type]


def test_context_compared_by_identity() -> None:
    one, two = context(), context()
    assert TLSConfig(verify=one) == TLSConfig(verify=one)
    assert TLSConfig(verify=one) != TLSConfig(verify=two)
    assert hash(TLSConfig(verify=one)) == hash(TLSConfig(verify=one))
    # Even an object that claims equality with everything, and cannot be hashed.
    odd = OddContext(ssl.PROTOCOL_TLS_CLIENT)
    config = TLSConfig(verify=odd)
    assert config == config
    assert config == TLSConfig(verify=odd)
    assert config != TLSConfig(verify=OddContext(ssl.PROTOCOL_TLS_CLIENT))
    assert {config: 1}[TLSConfig(verify=odd)] == 1
    duck = DuckContext()
    assert TLSConfig(verify=duck) == TLSConfig(verify=duck)  # type: ignore[arg-type]
    # An SSLContext never equals a bool or a path.
    assert TLSConfig(verify=one) != TLSConfig(verify=True)
    assert TLSConfig() != "not a config"


def test_a_given_context_with_a_client_certificate_is_another_key() -> None:
    ctx = context()
    bare, with_cert = TLSConfig(verify=ctx), TLSConfig(verify=ctx, cert="client.pem")
    assert bare != with_cert
    assert with_cert == TLSConfig(verify=ctx, cert="client.pem")
    pool = {bare: "bare", with_cert: "with cert"}
    assert pool[TLSConfig(verify=ctx, cert="client.pem")] == "with cert"
    assert pool[TLSConfig(verify=ctx)] == "bare"


def test_paths_are_normalised(tmp_path: Path) -> None:
    assert TLSConfig(verify=tmp_path).verify == str(tmp_path)  # type: ignore[arg-type]
    assert TLSConfig(cert=tmp_path / "c.pem").cert == str(tmp_path / "c.pem")  # type: ignore[arg-type]
    pair = TLSConfig(cert=(tmp_path / "c.pem", "k.pem"))  # type: ignore[arg-type]
    assert pair.cert == (str(tmp_path / "c.pem"), "k.pem")


def test_alpn_sequence_becomes_tuple() -> None:
    config = TLSConfig(alpn=["h2", "http/1.1"])  # type: ignore[arg-type]
    assert config.alpn == ("h2", "http/1.1")
    assert config == TLSConfig(alpn=ALPN_H2_H1)
    assert TLSConfig(alpn=ALPN_H2_H1).alpn is ALPN_H2_H1  # no copy


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"verify": None}, TypeError, "verify must be"),
        ({"verify": 1}, TypeError, "verify must be"),
        ({"verify": b"/ca.pem"}, TypeError, "verify must be"),
        ({"cert": 42}, TypeError, "cert must be"),
        ({"cert": ("only-one",)}, TypeError, "cert must be"),
        ({"cert": ("a", "b", "c", "d")}, TypeError, "cert must be"),
        ({"cert": ("a", 2)}, TypeError, "cert must be"),
        ({"cert": ["a", "b"]}, TypeError, "cert must be"),
        ({"alpn": ()}, ValueError, "alpn must be"),
        ({"alpn": ("h2", "")}, ValueError, "alpn must be"),
        ({"alpn": (b"h2",)}, ValueError, "alpn must be"),
        ({"server_hostname": ""}, TypeError, "server_hostname"),
        ({"server_hostname": b"example.org"}, TypeError, "server_hostname"),
    ],
)
def test_bad_settings_are_rejected(
    changes: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TLSConfig(**changes)  # type: ignore[arg-type]
