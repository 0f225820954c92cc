"""A tunnel on an HTTP/2 stream (RFC 8441) through the shells: the response's
``network_stream`` after a 2xx to a request with the ``protocol`` extension
(`sync_io.tunnel`, `async_io.tunnel`), against an in-process h2 server over loopback,
from the sync client, asyncio and trio."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
import trio

import conch
from sansio.exceptions import ReadTimeout, WriteError, WriteTimeout

from .servers import Server

TUNNEL = {"extensions": {"protocol": "websocket"}}


class EchoServer:
    """Allows extended CONNECT; a tunnel gets 200 and its bytes echoed upper-cased (its
    end when the client ends its side), any other request 200 "plain". ``resets``: the
    streams the client reset. ``window``: the stream window it gives the client (10
    bytes: it then never reads a tunnel's bytes, and the window stays shut)."""

    def __init__(self, window: int | None = None) -> None:
        self.resets: list[int] = []
        self.window = window
        self.server = Server(self.handle)

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def handle(self, server: Server, conn: socket.socket, index: int) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        machine = h2.connection.H2Connection(config)
        codes = h2.settings.SettingCodes
        values = {codes.ENABLE_CONNECT_PROTOCOL: 1}
        if self.window is not None:
            values[codes.INITIAL_WINDOW_SIZE] = self.window
        machine.local_settings = h2.settings.Settings(client=False, initial_values=values)
        machine.initiate_connection()
        conn.sendall(machine.data_to_send())
        while data := conn.recv(65536):
            for event in machine.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    machine.send_headers(event.stream_id, [(b":status", b"200")])
                    if (b":protocol", b"websocket") not in (event.headers or ()):
                        machine.send_data(event.stream_id, b"plain", end_stream=True)
                elif isinstance(event, h2.events.DataReceived) and self.window is None:
                    sid = event.stream_id
                    machine.acknowledge_received_data(event.flow_controlled_length, sid)
                    if event.data:
                        machine.send_data(sid, event.data.upper())
                    if event.stream_ended is not None:
                        machine.end_stream(sid)
                elif isinstance(event, h2.events.StreamReset):
                    self.resets.append(event.stream_id)
            if out := machine.data_to_send():
                conn.sendall(out)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def echo() -> Any:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


def run_async(mode: str, fn: Callable[[], Any]) -> Any:
    return trio.run(fn) if mode == "trio" else asyncio.run(fn())


def test_a_tunnel_through_the_sync_client(echo: EchoServer) -> None:
    seen: list[Any] = []
    with conch.Client(http1=False, http2=True) as client:
        with client.stream("GET", echo.url("/chat"), **TUNNEL) as response:  # type: ignore[arg-type]
            stream = response.extensions["network_stream"]
            seen.append((response.status_code, response.http_version))
            # A read's own timeout takes nothing and leaves the tunnel open.
            with pytest.raises(ReadTimeout):
                stream.read(100, timeout=0.05)
            seen.append(client.get(echo.url()).text)  # beside the tunnel
            stream.write(b"hello")
            seen.append(stream.read(2, timeout=5))
            seen.append(stream.get_extra_info("is_readable"))  # the rest of the chunk
            seen.append(stream.read(100, timeout=5))
            seen.append(stream.get_extra_info("is_readable"))
            seen.append(stream.get_extra_info("server_addr") == echo.server.address)
            stream.close()
            stream.close()  # (again: nothing)
            seen.append(stream.read(100))
            with pytest.raises(WriteError, match="closed"):
                stream.write(b"late")
        seen.append(client.get(echo.url()).text)  # the connection serves on
    assert seen == [(200, "HTTP/2"), "plain", b"HE", True, b"LLO", False, True, b"", "plain"]
    assert echo.resets == [1]  # closed before either side ended: reset
    assert echo.server.accepted == 1


def test_closing_while_another_thread_reads(echo: EchoServer) -> None:
    # The read under way is not cut short: the tunnel is closed as it returns.
    errors: list[BaseException] = []
    with conch.Client(http1=False, http2=True) as client:
        with client.stream("GET", echo.url("/chat"), **TUNNEL) as response:  # type: ignore[arg-type]
            stream = response.extensions["network_stream"]
            reading = threading.Event()

            def reader() -> None:
                reading.set()
                try:
                    stream.read(100, timeout=0.2)
                except ReadTimeout as exc:
                    errors.append(exc)

            thread = threading.Thread(target=reader)
            thread.start()
            reading.wait(5)
            while not stream._busy:  # until it is in the read (a moment at most)
                threading.Event().wait(0.001)
            stream.close()
            assert echo.resets == []  # not yet: the reader closes it
            thread.join(5)
            assert stream.read(100) == b""
        assert client.get(echo.url()).text == "plain"
    assert [type(e) for e in errors] == [ReadTimeout]
    assert echo.resets == [1]


def test_closing_while_another_thread_waits_to_write() -> None:
    # The write waits for a window that stays shut until its write timeout; closing
    # meanwhile leaves the tunnel to it, and it resets the stream as it gives up.
    echo = EchoServer(window=10)
    errors: list[BaseException] = []
    try:
        timeout = conch.Timeout(5, write=0.2)
        with conch.Client(http1=False, http2=True, timeout=timeout) as client:
            with client.stream("GET", echo.url("/chat"), **TUNNEL) as response:  # type: ignore[arg-type]
                stream = response.extensions["network_stream"]

                def writer() -> None:
                    try:
                        stream.write(b"y" * 100)
                    except WriteTimeout as exc:
                        errors.append(exc)

                thread = threading.Thread(target=writer)
                thread.start()
                while not stream._busy:
                    threading.Event().wait(0.001)
                stream.close()
                thread.join(5)
                with pytest.raises(WriteError, match="closed"):
                    stream.write(b"late")
            assert client.get(echo.url()).text == "plain"
    finally:
        echo.close()
    assert [type(e) for e in errors] == [WriteTimeout]
    assert echo.resets == [1]


@pytest.mark.parametrize("mode", ["asyncio", "trio"])
def test_a_tunnel_through_the_async_client(echo: EchoServer, mode: str) -> None:
    seen: list[Any] = []

    async def main() -> None:
        async with conch.AsyncClient(http1=False, http2=True) as client:
            async with client.stream("GET", echo.url("/chat"), **TUNNEL) as response:  # type: ignore[arg-type]
                stream = response.extensions["network_stream"]
                seen.append((response.status_code, response.http_version))
                with pytest.raises(ReadTimeout):
                    await stream.read(100, timeout=0.05)
                seen.append((await client.get(echo.url())).text)
                await stream.write(b"hello")
                seen.append(await stream.read(2, timeout=5))
                seen.append(stream.get_extra_info("is_readable"))
                seen.append(await stream.read(100, timeout=5))
                await stream.aclose()
                await stream.aclose()
                seen.append(await stream.read(100))
                with pytest.raises(WriteError, match="closed"):
                    await stream.write(b"late")
            seen.append((await client.get(echo.url())).text)

    run_async(mode, main)
    assert seen == [(200, "HTTP/2"), "plain", b"HE", True, b"LLO", b"", "plain"]
    assert echo.resets == [1]
    assert echo.server.accepted == 1


@pytest.mark.parametrize("mode", ["asyncio", "trio"])
def test_closing_while_another_task_reads(echo: EchoServer, mode: str) -> None:
    errors: list[BaseException] = []

    async def main() -> None:
        async with conch.AsyncClient(http1=False, http2=True) as client:
            async with client.stream("GET", echo.url("/chat"), **TUNNEL) as response:  # type: ignore[arg-type]
                stream = response.extensions["network_stream"]

                async def reader() -> None:
                    try:
                        await stream.read(100, timeout=0.2)
                    except ReadTimeout as exc:
                        errors.append(exc)

                async def closer() -> None:
                    while not stream._busy:
                        await sleep(mode, 0.001)
                    await stream.aclose()
                    assert echo.resets == []

                await gather(mode, reader, closer)
                assert await stream.read(100) == b""
            assert (await client.get(echo.url())).text == "plain"

    run_async(mode, main)
    assert [type(e) for e in errors] == [ReadTimeout]
    assert echo.resets == [1]


async def sleep(mode: str, seconds: float) -> None:
    if mode == "trio":
        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


async def gather(mode: str, *fns: Callable[[], Any]) -> None:
    if mode == "trio":
        async with trio.open_nursery() as nursery:
            for fn in fns:
                nursery.start_soon(fn)
    else:
        await asyncio.gather(*(fn() for fn in fns))
