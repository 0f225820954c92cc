"""`AsyncClient(http2=True)` against the in-process HTTP/2 server of
tests/sync_io/test_transport_h2.py, each test on asyncio and on trio: ALPN and h2c, 100
streams on one connection, flow control both ways, GOAWAY retries, resets, timeouts and
cancellation of single streams with the connection still in use.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import sniffio
import trio
from h2.errors import ErrorCodes

from async_io import AsyncClient, AsyncHTTPTransport
from sansio.config import Limits, Timeout
from sansio.exceptions import PoolTimeout, ReadTimeout, RemoteProtocolError
from sansio.models import Response
from sansio.pool import PoolStatistics
from tests.servers import Server, default_app, http_handler
from tests.sync_io.test_transport_h2 import (
    Certs,
    H2Server,
    MiB,
    counting_pool,
    make_certs,
    payload,
)

SHORT = 0.2  # seconds: every timeout these tests wait for

Run = Callable[[Callable[[], Awaitable[None]]], None]


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    """Runs an async test body on the parametrised library."""
    if request.param == "asyncio":
        return lambda main: asyncio.run(main())  # type: ignore[arg-type]
    return lambda main: trio.run(main)


@pytest.fixture(scope="module")
def certs() -> Certs:
    return make_certs()


@pytest.fixture
def servers() -> Iterator[list[H2Server]]:
    started: list[H2Server] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture
def h2_tls(certs: Certs, servers: list[H2Server]) -> H2Server:
    server = H2Server(tls=certs.server("h2", "http/1.1"))
    servers.append(server)
    return server


@pytest.fixture
def h2c(servers: list[H2Server]) -> H2Server:
    server = H2Server()
    servers.append(server)
    return server


@pytest.fixture(params=["tls", "h2c"])
def site(request: pytest.FixtureRequest) -> H2Server:
    server: H2Server = request.getfixturevalue("h2_tls" if request.param == "tls" else "h2c")
    return server


def client_for(server: H2Server, certs: Certs, **kwargs: Any) -> AsyncClient:
    if server.tls is None:
        return AsyncClient(http1=False, http2=True, **kwargs)
    return AsyncClient(http2=True, verify=certs.client(), **kwargs)


def pool_of(client: AsyncClient) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, AsyncHTTPTransport)
    return transport._engine.statistics()


def assert_no_leaks(client: AsyncClient) -> None:
    stats = pool_of(client)
    assert (stats.connecting, stats.active, stats.waiters) == (0, 0, 0), stats


async def gather(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``calls`` at once on whichever library runs us; results (or errors) in order."""
    results: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        try:
            results[i] = await calls[i]()
        except Exception as exc:
            results[i] = exc

    if sniffio.current_async_library() == "asyncio":
        await asyncio.gather(*(one(i) for i in range(len(calls))))
    else:
        async with trio.open_nursery() as nursery:
            for i in range(len(calls)):
                nursery.start_soon(one, i)
    return results


async def within(seconds: float, call: Callable[[], Awaitable[Any]]) -> bool:
    """Run ``call``, cancelled after ``seconds``; whether it finished."""
    if sniffio.current_async_library() == "asyncio":
        try:
            async with asyncio.timeout(seconds):
                await call()
        except TimeoutError:
            return False
        return True
    with trio.move_on_after(seconds):
        await call()
        return True
    return False


# --------------------------------------------------------------------------- tests


def test_the_informational_hook_runs_as_the_103_arrives(
    run: Run, h2c: H2Server, certs: Certs
) -> None:
    seen: list[Response] = []

    async def informational(response: Response) -> None:
        seen.append(response)
        h2c.hinted.set()  # the server answers only then

    async def final(response: Response) -> None:
        seen.append(response)

    async def main() -> None:
        hooks = {"informational": [informational], "response": [final]}
        async with client_for(h2c, certs, event_hooks=hooks) as client:
            response = await client.get(h2c.url("/hints"))
            assert response.text == "hinted"
            assert seen == [*response.informational, response]  # each once, in order
            assert_no_leaks(client)

    run(main)


def test_a_failing_informational_hook_fails_the_send_at_once(
    run: Run, h2c: H2Server, certs: Certs
) -> None:
    async def informational(response: Response) -> None:
        raise LookupError("the hook failed")

    async def main() -> None:
        async with client_for(h2c, certs, event_hooks={"informational": [informational]}) as client:
            with pytest.raises(LookupError, match="the hook failed"):
                await client.get(h2c.url("/hints"))
            assert h2c.answered == []  # before the final head came
            h2c.hinted.set()  # (its waiting thread may go)
            assert_no_leaks(client)
            assert (await client.get(h2c.url("/"))).text == "Hello, world!"

    run(main)
    assert h2c.connections == 1


def test_single_request(run: Run, site: H2Server, certs: Certs) -> None:
    async def main() -> None:
        async with client_for(site, certs) as client:
            response = await client.get(site.url("/"), headers={"X-Test": "yes"})
            assert (response.status_code, response.text) == (200, "Hello, world!")
            assert response.http_version == "HTTP/2"
            assert response.reason_phrase == "OK"
            assert response.extensions["stream_id"] == 1
            assert "reason_phrase" not in response.extensions
            response = await client.get(site.url("/stream"))
            assert response.extensions["stream_id"] == 3
            assert response.text == "3"
            assert_no_leaks(client)

    run(main)
    assert site.connections == 1
    assert site.seen[0].headers[b"x-test"] == b"yes"


def test_100_concurrent_requests_share_one_connection(
    run: Run, site: H2Server, certs: Certs
) -> None:
    async def main() -> None:
        async with client_for(site, certs) as client:

            async def one() -> tuple[str, int]:
                response = await client.get(site.url("/conn"))
                return response.text, response.extensions["stream_id"]

            results = await gather(*[one] * 100)
            assert [text for text, _ in results] == ["0"] * 100
            assert sorted(sid for _, sid in results) == list(range(1, 200, 2))
            assert_no_leaks(client)
            assert pool_of(client).idle == 1

    run(main)
    assert site.connections == 1


def test_large_download_and_upload_under_flow_control(
    run: Run, site: H2Server, certs: Certs
) -> None:
    size = 10 * MiB
    body = payload(size)
    expected = f"{size} {hashlib.sha256(body).hexdigest()}"

    async def main() -> None:
        async with client_for(site, certs, timeout=10.0) as client:

            async def download() -> None:
                async with client.stream("GET", site.url(f"/bytes/{size}")) as response:
                    digest = hashlib.sha256()
                    async for chunk in response.aiter_raw():
                        digest.update(chunk)
                assert digest.digest() == hashlib.sha256(body).digest()

            async def upload() -> None:
                response = await client.post(site.url("/digest"), content=body)
                assert response.text == expected

            async def streamed_upload() -> None:
                async def chunks() -> AsyncIterator[bytes]:  # 2 MiB in 100 kB pieces
                    for start in range(0, 2 * MiB, 100_000):
                        yield body[start : min(start + 100_000, 2 * MiB)]

                response = await client.post(site.url("/digest"), content=chunks())
                assert response.text == f"{2 * MiB} {hashlib.sha256(body[: 2 * MiB]).hexdigest()}"

            # All three at once on the same connection.
            assert await gather(download, upload, streamed_upload) == [None] * 3
            assert_no_leaks(client)

    run(main)
    assert site.connections == 1


def test_goaway_streams_are_retried_on_a_new_connection(
    run: Run, certs: Certs, servers: list[H2Server]
) -> None:
    server = H2Server(tls=certs.server("h2"), goaway_at=5)
    servers.append(server)

    async def main() -> None:
        async with client_for(server, certs, timeout=5.0) as client:

            async def one() -> str:
                return (await client.post(server.url("/conn"), content=b"x")).text

            results = await gather(*[one] * 5)
            assert sorted(results) == ["0"] + ["1"] * 4
            assert_no_leaks(client)

    run(main)
    assert server.connections == 2


def test_reset_of_one_stream_leaves_the_others(run: Run, h2_tls: H2Server, certs: Certs) -> None:
    async def main() -> None:
        async with client_for(h2_tls, certs) as client:

            async def one(path: str) -> str:
                return (await client.get(h2_tls.url(path))).text

            paths = ["/reset"] + ["/sleep/0.05"] * 5
            results = await gather(*[lambda p=p: one(p) for p in paths])
            assert isinstance(results[0], RemoteProtocolError)
            assert "reset the stream (INTERNAL_ERROR)" in str(results[0])
            assert results[1:] == ["slept"] * 5
            assert (await client.get(h2_tls.url("/conn"))).text == "0"
            assert_no_leaks(client)

    run(main)
    assert h2_tls.connections == 1


def test_read_timeout_ends_only_its_stream(run: Run, h2_tls: H2Server, certs: Certs) -> None:
    async def main() -> None:
        async with client_for(h2_tls, certs, timeout=5.0) as client:

            async def held() -> str:
                return (await client.get(h2_tls.url("/hold"), timeout=SHORT)).text

            async def slow() -> str:
                return (await client.get(h2_tls.url("/sleep/0.3"))).text

            results = await gather(held, slow, slow, slow)
            assert isinstance(results[0], ReadTimeout)
            assert results[1:] == ["slept"] * 3
            assert (await client.get(h2_tls.url("/conn"))).text == "0"
            assert_no_leaks(client)

    run(main)
    assert h2_tls.connections == 1
    held_sid = next(s.stream_id for s in h2_tls.seen if s.path == "/hold")
    assert (held_sid, ErrorCodes.CANCEL) in h2_tls.resets


def test_cancelled_streams_leak_nothing(run: Run, site: H2Server, certs: Certs) -> None:
    """Some streams are cancelled while waiting, reading or streaming a body; the others
    finish, and the connection serves the next requests.

    One exception, trio over TLS: trio's SSLStream breaks when a write is cancelled
    midway, which a deadline can do in the instant between trio taking its inner send
    lock and sending; the connection then fails for every stream (retried where safe).
    """
    rng = random.Random(2024)
    delays = [rng.uniform(0.0, 0.08) for _ in range(30)]
    routes = ["/hold", "/sleep/0.02", f"/bytes/{300_000}", "/sleep/0.5", "/"]
    strict = True

    async def main() -> None:
        nonlocal strict
        strict = site.tls is None or sniffio.current_async_library() == "asyncio"
        async with client_for(site, certs, timeout=5.0) as client:

            async def fetch(path: str) -> None:
                async with client.stream("GET", site.url(path)) as response:
                    async for _ in response.aiter_bytes():
                        pass

            async def maybe_cancelled(i: int) -> bool:
                if i % 3 == 0:  # never cancelled
                    await fetch(f"/bytes/{100_000 + i}")
                    return True
                return await within(delays[i], lambda: fetch(routes[i % len(routes)]))

            finished = await gather(*[lambda i=i: maybe_cancelled(i) for i in range(30)])
            lost = [r for r in finished if not isinstance(r, bool)]
            if strict:
                assert not lost, lost
                assert all(finished[i] for i in range(0, 30, 3))
            else:
                assert all("cancelled write" in str(error) for error in lost), lost
            assert not any(finished[i] for i in range(30) if i % 3 and routes[i % 5] == "/hold")
            assert_no_leaks(client)
            response = await client.get(site.url("/conn"))
            assert response.text == "0" or not strict
            assert_no_leaks(client)

    run(main)
    if strict:
        assert site.connections == 1
        # Every cancelled stream was reset (CANCEL) once a write could carry it.
        held = {s.stream_id for s in site.seen if s.path == "/hold"}
        assert held <= {sid for sid, code in site.resets if code == ErrorCodes.CANCEL}


def test_fallback_to_http11_when_the_server_picks_it(run: Run, certs: Certs) -> None:
    server = Server(http_handler(default_app), tls=certs.server("http/1.1"))

    async def main() -> None:
        async with AsyncClient(http2=True, verify=certs.client()) as client:
            response = await client.get(server.url("/", scheme="https"))
            assert response.http_version == "HTTP/1.1"
            assert "stream_id" not in response.extensions
            # A burst waits for the first connection's ALPN answer, then opens its own.
            texts = await gather(*[lambda: client.get(server.url("/conn", scheme="https"))] * 3)
            assert all(r.status_code == 200 for r in texts)

    try:
        run(main)
    finally:
        server.close()


def test_plain_http_with_both_versions_speaks_http11(run: Run) -> None:
    server = Server(http_handler(default_app))

    async def main() -> None:
        async with AsyncClient(http2=True) as client:
            assert (await client.get(server.url("/"))).http_version == "HTTP/1.1"

    try:
        run(main)
    finally:
        server.close()


# ------------------------------------------------ a server that allows no stream, GOAWAY
# (RFC 9113 §5.1.2: SETTINGS_MAX_CONCURRENT_STREAMS may be 0.) Before the fix, such a
# connection was handed out, found full, checked in and handed out again without an
# await: the event loop froze, so no other task ran and no deadline could fire. Each test
# has an outer deadline (pytest-timeout) so that it fails rather than hangs.


async def nap(seconds: float) -> None:
    if sniffio.current_async_library() == "asyncio":
        await asyncio.sleep(seconds)
    else:
        await trio.sleep(seconds)


async def while_ticking(call: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    """Run ``call`` next to a task that ticks every 10 ms; its result (or error) and how
    often the other task ran meanwhile."""
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await nap(0.01)
            ticks += 1

    async def main() -> Any:
        nonlocal done
        try:
            return await call()
        finally:
            done = True

    results = await gather(main, ticker)
    return results[0], ticks


@pytest.mark.timeout(30)
def test_no_stream_allowed_opens_another_connection(run: Run, h2c: H2Server, certs: Certs) -> None:
    async def main() -> None:
        async with client_for(h2c, certs) as client:
            assert (await client.get(h2c.url("/limit/0"))).text == "ok"
            assert (await client.get(h2c.url("/conn"))).text == "1"
            assert (await client.get(h2c.url("/conn"))).text == "1"
            assert_no_leaks(client)
            assert pool_of(client).idle == 2

    run(main)
    assert h2c.connections == 2


@pytest.mark.timeout(30)
def test_no_stream_allowed_is_a_pool_timeout_and_other_tasks_run(
    run: Run, site: H2Server, certs: Certs
) -> None:
    async def main() -> None:
        limits = Limits(max_connections=1)
        timeout = Timeout(5.0, pool=SHORT)
        async with client_for(site, certs, limits=limits, timeout=timeout) as client:
            assert (await client.get(site.url("/limit/0"))).text == "ok"
            error, ticks = await while_ticking(lambda: client.get(site.url("/conn")))
            assert isinstance(error, PoolTimeout)
            assert ticks  # the event loop kept running while the request waited
            assert_no_leaks(client)

    run(main)
    assert site.connections == 1


@pytest.mark.timeout(30)
def test_no_stream_allowed_and_an_outer_deadline_cancels(
    run: Run, h2c: H2Server, certs: Certs
) -> None:
    async def main() -> None:
        limits = Limits(max_connections=1)
        timeout = Timeout(5.0, pool=None)  # only the caller's deadline ends the wait
        async with client_for(h2c, certs, limits=limits, timeout=timeout) as client:
            assert (await client.get(h2c.url("/limit/0"))).text == "ok"
            finished, ticks = await while_ticking(
                lambda: within(SHORT, lambda: client.get(h2c.url("/conn")))
            )
            assert finished is False
            assert ticks
            assert_no_leaks(client)
            assert pool_of(client).idle == 1  # still there, still waiting to be allowed

    run(main)
    assert h2c.connections == 1


@pytest.mark.timeout(30)
def test_waiting_requests_go_once_streams_are_allowed_again(
    run: Run, site: H2Server, certs: Certs
) -> None:
    async def main() -> None:
        async with client_for(site, certs, timeout=5.0) as client:
            pool = counting_pool(client._transport, max_connections=1)
            assert (await client.get(site.url("/limit/0/100/0.3"))).text == "ok"

            async def one() -> str:
                return (await client.get(site.url("/conn"))).text

            assert await gather(one, one, one) == ["0"] * 3
            assert_no_leaks(client)
            # A look per waiter every 0.1 s at most (the pool timeout is 5 s): no busy loop.
            assert pool.checkouts < 300

    run(main)
    assert site.connections == 1


@pytest.mark.timeout(30)
def test_connection_that_sent_goaway_while_idle_is_not_reused(
    run: Run, h2c: H2Server, certs: Certs
) -> None:
    async def main() -> None:
        async with client_for(h2c, certs, limits=Limits(max_connections=1)) as client:
            assert (await client.get(h2c.url("/goaway"))).text == "ok"
            await nap(0.05)  # the GOAWAY arrives while the connection is idle
            assert (await client.get(h2c.url("/conn"))).text == "1"
            assert_no_leaks(client)
            assert pool_of(client).connections == 1

    run(main)
    assert h2c.connections == 2
