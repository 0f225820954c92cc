"""The total deadline in the engine (``Timeout(total=...)``), on the virtual clock.

Each phase a send can be in when its total timeout passes: the request fails with that
phase's `TimeoutException`, whose message names the total, at the moment the deadline
passed, and the pool is clean at once. The transport is used without a client, so the
deadline starts from ``extensions["timeout"]["total"]`` (`sansio.deadline.Deadline.of`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sansio.config import Limits, Proxy
from sansio.deadline import DEADLINE_EXTENSION, Deadline
from sansio.engine import Connect, Effects, Park, Sleep
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    PoolTimeout,
    ReadTimeout,
    TimeoutException,
    WriteTimeout,
)
from sansio.models import Request
from sansio.retry import Retry
from sansio.testing import HOLD, READ, STALL, Delay, Emit, Program

from .test_engine import OK, REQUEST, H2Script, World, h2_world, response, scripted

TOTAL = "the total timeout of {:g} s for the request passed (while in the {} phase)"


def timeout(**values: float | None) -> dict[str, Any]:
    return {"extensions": {"timeout": values}}


def fails(world: World, kind: type[TimeoutException], total: float, phase: str,
          **kwargs: Any) -> TimeoutException:  # fmt: skip
    """The request fails with ``kind`` naming the total, and nothing is left held."""
    with pytest.raises(kind) as info:
        world.get(**kwargs)
    assert str(info.value) == TOTAL.format(total, phase)
    world.assert_clean()
    return info.value


def dripping(every: float, count: int) -> Program:
    """A response whose body comes one byte every ``every`` seconds."""
    yield READ
    yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % count)
    for _ in range(count):
        yield Delay(every)
        yield Emit(b"x")
    yield HOLD


# -- each phase ----------------------------------------------------------------------------


def test_a_body_dripping_inside_the_read_timeout_is_stopped() -> None:
    world = World()
    world.serve(lambda: dripping(0.9, 100))
    error = fails(world, ReadTimeout, 5, "read", **timeout(read=1.0, total=5.0))
    assert world.clock.now == pytest.approx(1005.0)
    assert isinstance(error.__cause__, ReadTimeout)  # the read the deadline cut short
    # Without the total it is read to its end, however long that takes.
    world.serve(lambda: dripping(0.9, 100), host="other.example")
    assert world.get("http://other.example/", **timeout(read=1.0)) == (200, b"x" * 100)


def test_the_wait_for_the_pool_is_bounded() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, Delay(10), OK)))
    outcome: list[Any] = []

    async def second() -> None:
        try:
            await world.fetch(**timeout(pool=None, total=2.0))
        except PoolTimeout as exc:
            outcome.extend((str(exc), world.clock.now))

    async def main() -> None:
        await world.loop.gather(world.fetch(), second())

    world.run(main())
    assert outcome == [TOTAL.format(2, "pool"), pytest.approx(1002.0)]
    world.assert_clean()


def test_a_pool_timeout_shorter_than_what_is_left_is_the_pools_own() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, Delay(10), OK)))
    outcome: list[str] = []

    async def second() -> None:
        try:
            await world.fetch(**timeout(pool=1.0, total=2.0))
        except PoolTimeout as exc:
            outcome.append(str(exc))

    world.run(world.loop.gather(world.fetch(), second()))
    assert outcome == ["Timed out waiting for a connection from the pool"]


def test_a_slow_proxy_handshake_is_the_connect_phase() -> None:
    world = World(proxy=Proxy("http://proxy.example:3128"))
    world.serve(scripted((REQUEST, Delay(10), b"HTTP/1.1 200 OK\r\n\r\n")),
                host="proxy.example", port=3128)  # fmt: skip
    fails(world, ConnectTimeout, 3, "connect", url="https://example.org/",
          **timeout(connect=5.0, total=3.0))  # fmt: skip
    assert world.clock.now == pytest.approx(1003.0)


def test_an_upload_that_backs_up_is_the_write_phase() -> None:
    world = World()

    def stalled() -> Program:
        yield READ
        yield STALL

    world.serve(stalled)
    fails(world, WriteTimeout, 3, "write", method="PUT", content=b"x" * (5 * 1024 * 1024),
          **timeout(write=None, total=3.0))  # fmt: skip
    assert world.clock.now == pytest.approx(1003.0)


def test_the_wait_for_100_continue_ends_with_the_total() -> None:
    world = World()
    world.serve(_silent)
    # The body would go after the wait for a 100 (1 s by default): the total is first.
    fails(world, ReadTimeout, 0.5, "read", method="POST", content=b"body",
          headers={"Expect": "100-continue"}, **timeout(read=5.0, total=0.5))  # fmt: skip
    assert world.clock.now == pytest.approx(1000.5)


def _silent() -> Program:
    yield READ
    yield HOLD


def test_the_wait_for_100_continue_alone_still_sends_the_body() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)))
    status = world.get(method="POST", content=b"body", headers={"Expect": "100-continue"},
                       **timeout(read=5.0, total=30.0))  # fmt: skip
    assert status == (200, b"ok")
    assert world.clock.now == pytest.approx(1001.0)  # the default wait for a 100


def test_a_deadline_passed_before_the_start_fails_in_the_pool_phase() -> None:
    world = World()
    peer = scripted((REQUEST, OK))
    world.serve(peer)
    late = Deadline.start(1.0, world.clock.now - 2.0)
    fails(world, PoolTimeout, 1, "pool", extensions={DEADLINE_EXTENSION: late})
    assert peer.accepted == []  # type: ignore[attr-defined]


def test_the_sends_deadline_is_shared_by_its_requests() -> None:
    # What the flow does for redirects: each request gets what the earlier ones left.
    world = World()
    world.serve(scripted((REQUEST, Delay(2), OK, REQUEST, Delay(2), OK)))
    shared = Deadline.start(3.0, world.clock.now)
    options = {"extensions": {DEADLINE_EXTENSION: shared, "timeout": {"read": 5.0}}}
    assert world.get(**options) == (200, b"ok")
    fails(world, ReadTimeout, 3, "read", url="http://example.org/2", **options)
    assert world.clock.now == pytest.approx(1003.0)


def test_a_phase_timeout_shorter_than_what_is_left_keeps_its_own_error() -> None:
    world = World()
    world.serve(scripted((REQUEST, Delay(10), OK)))
    with pytest.raises(ReadTimeout) as info:
        world.get(**timeout(read=2.0, total=30.0))
    assert "total" not in str(info.value)
    assert world.clock.now == pytest.approx(1002.0)
    world.assert_clean()


def test_a_send_done_in_time_is_untouched() -> None:
    world = World()
    world.serve(scripted((REQUEST, Delay(1), OK, REQUEST, OK)))
    assert world.get(**timeout(read=5.0, total=2.0)) == (200, b"ok")
    assert world.get("http://example.org/2", **timeout(total=2.0)) == (200, b"ok")
    world.assert_clean()


# -- the retry policy ------------------------------------------------------------------------


def test_no_back_off_outlasts_the_deadline() -> None:
    world = World(retries=3)
    ex = world.engine.exchange(Request("GET", "http://example.org/", **timeout(total=0.75)))
    act = ex.send(None)
    sleeps = []
    for _ in range(2):  # at once, then after 0.5 s: both fit in 0.75 s
        assert type(act) is Connect
        assert act.timeout == pytest.approx(0.75 - sum(sleeps))
        act = ex.throw(ConnectError("refused"))
        assert type(act) is Sleep
        sleeps.append(act.seconds)
        world.clock.now += act.seconds
        act = ex.send(None)
    assert sleeps == [0.0, 0.5]
    assert type(act) is Connect
    # The next back-off (1 s) would end after the deadline: the error is the answer.
    with pytest.raises(ConnectError, match="again"):
        ex.throw(ConnectError("again"))
    assert world.engine.statistics().connecting == 0


def test_a_retried_status_is_returned_when_its_wait_would_pass_the_deadline() -> None:
    world = World(retries=Retry(status_forcelist={503}))
    busy = response(b"busy", 503, b"Retry-After: 5\r\n")
    peer = scripted((REQUEST, busy, REQUEST, busy), (REQUEST, OK))
    world.serve(peer)
    assert world.get(**timeout(total=4.0)) == (503, b"busy")
    assert world.get(**timeout(total=6.0)) == (200, b"ok")  # waited 5 s, then asked again
    assert world.clock.now == pytest.approx(1005.0)


def test_a_timeout_cut_by_the_deadline_is_not_retried() -> None:
    world = World(retries=Retry(total=5, backoff_factor=0))
    world.serve(scripted((REQUEST, Delay(10), OK)))
    fails(world, ReadTimeout, 2, "read", **timeout(read=5.0, total=2.0))


# -- HTTP/2: waiting for another stream's turn -------------------------------------------------


def test_h2_a_stream_waiting_to_read_fails_alone() -> None:
    peer = H2Script((2, Delay(5), ("reply", 0, b"answered")))
    world = h2_world(peer)

    async def one(path: str, total: float) -> Any:
        try:
            return await world.fetch(f"http://example.org{path}", **timeout(total=total))
        except ReadTimeout as exc:
            return str(exc)

    results = world.run(world.loop.gather(one("/a", 30.0), one("/b", 2.0)))
    assert results == [(200, b"answered"), TOTAL.format(2, "read")]
    assert peer.accepted == 1
    assert len(peer.resets) == 1  # the stream that gave up was reset
    world.assert_clean()


def test_h2_a_stream_waiting_to_write_is_the_write_phase() -> None:
    # The first stream's upload fills the connection (the peer stops reading); the
    # second waits for its turn to write, until its own deadline.
    window = {4: 2**31 - 1}  # SETTINGS_INITIAL_WINDOW_SIZE

    def program() -> Program:
        import h2.config
        import h2.connection

        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        server = h2.connection.H2Connection(config=config)
        server.initiate_connection()
        server.update_settings(window)
        server.increment_flow_control_window(2**31 - 1 - 65535)
        yield Emit(server.data_to_send())
        yield STALL

    world = h2_world(program)

    def upload() -> Iterator[bytes]:
        for _ in range(16):
            yield b"u" * (1024 * 1024)

    async def one(kind: str) -> Any:
        try:
            if kind == "upload":
                return await world.fetch(method="PUT", content=upload(), **timeout(total=10.0))
            await world.loop.sleep(1)
            return await world.fetch("http://example.org/b", **timeout(total=2.0))
        except TimeoutException as exc:
            return type(exc).__name__, str(exc), world.clock.now

    results = world.run(world.loop.gather(one("upload"), one("get")))
    assert results == [
        ("WriteTimeout", TOTAL.format(10, "write"), pytest.approx(1010.0)),
        ("WriteTimeout", TOTAL.format(2, "write"), pytest.approx(1003.0)),
    ]
    world.assert_clean()


def test_a_park_cut_by_the_deadline_names_its_phase() -> None:
    # The interpreter's side of it: a Park not woken before the deadline is its error.
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, HOLD)))
    first = world.engine.exchange(Request("GET", "http://example.org/"))
    assert type(first.send(None)) is Connect
    ex = world.engine.exchange(Request("GET", "http://example.org/", **timeout(total=1.0)))
    park = ex.send(None)
    assert type(park) is Park
    assert park.timeout == 1.0
    world.clock.now += 1.0
    with pytest.raises(PoolTimeout, match="total timeout of 1 s"):
        ex.send(False)
    assert world.engine.statistics().waiters == 0


def test_every_wait_of_opening_a_connection_is_cut_and_a_late_one_fails_at_once() -> None:
    # SOCKS4 to a host name, then TLS to the origin: each wait gets what is left.
    world = World(proxy=Proxy("socks4://socks.example:1080"))
    request = Request("GET", "https://example.org/", **timeout(connect=5.0, write=5.0, total=2.0))
    ex = world.engine.exchange(request)
    stream = object()  # the engine only hands it back
    act = ex.send(None)
    assert (type(act).__name__, act.timeout) == ("Connect", 2.0)  # type: ignore[union-attr]
    world.clock.now += 0.5
    act = ex.send(stream)
    assert (type(act).__name__, act.timeout) == ("Resolve", 1.5)  # type: ignore[union-attr]
    act = ex.send([("93.184.216.34", 443)])
    assert (type(act).__name__, act.timeout) == ("Write", 1.5)  # type: ignore[union-attr]
    act = ex.send(None)
    assert (type(act).__name__, act.timeout) == ("Read", 1.5)  # type: ignore[union-attr]
    world.clock.now += 0.5
    act = ex.send(b"\x00\x5a" + bytes(6))  # granted
    assert (type(act).__name__, act.timeout) == ("StartTLS", 1.0)  # type: ignore[union-attr]
    world.clock.now += 1.0
    # The request's head would go out after the deadline: it fails without waiting, and
    # only what has arrived already is read.
    act = ex.send((stream, None))
    assert (type(act).__name__, act.timeout) == ("Read", 0.001)  # type: ignore[union-attr]
    act = ex.throw(ReadTimeout("nothing there"))
    assert act == Effects(close=(stream,))  # the connection is closed
    with pytest.raises(WriteTimeout) as info:
        ex.send(None)
    assert str(info.value) == TOTAL.format(2, "write")
    assert world.engine.statistics().connections == 0
