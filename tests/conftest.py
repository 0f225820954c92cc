"""Shared fixtures: a deterministic environment for the core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sansio import env


def fixed_random(n: int) -> bytes:
    """Predictable "random" bytes, so tests can assert exact output."""
    return bytes(i % 256 for i in range(n))


@pytest.fixture(autouse=True)
def deterministic_env() -> Iterator[env.Env]:
    """Every test runs with a fixed clock and a predictable random source."""
    previous = env.install(
        env.Env(clock=lambda: 1000.0, wall_clock=lambda: 1_700_000_000.0, random_bytes=fixed_random)
    )
    try:
        yield env.current()
    finally:
        env.install(previous)
