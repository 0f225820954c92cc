"""Trace events (the ``trace`` request extension, DEBUG logging) from the exchange
engine, on the virtual clock: httpcore's names, order and info, one source for both."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest

from sansio.engine import Engine, ResponseHead, Trace
from sansio.engine import trace as trace_module
from sansio.exceptions import ConnectError, ReadError, ReadTimeout, RemoteProtocolError, WriteError
from sansio.models import Request
from sansio.testing import CLOSE, RESET, Delay, MemoryConnection, Program, http2_peer

from .test_engine import OK, REQUEST, H2Script, World, h2_world, scripted

Events = list[tuple[str, dict[str, Any]]]

SENT = [
    "connection.connect_tcp.started",
    "connection.connect_tcp.complete",
    "http11.send_request_headers.started",
    "http11.send_request_headers.complete",
    "http11.send_request_body.started",
    "http11.send_request_body.complete",
    "http11.receive_response_headers.started",
    "http11.receive_response_headers.complete",
]
READ_AND_CLOSED = [
    "http11.receive_response_body.started",
    "http11.receive_response_body.complete",
    "http11.response_closed.started",
    "http11.response_closed.complete",
]


def recorder() -> tuple[Events, Callable[[str, dict[str, Any]], Any]]:
    events: Events = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append((name, info))

    return events, trace


def names(events: Events) -> list[str]:
    return [name for name, _ in events]


def test_a_request_traces_every_phase_in_httpcores_order() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)))
    events, trace = recorder()
    request_timeout = {"connect": 3.0, "read": 4.0, "write": 5.0, "pool": 6.0}
    ext = {"trace": trace, "timeout": request_timeout}
    assert world.get("http://example.org/", method="POST", content=b"hi", extensions=ext) == (
        200,
        b"ok",
    )
    assert names(events) == SENT + READ_AND_CLOSED
    info = dict(events)
    assert info["connection.connect_tcp.started"] == {
        "host": "example.org",
        "port": 80,
        "timeout": 3.0,
    }
    assert isinstance(info["connection.connect_tcp.complete"]["return_value"], MemoryConnection)
    request = info["http11.send_request_headers.started"]["request"]
    assert (request.method, str(request.url)) == ("POST", "http://example.org/")
    assert info["http11.receive_response_headers.complete"] == {
        "return_value": (b"HTTP/1.1", 200, b"X", [(b"Content-Length", b"2")])
    }
    assert info["http11.response_closed.started"] == {}
    world.assert_clean()


def test_a_reused_connection_and_tls() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK, REQUEST, OK)), port=443)
    events, trace = recorder()
    world.get("https://example.org/", extensions={"trace": trace})
    assert names(events)[:4] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "connection.start_tls.started",
        "connection.start_tls.complete",
    ]
    assert events[2][1] == {"server_hostname": "example.org", "timeout": None}
    events.clear()
    world.get("https://example.org/", extensions={"trace": trace})
    assert names(events) == SENT[2:] + READ_AND_CLOSED  # no connection events: reused
    world.assert_clean()


def test_a_unix_socket_and_a_refused_connection() -> None:
    world = World(uds="/run/app.sock")
    world.serve(scripted((REQUEST, OK)), host="/run/app.sock", port=0)
    events, trace = recorder()
    world.get("http://localhost/", extensions={"trace": trace})
    assert events[0] == (
        "connection.connect_unix_socket.started",
        {"path": "/run/app.sock", "timeout": None},
    )
    refused = World()
    events.clear()
    with pytest.raises(ConnectError):
        refused.get("http://example.org/", extensions={"trace": trace})
    assert names(events) == ["connection.connect_tcp.started", "connection.connect_tcp.failed"]
    assert isinstance(events[1][1]["exception"], ConnectError)
    refused.assert_clean()


def test_a_response_closed_before_its_end_and_a_body_cut_short() -> None:
    world = World()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
    world.serve(scripted((REQUEST, head + b"ab", Delay(1), b"cd"), (REQUEST, head + b"ab", CLOSE)))
    events, trace = recorder()

    async def main() -> None:
        request = Request("GET", "http://example.org/", extensions={"trace": trace})
        response = await world.transport.handle_async_request(request)
        async for _ in response.stream:  # type: ignore[union-attr]
            break  # the first chunk only
        await response.aclose()
        assert names(events)[-4:] == READ_AND_CLOSED  # the body phase ends at the close
        events.clear()
        request = Request("GET", "http://example.org/", extensions={"trace": trace})
        response = await world.transport.handle_async_request(request)
        with pytest.raises(RemoteProtocolError):
            await response.aread()

    world.run(main())
    assert names(events)[-2:] == [
        "http11.receive_response_body.started",
        "http11.receive_response_body.failed",
    ]
    assert isinstance(events[-1][1]["exception"], RemoteProtocolError)
    world.assert_clean()


def test_a_read_timeout_fails_the_phase_it_ends() -> None:
    world = World()
    world.serve(scripted((REQUEST, Delay(10), OK)))
    events, trace = recorder()
    ext = {"trace": trace, "timeout": {"read": 1.0}}
    with pytest.raises(ReadTimeout):
        world.get(extensions=ext)
    assert names(events)[-2:] == [
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.failed",
    ]
    world.assert_clean()


def test_a_write_that_fails_is_traced_and_reading_goes_on() -> None:
    def reset() -> Program:
        yield RESET  # before a byte of the request is read

    world = World()
    world.serve(reset)
    events, trace = recorder()
    with pytest.raises(WriteError):
        world.get(extensions={"trace": trace})
    assert names(events)[2:] == [
        "http11.send_request_headers.started",
        "http11.send_request_headers.failed",
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.failed",
    ]
    assert isinstance(events[3][1]["exception"], WriteError)
    world.assert_clean()


@pytest.mark.parametrize(
    "failing", ["connection.connect_tcp.complete", "http11.send_request_headers.complete"]
)
def test_a_callback_that_raises_ends_the_request_with_its_error(failing: str) -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)))
    seen: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        seen.append(name)
        if name == failing:
            raise LookupError(name)

    with pytest.raises(LookupError, match=failing):
        world.get(extensions={"trace": trace})
    assert seen[-1] == failing  # no .failed event for a phase that had ended
    world.assert_clean()
    assert all(c.client_closed for c in world.network.connections)


def test_no_trace_extension_and_no_debug_logging_means_no_trace_action() -> None:
    world = World()
    world.serve(scripted((REQUEST, OK)))
    kinds: list[type] = []

    async def main() -> None:
        request = Request("GET", "http://example.org/")
        ex = world.engine.exchange(request)
        assert ex._tracer is None
        act = ex.send(None)
        while type(act) is not ResponseHead:
            kinds.append(type(act))
            act = ex.send(await world.loop.perform(act))
        assert ex._body is not None  # the body is read by `send` itself, untraced

    world.run(main())
    assert Trace not in kinds


def test_debug_logging_has_httpcores_messages(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World()
    world.serve(scripted((REQUEST, OK, REQUEST, OK)))
    with caplog.at_level(logging.DEBUG, logger="conch.http11"):
        world.get()
    records = [(r.name, r.getMessage()) for r in caplog.records]
    assert records[0] == (
        "conch.http11",
        "send_request_headers.started request=<Request('GET', 'http://example.org/')>",
    )
    assert ("conch.http11", "send_request_headers.complete") in records
    assert (
        "conch.http11",
        "receive_response_headers.complete return_value="
        "(b'HTTP/1.1', 200, b'X', [(b'Content-Length', b'2')])",
    ) in records
    assert not any(name == "conch.connection" for name, _ in records)  # not enabled
    # Under conch.alias_httpx(): httpcore's logger names.
    monkeypatch.setattr(trace_module, "LOGGER_PREFIX", "httpcore")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="httpcore.http11"):
        world.get()
    assert {r.name for r in caplog.records} == {"httpcore.http11"}


def test_the_engine_asks_the_loggers_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("sansio.engine.engine.debug_logging", lambda: calls.append(1) or False)
    engine = Engine(clock=lambda: 0.0)
    engine.exchange(Request("GET", "http://example.org/"))
    assert calls == [1]


def test_no_logger_is_asked_before_the_program_imports_logging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A program that never logs never loads logging (~7 ms on its first request).
    monkeypatch.setattr(trace_module, "_groups", {})
    monkeypatch.setattr(trace_module, "_loggers", {})
    monkeypatch.setitem(sys.modules, "logging", None)  # importing it now raises
    world = World()
    world.serve(scripted((REQUEST, OK)))
    assert world.get() == (200, b"ok")
    assert trace_module._groups == {}


def test_debug_logging_follows_every_logging_change_without_asking_each_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Answers come from logging's own cache, which logging empties at every level or
    # disable() change; disabled loggers (not cached by logging) are asked again.
    monkeypatch.setattr(trace_module, "LOGGER_PREFIX", "conch-test-cache")
    http11 = logging.getLogger("conch-test-cache.http11")
    asked: list[str] = []
    is_enabled_for = logging.Logger.isEnabledFor

    def counting(self: logging.Logger, level: int) -> bool:
        asked.append(self.name)
        return is_enabled_for(self, level)

    monkeypatch.setattr(logging.Logger, "isEnabledFor", counting)
    assert trace_module.debug_logging() is False
    asked.clear()
    assert trace_module.debug_logging() is False
    assert asked == []  # once logging has answered, every request reads its cache
    try:
        http11.setLevel(logging.DEBUG)
        assert trace_module.debug_logging() is True
        http11.disabled = True  # (logging.config does this without emptying the cache)
        assert trace_module.debug_logging() is False
        http11.disabled = False
        assert trace_module.debug_logging() is True
        logging.disable(logging.DEBUG)
        assert trace_module.debug_logging() is False
        logging.disable(logging.NOTSET)
        assert trace_module.debug_logging() is True
        http11.setLevel(logging.NOTSET)
        assert trace_module.debug_logging() is False
    finally:
        http11.setLevel(logging.NOTSET)
        http11.disabled = False
        logging.disable(logging.NOTSET)


def test_debug_logging_asks_a_logger_class_with_its_own_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [False]

    class Own(logging.Logger):
        def isEnabledFor(self, level: int) -> bool:
            return answers[-1]

    monkeypatch.setattr(trace_module, "LOGGER_PREFIX", "conch-test-own")
    manager = logging.Logger.manager
    monkeypatch.setattr(manager, "loggerClass", Own)
    assert trace_module.debug_logging() is False
    answers.append(True)  # no level changed: logging's cache would still say False
    assert trace_module.debug_logging() is True


# -- HTTP/2 ---------------------------------------------------------------------------------

H2_SENT = [
    "http2.send_request_headers.started",
    "http2.send_request_headers.complete",
    "http2.send_request_body.started",
    "http2.send_request_body.complete",
    "http2.receive_response_headers.started",
    "http2.receive_response_headers.complete",
    "http2.receive_response_body.started",
    "http2.receive_response_body.complete",
    "http2.response_closed.started",
    "http2.response_closed.complete",
]


def test_h2_streams_trace_httpcores_events() -> None:
    world = h2_world(http2_peer(lambda m, t, h, body: (200, [], body * 40_000)))
    events, trace = recorder()
    ext = {"trace": trace}
    # A body larger than the stream window: several reads while the body is read.
    assert world.get(method="POST", content=b"ab", extensions=ext) == (200, b"ab" * 40_000)
    assert names(events) == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "http2.send_connection_init.started",
        "http2.send_connection_init.complete",
        *H2_SENT,
    ]
    info = dict(events)
    request = info["http2.send_connection_init.started"]["request"]
    assert info["http2.send_request_headers.started"] == {"request": request, "stream_id": 1}
    assert info["http2.send_request_body.started"] == {"request": request, "stream_id": 1}
    status, _ = info["http2.receive_response_headers.complete"]["return_value"]
    assert status == 200
    assert info["http2.receive_response_body.started"] == {"request": request, "stream_id": 1}
    assert info["http2.response_closed.started"] == {"stream_id": 1}
    events.clear()
    assert world.get(extensions=ext)[0] == 200  # stream 3: no connection events
    assert names(events) == H2_SENT
    assert dict(events)["http2.send_request_headers.started"]["stream_id"] == 3
    world.assert_clean()


def test_h2_a_stream_that_waits_for_the_reader_and_a_read_timeout() -> None:
    world = h2_world(H2Script((2, ("reply", 1, b"second"))))
    events, trace = recorder()

    async def one(path: str, read: float) -> Any:
        ext = {"trace": trace, "timeout": {"read": read}}
        try:
            return await world.fetch(f"http://example.org{path}", extensions=ext)
        except ReadTimeout:
            return "timeout"

    async def main() -> list[Any]:
        return await world.loop.gather(one("/a", 1.0), one("/b", 5.0))

    assert world.run(main()) == ["timeout", (200, b"second")]
    failed = [info for name, info in events if name.endswith(".failed")]
    assert [name for name, _ in events if name.endswith(".failed")] == [
        "http2.receive_response_headers.failed"
    ]
    assert isinstance(failed[0]["exception"], ReadTimeout)
    world.assert_clean()


def test_h2_a_body_cut_short() -> None:
    world = h2_world(H2Script((1, ("head", 0), Delay(1), RESET)))
    events, trace = recorder()
    with pytest.raises((ReadError, WriteError)):  # (the reset seen by a read or a write)
        world.get(extensions={"trace": trace})
    assert names(events)[-2:] == [
        "http2.receive_response_body.started",
        "http2.receive_response_body.failed",
    ]
    world.assert_clean()
