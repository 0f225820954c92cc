"""The total deadline of a send: remaining time, per-phase limits, the error of each phase."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.config import Timeout
from sansio.deadline import (
    DEADLINE_EXTENSION,
    NO_DEADLINE,
    Deadline,
    Phase,
    phase_error,
)
from sansio.exceptions import (
    ConnectTimeout,
    PoolTimeout,
    ReadTimeout,
    TimeoutException,
    WriteTimeout,
)


def test_no_total_is_no_deadline() -> None:
    deadline = Deadline.start(None, 100.0)
    assert deadline is NO_DEADLINE
    assert deadline.remaining(1e12) is None
    assert not deadline.expired(1e12)
    assert deadline.limit(5.0, 1e12) == (5.0, False)
    assert deadline.limit(None, 1e12) == (None, False)
    deadline.check("read", 1e12)  # never raises


def test_remaining_counts_down_to_zero_and_stays_there() -> None:
    deadline = Deadline.start(30, 100.0)
    assert deadline == Deadline(130.0, 30.0)
    assert deadline.remaining(100.0) == 30.0
    assert deadline.remaining(125.5) == 4.5
    assert deadline.remaining(130.0) == 0.0
    assert deadline.remaining(500.0) == 0.0
    assert not deadline.expired(129.999)
    assert deadline.expired(130.0)


def test_the_shorter_limit_wins_and_says_which_it_is() -> None:
    deadline = Deadline.start(10.0, 0.0)
    assert deadline.limit(5.0, 0.0) == (5.0, False)  # the phase's own timeout
    assert deadline.limit(5.0, 6.0) == (4.0, True)  # what is left of the total
    assert deadline.limit(4.0, 6.0) == (4.0, False)  # a tie is the phase's timeout
    assert deadline.limit(None, 6.0) == (4.0, True)  # no phase timeout: the total
    assert deadline.limit(5.0, 11.0) == (0.0, True)  # passed: wait not at all


def test_a_dripping_body_is_stopped() -> None:
    # A server sends one byte just inside the read timeout, forever: each read's
    # limit shrinks until the total deadline ends the send.
    deadline = Deadline.start(3.0, 0.0)
    now, reads = 0.0, 0
    while True:
        wait, by_deadline = deadline.limit(1.0, now)
        if by_deadline and wait == 0.0:
            break
        assert wait is not None
        now += min(wait, 0.999)  # the byte arrives just before the read timeout
        reads += 1
    assert reads == 4  # 0.999, 1.998, 2.997, then 0.003 left, then nothing
    with pytest.raises(ReadTimeout, match=r"total timeout of 3 s .*read phase"):
        deadline.check("read", now)


@pytest.mark.parametrize(
    ("phase", "error"),
    [("pool", PoolTimeout), ("connect", ConnectTimeout), ("write", WriteTimeout),
     ("read", ReadTimeout)],
)  # fmt: skip
def test_each_phase_raises_its_own_timeout(phase: Phase, error: type[TimeoutException]) -> None:
    assert phase_error(phase) is error
    deadline = Deadline.start(2.5, 0.0)
    exc = deadline.error(phase)
    assert type(exc) is error
    assert str(exc) == (
        f"the total timeout of 2.5 s for the request passed (while in the {phase} phase)"
    )
    deadline.check(phase, 2.4)
    with pytest.raises(error):
        deadline.check(phase, 2.5)


def test_unknown_phase_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown phase 'dns'"):
        phase_error("dns")  # type: ignore[arg-type]


@pytest.mark.parametrize("total", [-1, float("nan"), "5", True])
def test_start_refuses_what_is_not_a_duration(total: Any) -> None:
    with pytest.raises(ValueError, match="non-negative number or None"):
        Deadline.start(total, 0.0)


def test_zero_total_has_passed_at_once() -> None:
    deadline = Deadline.start(0, 7.0)
    assert deadline.expired(7.0)
    with pytest.raises(PoolTimeout):
        deadline.check("pool", 7.0)


def test_of_takes_the_sends_deadline_first() -> None:
    shared = Deadline.start(30.0, 0.0)
    extensions = {DEADLINE_EXTENSION: shared, "timeout": Timeout(5.0, total=1.0).as_dict()}
    # Every request of a send (redirects, retries) shares the one the flow started.
    assert Deadline.of(extensions, lambda: 20.0) is shared


def test_of_starts_from_the_timeout_extension_without_a_client() -> None:
    extensions = {"timeout": Timeout(5.0, total=1.5).as_dict()}
    clock = lambda: 10.0  # noqa: E731
    assert Deadline.of(extensions, clock) == Deadline(11.5, 1.5, clock)

    def no_clock() -> float:
        raise AssertionError("no deadline: the clock is not read")

    assert Deadline.of({"timeout": Timeout(5.0).as_dict()}, no_clock) is NO_DEADLINE
    assert Deadline.of({}, no_clock) is NO_DEADLINE
    assert Deadline.of({"timeout": None}, no_clock) is NO_DEADLINE


@settings(max_examples=300, deadline=None)
@given(
    total=st.floats(0, 1e6),
    start=st.floats(-1e6, 1e6),
    elapsed=st.floats(0, 2e6),
    timeout=st.none() | st.floats(0, 1e6),
)
def test_limit_never_exceeds_either_bound(
    total: float, start: float, elapsed: float, timeout: float | None
) -> None:
    deadline = Deadline.start(total, start)
    now = start + elapsed
    wait, by_deadline = deadline.limit(timeout, now)
    left = deadline.remaining(now)
    assert left is not None
    assert 0.0 <= left <= total
    assert wait is not None
    assert 0.0 <= wait <= left
    if timeout is not None:
        assert wait <= timeout
    assert by_deadline == (timeout is None or timeout > left)
