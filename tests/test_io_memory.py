"""`io_common.memory`: the first transport, sync or async, primes the allocator once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from async_io.transport import AsyncHTTPTransport
from io_common import memory
from sync_io.transport import HTTPTransport


@pytest.mark.parametrize("make", [HTTPTransport, AsyncHTTPTransport])
def test_the_first_transport_frees_one_large_block_and_later_ones_none(
    make: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []

    def counted(size: int) -> bytes:
        made.append(size)
        return b""

    monkeypatch.setattr(memory, "_primed", False)
    monkeypatch.setattr(memory, "bytes", counted, raising=False)
    make()
    make()
    assert made == [memory.PRIME_SIZE]
    assert memory.PRIME_SIZE > 256 * 1024  # above the largest read: never lowered again


def test_priming_allocates_a_real_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_primed", False)
    memory.prime_allocator()
    assert memory._primed
    memory.prime_allocator()  # (nothing the second time)
