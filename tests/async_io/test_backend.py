"""The async backend on asyncio and on trio, against real loopback servers.

Every scenario runs under both libraries: the ``run`` fixture runs a coroutine function
with ``asyncio.run`` or ``trio.run`` (no pytest plugin needed).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sniffio
import trio  # type: ignore[import-untyped, unused-ignore]
import trio.lowlevel

from async_io import _asyncio, backend
from async_io.backend import AsyncStream, connect_tcp, connect_unix, create_event, create_lock
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from tests.sync_io.test_backend import (
    FAMILIES,
    Server,
    TLSFiles,
    _TunnelServer,
    answer_each_byte,
    closed_port,
    echo,
    full_backlog,
    greet_and_close,
    ipv6_available,
    on_request,
    replies,
    reset,
    self_signed_context,
    serve,
    short_dir,
    silent,
    sink,
    stall,
    tls_files,
)

__all__ = ["serve", "short_dir", "tls_files"]  # fixtures shared with the sync tests


class Runner:
    """Runs ``fn(*args)`` to completion under one async library."""

    def __init__(self, library: str) -> None:
        self.library = library

    def __call__(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        if self.library == "asyncio":
            return asyncio.run(fn(*args))  # type: ignore[arg-type]
        return trio.run(fn, *args)


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


async def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return True
        await backend.sleep(0.005)
    return condition()


async def read_exactly(stream: AsyncStream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await stream.recv(n - len(data), 2.0)
        assert chunk, "unexpected end of stream"
        data += chunk
    return data


# --------------------------------------------------------------------------- TCP


@pytest.mark.parametrize("family", FAMILIES)
def test_echo_over_tcp(run: Runner, serve: Callable[..., Server], family: int) -> None:
    server = serve(echo, family=family)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        try:
            await stream.send_all(b"ping", 2.0)
            assert await read_exactly(stream, 4) == b"ping"
            await stream.send_all(memoryview(b"pong!"), None)
            assert await stream.recv(100, None) == b"pong!"
            assert stream.get_extra_info("server_addr")[:2] == server.address[:2]
            assert stream.get_extra_info("client_addr")[0] == server.host
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert stream.get_extra_info("ssl_object") is None
            assert stream.get_extra_info("nonsense") is None
            assert stream.alpn_protocol is None
        finally:
            await stream.aclose()

    run(scenario)


def test_recv_returns_at_most_max_bytes_then_eof(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(greet_and_close)

    async def scenario() -> None:
        stream = await connect_tcp("localhost", server.port, timeout=2.0)
        data = b""
        while chunk := await stream.recv(2, 2.0):
            assert len(chunk) <= 2
            data += chunk
        assert data == b"hello"
        assert await stream.recv(10, 2.0) == b""  # EOF repeats
        await stream.aclose()
        await stream.aclose()  # idempotent

    run(scenario)


def test_recv_joins_buffered_chunks(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(replies(b"ab", b"cd", b"ef"))

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        for _ in range(3):
            await stream.send_all(b"?", 2.0)
            await backend.sleep(0.02)  # let each answer arrive on its own
        assert await wait_until(stream.is_readable)
        data = b""
        while chunk := await stream.recv(3, 2.0):
            assert len(chunk) <= 3
            data += chunk
        assert data == b"abcdef"
        await stream.aclose()

    run(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_connect_to_closed_port_is_connect_error(run: Runner, family: int) -> None:
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"

    async def scenario() -> None:
        with pytest.raises(ConnectError) as info:
            await connect_tcp(host, closed_port(family), timeout=2.0)
        assert isinstance(info.value.__cause__, ConnectionRefusedError)

    run(scenario)


def test_unknown_host_is_connect_error(run: Runner) -> None:
    async def scenario() -> None:
        with pytest.raises(ConnectError) as info:
            await connect_tcp("no-such-host.invalid", 80, timeout=2.0)
        assert isinstance(info.value.__cause__, socket.gaierror)

    run(scenario)


def test_connect_timeout(run: Runner) -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(ConnectTimeout):
            await connect_tcp("127.0.0.1", port, timeout=0.2)

    with full_backlog() as port:
        run(scenario, port)


def test_connect_cancelled_is_not_remapped(run: Runner) -> None:
    async def on_asyncio(port: int) -> None:
        with pytest.raises(TimeoutError):  # the caller's own timeout, not ConnectTimeout
            async with asyncio.timeout(0.1):
                await connect_tcp("127.0.0.1", port, timeout=None)

    async def on_trio(port: int) -> None:
        with trio.move_on_after(0.1) as scope:
            await connect_tcp("127.0.0.1", port, timeout=None)
        assert scope.cancelled_caught

    with full_backlog() as port:
        run(on_asyncio if run.library == "asyncio" else on_trio, port)


def test_local_address_and_socket_options(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(echo)

    async def scenario() -> None:
        options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        stream = await connect_tcp(
            server.host,
            server.port,
            timeout=2.0,
            local_address="127.0.0.1",
            socket_options=options,
        )
        assert stream.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        await stream.aclose()
        if ipv6_available():
            with pytest.raises(ConnectError):
                await connect_tcp("127.0.0.1", server.port, timeout=2.0, local_address="::1")
        with pytest.raises(ConnectError):
            await connect_tcp(server.host, server.port, timeout=2.0, socket_options=[(-1, -1, 1)])
        with pytest.raises(ConnectError):
            await connect_unix("/nonexistent", timeout=2.0, socket_options=[(-1, -1, 1)])

    run(scenario)


def test_read_timeout_when_server_never_answers(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(silent)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        with pytest.raises(ReadTimeout):
            await stream.recv(10, 0.1)
        for late in (0.0, -1.0):
            with pytest.raises(ReadTimeout):
                await stream.recv(10, late)
        assert not stream.is_readable()
        await stream.aclose()

    run(scenario)


def test_zero_timeout_still_returns_waiting_data(
    run: Runner, serve: Callable[..., Server], tls_files: TLSFiles
) -> None:
    plain = serve(replies(b"first", b"ready", b"unasked"))
    secure = serve(replies(b"first", b"ready", b"unasked"), tls=tls_files.server_context())

    async def scenario() -> None:
        for stream in (
            await connect_tcp(plain.host, plain.port, timeout=2.0),
            await tls_stream(secure, tls_files.client_context()),
        ):
            # One exchange first, as a pooled connection has had (see TrioStream.is_readable).
            await stream.send_all(b"?", 2.0)
            assert await read_exactly(stream, 5) == b"first"
            await stream.send_all(b"?", 2.0)
            assert await wait_until(stream.is_readable)
            assert await stream.recv(10, 0) == b"ready"
            with pytest.raises(ReadTimeout):
                await stream.recv(10, 0)
            await stream.aclose()

    run(scenario)


def test_write_timeout_and_large_writes(run: Runner, serve: Callable[..., Server]) -> None:
    stalled = serve(stall)
    counting = serve(sink)

    async def scenario() -> None:
        stream = await connect_tcp(stalled.host, stalled.port, timeout=2.0)
        with pytest.raises(WriteTimeout):
            await stream.send_all(b"x" * (32 << 20), 0.2)
        await stream.aclose()

        stream = await connect_tcp(counting.host, counting.port, timeout=2.0)
        for _ in range(8):
            await stream.send_all(b"x" * (1 << 20), 5.0)
        stream.get_extra_info("socket").shutdown(socket.SHUT_WR)
        assert await stream.recv(100, 5.0) == str(8 << 20).encode()
        await stream.aclose()

    run(scenario)


def test_write_now_writes_what_needs_no_wait(run: Runner, serve: Callable[..., Server]) -> None:
    """asyncio: a head-sized write into an empty buffer goes out at once; a larger one,
    or one behind bytes still buffered, is left to send_all. trio: always send_all (its
    cancellation point comes before the first byte). A closed stream writes nothing."""
    server = serve(sink)
    stalled = serve(stall)

    async def scenario() -> None:
        on_asyncio = sniffio.current_async_library() == "asyncio"
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        assert stream.write_now(b"x" * 100) == (100 if on_asyncio else 0)
        assert stream.write_now(b"x" * (_asyncio.WRITE_NOW_MAX + 1)) == 0
        sent = 100 if on_asyncio else 0
        await stream.send_all(b"y" * (1000 - sent), 2.0)
        stream.get_extra_info("socket").shutdown(socket.SHUT_WR)
        assert await stream.recv(100, 5.0) == b"1000"  # every byte, once
        await stream.aclose()
        assert stream.write_now(b"x") == 0

        stream = await connect_tcp(stalled.host, stalled.port, timeout=2.0)
        with pytest.raises(WriteTimeout):
            await stream.send_all(b"x" * (32 << 20), 0.2)
        assert stream.write_now(b"x") == 0  # bytes still buffered: send_all waits
        await stream.aclose()

    run(scenario)


def test_write_now_fails_as_send_all_on_a_reset_connection(
    run: Runner, serve: Callable[..., Server]
) -> None:
    """A reset the loop has not seen yet fails the write itself (WriteError); once the
    stream knows, write_now writes nothing and send_all fails."""
    server = serve(reset)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        await stream.send_all(b"!", 2.0)
        # Wait for the reset without running the loop: the transport has not seen it.
        assert select.select([stream.get_extra_info("socket")], [], [], 5.0)[0]
        if sniffio.current_async_library() == "asyncio":
            with pytest.raises(WriteError):
                stream.write_now(b"x")
        assert await wait_until(stream.is_readable)
        assert stream.write_now(b"x") == 0
        with pytest.raises(WriteError):
            await send_until_error(stream)
        await stream.aclose()

    run(scenario)


async def send_until_error(stream: AsyncStream) -> None:
    for _ in range(100):
        await stream.send_all(b"x" * 65536, 2.0)


def test_peer_reset_gives_read_and_write_errors(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(reset)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        await stream.send_all(b"!", 2.0)
        assert await wait_until(stream.is_readable)
        with pytest.raises(WriteError):
            await send_until_error(stream)
        await stream.aclose()

        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        await stream.send_all(b"!", 2.0)
        assert await wait_until(stream.is_readable)
        with pytest.raises(ReadError):
            await stream.recv(10, 2.0)
        await stream.aclose()

    run(scenario)


def test_closed_stream_fails_cleanly(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(echo)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        await stream.aclose()
        await stream.aclose()
        assert stream.is_readable()
        with pytest.raises(ReadError):
            await stream.recv(1, 1.0)
        with pytest.raises(WriteError):
            await stream.send_all(b"x", 1.0)

    run(scenario)


def test_is_readable_idle_data_and_eof(run: Runner, serve: Callable[..., Server]) -> None:
    talking = serve(on_request(b"unasked"))
    closing = serve(greet_and_close)

    async def scenario() -> None:
        stream = await connect_tcp(talking.host, talking.port, timeout=2.0)
        assert not stream.is_readable()
        assert stream.get_extra_info("is_readable") is False
        await stream.send_all(b"!", 2.0)
        assert await wait_until(stream.is_readable)
        assert await read_exactly(stream, 7) == b"unasked"
        assert not stream.is_readable()
        await stream.aclose()

        stream = await connect_tcp(closing.host, closing.port, timeout=2.0)
        assert await wait_until(stream.is_readable)
        assert await read_exactly(stream, 5) == b"hello"
        assert await wait_until(stream.is_readable)  # EOF counts
        assert await stream.recv(10, 2.0) == b""
        await stream.aclose()

    run(scenario)


def test_unix_socket(run: Runner, serve: Callable[..., Server], short_dir: str) -> None:
    path = os.path.join(short_dir, "s")
    serve(echo, family=socket.AF_UNIX, path=path)

    async def scenario() -> None:
        stream = await backend.connect_unix(path, timeout=2.0)
        await stream.send_all(b"over unix", 2.0)
        assert await read_exactly(stream, 9) == b"over unix"
        assert stream.get_extra_info("server_addr") == path
        await stream.aclose()
        with pytest.raises(ConnectError):
            await backend.connect_unix(os.path.join(short_dir, "missing"), timeout=2.0)

    run(scenario)


# --------------------------------------------------------------------------- cancellation


def test_cancelled_recv_leaves_stream_closable(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(silent)

    async def on_asyncio() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        task = asyncio.ensure_future(stream.recv(10, None))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The caller's own timeout surfaces as itself, not as ReadTimeout.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await stream.recv(10, 5.0)
        await stream.aclose()
        assert stream.is_readable()
        with pytest.raises(ReadError):
            await stream.recv(1, 1.0)

    async def on_trio() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        with trio.move_on_after(0.05) as scope:
            await stream.recv(10, 5.0)
        assert scope.cancelled_caught
        with trio.CancelScope() as scope:
            scope.cancel()
            await stream.aclose()  # not a checkpoint: it closes even in a cancelled scope
            assert stream.is_readable()
            await trio.lowlevel.checkpoint()  # the cancellation is still delivered
            raise AssertionError("not cancelled")  # pragma: no cover
        assert scope.cancelled_caught
        with pytest.raises(ReadError):
            await stream.recv(1, 1.0)

    run(on_asyncio if run.library == "asyncio" else on_trio)


def test_cancelled_recv_wakes_on_close(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(silent)

    async def on_asyncio() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        task = asyncio.ensure_future(stream.recv(10, None))
        await asyncio.sleep(0.02)
        await stream.aclose()
        with pytest.raises(ReadError):
            await task

    async def on_trio() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        failures: list[BaseException] = []

        async def reader() -> None:
            try:
                await stream.recv(10, None)
            except ReadError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.sleep(0.02)
            await stream.aclose()
        assert len(failures) == 1

    run(on_asyncio if run.library == "asyncio" else on_trio)


# --------------------------------------------------------------------------- TLS


async def tls_stream(
    server: Server, ctx: ssl.SSLContext, hostname: str | None = "localhost", timeout: float = 2.0
) -> AsyncStream:
    stream = await connect_tcp(server.host, server.port, timeout=timeout)
    return await stream.start_tls(ctx, hostname, timeout)


@pytest.mark.parametrize("family", FAMILIES)
def test_tls_verified_and_alpn(
    run: Runner, serve: Callable[..., Server], tls_files: TLSFiles, family: int
) -> None:
    server = serve(echo, family=family, tls=tls_files.server_context(alpn=["h2", "http/1.1"]))

    async def scenario() -> None:
        for offer, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
            ctx = tls_files.client_context()
            ctx.set_alpn_protocols(offer)
            stream = await tls_stream(server, ctx)
            assert stream.alpn_protocol == chosen
            await stream.send_all(b"secret", 2.0)
            assert await read_exactly(stream, 6) == b"secret"
            ssl_object = stream.get_extra_info("ssl_object")
            assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
            assert ssl_object.getpeercert()["subjectAltName"]
            assert stream.get_extra_info("server_addr")[:2] == server.address[:2]
            await stream.aclose()
        stream = await tls_stream(server, tls_files.client_context())
        assert stream.alpn_protocol is None
        await stream.aclose()

    run(scenario)


def test_tls_failures_are_connect_errors(
    run: Runner, serve: Callable[..., Server], tls_files: TLSFiles, tmp_path: Path
) -> None:
    trusted = serve(echo, tls=tls_files.server_context())
    self_signed = serve(echo, tls=self_signed_context(tmp_path))
    plain = serve(greet_and_close)

    async def scenario() -> None:
        with pytest.raises(ConnectError) as info:
            await tls_stream(trusted, tls_files.client_context(), hostname="example.org")
        assert isinstance(
            info.value.__cause__, ssl.SSLCertVerificationError | trio.BrokenResourceError
        )
        with pytest.raises(ConnectError):
            await tls_stream(self_signed, ssl.create_default_context())
        with pytest.raises(ConnectError):
            await tls_stream(plain, ssl.create_default_context())
        early = await connect_tcp(plain.host, plain.port, timeout=2.0)
        assert await wait_until(early.is_readable)  # "hello" came before any ClientHello
        with pytest.raises(ConnectError):
            await early.start_tls(ssl.create_default_context(), "localhost", 2.0)
        assert early.is_readable()  # closed
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        stream = await tls_stream(self_signed, unverified, hostname=None)
        await stream.send_all(b"anyone", 2.0)
        assert await read_exactly(stream, 6) == b"anyone"
        await stream.aclose()

    run(scenario)


def test_tls_handshake_timeout_and_cancellation(run: Runner, serve: Callable[..., Server]) -> None:
    server = serve(silent)  # never answers the ClientHello

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        with pytest.raises(ConnectTimeout):
            await stream.start_tls(ssl.create_default_context(), "localhost", 0.1)
        assert stream.is_readable()  # closed on failure
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        if run.library == "asyncio":
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await stream.start_tls(ssl.create_default_context(), "localhost", None)
        else:
            with trio.move_on_after(0.1) as scope:
                await stream.start_tls(ssl.create_default_context(), "localhost", None)
            assert scope.cancelled_caught
        assert stream.is_readable()

    run(scenario)


def test_tls_is_readable(run: Runner, serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    server = serve(answer_each_byte, tls=tls_files.server_context())

    async def scenario() -> None:
        stream = await tls_stream(server, tls_files.client_context())
        await backend.sleep(0.05)  # TLS 1.3 session tickets arrive: bytes, but no data
        if run.library == "asyncio":
            assert not stream.is_readable()  # the loop has read and dropped them
        await stream.send_all(b"?", 2.0)
        assert await wait_until(stream.is_readable)
        assert await read_exactly(stream, 10) == b"x" * 10
        assert not stream.is_readable()  # idle after a response: the case the pool checks
        await stream.send_all(b"?", 2.0)
        assert await read_exactly(stream, 5) == b"x" * 5
        assert stream.is_readable()  # decrypted and waiting
        assert await read_exactly(stream, 5) == b"x" * 5
        await stream.send_all(b"!", 2.0)  # the server closes
        assert await wait_until(stream.is_readable)
        assert await stream.recv(10, 2.0) == b""
        await stream.aclose()

    run(scenario)


def test_tls_inside_tls(run: Runner, serve: Callable[..., Server], tls_files: TLSFiles) -> None:
    handler = _TunnelServer(tls_files.server_context(), tls_files.server_context(alpn=["h2"]))
    server = serve(handler, tls=tls_files.server_context())

    async def scenario() -> None:
        outer = await tls_stream(server, tls_files.client_context())
        inner_ctx = tls_files.client_context()
        inner_ctx.set_alpn_protocols(["h2"])
        inner = await outer.start_tls(inner_ctx, "localhost", 2.0)
        assert inner.alpn_protocol == "h2"
        await inner.send_all(b"tunnelled " * 1000, 2.0)
        assert await read_exactly(inner, 10000) == b"TUNNELLED " * 1000
        await inner.aclose()

    run(scenario)


# --------------------------------------------------------------------------- asyncio buffer


def test_asyncio_read_buffer_limit(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_asyncio, "READ_BUFFER_LIMIT", 1000)
    server = serve(replies(b"x" * 1000, b"y", b"z"))

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        assert isinstance(stream, _asyncio.AsyncioStream)
        transport = stream._transport
        await stream.send_all(b"?", 2.0)
        assert await wait_until(lambda: stream._protocol._size == 1000)
        assert transport.is_reading()  # at the limit: still reading
        await stream.send_all(b"?", 2.0)
        assert await wait_until(lambda: stream._protocol._size == 1001)
        assert not transport.is_reading()  # one past: paused
        assert await stream.recv(1, 2.0) == b"x"
        assert transport.is_reading()  # drained back to the limit: resumed
        await stream.send_all(b"?", 2.0)
        data = b""
        while chunk := await stream.recv(400, 2.0):
            data += chunk
        assert data == b"x" * 999 + b"yz"
        await stream.aclose()

    asyncio.run(scenario())


def test_asyncio_reads_share_one_lazy_timer(serve: Callable[..., Server]) -> None:
    server = serve(replies(*[b"x"] * 30))

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        armed = 0
        call_at = loop.call_at

        def counting_call_at(*args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            nonlocal armed
            armed += 1
            return call_at(*args, **kwargs)

        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        loop.call_at = counting_call_at  # type: ignore[method-assign]
        for _ in range(30):
            await stream.send_all(b"?", 5.0)
            assert await stream.recv(10, 5.0) == b"x"
        assert armed == 1  # one timer for 30 reads with the same timeout
        await stream.aclose()

    asyncio.run(scenario())


def test_asyncio_lazy_read_timer_keeps_each_reads_deadline(serve: Callable[..., Server]) -> None:
    server = serve(replies(b"a", b"b", b"c", b"d", b"e", b"f", b"never asked"))

    async def ask() -> None:
        await stream.send_all(b"?", 2.0)

    async def scenario() -> None:
        nonlocal stream
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        async with asyncio.timeout(10):  # a read left waiting for a stale timer fails here
            # The timer armed for a short deadline fires while the next read waits,
            # longer or without a timeout: neither times out then.
            for timeout in (5.0, None):
                await ask()
                assert await stream.recv(10, 0.05) in (b"a", b"c")
                waiting = asyncio.ensure_future(stream.recv(10, timeout))
                await asyncio.sleep(0.2)
                assert not waiting.done()
                await ask()
                assert await waiting in (b"b", b"d")
            # A timer that fires with no read waiting lapses; the next read arms another.
            await ask()
            assert await stream.recv(10, 0.05) == b"e"
            await asyncio.sleep(0.2)
            await ask()
            assert await stream.recv(10, 0.05) == b"f"
            # A deadline earlier than the armed timer's is kept, not put off to it.
            with pytest.raises(ReadTimeout):
                await stream.recv(10, 0.01)
            with pytest.raises(ReadTimeout):
                await stream.recv(10, 0.01)
        await stream.aclose()

    stream: AsyncStream
    asyncio.run(scenario())


# --------------------------------------------------------------------------- lock, event, sleep


def test_lock_and_event_made_outside_any_loop(run: Runner) -> None:
    lock = create_lock()
    event = create_event()
    early = create_event()
    early.set()  # no loop yet: remembered

    async def scenario() -> None:
        async with lock:
            pass
        await lock.acquire()
        lock.release()
        assert not event.is_set()
        assert not await event.wait(0.01)
        assert not await event.wait(-1)
        event.set()
        assert event.is_set()
        assert await event.wait(None)
        assert await event.wait(0)
        assert await early.wait(0)
        late = create_event()
        assert not await late.wait(0)
        late.set()
        assert await late.wait(None)
        waiting = create_event()
        waiting.set()
        assert await waiting.wait(None)
        await backend.sleep(0)

    run(scenario)


def test_event_wakes_a_waiter(run: Runner) -> None:
    async def on_asyncio() -> None:
        event = create_event()
        waiter = asyncio.ensure_future(event.wait(2.0))
        await asyncio.sleep(0.01)
        event.set()
        assert await waiter

    async def on_trio() -> None:
        event = create_event()
        results: list[bool] = []

        async def waiter() -> None:
            results.append(await event.wait(2.0))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.sleep(0.01)
            event.set()
        assert results == [True]

    run(on_asyncio if run.library == "asyncio" else on_trio)


def test_unknown_async_library_is_refused() -> None:
    token = sniffio.current_async_library_cvar.set("curio")
    try:
        with pytest.raises(RuntimeError, match="curio"):
            asyncio.run(backend.sleep(0))
    finally:
        sniffio.current_async_library_cvar.reset(token)


# --------------------------------------------------------------------------- trio sends


class _Steps(trio.abc.Instrument):  # type: ignore[misc, unused-ignore]
    """Counts the times ``task`` gives control back to trio's scheduler."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.count = 0

    def after_task_step(self, task: Any) -> None:
        if task is self.task:
            self.count += 1


@pytest.mark.parametrize("timeout", [2.0, None], ids=["timeout", "no-timeout"])
def test_trio_send_that_fits_does_not_yield(
    serve: Callable[..., Server], timeout: float | None
) -> None:
    """Over plain TCP a send the socket takes at once never passes through trio's
    scheduler (one wake-up less per request); one that must wait still does, and the
    peer gets every byte in order."""
    server = serve(late_digest)
    payload = bytes(range(256)) * (BIG // 256)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        steps = _Steps(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(steps)
        try:
            await stream.send_all(b"", timeout)
            await stream.send_all(payload[:1000], timeout)
            assert steps.count == 0
            await stream.send_all(payload[1000:], timeout)  # more than the socket holds
            assert steps.count > 0
        finally:
            trio.lowlevel.remove_instrument(steps)
        await stream.send_all(TAIL, timeout)
        expected = hashlib.sha256(payload + TAIL).digest()
        assert await read_exactly(stream, len(expected)) == expected
        await stream.aclose()

    trio.run(scenario)


BIG = 16 << 20  # more than loopback's socket buffers hold: the send waits for the peer
TAIL = b"and then some"


def late_digest(conn: socket.socket) -> None:
    """Starts reading after a pause, reads BIG + len(TAIL) bytes, answers their sha256."""
    time.sleep(0.3)
    digest, left = hashlib.sha256(), BIG + len(TAIL)
    while left and (data := conn.recv(min(left, 1 << 20))):
        digest.update(data)
        left -= len(data)
    conn.sendall(digest.digest())


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_trio_send_cancelled_midway_completes(
    serve: Callable[..., Server], tls_files: TLSFiles, tls: bool
) -> None:
    """A cancellation landing inside a timed send waits for it: the peer gets every byte,
    the cancellation arrives at the caller's next checkpoint, and the stream stays usable
    (for a connection shared by HTTP/2 streams). A send cancelled before it starts sends
    nothing."""
    server = serve(late_digest, tls=tls_files.server_context() if tls else None)
    payload = bytes(range(256)) * (BIG // 256)

    async def scenario() -> None:
        if tls:
            stream = await tls_stream(server, tls_files.client_context())
        else:
            stream = await connect_tcp(server.host, server.port, timeout=2.0)
        with trio.CancelScope() as early:
            early.cancel()
            await stream.send_all(b"never sent", 5.0)
        assert early.cancelled_caught
        sent_after: float | None = None
        with trio.move_on_after(0.05) as scope:
            await stream.send_all(payload, 5.0)
            sent_after = trio.current_time()
            await trio.lowlevel.checkpoint()
        assert scope.cancelled_caught
        assert sent_after is not None
        assert sent_after > scope.deadline  # the cancellation landed midway
        await stream.send_all(TAIL, 5.0)
        expected = hashlib.sha256(payload + TAIL).digest()
        assert await read_exactly(stream, len(expected)) == expected
        await stream.aclose()

    trio.run(scenario)


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_trio_send_to_a_stalled_peer_still_times_out(
    serve: Callable[..., Server], tls_files: TLSFiles, tls: bool
) -> None:
    """Shielding a send from the caller's cancellation keeps the write timeout: a peer that
    never reads gives WriteTimeout after about the timeout, cancelled meanwhile or not.
    Without a timeout the send stays cancellable."""
    server = serve(stall, tls=tls_files.server_context() if tls else None)

    async def open_stream() -> AsyncStream:
        if tls:
            return await tls_stream(server, tls_files.client_context())
        return await connect_tcp(server.host, server.port, timeout=2.0)

    async def scenario() -> None:
        stream = await open_stream()
        start = trio.current_time()
        with pytest.raises(WriteTimeout):
            await stream.send_all(b"x" * (32 << 20), 0.2)
        assert 0.15 < trio.current_time() - start < 1.0
        await stream.aclose()

        stream = await open_stream()
        start = trio.current_time()
        with trio.move_on_after(0.05), pytest.raises(WriteTimeout):
            await stream.send_all(b"x" * (32 << 20), 0.3)
        assert 0.25 < trio.current_time() - start < 1.0
        await stream.aclose()

        stream = await open_stream()
        with trio.move_on_after(0.1) as scope:
            await stream.send_all(b"x" * (32 << 20), None)
        assert scope.cancelled_caught
        await stream.aclose()

    trio.run(scenario)


@pytest.mark.parametrize("timeout", [2.0, None], ids=["timeout", "no-timeout"])
def test_trio_recv_on_tcp_keeps_trios_checkpoints(
    serve: Callable[..., Server], timeout: float | None
) -> None:
    """Over plain TCP a read goes to the socket itself, not through trio's stream and
    socket layers, and keeps their checkpoints: a read cancelled before it starts takes
    nothing, and a read passes through the scheduler whether its bytes were there
    already or had to be waited for."""
    server = serve(echo)

    async def scenario() -> None:
        stream = await connect_tcp(server.host, server.port, timeout=2.0)
        steps = _Steps(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(steps)
        try:
            await stream.send_all(b"ping", timeout)
            assert await wait_until(stream.is_readable)
            with trio.CancelScope() as scope:
                scope.cancel()
                await stream.recv(10, timeout)
            assert scope.cancelled_caught
            before = steps.count
            assert await stream.recv(10, timeout) == b"ping"  # there already
            assert steps.count > before
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream.send_all, b"pong", timeout)
                before = steps.count
                assert await stream.recv(10, timeout) == b"pong"  # waited for
            assert steps.count > before
        finally:
            trio.lowlevel.remove_instrument(steps)
        await stream.aclose()

    trio.run(scenario)


def test_trio_recv_waits_again_after_a_spurious_wakeup() -> None:
    """Readable, yet the read would block (another reader took the bytes): it waits
    again rather than failing or returning nothing."""
    from async_io._trio import _recv_when_readable

    left, right = socket.socketpair()

    class Spurious:
        """``left``, whose first read after a wake-up finds nothing."""

        def __init__(self) -> None:
            self.reads = 0

        def fileno(self) -> int:
            return left.fileno()

        def recv(self, max_bytes: int) -> bytes:
            self.reads += 1
            if self.reads == 1:
                raise BlockingIOError
            return left.recv(max_bytes)

    async def scenario() -> None:
        raw = Spurious()
        right.send(b"data")
        assert await _recv_when_readable(raw, 10) == b"data"  # type: ignore[arg-type]
        assert raw.reads == 2

    left.setblocking(False)
    try:
        trio.run(scenario)
    finally:
        left.close()
        right.close()
