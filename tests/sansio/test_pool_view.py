"""`PoolMachine.connections`: the pool as httpcore's ``ConnectionPool.connections`` shows it."""

from __future__ import annotations

from typing import cast

from sansio.pool import Open, PoolMachine
from tests.sansio.test_pool import Fake, wire

ORIGIN = ("https", "a.example", 443, "tls")
HOST = ("https", "a.example", 443)


def test_connecting_active_idle_and_expired() -> None:
    pool = PoolMachine(keepalive_expiry=5.0)
    decision = cast(Open, pool.checkout(ORIGIN, 0.0, host=HOST))
    (connecting,) = pool.connections(0.0)
    assert repr(connecting) == "<HTTPConnection [CONNECTING]>"
    assert (connecting.is_idle(), connecting.is_available(), connecting.has_expired()) == (
        False,
        False,
        False,
    )
    conn = Fake()
    conn.streams = 1
    pool.opened(decision.conn_id, wire(conn), 0.0)
    (active,) = pool.connections(1.0)
    assert active.info() == "'https://a.example:443', HTTP/1.1, ACTIVE"
    assert (active.is_idle(), active.is_available(), active.is_closed()) == (False, False, False)
    conn.streams = 0
    pool.checkin(decision.conn_id, 2.0)
    (idle,) = pool.connections(6.9)
    assert repr(idle) == "<HTTPConnection ['https://a.example:443', HTTP/1.1, IDLE]>"
    assert (idle.is_idle(), idle.is_available(), idle.has_expired()) == (True, True, False)
    # At the expiry and past it: expired (the next checkout closes it).
    assert pool.connections(7.0)[0].has_expired()
    assert pool.connections(8.0)[0].has_expired()


def test_no_expiry_never_expires() -> None:
    pool = PoolMachine(keepalive_expiry=None)
    decision = cast(Open, pool.checkout(ORIGIN, 0.0, host=HOST))
    pool.opened(decision.conn_id, wire(Fake()), 0.0)
    pool.checkin(decision.conn_id, 0.0)
    assert not pool.connections(1e9)[0].has_expired()


def test_http2_and_a_proxy_key() -> None:
    pool = PoolMachine()
    decision = cast(Open, pool.checkout(ORIGIN, 0.0, multiplex=True, host="proxy-key"))
    conn = Fake(max_streams=100)
    conn.streams = 1
    pool.opened(decision.conn_id, wire(conn), 0.0)
    (shared,) = pool.connections(0.0)
    # A multiplexed connection with room takes another stream while active.
    assert shared.info() == "'proxy-key', HTTP/2, ACTIVE"
    assert shared.is_available()
