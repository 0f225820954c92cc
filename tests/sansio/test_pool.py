"""The pool machine: limits, expiry, waiters, cancellation, multiplexing, retry safety."""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import FrozenInstanceError
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sansio.h1 import H1Connection
from sansio.pool import (
    DEFAULT_FULL_RECHECK_INTERVAL,
    DEFAULT_KEEPALIVE_EXPIRY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    NO_CHANGES,
    Changes,
    Open,
    PoolMachine,
    PoolStatistics,
    Reuse,
    Wait,
    retry_safe,
)
from sansio.wire import (
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
    WireConnection,
)

A = ("https", "a.example", 443, "tls-config-1")
B = ("https", "b.example", 443, "tls-config-1")
A_OTHER_TLS = ("https", "a.example", 443, "tls-config-2")


class Fake:
    """A wire connection whose state the test sets (only what the pool looks at)."""

    def __init__(self, max_streams: int = 1) -> None:
        self.max_streams = max_streams
        self.streams = 0
        self.dead = False

    @property
    def is_idle(self) -> bool:
        return self.streams == 0

    @property
    def is_reusable(self) -> bool:
        return not self.dead

    @property
    def can_start_request(self) -> bool:
        return not self.dead and self.streams < self.max_streams


def wire(conn: Fake | H1Connection) -> WireConnection:
    return cast(WireConnection, conn)


def stats(pool: PoolMachine) -> tuple[int, int, int, int]:
    s = pool.statistics()
    assert s.connections == s.connecting + s.active + s.idle
    return (s.connecting, s.active, s.idle, s.waiters)


def open_one(pool: PoolMachine, origin: Hashable, now: float = 0.0) -> tuple[int, Fake]:
    decision = pool.checkout(origin, now)
    assert isinstance(decision, Open)
    conn = Fake()
    assert pool.opened(decision.conn_id, wire(conn), now) == NO_CHANGES
    return decision.conn_id, conn


# -- basics ---------------------------------------------------------------------


def test_defaults_match_httpx_limits() -> None:
    pool = PoolMachine()
    assert pool.max_connections == DEFAULT_MAX_CONNECTIONS == 100
    assert pool.max_keepalive_connections == DEFAULT_MAX_KEEPALIVE_CONNECTIONS == 20
    assert pool.keepalive_expiry == DEFAULT_KEEPALIVE_EXPIRY == 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_connections": 0}, "max_connections"),
        ({"max_keepalive_connections": -1}, "max_keepalive_connections"),
        ({"keepalive_expiry": -0.5}, "keepalive_expiry"),
    ],
)
def test_invalid_limits(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PoolMachine(**kwargs)  # type: ignore[arg-type]


def test_open_use_reuse() -> None:
    pool = PoolMachine()
    decision = pool.checkout(A, 0.0)
    assert decision == Open(1)
    assert stats(pool) == (1, 0, 0, 0)
    conn = Fake()
    pool.opened(1, wire(conn), 0.0)
    assert stats(pool) == (0, 1, 0, 0)
    assert pool.checkin(1, 1.0) == NO_CHANGES
    assert stats(pool) == (0, 0, 1, 0)
    again = pool.checkout(A, 2.0)
    assert again == Reuse(1, wire(conn))
    assert stats(pool) == (0, 1, 0, 0)
    # Another origin, or the same host with other TLS settings, never shares it.
    assert pool.checkout(B, 2.0) == Open(2)
    assert pool.checkout(A_OTHER_TLS, 2.0) == Open(3)
    assert pool.statistics() == PoolStatistics(
        connections=3, connecting=2, active=1, idle=0, waiters=0
    )


def test_values_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        Open(1).conn_id = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        PoolMachine().statistics().idle = 3  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        NO_CHANGES.close = (1,)  # type: ignore[misc]


def test_most_recently_used_idle_connection_first() -> None:
    pool = PoolMachine()
    ids = [open_one(pool, A)[0] for _ in range(3)]
    for n, conn_id in enumerate(ids):
        pool.checkin(conn_id, float(n))
    picked = []
    for _ in range(3):
        decision = pool.checkout(A, 3.0)
        assert isinstance(decision, Reuse)
        picked.append(decision.conn_id)
    assert picked == ids[::-1]


def test_dead_idle_connection_is_skipped_and_closed() -> None:
    pool = PoolMachine()
    first, conn1 = open_one(pool, A)
    second, conn2 = open_one(pool, A)
    pool.checkin(first, 0.0)
    pool.checkin(second, 0.0)
    conn2.dead = True  # e.g. the machine saw EOF
    assert pool.checkout(A, 0.0) == Reuse(first, wire(conn1), close=(second,))
    assert stats(pool) == (0, 1, 0, 0)
    conn1.dead = True
    assert pool.checkin(first, 0.0) == Changes(close=(first,))
    assert stats(pool) == (0, 0, 0, 0)


def test_idle_check_on_handout_with_a_real_h1_machine() -> None:
    """The shell finds the handed-out socket readable, feeds it, checks in, retries."""
    pool = PoolMachine()
    decision = pool.checkout(A, 0.0)
    assert isinstance(decision, Open)
    conn = H1Connection()
    pool.opened(decision.conn_id, wire(conn), 0.0)
    pool.checkin(decision.conn_id, 0.0)  # opened, then the request gave up: idle
    reuse = pool.checkout(A, 1.0)
    assert reuse == Reuse(decision.conn_id, wire(conn))
    conn.receive_data(b"")  # the server closed it while it sat idle
    assert pool.checkin(decision.conn_id, 1.0) == Changes(close=(decision.conn_id,))
    assert pool.checkout(A, 1.0) == Open(decision.conn_id + 1)


def test_fresh_checkout_skips_idle_connections() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, _ = open_one(pool, A)
    pool.checkin(conn_id, 0.0)
    # The retry after a reused connection failed: a new connection, making room.
    assert pool.checkout(A, 0.0, fresh=True) == Open(conn_id + 1, close=(conn_id,))
    assert stats(pool) == (1, 0, 0, 0)


# -- limits and expiry ------------------------------------------------------------


def test_max_connections_then_wait_then_wake() -> None:
    pool = PoolMachine(max_connections=2)
    first, _ = open_one(pool, A)
    second, conn2 = open_one(pool, A)
    wait = pool.checkout(A, 0.0)
    assert wait == Wait(1)
    assert stats(pool) == (0, 2, 0, 1)
    assert pool.claim(1) is None  # still waiting
    changes = pool.checkin(second, 1.0)
    assert changes == Changes(wake=(1,))
    assert stats(pool) == (0, 2, 0, 0)  # granted: still counted as active
    assert pool.claim(1) == Reuse(second, wire(conn2))
    with pytest.raises(ValueError, match="not waiting"):
        pool.claim(1)
    with pytest.raises(ValueError, match="not waiting"):
        pool.claim(99)
    assert first == 1


def test_full_pool_evicts_an_idle_connection_of_another_origin() -> None:
    pool = PoolMachine(max_connections=2)
    a1, _ = open_one(pool, A)
    a2, _ = open_one(pool, A)
    pool.checkin(a1, 0.0)
    pool.checkin(a2, 1.0)
    assert pool.checkout(B, 2.0) == Open(3, close=(a1,))  # the older idle one goes
    assert stats(pool) == (1, 0, 1, 0)


def test_waiter_for_another_origin_gets_a_slot_by_eviction() -> None:
    pool = PoolMachine(max_connections=1)
    a1, _ = open_one(pool, A)
    assert pool.checkout(B, 0.0) == Wait(1)
    assert pool.checkin(a1, 1.0) == Changes(close=(a1,), wake=(1,))
    assert pool.claim(1) == Open(2)
    assert stats(pool) == (1, 0, 0, 0)


def test_waiters_are_served_in_order() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = open_one(pool, A)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.checkout(B, 0.0) == Wait(2)
    assert pool.checkout(A, 0.0) == Wait(3)
    assert pool.checkin(conn_id, 1.0) == Changes(wake=(1,))
    assert pool.claim(1) == Reuse(conn_id, wire(conn))
    assert pool.claim(2) is None
    # While anyone waits, newcomers queue too: no slot is stolen.
    assert pool.checkout(A, 1.0) == Wait(4)
    assert pool.checkin(conn_id, 2.0) == Changes(close=(conn_id,), wake=(2,))
    assert pool.claim(2) == Open(conn_id + 1)


def test_max_keepalive_connections_closes_the_oldest_idle() -> None:
    pool = PoolMachine(max_keepalive_connections=2)
    ids = [open_one(pool, A)[0] for _ in range(3)]
    assert pool.checkin(ids[0], 0.0) == NO_CHANGES
    assert pool.checkin(ids[1], 1.0) == NO_CHANGES
    assert stats(pool) == (0, 1, 2, 0)  # at the limit
    assert pool.checkin(ids[2], 2.0) == Changes(close=(ids[0],))  # one past it
    assert stats(pool) == (0, 0, 2, 0)


def test_no_keepalive_connections() -> None:
    pool = PoolMachine(max_keepalive_connections=0)
    conn_id, _ = open_one(pool, A)
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,))
    # ... unless someone waits for it.
    pool = PoolMachine(max_connections=1, max_keepalive_connections=0)
    conn_id, conn = open_one(pool, A)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.checkin(conn_id, 0.0) == Changes(wake=(1,))
    assert pool.claim(1) == Reuse(conn_id, wire(conn))


def test_keepalive_expiry_at_and_past() -> None:
    pool = PoolMachine(keepalive_expiry=5.0)
    conn_id, conn = open_one(pool, A)
    pool.checkin(conn_id, 10.0)
    assert pool.checkout(A, 14.999) == Reuse(conn_id, wire(conn))
    pool.checkin(conn_id, 20.0)
    assert pool.checkout(A, 25.0) == Open(conn_id + 1, close=(conn_id,))


def test_expire_sweep_and_expiry_on_checkin() -> None:
    pool = PoolMachine(keepalive_expiry=1.0)
    first, _ = open_one(pool, A)
    second, _ = open_one(pool, B)
    third, _ = open_one(pool, B)
    pool.checkin(first, 0.0)
    pool.checkin(second, 0.5)
    assert pool.expire(0.9) == NO_CHANGES
    assert pool.expire(1.0) == Changes(close=(first,))
    assert pool.checkin(third, 1.6) == Changes(close=(second,))
    assert stats(pool) == (0, 0, 1, 0)


def test_no_expiry() -> None:
    pool = PoolMachine(keepalive_expiry=None)
    conn_id, conn = open_one(pool, A)
    pool.checkin(conn_id, 0.0)
    assert pool.expire(1e9) == NO_CHANGES
    assert pool.checkout(A, 1e9) == Reuse(conn_id, wire(conn))


def test_zero_expiry_never_reuses_later() -> None:
    pool = PoolMachine(keepalive_expiry=0.0)
    conn_id, _ = open_one(pool, A)
    pool.checkin(conn_id, 3.0)
    assert pool.checkout(A, 3.0) == Open(conn_id + 1, close=(conn_id,))


def test_unlimited_pool() -> None:
    pool = PoolMachine(max_connections=None, max_keepalive_connections=None)
    ids = [open_one(pool, A)[0] for _ in range(300)]
    for conn_id in ids:
        assert pool.checkin(conn_id, 0.0) == NO_CHANGES
    assert stats(pool) == (0, 0, 300, 0)


# -- failure paths keep the pool consistent ----------------------------------------


def test_cancelled_while_waiting() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, _ = open_one(pool, A)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.cancel_wait(1, 0.0) == NO_CHANGES
    assert stats(pool) == (0, 1, 0, 0)
    assert pool.checkin(conn_id, 1.0) == NO_CHANGES  # nobody to wake
    assert stats(pool) == (0, 0, 1, 0)
    assert pool.cancel_wait(1, 1.0) == NO_CHANGES  # twice, or unknown: nothing happens


def test_cancelled_after_being_woken_passes_the_grant_on() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = open_one(pool, A)
    pool.checkout(A, 0.0)
    pool.checkout(A, 0.0)
    assert pool.checkin(conn_id, 1.0) == Changes(wake=(1,))
    # Ticket 1 is cancelled before it claims: the connection goes to ticket 2.
    assert pool.cancel_wait(1, 1.0) == Changes(wake=(2,))
    assert pool.claim(2) == Reuse(conn_id, wire(conn))
    assert stats(pool) == (0, 1, 0, 0)


def test_cancelled_after_being_granted_a_slot() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = open_one(pool, A)
    assert pool.checkout(B, 0.0) == Wait(1)
    assert pool.checkout(B, 0.0) == Wait(2)
    conn.dead = True
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,), wake=(1,))
    assert stats(pool) == (1, 0, 0, 1)  # the slot is reserved for ticket 1
    assert pool.cancel_wait(1, 0.0) == Changes(wake=(2,))
    assert pool.claim(2) == Open(conn_id + 2)
    assert stats(pool) == (1, 0, 0, 0)
    assert pool.open_failed(conn_id + 2) == NO_CHANGES
    assert stats(pool) == (0, 0, 0, 0)
    # A grant cancelled with nobody waiting just frees the slot (or idles the connection).
    only_id, _ = open_one(pool, A)
    assert pool.checkout(A, 0.0) == Wait(3)
    pool.checkin(only_id, 0.0)
    assert pool.cancel_wait(3, 0.0) == NO_CHANGES
    assert stats(pool) == (0, 0, 1, 0)


def test_cancelled_while_connecting() -> None:
    pool = PoolMachine(max_connections=1)
    decision = pool.checkout(A, 0.0)
    assert isinstance(decision, Open)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.open_failed(decision.conn_id) == Changes(wake=(1,))
    assert pool.claim(1) == Open(decision.conn_id + 1)
    assert stats(pool) == (1, 0, 0, 0)


HEAD = RequestHead(
    method=b"GET", target=b"/", headers=[(b"Host", b"a")], authority=b"a", scheme=b"http"
)


def checkout_h1(pool: PoolMachine) -> tuple[int, H1Connection]:
    decision = pool.checkout(A, 0.0)
    if isinstance(decision, Reuse):
        return decision.conn_id, cast(H1Connection, decision.connection)
    assert isinstance(decision, Open)
    conn = H1Connection()
    pool.opened(decision.conn_id, wire(conn), 0.0)
    return decision.conn_id, conn


def test_cancelled_while_sending() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = checkout_h1(pool)
    sid = conn.start_request(HEAD, has_body=False)
    conn.data_to_send()  # the write is interrupted (cancelled, or it failed)
    conn.io_failed(sid)
    assert pool.retry_safe(b"GET", False, conn.failure_phase(sid)) is False
    conn.release(sid)
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,))
    assert stats(pool) == (0, 0, 0, 0)


def test_cancelled_mid_body() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = checkout_h1(pool)
    assert pool.checkout(A, 0.0) == Wait(1)
    sid = conn.start_request(HEAD, has_body=False)
    conn.data_to_send()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == BodyChunk(b"abc")
    conn.release(sid)  # the user closed the response early: not drained
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,), wake=(1,))
    assert pool.claim(1) == Open(conn_id + 1)
    assert stats(pool) == (1, 0, 0, 0)


def test_complete_exchange_returns_the_connection_for_reuse() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = checkout_h1(pool)
    sid = conn.start_request(HEAD, has_body=False)
    conn.data_to_send()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert isinstance(conn.next_step(sid), ResponseHead)
    assert conn.next_step(sid) == BodyChunk(b"ok")
    assert conn.next_step(sid) == EndOfBody([])
    conn.release(sid)
    assert pool.checkin(conn_id, 0.0) == NO_CHANGES
    assert checkout_h1(pool) == (conn_id, conn)


def test_checkin_of_a_connection_the_machine_calls_busy_closes_it() -> None:
    pool = PoolMachine()
    conn_id, conn = checkout_h1(pool)
    conn.start_request(HEAD, has_body=False)  # never released: state unknown
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,))


def test_retry_after_the_keep_alive_race() -> None:
    """A reused connection that the server had closed: one retry, on a fresh one."""
    pool = PoolMachine(max_connections=1)
    conn_id, conn = checkout_h1(pool)
    pool.checkin(conn_id, 0.0)
    decision = pool.checkout(A, 1.0)
    assert isinstance(decision, Reuse)
    sid = conn.start_request(HEAD, has_body=False)
    conn.data_to_send()
    conn.receive_data(b"")
    with pytest.raises(Exception, match="without sending a response"):
        conn.next_step(sid)
    assert retry_safe(b"GET", True, conn.failure_phase(sid))
    assert not retry_safe(b"POST", True, conn.failure_phase(sid))
    conn.release(sid)
    assert pool.checkin(conn_id, 1.0) == Changes(close=(conn_id,))
    assert pool.checkout(A, 1.0, fresh=True) == Open(conn_id + 1)


@pytest.mark.parametrize("method", [b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"])
def test_retry_safe_for_idempotent_methods(method: bytes) -> None:
    assert retry_safe(method, True, FailurePhase.SENDING)
    assert retry_safe(method, True, FailurePhase.AWAITING_RESPONSE)
    assert not retry_safe(method, True, FailurePhase.RECEIVING)
    assert not retry_safe(method, False, FailurePhase.SENDING)
    assert not retry_safe(method, False, FailurePhase.AWAITING_RESPONSE)


@pytest.mark.parametrize("method", [b"POST", b"PATCH", b"CONNECT", b"get", b"LOCK"])
def test_retry_never_replays_other_methods(method: bytes) -> None:
    for phase in FailurePhase:
        assert not retry_safe(method, True, phase)
    assert PoolMachine.retry_safe is retry_safe


def test_misuse_is_refused() -> None:
    pool = PoolMachine()
    with pytest.raises(ValueError, match="unknown connection id 7"):
        pool.checkin(7, 0.0)
    with pytest.raises(ValueError, match="unknown connection id 7"):
        pool.open_failed(7)
    with pytest.raises(ValueError, match="unknown connection id 7"):
        pool.opened(7, wire(Fake()), 0.0)
    decision = pool.checkout(A, 0.0)
    assert isinstance(decision, Open)
    with pytest.raises(RuntimeError, match="still connecting"):
        pool.checkin(decision.conn_id, 0.0)
    pool.opened(decision.conn_id, wire(Fake()), 0.0)
    with pytest.raises(RuntimeError, match="already opened"):
        pool.opened(decision.conn_id, wire(Fake()), 0.0)
    with pytest.raises(RuntimeError, match="check it in instead"):
        pool.open_failed(decision.conn_id)
    pool.checkin(decision.conn_id, 0.0)
    with pytest.raises(RuntimeError, match="not checked out"):
        pool.checkin(decision.conn_id, 0.0)


# -- multiplexed connections (HTTP/2 shape) ----------------------------------------


def open_shared(pool: PoolMachine, origin: Hashable, streams: int) -> tuple[int, Fake, Changes]:
    decision = pool.checkout(origin, 0.0)
    assert isinstance(decision, Open)
    conn = Fake(max_streams=streams)
    changes = pool.opened(decision.conn_id, wire(conn), 0.0)
    conn.streams += 1  # the opener starts its stream
    return decision.conn_id, conn, changes


def test_multiplexed_connection_is_shared_up_to_its_capacity() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn, _ = open_shared(pool, A, streams=3)
    for _ in range(2):
        assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
        conn.streams += 1
    assert pool.checkout(A, 0.0) == Wait(1)  # full: three streams
    assert stats(pool) == (0, 1, 0, 1)
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.0) == Changes(wake=(1,))
    assert pool.claim(1) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    for _ in range(3):
        conn.streams -= 1
        pool.checkin(conn_id, 0.0)
    assert stats(pool) == (0, 0, 1, 0)
    # From idle it is shared again.
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))


def test_waiters_get_streams_when_a_multiplexed_connection_comes_up() -> None:
    pool = PoolMachine(max_connections=1)
    decision = pool.checkout(A, 0.0)
    assert isinstance(decision, Open)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.checkout(A, 0.0) == Wait(2)
    conn = Fake(max_streams=2)
    # One stream for the opener, one for the first waiter; the second keeps waiting.
    assert pool.opened(decision.conn_id, wire(conn), 0.0) == Changes(wake=(1,))
    assert pool.claim(1) == Reuse(decision.conn_id, wire(conn))
    assert pool.claim(2) is None


def test_shared_streams_reach_waiters_behind_a_blocked_head() -> None:
    pool = PoolMachine(max_connections=2)
    conn_id, conn, _ = open_shared(pool, A, streams=1 + 1)
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    b_id, _ = open_one(pool, B)
    assert pool.checkout(B, 0.0) == Wait(1)  # needs a slot: none free
    assert pool.checkout(A, 0.0) == Wait(2)  # needs a stream on the full A connection
    assert pool.checkout(A, 0.0, fresh=True) == Wait(3)  # a fresh one never shares
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.0) == Changes(wake=(2,))
    assert pool.claim(1) is None
    assert pool.claim(2) == Reuse(conn_id, wire(conn))
    assert b_id == 2


def test_stale_shared_connection_is_dropped() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn, _ = open_shared(pool, A, streams=2)
    conn.max_streams = 1  # the peer lowered its stream limit behind the pool's back
    assert pool.checkout(A, 0.0) == Wait(1)
    assert stats(pool) == (0, 1, 0, 1)
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.0) == Changes(wake=(1,))
    assert pool.claim(1) == Reuse(conn_id, wire(conn))


def test_stale_shared_connection_while_waiters_are_served() -> None:
    pool = PoolMachine(max_connections=2)
    a_id, a_conn, _ = open_shared(pool, A, streams=2)
    b_id, b_conn, _ = open_shared(pool, B, streams=2)
    assert pool.checkout(A, 0.0) == Reuse(a_id, wire(a_conn))
    a_conn.streams += 1
    assert pool.checkout(B, 0.0) == Reuse(b_id, wire(b_conn))
    b_conn.streams += 1
    assert pool.checkout(A, 0.0, fresh=True) == Wait(1)  # the head: needs a slot
    assert pool.checkout(B, 0.0) == Wait(2)
    a_conn.streams -= 1
    b_conn.dead = True  # B's connection is going away (GOAWAY) but the pool has not heard
    assert pool.checkin(a_id, 0.0) == NO_CHANGES
    assert pool.claim(2) is None
    b_conn.streams -= 1
    assert pool.checkin(b_id, 0.0) == NO_CHANGES  # still one stream on it: kept open
    b_conn.streams -= 1
    assert pool.checkin(b_id, 0.0) == Changes(close=(b_id,), wake=(1,))
    assert pool.claim(1) == Open(3)


def test_multiplexed_connection_closing_with_streams_left() -> None:
    pool = PoolMachine()
    conn_id, conn, _ = open_shared(pool, A, streams=4)
    pool.checkout(A, 0.0)
    conn.streams += 1
    conn.dead = True
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.0) == NO_CHANGES
    assert pool.checkout(A, 0.0) == Open(conn_id + 1)  # not shared any more
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,))


# -- probes: a burst waits for the first connection's protocol ---------------------


def test_burst_waits_for_the_probe_and_shares_it() -> None:
    pool = PoolMachine()
    probe = pool.checkout(A, 0.0, multiplex=True)
    assert probe == Open(1)
    assert [pool.checkout(A, 0.0, multiplex=True) for _ in range(3)] == [Wait(1), Wait(2), Wait(3)]
    assert stats(pool) == (1, 0, 0, 3)  # slots were free: they wait for the protocol
    # Another origin is not held up.
    assert pool.checkout(B, 0.0, multiplex=True) == Open(2)
    conn = Fake(max_streams=100)
    assert pool.opened(1, wire(conn), 0.0) == Changes(wake=(1, 2, 3))
    assert [pool.claim(t) for t in (1, 2, 3)] == [Reuse(1, wire(conn))] * 3
    assert stats(pool) == (1, 1, 0, 0)


def test_probe_that_turns_out_http11_lets_the_waiters_open() -> None:
    pool = PoolMachine(max_connections=3)
    assert pool.checkout(A, 0.0, multiplex=True) == Open(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(2)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(3)
    # HTTP/1.1: each waiter opens its own connection while slots last, at once.
    first = Fake()
    assert pool.opened(1, wire(first), 0.0) == Changes(wake=(1, 2))
    assert (pool.claim(1), pool.claim(2), pool.claim(3)) == (Open(2), Open(3), None)
    assert pool.opened(2, wire(Fake()), 0.0) == NO_CHANGES
    assert pool.checkin(1, 0.0) == Changes(wake=(3,))  # idle now: the third waiter's
    assert pool.claim(3) == Reuse(1, wire(first))


def test_no_probe_while_the_origin_has_an_http11_connection() -> None:
    pool = PoolMachine()
    first, second = Fake(), Fake()
    assert pool.checkout(A, 0.0, multiplex=True) == Open(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(1)
    assert pool.opened(1, wire(first), 0.0) == Changes(wake=(1,))
    assert pool.claim(1) == Open(2)
    # Connection 2 is no probe: a third request opens at once.
    assert pool.checkout(A, 0.0, multiplex=True) == Open(3)
    pool.opened(2, wire(second), 0.0)
    pool.open_failed(3)
    # Closing the HTTP/1.1 connections one by one: while one is left, still no probe.
    first.dead = True
    assert pool.checkin(1, 0.0) == Changes(close=(1,))
    assert pool.checkout(A, 0.0, multiplex=True) == Open(4)
    assert pool.checkout(A, 0.0, multiplex=True) == Open(5)
    pool.open_failed(4)
    pool.open_failed(5)
    second.dead = True
    assert pool.checkin(2, 0.0) == Changes(close=(2,))
    # None left: the next burst probes again.
    assert pool.checkout(A, 0.0, multiplex=True) == Open(6)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(2)


def test_failed_probe_passes_the_role_to_one_waiter() -> None:
    pool = PoolMachine()
    assert pool.checkout(A, 0.0, multiplex=True) == Open(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(2)
    assert pool.open_failed(1) == Changes(wake=(1,))
    assert pool.claim(1) == Open(2)  # the new probe
    assert pool.claim(2) is None
    # Its grant is cancelled before it connects: the role passes on again.
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(3)
    assert pool.open_failed(2) == Changes(wake=(2,))
    assert pool.cancel_wait(2, 0.0) == Changes(wake=(3,))
    assert pool.claim(3) == Open(4)
    conn = Fake(max_streams=2)
    assert pool.opened(4, wire(conn), 0.0) == NO_CHANGES
    assert stats(pool) == (0, 1, 0, 0)


def test_fresh_checkouts_neither_wait_for_nor_become_probes() -> None:
    pool = PoolMachine()
    assert pool.checkout(A, 0.0, multiplex=True) == Open(1)
    assert pool.checkout(A, 0.0, fresh=True, multiplex=True) == Open(2)
    pool.open_failed(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Open(3)  # 2 was no probe


def test_waiter_for_a_probe_takes_an_idle_connection_that_turns_up() -> None:
    pool = PoolMachine()
    conn_id, conn = open_one(pool, A)  # HTTP/1.1, opened without multiplex
    assert pool.checkout(A, 0.0, fresh=True, multiplex=True) == Open(2)
    pool.open_failed(2)
    # The origin has an HTTP/1.1 connection: no probe, no waiting.
    assert pool.checkout(A, 0.0, multiplex=True) == Open(3)
    pool.open_failed(3)
    conn.dead = True
    pool.checkin(conn_id, 0.0)
    assert pool.checkout(A, 0.0, multiplex=True) == Open(4)  # a probe
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(1)
    other = PoolMachine()
    assert other.checkout(A, 0.0, multiplex=True) == Open(1)
    assert other.checkout(A, 0.0, multiplex=True) == Wait(1)
    # An idle connection of the origin turns up while the waiter waits for the probe.
    assert other.checkout(A, 0.0, fresh=True) == Open(2)
    idle = Fake(max_streams=3)
    assert other.opened(2, wire(idle), 0.0) == Changes(wake=(1,))
    assert other.claim(1) == Reuse(2, wire(idle))


def test_probe_waiters_do_not_block_the_queue() -> None:
    pool = PoolMachine(max_connections=2)
    assert pool.checkout(A, 0.0, multiplex=True) == Open(1)
    assert pool.checkout(A, 0.0, multiplex=True) == Wait(1)  # waits for the probe
    b_id, b_conn = open_one(pool, B)
    assert pool.checkout(B, 0.0) == Wait(2)  # waits for a slot
    b_conn.dead = True
    # Freed slot: the waiter for B gets it although an A waiter is ahead in the queue.
    assert pool.checkin(b_id, 0.0) == Changes(close=(b_id,), wake=(2,))
    assert pool.claim(2) == Open(3)
    assert pool.claim(1) is None


# -- full connections: the server allows no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) -


def zero_limit(pool: PoolMachine, origin: Hashable = A, now: float = 0.0) -> tuple[int, Fake]:
    """A multiplexed connection whose server lowered its stream limit to 0 while a
    response came in: checked in idle, it allows no stream."""
    conn_id, conn, _ = open_shared(pool, origin, streams=100)
    conn.max_streams = 0
    conn.streams -= 1
    assert pool.checkin(conn_id, now) == NO_CHANGES
    return conn_id, conn


def test_full_idle_connection_is_looked_at_then_another_opens() -> None:
    pool = PoolMachine()
    assert pool.full_recheck_interval == DEFAULT_FULL_RECHECK_INTERVAL == 0.1
    conn_id, conn = zero_limit(pool)
    assert stats(pool) == (0, 0, 1, 0)
    # The first look is due at once: the shell polls it, finds it still full, checks
    # it in and checks out again.
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
    assert stats(pool) == (0, 1, 0, 0)
    assert pool.checkin(conn_id, 0.0) == NO_CHANGES
    # No second look before the interval is over: another connection (there is room).
    assert pool.checkout(A, 0.0) == Open(conn_id + 1)
    assert pool.checkout(A, 0.09, multiplex=True) == Open(conn_id + 2)
    assert stats(pool) == (2, 0, 1, 0)
    # Once opened, the new connection is shared; the full one stays idle.
    conn2 = Fake(max_streams=100)
    pool.opened(conn_id + 1, wire(conn2), 0.1)
    conn2.streams += 1
    assert pool.checkout(A, 0.1) == Reuse(conn_id + 1, wire(conn2))


def test_waiters_recheck_a_full_connection_until_the_server_lifts_the_limit() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = zero_limit(pool)
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))  # the first look
    assert pool.checkin(conn_id, 0.0) == NO_CHANGES  # still full
    # No slot: wait, with the time of the next look.
    assert pool.checkout(A, 0.0) == Wait(1, recheck=0.1)
    assert pool.checkout(A, 0.05) == Wait(2, recheck=0.1)
    assert stats(pool) == (0, 0, 1, 2)
    # At the recheck both give up their tickets and check out again: one gets the look.
    assert pool.cancel_wait(1, 0.1) == NO_CHANGES
    assert pool.cancel_wait(2, 0.1) == NO_CHANGES
    assert pool.checkout(A, 0.1) == Reuse(conn_id, wire(conn))
    # The other waits for the look after this one (the looker may find room).
    assert pool.checkout(A, 0.1) == Wait(3, recheck=pytest.approx(0.2))
    assert pool.checkin(conn_id, 0.12) == NO_CHANGES  # still full: not due again
    assert pool.cancel_wait(3, 0.2) == NO_CHANGES
    # The server lifts the limit; the next look finds room and uses the connection.
    conn.max_streams = 100
    assert pool.checkout(A, 0.2) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    assert pool.checkout(A, 0.2) == Wait(4, recheck=pytest.approx(0.3))
    # Its stream ends: an ordinary idle connection again, handed to the waiter at once.
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.25) == Changes(wake=(4,))
    assert pool.claim(4) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    assert pool.checkout(A, 0.25) == Reuse(conn_id, wire(conn))  # shared: room again


def busy_shared(pool: PoolMachine, origin: Hashable = A) -> tuple[int, Fake]:
    """A multiplexed connection allowing two streams, both in use."""
    conn_id, conn, _ = open_shared(pool, origin, streams=2)
    assert pool.checkout(origin, 0.0) == Reuse(conn_id, wire(conn))
    conn.streams += 1
    return conn_id, conn


def test_a_connection_turning_full_wakes_its_waiters_to_check_out_again() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = busy_shared(pool)
    # Its streams are in use: they wait for one to end, with no recheck time.
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.checkout(A, 0.0) == Wait(2)
    conn.max_streams = 0  # then the server allows none
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.5) == NO_CHANGES
    conn.streams -= 1
    # Idle and full: the waiters are woken with nothing granted, to check out again.
    assert pool.checkin(conn_id, 1.0) == Changes(wake=(1, 2))
    assert pool.claim(1) is None
    assert pool.cancel_wait(1, 1.0) == NO_CHANGES  # as the shell does after a None
    assert pool.cancel_wait(2, 1.0) == NO_CHANGES
    with pytest.raises(ValueError, match="not waiting"):
        pool.claim(2)
    assert pool.checkout(A, 1.0) == Reuse(conn_id, wire(conn))  # the first look
    assert pool.checkout(A, 1.0) == Wait(3, recheck=1.1)
    assert pool.checkin(conn_id, 1.0) == NO_CHANGES  # still full: no new wake-up
    assert pool.checkout(A, 1.0) == Wait(4, recheck=1.1)


def test_a_waiter_at_its_recheck_while_the_look_is_still_out() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = zero_limit(pool)
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
    conn.max_streams = 100  # the look finds room: a long request starts on it
    conn.streams += 1
    # Waiters look again one interval from now, never at once (no busy loop).
    assert pool.checkout(A, 0.5) == Wait(1, recheck=0.6)
    assert pool.cancel_wait(1, 0.6) == NO_CHANGES
    assert pool.checkout(A, 0.6) == Wait(2, recheck=pytest.approx(0.7))
    conn.streams -= 1
    assert pool.checkin(conn_id, 0.65) == Changes(wake=(2,))
    assert pool.claim(2) == Reuse(conn_id, wire(conn))


def test_full_connection_turned_dead_or_expired_is_closed() -> None:
    pool = PoolMachine(max_connections=1, keepalive_expiry=5.0)
    conn_id, conn = zero_limit(pool)
    assert pool.checkout(A, 0.0) == Reuse(conn_id, wire(conn))
    conn.dead = True  # the look found GOAWAY or EOF
    assert pool.checkin(conn_id, 0.0) == Changes(close=(conn_id,))
    assert pool.checkout(A, 0.0) == Open(conn_id + 1)
    pool.open_failed(conn_id + 1)
    other_id, other = zero_limit(pool, now=1.0)
    assert pool.checkout(A, 1.0) == Reuse(other_id, wire(other))
    assert pool.checkin(other_id, 1.0) == NO_CHANGES
    assert pool.checkout(A, 1.05) == Wait(1, recheck=1.1)
    # Idle for keep-alive expiry: it goes like any idle connection, freeing the slot.
    assert pool.expire(6.0) == Changes(close=(other_id,), wake=(1,))
    assert pool.claim(1) == Open(other_id + 1)


def test_a_full_connection_is_never_evicted_for_its_own_origin() -> None:
    pool = PoolMachine(max_connections=1)
    conn_id, conn = zero_limit(pool)
    pool.checkout(A, 0.0)
    pool.checkin(conn_id, 0.0)
    assert pool.checkout(A, 0.05) == Wait(1, recheck=0.1)
    assert stats(pool) == (0, 0, 1, 1)
    # Another origin's request evicts it; so does a fresh (retry) checkout of its own.
    assert pool.checkout(B, 0.05) == Open(conn_id + 1, close=(conn_id,))
    pool2 = PoolMachine(max_connections=1)
    conn_id2, _ = zero_limit(pool2)
    assert pool2.checkout(A, 0.0, fresh=True) == Open(conn_id2 + 1, close=(conn_id2,))
    assert conn.max_streams == 0


def test_a_waiter_blocked_by_its_own_full_connection_lets_others_pass() -> None:
    pool = PoolMachine(max_connections=2)
    a_id, a_conn = zero_limit(pool)
    assert pool.checkout(A, 0.0) == Reuse(a_id, wire(a_conn))  # out for its first look
    b_id, _ = open_one(pool, B)
    assert pool.checkout(A, 0.05) == Wait(1, recheck=0.1)
    assert pool.checkout(B, 0.05) == Wait(2)  # nothing idle to evict
    # Back from its look, still full: the A waiter ahead cannot use it; B's evicts it.
    assert pool.checkin(a_id, 0.06) == Changes(close=(a_id,), wake=(2,))
    assert pool.claim(2) == Open(3)
    assert pool.claim(1) is None
    assert b_id == 2


def test_another_origins_waiter_evicts_a_connection_turning_full() -> None:
    pool = PoolMachine(max_connections=2)
    a_id, a_conn = busy_shared(pool)
    b_id, _ = open_one(pool, B)
    assert pool.checkout(A, 0.0) == Wait(1)
    assert pool.checkout(B, 0.0) == Wait(2)
    a_conn.max_streams = 0
    a_conn.streams -= 2
    pool.checkin(a_id, 0.0)
    assert pool.checkin(a_id, 0.0) == Changes(close=(a_id,), wake=(2, 1))
    assert pool.claim(2) == Open(3)
    assert pool.claim(1) is None  # check out again: now it waits for a slot
    assert b_id == 2


@pytest.mark.parametrize(
    ("recheck", "deadline", "now", "expected"),
    [
        (None, None, 1.0, (None, False)),  # wait to be woken, however long
        (None, 3.0, 1.0, (2.0, False)),  # then PoolTimeout
        (1.5, None, 1.0, (0.5, True)),  # then check out again
        (1.5, 3.0, 1.0, (0.5, True)),
        (4.0, 3.0, 1.0, (2.0, False)),  # the deadline comes first
        (3.0, 3.0, 1.0, (2.0, False)),
        (None, 0.5, 1.0, (0.0, False)),  # already past
        (0.5, None, 1.0, (0.0, True)),
    ],
)
def test_wait_timeout(
    recheck: float | None,
    deadline: float | None,
    now: float,
    expected: tuple[float | None, bool],
) -> None:
    assert Wait(1, recheck=recheck).timeout(deadline, now) == expected


def test_full_recheck_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="full_recheck_interval"):
        PoolMachine(full_recheck_interval=0)
    pool = PoolMachine(max_connections=1, full_recheck_interval=2.0)
    conn_id, conn = zero_limit(pool)
    pool.checkout(A, 0.0)
    pool.checkin(conn_id, 0.0)
    assert pool.checkout(A, 1.0) == Wait(1, recheck=2.0)
    assert conn.max_streams == 0


# -- a cap per host ----------------------------------------------------------------

HOST_A = ("https", "a.example", 443)
HOST_B = ("https", "b.example", 443)


def open_for(pool: PoolMachine, origin: Hashable, host: Hashable, fresh: bool = False) -> int:
    decision = pool.checkout(origin, 0.0, host=host, fresh=fresh)
    assert isinstance(decision, Open)
    assert pool.opened(decision.conn_id, wire(Fake()), 0.0) == NO_CHANGES
    return decision.conn_id


def test_per_host_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connections_per_host"):
        PoolMachine(max_connections_per_host=0)
    assert PoolMachine().max_connections_per_host is None
    assert PoolMachine(max_connections_per_host=2).max_connections_per_host == 2


def test_per_host_cap_at_and_past_the_limit() -> None:
    pool = PoolMachine(max_connections=10, max_connections_per_host=2)
    first = open_for(pool, A, HOST_A)
    open_for(pool, A_OTHER_TLS, HOST_A)  # another origin, the same host: counted
    assert pool.checkout(A, 0.0, host=HOST_A) == Wait(1)
    # Other hosts are not held back, nor by the waiter ahead of them.
    open_for(pool, B, HOST_B)
    open_for(pool, B, HOST_B)
    assert pool.checkout(B, 0.0, host=HOST_B) == Wait(2)
    # A connection of host A goes idle: the waiter gets it (same origin).
    assert pool.checkin(first, 1.0) == Changes(wake=(1,))
    assert isinstance(pool.claim(1), Reuse)


def test_per_host_cap_evicts_an_idle_connection_of_the_host() -> None:
    pool = PoolMachine(max_connections=10, max_connections_per_host=1)
    conn_id = open_for(pool, A_OTHER_TLS, HOST_A)
    pool.checkin(conn_id, 0.0)  # idle, for another origin of the host
    decision = pool.checkout(A, 0.0, host=HOST_A)
    assert isinstance(decision, Open)
    assert decision.close == (conn_id,)
    assert pool.statistics().connections == 1


def test_per_host_cap_fresh_checkout_evicts_its_own_origins_idle_connection() -> None:
    pool = PoolMachine(max_connections_per_host=1)
    conn_id = open_for(pool, A, HOST_A)
    pool.checkin(conn_id, 0.0)
    decision = pool.checkout(A, 0.0, host=HOST_A, fresh=True)
    assert isinstance(decision, Open)
    assert decision.close == (conn_id,)


def test_per_host_cap_one_victim_frees_both_limits() -> None:
    pool = PoolMachine(max_connections=1, max_connections_per_host=1)
    idle = open_for(pool, A_OTHER_TLS, HOST_A)
    pool.checkin(idle, 0.0)
    decision = pool.checkout(A, 0.0, host=HOST_A)
    assert isinstance(decision, Open)
    assert decision.close == (idle,)


def test_per_host_cap_waits_when_its_only_idle_connection_is_its_own_full_one() -> None:
    # A non-fresh checkout never evicts its own origin's idle connection: it reuses it,
    # so the only way to find none usable is a full pool of another origin's.
    pool = PoolMachine(max_connections=1, max_connections_per_host=1)
    busy = open_for(pool, B, HOST_A)  # counted for host A, in use
    assert pool.checkout(A, 0.0, host=HOST_A) == Wait(1)
    pool.checkin(busy, 0.0)
    assert isinstance(pool.claim(1), Open)  # the idle one was evicted for it


def test_per_host_cap_counts_by_origin_without_a_host() -> None:
    pool = PoolMachine(max_connections_per_host=1)
    open_one(pool, A)
    assert isinstance(pool.checkout(A, 0.0), Wait)
    assert isinstance(pool.checkout(A_OTHER_TLS, 0.0), Open)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_walks_under_a_per_host_cap(seed: int) -> None:
    """Random checkouts, finishes, failures and cancellations: the cap always holds,
    and nothing leaks."""
    rng = random.Random(seed)
    pool = PoolMachine(max_connections=4, max_keepalive_connections=3, max_connections_per_host=2)
    origins = [(A, HOST_A), (A_OTHER_TLS, HOST_A), (B, HOST_B)]
    hosts: dict[int, Hashable] = {}
    open_: dict[int, Fake] = {}
    held: list[int] = []
    connecting: list[int] = []
    waiting: dict[int, Hashable] = {}
    woken: set[int] = set()

    def apply(changes: Changes | tuple[int, ...]) -> None:
        close = changes if isinstance(changes, tuple) else changes.close
        for conn_id in close:
            assert open_.pop(conn_id).streams == 0
        if isinstance(changes, Changes):
            woken.update(changes.wake)

    def take(decision: Reuse | Open | Wait | None, host: Hashable) -> None:
        if decision is None:
            return
        apply(decision.close)
        if isinstance(decision, Wait):
            waiting[decision.ticket] = host
        elif isinstance(decision, Open):
            hosts[decision.conn_id] = host
            connecting.append(decision.conn_id)
        elif open_[decision.conn_id].dead:
            apply(pool.checkin(decision.conn_id, 0.0))
        else:
            open_[decision.conn_id].streams += 1
            held.append(decision.conn_id)

    for _ in range(80):
        step, n = rng.randrange(5), rng.randrange(100)
        if step == 0 and len(waiting) < 3:
            origin, host = origins[n % 3]
            take(pool.checkout(origin, 0.0, host=host, fresh=n % 7 == 0), host)
        elif step == 1 and connecting:
            conn_id = connecting.pop(n % len(connecting))
            if n % 4:
                open_[conn_id] = conn = Fake()
                conn.streams = 1
                held.append(conn_id)
                apply(pool.opened(conn_id, wire(conn), 0.0))
            else:
                apply(pool.open_failed(conn_id))
        elif step == 2 and held:
            conn_id = held.pop(n % len(held))
            open_[conn_id].streams -= 1
            open_[conn_id].dead = n % 5 == 0
            apply(pool.checkin(conn_id, 0.0))
        elif step == 3 and woken:
            ticket = sorted(woken)[n % len(woken)]
            woken.discard(ticket)
            take(pool.claim(ticket), waiting.pop(ticket))
        elif step == 4 and waiting and n % 3 == 0:
            ticket = sorted(waiting)[n % len(waiting)]
            woken.discard(ticket)
            del waiting[ticket]
            apply(pool.cancel_wait(ticket, 0.0))
        counts: dict[Hashable, int] = {}
        for conn_id in [*open_, *connecting]:
            counts[hosts[conn_id]] = counts.get(hosts[conn_id], 0) + 1
        # Granted slots not claimed yet count too.
        assert all(n <= pool._per_host.get(host, 0) <= 2 for host, n in counts.items())
        total = pool.statistics().connections
        assert len(open_) + len(connecting) <= total <= len(open_) + len(connecting) + len(woken)
        assert sum(pool._per_host.values()) == total
    while held or connecting or waiting:
        if waiting:
            ticket = next(iter(waiting))
            del waiting[ticket]
            woken.discard(ticket)
            apply(pool.cancel_wait(ticket, 0.0))
        elif connecting:
            apply(pool.open_failed(connecting.pop()))
        else:
            conn_id = held.pop()
            open_[conn_id].streams -= 1
            apply(pool.checkin(conn_id, 0.0))
    end = pool.statistics()
    assert end.active == end.waiters == end.connecting == 0
    assert sum(pool._per_host.values()) == end.connections == len(open_)


# -- random sequences ---------------------------------------------------------------


class PoolStateMachine(RuleBasedStateMachine):
    """Random interleavings of every call, checked against a small model."""

    def __init__(self) -> None:
        super().__init__()
        self.max_connections = 3
        self.max_keepalive = 2
        self.pool = PoolMachine(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive,
            keepalive_expiry=2.0,
        )
        self.now = 0.0
        self.conns: dict[int, Fake] = {}  # opened and not closed
        self.held: list[tuple[int, Fake]] = []  # checked out by a request
        self.connecting: list[int] = []  # being opened by a request
        self.waiting: list[int] = []  # tickets not yet claimed
        self.kinds: dict[int, bool] = {}  # ticket -> may wait for a probe
        self.tickets: dict[int, tuple[Hashable, bool]] = {}  # ticket -> (origin, fresh)
        self.rechecks: dict[int, float | None] = {}  # ticket -> its Wait's recheck time
        self.origins: dict[int, Hashable] = {}  # connection -> origin
        self.full: set[int] = set()  # idle in the pool while allowing no stream
        self.looked: dict[int, float] = {}  # connection -> when last handed out for a look
        self.woken: set[int] = set()
        self.closed: set[int] = set()

    def apply(self, changes: Changes) -> None:
        self.close(changes.close)
        for ticket in changes.wake:
            assert ticket in self.waiting
            assert ticket not in self.woken
            self.woken.add(ticket)

    def close(self, ids: tuple[int, ...]) -> None:
        for conn_id in ids:
            assert conn_id not in self.closed
            self.closed.add(conn_id)
            conn = self.conns.pop(conn_id)
            assert conn.streams == 0, "closed a connection in use"
            self.full.discard(conn_id)

    def take(self, decision: Reuse | Open | Wait) -> None:
        self.close(decision.close)
        if isinstance(decision, Reuse):
            conn = cast(Fake, decision.connection)
            assert self.conns[decision.conn_id] is conn
            if decision.conn_id in self.full:
                # A look at a connection that allowed no stream: at most one per interval.
                last = self.looked.get(decision.conn_id)
                assert last is None or self.now >= last + self.pool.full_recheck_interval
                self.looked[decision.conn_id] = self.now
            self.full.discard(decision.conn_id)
            if not conn.can_start_request:
                # It died between the grant and the claim, or it is a look at a
                # connection that allowed no stream: the shell's readability check
                # finds out and checks it back in; this request gives up.
                self.check_in(decision.conn_id, conn)
                return
            assert conn.can_start_request
            conn.streams += 1
            self.held.append((decision.conn_id, conn))
        elif isinstance(decision, Open):
            assert decision.conn_id not in self.closed
            assert decision.conn_id not in self.conns
            self.connecting.append(decision.conn_id)
        else:
            self.waiting.append(decision.ticket)

    def check_in(self, conn_id: int, conn: Fake) -> None:
        self.apply(self.pool.checkin(conn_id, self.now))
        if conn_id in self.pool._idle_all and not conn.can_start_request:
            self.full.add(conn_id)  # idle in the pool, allowing no stream

    # A few waiters at most: otherwise checkouts crowd out the other rules.
    @precondition(lambda self: len(self.waiting) < 3)
    @rule(origin=st.sampled_from([A, B]), fresh=st.booleans())
    def checkout(self, origin: Hashable, fresh: bool) -> None:
        # A's route may be HTTP/2 (its checkouts may probe and wait for probes); B's not.
        multiplex = origin == A
        decision = self.pool.checkout(origin, self.now, fresh=fresh, multiplex=multiplex)
        if isinstance(decision, Wait):
            self.kinds[decision.ticket] = multiplex and not fresh
            self.tickets[decision.ticket] = (origin, fresh)
            self.rechecks[decision.ticket] = decision.recheck
            if decision.recheck is not None:
                assert decision.recheck > self.now  # never a busy loop
        elif isinstance(decision, Open):
            self.origins[decision.conn_id] = origin
        self.take(decision)

    @precondition(lambda self: self.connecting)
    @rule(
        pick=st.integers(0, 99),
        ok=st.sampled_from([True, True, False]),
        streams=st.sampled_from([1, 2]),
    )
    def open_done(self, pick: int, ok: bool, streams: int) -> None:
        conn_id = self.connecting.pop(pick % len(self.connecting))
        if ok:
            conn = Fake(max_streams=streams)
            self.conns[conn_id] = conn
            changes = self.pool.opened(conn_id, wire(conn), self.now)
            conn.streams = 1
            self.held.append((conn_id, conn))
            self.apply(changes)
        else:
            self.apply(self.pool.open_failed(conn_id))

    @precondition(lambda self: self.held)
    @rule(pick=st.integers(0, 99), reusable=st.booleans())
    def finish(self, pick: int, reusable: bool) -> None:
        conn_id, conn = self.held.pop(pick % len(self.held))
        conn.streams -= 1
        if not reusable:
            conn.dead = True
        self.check_in(conn_id, conn)

    @precondition(lambda self: self.waiting)
    @rule(pick=st.integers(0, 99))
    def cancel(self, pick: int) -> None:
        ticket = self.waiting.pop(pick % len(self.waiting))
        self.woken.discard(ticket)
        self.apply(self.pool.cancel_wait(ticket, self.now))

    @precondition(lambda self: self.waiting)
    @rule(pick=st.integers(0, 99))
    def claim(self, pick: int) -> None:
        ticket = self.waiting[pick % len(self.waiting)]
        granted = self.pool.claim(ticket)
        if granted is None:
            if ticket in self.woken:  # woken with nothing: check out again
                self.check_out_again(ticket)
            return
        assert ticket in self.woken
        self.woken.discard(ticket)
        self.waiting.remove(ticket)
        if isinstance(granted, Open):
            self.origins[granted.conn_id] = self.tickets[ticket][0]
        self.take(granted)

    def check_out_again(self, ticket: int) -> None:
        self.waiting.remove(ticket)
        self.woken.discard(ticket)
        assert self.pool.cancel_wait(ticket, self.now) == NO_CHANGES
        origin, fresh = self.tickets[ticket]
        self.checkout(origin, fresh)

    @precondition(lambda self: self.waiting)
    @rule(pick=st.integers(0, 99))
    def recheck(self, pick: int) -> None:
        # A waiter whose recheck time has come (and nothing was granted) asks again.
        ticket = self.waiting[pick % len(self.waiting)]
        recheck = self.rechecks[ticket]
        if recheck is not None and self.now >= recheck and ticket not in self.woken:
            self.check_out_again(ticket)

    @rule(seconds=st.sampled_from([0.05, 0.5, 1.0, 2.5]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def sweep(self) -> None:
        self.apply(self.pool.expire(self.now))

    @rule(pick=st.integers(0, 99), limit=st.sampled_from([0, 0, 2]))
    def server_changes_its_stream_limit(self, pick: int, limit: int) -> None:
        # SETTINGS_MAX_CONCURRENT_STREAMS on a multiplexed connection, in use or idle.
        shared = sorted(i for i, c in self.conns.items() if c.max_streams != 1)
        if shared:
            self.conns[shared[pick % len(shared)]].max_streams = limit

    @rule(pick=st.integers(0, 99))
    def idle_connection_dies(self, pick: int) -> None:
        idle = sorted(i for i, c in self.conns.items() if c.streams == 0)
        if idle:
            self.conns[idle[pick % len(idle)]].dead = True

    @invariant()
    def limits_hold(self) -> None:
        s = self.pool.statistics()
        assert s.connections == s.connecting + s.active + s.idle
        assert s.connections <= self.max_connections
        assert s.idle <= self.max_keepalive
        assert s.waiters == len(self.waiting) - len(self.woken)
        waiting = [t for t in self.waiting if t not in self.woken]
        if any(not self.kinds[t] for t in waiting):
            # Anyone waiting for a slot means no slot is free.
            assert s.connections == self.max_connections
        if waiting:
            # Otherwise they wait for a connection being opened.
            assert s.connecting or s.connections == self.max_connections
        for ticket in waiting:
            origin, fresh = self.tickets[ticket]
            if not fresh and self.pool._full.get(origin):
                # Someone will look at its connection that allowed no stream.
                assert self.rechecks[ticket] is not None
        if s.connections == self.max_connections:
            # Nothing idle that a waiter could use or evict: only connections that
            # allowed no stream, of a waiter's own origin (a non-fresh one).
            for ticket in waiting:
                if self.kinds[ticket]:
                    continue  # waits for its origin's probe, not for a slot
                origin, fresh = self.tickets[ticket]
                for conn_id in self.pool._idle_all:
                    assert not fresh
                    assert conn_id in self.full
                    assert self.origins[conn_id] == origin
        # No leak: the pool counts exactly the open connections nobody closed...
        assert s.connections - s.connecting == len(self.conns)
        # ... and every slot being opened belongs to a request or an unclaimed grant.
        assert s.connecting >= len(self.connecting)
        assert s.connecting <= len(self.connecting) + len(self.woken)

    def teardown(self) -> None:
        """Everyone gives up or finishes: the pool must end with nothing in use."""
        while self.held or self.connecting or self.waiting:
            if self.waiting:
                self.cancel(0)
            elif self.connecting:
                self.open_done(0, False, 1)
            else:
                self.finish(0, True)
        s = self.pool.statistics()
        assert (s.connecting, s.active, s.waiters) == (0, 0, 0)
        assert s.idle == len(self.conns) <= self.max_keepalive


PoolStateMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None
)
TestPoolStateMachine = PoolStateMachine.TestCase


# Hypothesis picks the machine's rules evenly and keeps runs short, so connections that
# turn full while idle are rare above. These walks take 80 steps, each drawn evenly from
# a chosen mix by a generator seeded by Hypothesis (which prefers simple draws).
_STEPS = ("checkout", "open", "finish", "claim", "cancel", "recheck", "time", "limit", "dies")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_walks_with_servers_changing_their_stream_limits(seed: int) -> None:
    rng = random.Random(seed)
    machine = PoolStateMachine()
    for _ in range(80):
        step, n = rng.choice(_STEPS), rng.randrange(100)
        if step == "checkout" and len(machine.waiting) < 3:
            machine.checkout((A, B)[n % 2], n % 5 == 0)
        elif step == "open" and machine.connecting:
            machine.open_done(n, n % 4 != 0, 1 + n % 2)
        elif step == "finish" and machine.held:
            machine.finish(n, n % 6 != 0)
        elif step == "claim" and machine.waiting:
            machine.claim(n)
        elif step == "cancel" and machine.waiting and n % 4 == 0:
            machine.cancel(n)
        elif step == "recheck" and machine.waiting:
            machine.recheck(n)
        elif step == "time":
            machine.time_passes((0.05, 0.05, 0.5, 2.5)[n % 4])
        elif step == "limit":
            machine.server_changes_its_stream_limit(n, (0, 0, 2)[n % 3])
        elif step == "dies":
            machine.idle_connection_dies(n)
        machine.limits_hold()
    machine.teardown()
