"""`AsyncHTTPTransport` and `AsyncClient` against real loopback servers, each test run
under asyncio and under trio (no pytest plugin: the `run` fixture starts the loop).

The servers are the threaded ones of tests/servers.py, so the event loop under test is
never slowed by the server. Cancellation storms check that no pool slot leaks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import ssl
import sys
import time
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any, cast

import pytest
import sniffio
import trio

from async_io import AsyncClient, AsyncHTTPTransport
from async_io._asyncio import AsyncioStream
from async_io._trio import TrioStream
from async_io.backend import AsyncStream, sleep
from sansio.config import Limits, Timeout
from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import MAX_RECEIVE_SIZE, RECEIVE_SIZE
from sansio.models import Request
from sansio.pool import PoolStatistics
from tests.servers import (
    CLIENT_NAME,
    CLOSE,
    HOLD,
    MALFORMED,
    READ,
    READ_HEAD,
    RESET,
    SHUT_WR,
    STALL,
    TLS,
    Server,
    client_cert_handler,
    default_app,
    http_handler,
    mutual_tls,
    needs_ipv6,
    response,
    scripted,
    short_tempdir,
    tls_contexts,
)

SHORT = 0.2  # seconds: every timeout these tests wait for

Serve = Callable[..., Server]
Run = Callable[[Callable[[], Awaitable[None]]], None]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    """Runs an async test body on the parametrised library."""
    if request.param == "asyncio":
        return lambda main: asyncio.run(main())  # type: ignore[arg-type]
    return lambda main: trio.run(main)


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[Server] = []

    def start(handler: Any = None, **kwargs: Any) -> Server:
        server = Server(handler or http_handler(default_app), **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def tls() -> TLS:
    return tls_contexts()


def pool_of(client: AsyncClient) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, AsyncHTTPTransport)
    return transport._engine.statistics()


def assert_no_leaks(client: AsyncClient) -> None:
    stats = pool_of(client)
    assert (stats.connecting, stats.active, stats.waiters) == (0, 0, 0), stats


def generator(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """``Response.aiter_*`` are generators (typed as iterators): close them, or trio warns."""
    return cast(AsyncGenerator[bytes, None], chunks)


async def gather(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``calls`` concurrently on whichever library runs us; results in order."""
    if sniffio.current_async_library() == "asyncio":
        return list(await asyncio.gather(*(call() for call in calls)))
    results: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        results[i] = await calls[i]()

    async with trio.open_nursery() as nursery:
        for i in range(len(calls)):
            nursery.start_soon(one, i)
    return results


# --------------------------------------------------------------------------- the basics


def test_get_and_post(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient() as client:
            r = await client.get(server.url("/"))
            assert (r.status_code, r.text, r.http_version) == (200, "Hello, world!", "HTTP/1.1")
            assert r.reason_phrase == "OK"
            r = await client.post(server.url("/echo"), content=b"payload")
            assert (r.content, r.headers["x-method"]) == (b"payload", "POST")
            r = await client.put(server.url("/echo"), json={"a": 1})
            assert r.json() == {"a": 1}

    run(main)
    assert server.accepted == 1


def test_connection_reuse_is_counted_by_the_server(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient() as client:
            bodies = [(await client.get(server.url("/conn"))).text for _ in range(5)]
            assert bodies == ["0"] * 5
            assert pool_of(client).idle == 1

    run(main)
    assert server.accepted == 1


def test_tls(run: Run, serve: Serve, tls: TLS) -> None:
    server = serve(tls=tls.server)

    async def main() -> None:
        async with AsyncClient(verify=tls.client) as client:
            for _ in range(3):
                r = await client.get(server.url("/conn", scheme="https", host="localhost"))
                assert (r.status_code, r.text) == (200, "0")
            assert r.extensions["network_stream"].get_extra_info("ssl_object") is not None
            r = await client.post(server.url("/echo", scheme="https"), content=b"tls")
            assert r.content == b"tls"

    run(main)
    assert server.accepted == 2


@pytest.mark.filterwarnings("ignore:`cert=...` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("form", ["file", "pair"])
def test_client_certificate_with_a_given_context(
    run: Run, serve: Serve, tmp_path: Path, form: str
) -> None:
    # httpx 0.28 loads cert= into a verify=<SSLContext>: it must never be dropped.
    mtls = mutual_tls(str(tmp_path))
    server = serve(client_cert_handler(), tls=mtls.server)
    url = server.url(scheme="https", host="localhost")
    cert = mtls.cert_file if form == "file" else mtls.cert_pair

    async def main() -> None:
        async with AsyncClient(verify=mtls.client, cert=cert) as client:
            assert (await client.get(url)).status_code == 200
            assert (await client.get(url)).status_code == 200

    run(main)
    assert server.requests == [CLIENT_NAME.encode()]  # one connection, with the certificate


def test_a_server_requiring_a_client_certificate_refuses_one_without(
    run: Run, serve: Serve, tmp_path: Path
) -> None:
    mtls = mutual_tls(str(tmp_path))
    server = serve(client_cert_handler(), tls=mtls.server)

    async def main() -> None:
        async with AsyncClient(verify=mtls.client) as client:
            # TLS 1.3: the refusal comes on the first read (see the sync twin of this test).
            with pytest.raises(TransportError):
                await client.get(server.url(scheme="https", host="localhost"))

    run(main)
    assert server.requests == []


@pytest.mark.filterwarnings("ignore:`cert=...` is deprecated:DeprecationWarning")
def test_a_given_context_gets_the_certificate_when_the_client_is_built(
    run: Run, serve: Serve, tmp_path: Path
) -> None:
    mtls = mutual_tls(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        AsyncClient(verify=mtls.client, cert=str(tmp_path / "missing.pem"))
    with pytest.raises(ssl.SSLError):
        AsyncClient(verify=mtls.client, cert=mtls.cert_pair[1])  # a key, no certificate
    server = serve(client_cert_handler(), tls=mtls.server)
    AsyncClient(verify=mtls.client, cert=mtls.cert_file)

    async def main() -> None:
        async with AsyncClient(verify=mtls.client) as client:
            assert (
                await client.get(server.url(scheme="https", host="localhost"))
            ).status_code == 200

    run(main)
    assert server.requests == [CLIENT_NAME.encode()]


def test_tls_fails_closed_without_the_ca(run: Run, serve: Serve) -> None:
    server = serve(tls=tls_contexts().server)

    async def main() -> None:
        async with AsyncClient() as client:
            with pytest.raises(ConnectError):
                await client.get(server.url(scheme="https"))
            assert pool_of(client).connections == 0

    run(main)


def test_unsupported_urls(run: Run) -> None:
    async def main() -> None:
        async with AsyncClient() as client:
            with pytest.raises(UnsupportedProtocol):
                await client.get("ftp://example.com/")
        with pytest.raises(UnsupportedProtocol):
            await AsyncHTTPTransport().handle_async_request(Request("GET", "http:///x"))

    run(main)


def test_connect_refused_with_retries(run: Run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        async with AsyncClient(transport=AsyncHTTPTransport(retries=1)) as client:
            with pytest.raises(ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")
            assert pool_of(client).connections == 0

    run(main)


# --------------------------------------------------------------------------- framing


@pytest.mark.parametrize("reply", MALFORMED)
def test_malformed_responses_are_errors(run: Run, serve: Serve, reply: bytes) -> None:
    third = max(len(reply) // 3, 1)
    server = serve(
        scripted([READ, reply[:third], 0.01, reply[third : 2 * third], 0.01, reply[2 * third :]])
    )

    async def main() -> None:
        async with AsyncClient() as client:
            with pytest.raises(RemoteProtocolError):
                await client.get(server.url())
            assert_no_leaks(client)
            assert pool_of(client).idle == 0

    run(main)


def test_truncated_body_while_streaming(run: Run, serve: Serve) -> None:
    server = serve(scripted([READ, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", CLOSE]))

    async def main() -> None:
        async with AsyncClient() as client:
            async with (
                client.stream("GET", server.url()) as r,
                aclosing(generator(r.aiter_raw())) as chunks,
            ):
                assert await anext(chunks) == b"12345"
                with pytest.raises(RemoteProtocolError):
                    await anext(chunks)
            assert_no_leaks(client)
            assert pool_of(client).connections == 0

    run(main)


def test_informational_head_204_304_and_close_delimited(run: Run, serve: Serve) -> None:
    server = serve(
        scripted(
            [
                READ,
                b"HTTP/1.1 100 Continue\r\n\r\n",
                0.01,
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + response(b"final"),
                READ,
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
                READ,
                b"HTTP/1.1 204 No Content\r\n\r\n",
                READ,
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
                READ,
                b"HTTP/1.1 200 OK\r\n\r\nall of ",
                0.01,
                b"it",
                CLOSE,
            ],
            [READ, response(b"fresh"), HOLD],
        )
    )

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(server.url())).content == b"final"
            r = await client.head(server.url())
            assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "1000")
            assert (await client.get(server.url())).status_code == 204
            assert (await client.get(server.url())).status_code == 304
            assert (await client.get(server.url())).content == b"all of it"
            assert (await client.get(server.url())).content == b"fresh"
            assert_no_leaks(client)

    run(main)
    assert server.accepted == 2


def test_connection_close_is_honoured(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient() as client:
            for _ in range(3):
                assert (await client.get(server.url("/close"))).text == "bye"
            assert pool_of(client).connections == 0

    run(main)
    assert server.accepted == 3


def split_or_not(data: bytes, pause: float) -> list[Any]:
    """The smuggled response in the same write, or after a pause (the connection idle).
    Bytes that come only after the next request went out cannot be told from its
    response by any client; the test waits until they have arrived."""
    if not pause:
        return [data]
    cut = data.index(b"HTTP/1.1", 1)
    return [data[:cut], pause, data[cut:]]


@pytest.mark.parametrize("pause", [0.0, 0.05], ids=["same-write", "while-idle"])
def test_bytes_after_a_response_are_never_the_next_response(
    run: Run, serve: Serve, pause: float
) -> None:
    server = serve(
        scripted(
            [READ, *split_or_not(response(b"one") + response(b"evil"), pause), HOLD],
            [READ, response(b"two"), HOLD],
        )
    )

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(server.url())).content == b"one"
            await sleep(pause * 2)
            assert (await client.get(server.url())).content == b"two"

    run(main)
    assert server.accepted == 2


def test_idle_connection_closed_by_the_server(run: Run, serve: Serve) -> None:
    server = serve(scripted([READ, response(b"hi"), CLOSE]))

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(server.url())).content == b"hi"
            await sleep(0.05)
            assert (await client.post(server.url(), content=b"x")).content == b"hi"
            assert_no_leaks(client)

    run(main)
    assert server.accepted == 2


@pytest.mark.parametrize("ending", [CLOSE, RESET], ids=["fin", "rst"])
def test_keepalive_race(run: Run, serve: Serve, ending: Any) -> None:
    # The server drops a kept-alive connection when the next request arrives: a GET is
    # sent once more on a new connection, a POST is never replayed.
    server = serve(
        scripted(
            [READ, response(b"first"), READ, ending],
            [READ, response(b"second"), READ, ending],
            [READ, response(b"third"), HOLD],
        )
    )

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(server.url())).content == b"first"
            assert (await client.get(server.url())).content == b"second"
            assert server.accepted == 2
            with pytest.raises((RemoteProtocolError, ReadError)):
                await client.post(server.url(), content=b"once")
            await sleep(0.05)
            assert server.accepted == 2
            assert_no_leaks(client)
            assert (await client.get(server.url())).content == b"third"

    run(main)


# --------------------------------------------------------------------------- timeouts


def test_read_timeouts(run: Run, serve: Serve) -> None:
    server = serve(
        scripted([READ, HOLD], [READ, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", HOLD])
    )

    async def main() -> None:
        async with AsyncClient(timeout=Timeout(5.0, read=SHORT)) as client:
            with pytest.raises(ReadTimeout):
                await client.get(server.url())  # no head
            with pytest.raises(ReadTimeout):
                await client.get(server.url())  # head, then part of the body
            assert_no_leaks(client)
            assert pool_of(client).connections == 0

    run(main)


def test_write_timeout(run: Run, serve: Serve) -> None:
    server = serve(scripted([STALL]), rcvbuf=4096)
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]

    async def main() -> None:
        transport = AsyncHTTPTransport(socket_options=options)
        async with AsyncClient(transport=transport, timeout=Timeout(5.0, write=SHORT)) as client:
            with pytest.raises(WriteTimeout):
                await client.post(server.url(), content=b"x" * (4 << 20))
            assert_no_leaks(client)

    run(main)


def test_connect_timeout_on_a_tls_handshake(run: Run, serve: Serve, tls: TLS) -> None:
    server = serve(scripted([STALL]))

    async def main() -> None:
        async with AsyncClient(verify=tls.client, timeout=Timeout(5.0, connect=SHORT)) as client:
            with pytest.raises(ConnectTimeout):
                await client.get(server.url(scheme="https"))
            assert pool_of(client).connections == 0

    run(main)


def test_pool_timeout(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        limits = Limits(max_connections=1)
        async with AsyncClient(limits=limits, timeout=Timeout(5.0, pool=SHORT)) as client:
            async with client.stream("GET", server.url("/chunks/100")) as held:
                with pytest.raises(PoolTimeout):
                    await client.get(server.url())
                assert pool_of(client).waiters == 0
                assert await held.aread() == bytes(range(100))
            assert (await client.get(server.url())).status_code == 200
            assert_no_leaks(client)

    run(main)
    assert server.accepted == 1


# --------------------------------------------------------------------------- concurrency


def test_many_concurrent_requests(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient(limits=Limits(max_connections=10)) as client:

            async def one(i: int) -> bytes:
                r = await client.post(server.url("/echo"), content=b"%d" % i)
                return r.content

            calls = [lambda i=i: one(i) for i in range(200)]
            assert await gather(*calls) == [b"%d" % i for i in range(200)]
            assert_no_leaks(client)

    run(main)
    assert server.peak <= 10
    assert server.accepted <= 10


ROUTES = ["/sleep/0.03", "/drip/4/0.01", "/bytes/400000", "/", "/chunks/1000"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cancellation_storm_leaks_nothing(run: Run, serve: Serve, tls: TLS, scheme: str) -> None:
    server = serve(tls=tls.server if scheme == "https" else None)
    rng = random.Random(2024)
    delays = [rng.uniform(0.0, 0.08) for _ in range(50)]

    async def main() -> None:
        limits = Limits(max_connections=5)
        async with AsyncClient(verify=tls.client, limits=limits) as client:

            async def fetch(i: int) -> None:
                async with client.stream(
                    "GET", server.url(ROUTES[i % len(ROUTES)], scheme=scheme)
                ) as r:
                    async for _ in r.aiter_bytes():
                        pass

            if sniffio.current_async_library() == "asyncio":
                tasks = [asyncio.create_task(fetch(i)) for i in range(25)]

                async def with_timeout(i: int) -> None:
                    async with asyncio.timeout(delays[i]):
                        await fetch(i)

                tasks += [asyncio.create_task(with_timeout(i)) for i in range(25, 50)]
                loop = asyncio.get_running_loop()
                for task, delay in zip(tasks[:25], delays, strict=False):
                    loop.call_later(delay, task.cancel)
                await asyncio.gather(*tasks, return_exceptions=True)
            else:

                async def with_deadline(i: int) -> None:
                    with trio.move_on_after(delays[i]):
                        await fetch(i)

                async with trio.open_nursery() as nursery:
                    for i in range(50):
                        nursery.start_soon(with_deadline, i)
            assert_no_leaks(client)
            r = await client.get(server.url("/conn", scheme=scheme))
            assert r.status_code == 200
            assert_no_leaks(client)

    run(main)


def test_cancelled_waiter_passes_its_grant_on(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient(limits=Limits(max_connections=1)) as client:
            held = await client.send(
                client.build_request("GET", server.url("/chunks/10")), stream=True
            )

            async def waiter() -> bytes:
                return (await client.get(server.url())).content

            async def cancelled_waiter() -> None:
                if sniffio.current_async_library() == "asyncio":
                    with pytest.raises(TimeoutError):
                        async with asyncio.timeout(0.05):
                            await waiter()
                else:
                    with trio.move_on_after(0.05):
                        await waiter()

            async def release() -> bytes:
                await sleep(0.1)
                assert pool_of(client).waiters == 1
                await held.aread()
                await held.aclose()
                return b""

            results = await gather(cancelled_waiter, waiter, release)
            assert results[1] == b"Hello, world!"
            assert_no_leaks(client)

    run(main)
    assert server.accepted == 1


def test_closing_the_transport_wakes_waiters(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        transport = AsyncHTTPTransport(limits=Limits(max_connections=1))
        client = AsyncClient(transport=transport)
        held = await client.send(client.build_request("GET", server.url("/bytes/10")), stream=True)

        async def waiter() -> BaseException | None:
            try:
                await client.get(server.url())
            except RuntimeError as exc:
                return exc
            return None

        async def closer() -> None:
            await sleep(0.05)
            assert pool_of(client).waiters == 1
            await transport.aclose()

        error, _ = await gather(waiter, closer)
        assert isinstance(error, RuntimeError)
        assert "closed" in str(error)
        await held.aclose()

    run(main)


# --------------------------------------------------------------------------- streaming


def test_partly_read_response_closes_its_connection(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        async with AsyncClient() as client:
            async with (
                client.stream("GET", server.url("/bytes/300000")) as r,
                aclosing(generator(r.aiter_raw())) as chunks,
            ):
                await anext(chunks)
            assert pool_of(client).connections == 0
            assert (await client.get(server.url("/conn"))).text == "1"

    run(main)


def test_streaming_32_mib_keeps_memory_flat(run: Run, serve: Serve) -> None:
    size = 32 << 20
    server = serve()

    async def main() -> None:
        async with AsyncClient() as client:
            seen = 0
            tracemalloc.start()
            try:
                async with client.stream("GET", server.url(f"/bytes/{size}")) as r:
                    async for chunk in r.aiter_bytes():
                        seen += len(chunk)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert seen == size
            assert peak < 2 << 20, f"peak {peak} bytes while streaming {size}"

    run(main)


def test_reads_grow_while_the_body_arrives_faster_than_it_is_read(
    run: Run, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the sync shell: on trio each full read asks RECEIVE_GROWTH times more, up
    to MAX_RECEIVE_SIZE, a short one of RECEIVE_SIZE bytes or more keeps the large reads
    and a shorter one starts over; asyncio's reads always ask MAX_RECEIVE_SIZE (the loop
    has read the bytes already: nothing is allocated per read, and a chunk is handed
    over whole)."""
    body = bytes(range(256)) * 4096  # 1 MiB
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    small = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall"
    replies = [reply, small, reply, reply]
    server = serve(scripted([step for r in replies for step in (READ, r)] + [HOLD]))
    asked: list[int] = []
    unread = [0]  # bytes of the reply not read yet
    patched: list[type[AsyncStream]] = [AsyncioStream, TrioStream]

    def filling(recv: Any) -> Any:
        async def recv_full(
            self: AsyncStream, max_bytes: int, timeout: float | None, shared: bool = False
        ) -> bytes:
            # A network that always has the bytes ready: reads fill up while the reply lasts.
            asked.append(max_bytes)
            want = min(max_bytes, unread[0])
            data: bytes = await recv(self, max_bytes, timeout, shared)
            while data and len(data) < want:
                data += await recv(self, want - len(data), timeout, shared)
            unread[0] -= len(data)
            return data

        return recv_full

    for cls in patched:
        monkeypatch.setattr(cls, "recv", filling(cls.recv))

    async def main() -> None:
        trio_reads = sniffio.current_async_library() == "trio"
        seen = []
        async with AsyncClient() as client:
            for sent in replies:
                asked.clear()
                unread[0] = len(sent)
                async with client.stream("GET", server.url()) as r:
                    chunks = [chunk async for chunk in r.aiter_bytes()]
                assert b"".join(chunks) == (body if sent is reply else b"small")
                seen.append(list(asked))
                if sent is reply:
                    assert max(len(chunk) for chunk in chunks) == MAX_RECEIVE_SIZE
        big = [MAX_RECEIVE_SIZE] * 5
        fresh = [RECEIVE_SIZE, *big[1:]] if trio_reads else big
        assert seen == [fresh, [MAX_RECEIVE_SIZE], fresh, big]
        assert server.accepted == 1

    run(main)


# --------------------------------------------------------------------------- uploads


def test_uploads(run: Run, serve: Serve) -> None:
    server = serve()
    big = os.urandom(5 << 20)

    async def main() -> None:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"hello, "
            yield b""
            yield b"world"

        async with AsyncClient() as client:
            r = await client.post(server.url("/echo"), content=pieces())
            assert (r.content, r.headers["x-chunked"]) == (b"hello, world", "yes")
            r = await client.post(server.url("/digest"), content=big)
            assert r.text == f"{len(big)} {hashlib.sha256(big).hexdigest()}"

    run(main)


REJECT = response(b"too big", "413 Content Too Large", [b"Connection: close"])


def test_early_413_then_half_close(run: Run, serve: Serve) -> None:
    server = serve(scripted([READ_HEAD, REJECT, SHUT_WR]))

    async def main() -> None:
        async with AsyncClient() as client:
            r = await client.post(server.url(), content=b"x" * (5 << 20))
            assert (r.status_code, r.content) == (413, b"too big")
            assert_no_leaks(client)

    run(main)


def test_early_413_on_a_stalled_upload(run: Run, serve: Serve) -> None:
    server = serve(scripted([READ_HEAD, REJECT, STALL]), rcvbuf=4096)
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]

    async def main() -> None:
        transport = AsyncHTTPTransport(socket_options=options)
        async with AsyncClient(transport=transport, timeout=Timeout(5.0, write=SHORT)) as client:
            r = await client.post(server.url(), content=b"x" * (5 << 20))
            assert (r.status_code, r.content) == (413, b"too big")
            assert_no_leaks(client)

    run(main)


def test_early_413_stops_a_chunked_upload(run: Run, serve: Serve) -> None:
    server = serve(scripted([READ_HEAD, REJECT, STALL]), rcvbuf=4096)
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]
    sent = 0

    async def pieces() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10_000):
            sent += 1
            await sleep(0.001)
            yield b"x" * 256

    async def main() -> None:
        transport = AsyncHTTPTransport(socket_options=options)
        async with AsyncClient(transport=transport, timeout=Timeout(5.0, write=2.0)) as client:
            start = time.monotonic()
            r = await client.post(server.url(), content=pieces())
            assert (r.status_code, r.content) == (413, b"too big")
            assert time.monotonic() - start < 1.5
            assert sent < 1000
            assert_no_leaks(client)

    run(main)


def test_early_413_then_abrupt_close(run: Run, serve: Serve) -> None:
    # See the sync twin: an RST may destroy the response in flight.
    server = serve(scripted([READ_HEAD, REJECT, 0.05, CLOSE]))

    async def main() -> None:
        async with AsyncClient() as client:
            try:
                r = await client.post(server.url(), content=b"x" * (5 << 20))
            except (WriteError, ReadError):
                assert not sys.platform.startswith("linux")
            else:
                assert r.status_code == 413
            assert_no_leaks(client)

    run(main)


# --------------------------------------------------------------------------- addresses


@needs_ipv6
def test_ipv6_loopback(run: Run, serve: Serve) -> None:
    server = serve(family=socket.AF_INET6)

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(server.url("/conn"))).text == "0"
            assert (await client.get(server.url("/conn"))).text == "0"

    run(main)


def test_unix_socket(run: Run, serve: Serve) -> None:
    with short_tempdir() as directory:
        path = os.path.join(directory, "s")
        server = serve(family=socket.AF_UNIX, path=path)

        async def main() -> None:
            async with AsyncClient(transport=AsyncHTTPTransport(uds=path)) as client:
                assert (await client.get("http://localhost/conn")).text == "0"
                r = await client.post("http://localhost/echo", content=b"u")
                assert r.content == b"u"

        run(main)
        server.close()
        assert server.accepted == 1


def test_local_address(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        transport = AsyncHTTPTransport(local_address="127.0.0.1")
        async with AsyncClient(transport=transport) as client:
            r = await client.get(server.url("/"))
            assert r.extensions["network_stream"].get_extra_info("client_addr")[0] == "127.0.0.1"

    run(main)


def test_closed_transport_refuses_requests(run: Run, serve: Serve) -> None:
    server = serve()

    async def main() -> None:
        transport = AsyncHTTPTransport()
        async with AsyncClient(transport=transport) as client:
            assert (await client.get(server.url())).status_code == 200
        with pytest.raises(RuntimeError):
            await transport.handle_async_request(Request("GET", server.url()))

    run(main)
