"""Tests for `sansio.env`: the injected clock, randomness and environment."""

from __future__ import annotations

import dataclasses

import pytest

from sansio import env


def test_bare_env_has_no_clock() -> None:
    bare = env.Env()
    with pytest.raises(RuntimeError, match="no clock"):
        bare.clock()
    with pytest.raises(RuntimeError, match="no clock"):
        bare.wall_clock()


def test_bare_env_has_no_random_source() -> None:
    with pytest.raises(RuntimeError, match="no random source"):
        env.Env().random_bytes(4)


def test_bare_env_has_empty_environment_and_no_netrc() -> None:
    bare = env.Env()
    assert dict(bare.environ) == {}
    assert bare.netrc_text is None


def test_environ_default_is_not_shared() -> None:
    assert env.Env().environ is not env.Env().environ


def test_env_is_frozen_and_keyword_only() -> None:
    e = env.Env(netrc_text="machine x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.netrc_text = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.Env(lambda: 1.0)  # type: ignore[call-arg]


def test_conftest_installs_a_deterministic_env(deterministic_env: env.Env) -> None:
    assert env.current() is deterministic_env
    assert env.current().clock() == 1000.0
    assert env.current().wall_clock() == 1_700_000_000.0
    assert env.current().random_bytes(3) == b"\x00\x01\x02"


def test_install_a_whole_env_returns_the_previous_one() -> None:
    before = env.current()
    mine = env.Env(clock=lambda: 5.0, environ={"HTTP_PROXY": "http://p"})
    previous = env.install(mine)
    try:
        assert previous is before
        assert env.current() == mine
        assert env.current().clock() == 5.0
        assert env.current().environ == {"HTTP_PROXY": "http://p"}
    finally:
        env.install(previous)
    assert env.current() is before


def test_install_changes_keeps_the_other_fields() -> None:
    before = env.current()
    previous = env.install(netrc_text="machine example.org login u password p")
    try:
        assert previous is before
        now = env.current()
        assert now.netrc_text == "machine example.org login u password p"
        assert now.clock is before.clock
        assert now.random_bytes is before.random_bytes
    finally:
        env.install(previous)
    assert env.current() is before


def test_install_env_with_changes_applies_changes_on_top() -> None:
    previous = env.install(env.Env(), clock=lambda: 7.0)
    try:
        assert env.current().clock() == 7.0
        with pytest.raises(RuntimeError):
            env.current().random_bytes(1)
    finally:
        env.install(previous)


def test_install_unknown_field_is_a_type_error() -> None:
    before = env.current()
    with pytest.raises(TypeError):
        env.install(no_such_field=1)
    assert env.current() is before


def test_install_defaults_fills_only_unset_fields() -> None:
    fixed = env.Env(clock=lambda: 1.0)
    previous = env.install(fixed)
    try:
        env.install_defaults(
            clock=lambda: 2.0,
            wall_clock=lambda: 3.0,
            random_bytes=lambda n: b"r" * n,
            environ={"A": "1"},
        )
        now = env.current()
        assert now.clock() == 1.0  # the embedder's clock is kept
        assert now.wall_clock() == 3.0
        assert now.random_bytes(2) == b"rr"
        assert now.environ == {"A": "1"}
        env.install_defaults(
            clock=lambda: 9.0, wall_clock=lambda: 9.0, random_bytes=bytes, environ={"B": "2"}
        )
        assert env.current() is now  # nothing left to fill in
    finally:
        env.install(previous)


def test_importing_a_shell_installs_the_real_world() -> None:
    import subprocess
    import sys

    script = (
        "import sync_io, sansio.env as e, time; c = e.current(); "
        "assert abs(c.wall_clock() - time.time()) < 5; assert len(c.random_bytes(8)) == 8; "
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
