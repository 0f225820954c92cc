"""`sansio.testing`: the virtual clock, memory connections, peers and the loop itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sansio.exceptions import ConnectError, ReadTimeout, WriteTimeout
from sansio.models import Request
from sansio.streams import SyncByteStream
from sansio.testing import (
    CLOSE,
    READ,
    RESET,
    STALL,
    STALL_BUFFER,
    Deadlock,
    Delay,
    Emit,
    Loop,
    MemoryConnection,
    MemoryNetwork,
    MemoryTransport,
    Program,
    VirtualClock,
    http1_peer,
    http2_peer,
)


def echo(method: bytes, target: bytes, headers: Any, body: bytes) -> tuple[int, list[Any], bytes]:
    return 200, [(b"x-method", method)], target + b" " + body


def world(**engine: Any) -> tuple[MemoryNetwork, Loop, MemoryTransport]:
    network = MemoryNetwork()
    loop = Loop(network)
    return network, loop, MemoryTransport(loop, **engine)


async def fetch(transport: MemoryTransport, url: str, **kwargs: Any) -> tuple[int, bytes]:
    response = await transport.handle_async_request(Request("GET", url, **kwargs))
    body = await response.aread()
    await response.aclose()
    return response.status_code, body


def test_the_clock_moves_only_when_everyone_waits() -> None:
    network, loop, _ = world()
    assert network.clock() == 1000.0

    async def sleeper(seconds: float) -> float:
        await loop.sleep(seconds)
        return network.clock()

    assert loop.run(loop.gather(sleeper(5), sleeper(2))) == [1005.0, 1002.0]
    assert VirtualClock(3.0)() == 3.0


def test_gather_raises_the_first_error_once_all_have_ended() -> None:
    _network, loop, _ = world()
    done: list[str] = []

    async def fails() -> None:
        raise ValueError("no")

    async def works() -> None:
        await loop.sleep(1)
        done.append("works")

    with pytest.raises(ValueError, match="no"):
        loop.run(loop.gather(fails(), works()))
    assert done == ["works"]


def test_a_connection_nobody_listens_on_is_refused() -> None:
    _network, loop, transport = world()
    with pytest.raises(ConnectError):
        loop.run(fetch(transport, "http://nowhere.example/"))


def test_a_listener_may_refuse_a_connection() -> None:
    network, loop, transport = world(retries=1)
    refused = [False, True]  # popped from the end: refused first, accepted next
    peer = http1_peer(echo)

    def accept() -> Program:
        if refused.pop():
            raise ConnectError("refused once")
        return peer()

    network.listen("example.org", 80, accept)
    assert loop.run(fetch(transport, "http://example.org/")) == (200, b"/ ")
    assert network.clock() == 1000.0  # the first retry comes at once
    assert refused == []


def test_names_resolve_as_added_and_addresses_to_themselves() -> None:
    network = MemoryNetwork()
    network.add_name("example.org", "2001:db8::1", "192.0.2.1")
    assert network.resolve("example.org", 80) == [("2001:db8::1", 80), ("192.0.2.1", 80)]
    assert network.resolve("192.0.2.9", 443) == [("192.0.2.9", 443)]
    assert network.resolve("::1", 443) == [("::1", 443)]
    with pytest.raises(ConnectError, match="not known"):
        network.resolve("nowhere.example", 80)


def test_a_unix_socket_path_listens_too() -> None:
    network, loop, transport = world(uds="/run/app.sock")
    network.listen("/run/app.sock", 0, http1_peer(echo))
    assert loop.run(fetch(transport, "http://example.org/x")) == (200, b"/x ")


def test_http1_peer_answers_every_request_and_closes_with_the_client() -> None:
    clock = VirtualClock()
    connection = MemoryConnection(http1_peer(echo)(), clock)
    assert connection.write(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    answer = connection.read()
    assert answer is not None
    assert answer.endswith(b"/a hi")
    assert connection.read() is None
    assert connection.write(b"")  # nothing to hand over: nothing happens
    connection.close()
    connection.close()  # twice is fine
    with pytest.raises(ConnectionAbortedError):
        connection.read()
    with pytest.raises(ConnectionAbortedError):
        connection.write(b"x")


def test_http1_peer_closes_on_bytes_it_cannot_parse() -> None:
    connection = MemoryConnection(http1_peer(echo)(), VirtualClock())
    connection.write(b"\x00\x01 not http\r\n\r\n")
    assert connection.read() == b""


def test_http2_peer_sends_bodies_larger_than_the_windows() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: more than the client's windows
    network, loop, transport = world(http1=False, http2=True)
    network.listen("example.org", 80, http2_peer(lambda m, t, h, b: (200, [], big)))
    assert loop.run(fetch(transport, "http://example.org/")) == (200, big)


def test_http2_peer_answers_with_no_body() -> None:
    network, loop, transport = world(http1=False, http2=True)
    network.listen("example.org", 80, http2_peer(lambda m, t, h, b: (204, [], b"")))
    assert loop.run(fetch(transport, "http://example.org/")) == (204, b"")


def test_http2_peer_closes_on_frames_it_refuses() -> None:
    connection = MemoryConnection(http2_peer(echo)(), VirtualClock())
    assert connection.read()  # its SETTINGS
    connection.write(b"this is not the HTTP/2 preface, not at all\r\n\r\n")
    assert connection.read() == b""


def test_a_peer_pauses_on_the_virtual_clock() -> None:
    def program() -> Program:
        yield Delay(2)
        yield Emit(b"late")
        yield CLOSE

    clock = VirtualClock()
    connection = MemoryConnection(program(), clock)
    assert connection.wake_time() == 1002.0
    connection.tick()
    assert connection.read() is None
    clock.now = 1002.0
    connection.tick()
    assert connection.read() == b"late"
    assert connection.wake_time() is None


def test_a_peer_that_ends_its_program_closes() -> None:
    def program() -> Program:
        yield Emit(b"bye")

    connection = MemoryConnection(program(), VirtualClock())
    assert connection.read() == b"bye"
    assert connection.read() == b""


def test_a_reset_fails_reads_and_writes() -> None:
    def program() -> Program:
        yield READ
        yield RESET

    connection = MemoryConnection(program(), VirtualClock())
    assert connection.write(b"x")
    with pytest.raises(ConnectionResetError):
        connection.read()
    with pytest.raises(ConnectionResetError):
        connection.write(b"y")


def _stalled() -> Program:
    yield STALL


def test_a_write_to_a_stalled_peer_times_out() -> None:
    network, loop, transport = world()
    network.listen("example.org", 80, _stalled)
    body = b"x" * (STALL_BUFFER + 1)
    with pytest.raises(WriteTimeout):
        loop.run(fetch(transport, "http://example.org/", content=body, extensions={
            "timeout": {"write": 2.0}}))  # fmt: skip
    assert network.clock() == pytest.approx(1002.0 + 0.001)


def test_a_write_with_no_timeout_to_a_stalled_peer_is_a_deadlock() -> None:
    network, loop, transport = world()
    network.listen("example.org", 80, _stalled)
    with pytest.raises(Deadlock):
        loop.run(fetch(transport, "http://example.org/", content=b"x" * (STALL_BUFFER + 1)))


def test_a_read_that_never_ends_is_a_deadlock_or_a_timeout() -> None:
    def silent() -> Program:
        yield READ
        yield STALL

    network, loop, transport = world()
    network.listen("example.org", 80, silent)
    with pytest.raises(Deadlock):
        loop.run(fetch(transport, "http://example.org/"))
    with pytest.raises(ReadTimeout):
        loop.run(fetch(transport, "http://example.org/", extensions={"timeout": {"read": 3.0}}))


def test_a_blocking_client_body_is_read_and_closed() -> None:
    class ListStream(SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            return iter([b"a", b"b"])

    network, loop, transport = world()
    network.listen("example.org", 80, http1_peer(echo))
    request = Request("POST", "http://example.org/", headers={"Transfer-Encoding": "chunked"})
    request.stream = ListStream()

    async def main() -> tuple[int, bytes]:
        response = await transport.handle_async_request(request)
        return response.status_code, await response.aread()

    assert loop.run(main()) == (200, b"/ ab")


def test_a_task_must_await_the_loop_only() -> None:
    _network, loop, _ = world()

    class Foreign:
        def __await__(self) -> Iterator[str]:
            yield "something else"

    async def main() -> None:
        await Foreign()

    # It fails with the reason (also under python -O), rather than sleep for ever.
    with pytest.raises(RuntimeError, match="awaited 'something else', not the Loop"):
        loop.run(main())


def test_sansio_testing_is_an_attribute_loaded_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    import sansio

    loaded = sys.modules["sansio.testing"]
    monkeypatch.delattr(sansio, "testing")
    monkeypatch.delitem(sys.modules, "sansio.testing")
    fresh = sansio.testing  # through the package's __getattr__
    assert fresh is sys.modules["sansio.testing"]
    assert fresh is not loaded
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sansio.nothing  # noqa: B018
