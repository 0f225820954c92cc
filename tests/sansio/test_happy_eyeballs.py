"""Happy Eyeballs: the order of a host's addresses, and the race on a virtual clock."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.exceptions import ConnectError, ConnectTimeout
from sansio.happy_eyeballs import (
    DEFAULT_ATTEMPT_DELAY,
    MAX_ATTEMPT_DELAY,
    MIN_ATTEMPT_DELAY,
    Connected,
    Failed,
    HappyEyeballs,
    Start,
    Wait,
    family_of,
    order_addresses,
)

V6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
V4 = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


def order(addresses: list[str], **kwargs: Any) -> list[str]:
    return order_addresses(addresses, str, **kwargs)


# -- the order (§4) ----------------------------------------------------------------------


def test_families() -> None:
    assert family_of("::1") == "ipv6"
    assert family_of("::ffff:192.0.2.1") == "ipv6"
    assert family_of("192.0.2.1") == "ipv4"


def test_ipv6_first_then_alternating() -> None:
    resolved = [V4[0], V4[1], V6[0], V6[1], V6[2]]
    assert order(resolved) == [V6[0], V4[0], V6[1], V4[1], V6[2]]


def test_ipv4_first_when_preferred() -> None:
    assert order([V6[0], V6[1], V4[0]], prefer="ipv4") == [V4[0], V6[0], V6[1]]


def test_resolver_order_decides_without_a_preference() -> None:
    assert order([V4[0], V6[0], V4[1]], prefer=None) == [V4[0], V6[0], V4[1]]
    assert order([V6[0], V4[0], V6[1]], prefer=None) == [V6[0], V4[0], V6[1]]


def test_first_family_count() -> None:
    resolved = V4 + V6
    assert order(resolved, first_family_count=2) == [V6[0], V6[1], V4[0], V6[2], V4[1], V4[2]]
    assert order(resolved, first_family_count=3) == [*V6, *V4]
    assert order(resolved, first_family_count=10) == [*V6, *V4]


def test_one_family_keeps_the_resolver_order() -> None:
    assert order(V4) == V4
    assert order(V6, prefer="ipv4") == V6
    assert order([]) == []


def test_a_repeated_address_is_tried_once() -> None:
    assert order([V6[0], V4[0], V6[0], V4[0], V6[1]]) == [V6[0], V4[0], V6[1]]


def test_getaddrinfo_results_keep_their_shape() -> None:
    infos: list[tuple[int, int, int, str, tuple[Any, ...]]] = [
        (2, 1, 6, "", ("192.0.2.1", 443)),
        (10, 1, 6, "", ("2001:db8::1", 443, 0, 0)),
    ]
    assert order_addresses(infos, key=lambda info: str(info[4][0])) == [infos[1], infos[0]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"first_family_count": 0}, ValueError, "at least 1"),
        ({"first_family_count": True}, TypeError, "is an int"),
        ({"first_family_count": 1.0}, TypeError, "is an int"),
        ({"prefer": "ipv5"}, ValueError, "'ipv4', 'ipv6' or None"),
    ],
)
def test_order_refuses(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        order(V4, **kwargs)


@settings(max_examples=300, deadline=None)
@given(
    addresses=st.lists(st.sampled_from(V4 + V6 + ["::1", "127.0.0.1"]), max_size=12),
    prefer=st.sampled_from(["ipv4", "ipv6", None]),
    count=st.integers(1, 4),
)
def test_order_is_an_interleaving(addresses: list[str], prefer: Any, count: int) -> None:
    result = order(addresses, prefer=prefer, first_family_count=count)
    assert result == list(dict.fromkeys(result))
    assert set(result) == set(addresses)
    for family in ("ipv4", "ipv6"):
        mine = [a for a in result if family_of(a) == family]
        assert mine == [a for a in dict.fromkeys(addresses) if family_of(a) == family]
    if not result:
        return
    first = family_of(result[0])
    if prefer is None:
        assert first == family_of(addresses[0])
    elif any(family_of(a) == prefer for a in addresses):
        assert first == prefer
    # After the preferred family's head, the families alternate until one runs out.
    tail = result[count - 1 :]
    families = [family_of(a) for a in tail]
    both = min(families.count("ipv4"), families.count("ipv6"))
    for i in range(1, 2 * both):
        assert families[i] != families[i - 1]


# -- the race (§5, §6) on a virtual clock -------------------------------------------------

# An outcome per address: ("connect" | "fail", seconds after its start), or ("hang",).
Outcome = tuple[Any, ...]


def race(
    outcomes: list[Outcome], delay: float = DEFAULT_ATTEMPT_DELAY, errors: Any = None
) -> tuple[list[tuple[str, int, float]], Any, HappyEyeballs[str]]:
    """Run a race to its end; returns the log of (event, attempt, time) and the last step."""
    addresses = [f"192.0.2.{i + 1}" for i in range(len(outcomes))]
    machine = HappyEyeballs(addresses, attempt_delay=delay)
    now, log, pending = 0.0, [], {}
    while True:
        step = machine.next_step(now)
        if isinstance(step, Start):
            assert step.address == addresses[step.index]
            log.append(("start", step.index, now))
            kind, *after = outcomes[step.index]
            if kind != "hang":
                pending[step.index] = (now + after[0], kind)
            continue
        if isinstance(step, Connected | Failed):
            return log, step, machine
        assert isinstance(step, Wait)
        due = min(pending.items(), key=lambda item: (item[1][0], item[0]), default=None)
        if due is None or (step.until is not None and step.until < due[1][0]):
            if step.until is None:  # nothing can happen any more: the connect timeout's job
                return log, step, machine
            now = step.until
            continue
        index, (now, kind) = due
        del pending[index]
        log.append((kind, index, now))
        if kind == "fail":
            error = errors[index] if errors else ConnectError(f"refused {index}")
            machine.failed(index, error)
        else:
            assert machine.connected(index)


def test_the_first_address_that_answers_at_once_is_the_only_attempt() -> None:
    log, step, _ = race([("connect", 0.03), ("connect", 0.01)])
    assert log == [("start", 0, 0.0), ("connect", 0, 0.03)]
    assert step == Connected(0, ())


def test_a_silent_address_lets_the_next_start_after_the_delay() -> None:
    log, step, _ = race([("hang",), ("connect", 0.01), ("connect", 0.0)])
    assert log == [("start", 0, 0.0), ("start", 1, 0.25), ("connect", 1, 0.26)]
    assert step == Connected(1, (0,))  # the first is still trying: cancel it


def test_a_failure_starts_the_next_attempt_at_once() -> None:
    log, step, _ = race([("fail", 0.125), ("connect", 0.0625)])
    assert log == [
        ("start", 0, 0.0), ("fail", 0, 0.125), ("start", 1, 0.125), ("connect", 1, 0.1875)
    ]  # fmt: skip
    assert step == Connected(1, ())


def test_only_the_latest_attempts_failure_hurries_the_next() -> None:
    log, _, _ = race([("fail", 0.3), ("hang",), ("connect", 0.0)])
    # Attempt 0 fails at 0.3 while attempt 1 (started at 0.25) still runs: attempt 2
    # keeps its turn at 0.5.
    assert log == [
        ("start", 0, 0.0),
        ("start", 1, 0.25),
        ("fail", 0, 0.3),
        ("start", 2, 0.5),
        ("connect", 2, 0.5),
    ]


def test_the_delay_is_configurable() -> None:
    log, _, _ = race([("hang",), ("hang",), ("connect", 0.0)], delay=MIN_ATTEMPT_DELAY)
    assert [t for event, _, t in log if event == "start"] == [0.0, 0.01, 0.02]
    log, _, _ = race([("hang",), ("connect", 0.0)], delay=MAX_ATTEMPT_DELAY)
    assert log[1] == ("start", 1, 2.0)


def test_the_earliest_connection_wins_and_a_late_one_is_closed() -> None:
    machine = HappyEyeballs(["::1", "127.0.0.1"])
    assert machine.next_step(0.0) == Start(0, "::1")
    assert machine.next_step(0.1) == Wait(0.25)
    assert machine.next_step(0.25) == Start(1, "127.0.0.1")
    assert machine.next_step(0.25) == Wait(None)  # nothing more to start
    assert machine.connected(1) is True
    assert machine.next_step(0.3) == Connected(1, (0,))
    assert machine.connected(0) is False  # connected just after: the shell closes it
    assert machine.next_step(0.3) == Connected(1, ())
    assert machine.running == ()


def test_a_failure_after_the_win_changes_nothing() -> None:
    machine = HappyEyeballs(["::1", "127.0.0.1"])
    machine.next_step(0.0)
    machine.next_step(0.25)
    assert machine.connected(0)
    machine.failed(1, ConnectError("refused"))
    assert machine.next_step(0.3) == Connected(0, ())


def test_one_address_fails_with_its_own_error() -> None:
    error = ConnectError("[Errno 111] Connection refused")
    _, step, _ = race([("fail", 0.01)], errors=[error])
    assert step == Failed(error)


def test_all_failing_is_one_error_naming_every_address() -> None:
    errors = [ConnectError("refused"), ConnectTimeout("timed out"), ConnectError("unreachable")]
    log, step, _ = race([("fail", 0.5), ("fail", 0.1), ("fail", 0.01)], errors=errors)
    assert [event for event, _, _ in log] == ["start", "start", "fail", "start", "fail", "fail"]
    assert isinstance(step, Failed)
    assert type(step.error) is ConnectError
    assert str(step.error) == (
        "all 3 addresses failed: 192.0.2.1: refused; 192.0.2.2: timed out; 192.0.2.3: unreachable"
    )
    assert step.error.__cause__ is errors[0]  # the most preferred address's


def test_all_timing_out_is_a_connect_timeout() -> None:
    errors = [ConnectTimeout("a"), ConnectTimeout("b")]
    _, step, _ = race([("fail", 0.1), ("fail", 0.1)], errors=errors)
    assert isinstance(step, Failed)
    assert type(step.error) is ConnectTimeout


def test_labels_name_addresses_in_messages() -> None:
    infos: list[tuple[int, tuple[str, int]]] = [(10, ("2001:db8::1", 443)), (2, ("192.0.2.1", 443))]
    machine = HappyEyeballs(infos, label=lambda info: info[1][0])
    machine.next_step(0.0)
    machine.failed(0, ConnectError("x"))
    machine.next_step(0.0)
    machine.failed(1, ConnectError("y"))
    step = machine.next_step(0.0)
    assert isinstance(step, Failed)
    assert str(step.error) == "all 2 addresses failed: 2001:db8::1: x; 192.0.2.1: y"


def test_no_address_at_all() -> None:
    step = HappyEyeballs[str]([]).next_step(0.0)
    assert isinstance(step, Failed)
    assert type(step.error) is ConnectError
    assert str(step.error) == "the host name resolved to no address"


def test_abort_names_the_attempts_to_cancel() -> None:
    machine = HappyEyeballs(V6)
    machine.next_step(0.0)
    machine.next_step(0.25)
    running = machine.running
    assert running == (0, 1)
    assert machine.abort() == running
    assert machine.running == ()
    # Reports that arrive afterwards are dropped; a connection is closed.
    machine.failed(0, ConnectError("x"))
    assert machine.connected(1) is False
    with pytest.raises(RuntimeError, match="aborted"):
        machine.next_step(1.0)
    won = HappyEyeballs(V6)
    won.next_step(0.0)
    won.connected(0)
    assert won.abort() == ()  # the winner is the caller's to close


def test_reporting_an_attempt_that_is_not_running_is_a_bug() -> None:
    machine = HappyEyeballs(V6)
    with pytest.raises(RuntimeError, match="attempt 0 is not running"):
        machine.connected(0)
    machine.next_step(0.0)
    machine.failed(0, ConnectError("x"))
    with pytest.raises(RuntimeError, match="attempt 0 is not running"):
        machine.failed(0, ConnectError("x"))


@pytest.mark.parametrize("delay", [MIN_ATTEMPT_DELAY, 0.25, MAX_ATTEMPT_DELAY, 1])
def test_delay_within_the_rfc_bounds(delay: float) -> None:
    HappyEyeballs(V4, attempt_delay=delay)


@pytest.mark.parametrize("delay", [0, 0.0099, 2.0001, -1, math.inf, math.nan])
def test_delay_outside_the_rfc_bounds(delay: float) -> None:
    with pytest.raises(ValueError, match=r"between 0.01 and 2.0 seconds \(RFC 8305"):
        HappyEyeballs(V4, attempt_delay=delay)


@pytest.mark.parametrize("delay", ["0.25", True, None])
def test_delay_must_be_a_number(delay: Any) -> None:
    with pytest.raises(TypeError, match="attempt_delay is a number of seconds"):
        HappyEyeballs(V4, attempt_delay=delay)


OUTCOMES = st.one_of(
    st.tuples(st.just("connect"), st.floats(0, 3)),
    st.tuples(st.just("fail"), st.floats(0, 3)),
    st.just(("hang",)),
)


@settings(max_examples=300, deadline=None)
@given(
    outcomes=st.lists(OUTCOMES, max_size=8),
    delay=st.floats(MIN_ATTEMPT_DELAY, MAX_ATTEMPT_DELAY),
)
def test_any_race_keeps_the_rules(outcomes: list[Outcome], delay: float) -> None:
    log, step, machine = race(outcomes, delay)
    starts = [(i, t) for event, i, t in log if event == "start"]
    assert [i for i, _ in starts] == list(range(len(starts)))  # in order, each once
    for (i, t), (_, t_next) in itertools.pairwise(starts):
        # The next attempt waits for the delay, unless the latest one failed first.
        failed_at = [when for event, j, when in log if event == "fail" and j == i]
        assert t_next == pytest.approx(min([t + delay, *failed_at]))
    connects = [(t, i) for event, i, t in log if event == "connect"]
    if connects:
        assert step == Connected(min(connects)[1], step.cancel)
        assert set(step.cancel) == {i for i, _ in starts} - {
            j for event, j, _ in log if event in ("fail", "connect")
        }
    elif any(o[0] == "hang" for o in outcomes[: len(starts)]):
        assert isinstance(step, Wait)  # only the connect timeout ends this race
        assert step.until is None
        assert machine.running
    else:
        assert isinstance(step, Failed)
        assert len(starts) == len(outcomes)
