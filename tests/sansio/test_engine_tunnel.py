"""Tunnels over HTTP/2 (extended CONNECT, RFC 8441) through the engine, on the virtual
clock: the exchange waits for the server's SETTINGS, opens the tunnel on a stream,
reads it as a body while a `TunnelWriter` writes it, and other streams go on beside."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest

from sansio.engine import END, NO_EFFECTS, BodyChunk, EndOfBody, Exchange, Park, Read, ResponseHead
from sansio.engine.mux import TunnelReader, TunnelWriter
from sansio.exceptions import (
    LocalProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteTimeout,
)
from sansio.models import Request
from sansio.testing import CLOSE, READ, RESET, Delay, Emit, Program

from .test_engine import World

WS = {"extensions": {"protocol": "websocket"}}


def tunnel_peer(
    *,
    allow: bool = True,
    echo: bool = True,
    window: int | None = None,
    delay: float = 0,
    status: bytes = b"200",
) -> Any:
    """An h2 server (prior knowledge) that answers an extended CONNECT with 200 and echoes
    the tunnel's bytes upper-cased (``echo``), ending its side when we end ours; any other
    request gets 200 "plain". ``window``: its initial stream window for our uploads;
    ``delay``: seconds of silence before each answer."""
    accepted: list[int] = []

    def program() -> Program:
        accepted.append(1)
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        server = h2.connection.H2Connection(config=config)
        codes = h2.settings.SettingCodes
        values = {codes.ENABLE_CONNECT_PROTOCOL: int(allow)}
        if window is not None:
            values[codes.INITIAL_WINDOW_SIZE] = window
        server.local_settings = h2.settings.Settings(client=False, initial_values=values)
        server.initiate_connection()
        unsent: dict[int, bytearray] = {}
        ending: set[int] = set()
        while True:
            for sid, content in list(unsent.items()):
                room = min(server.local_flow_control_window(sid), server.max_outbound_frame_size)
                if room > 0 and content:
                    server.send_data(sid, bytes(content[:room]))
                    del content[:room]
                if not content and sid in ending:
                    server.end_stream(sid)
                    del unsent[sid]
            if out := server.data_to_send():
                if delay:
                    yield Delay(delay)
                yield Emit(out)
            data = yield READ
            if not data:
                break
            try:
                events = server.receive_data(data)
            except h2.exceptions.ProtocolError:
                break
            for event in events:
                sid = getattr(event, "stream_id", 0)
                if isinstance(event, h2.events.RequestReceived):
                    fields = dict(event.headers or ())
                    if fields.get(b":protocol") != b"websocket":
                        server.send_headers(sid, [(b":status", b"200")])
                        server.send_data(sid, b"plain", end_stream=True)
                    elif status[:1] != b"2":
                        server.send_headers(sid, [(b":status", status)])
                        server.send_data(sid, b"refused", end_stream=True)
                    else:
                        server.send_headers(sid, [(b":status", status)])
                        unsent[sid] = bytearray()
                elif isinstance(event, h2.events.DataReceived):
                    server.acknowledge_received_data(event.flow_controlled_length, sid)
                    if echo and sid in unsent:
                        unsent[sid] += (event.data or b"").upper()
                elif isinstance(event, h2.events.StreamEnded) and sid in unsent:
                    ending.add(sid)
                elif isinstance(event, h2.events.StreamReset):
                    unsent.pop(sid, None)
        yield CLOSE

    program.accepted = accepted  # type: ignore[attr-defined]
    return program


def world_with(peer: Any) -> World:
    world = World(http1=False, http2=True)
    world.serve(peer)
    return world


async def open_tunnel(world: World) -> Exchange:
    request = Request("GET", "http://example.org/chat", **WS)  # type: ignore[arg-type]
    ex = world.engine.exchange(request)
    head = await world.loop.drive(ex, ex.send(None), request)
    assert type(head) is ResponseHead
    assert head.status_code == 200
    assert ex.tunnel
    return ex


async def write(world: World, ex: Exchange, data: bytes | None) -> None:
    writer = TunnelWriter(ex, data)
    assert await world.loop.drive(writer, writer.send(None)) is END  # type: ignore[arg-type]
    assert writer.send(None) is END  # done for good


async def read(world: World, ex: Exchange, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        event = await world.loop.drive(ex, ex.send(None))
        assert type(event) is BodyChunk, event
        got += event.data
    return bytes(got)


def test_a_tunnel_and_a_request_share_one_connection() -> None:
    peer = tunnel_peer()
    world = world_with(peer)

    async def main() -> list[Any]:
        ex = await open_tunnel(world)
        seen: list[Any] = []
        await write(world, ex, b"hello")
        seen.append(await read(world, ex, 5))
        seen.append(await world.fetch("http://example.org/plain"))  # beside the tunnel
        await write(world, ex, b"again")
        seen.append(await read(world, ex, 5))
        await write(world, ex, None)  # our side ends; the server ends its own
        seen.append(type(await world.loop.drive(ex, ex.send(None))))
        await world.loop.drive(ex, ex.close())
        return seen

    assert world.run(main()) == [b"HELLO", (200, b"plain"), b"AGAIN", EndOfBody]
    assert peer.accepted == [1]
    world.assert_clean()  # the stream is over; the connection stays in the pool


def test_a_big_message_both_ways_under_flow_control() -> None:
    # The server's window for our stream is 16 KiB: the writer waits for its
    # WINDOW_UPDATEs while the reader reads the echo, and each wakes the other.
    world = world_with(tunnel_peer(window=16384))
    data = bytes(range(256)) * 4096  # 1 MiB

    async def main() -> bytes:
        ex = await open_tunnel(world)
        _, echoed = await world.loop.gather(write(world, ex, data), read(world, ex, len(data)))
        await world.loop.drive(ex, ex.close())  # closed before either side ended: reset
        return echoed

    assert world.run(main()) == data.upper()
    world.assert_clean()


def test_a_writer_alone_reads_for_its_window() -> None:
    world = world_with(tunnel_peer(window=16384, echo=False))

    async def main() -> None:
        ex = await open_tunnel(world)
        await write(world, ex, b"x" * 100_000)
        await world.loop.drive(ex, ex.close())

    world.run(main())
    world.assert_clean()


def test_tunnels_opened_at_once_wait_for_the_settings_together() -> None:
    peer = tunnel_peer()
    world = world_with(peer)

    async def one(text: bytes) -> bytes:
        ex = await open_tunnel(world)
        await write(world, ex, text)
        got = await read(world, ex, len(text))
        await world.loop.drive(ex, ex.close())
        return got

    assert world.run(world.loop.gather(*(one(b"t%d" % i) for i in range(4)))) == [
        b"T0",
        b"T1",
        b"T2",
        b"T3",
    ]
    assert peer.accepted == [1]
    world.assert_clean()


def test_no_tunnel_when_the_server_does_not_allow_it() -> None:
    peer = tunnel_peer(allow=False)
    world = world_with(peer)

    async def main() -> tuple[int, bytes]:
        with pytest.raises(LocalProtocolError, match="SETTINGS_ENABLE_CONNECT_PROTOCOL"):
            await open_tunnel(world)
        return await world.fetch("http://example.org/plain")  # the connection is fine

    assert world.run(main()) == (200, b"plain")
    assert peer.accepted == [1]
    world.assert_clean()


@pytest.mark.parametrize("protocol", ["wébsocket", 1])
def test_an_invalid_protocol_extension_is_refused(protocol: object) -> None:
    world = world_with(tunnel_peer())

    async def main() -> None:
        request = Request("GET", "http://example.org/", extensions={"protocol": protocol})
        with pytest.raises(LocalProtocolError, match="invalid protocol"):
            await world.transport.handle_async_request(request)

    world.run(main())
    world.assert_clean()


def test_a_connection_closed_before_its_settings() -> None:
    def program() -> Program:
        yield READ
        yield CLOSE

    world = world_with(program)

    async def main() -> None:
        with pytest.raises(RemoteProtocolError, match="before the server's SETTINGS"):
            await open_tunnel(world)

    world.run(main())
    world.assert_clean()


def test_writing_after_the_server_reset_the_tunnel_fails() -> None:
    def program() -> Program:
        server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        server.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1}
        )
        server.initiate_connection()
        yield Emit(server.data_to_send())
        while True:
            for event in server.receive_data((yield READ)):
                if isinstance(event, h2.events.RequestReceived):
                    server.send_headers(event.stream_id, [(b":status", b"200")])
                    server.reset_stream(event.stream_id, 8)  # CANCEL
            if out := server.data_to_send():
                yield Emit(out)

    world = world_with(program)

    async def main() -> None:
        ex = await open_tunnel(world)
        with pytest.raises(RemoteProtocolError, match="reset the stream"):
            await write(world, ex, b"late")
        with pytest.raises(RemoteProtocolError, match="reset the stream"):
            await world.loop.drive(ex, ex.send(None))

    world.run(main())
    world.assert_clean()


def shut_window_peer() -> Program:
    """Allows tunnels, answers them with 200, and never reads their bytes: its window
    for our stream (10 bytes) stays shut. Other requests get 200 "plain"."""
    yield from shut_window_peer_until(None)
    yield CLOSE


def shut_window_peer_until(data_seen: bytes | None) -> Program:
    """`shut_window_peer` until the client closes, or (after a pause) once a tunnel
    brings data, if ``data_seen`` is given."""
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    codes = h2.settings.SettingCodes
    server.local_settings = h2.settings.Settings(
        client=False,
        initial_values={codes.ENABLE_CONNECT_PROTOCOL: 1, codes.INITIAL_WINDOW_SIZE: 10},
    )
    server.initiate_connection()
    yield Emit(server.data_to_send())
    while data := (yield READ):
        for event in server.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                server.send_headers(event.stream_id, [(b":status", b"200")])
                if (b":protocol", b"websocket") not in (event.headers or ()):
                    server.send_data(event.stream_id, b"plain", end_stream=True)
            elif isinstance(event, h2.events.DataReceived) and data_seen is not None:
                yield Delay(1)
                return
        if out := server.data_to_send():
            yield Emit(out)


def timeouts(**values: float) -> dict[str, Any]:
    return {"extensions": {"protocol": "websocket", "timeout": values}}


def test_a_write_waiting_for_the_window_times_out() -> None:
    world = world_with(shut_window_peer)

    async def main() -> None:
        request = Request("GET", "http://example.org/", **timeouts(read=60, write=5))  # type: ignore[arg-type]
        ex = world.engine.exchange(request)
        await world.loop.drive(ex, ex.send(None), request)

        async def reader() -> None:  # reads for every stream meanwhile
            with pytest.raises(ReadTimeout):
                await world.loop.drive(ex, ex.send(None))

        async def writer() -> None:  # parks until its write timeout
            with pytest.raises(WriteTimeout, match="flow-control window"):
                await write(world, ex, b"y" * 100)

        await world.loop.gather(reader(), writer())
        await world.loop.drive(ex, ex.close())

    world.run(main())
    world.assert_clean()


def test_a_writer_reading_for_its_window_times_out_on_the_write_timeout() -> None:
    # Alone, it reads for the window, within the write timeout (not the read one); the
    # read lost no byte, so the connection serves on.
    world = world_with(shut_window_peer)

    async def main() -> tuple[int, bytes]:
        request = Request("GET", "http://example.org/", **timeouts(read=600, write=5))  # type: ignore[arg-type]
        ex = world.engine.exchange(request)
        await world.loop.drive(ex, ex.send(None), request)
        with pytest.raises(WriteTimeout, match="flow-control window"):
            await write(world, ex, b"y" * 100)
        fetched = await world.fetch("http://example.org/plain")
        await world.loop.drive(ex, ex.close())
        return fetched

    assert world.run(main()) == (200, b"plain")
    world.assert_clean()


@pytest.mark.parametrize("writer_first", [True, False])
def test_the_writer_and_the_reader_wake_each_other(writer_first: bool) -> None:
    world = world_with(tunnel_peer(window=10, delay=1))

    async def main() -> bytes:
        ex = await open_tunnel(world)
        # Whoever starts first reads (for the window, or the echo); the other parks
        # and is woken by that read.
        writing = write(world, ex, b"z" * 100)
        reading = read(world, ex, 100)
        if writer_first:
            _, got = await world.loop.gather(writing, reading)
        else:
            got, _ = await world.loop.gather(reading, writing)
        await world.loop.drive(ex, ex.close())
        return got  # type: ignore[no-any-return]

    assert world.run(main()) == b"Z" * 100
    world.assert_clean()


def test_writers_one_after_another_take_turns_writing() -> None:
    world = world_with(tunnel_peer())

    async def main() -> bytes:
        ex = await open_tunnel(world)
        await world.loop.gather(*(write(world, ex, b"w%d" % i) for i in range(5)))
        got = await read(world, ex, 10)
        await world.loop.drive(ex, ex.close())
        return got

    assert sorted(world.run(main())[i : i + 2] for i in range(0, 10, 2)) == [
        b"W0", b"W1", b"W2", b"W3", b"W4",
    ]  # fmt: skip
    world.assert_clean()


def late_settings_peer(delay: float | None, streams: list[int] | None = None) -> Any:
    """An h2 server that sends its SETTINGS (allowing tunnels) ``delay`` seconds after the
    client's preface, or never (None: it notes the streams started in ``streams``); it
    answers an extended CONNECT with 200 and "hi", anything else with 400."""

    def program() -> Program:
        server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        server.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1}
        )
        server.initiate_connection()
        data = yield READ
        if delay is None:
            while data:
                for event in server.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams.append(event.stream_id)  # type: ignore[union-attr]
                data = yield READ
            yield CLOSE
            return
        yield Delay(delay)
        while data:
            for event in server.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    if (b":protocol", b"websocket") in (event.headers or ()):
                        server.send_headers(event.stream_id, [(b":status", b"200")])
                        server.send_data(event.stream_id, b"hi")
                    else:
                        server.send_headers(event.stream_id, [(b":status", b"400")])
            if out := server.data_to_send():
                yield Emit(out)
            data = yield READ
        yield CLOSE

    return program


def test_tunnels_started_together_wait_for_late_settings() -> None:
    world = world_with(late_settings_peer(1.0))

    async def one() -> bytes:
        ex = await open_tunnel(world)
        got = await read(world, ex, 2)
        await world.loop.drive(ex, ex.close())
        return got

    assert world.run(world.loop.gather(one(), one(), one())) == [b"hi"] * 3
    world.assert_clean()


@pytest.mark.parametrize("seconds", [(10, 5), (5, 10)])
def test_settings_that_never_come_time_out(seconds: tuple[float, float]) -> None:
    streams: list[int] = []
    world = world_with(late_settings_peer(None, streams))

    async def one(seconds: float) -> None:
        request = Request("GET", "http://example.org/", **timeouts(read=seconds))  # type: ignore[arg-type]
        with pytest.raises(ReadTimeout):
            await world.transport.handle_async_request(request)

    # Whether the reader or the one parked gives up first, both time out (the reader
    # hands the reading on as it leaves).
    world.run(world.loop.gather(one(seconds[0]), one(seconds[1])))
    assert streams == []  # no stream started before the server's SETTINGS


@pytest.mark.parametrize("first", [True, False])
def test_cancelled_while_waiting_for_the_settings(first: bool) -> None:
    # An exchange cancelled while it reads or is parked for the SETTINGS gives
    # everything back; the other goes on.
    world = world_with(late_settings_peer(1.0))

    async def cancelled() -> None:
        request = Request("GET", "http://example.org/", **WS)  # type: ignore[arg-type]
        ex = world.engine.exchange(request)
        act = ex.send(None)
        # Until it reads or parks for the SETTINGS (parked, its key is in ``_sid``).
        while not (type(act) is Read or (type(act) is Park and (ex._sid or 0) < 0)):
            act = ex.send(await world.loop.perform(act))
        world.loop.apply(ex.cancel())

    async def main() -> list[Any]:
        if first:
            return list(reversed(await world.loop.gather(cancelled(), _first())))
        return await world.loop.gather(_first(), cancelled())

    async def _first() -> bytes:
        ex = await open_tunnel(world)
        got = await read(world, ex, 2)
        await world.loop.drive(ex, ex.close())
        return got

    assert world.run(main()) == [b"hi", None]
    world.assert_clean()


def test_cancelling_a_writer() -> None:
    world = world_with(shut_window_peer)

    async def main() -> None:
        ex = await open_tunnel(world)
        writer = TunnelWriter(ex, b"y" * 100)
        act = writer.send(None)
        while type(act) is not Park and type(act) is not Read:
            act = writer.send(await world.loop.perform(act))
        world.loop.apply(writer.cancel())  # parked, or reading, for the window
        assert writer.cancel() is NO_EFFECTS
        assert writer.send(None) is END
        with pytest.raises(ValueError, match="thrown"):
            writer.throw(ValueError("thrown"))
        # Part of the chunk may be queued still: the tunnel is only fit to be closed.
        await world.loop.drive(ex, ex.close())

    world.run(main())
    world.assert_clean()


@pytest.mark.parametrize("with_reader", [True, False])
def test_a_failed_read_fails_the_writer_and_the_reader(with_reader: bool) -> None:
    def program() -> Program:
        yield from shut_window_peer_until(b"y")
        yield RESET

    world = world_with(program)

    async def main() -> None:
        ex = await open_tunnel(world)

        async def writer() -> None:  # reads for its window, and the read fails
            with pytest.raises(ReadError):
                await write(world, ex, b"y" * 100)

        async def reader() -> None:  # parked meanwhile: woken, it fails too
            with pytest.raises(RemoteProtocolError, match="connection failed"):
                await world.loop.drive(ex, ex.send(None))

        await world.loop.gather(writer(), reader()) if with_reader else await writer()
        await world.loop.drive(ex, ex.close())

    world.run(main())
    world.assert_clean()


def test_the_protocol_may_be_given_as_bytes() -> None:
    world = world_with(tunnel_peer())

    async def main() -> bytes:
        request = Request("GET", "http://example.org/", extensions={"protocol": b"websocket"})
        ex = world.engine.exchange(request)
        head = await world.loop.drive(ex, ex.send(None), request)
        assert type(head) is ResponseHead
        await write(world, ex, b"b")
        got = await read(world, ex, 1)
        await world.loop.drive(ex, ex.close())
        return got

    assert world.run(main()) == b"B"


def test_a_writer_needs_an_open_tunnel() -> None:
    world = world_with(tunnel_peer())
    request = Request("GET", "http://example.org/")
    with pytest.raises(RuntimeError, match="holds no tunnel"):
        TunnelWriter(world.engine.exchange(request), b"x")


async def read_once(world: World, ex: Exchange, timeout: float | None) -> Any:
    reader = TunnelReader(ex, timeout)
    event = await world.loop.drive(reader, reader.send(None))  # type: ignore[arg-type]
    assert reader.send(None) is END  # done for good
    return event


def test_a_read_under_its_own_timeout_leaves_the_tunnel_open() -> None:
    # What a WebSocket's keepalive timer needs: a read that expires takes nothing and
    # the tunnel goes on (a request's read timeout would end the stream).
    world = world_with(tunnel_peer())

    async def main() -> list[Any]:
        ex = await open_tunnel(world)
        seen: list[Any] = []
        with pytest.raises(ReadTimeout):
            await read_once(world, ex, 5)
        await write(world, ex, b"still here")
        seen.append(await read_once(world, ex, 5))
        await write(world, ex, None)
        seen.append(await read_once(world, ex, None))  # the server ended its side
        await world.loop.drive(ex, ex.close())
        return seen

    assert world.run(main()) == [BodyChunk(b"STILL HERE"), EndOfBody([])]
    world.assert_clean()


def test_a_parked_reader_times_out_and_the_tunnel_stays_open() -> None:
    # Another exchange reads for the connection meanwhile: the tunnel's reader waits
    # for it under its own timeout.
    world = world_with(tunnel_peer(delay=10))

    async def main() -> list[Any]:
        ex = await open_tunnel(world)
        fetched, timed_out = await world.loop.gather(
            world.fetch("http://example.org/plain"), _timed_out(world, ex)
        )
        await write(world, ex, b"ok")
        got = await read_once(world, ex, None)
        await world.loop.drive(ex, ex.close())
        return [fetched, timed_out, got]

    assert world.run(main()) == [(200, b"plain"), True, BodyChunk(b"OK")]
    world.assert_clean()


async def _timed_out(world: World, ex: Exchange) -> bool:
    await world.loop.sleep(1)  # the fetch reads first
    with pytest.raises(ReadTimeout):
        await read_once(world, ex, 2)
    return True


def test_a_refused_extended_connect_is_an_ordinary_response() -> None:
    world = world_with(tunnel_peer(status=b"403"))

    async def main() -> tuple[int, bool, bytes]:
        request = Request("GET", "http://example.org/chat", **WS)  # type: ignore[arg-type]
        response = await world.transport.handle_async_request(request)
        ex = response.stream._ex  # type: ignore[attr-defined]
        try:
            return response.status_code, ex.tunnel, await response.aread()
        finally:
            await response.aclose()

    assert world.run(main()) == (403, False, b"refused")
    world.assert_clean()


def upgrade_peer() -> Program:
    """HTTP/1.1: answers an Upgrade to websocket with 101, then echoes upper-cased."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += yield READ
    assert b"upgrade: websocket" in data.lower()
    yield Emit(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")  # fmt: skip
    while data := (yield READ):
        yield Emit(data.upper())
    yield CLOSE


UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade"}


def test_without_extended_connect_a_websocket_goes_over_http11() -> None:
    # The server's SETTINGS do not allow tunnels: the exchange takes an HTTP/1.1
    # connection of its own, and its Upgrade; the HTTP/2 one stays for the rest.
    programs = [tunnel_peer(allow=False), upgrade_peer]
    world = World(http2=True)
    world.serve(lambda: programs.pop(0)(), port=443, alpn="h2")

    async def main() -> tuple[int, str, bool, bool]:
        request = Request("GET", "https://example.org/chat", headers=UPGRADE, **WS)  # type: ignore[arg-type]
        ex = world.engine.exchange(request)
        head = await world.loop.drive(ex, ex.send(None), request)
        assert type(head) is ResponseHead
        result = (head.status_code, head.http_version, ex.tunnel, ex.taken_over)
        assert type(ex.send(None)) is EndOfBody  # (its body is empty)
        await world.loop.drive(ex, ex.close())  # closes the connection handed over
        return result

    assert world.run(main()) == (101, "HTTP/1.1", False, True)
    assert programs == []
    world.assert_clean()


def test_without_http11_a_websocket_needs_extended_connect() -> None:
    world = world_with(tunnel_peer(allow=False))

    async def main() -> None:
        request = Request("GET", "http://example.org/chat", headers=UPGRADE, **WS)  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError, match="SETTINGS_ENABLE_CONNECT_PROTOCOL"):
            await world.transport.handle_async_request(request)

    world.run(main())
    world.assert_clean()
