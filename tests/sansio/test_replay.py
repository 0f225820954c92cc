"""Record and replay (`sansio.replay`) on the reference interpreter: a client's
connections recorded from in-memory peers, replayed with no peer at all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

import conch
from sansio.engine import Connect, Engine
from sansio.models import Request
from sansio.replay import MAX_DIFF_LINE, Recorder, Recording, ReplayError
from sansio.testing import (
    READ,
    RESET,
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

HOST = "api.example"
H2 = {"http1": False, "http2": True}


def hello(method: bytes, target: bytes, headers: Any, body: bytes) -> Any:
    return 200, [(b"content-type", b"text/plain")], b"hello " + target + body


Main = Callable[[conch.AsyncClient], Coroutine[Any, Any, Any]]


def play(network: MemoryNetwork, main: Main, **settings: Any) -> Any:
    """``main(client)`` on a client over ``network`` (a fresh loop); its result."""
    loop = Loop(network)

    async def run() -> Any:
        transport = MemoryTransport(loop, **settings)
        async with conch.AsyncClient(transport=transport, timeout=5.0) as client:
            return await main(client)

    return loop.run(run())


def record(main: Main, peer: Callable[[], Program], *, alpn: str | None = None, **kw: Any) -> Any:
    """``main`` against ``peer`` at api.example:80 and :443, recorded: (result, recording)."""
    network = MemoryNetwork()
    network.listen(HOST, 80, peer)
    network.listen(HOST, 443, peer, alpn=alpn)
    recorder = Recorder()
    result = play(network, main, record=recorder, **kw)
    return result, Recording.loads(recorder.dumps())


def replay(main: Main, recording: Recording, **kw: Any) -> Any:
    """``main`` replayed from ``recording``, with no peer listening anywhere."""
    return play(MemoryNetwork(), main, replay=recording, **kw)


async def two_gets(client: conch.AsyncClient) -> list[str]:
    first = await client.get(f"http://{HOST}/a")
    second = await client.post(f"http://{HOST}/b", content=b"!")
    return [first.text, second.text]


def events(recording: Recording, index: int = 0) -> list[dict[str, Any]]:
    return recording.connections[index]["events"]  # type: ignore[no-any-return]


def edited(recording: Recording, change: Callable[[dict[str, Any]], None]) -> Recording:
    """A copy of ``recording`` whose document ``change`` edited."""
    document = json.loads(recording.dumps())
    change(document)
    return Recording.loads(json.dumps(document))


# -- recording and replaying ----------------------------------------------------------


def test_http1_replays_the_same_responses_with_no_peer() -> None:
    result, recording = record(two_gets, http1_peer(hello))
    assert result == ["hello /a", "hello /b!"]
    assert replay(two_gets, recording) == result
    assert replay(two_gets, recording) == result  # a recording replays any number of times
    conn = recording.connections[0]
    assert (conn["host"], conn["port"], conn["alpn"], conn["http_version"]) == (
        HOST, 80, None, "HTTP/1.1",
    )  # fmt: skip
    ops = [e["op"] for e in events(recording)]
    assert ops == ["write", "read", "write", "read", "close"]
    assert events(recording)[0]["data"].startswith("GET /a HTTP/1.1\r\nHost: api.example\r\n")


def test_http2_over_tls_records_the_handshake_and_replays_without_one() -> None:
    async def main(client: conch.AsyncClient) -> list[Any]:
        response = await client.get(f"https://{HOST}/s")
        return [response.http_version, response.text]

    result, recording = record(main, http2_peer(hello), alpn="h2", http2=True)
    assert result == ["HTTP/2", "hello /s"]
    conn = recording.connections[0]
    assert (conn["port"], conn["alpn"], conn["http_version"]) == (443, "h2", "HTTP/2")
    tls = events(recording)[0]
    assert (tls["op"], tls["server_hostname"], tls["alpn"]) == ("tls", HOST, "h2")
    assert replay(main, recording, http2=True) == result


def test_a_protocol_the_client_does_not_offer_fails() -> None:
    async def main(client: conch.AsyncClient) -> str:
        return (await client.get(f"https://{HOST}/s")).text

    _, recording = record(main, http2_peer(hello), alpn="h2", http2=True)
    with pytest.raises(ReplayError, match=r"offers ALPN \['http/1\.1'\], the recording has .*'h2'"):
        replay(main, recording)  # HTTP/1.1 only


def test_h2c_is_told_by_its_preface() -> None:
    result, recording = record(two_gets, http2_peer(hello), **H2)
    assert recording.connections[0]["http_version"] == "HTTP/2"
    assert replay(two_gets, recording, **H2) == result


def test_replayed_response_carries_a_stream_with_no_socket() -> None:
    async def main(client: conch.AsyncClient) -> Any:
        response = await client.get(f"http://{HOST}/a")
        return response.text, response.extensions["network_stream"].get_extra_info("socket")

    _, recording = record(two_gets, http1_peer(hello))
    assert replay(main, recording) == ("hello /a", None)


def test_the_end_of_a_stream_replays_and_a_fresh_connection_follows() -> None:
    def once() -> Program:  # one response, then the server closes the connection
        yield READ
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    result, recording = record(two_gets, once)
    assert result == ["ok", "ok"]
    assert [e["op"] for e in events(recording)] == ["write", "read", "eof", "close"]
    assert len(recording.connections) == 2
    assert replay(two_gets, recording) == result


def test_errors_replay_where_they_were_recorded() -> None:
    def reset() -> Program:
        yield READ
        yield RESET

    async def main(client: conch.AsyncClient) -> str:
        try:
            await client.get(f"http://{HOST}/a")
        except conch.ReadError as exc:
            return f"ReadError: {exc}"
        raise AssertionError("no error")

    result, recording = record(main, reset)
    assert result == "ReadError: connection reset by peer"
    assert events(recording)[-2]["op"] == "error"
    assert replay(main, recording) == result


def test_a_failed_connect_replays() -> None:
    recorder = Recorder()
    with pytest.raises(conch.ConnectError, match="refused"):
        play(MemoryNetwork(), two_gets, record=recorder)
    recording = Recording.loads(recorder.dumps())
    assert events(recording) == [
        {"t": 0.0, "op": "error", "on": "connect", "error": "ConnectError",
         "message": "[Errno 111] Connection refused"},
    ]  # fmt: skip
    with pytest.raises(conch.ConnectError, match="refused"):
        replay(two_gets, recording)


def test_an_error_that_is_no_transport_error_is_recorded_as_a_network_error() -> None:
    # An embedder's loop may throw in an OSError of its own: it replays as NetworkError.
    recorder = Recorder()
    engine = Engine(clock=lambda: 0.0, record=recorder)
    ex = engine.exchange(Request("GET", f"http://{HOST}/"))
    act = ex.send(None)
    assert type(act) is Connect
    with pytest.raises(OSError, match="no route"):
        ex.throw(OSError("no route"))
    (event,) = events(recorder.recording())
    assert (event["error"], event["message"]) == ("NetworkError", "no route")
    with pytest.raises(conch.NetworkError, match="no route"):
        replay(two_gets, recorder.recording())


def test_a_write_that_failed_fails_again_and_the_read_after_it_too() -> None:
    def reset_after_head() -> Program:
        yield READ
        yield Emit(b"HTTP/1.1 ")  # (the early-response check reads it between two chunks)
        yield RESET

    async def upload(client: conch.AsyncClient) -> str:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"x" * 10

        try:
            await client.post(f"http://{HOST}/up", content=body())
        except conch.TransportError as exc:
            return f"{type(exc).__name__}: {exc}"
        raise AssertionError("no error")

    result, recording = record(upload, reset_after_head)
    assert result == "WriteError: connection reset by peer"
    assert [e.get("on") for e in events(recording) if e["op"] == "error"] == ["write", "read"]
    assert replay(upload, recording) == result


def test_a_malformed_response_fails_on_replay_as_it_did() -> None:
    def junk() -> Program:
        yield READ
        yield Emit(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")

    async def main(client: conch.AsyncClient) -> str:
        try:
            await client.get(f"http://{HOST}/a")
        except conch.RemoteProtocolError as exc:
            return type(exc).__name__
        raise AssertionError("no error")

    result, recording = record(main, junk)
    assert result == "RemoteProtocolError"
    assert replay(main, recording) == result


def test_a_cancelled_upload_is_recorded_up_to_the_cancellation() -> None:
    class Interrupted(BaseException):
        pass

    async def main(client: conch.AsyncClient) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            raise Interrupted

        await client.post(f"http://{HOST}/up", content=body())

    network = MemoryNetwork()
    network.listen(HOST, 80, http1_peer(hello))
    recorder = Recorder()
    with pytest.raises(Interrupted):
        play(network, main, record=recorder)
    written = [e["data"] for e in events(recorder.recording()) if e["op"] == "write"]
    assert written[-1].endswith("first\r\n")  # the first chunk, then nothing
    assert events(recorder.recording())[-1]["op"] == "close"


def test_a_recording_taken_midway_does_not_change_afterwards() -> None:
    network = MemoryNetwork()
    network.listen(HOST, 80, http1_peer(hello))
    recorder = Recorder()
    taken: list[Recording] = []

    async def main(client: conch.AsyncClient) -> None:
        await client.get(f"http://{HOST}/a")
        taken.append(recorder.recording())
        await client.get(f"http://{HOST}/b")

    play(network, main, record=recorder)
    assert [e["op"] for e in events(taken[0])] == ["write", "read"]
    assert [e["op"] for e in events(recorder.recording())] == [
        "write", "read", "write", "read", "close",
    ]  # fmt: skip


def test_an_engine_records_or_replays_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        Engine(clock=lambda: 0.0, record=Recorder(), replay=Recording([]))


# -- concurrency: reads wait for the writes they follow --------------------------------


def slow(accept: Callable[[], Program]) -> Callable[[], Program]:
    """The peer ``accept`` with a second's pause before everything it sends."""

    def program() -> Program:
        inner = accept()
        op = next(inner)
        while True:
            if type(op) is Emit:
                yield Delay(1.0)
            reply = yield op
            try:
                op = inner.send(reply)
            except StopIteration:
                return

    return program


async def together(client: conch.AsyncClient) -> list[str]:
    loop = client._transport.loop  # type: ignore[attr-defined]

    async def later() -> conch.Response:
        await loop.sleep(0.5)
        return await client.get(f"http://{HOST}/b")

    responses = await loop.gather(client.get(f"http://{HOST}/a"), later())
    return [r.text for r in responses]


def test_a_shared_read_waits_for_the_other_streams_write() -> None:
    # Recorded: the second request written while the first one's read waited. Replayed:
    # that read waits (parked) until the second request has been written.
    result, recording = record(together, slow(http2_peer(hello)), **H2)
    assert result == ["hello /a", "hello /b"]
    ops = [e["op"] for e in events(recording)]
    assert ops[:3] == ["write", "write", "read"]
    assert replay(together, recording, **H2) == result


def test_a_shared_read_whose_write_never_comes_times_out() -> None:
    _, recording = record(together, slow(http2_peer(hello)), **H2)

    async def first_only(client: conch.AsyncClient) -> Any:
        return (await client.get(f"http://{HOST}/a", timeout=1.0)).text

    clock = VirtualClock()
    loop = Loop(MemoryNetwork(clock))

    async def run() -> Any:
        transport = MemoryTransport(loop, replay=recording, **H2)
        async with conch.AsyncClient(transport=transport) as client:
            return await first_only(client)

    with pytest.raises(conch.ReadTimeout):
        loop.run(run())
    assert clock.now == 1001.0


def test_a_closed_transport_fails_the_reads_in_flight_as_on_the_network() -> None:
    def two_pieces() -> Program:
        yield READ
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe")
        yield Delay(1.0)
        yield Emit(b"llo")

    async def main(client: conch.AsyncClient) -> list[str]:
        seen = []
        async with client.stream("GET", f"http://{HOST}/a") as response:
            chunks = response.aiter_raw()
            seen.append((await anext(chunks)).decode())
            await client._transport.aclose()
            try:
                await anext(chunks)
            except conch.ReadError as exc:
                seen.append(f"ReadError: {exc}")
        return seen

    async def read_all(client: conch.AsyncClient) -> list[str]:
        async with client.stream("GET", f"http://{HOST}/a") as response:
            return [chunk.decode() async for chunk in response.aiter_raw()]

    result, _ = record(main, two_pieces)
    assert result == ["he", "ReadError: the connection was closed"]
    _, whole = record(read_all, two_pieces)  # (where nothing closed the transport)
    assert replay(main, whole) == result


def test_closing_the_transport_ends_a_parked_read() -> None:
    _, recording = record(together, slow(http2_peer(hello)), **H2)

    async def close_meanwhile(client: conch.AsyncClient) -> list[str]:
        loop = client._transport.loop  # type: ignore[attr-defined]

        async def first() -> str:
            try:
                await client.get(f"http://{HOST}/a", timeout=None)
            except conch.ReadError as exc:
                return f"ReadError: {exc}"
            return "no error"

        async def close() -> str:
            await loop.sleep(1.0)
            await client._transport.aclose()
            return "closed"

        return await loop.gather(first(), close())  # type: ignore[no-any-return]

    assert replay(close_meanwhile, recording, **H2) == [
        "ReadError: the connection was closed", "closed",
    ]  # fmt: skip


# -- pace -----------------------------------------------------------------------------


def test_a_paced_replay_serves_reads_no_earlier_than_recorded() -> None:
    def late() -> Program:
        yield READ
        yield Delay(3.0)
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        yield Delay(5.0)  # then the server closes the idle connection

    async def main(client: conch.AsyncClient) -> list[str]:
        first = await client.get(f"http://{HOST}/a")
        await client._transport.loop.sleep(10.0)  # type: ignore[attr-defined]
        second = await client.get(f"http://{HOST}/a")
        return [first.text, second.text]

    result, recording = record(main, late)
    # write, read, then the end of the stream as the client's probe found it (at 13 s)
    assert [e["t"] for e in events(recording)][:3] == [0.0, 3.0, 13.0]

    clock = VirtualClock()
    assert play(MemoryNetwork(clock), main, replay=recording.paced()) == result
    assert clock.now == 1000.0 + 10.0 + 3.0 + 3.0  # each read waited as recorded
    clock = VirtualClock()
    assert play(MemoryNetwork(clock), main, replay=recording) == result
    assert clock.now == 1000.0 + 10.0  # only the client's own sleep


def test_a_paced_replay_has_nothing_to_read_before_its_time() -> None:
    def late() -> Program:
        yield READ
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        yield Delay(5.0)

    async def back_to_back(client: conch.AsyncClient) -> list[str]:
        loop = client._transport.loop  # type: ignore[attr-defined]
        first = await client.get(f"http://{HOST}/a")
        await loop.sleep(10.0)
        return [first.text, (await client.get(f"http://{HOST}/a")).text]

    _, recording = record(back_to_back, late)

    async def at_once(client: conch.AsyncClient) -> list[str]:
        first = await client.get(f"http://{HOST}/a")
        return [first.text, (await client.get(f"http://{HOST}/a")).text]

    # Without the pause the server had not closed yet: the idle connection is reused,
    # where the recording has nothing more.
    with pytest.raises(ReplayError, match="nothing more"):
        play(MemoryNetwork(), at_once, replay=recording.paced())


# -- where a replay goes off the recording --------------------------------------------


def test_different_request_bytes_fail_with_the_first_differing_line() -> None:
    _, recording = record(two_gets, http1_peer(hello))

    async def other(client: conch.AsyncClient) -> Any:
        return await client.get(f"http://{HOST}/a", headers={"X-Mode": "new"})

    with pytest.raises(ReplayError) as info:
        replay(other, recording)
    message = str(info.value)
    assert message.startswith(
        "replay: <replayed connection 0 to api.example:80>: the client wrote bytes the "
        "recording does not have, at byte "
    )
    assert message.endswith(
        "(line 7):\n  - recorded: b'\\r\\n'\n  + sent:     b'X-Mode: new\\r\\n'"
    )


def test_a_long_differing_line_is_shown_around_the_difference() -> None:
    async def long(client: conch.AsyncClient) -> Any:
        return (await client.get(f"http://{HOST}/a", headers={"X-Long": "a" * 1000})).text

    async def changed(client: conch.AsyncClient) -> Any:
        return (await client.get(f"http://{HOST}/a", headers={"X-Long": "a" * 450 + "b"})).text

    _, recording = record(long, http1_peer(hello))
    with pytest.raises(ReplayError) as info:
        replay(changed, recording)
    recorded, sent = str(info.value).splitlines()[1:]
    assert recorded == "  - recorded: ... b'" + "a" * MAX_DIFF_LINE + "' ..."
    assert sent == "  + sent:     ... b'" + "a" * 100 + "b\\r\\n'"


def test_writing_past_the_recording_fails() -> None:
    async def one(client: conch.AsyncClient) -> str:
        return (await client.get(f"http://{HOST}/a")).text

    _, recording = record(one, http1_peer(hello))
    with pytest.raises(ReplayError) as info:
        replay(two_gets, recording)
    assert "  - recorded: (nothing more)\n  + sent:     b'POST /b HTTP/1.1\\r\\n'" in str(
        info.value
    )


def test_a_connection_that_was_not_recorded_fails() -> None:
    async def elsewhere(client: conch.AsyncClient) -> Any:
        return await client.get("http://other.example/")

    _, recording = record(two_gets, http1_peer(hello))
    with pytest.raises(ReplayError, match=r"connects to other\.example:80, the recording has no"):
        replay(elsewhere, recording)


def test_a_read_before_the_recorded_writes_fails_at_once() -> None:
    _, recording = record(two_gets, http1_peer(hello))

    def more(document: dict[str, Any]) -> None:
        document["connections"][0]["events"][0]["data"] += "EXTRA"

    with pytest.raises(ReplayError) as info:
        replay(two_gets, edited(recording, more))
    assert str(info.value) == (
        "replay: <replayed connection 0 to api.example:80>: the client waits for a "
        "response, the recording has the client write b'EXTRA' first"
    )


def test_a_read_past_the_recording_fails() -> None:
    _, recording = record(two_gets, http1_peer(hello))

    def cut(document: dict[str, Any]) -> None:
        del document["connections"][0]["events"][1:]

    with pytest.raises(ReplayError, match="the client reads, the recording has nothing more"):
        replay(two_gets, edited(recording, cut))


def test_tls_where_the_recording_has_none_and_the_reverse_fail() -> None:
    async def secure(client: conch.AsyncClient) -> str:
        return (await client.get(f"https://{HOST}:80/a")).text

    _, plain = record(two_gets, http1_peer(hello))
    with pytest.raises(
        ReplayError, match="the client starts TLS, the recording has the client write b'GET /a"
    ):
        replay(secure, plain)

    async def secure443(client: conch.AsyncClient) -> str:
        return (await client.get(f"https://{HOST}/a")).text

    async def insecure(client: conch.AsyncClient) -> str:
        return (await client.get(f"http://{HOST}/a")).text

    _, tls = record(secure443, http1_peer(hello))

    def plain_port(document: dict[str, Any]) -> None:
        document["connections"][0]["port"] = 80

    # The same request bytes on port 80 without TLS: the read meets the handshake.
    with pytest.raises(ReplayError, match="the client reads, the recording has 'tls' next"):
        replay(insecure, edited(tls, plain_port))


def test_tls_for_another_name_fails() -> None:
    async def secure(client: conch.AsyncClient) -> str:
        return (await client.get(f"https://{HOST}/a")).text

    _, recording = record(secure, http1_peer(hello))

    def rename(document: dict[str, Any]) -> None:
        document["connections"][0]["events"][0]["server_hostname"] = "other.example"

    with pytest.raises(ReplayError, match=r"TLS for 'api\.example', the recording for 'other"):
        replay(secure, edited(recording, rename))


def test_a_failed_handshake_replays() -> None:
    async def secure(client: conch.AsyncClient) -> str:
        return (await client.get(f"https://{HOST}/a")).text

    _, recording = record(secure, http1_peer(hello))

    def fail(document: dict[str, Any]) -> None:
        document["connections"][0]["events"][0] = {
            "t": 0, "op": "error", "on": "tls", "error": "ConnectError",
            "message": "certificate verify failed",
        }  # fmt: skip

    with pytest.raises(conch.ConnectError, match="certificate verify failed"):
        replay(secure, edited(recording, fail))


# -- the file ---------------------------------------------------------------------------


def test_the_file_round_trips() -> None:
    _, recording = record(two_gets, http1_peer(hello))
    text = recording.dumps()
    assert json.loads(text)["format"] == "conch-recording"
    assert json.loads(text)["version"] == 1
    assert Recording.loads(text.encode()).connections == recording.connections
    assert text.isascii()


GOOD_EVENT = {"t": 0, "op": "write", "data": "x"}


def document(*events: Any, **conn: Any) -> str:
    connection = {"host": HOST, "port": 80, "uds": None, "events": list(events), **conn}
    return json.dumps({"format": "conch-recording", "version": 1, "connections": [connection]})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"format": "conch-recording", "vers', "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"format": "har", "version": 1}', "format is not 'conch-recording'"),
        ('{"format": "conch-recording", "version": 2}', "version is not 1"),
        ('{"format": "conch-recording", "version": 1}', "connections is not a list"),
        ('{"format": "conch-recording", "version": 1, "connections": [1]}', "connection 0 is"),
        (document(host=1), "connection 0: host"),
        (document(port="80"), "connection 0: port"),
        (document(uds=5), "connection 0: uds"),
        (document(events={}), "connection 0: events"),
        (document(GOOD_EVENT, 7), "connection 0, event 1 is not an object"),
        (document({"t": 0, "op": "send"}), "op 'send' is not one of"),
        (document({"t": "0", "op": "eof"}), "t is not a number"),
        (document({"t": 0, "op": "read", "data": "\u20ac"}), "event 0: data"),
        (document({"t": 0, "op": "write"}), "event 0: data"),
        (document({"t": 0, "op": "error", "on": "read", "error": "KeyError"}), "error 'KeyE"),
        (document({"t": 0, "op": "error", "on": "pool", "error": "ReadError"}), "event 0: on"),
        (document({"t": 0, "op": "error", "on": "read", "error": "ReadError"}), "message"),
        (document({"t": 0, "op": "tls", "alpn": 2}), "event 0: alpn"),
    ],
)
def test_a_corrupt_or_truncated_file_says_what_is_wrong(text: str | bytes, problem: str) -> None:
    with pytest.raises(ReplayError, match=r"^corrupt recording: ") as info:
        Recording.loads(text)
    assert problem in str(info.value)


def test_every_event_kind_passes_the_check() -> None:
    text = document(
        {"t": 0, "op": "tls", "server_hostname": HOST, "alpn": None},
        GOOD_EVENT,
        {"t": 0.5, "op": "read", "data": "\xff"},
        {"t": 1, "op": "error", "on": "read", "error": "ReadTimeout", "message": "timed out"},
        {"t": 1, "op": "eof"},
        {"t": 1, "op": "close"},
    )
    assert len(Recording.loads(text).connections[0]["events"]) == 6


# -- under a total deadline -----------------------------------------------------------


def test_a_total_deadline_bounds_recorded_and_replayed_exchanges() -> None:
    def late() -> Program:
        yield READ
        yield Delay(3.0)
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        yield Delay(60.0)

    def get(total: float) -> Main:
        async def main(client: conch.AsyncClient) -> str:
            try:
                response = await client.get(
                    f"http://{HOST}/a", timeout=conch.Timeout(30.0, total=total)
                )
            except conch.ReadTimeout as exc:
                return f"timed out: {exc}"
            return response.text

        return main

    result, recording = record(get(10.0), late)
    assert result == "ok"
    timed_out = record(get(1.0), late)[0]  # the 3 s wait, cut at 1 s
    assert timed_out.startswith("timed out")
    assert "total" in timed_out
    assert replay(get(1.0), recording) == "ok"  # an unpaced replay does not wait
    paced = play(MemoryNetwork(VirtualClock()), get(1.0), replay=recording.paced())
    assert paced == timed_out
    assert play(MemoryNetwork(VirtualClock()), get(10.0), replay=recording.paced()) == "ok"


def test_a_paced_read_later_than_its_read_timeout_times_out() -> None:
    def late() -> Program:
        yield READ
        yield Delay(3.0)
        yield Emit(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        yield Delay(60.0)

    async def get(client: conch.AsyncClient) -> str:
        return (await client.get(f"http://{HOST}/a")).text

    async def impatient(client: conch.AsyncClient) -> str:
        with pytest.raises(conch.ReadTimeout):
            await client.get(f"http://{HOST}/a", timeout=2.0)
        return "timed out"

    _, recording = record(get, late)
    clock = VirtualClock()
    assert play(MemoryNetwork(clock), impatient, replay=recording.paced()) == "timed out"
    assert clock.now == 1000.0 + 2.0  # the read waited its timeout, not the recorded 3 s
