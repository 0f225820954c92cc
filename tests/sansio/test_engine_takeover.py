"""The connection handed over after a 101 or a 2xx to CONNECT (sansio.engine), on the
virtual clock: it leaves the pool with its stream open, the bytes after the head are
kept for the new protocol, and closing the response closes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sansio.config import Limits, Proxy
from sansio.engine import EndOfBody, Read, ResponseHead, Write
from sansio.models import Request
from sansio.testing import READ, Delay, Emit, MemoryConnection, Program

from .test_engine import OK, REQUEST, World, scripted

SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
UPGRADE = {"upgrade": "websocket", "connection": "Upgrade"}


def echo_after(head: bytes, extra: bytes = b"") -> Callable[[], Program]:
    """A peer that answers the first request with ``head`` + ``extra``, then echoes."""

    def program() -> Program:
        data = b""
        while b"\r\n\r\n" not in data:
            data += yield READ
        yield Emit(head + extra)
        while data := (yield READ):
            yield Emit(data)

    return program


async def _switch(world: World, **kwargs: Any) -> tuple[Any, Any]:
    request = Request("GET", "http://example.org/ws", headers=UPGRADE, **kwargs)
    response = await world.transport.handle_async_request(request)
    return response, response.extensions["network_stream"]


def test_a_101_hands_the_connection_over_with_what_followed_the_head() -> None:
    world = World()
    world.serve(echo_after(SWITCH, b"early"))
    ex_seen: list[Any] = []

    async def main() -> None:
        request = Request("GET", "http://example.org/ws", headers=UPGRADE)
        ex = world.engine.exchange(request)
        head = await world.loop.drive(ex, ex.send(None), request)
        assert type(head) is ResponseHead
        assert head.status_code == 101
        ex_seen.append((ex.taken_over, ex.take_leftover(), ex.take_leftover()))
        stream = ex.network
        assert isinstance(stream, MemoryConnection)
        # Out of the pool: nothing active, nothing idle; the stream is open and ours.
        ex_seen.append(world.engine.statistics().connections)
        await world.loop.perform(_write(stream, b"ping"))
        ex_seen.append(await world.loop.perform(Read(stream, 1.0)))
        response = ex.response(head, None)
        assert response.extensions["network_stream"] is stream
        assert response.extensions["http_version"] == b"HTTP/1.1"
        assert response.extensions["reason_phrase"] == b"Switching Protocols"
        # Its body is empty; closing the response closes the connection (once).
        assert type(ex.send(None)) is EndOfBody
        await world.loop.drive(ex, ex.close())
        ex_seen.append(stream.client_closed)
        await world.loop.drive(ex, ex.close())  # again: nothing more

    world.run(main())
    assert ex_seen == [(True, b"early", b""), 0, b"ping", True]
    world.assert_clean()


def _write(stream: Any, data: bytes) -> Write:
    return Write(stream, data, 1.0)


def test_a_2xx_to_connect_hands_the_connection_over() -> None:
    world = World()
    world.serve(echo_after(b"HTTP/1.1 200 Connection established\r\n\r\n"))

    async def main() -> tuple[int, bool, int]:
        request = Request("CONNECT", "http://example.org/")
        ex = world.engine.exchange(request)
        head = await world.loop.drive(ex, ex.send(None), request)
        assert type(head) is ResponseHead
        return head.status_code, ex.taken_over, world.engine.statistics().connections

    assert world.run(main()) == (200, True, 0)


def test_a_handed_over_connection_frees_its_slot_for_a_waiter() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(echo_after(SWITCH))

    async def main() -> list[Any]:
        first = Request("GET", "http://example.org/ws", headers=UPGRADE)
        ex = world.engine.exchange(first)

        async def upgrade() -> int:
            await world.loop.sleep(0)  # the waiter below queues first... or not: either way
            head = await world.loop.drive(ex, ex.send(None), first)
            return head.status_code  # type: ignore[union-attr, no-any-return]

        async def other() -> int:
            await world.loop.sleep(1)  # waits for the slot the upgrade holds
            request = Request("GET", "http://example.org/ws", headers=UPGRADE)
            response = await world.transport.handle_async_request(request)
            return response.status_code

        return await world.loop.gather(upgrade(), other())

    assert world.run(main()) == [101, 101]
    assert world.engine.statistics().connections == 0


def test_an_idle_connection_that_expired_meanwhile_is_closed_at_the_hand_over() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)), host="other.example")
    world.serve(scripted((REQUEST, Delay(10), SWITCH)))

    async def main() -> tuple[int, int]:
        await world.fetch("http://other.example/")
        idle = world.engine.statistics().idle
        response, _ = await _switch(world)
        return idle, response.status_code

    assert world.run(main()) == (1, 101)
    assert world.engine.statistics().connections == 0
    assert world.network.connections[0].client_closed  # expired during the 10 s wait


def test_the_engine_closed_just_before_the_hand_over() -> None:
    world = World()
    world.serve(echo_after(SWITCH))

    async def main() -> bool:
        request = Request("GET", "http://example.org/ws", headers=UPGRADE)
        ex = world.engine.exchange(request)
        act = ex.send(None)
        while True:
            result = await world.loop.perform(act)
            if type(act) is Read:
                world.loop.apply(world.engine.close())  # between the read and the parse
            act = ex.send(result)
            if type(act) is ResponseHead:
                return ex.taken_over

    assert world.run(main()) is True


def test_an_upgrade_through_a_forwarding_proxy_goes_through_a_tunnel() -> None:
    world = World(proxy=Proxy("http://proxy.example:3128"))
    proxy = scripted((REQUEST, b"HTTP/1.1 200 OK\r\n\r\n", REQUEST, SWITCH), (REQUEST, OK))
    world.serve(proxy, host="proxy.example", port=3128)

    async def main() -> tuple[int, int]:
        response, _ = await _switch(world)
        return response.status_code, (await world.fetch())[0]

    assert world.run(main()) == (101, 200)
    # CONNECT for the upgrade (origin-form inside); the plain GET forwarded, absolute-form.
    assert proxy.seen == [b"example.org:80", b"/ws", b"http://example.org/"]  # type: ignore[attr-defined]
