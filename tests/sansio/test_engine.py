"""The exchange engine, driven by the reference interpreter on a virtual clock.

Every test runs real exchanges (pool, wire machines, retries, HTTP/2 scheduling)
against in-memory peers, deterministically: timeouts cost no time, interleavings are
the same on every run. The rules under test are those in the headers of
`sansio.engine.exchange` and `sansio.engine.mux`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h11
import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame

from sansio.config import Limits, Proxy
from sansio.engine import (
    CHECKPOINT,
    END,
    NO_EFFECTS,
    BodyChunk,
    Connect,
    Effects,
    EndOfBody,
    Engine,
    Park,
    Read,
    ReadReady,
    ResponseHead,
    Sleep,
    StartTLS,
    Write,
)
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteError,
    WriteTimeout,
)
from sansio.models import Request
from sansio.testing import (
    CLOSE,
    HOLD,
    READ,
    RESET,
    STALL,
    Delay,
    Emit,
    Loop,
    MemoryNetwork,
    MemoryTransport,
    Program,
    VirtualClock,
    http1_peer,
    http2_peer,
)

# -- peers ----------------------------------------------------------------------------------


def response(body: bytes = b"ok", status: int = 200, headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), headers) + body


OK = response()

REQUEST = "request"  # a script step: read one whole request


def scripted(*connections: tuple[Any, ...]) -> Callable[[], Program]:
    """A peer playing ``connections[k]`` on its k-th connection: steps are REQUEST (read
    a request, recorded in ``.seen``), bytes (sent), `Delay`, or an end op."""
    accepted: list[int] = []
    seen: list[bytes] = []

    def program() -> Program:
        number = len(accepted)
        accepted.append(number)
        steps = connections[number] if number < len(connections) else ()
        buffer = b""
        for step in steps:
            if step == REQUEST:
                server = h11.Connection(h11.SERVER)
                if buffer:
                    server.receive_data(buffer)
                while True:
                    event = server.next_event()
                    if event is h11.NEED_DATA:
                        data = yield READ
                        if not data:
                            yield CLOSE
                            return
                        server.receive_data(data)
                    elif type(event) is h11.Request:
                        seen.append(event.target)
                    elif type(event) is h11.EndOfMessage:
                        break
                buffer = server.trailing_data[0]
            elif isinstance(step, bytes):
                yield Emit(step)
            elif isinstance(step, Delay):
                yield step
            else:
                yield step
                return
        yield HOLD

    program.seen = seen  # type: ignore[attr-defined]
    program.accepted = accepted  # type: ignore[attr-defined]
    return program


class World:
    """A network, a loop and a transport over an engine."""

    def __init__(self, **engine: Any) -> None:
        self.clock = VirtualClock()
        self.network = MemoryNetwork(self.clock)
        self.loop = Loop(self.network)
        self.transport = MemoryTransport(self.loop, **engine)
        self.engine: Engine = self.transport.engine

    def serve(self, accept: Callable[[], Program], host: str = "example.org", port: int = 80,
              alpn: str | None = None) -> None:  # fmt: skip
        self.network.listen(host, port, accept, alpn=alpn)

    def run(self, coro: Any) -> Any:
        return self.loop.run(coro)

    async def fetch(self, url: str = "http://example.org/", method: str = "GET",
                    **kwargs: Any) -> tuple[int, bytes]:  # fmt: skip
        response = await self.transport.handle_async_request(Request(method, url, **kwargs))
        try:
            return response.status_code, await response.aread()
        finally:
            await response.aclose()

    def get(self, url: str = "http://example.org/", **kwargs: Any) -> tuple[int, bytes]:
        return self.run(self.fetch(url, **kwargs))  # type: ignore[no-any-return]

    def assert_clean(self) -> None:
        """Nothing checked out, connecting or waiting; every open connection is idle."""
        stats = self.engine.statistics()
        assert (stats.connecting, stats.active, stats.waiters) == (0, 0, 0), stats
        open_ = [c for c in self.network.connections if not c.client_closed]
        assert len(open_) == stats.idle, (open_, stats)


def timeout(**values: float | None) -> dict[str, Any]:
    return {"extensions": {"timeout": values}}


# -- HTTP/1.1 -------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection() -> None:
    world = World()
    peer = scripted((REQUEST, OK, REQUEST, response(b"two")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    assert world.get("http://example.org/2") == (200, b"two")
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_connection_closed_while_idle_is_not_reused() -> None:
    world = World()
    peer = scripted((REQUEST, OK, Delay(1), CLOSE), (REQUEST, response(b"fresh")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    world.run(world.loop.sleep(2))  # the server closes the idle connection meanwhile
    assert world.get() == (200, b"fresh")
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_reset_while_idle_counts_as_closed() -> None:
    world = World()
    peer = scripted((REQUEST, OK, Delay(1), RESET), (REQUEST, response(b"fresh")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    world.run(world.loop.sleep(2))
    assert world.get() == (200, b"fresh")
    world.assert_clean()


def _count_probes(world: World) -> list[ReadReady]:
    """The ReadReady actions the world's interpreter performs from now on."""
    probes: list[ReadReady] = []
    handle = world.loop._io[ReadReady]

    def counted(act: ReadReady) -> Any:
        probes.append(act)
        return handle(act)

    world.loop._io[ReadReady] = counted  # type: ignore[index]
    return probes


def test_an_interpreters_readable_spares_the_idle_probe() -> None:
    """With ``readable``, an idle connection with nothing to read is reused without a
    ReadReady action (the common case costs no action); one it says has something is
    probed as before, and a closed one is not reused."""
    asked: list[object] = []

    def readable(stream: object) -> bool:
        asked.append(stream)
        return len(asked) > 1  # nothing at the first reuse, something at the second

    world = World(readable=readable)
    probes = _count_probes(world)
    peer = scripted((REQUEST, OK, REQUEST, OK, Delay(1), CLOSE), (REQUEST, response(b"fresh")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    assert world.get() == (200, b"ok")
    assert (len(asked), probes) == (1, [])
    world.run(world.loop.sleep(2))  # the server closes the idle connection meanwhile
    assert world.get() == (200, b"fresh")
    assert len(asked) == 2
    assert len(probes) == 1
    assert probes[0].stream is asked[1]
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_failing_readable_probes_with_an_action() -> None:
    """``readable`` raising counts as "something is there": the ReadReady action decides."""

    def readable(stream: object) -> bool:
        raise OSError("bad descriptor")

    world = World(readable=readable)
    probes = _count_probes(world)
    peer = scripted((REQUEST, OK, REQUEST, response(b"two")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    assert world.get() == (200, b"two")
    assert len(probes) == 1
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def _count_writes(world: World) -> list[Write]:
    """The Write actions the world's interpreter performs from now on."""
    writes: list[Write] = []
    handle = world.loop._io[Write]

    def counted(act: Write) -> Any:
        writes.append(act)
        return handle(act)

    world.loop._io[Write] = counted  # type: ignore[index]
    return writes


def _write_now(share: int | None) -> Callable[[Any, bytes], int]:
    """A ``write_now`` that writes the first ``share`` bytes (None: all) at once."""

    def write_now(stream: Any, data: bytes) -> int:
        part = data if share is None else data[:share]
        if part:
            try:
                assert stream.write(part)
            except OSError as exc:
                raise WriteError(str(exc)) from exc
        return len(part)

    return write_now


def test_an_interpreters_write_now_spares_the_write_action() -> None:
    """With ``write_now``, bytes that go out at once need no Write action (the whole
    request here, head and body); a Write sends what it leaves, if anything."""
    for share, actions in ((None, 0), (0, 2), (5, 2)):
        world = World(write_now=_write_now(share))
        writes = _count_writes(world)
        peer = scripted((REQUEST, OK, REQUEST, OK))
        world.serve(peer)
        assert world.get() == (200, b"ok")
        assert world.get(method="POST", content=b"body") == (200, b"ok")
        assert len(writes) == actions
        if share:
            assert all(not act.data.startswith(b"POST ") for act in writes)
        assert peer.seen == [b"/", b"/"]  # type: ignore[attr-defined]
        world.assert_clean()


def test_a_failing_write_now_fails_as_a_write_action() -> None:
    """``write_now`` raising WriteError: the request fails as when its Write fails."""
    world = World(write_now=_write_now(None))
    writes = _count_writes(world)

    def program() -> Program:
        yield RESET  # before a byte of the request is read

    world.serve(program)
    with pytest.raises(WriteError):
        world.get()
    assert writes == []
    world.assert_clean()


def test_an_http11_request_waits_in_one_generator_frame() -> None:
    """While an HTTP/1.1 request's Write or Read is performed, the exchange is suspended
    in its own frame, with no generator below it: each resumption resumes one frame (the
    hot path of every request)."""
    world = World()
    stacks: list[object] = []
    for kind in (Write, Read):
        handle = world.loop._io[kind]

        def watched(act: Any, handle: Any = handle) -> Any:
            stacks.extend(ex._gen.gi_yieldfrom for ex in world.engine._live)  # type: ignore[union-attr]
            return handle(act)

        world.loop._io[kind] = watched  # type: ignore[index]
    world.serve(scripted((REQUEST, OK, REQUEST, OK)))
    assert world.get() == (200, b"ok")
    assert world.get(method="POST", content=b"body") == (200, b"ok")
    assert len(stacks) >= 4  # (a Write and a Read per request at least)
    assert stacks == [None] * len(stacks)
    world.assert_clean()


def test_the_keep_alive_race_is_retried_once_on_a_fresh_connection() -> None:
    world = World()
    # The server reads the second request, then closes without answering.
    peer = scripted((REQUEST, OK, REQUEST, CLOSE), (REQUEST, response(b"again")))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    assert world.get("http://example.org/2") == (200, b"again")
    assert peer.seen == [b"/", b"/2", b"/2"]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_post_is_not_retried() -> None:
    world = World()
    peer = scripted((REQUEST, OK, REQUEST, CLOSE))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    with pytest.raises(RemoteProtocolError):
        world.get(method="POST", content=b"x")
    world.assert_clean()


def test_an_upload_is_sent_from_its_iterator() -> None:
    world = World()
    world.serve(http1_peer(lambda m, t, h, body: (200, [], body.upper())))

    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    assert world.get(method="POST", content=chunks()) == (200, b"ABCDEF")
    world.assert_clean()


def test_an_early_response_ends_the_upload() -> None:
    world = World()
    early = response(b"too big", 413, b"Connection: close\r\n")
    world.serve(scripted(("head", early, CLOSE)))

    def chunks() -> Iterator[bytes]:
        yield b"x" * 10
        world.run_later = True  # type: ignore[attr-defined]
        yield b"y" * 10
        yield b"z" * 10

    # The peer answers on the first bytes it gets, before reading the request.
    world.serve(_answer_at_once(early))
    status, body = world.get(method="PUT", content=chunks())
    assert (status, body) == (413, b"too big")
    world.assert_clean()


def _answer_at_once(data: bytes) -> Callable[[], Program]:
    def program() -> Program:
        yield READ
        yield Emit(data)
        yield CLOSE

    return program


def test_an_answer_before_a_reset_still_wins() -> None:
    world = World()

    def program() -> Program:
        yield READ
        yield Emit(response(b"no", 401))
        yield RESET  # the rest of the upload cannot go out

    world.serve(program)

    def chunks() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 10

    assert world.get(method="PUT", content=chunks()) == (401, b"no")
    world.assert_clean()


def test_a_write_error_surfaces_rather_than_the_read_after_it() -> None:
    world = World()

    def program() -> Program:
        yield RESET  # before a byte of the request is read

    world.serve(program)
    with pytest.raises(WriteError):
        world.get()
    world.assert_clean()


def test_a_write_timeout_reads_only_what_has_arrived() -> None:
    world = World()

    def program() -> Program:
        yield READ
        yield STALL

    world.serve(program)
    with pytest.raises(WriteTimeout):
        world.get(method="PUT", content=b"x" * (5 * 1024 * 1024), **timeout(write=1.0))
    assert world.clock.now == pytest.approx(1001.0 + 0.001)
    world.assert_clean()


def test_a_read_timeout_ends_the_connection() -> None:
    world = World()
    world.serve(scripted((REQUEST, Delay(10), OK)))
    with pytest.raises(ReadTimeout):
        world.get(**timeout(read=2.0))
    assert world.clock.now == pytest.approx(1002.0)
    world.assert_clean()


def test_a_failure_in_the_body_ends_the_connection() -> None:
    world = World()
    world.serve(scripted((REQUEST, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", RESET)))
    with pytest.raises(ReadError):
        world.get()
    world.assert_clean()


def test_closing_a_response_early_closes_its_connection() -> None:
    world = World()
    peer = scripted((REQUEST, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), (REQUEST, OK))
    world.serve(peer)

    async def main() -> tuple[int, bytes]:
        first = await world.transport.handle_async_request(Request("GET", "http://example.org/"))
        chunk = await first.stream.__aiter__().__anext__()  # type: ignore[union-attr]
        assert chunk == b"abc"
        await first.aclose()
        await first.aclose()  # twice is fine
        return await world.fetch()

    assert world.run(main()) == (200, b"ok")
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    world.assert_clean()


# -- the pool ---------------------------------------------------------------------------------


def test_a_request_waits_for_a_slot_and_gets_it() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, Delay(1), OK, REQUEST, response(b"second"))))

    async def main() -> list[tuple[int, bytes]]:
        return await world.loop.gather(world.fetch(), world.fetch("http://example.org/2"))

    assert world.run(main()) == [(200, b"ok"), (200, b"second")]
    world.assert_clean()


def test_a_waiting_request_times_out() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, Delay(5), OK)))

    async def second() -> Any:
        try:
            return await world.fetch(**timeout(pool=1.0))
        except PoolTimeout:
            return "pool timeout", world.clock.now

    async def main() -> list[Any]:
        return await world.loop.gather(world.fetch(), second())

    assert world.run(main()) == [(200, b"ok"), ("pool timeout", pytest.approx(1001.0))]
    world.assert_clean()


def test_expired_connections_are_closed_at_checkout() -> None:
    world = World(limits=Limits(keepalive_expiry=1.0))
    peer = scripted((REQUEST, OK), (REQUEST, OK))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    world.run(world.loop.sleep(5))
    assert world.get() == (200, b"ok")
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    assert world.network.connections[0].client_closed
    world.assert_clean()


def test_a_closed_engine_refuses_and_ends_requests() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(scripted((REQUEST, Delay(5), OK)))
    results: list[Any] = []

    async def waiting() -> None:
        try:
            await world.fetch()
        except (RuntimeError, ReadError) as exc:
            results.append(type(exc).__name__)

    async def closer() -> None:
        await world.loop.sleep(1)
        await world.transport.aclose()

    async def main() -> None:
        await world.loop.gather(waiting(), waiting(), closer())

    world.run(main())
    # The one reading fails as its stream is closed; the one waiting for the pool wakes up.
    assert sorted(results) == ["ReadError", "RuntimeError"]
    assert world.engine.closed
    with pytest.raises(RuntimeError, match="closed"):
        world.get()


def test_the_engine_closing_while_a_connection_opens() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)))
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    act = ex.send(None)
    assert type(act) is Connect
    world.loop.apply(world.engine.close())
    stream = world.network.connect("example.org", 80)
    effects = ex.send(stream)
    assert effects == Effects(close=(stream,))
    with pytest.raises(RuntimeError, match="closed"):
        ex.send(None)


# -- connecting ---------------------------------------------------------------------------------


def test_connect_failures_are_retried_with_back_off() -> None:
    world = World(retries=3)
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    act = ex.send(None)
    sleeps = []
    for _ in range(3):
        assert type(act) is Connect
        act = ex.throw(ConnectError("refused"))
        assert type(act) is Sleep
        sleeps.append(act.seconds)
        act = ex.send(None)
    assert sleeps == [0.0, 0.5, 1.0]
    with pytest.raises(ConnectTimeout):
        ex.throw(ConnectTimeout("again"))
    assert world.engine.statistics().connecting == 0


def test_other_connect_failures_are_not_retried() -> None:
    world = World(retries=3)
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    assert type(ex.send(None)) is Connect
    with pytest.raises(ValueError, match="odd"):
        ex.throw(ValueError("odd"))
    assert world.engine.statistics().connecting == 0


def test_nothing_listening_is_a_connect_error() -> None:
    world = World()
    with pytest.raises(ConnectError):
        world.get()
    world.assert_clean()


def test_tls_alpn_chooses_http2() -> None:
    world = World(http2=True)
    world.serve(http2_peer(lambda m, t, h, b: (200, [], b"over h2")), port=443, alpn="h2")
    assert world.get("https://example.org/") == (200, b"over h2")
    world.assert_clean()


def test_a_failed_tls_handshake_closes_the_connection() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)), port=443)
    ex = world.engine.exchange(Request("GET", "https://example.org/"))
    stream = world.network.connect("example.org", 443)
    assert type(ex.send(None)) is Connect
    act = ex.send(stream)
    assert type(act) is StartTLS
    effects = ex.throw(ConnectError("bad certificate"))
    assert effects == Effects(close=(stream,))
    with pytest.raises(ConnectError):
        ex.send(None)
    assert world.engine.statistics().connecting == 0


def test_an_unknown_alpn_protocol_is_refused() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)), port=443, alpn="spdy/3")
    ex = world.engine.exchange(Request("GET", "https://example.org/"))
    stream = world.network.connect("example.org", 443)
    ex.send(None)
    ex.send(stream)
    act = ex.send((stream, "spdy/3"))
    assert act == Effects(close=(stream,))
    with pytest.raises(ConnectError, match="never offered"):
        ex.send(None)


# -- proxies ------------------------------------------------------------------------------------


def test_a_forward_proxy_gets_the_absolute_target() -> None:
    world = World(proxy=Proxy("http://proxy.example:3128"))
    peer = scripted((REQUEST, OK))
    world.serve(peer, host="proxy.example", port=3128)
    assert world.get("http://example.org/path") == (200, b"ok")
    assert peer.seen == [b"http://example.org/path"]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_tunnel_is_opened_with_connect_then_tls() -> None:
    world = World(proxy=Proxy("http://proxy.example:3128"))
    peer = scripted((REQUEST, b"HTTP/1.1 200 Connection established\r\n\r\n", REQUEST, OK))
    world.serve(peer, host="proxy.example", port=3128)
    assert world.get("https://example.org/path") == (200, b"ok")
    assert peer.seen == [b"example.org:443", b"/path"]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_refused_tunnel_is_a_proxy_error() -> None:
    world = World(proxy=Proxy("http://proxy.example:3128"))
    world.serve(scripted((REQUEST, response(b"", 407))), host="proxy.example", port=3128)
    with pytest.raises(ProxyError):
        world.get("https://example.org/")
    world.assert_clean()


def test_socks5_handshake_then_requests() -> None:
    world = World(proxy=Proxy("socks5://socks.example:1080"))

    def program() -> Program:
        data = yield READ  # greeting: version 5, one method, "no authentication"
        assert data == b"\x05\x01\x00"
        yield Emit(b"\x05\x00")
        data = yield READ  # CONNECT example.org:80 by name
        assert data.startswith(b"\x05\x01\x00\x03")
        yield Emit(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")
        yield READ
        yield Emit(OK)
        yield HOLD

    world.serve(program, host="socks.example", port=1080)
    assert world.get("http://example.org/") == (200, b"ok")
    world.assert_clean()


# -- HTTP/2 ---------------------------------------------------------------------------------


class H2Script:
    """An HTTP/2 peer whose steps are callables run in turn with the server: each may
    yield ops and use ``self.requests`` (complete request streams, in arrival order)."""

    def __init__(self, *connections: tuple[Any, ...], settings: dict[int, int] | None = None):
        self.connections = connections
        self.settings = settings
        self.accepted = 0
        self.requests: list[tuple[int, bytes, bytes]] = []  # (stream id, path, body)
        self.resets: list[int] = []

    def __call__(self) -> Program:
        number = self.accepted
        self.accepted += 1
        steps = self.connections[number] if number < len(self.connections) else ()
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        server = h2.connection.H2Connection(config=config)
        server.initiate_connection()
        if self.settings:
            server.update_settings(self.settings)
        bodies: dict[int, bytearray] = {}
        paths: dict[int, bytes] = {}
        mine: list[tuple[int, bytes, bytes]] = []

        def feed(data: bytes) -> None:
            for event in server.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    paths[event.stream_id] = dict(event.headers or ())[b":path"]
                    bodies[event.stream_id] = bytearray()
                elif isinstance(event, h2.events.DataReceived):
                    bodies[event.stream_id] += event.data or b""
                    server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    request = (
                        event.stream_id,
                        paths[event.stream_id],
                        bytes(bodies[event.stream_id]),
                    )
                    mine.append(request)
                    self.requests.append(request)
                elif isinstance(event, h2.events.StreamReset):
                    self.resets.append(event.stream_id)

        def flush() -> Iterator[Any]:
            if out := server.data_to_send():
                yield Emit(out)

        yield from flush()
        for step in steps:
            if isinstance(step, int):  # wait until this many requests are complete
                while len(mine) < step:
                    data = yield READ
                    if not data:
                        yield CLOSE
                        return
                    feed(data)
                    yield from flush()
            elif isinstance(step, tuple) and step[0] == "reply":
                _, index, body = step
                sid = mine[index][0]
                server.send_headers(sid, [(b":status", b"200")])
                server.send_data(sid, body or mine[index][1], end_stream=True)
                yield from flush()
            elif isinstance(step, tuple) and step[0] == "hints":  # a 103 Early Hints
                server.send_headers(mine[step[1]][0], [(b":status", b"103"), (b"link", b"</a>")])
                yield from flush()
            elif isinstance(step, tuple) and step[0] == "head":
                server.send_headers(mine[step[1]][0], [(b":status", b"200")])
                yield from flush()
            elif isinstance(step, tuple) and step[0] == "goaway":
                # Framed by hand: h2 sends nothing more after its own GOAWAY.
                yield from flush()
                yield Emit(GoAwayFrame(0, last_stream_id=step[1]).serialize())
            elif isinstance(step, tuple) and step[0] == "reset":
                server.reset_stream(mine[step[1]][0], ErrorCodes.INTERNAL_ERROR)
                yield from flush()
            elif isinstance(step, tuple) and step[0] == "settings":
                server.update_settings(step[1])
                yield from flush()
            elif step == "ping":
                server.ping(b"12345678")
                yield from flush()
            elif step == "read":
                feed((yield READ))
                yield from flush()
            else:
                yield step
                if step in (CLOSE, RESET, HOLD, STALL):
                    return
        while True:  # then keep acknowledging what comes, until EOF
            data = yield READ
            if not data:
                yield CLOSE
                return
            feed(data)
            yield from flush()


def h2_world(peer: Callable[[], Program], **engine: Any) -> World:
    world = World(http1=False, http2=True, **engine)
    world.serve(peer)
    return world


def test_h2_many_streams_answered_in_reverse_order() -> None:
    count = 8
    peer = H2Script((count, *(("reply", i, b"") for i in reversed(range(count)))))
    world = h2_world(peer)

    async def main() -> list[tuple[int, bytes]]:
        return await world.loop.gather(
            *(world.fetch(f"http://example.org/{i}") for i in range(count))
        )

    assert world.run(main()) == [(200, f"/{i}".encode()) for i in range(count)]
    assert peer.accepted == 1
    world.assert_clean()


def test_h2_uploads_larger_than_the_windows_go_out_whole() -> None:
    big = bytes(range(256)) * 1024  # 256 KiB: four times the server's stream window
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], b"%d" % len(body))))

    async def main() -> list[tuple[int, bytes]]:
        return await world.loop.gather(
            *(world.fetch(method="POST", content=big[: 100_000 * (i + 1)]) for i in range(3))
        )

    assert world.run(main()) == [(200, b"100000"), (200, b"200000"), (200, b"262144")]
    world.assert_clean()


@pytest.mark.parametrize("late", [0, 1])
def test_h2_a_read_timeout_ends_one_stream(late: int) -> None:
    # Both requests arrive; only the other one is answered. Whether the stream that
    # times out was reading or waiting, it fails alone and the connection goes on.
    peer = H2Script((2, Delay(1), ("reply", 1 - late, b"answered"), 3, ("reply", 2, b"third")))
    world = h2_world(peer)
    paths = ["/a", "/b"]

    async def one(index: int) -> Any:
        options = timeout(read=5.0 if index != late else 3.0)
        try:
            return await world.fetch(f"http://example.org{paths[index]}", **options)
        except ReadTimeout:
            return "timeout"

    async def main() -> list[Any]:
        return await world.loop.gather(one(0), one(1))

    results = world.run(main())
    assert results[late] == "timeout"
    assert results[1 - late] == (200, b"answered")
    assert world.get("http://example.org/c") == (200, b"third")
    assert peer.accepted == 1
    assert len(peer.resets) == 1  # the stream that gave up was reset
    world.assert_clean()


def test_h2_a_connection_error_fails_every_stream() -> None:
    # The server resets the connection. The stream that opened it fails (its read, or
    # the write of a SETTINGS ACK, sees the reset); the other one had the connection
    # from the pool (reused, and the server saw nothing of it): it is sent again, once.
    world = h2_world(H2Script((2, RESET), (1, ("reply", 0, b"again"))))

    async def one() -> Any:
        try:
            return await world.fetch()
        except (ReadError, WriteError):
            return "network error"

    async def main() -> list[Any]:
        return await world.loop.gather(one(), one())

    assert sorted(world.run(main()), key=str) == [(200, b"again"), "network error"]
    world.assert_clean()


def test_h2_streams_refused_by_goaway_are_retried_elsewhere() -> None:
    peer = H2Script((2, ("goaway", 1), ("reply", 0, b"first")), (1, ("reply", 0, b"retried")))
    world = h2_world(peer)

    async def main() -> list[tuple[int, bytes]]:
        return await world.loop.gather(world.fetch(), world.fetch())

    assert sorted(world.run(main())) == [(200, b"first"), (200, b"retried")]
    assert peer.accepted == 2
    world.assert_clean()


def test_h2_a_stream_reset_by_the_server_fails_alone() -> None:
    world = h2_world(H2Script((2, ("reset", 0), ("reply", 1, b"fine"))))

    async def one() -> Any:
        try:
            return await world.fetch()
        except RemoteProtocolError:
            return "reset"

    async def main() -> list[Any]:
        return await world.loop.gather(one(), one())

    assert sorted(world.run(main()), key=str) == [(200, b"fine"), "reset"]
    world.assert_clean()


def test_h2_an_idle_connection_is_probed_before_reuse() -> None:
    # A PING arrives while nobody reads; the next request finds it and answers it.
    peer = H2Script((1, ("reply", 0, b"one"), "ping", "read", 2, ("reply", 1, b"two")))
    world = h2_world(peer)
    assert world.get() == (200, b"one")
    assert world.get() == (200, b"two")
    assert peer.accepted == 1
    world.assert_clean()


def test_h2_goaway_while_idle_is_seen_before_reuse() -> None:
    peer = H2Script((1, ("reply", 0, b"one"), ("goaway", 1)), (1, ("reply", 0, b"two")))
    world = h2_world(peer)
    assert world.get() == (200, b"one")
    assert world.get() == (200, b"two")
    assert peer.accepted == 2
    world.assert_clean()


def test_h2_a_response_closed_early_resets_its_stream() -> None:
    peer = H2Script((2, ("head", 0), ("reply", 1, b"next"), 3, ("reply", 2, b"")))
    world = h2_world(peer)

    async def first() -> None:
        response = await world.transport.handle_async_request(Request("GET", "http://example.org/"))
        await response.aclose()  # unread: its stream is reset, the connection stays

    async def main() -> list[Any]:
        return await world.loop.gather(first(), world.fetch())

    assert world.run(main())[1] == (200, b"next")
    assert world.get() == (200, b"/")  # the same connection serves the next request
    assert peer.accepted == 1
    assert peer.resets == [1]
    world.assert_clean()


@pytest.mark.parametrize("first", [True, False])
def test_h2_a_request_cancelled_while_waiting_leaves_the_others_alone(first: bool) -> None:
    # Cancelled while it reads for everyone, or while it waits for the reader: either
    # way only its stream ends (reset with the next write), and the others go on.
    peer = H2Script((2, ("reply", 0 if not first else 1, b"other"), 3, ("reply", 2, b"third")))
    world = h2_world(peer)

    async def cancelled() -> str:
        # The read timeout marks the actions where this exchange waits for its response.
        ex = world.engine.exchange(Request("GET", "http://example.org/", **timeout(read=7.0)))
        try:
            await _CancelAt(world.loop, ("Read", "Park"), 7.0).drive(ex, ex.send(None))
        except Cancelled:
            return "cancelled"
        return "not cancelled"

    async def main() -> list[Any]:
        if first:
            return await world.loop.gather(cancelled(), world.fetch())
        return await world.loop.gather(world.fetch(), cancelled())

    assert sorted(world.run(main()), key=str) == [(200, b"other"), "cancelled"]
    assert world.get() == (200, b"third")  # its RST_STREAM left with this request
    assert peer.accepted == 1
    assert peer.resets == [1 if first else 3]
    world.assert_clean()


# -- cancellation ---------------------------------------------------------------------------


class Cancelled(BaseException):
    """Stands for a cancellation (trio.Cancelled, KeyboardInterrupt)."""


class _CancelAt(Loop):
    """A loop that cancels the first action of a kind it performs (by class name), with
    that ``timeout`` if one is given."""

    def __init__(
        self, loop: Loop, kind: str | tuple[str, ...], timeout: float | None = None
    ) -> None:
        self.__dict__.update(loop.__dict__)
        self._kind = kind
        self._timeout = timeout

    async def perform(self, act: Any) -> Any:
        kind = type(act).__name__
        if kind in self._kind and getattr(act, "timeout", None) == self._timeout:
            raise Cancelled
        return await super().perform(act)


class CountingLoop(Loop):
    """Cancels the k-th cancellable action it performs (Effects never are)."""

    def __init__(self, network: MemoryNetwork, cancel_at: int) -> None:
        super().__init__(network)
        self.cancel_at = cancel_at
        self.count = 0
        self.cancelled = False
        self.cancelled_kind = ""

    async def perform(self, act: Any) -> Any:
        if type(act) is not Effects:
            self.count += 1
            if self.count == self.cancel_at:
                self.cancelled = True
                self.cancelled_kind = type(act).__name__
                raise Cancelled
        return await super().perform(act)


def _cancel_world(cancel_at: int, peer: Callable[[], Program], **engine: Any) -> World:
    world = World(**engine)
    world.loop = CountingLoop(world.network, cancel_at)
    world.transport = MemoryTransport(world.loop, **engine)
    world.engine = world.transport.engine
    world.serve(peer)
    return world


async def _fetch_or_cancelled(world: World, *args: Any, **kwargs: Any) -> Any:
    try:
        return await world.fetch(*args, **kwargs)
    except Cancelled:
        return "cancelled"
    except TransportError as exc:  # a cancelled write cut the connection it shared
        return type(exc).__name__


def _chunks() -> Iterator[bytes]:
    yield b"a" * 10
    yield b"b" * 10
    yield b"c" * 10


Scenario = tuple[dict[str, Any], Callable[[], Callable[[], Program]], Callable[..., Any]]
H2_ONE_AT_A_TIME = {"http1": False, "http2": True, "limits": Limits(max_connections=1)}

SCENARIOS: dict[str, Scenario] = {
    "h1 get": ({}, lambda: http1_peer(lambda m, t, h, b: (200, [], b"ok")),
               lambda w: [_fetch_or_cancelled(w)]),
    "h1 upload": ({}, lambda: http1_peer(lambda m, t, h, b: (200, [], b)),
                  lambda w: [_fetch_or_cancelled(w, method="PUT", content=_chunks())]),
    "h1 pool wait": ({"limits": Limits(max_connections=1)},
                     lambda: http1_peer(lambda m, t, h, b: (200, [], t)),
                     lambda w: [_fetch_or_cancelled(w), _fetch_or_cancelled(w, "http://example.org/2")]),
    "h1 connect retries": ({"retries": 2}, lambda: http1_peer(lambda m, t, h, b: (200, [], b"ok")),
                           lambda w: [_fetch_or_cancelled(w)]),
    "h1 tunnel": ({"proxy": Proxy("http://example.org:80")},
                  lambda: _tunnel(http1_peer(lambda m, t, h, b: (200, [], b"ok"))),
                  lambda w: [_fetch_or_cancelled(w, "https://origin.example/")]),
    "h2 one stream at a time": (H2_ONE_AT_A_TIME,
                                lambda: _limited(http2_peer(lambda m, t, h, b: (200, [], t))),
                                lambda w: [_fetch_or_cancelled(w, "http://example.org/1"),
                                           _fetch_or_cancelled(w, "http://example.org/2")]),
    "h2 streams": ({"http1": False, "http2": True},
                   lambda: http2_peer(lambda m, t, h, b: (200, [], t + b)),
                   lambda w: [_fetch_or_cancelled(w, "http://example.org/1"),
                              _fetch_or_cancelled(w, "http://example.org/2", method="PUT",
                                                  content=_chunks()),
                              _fetch_or_cancelled(w, "http://example.org/3")]),
}  # fmt: skip


def _tunnel(inner: Callable[[], Program]) -> Callable[[], Program]:
    """A proxy that accepts CONNECT, then plays ``inner`` (TLS is pretended in memory)."""

    def program() -> Program:
        data = b""
        while b"\r\n\r\n" not in data:
            more = yield READ
            if not more:
                yield CLOSE
                return
            data += more
        yield Emit(b"HTTP/1.1 200 Connection established\r\n\r\n")
        yield from inner()

    return program


def _limited(inner: Callable[[], Program]) -> Callable[[], Program]:
    """``inner`` announcing SETTINGS_MAX_CONCURRENT_STREAMS 1 first."""
    from hyperframe.frame import SettingsFrame

    def program() -> Program:
        frame = SettingsFrame(0, settings={SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        yield Emit(frame.serialize())
        yield from inner()

    return program


def _actions(name: str) -> int:
    """How many cancellable actions the scenario performs when nothing is cancelled."""
    engine, peer, calls = SCENARIOS[name]
    world = _cancel_world(0, peer(), **engine)
    world.run(world.loop.gather(*calls(world)))
    assert isinstance(world.loop, CountingLoop)
    return world.loop.count


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_cancel_at_every_action_leaks_nothing(name: str) -> None:
    """A cancellation at any action, with others in flight, leaves no slot, stream or
    ticket behind, and the next request on the same engine succeeds."""
    engine, peer, calls = SCENARIOS[name]
    total = _actions(name)
    assert total >= 3
    for k in range(1, total + 1):
        world = _cancel_world(k, peer(), **engine)
        results = world.run(world.loop.gather(*calls(world)))
        assert isinstance(world.loop, CountingLoop)
        assert world.loop.cancelled, k
        assert "cancelled" in results, (k, results)
        cut = world.loop.cancelled_kind == "Write" and "http2" in engine
        assert all(
            r == "cancelled" or (cut and isinstance(r, str)) or r[0] == 200 for r in results
        ), (k, results)
        world.assert_clean()
        assert not world.engine._waiting, k
        for conn in world.engine._conns.values():
            assert (conn.reader, conn.writer, conn.waiters, conn.write_waiters) == (
                None,
                None,
                {},
                [],
            ), k
        world.loop.cancel_at = 0
        after = "https://origin.example/after" if "proxy" in engine else "http://example.org/after"
        assert world.get(after)[0] == 200, k
        world.assert_clean()


# -- the exchange's grammar ----------------------------------------------------------------


def test_a_finished_exchange_answers_end() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK, REQUEST, OK)))

    async def main() -> None:
        ex = world.engine.exchange(Request("GET", "http://example.org/"))
        head = await world.loop.drive(ex, ex.send(None))
        assert type(head) is ResponseHead
        chunk = await world.loop.drive(ex, ex.send(None))
        assert chunk == BodyChunk(b"ok")
        end = await world.loop.drive(ex, ex.send(None))
        assert type(end) is EndOfBody
        assert await world.loop.drive(ex, ex.send(None)) is END  # asked again: the end again
        assert await world.loop.drive(ex, ex.close()) is END
        assert ex.send(None) is END
        assert ex.close() is END
        assert ex.cancel() is NO_EFFECTS
        with pytest.raises(ReadError):
            ex.throw(ReadError("after the end"))

    world.run(main())
    world.assert_clean()


def test_closing_an_exchange_before_its_response() -> None:
    world = World()
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    assert ex.close() is END  # nothing started: nothing to give back
    assert ex.send(None) is END


def test_a_head_the_wire_machine_refuses_gives_the_connection_back() -> None:
    world = World()
    peer = scripted((REQUEST, OK, REQUEST, OK))
    world.serve(peer)
    assert world.get() == (200, b"ok")
    headers = {"Content-Length": "3", "Transfer-Encoding": "chunked"}
    with pytest.raises(LocalProtocolError):
        world.get(method="POST", headers=headers, content=b"abc")
    assert world.get() == (200, b"ok")  # the same connection, still fine
    assert peer.accepted == [0]  # type: ignore[attr-defined]
    world.assert_clean()


def test_a_waiter_gets_the_slot_of_a_closed_connection() -> None:
    world = World(limits=Limits(max_connections=1))
    closing = response(b"one", headers=b"Connection: close\r\n")
    peer = scripted((REQUEST, closing, CLOSE), (REQUEST, response(b"two")))
    world.serve(peer)

    async def main() -> list[tuple[int, bytes]]:
        return await world.loop.gather(world.fetch(), world.fetch())

    assert world.run(main()) == [(200, b"one"), (200, b"two")]
    assert peer.accepted == [0, 1]  # type: ignore[attr-defined]
    world.assert_clean()


def test_an_error_thrown_while_parked_hands_the_grant_on() -> None:
    # The interpreter should never do this; if it does, the exchange still gives back
    # what it was granted, and the next waiter gets it.
    world = World(limits=Limits(max_connections=1))
    world.serve(http1_peer(lambda m, t, h, b: (200, [], t)))
    first = world.engine.exchange(Request("GET", "http://example.org/1"))
    second = world.engine.exchange(Request("GET", "http://example.org/2"))
    third = world.engine.exchange(Request("GET", "http://example.org/3"))

    async def main() -> list[Any]:
        head = await world.loop.drive(first, first.send(None))
        park2, park3 = second.send(None), third.send(None)
        assert type(park2) is Park
        assert type(park3) is Park
        effects = await world.loop.drive(first, first.close())  # grants the connection to 2
        assert effects is END
        assert park2.ticket.woken
        assert not park3.ticket.woken
        handed_on = second.throw(ValueError("interpreter bug"))
        assert handed_on == Effects(wake=(park3.ticket,))
        with pytest.raises(ValueError, match="bug"):
            second.send(None)
        third_head = await world.loop.drive(third, third.send(True))
        await world.loop.drive(third, third.close())
        return [head.status_code, third_head.status_code]  # type: ignore[union-attr]

    assert world.run(main()) == [200, 200]
    world.assert_clean()


def test_an_error_thrown_at_an_effects_action_gives_the_connection_back() -> None:
    world = World(limits=Limits(keepalive_expiry=1.0))
    world.serve(http1_peer(lambda m, t, h, b: (200, [], t)), host="a.example")
    world.serve(http1_peer(lambda m, t, h, b: (200, [], t)), host="b.example")
    assert world.get("http://a.example/")[0] == 200
    world.run(world.loop.sleep(0.5))
    assert world.get("http://b.example/")[0] == 200
    world.run(world.loop.sleep(0.75))  # a.example's connection has expired, b's not
    ex = world.engine.exchange(Request("GET", "http://b.example/"))
    act = ex.send(None)
    assert type(act) is Effects
    assert len(act.close) == 1
    world.loop.apply(act)
    with pytest.raises(ValueError, match="bug"):
        ex.throw(ValueError("interpreter bug"))
    world.assert_clean()
    assert world.engine.statistics().idle == 1


def test_h2_a_reset_that_cannot_be_written_ends_the_exchange_all_the_same() -> None:
    peer = H2Script((1, ("head", 0), "read", RESET))
    world = h2_world(peer)

    async def main() -> None:
        ex = world.engine.exchange(Request("GET", "http://example.org/"))
        head = await world.loop.drive(ex, ex.send(None))
        assert type(head) is ResponseHead
        # The RST_STREAM's write fails (the server reset the connection): no matter.
        act = ex.close()
        while type(act) is not EndOfBody:
            try:
                result = await world.loop.perform(act)
            except (ReadError, WriteError) as exc:
                act = ex.throw(exc)
            else:
                act = ex.send(result)

    world.run(main())
    world.assert_clean()


# -- deterministic interleavings, one action at a time ---------------------------------------


def perform(world: World, act: Any) -> Any:
    """Perform one action as the reference interpreter does (virtual time may pass)."""
    return world.run(world.loop.perform(act))


def step_until(world: World, ex: Any, act: Any, kind: type, **match: Any) -> Any:
    """Perform ``ex``'s actions from ``act`` on, until one of ``kind`` (matching
    ``match``) comes up: it is returned, not performed."""
    while not (type(act) is kind and all(getattr(act, k) == v for k, v in match.items())):
        assert type(act) not in (ResponseHead, BodyChunk, EndOfBody), act
        try:
            result = perform(world, act)
        except Exception as exc:
            act = ex.throw(exc)
        else:
            act = ex.send(result)
    return act


@pytest.mark.parametrize("who", ["waiter", "reader"])
def test_h2_the_stream_that_gives_up_fails_alone(who: str) -> None:
    # Nothing comes for 5 s. A waiter whose timeout is shorter leaves; a reader whose
    # timeout is shorter hands reading to the waiter. The other stream is answered.
    # The first one started becomes the reader, and its stream is 1 (answered 0th).
    patient_index = 1 if who == "reader" else 0
    peer = H2Script((2, Delay(5), ("reply", patient_index, b"patient")))
    world = h2_world(peer)
    short = timeout(read=2.0)
    patient = timeout(read=10.0)

    async def main() -> list[Any]:
        async def one(options: dict[str, Any], name: str) -> Any:
            try:
                return await world.fetch(f"http://example.org/{name}", **options)
            except ReadTimeout:
                return "timeout", world.clock.now

        if who == "reader":
            return await world.loop.gather(one(short, "short"), one(patient, "patient"))
        return await world.loop.gather(one(patient, "patient"), one(short, "short"))

    results = world.run(main())
    assert (200, b"patient") in results
    assert ("timeout", pytest.approx(1002.0)) in results
    assert peer.accepted == 1
    world.assert_clean()


def _h2_pair(world: World) -> tuple[Any, Any, Any, Any]:
    """Two exchanges with their streams started on one connection: (a, b, a's next
    action, b's next action), a being the writer at its Checkpoint."""
    a = world.engine.exchange(Request("GET", "http://example.org/a"))
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    act_a = step_until(world, a, a.send(None), type(CHECKPOINT))
    act_b = step_until(world, b, b.send(None), Park)  # waits for a, the writer
    return a, b, act_a, act_b


def test_h2_a_writer_cancelled_at_its_checkpoint_leaves_the_bytes_for_another() -> None:
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], t)))
    a, b, _act_a, act_b = _h2_pair(world)
    effects = a.cancel()  # nothing taken yet: only a's stream ends
    assert effects == Effects(wake=(act_b.ticket,))
    world.loop.apply(effects)
    act_b = b.send(True)
    head = step_until(world, b, act_b, ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(b, b.close()))
    world.assert_clean()
    assert world.get("http://example.org/c") == (200, b"/c")  # the connection is fine


def test_h2_a_writer_cancelled_mid_write_cuts_the_connection() -> None:
    world = h2_world(H2Script((2,), (1, ("reply", 0, b"fresh"))))
    a, b, act_a, act_b = _h2_pair(world)
    act_a = a.send(None)  # past the checkpoint: the bytes are taken
    assert type(act_a) is Write
    effects = a.cancel()  # half of them may have gone: every stream fails
    assert act_b.ticket in effects.wake
    world.loop.apply(effects)
    # b had the connection from the pool and the server saw none of it: it is retried.
    head = step_until(world, b, b.send(True), ResponseHead)
    assert head.status_code == 200
    assert world.run(world.loop.drive(b, b.send(None))) == BodyChunk(b"fresh")
    world.run(world.loop.drive(b, b.close()))
    assert world.network.connections[0].client_closed
    world.assert_clean()


def test_h2_a_waiter_cancelled_while_waiting_for_the_writer() -> None:
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], t)))
    a, b, act_a, _act_b = _h2_pair(world)
    assert b.cancel() == NO_EFFECTS  # its HEADERS stay queued: a writes them (and the RST)
    head = step_until(world, a, act_a, ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(a, a.close()))
    world.assert_clean()


def test_h2_nothing_left_to_write_after_a_failure_meanwhile() -> None:
    # While a waits at its checkpoint, the connection fails under b (a read error):
    # the queued bytes are dropped, and a writes nothing.
    world = h2_world(H2Script((RESET,)))
    a = world.engine.exchange(Request("GET", "http://example.org/a"))
    step_until(world, a, a.send(None), type(CHECKPOINT))
    conn = a._conn
    conn.wire.io_failed(a._sid)  # what b's failed read does, under the lock
    with pytest.raises(RemoteProtocolError):
        step_until(world, a, a.send(None), ResponseHead)
    world.assert_clean()


def test_h2_a_request_refused_by_the_machine_gives_the_connection_back() -> None:
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], t)))
    with pytest.raises(LocalProtocolError, match="CONNECT"):
        world.get(method="CONNECT")
    assert world.get() == (200, b"/")
    world.assert_clean()


def test_h2_a_reset_while_idle_is_seen_before_reuse() -> None:
    peer = H2Script((1, ("reply", 0, b"one"), Delay(1), RESET), (1, ("reply", 0, b"two")))
    world = h2_world(peer)
    assert world.get() == (200, b"one")
    world.run(world.loop.sleep(2))
    assert world.get() == (200, b"two")
    assert peer.accepted == 2
    world.assert_clean()


# -- after the engine closed -----------------------------------------------------------------


def test_cancelled_while_waiting_for_the_pool_after_the_engine_closed() -> None:
    world = World(limits=Limits(max_connections=1))
    world.serve(http1_peer(lambda m, t, h, b: (200, [], t)))
    first = world.engine.exchange(Request("GET", "http://example.org/"))
    second = world.engine.exchange(Request("GET", "http://example.org/"))
    step_until(world, first, first.send(None), Read)
    assert type(second.send(None)) is Park
    world.loop.apply(world.engine.close())
    assert second.cancel() is NO_EFFECTS
    assert first.cancel() is NO_EFFECTS


def test_cancelled_while_connecting_after_the_engine_closed() -> None:
    world = World()
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    assert type(ex.send(None)) is Connect
    world.loop.apply(world.engine.close())
    assert ex.cancel() is NO_EFFECTS


def test_an_idle_probe_after_the_engine_closed() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK, CLOSE)))
    assert world.get() == (200, b"ok")
    ex = world.engine.exchange(Request("GET", "http://example.org/"))
    act = ex.send(None)
    assert type(act).__name__ == "ReadReady"
    world.loop.apply(world.engine.close())
    with pytest.raises(RuntimeError, match="closed"):
        ex.send(b"")  # EOF: not reusable, and the engine is closed


def test_h2_closing_a_response_after_the_engine_closed() -> None:
    world = h2_world(H2Script((1, ("head", 0))))

    async def main() -> None:
        ex = world.engine.exchange(Request("GET", "http://example.org/"))
        head = await world.loop.drive(ex, ex.send(None))
        assert type(head) is ResponseHead
        world.loop.apply(world.engine.close())
        assert await world.loop.drive(ex, ex.close()) is END  # its RST cannot go out

    world.run(main())


def test_cancelling_a_reader_wakes_a_waiter_alongside_the_pool_changes() -> None:
    # A cancelled reader wakes a waiter to read instead, in the same action as what its
    # checkin changes in the pool (here: an expired idle connection closed).
    world = World(http1=False, http2=True, limits=Limits(keepalive_expiry=1.0))
    world.serve(http2_peer(lambda m, t, h, b: (200, [], t)), host="old.example")
    world.serve(H2Script((2, ("reply", 1, b"b"))))
    assert world.get("http://old.example/") == (200, b"/")
    a = world.engine.exchange(Request("GET", "http://example.org/a", **timeout(read=3.0)))
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    act_a = step_until(world, a, a.send(None), type(CHECKPOINT))
    act_b = step_until(world, b, b.send(None), Park)
    act_a = step_until(world, a, act_a, Read, timeout=3.0)  # a reads for both
    act_b = step_until(world, b, b.send(True), Park)  # b waits for a
    world.clock.now += 5  # meanwhile old.example's idle connection expires
    effects = a.cancel()
    assert act_b.ticket in effects.wake
    assert len(effects.close) == 1
    world.loop.apply(effects)
    head = step_until(world, b, b.send(True), ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(b, b.close()))
    world.assert_clean()


def _reader_and_waiter(world: World) -> tuple[Any, Any, Any, Any]:
    """a reading for both streams (its Read not performed yet), b parked for a."""
    a = world.engine.exchange(Request("GET", "http://example.org/a", **timeout(read=3.0)))
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    act_a = step_until(world, a, a.send(None), type(CHECKPOINT))
    step_until(world, b, b.send(None), Park)
    act_a = step_until(world, a, act_a, Read, timeout=3.0)
    act_b = step_until(world, b, b.send(True), Park)
    return a, b, act_a, act_b


def test_h2_a_waiter_cancelled_while_parked_leaves_the_reader_alone() -> None:
    world = h2_world(H2Script((2, ("reply", 0, b"a"))))
    a, b, act_a, _act_b = _reader_and_waiter(world)
    assert b.cancel() is NO_EFFECTS  # nobody to wake: a still reads
    head = step_until(world, a, act_a, ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(a, a.close()))
    world.assert_clean()


def test_h2_a_waiter_cancelled_after_it_was_woken() -> None:
    world = h2_world(H2Script((2, ("reply", 1, b"b"), ("reply", 0, b"a"))))
    a, b, act_a, act_b = _reader_and_waiter(world)
    act_a = step_until(world, a, act_a, Effects)  # a's read brought b's response
    assert act_a == Effects(wake=(act_b.ticket,))
    world.loop.apply(act_a)
    assert b.cancel() is NO_EFFECTS  # woken already, never resumed: nothing to undo
    head = step_until(world, a, a.send(None), ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(a, a.close()))
    world.assert_clean()


def test_h2_a_probe_hands_reading_to_a_stream_that_started_meanwhile() -> None:
    world = h2_world(H2Script((1, ("reply", 0, b"one"), 2, ("reply", 1, b"two"), 3,
                               ("reply", 2, b"three"))))  # fmt: skip
    assert world.get() == (200, b"one")
    a = world.engine.exchange(Request("GET", "http://example.org/a"))
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    probe = a.send(None)
    assert type(probe).__name__ == "ReadReady"  # a looks at the idle connection
    act_b = step_until(world, b, b.send(None), Park, timeout=None)  # b starts, waits for a
    act_a = a.send(None)  # nothing had arrived: a hands reading on to b
    assert act_a == Effects(wake=(act_b.ticket,))
    world.loop.apply(act_a)
    results = []
    for ex, act in ((b, b.send(True)), (a, a.send(None))):
        head = step_until(world, ex, act, ResponseHead)
        results.append(head.status_code)
        world.run(world.loop.drive(ex, ex.close()))
    assert results == [200, 200]
    world.assert_clean()


def test_h2_a_failed_reset_wakes_a_stream_waiting_to_write() -> None:
    peer = H2Script((1, ("head", 0)), (1, ("reply", 0, b"b")))
    world = h2_world(peer)
    a = world.engine.exchange(Request("GET", "http://example.org/a"))
    head = step_until(world, a, a.send(None), ResponseHead)
    assert head.status_code == 200
    checkpoint = a.close()  # a ends its stream and becomes the writer of its RST_STREAM
    assert checkpoint is CHECKPOINT
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    act_b = step_until(world, b, b.send(None), Park, timeout=None)  # b waits to write
    world.network.connections[0].reset = True  # just then, the server resets it
    write = a.send(None)
    assert type(write) is Write
    with pytest.raises(WriteError):
        perform(world, write)
    effects = a.throw(WriteError("reset"))
    assert act_b.ticket in effects.wake
    world.loop.apply(effects)
    world.run(world.loop.drive(a, a.send(None)))
    # b's stream failed with the connection; it had the connection from the pool and the
    # server saw none of it, so it goes again, on a new connection.
    head = step_until(world, b, b.send(True), ResponseHead)
    assert head.status_code == 200
    world.run(world.loop.drive(b, b.close()))
    world.assert_clean()


def test_h2_the_pool_timeout_bounds_every_look_at_a_full_connection() -> None:
    # The server allows no stream; the waiting request looks again every tenth of a
    # second (the pool's recheck), and the pool timeout ends the whole wait, not a look.
    no_streams = {SettingCodes.MAX_CONCURRENT_STREAMS: 0}
    world = h2_world(
        H2Script((1, ("reply", 0, b"one"), ("settings", no_streams), HOLD)),
        limits=Limits(max_connections=1),
    )
    assert world.get() == (200, b"one")
    world.run(world.loop.sleep(0.05))
    with pytest.raises(PoolTimeout):
        world.get(**timeout(pool=0.35))
    assert world.clock.now == pytest.approx(1000.05 + 0.35)
    world.assert_clean()


def test_h2_cancelled_while_probing_an_idle_connection() -> None:
    # No stream was started: the connection is left as it was, fine for the next one.
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], t)))
    assert world.get("http://example.org/1") == (200, b"/1")
    ex = world.engine.exchange(Request("GET", "http://example.org/2"))
    assert type(ex.send(None)).__name__ == "ReadReady"
    assert ex.cancel() is NO_EFFECTS
    assert world.get("http://example.org/3") == (200, b"/3")
    assert len(world.network.connections) == 1
    world.assert_clean()


def test_h2_the_writer_writes_what_was_queued_during_its_write() -> None:
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], t)))
    a = world.engine.exchange(Request("GET", "http://example.org/a"))
    write = step_until(world, a, a.send(None), Write)  # a took its bytes
    b = world.engine.exchange(Request("GET", "http://example.org/b"))
    act_b = step_until(world, b, b.send(None), Park, timeout=None)  # queued, waits for a
    perform(world, write)
    assert a.send(None) is CHECKPOINT  # more was queued meanwhile: a goes on writing
    second = a.send(None)
    assert type(second) is Write
    assert second.data[3:9] == b"\x01\x05\x00\x00\x00\x03"  # b's HEADERS, on stream 3
    perform(world, second)
    assert a.send(None) == Effects(wake=(act_b.ticket,))
    for ex, act in ((a, a.send(None)), (b, b.send(True))):
        head = step_until(world, ex, act, ResponseHead)
        assert head.status_code == 200
        world.run(world.loop.drive(ex, ex.close()))
    world.assert_clean()


def test_the_embedding_surface_is_public() -> None:
    import subprocess
    import sys

    import sansio
    import sansio.engine

    assert sansio.Engine is sansio.engine.Engine
    assert {"Engine", "Exchange", "Read", "Write", "Park", "Effects", "testing"} <= set(
        sansio.__all__
    )
    assert sansio.testing.Loop is Loop
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sansio.nothing  # noqa: B018
    # Loaded on first use only: `import sansio` does not pay for the test tools.
    root = str(Path(__file__).resolve().parents[2])
    script = (
        f"import sys; sys.path.insert(0, {root!r}); import sansio; "
        "print(sansio.__file__.startswith(sys.path[0]), 'sansio.testing' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "False"], out.stderr
